//! Running one command on many hosts at once: one connection per host, a
//! bounded number in flight, every host's result kept, none hiding another's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::command::RemoteCommand;
use crate::error::{Error, exit_code};
use crate::output::{Event, HostResult, Stream};
use crate::resolve::Host;
use crate::ssh::{Chunk, ExitStatus, Session};

/// The default number of hosts worked on at once.
pub const DEFAULT_PARALLEL: u16 = 32;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub command: RemoteCommand,
    /// Stop the command after this long.
    pub timeout: Option<Duration>,
    /// At most this many hosts at once.
    pub parallel: usize,
}

/// How one host's run ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    Failed(Error),
}

/// One host's result.
#[derive(Debug)]
pub struct HostRun {
    pub host: String,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl HostRun {
    /// As reported in events.
    pub fn result(&self) -> HostResult {
        let duration_ms = u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX);
        match &self.outcome {
            Outcome::Exited(status) => HostResult {
                host: self.host.clone(),
                status: if status.success() { "ok" } else { "failed" },
                exit_code: status.code.map(|_| status.as_exit_code()),
                signal: status.signal.clone(),
                error: None,
                error_kind: None,
                duration_ms,
            },
            Outcome::Failed(error) => HostResult {
                host: self.host.clone(),
                status: "error",
                exit_code: Some(error.exit_code()),
                signal: None,
                error: Some(crate::error::report(error)),
                error_kind: Some(error.kind()),
                duration_ms,
            },
        }
    }
}

/// The exit code for a whole run: a single host's own code, or 1 when any of
/// several hosts failed.
pub fn overall_exit_code(runs: &[HostRun]) -> i32 {
    match runs {
        [single] => match &single.outcome {
            Outcome::Exited(status) => status.as_exit_code(),
            Outcome::Failed(error) => error.exit_code(),
        },
        many => {
            let all_ok = many
                .iter()
                .all(|r| matches!(&r.outcome, Outcome::Exited(s) if s.success()));
            if all_ok {
                exit_code::SUCCESS
            } else {
                exit_code::FAILED
            }
        }
    }
}

/// Run `spec` on every host, sending events to `events`. Returns each host's
/// result, in the order of `hosts`. When `interrupt` turns true, running
/// commands are stopped (SIGTERM) and hosts not yet started are skipped.
pub async fn run_all(
    hosts: Vec<Host>,
    spec: &RunSpec,
    events: mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
) -> Vec<HostRun> {
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
            let result = if *interrupt.borrow() {
                Err(Error::Interrupted {
                    host: host.label.clone(),
                })
            } else {
                run_one(&host, &spec, &events, interrupt).await
            };
            let outcome = match result {
                Ok(status) => Outcome::Exited(status),
                Err(error) => Outcome::Failed(error),
            };
            let run = HostRun {
                host: host.label.clone(),
                outcome,
                duration: started.elapsed(),
            };
            let _ = events.send(Event::Finished(run.result())).await;
            run
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

async fn run_one(
    host: &Host,
    spec: &RunSpec,
    events: &mpsc::Sender<Event>,
    mut interrupt: watch::Receiver<bool>,
) -> Result<ExitStatus, Error> {
    let session = Session::connect(host).await?;
    for note in session.notes() {
        let _ = events
            .send(Event::Warning {
                host: host.label.clone(),
                message: note.clone(),
            })
            .await;
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
        None => Ok(status),
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
