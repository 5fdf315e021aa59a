//! Running one command on many hosts at once: one connection per host, a
//! bounded number in flight, every host's result kept, none hiding another's.
//! Every host goes through the safeguards ([`crate::guard`]) first, and every
//! change or destroy step that runs, and every refusal, is audited.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::audit;
use crate::command::RemoteCommand;
use crate::error::{Error, exit_code};
use crate::guard::{self, Intent, SafetyClass};
use crate::output::{Event, HostResult, Stream};
use crate::resolve::Host;
use crate::ssh::{Chunk, ExitStatus, Session};

/// The default number of hosts worked on at once.
pub const DEFAULT_PARALLEL: u16 = 32;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The TARGET as given, for the audit log.
    pub target: String,
    pub command: RemoteCommand,
    /// The step's safety class and the user's confirmation.
    pub intent: Intent,
    /// Stop the command after this long.
    pub timeout: Option<Duration>,
    /// At most this many hosts at once.
    pub parallel: usize,
    /// Check every lock and show the command, but run nothing (`--check`).
    pub dry_run: bool,
}

/// How one host's run ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    /// `--check`: every lock passed; this is what would run.
    Planned(String),
    Failed(Error),
}

/// One host's result.
#[derive(Debug)]
pub struct HostRun {
    pub host: String,
    /// The fingerprint of the key the host presented, when it was reached.
    pub fingerprint: Option<String>,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl HostRun {
    /// As reported in events.
    pub fn result(&self) -> HostResult {
        let mut result = HostResult {
            host: self.host.clone(),
            status: "ok",
            exit_code: None,
            signal: None,
            error: None,
            error_kind: None,
            lock: None,
            host_key: self.fingerprint.clone(),
            would_run: None,
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
        };
        match &self.outcome {
            Outcome::Exited(status) => {
                result.status = if status.success() { "ok" } else { "failed" };
                result.exit_code = status.code.map(|_| status.as_exit_code());
                result.signal.clone_from(&status.signal);
            }
            Outcome::Planned(command) => result.would_run = Some(command.clone()),
            Outcome::Failed(error) => {
                result.status = if matches!(error, Error::Refused(_)) {
                    "refused"
                } else {
                    "error"
                };
                result.exit_code = Some(error.exit_code());
                result.error = Some(crate::error::report(error));
                result.error_kind = Some(error.kind());
                if let Error::Refused(refusal) = error {
                    result.lock = Some(refusal.lock);
                }
            }
        }
        result
    }

    /// For the audit log: `ok`, `exit N`, `signal NAME`, `refused`, `error`.
    fn audit_outcome(&self) -> String {
        match &self.outcome {
            Outcome::Exited(status) if status.success() => "ok".into(),
            Outcome::Exited(status) => status.to_string(),
            Outcome::Planned(_) => "checked".into(),
            Outcome::Failed(Error::Refused(_)) => "refused".into(),
            Outcome::Failed(error) => format!("error ({})", error.kind()),
        }
    }
}

/// The exit code for a whole run: 3 if a safeguard refused any host; else a
/// single host's own code, or 1 when any of several hosts failed.
pub fn overall_exit_code(runs: &[HostRun]) -> i32 {
    if runs
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed(Error::Refused(_))))
    {
        return exit_code::REFUSED;
    }
    match runs {
        [single] => match &single.outcome {
            Outcome::Exited(status) => status.as_exit_code(),
            Outcome::Planned(_) => exit_code::SUCCESS,
            Outcome::Failed(error) => error.exit_code(),
        },
        many => {
            let all_ok = many.iter().all(|r| match &r.outcome {
                Outcome::Exited(s) => s.success(),
                Outcome::Planned(_) => true,
                Outcome::Failed(_) => false,
            });
            if all_ok {
                exit_code::SUCCESS
            } else {
                exit_code::FAILED
            }
        }
    }
}

fn audit(spec: &RunSpec, host: &Host, run: &HostRun, events_warning: &mut Vec<String>) {
    let refused = match &run.outcome {
        Outcome::Failed(Error::Refused(refusal)) => Some(refusal.lock),
        _ => None,
    };
    // Reads that ran are not audited; refusals always are.
    if spec.intent.class == SafetyClass::Read && refused.is_none() {
        return;
    }
    let step = if spec.dry_run {
        format!("{} (check)", spec.command.describe())
    } else {
        spec.command.describe()
    };
    let entry = audit::Entry {
        target: &spec.target,
        host: &host.label,
        environment: host.environment.as_deref(),
        fingerprint: run.fingerprint.as_deref(),
        step: &step,
        class: spec.intent.class,
        outcome: run.audit_outcome(),
        lock: refused,
    };
    if let Err(e) = audit::record(&entry) {
        events_warning.push(format!(
            "could not write the audit log {}: {e}",
            audit::path().display()
        ));
    }
}

/// Run `spec` on every host, sending events to `events`. Returns each host's
/// result, in the order of `hosts`. When `interrupt` turns true, running
/// commands are stopped (SIGTERM) and hosts not yet started are skipped.
///
/// The environment lock is checked for every host first: if it refuses any
/// host, nothing runs anywhere. Later locks (host key, server markers) refuse
/// the host concerned.
pub async fn run_all(
    hosts: Vec<Host>,
    spec: &RunSpec,
    events: mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
) -> Vec<HostRun> {
    let refusals: Vec<Option<Box<guard::Refusal>>> = hosts
        .iter()
        .map(|h| guard::before_connect(h, &spec.intent).err())
        .collect();
    if refusals.iter().any(Option::is_some) {
        let mut runs = Vec::new();
        for (host, refusal) in hosts.iter().zip(refusals) {
            let error = match refusal {
                Some(refusal) => Error::Refused(refusal),
                None => Error::NotRun {
                    host: host.label.clone(),
                    reason: "another host of the target was refused".into(),
                },
            };
            runs.push(finish(host, spec, &events, None, Err(error), Instant::now()).await);
        }
        return runs;
    }
    let permits = Arc::new(Semaphore::new(spec.parallel.max(1)));
    let mut tasks = Vec::with_capacity(hosts.len());
    for host in hosts {
        let permits = permits.clone();
        let events = events.clone();
        let spec = spec.clone();
        let interrupt = interrupt.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let started = Instant::now();
            // The receiver only goes away when output can no longer be
            // written (a closed pipe); then there is nobody left to tell.
            let _ = events
                .send(Event::Started {
                    host: host.label.clone(),
                })
                .await;
            let mut fingerprint = None;
            let result = if *interrupt.borrow() {
                Err(Error::Interrupted {
                    host: host.label.clone(),
                })
            } else {
                run_one(&host, &spec, &events, interrupt, &mut fingerprint).await
            };
            finish(&host, &spec, &events, fingerprint, result, started).await
        }));
    }
    let mut runs = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(run) => runs.push(run),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
    runs
}

/// Record a host's result: audit it and report it.
async fn finish(
    host: &Host,
    spec: &RunSpec,
    events: &mpsc::Sender<Event>,
    fingerprint: Option<String>,
    result: Result<Outcome, Error>,
    started: Instant,
) -> HostRun {
    let run = HostRun {
        host: host.label.clone(),
        fingerprint,
        outcome: result.unwrap_or_else(Outcome::Failed),
        duration: started.elapsed(),
    };
    let mut warnings = Vec::new();
    audit(spec, host, &run, &mut warnings);
    for message in warnings {
        let _ = events
            .send(Event::Warning {
                host: host.label.clone(),
                message,
            })
            .await;
    }
    let _ = events.send(Event::Finished(run.result())).await;
    run
}

async fn run_one(
    host: &Host,
    spec: &RunSpec,
    events: &mpsc::Sender<Event>,
    mut interrupt: watch::Receiver<bool>,
    fingerprint: &mut Option<String>,
) -> Result<Outcome, Error> {
    let session = Session::connect_for(host, &spec.intent).await?;
    *fingerprint = Some(session.verified().fingerprint.clone());
    for note in session.notes() {
        let _ = events
            .send(Event::Warning {
                host: host.label.clone(),
                message: note.clone(),
            })
            .await;
    }
    guard::before_destroy(&session, &spec.intent).await?;
    if spec.dry_run {
        session.close().await;
        return Ok(Outcome::Planned(spec.command.render()));
    }
    let mut execution = session.start(&spec.command).await?;
    let mut sudo = SudoWatch::new(spec.command.sudo.is_some());
    let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
    let expired = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    let status = loop {
        let stopped = tokio::select! {
            next = execution.next() => Ok(next),
            () = &mut expired => Err(Error::Timeout {
                host: host.label.clone(),
                after: spec.timeout.unwrap_or_default(),
            }),
            _ = interrupt.wait_for(|stop| *stop) => Err(Error::Interrupted { host: host.label.clone() }),
        };
        let next = match stopped {
            Ok(next) => next,
            Err(reason) => {
                execution.stop().await;
                session.close().await;
                return Err(reason);
            }
        };
        let (stream, data) = match next? {
            Some(Chunk::Stdout(data)) => (Stream::Stdout, data),
            Some(Chunk::Stderr(data)) => {
                sudo.inspect(&data);
                (Stream::Stderr, data)
            }
            Some(Chunk::Exit(status)) => break status,
            None => unreachable!("an execution ends with its exit status"),
        };
        let sent = events
            .send(Event::Data {
                host: host.label.clone(),
                stream,
                data,
            })
            .await;
        if sent.is_err() {
            // Nobody reads the output any more (`| head`): stop the command.
            execution.stop().await;
            session.close().await;
            return Err(Error::io(
                "output closed",
                std::io::ErrorKind::BrokenPipe.into(),
            ));
        }
    };
    session.close().await;
    match sudo.problem(&status) {
        Some(message) => Err(Error::Sudo {
            host: host.label.clone(),
            message,
        }),
        None => Ok(Outcome::Exited(status)),
    }
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
