//! What runs on one host: a command (`roadie run`) or a playbook task
//! (`roadie task`), planned once the host is reached (a task reads the
//! server's `.env` first), then executed step by step with output streamed,
//! values captured, and the first failing step ending the host's job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use secrecy::SecretString;
use tokio::sync::{mpsc, watch};

use crate::command::RemoteCommand;
use crate::dotenv::DotEnv;
use crate::error::Error;
use crate::event::{Event, FailedStep, Stream};
use crate::guard::markers::MarkerFiles;
use crate::host::Host;
use crate::playbook::{Action, Extra, Plan, PlannedStep, Playbook, needs_home, plan_task};
use crate::safety::Intent;
use crate::ssh::sftp::{Stamp, sftp_path};
use crate::ssh::{Chunk, ExitStatus, Session, Staged};
use crate::stage::Stage;
use crate::transfer::{Download, Progress, Upload};

/// How much of a step's stdout a capture keeps, at most.
const CAPTURE_LIMIT: usize = 1024 * 1024;
/// How much of a failing step's stderr is kept for its report.
const STDERR_TAIL: usize = 4096;

/// What to do on each host.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    /// One command.
    Command(RemoteCommand),
    /// A playbook task and its parameters.
    Task {
        playbook: Arc<Playbook>,
        task: String,
        params: BTreeMap<String, String>,
        /// When the job was made: `{{ timestamp }}`, the same on every host.
        started: SystemTime,
        /// Fed to sudo by the task's steps that use it.
        sudo_password: Option<SecretString>,
    },
}

impl Job {
    /// For the audit log: no values of variables or parameters.
    pub(crate) fn describe(&self) -> String {
        match self {
            Job::Command(command) => command.describe(),
            Job::Task {
                playbook,
                task,
                params,
                ..
            } => {
                let names: Vec<String> = params.keys().map(|k| format!("{k}=...")).collect();
                format!("task {}:{task} {}", playbook.name, names.join(" "))
                    .trim_end()
                    .to_owned()
            }
        }
    }

    /// The task's name, for reports.
    pub(crate) fn task_name(&self) -> Option<&str> {
        match self {
            Job::Command(_) => None,
            Job::Task { task, .. } => Some(task),
        }
    }

    /// The server's `.env` the job applies to its steps on `host`, if any.
    pub(crate) fn env_file(&self, host: &Host) -> Result<Option<String>, Error> {
        match self {
            Job::Command(_) => Ok(None),
            Job::Task { playbook, task, .. } => {
                let (_, found) = playbook_task(playbook, task)?;
                Ok(crate::playbook::env_file_for(playbook, found, host)?)
            }
        }
    }

    /// The steps for `host`, given the server's `.env` the task applies
    /// (as it is now, for `{{ env.KEY }}`; steps read it again when they
    /// run if a step changes it) and the login user's home (where the task
    /// needs it).
    fn plan(
        &self,
        host: &Host,
        dotenv: Option<&DotEnv>,
        home: Option<String>,
    ) -> Result<Plan, Error> {
        match self {
            Job::Command(command) => Ok(Plan {
                steps: vec![PlannedStep {
                    label: String::new(),
                    action: Action::Run {
                        command: command.clone(),
                        env_file: None,
                    },
                    capture: None,
                    on_failure: Vec::new(),
                }],
                on_failure: Vec::new(),
            }),
            Job::Task {
                playbook,
                task,
                params,
                started,
                sudo_password,
            } => {
                let (_, found) = playbook_task(playbook, task)?;
                let extra = Extra {
                    home,
                    timestamp: timestamp(*started),
                    run_id: format!("{:016x}", rand::random::<u64>()),
                    sudo_password: sudo_password.clone(),
                };
                Ok(plan_task(playbook, found, host, params, dotenv, &extra)?)
            }
        }
    }

    /// Whether planning for `host` needs the login user's home, when no
    /// `.env` is read.
    fn needs_home(&self, host: &Host) -> Result<bool, Error> {
        match self {
            Job::Command(_) => Ok(false),
            Job::Task {
                playbook,
                task,
                params,
                ..
            } => {
                let (_, found) = playbook_task(playbook, task)?;
                let extra = Extra {
                    home: None,
                    timestamp: String::new(),
                    run_id: String::new(),
                    sudo_password: None,
                };
                Ok(needs_home(playbook, found, host, params, None, &extra))
            }
        }
    }
}

/// A job ready to run on one host: what it depends on read from the
/// server, the guard's verdict on it given, its steps planned.
pub(crate) struct Prepared<'s> {
    /// The steps.
    pub plan: Plan,
    /// The login shell that read the facts, waiting to run the first step
    /// (see [`crate::stage`]); none when the job needed nothing read.
    staged: Option<Staged<'s>>,
    envs: EnvFiles,
    /// From the exec request to the stage's answer: the login shell's
    /// start and the reads.
    pub shell: std::time::Duration,
}

impl Prepared<'_> {
    /// Let the waiting login shell go: nothing runs (`--check`).
    pub(crate) async fn abandon(self) {
        if let Some(staged) = self.staged {
            staged.abandon().await;
        }
    }
}

/// Make `job` ready on the host `session` reaches, for `intent`: the
/// server-marker lock's files and the task's `.env` are read, with the
/// login user's home, by one login shell that then waits to run the first
/// step (one SSH session for a single-step task); the guard judges what was
/// read before anything else is sent, and the task is planned from it.
pub(crate) async fn prepare<'s>(
    session: &'s Session,
    job: &Job,
    intent: &Intent,
) -> Result<Prepared<'s>, Error> {
    let host = session.host();
    let applied_env = job.env_file(host)?;
    let markers = crate::verify::marker_files(host, intent, applied_env.as_deref())?;
    let mut reads = markers.as_ref().map(MarkerFiles::every).unwrap_or_default();
    if let Some(path) = &applied_env
        && !reads.contains(path)
    {
        reads.push(path.clone());
    }
    if reads.is_empty() && !job.needs_home(host)? {
        return Ok(Prepared {
            plan: job.plan(host, None, None)?,
            staged: None,
            envs: EnvFiles::default(),
            shell: std::time::Duration::ZERO,
        });
    }
    let asked = std::time::Instant::now();
    let staged = session.stage(&Stage::new(reads)).await?;
    let shell = asked.elapsed();
    let mut envs = EnvFiles::default();
    if let Some(path) = &applied_env
        && let Some(Some(bytes)) = staged.facts.files.get(path)
    {
        envs.read
            .insert(path.clone(), DotEnv::parse(&String::from_utf8_lossy(bytes)));
    }
    let judged = markers
        .as_ref()
        .map_or(Ok(()), |files| {
            crate::verify::judge_markers(session, files, &staged.facts.files)
        })
        .and_then(|()| {
            let dotenv = applied_env.as_ref().and_then(|path| envs.read.get(path));
            job.plan(host, dotenv, Some(staged.facts.home.clone()))
        });
    match judged {
        Ok(plan) => Ok(Prepared {
            plan,
            staged: Some(staged),
            envs,
            shell,
        }),
        Err(refused) => {
            staged.abandon().await;
            Err(refused)
        }
    }
}

/// `YYYYMMDDHHMMSS`, UTC.
fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

fn playbook_task<'a>(
    playbook: &'a Playbook,
    name: &str,
) -> Result<(&'a Playbook, &'a crate::playbook::Task), Error> {
    playbook
        .tasks
        .iter()
        .find(|t| t.name == name)
        .map(|t| (playbook, t))
        .ok_or_else(|| Error::Usage(format!("no task '{name}' in {}", playbook.origin)))
}

/// How a host's job ended when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    /// The last step's status (the failing one's, if one failed).
    pub status: ExitStatus,
    pub captured: BTreeMap<String, String>,
    pub failed_step: Option<FailedStep>,
}

/// Everything a running job needs from around it.
pub(crate) struct Context<'a> {
    pub events: &'a mpsc::Sender<Event>,
    pub deadline: Option<tokio::time::Instant>,
    pub timeout: Option<std::time::Duration>,
    pub interrupt: watch::Receiver<bool>,
    /// Show the stacks of the command's Python processes once it has said
    /// nothing for this long (`--stacks-after`).
    pub stacks_after: Option<std::time::Duration>,
}

/// Run a prepared job's steps on `session`, one by one; the first in the
/// login shell that read its facts, when one did.
pub(crate) async fn execute(
    session: &Session,
    prepared: Prepared<'_>,
    context: &mut Context<'_>,
) -> Result<Finished, Error> {
    let mut finished = Finished {
        status: ExitStatus {
            code: Some(0),
            signal: None,
        },
        captured: BTreeMap::new(),
        failed_step: None,
    };
    let Prepared {
        plan: Plan { steps, on_failure },
        mut staged,
        mut envs,
        ..
    } = prepared;
    for (index, step) in steps.into_iter().enumerate() {
        let waiting = match (staged.take(), &step.action) {
            (Some(shell), Action::Run { .. }) => Some(shell),
            (Some(shell), _) => {
                shell.abandon().await;
                None
            }
            (None, _) => None,
        };
        let ran = run_planned(session, &step, context, &mut envs, &mut finished, waiting).await;
        let (failure, stopped) = match ran {
            Ok(None) => continue,
            Ok(Some(failure)) => (Some(failure), None),
            // Stopped (a timeout, Ctrl-C): what cleans up still runs.
            Err(stopped @ (Error::Timeout { .. } | Error::Interrupted { .. })) => {
                (None, Some(stopped))
            }
            Err(other) => return Err(other),
        };
        if let Some((exit_code, stderr)) = failure {
            finished.status.code = Some(exit_code.map_or(1, |c| u32::try_from(c).unwrap_or(1)));
            finished.failed_step = Some(FailedStep {
                index: index + 1,
                name: step.label.clone(),
                exit_code,
                stderr,
            });
        }
        let rescues = [&step.on_failure[..], &on_failure[..]];
        rescue(
            session,
            rescues,
            &step.label,
            index,
            context.events,
            &mut envs,
        )
        .await?;
        if let Some(stopped) = stopped {
            return Err(stopped);
        }
        break;
    }
    Ok(finished)
}

/// How long each list of steps that clean up after a failure may take.
const RESCUE_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Run the `on_failure` lists after step `index` (`label`) failed: the
/// step's own, then the task's, each until one of its steps fails; each list
/// with a time limit of its own, and deaf to the interrupt that may have
/// stopped the step (a second Ctrl-C still leaves at once).
async fn rescue(
    session: &Session,
    lists: [&[PlannedStep]; 2],
    label: &str,
    index: usize,
    events: &mpsc::Sender<Event>,
    envs: &mut EnvFiles,
) -> Result<(), Error> {
    for rescues in lists {
        Box::pin(rescue_list(session, rescues, label, index, events, envs)).await?;
    }
    Ok(())
}

async fn rescue_list(
    session: &Session,
    rescues: &[PlannedStep],
    label: &str,
    index: usize,
    events: &mpsc::Sender<Event>,
    envs: &mut EnvFiles,
) -> Result<(), Error> {
    let (_keep, interrupt) = watch::channel(false);
    let mut context = Context {
        events,
        deadline: Some(tokio::time::Instant::now() + RESCUE_LIMIT),
        timeout: Some(RESCUE_LIMIT),
        interrupt,
        stacks_after: None,
    };
    for step in rescues {
        let _ = events
            .send(Event::Warning {
                host: session.host().label.clone(),
                message: format!(
                    "step {} ({label}) failed; on_failure: {}",
                    index + 1,
                    step.label
                ),
            })
            .await;
        let mut ignored = Finished {
            status: ExitStatus {
                code: Some(0),
                signal: None,
            },
            captured: BTreeMap::new(),
            failed_step: None,
        };
        if run_planned(session, step, &mut context, envs, &mut ignored, None)
            .await?
            .is_some()
        {
            break;
        }
    }
    Ok(())
}

/// The server's `.env` files steps apply, read when first needed and again
/// after a step edits them.
#[derive(Default)]
struct EnvFiles {
    read: BTreeMap<String, DotEnv>,
}

impl EnvFiles {
    async fn get(&mut self, session: &Session, path: &str) -> Result<&DotEnv, Error> {
        if !self.read.contains_key(path) {
            let bytes = session
                .read_file(path)
                .await?
                .ok_or_else(|| Error::Remote {
                    host: session.host().label.clone(),
                    message: format!("the task applies {path}, which does not exist on the server"),
                })?;
            let dotenv = DotEnv::parse(&String::from_utf8_lossy(&bytes));
            self.read.insert(path.to_owned(), dotenv);
        }
        Ok(&self.read[path])
    }
}

/// One planned step (a command in the login shell `waiting` for it, if
/// one is): `None` if it worked, else its exit code (if it had one) and
/// what it said. Errors are the host's (a lost connection, a timeout, an
/// interrupt), not the step's.
async fn run_planned(
    session: &Session,
    step: &PlannedStep,
    context: &mut Context<'_>,
    envs: &mut EnvFiles,
    finished: &mut Finished,
    waiting: Option<Staged<'_>>,
) -> Result<Option<(Option<i32>, String)>, Error> {
    let (command, env_file) = match &step.action {
        Action::Run { command, env_file } => (command, env_file),
        other => {
            let sftp = tokio::sync::OnceCell::new();
            let work = Box::pin(session.unless_lost(other_action(session, other, envs, &sftp)));
            let done = bounded(context, session, work).await;
            if let (Err(Error::Timeout { .. } | Error::Interrupted { .. }), Some(sftp)) =
                (&done, sftp.get())
            {
                // What was half written on the server goes.
                sftp.clean_up().await;
            }
            return match done {
                Ok(()) => Ok(None),
                Err(e @ (Error::Remote { .. } | Error::Io { .. } | Error::Usage(_))) => {
                    Ok(Some((None, crate::error::report(&e))))
                }
                Err(e) => Err(e),
            };
        }
    };
    let command = match env_file {
        Some(path) => match envs.get(session, path).await {
            Ok(dotenv) => command.clone().secret_env(dotenv.entries()),
            Err(e) => {
                if let Some(shell) = waiting {
                    shell.abandon().await;
                }
                return Err(e);
            }
        },
        None => command.clone(),
    };
    let ran = run_step(session, &command, step.capture.is_some(), context, waiting).await?;
    finished.status = ran.status.clone();
    if !ran.status.success() {
        let tail = String::from_utf8_lossy(&ran.stderr_tail).into_owned();
        return Ok(Some((Some(ran.status.as_exit_code()), tail)));
    }
    if let Some(capture) = &step.capture {
        let stdout = String::from_utf8_lossy(&ran.stdout);
        match capture.extract(&stdout) {
            Ok(value) => {
                finished.captured.insert(capture.name().to_owned(), value);
            }
            Err(why) => return Ok(Some((None, why))),
        }
    }
    Ok(None)
}

/// `work`, stopped by the job's deadline or an interrupt.
async fn bounded(
    context: &mut Context<'_>,
    session: &Session,
    work: impl Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    let host = &session.host().label;
    let expired = async {
        match context.deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        done = work => done,
        () = expired => Err(Error::Timeout {
            host: host.clone(),
            after: context.timeout.unwrap_or_default(),
        }),
        _ = context.interrupt.wait_for(|stop| *stop) => Err(Error::Interrupted {
            host: host.clone(),
            done: "the step was stopped part way",
        }),
    }
}

/// A step other than a command: files, a `.env`, an HTTP check.
async fn other_action(
    session: &Session,
    action: &Action,
    envs: &mut EnvFiles,
    opened: &tokio::sync::OnceCell<Arc<crate::ssh::sftp::Sftp>>,
) -> Result<(), Error> {
    let host = session.host().label.clone();
    let sftp = || async {
        opened
            .get_or_try_init(|| async { session.sftp().await.map(Arc::new) })
            .await
            .cloned()
    };
    let progress = Progress::default();
    match action {
        Action::Run { .. } => unreachable!("commands are run by run_planned"),
        Action::Put { local, remote } => {
            let upload = Upload::file_to(local, remote)?;
            upload.run(&sftp().await?, &progress).await?;
        }
        Action::Get { remote, local } => {
            let sftp = sftp().await?;
            let download = Download::plan_to(&sftp, remote, local).await?;
            download.run(&sftp, &progress).await?;
        }
        Action::Write {
            contents,
            remote,
            mode,
            ..
        } => {
            let stamp = Stamp {
                mode: *mode,
                mtime: None,
            };
            let path = sftp_path(remote);
            let sftp = sftp().await?;
            if let Some((dir, _)) = path.rsplit_once('/') {
                sftp.create_dir_all(dir).await?;
            }
            sftp.write_file(&mut contents.as_slice(), &path, stamp, &progress.done)
                .await?;
        }
        Action::Archive {
            repo,
            git_ref,
            remote,
        } => crate::transfer::archive(session, &*sftp().await?, repo, git_ref, remote).await?,
        Action::DotEnv {
            remote,
            defaults,
            ensure_secret,
        } => {
            crate::remote_env::edit(session, remote, |env| {
                let mut changed = Vec::new();
                for (key, value) in defaults {
                    if env.get(key).is_none() {
                        env.set(key, value).map_err(|e| Error::Remote {
                            host: host.clone(),
                            message: format!("{key}: {e}"),
                        })?;
                        changed.push(key.clone());
                    }
                }
                for key in ensure_secret {
                    if env.ensure_secret(key) {
                        changed.push(key.clone());
                    }
                }
                Ok(changed)
            })
            .await?;
            // The edited file may be one applied under another name (a link).
            envs.read.clear();
        }
        // Boxed: the check and its watch make a large future.
        Action::Http { .. } => Box::pin(http_step(session, action)).await?,
    }
    Ok(())
}

/// An HTTP check, failing at once if the process it waits for exits, and
/// showing the end of the log it names when it fails.
async fn http_step(session: &Session, action: &Action) -> Result<(), Error> {
    let Action::Http {
        via,
        path,
        host_header,
        expect,
        within,
        pid_file,
        log,
    } = action
    else {
        unreachable!("only an http step is checked as one")
    };
    let check = async {
        crate::health::check(session, via, path, host_header, *expect, *within)
            .await
            .map_err(|failed| {
                format!(
                    "GET {path} did not answer {expect} within {}s ({} attempts; last: {})",
                    within.as_secs(),
                    failed.attempts,
                    failed.last
                )
            })
    };
    let gone = async {
        match pid_file {
            Some(pid_file) => crate::health::exited(session, pid_file).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        checked = check => checked,
        why = gone => Err(format!("GET {path} did not answer {expect}: {why}")),
    };
    let Err(mut message) = outcome else {
        return Ok(());
    };
    if let Some(log) = log
        && let Some(tail) = crate::health::log_tail(session, log).await
    {
        message = format!("{message}; the end of {log}:\n{tail}");
    }
    Err(Error::Remote {
        host: session.host().label.clone(),
        message,
    })
}

/// What one command step gave.
struct StepRun {
    status: ExitStatus,
    /// Kept only when the step captures.
    stdout: Vec<u8>,
    stderr_tail: Vec<u8>,
}

async fn run_step(
    session: &Session,
    command: &RemoteCommand,
    capture: bool,
    context: &mut Context<'_>,
    waiting: Option<Staged<'_>>,
) -> Result<StepRun, Error> {
    let host = &session.host().label;
    let (mut execution, mut early) = started(session, command, waiting).await?;
    let mut sudo = SudoWatch::new(command.sudo.is_some());
    let mut kept = StepRun {
        status: ExitStatus {
            code: None,
            signal: None,
        },
        stdout: Vec::new(),
        stderr_tail: Vec::new(),
    };
    let expired = async {
        match context.deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    let (mut heard, mut stacks_shown) = (tokio::time::Instant::now(), false);
    let status = loop {
        let quiet = async {
            match context.stacks_after {
                Some(after) if !stacks_shown => tokio::time::sleep_until(heard + after).await,
                _ => std::future::pending().await,
            }
        };
        let stopped = tokio::select! {
            () = quiet => None,
            next = execution.next(), if early.is_empty() => Some(Ok(next)),
            () = std::future::ready(()), if !early.is_empty() => Some(Ok(Ok(early.pop_front()))),
            () = &mut expired => Some(Err(Error::Timeout {
                host: host.clone(),
                after: context.timeout.unwrap_or_default(),
            })),
            _ = context.interrupt.wait_for(|stop| *stop) => Some(Err(Error::Interrupted {
                host: host.clone(),
                done: "the command was sent SIGTERM",
            })),
        };
        let Some(stopped) = stopped else {
            stacks_shown = true;
            show_stacks(session, execution.marker(), heard.elapsed(), context.events).await;
            continue;
        };
        let next = match stopped {
            Ok(next) => next,
            Err(reason) => {
                execution.stop().await;
                return Err(reason);
            }
        };
        heard = tokio::time::Instant::now();
        let (stream, data) = match next? {
            Some(Chunk::Exit(status)) => break status,
            Some(chunk) => match kept.keep(chunk, capture, &mut sudo) {
                Ok(output) => output,
                Err(message) => {
                    execution.stop().await;
                    return Err(Error::Remote {
                        host: host.clone(),
                        message,
                    });
                }
            },
            None => unreachable!("an execution ends with its exit status"),
        };
        let sent = context
            .events
            .send(Event::Data {
                host: host.clone(),
                stream,
                data,
            })
            .await;
        if sent.is_err() {
            // Nobody reads the output any more (`| head`): stop the command.
            execution.stop().await;
            return Err(Error::io(
                "output closed",
                std::io::ErrorKind::BrokenPipe.into(),
            ));
        }
    };
    if let Some(message) = sudo.problem(&status) {
        return Err(Error::Sudo {
            host: host.clone(),
            message,
        });
    }
    kept.status = status;
    Ok(kept)
}

/// `command` started, in the login shell `waiting` for it if one is; with
/// what that shell said before (the step's output, as it is when the
/// command is sent at once).
async fn started<'s>(
    session: &'s Session,
    command: &RemoteCommand,
    waiting: Option<Staged<'s>>,
) -> Result<(crate::ssh::Execution<'s>, std::collections::VecDeque<Chunk>), Error> {
    let mut early = std::collections::VecDeque::new();
    let execution = match waiting {
        Some(shell) => {
            early.push_back(Chunk::Stdout(shell.facts.preamble.clone().into()));
            early.push_back(Chunk::Stderr(shell.stderr.clone().into()));
            early.retain(
                |chunk| !matches!(chunk, Chunk::Stdout(d) | Chunk::Stderr(d) if d.is_empty()),
            );
            shell.run(command).await?
        }
        None => session.start(command).await?,
    };
    Ok((execution, early))
}

impl StepRun {
    /// Keep what a piece of output says (stdout when `capture`, up to
    /// [`CAPTURE_LIMIT`]; stderr's tail; sudo's complaints), and hand it on.
    fn keep(
        &mut self,
        chunk: Chunk,
        capture: bool,
        sudo: &mut SudoWatch,
    ) -> Result<(Stream, bytes::Bytes), String> {
        match chunk {
            Chunk::Stdout(data) => {
                if capture {
                    if self.stdout.len() + data.len() > CAPTURE_LIMIT {
                        return Err(format!(
                            "a captured output is larger than {CAPTURE_LIMIT} bytes"
                        ));
                    }
                    self.stdout.extend_from_slice(&data);
                }
                Ok((Stream::Stdout, data))
            }
            Chunk::Stderr(data) => {
                sudo.inspect(&data);
                self.stderr_tail.extend_from_slice(&data);
                let excess = self.stderr_tail.len().saturating_sub(STDERR_TAIL);
                self.stderr_tail.drain(..excess);
                Ok((Stream::Stderr, data))
            }
            Chunk::Exit(_) => unreachable!("the exit status is not output"),
        }
    }
}

/// The stacks of the Python processes of the run marked `marker`, as a
/// warning: for a command that has said nothing for `quiet` (a test run
/// that hangs, `--stacks-after`), so that an unattended job leaves them in
/// its log before it is killed.
async fn show_stacks(
    session: &Session,
    marker: &str,
    quiet: std::time::Duration,
    events: &mpsc::Sender<Event>,
) {
    let host = &session.host().label;
    let selection = crate::stacks::Selection::Run(marker.to_owned());
    let stacks = match crate::stacks::read(session, &selection, false).await {
        Ok(read) if read.is_empty() => "it has no Python processes to read".to_owned(),
        Ok(read) => read
            .iter()
            .map(|process| crate::stacks::render(host, process))
            .collect(),
        Err(e) => format!("they cannot be read: {}", crate::error::report(&e)),
    };
    let _ = events
        .send(Event::Warning {
            host: host.clone(),
            message: format!(
                "no output for {}s; the stacks of its Python processes:\n{}",
                quiet.as_secs(),
                stacks.trim_end()
            ),
        })
        .await;
}

/// Recognises sudo's own complaints on stderr, to explain them.
struct SudoWatch {
    active: bool,
    seen: Vec<u8>,
}

impl SudoWatch {
    /// Only the start of stderr is kept: sudo complains before the command runs.
    const KEEP: usize = 4096;

    fn new(active: bool) -> SudoWatch {
        SudoWatch {
            active,
            seen: Vec::new(),
        }
    }

    fn inspect(&mut self, data: &[u8]) {
        if self.active && self.seen.len() < Self::KEEP {
            let room = Self::KEEP - self.seen.len();
            self.seen.extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    fn problem(&self, status: &ExitStatus) -> Option<String> {
        if !self.active || status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&self.seen);
        if text.contains("a password is required") || text.contains("a terminal is required") {
            Some(format!(
                "sudo needs a password here: set {} (it is fed to sudo on stdin), \
                 or allow this user NOPASSWD in sudoers",
                crate::SUDO_PASSWORD_VAR
            ))
        } else if text.contains("incorrect password") || text.contains("no password was provided") {
            Some(format!(
                "sudo rejected the password from {}",
                crate::SUDO_PASSWORD_VAR
            ))
        } else if status.code == Some(127) && text.contains("sudo") && text.contains("not found") {
            Some("sudo is not installed on this host".into())
        } else if text.contains("is not in the sudoers file")
            || text.contains("not allowed to execute")
        {
            Some("this user may not use sudo here (sudoers)".into())
        } else {
            None
        }
    }
}
