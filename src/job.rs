//! What runs on one host: a command (`roadie run`) or a playbook task
//! (`roadie task`), planned once the host is reached (a task reads the
//! server's `.env` first), then executed step by step with output streamed,
//! values captured, and the first failing step ending the host's job.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::command::RemoteCommand;
use crate::dotenv::DotEnv;
use crate::error::Error;
use crate::output::{Event, Stream};
use crate::playbook::{Action, Plan, PlannedStep, Playbook, plan_task};
use crate::resolve::Host;
use crate::ssh::{Chunk, ExitStatus, Expect, Session};

/// How much of a step's stdout a capture keeps, at most.
const CAPTURE_LIMIT: usize = 1024 * 1024;
/// How much of a failing step's stderr is kept for its report.
const STDERR_TAIL: usize = 4096;

/// What to do on each host.
#[derive(Debug, Clone)]
pub enum Job {
    /// One command.
    Command(RemoteCommand),
    /// A playbook task and its parameters.
    Task {
        playbook: Arc<Playbook>,
        task: String,
        params: BTreeMap<String, String>,
    },
}

impl Job {
    /// For the audit log: no values of variables or parameters.
    pub fn describe(&self) -> String {
        match self {
            Job::Command(command) => command.describe(),
            Job::Task {
                playbook,
                task,
                params,
            } => {
                let names: Vec<String> = params.keys().map(|k| format!("{k}=...")).collect();
                format!("task {}:{task} {}", playbook.name, names.join(" "))
                    .trim_end()
                    .to_owned()
            }
        }
    }

    /// The task's name, for reports.
    pub fn task_name(&self) -> Option<&str> {
        match self {
            Job::Command(_) => None,
            Job::Task { task, .. } => Some(task),
        }
    }

    /// The server's `.env` the job applies to its steps on `host`, if any.
    pub fn env_file(&self, host: &Host) -> Result<Option<String>, Error> {
        match self {
            Job::Command(_) => Ok(None),
            Job::Task { playbook, task, .. } => {
                let (_, found) = playbook_task(playbook, task)?;
                Ok(crate::playbook::env_file_for(playbook, found, host)?)
            }
        }
    }

    /// The steps for the host `session` reaches.
    pub async fn plan(&self, session: &Session) -> Result<Plan, Error> {
        match self {
            Job::Command(command) => Ok(vec![PlannedStep {
                label: String::new(),
                action: Action::Run(command.clone()),
                capture: None,
            }]),
            Job::Task {
                playbook,
                task,
                params,
            } => {
                let host = session.host();
                let (_, found) = playbook_task(playbook, task)?;
                let dotenv = match self.env_file(host)? {
                    Some(path) => {
                        let bytes = session.read_file(&path).await?.ok_or_else(|| {
                            Error::Remote {
                                host: host.label.clone(),
                                message: format!(
                                    "the task applies {path}, which does not exist on the server"
                                ),
                            }
                        })?;
                        Some(DotEnv::parse(&String::from_utf8_lossy(&bytes)))
                    }
                    None => None,
                };
                Ok(plan_task(playbook, found, host, params, dotenv.as_ref())?)
            }
        }
    }
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

/// The step that ended a job early.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedStep {
    /// 1-based.
    pub index: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The end of its stderr.
    pub stderr: String,
}

/// How a host's job ended when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The last step's status (the failing one's, if one failed).
    pub status: ExitStatus,
    pub captured: BTreeMap<String, String>,
    pub failed_step: Option<FailedStep>,
}

/// Everything a running job needs from around it.
pub struct Context<'a> {
    pub events: &'a mpsc::Sender<Event>,
    pub deadline: Option<tokio::time::Instant>,
    pub timeout: Option<std::time::Duration>,
    pub interrupt: watch::Receiver<bool>,
}

/// Run `plan` on `session`, step by step.
pub async fn execute(
    session: &Session,
    plan: Plan,
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
    for (index, step) in plan.into_iter().enumerate() {
        let failed = |exit_code: Option<i32>, stderr: String| FailedStep {
            index: index + 1,
            name: step.label.clone(),
            exit_code,
            stderr,
        };
        let command = match &step.action {
            Action::Run(command) => command,
            Action::Upload { local, remote } => {
                upload(session, local, remote).await?;
                continue;
            }
        };
        let ran = run_step(session, command, step.capture.is_some(), context).await?;
        finished.status = ran.status.clone();
        if !ran.status.success() {
            let tail = String::from_utf8_lossy(&ran.stderr_tail).into_owned();
            finished.failed_step = Some(failed(Some(ran.status.as_exit_code()), tail));
            break;
        }
        if let Some(capture) = &step.capture {
            let stdout = String::from_utf8_lossy(&ran.stdout);
            match capture.extract(&stdout) {
                Ok(value) => {
                    finished.captured.insert(capture.name().to_owned(), value);
                }
                Err(why) => {
                    finished.status.code = Some(1);
                    finished.failed_step = Some(failed(None, why));
                    break;
                }
            }
        }
    }
    Ok(finished)
}

async fn upload(session: &Session, local: &std::path::Path, remote: &str) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let contents = tokio::fs::read(local)
        .await
        .map_err(|e| Error::io(format!("cannot read {}", local.display()), e))?;
    let mode = std::fs::metadata(local).map_or(0o644, |m| m.permissions().mode() & 0o777);
    session
        .write_file(remote, &contents, &Expect::Anything, mode, false)
        .await?;
    Ok(())
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
) -> Result<StepRun, Error> {
    let host = &session.host().label;
    let mut execution = session.start(command).await?;
    let mut sudo = SudoWatch::new(command.sudo.is_some());
    let mut stdout = Vec::new();
    let mut stderr_tail: Vec<u8> = Vec::new();
    let expired = async {
        match context.deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    let status = loop {
        let stopped = tokio::select! {
            next = execution.next() => Ok(next),
            () = &mut expired => Err(Error::Timeout {
                host: host.clone(),
                after: context.timeout.unwrap_or_default(),
            }),
            _ = context.interrupt.wait_for(|stop| *stop) => Err(Error::Interrupted { host: host.clone() }),
        };
        let next = match stopped {
            Ok(next) => next,
            Err(reason) => {
                execution.stop().await;
                return Err(reason);
            }
        };
        let (stream, data) = match next? {
            Some(Chunk::Stdout(data)) => {
                if capture {
                    if stdout.len() + data.len() > CAPTURE_LIMIT {
                        execution.stop().await;
                        return Err(Error::Remote {
                            host: host.clone(),
                            message: format!(
                                "a captured output is larger than {CAPTURE_LIMIT} bytes"
                            ),
                        });
                    }
                    stdout.extend_from_slice(&data);
                }
                (Stream::Stdout, data)
            }
            Some(Chunk::Stderr(data)) => {
                sudo.inspect(&data);
                stderr_tail.extend_from_slice(&data);
                let excess = stderr_tail.len().saturating_sub(STDERR_TAIL);
                stderr_tail.drain(..excess);
                (Stream::Stderr, data)
            }
            Some(Chunk::Exit(status)) => break status,
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
    Ok(StepRun {
        status,
        stdout,
        stderr_tail,
    })
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
