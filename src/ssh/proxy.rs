//! `ProxyCommand`: a local command whose stdin and stdout carry the SSH
//! connection (`nc %h %p`, `aws ssm start-session ...`, `cloudflared access
//! ssh ...`). It runs as `sh -c 'exec COMMAND'` in a process group of its
//! own, so that a Ctrl-C meant for roadie's graceful stop does not cut the
//! connection under it; roadie ends the group itself: when the connection
//! is dropped, when connecting gives up (the connect timeout covers the
//! command too), and when roadie is stopped by a signal. Its stderr is shown
//! on roadie's, each line after the host's label, and the last lines are
//! kept for the error when it exits.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::watch;

use crate::error::ConnectError;
use crate::host::Host;

/// How many of the command's last stderr lines an error quotes.
const TAIL_LINES: usize = 5;
/// How long a connection that failed waits for the command to exit, to say
/// how it ended; and how long, once it has, for the rest of its stderr.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// The byte stream the SSH connection runs over: the command's stdout and
/// stdin.
pub(crate) type Stream = tokio::io::Join<ChildStdout, ChildStdin>;

/// Process groups of the commands running now, for [`stop_all`].
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// Signals that the running subcommand handles itself (bit N: signal N).
static LEFT_TO_CALLER: AtomicU64 = AtomicU64::new(0);

/// A running `ProxyCommand`; dropping it kills its process group.
#[derive(Debug)]
pub(crate) struct Proxy {
    command: String,
    group: Pid,
    /// How the command ended, once it has.
    ended: watch::Receiver<Option<End>>,
}

/// Start `command` for `host`: the stream to speak SSH over, and the
/// process to keep for as long as the connection lives.
pub(crate) fn start(host: &Host, command: &str) -> Result<(Proxy, Stream), ConnectError> {
    let failed = |problem: String| ConnectError::Proxy {
        command: command.to_owned(),
        problem,
    };
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| failed(format!("could not be started: {e}")))?;
    let (Some(pid), Some(stdin), Some(stdout), Some(stderr)) = (
        child.id(),
        child.stdin.take(),
        child.stdout.take(),
        child.stderr.take(),
    ) else {
        return Err(failed("could not be started: no pipes to it".into()));
    };
    let group = Pid::from_raw(i32::try_from(pid).expect("a pid fits in i32"));
    RUNNING
        .lock()
        .expect("proxy list lock")
        .push(group.as_raw());
    stop_on_signals();
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let reader = tokio::spawn(forward_stderr(host.label.clone(), stderr, tail.clone()));
    let (report, ended) = watch::channel(None);
    tokio::spawn(async move {
        let status = child.wait().await;
        let _ = tokio::time::timeout(EXIT_GRACE, reader).await;
        let lines: Vec<String> = tail.lock().expect("tail lock").drain(..).collect();
        let _ = report.send(Some(End::new(status, lines)));
    });
    let proxy = Proxy {
        command: command.to_owned(),
        group,
        ended,
    };
    Ok((proxy, tokio::io::join(stdout, stdin)))
}

/// Show each line of the command's stderr after `[label]`, keeping the last
/// few in `tail`.
async fn forward_stderr(
    label: String,
    stderr: tokio::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut stderr = BufReader::new(stderr);
    let mut line = Vec::new();
    while stderr
        .read_until(b'\n', &mut line)
        .await
        .is_ok_and(|n| n > 0)
    {
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        line.clear();
        crate::stderr::write_line(&format!("[{label}] {text}"));
        let mut tail = tail.lock().expect("tail lock");
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text);
    }
}

/// How the command ended, and its last words on stderr.
#[derive(Debug, Clone)]
pub(crate) struct End {
    /// `exited with status 7`, `was killed by SIGKILL`.
    how: String,
    /// Its last few stderr lines that were not empty.
    said: Vec<String>,
}

impl End {
    fn new(status: std::io::Result<ExitStatus>, tail: Vec<String>) -> End {
        use std::os::unix::process::ExitStatusExt;
        let how = match status {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(signal)) => format!(
                    "was killed by {}",
                    Signal::try_from(signal)
                        .map_or_else(|_| format!("signal {signal}"), |s| s.to_string())
                ),
                (None, None) => format!("ended ({status})"),
            },
            Err(e) => format!("ended, and its status could not be read ({e})"),
        };
        let said = tail.into_iter().filter(|l| !l.trim().is_empty()).collect();
        End { how, said }
    }

    /// `how` happened `when`, and what it said.
    fn describe(&self, when: &str) -> String {
        if self.said.is_empty() {
            format!("{} {when}, saying nothing on stderr", self.how)
        } else {
            format!(
                "{} {when}; its stderr ended with: {}",
                self.how,
                self.said.join(" | ")
            )
        }
    }
}

impl Proxy {
    /// Why the connection it carried ended, if the command has exited.
    pub(crate) fn ended(&self) -> Option<String> {
        self.ended
            .borrow()
            .as_ref()
            .map(|end| end.describe("while carrying the connection"))
    }

    /// The error for a connection that failed with `error`: the command's
    /// end, when it exited (waiting a moment for it to), else `error`.
    pub(crate) async fn blame(&self, error: ConnectError) -> ConnectError {
        let mut ended = self.ended.clone();
        let end = tokio::time::timeout(EXIT_GRACE, ended.wait_for(Option::is_some)).await;
        match end {
            Ok(Ok(end)) => ConnectError::Proxy {
                command: self.command.clone(),
                problem: format!(
                    "{} (run it by hand to see why)",
                    end.as_ref()
                        .map(|end| end.describe("before the SSH connection was set up"))
                        .unwrap_or_default()
                ),
            },
            _ => error,
        }
    }

    /// The error for a command that carried no SSH connection within `after`.
    pub(crate) fn timed_out(&self, after: Duration) -> ConnectError {
        ConnectError::ProxyTimeout {
            command: self.command.clone(),
            after,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Already gone (every process of the group exited) is fine.
        let _ = killpg(self.group, Signal::SIGKILL);
        RUNNING
            .lock()
            .expect("proxy list lock")
            .retain(|g| *g != self.group.as_raw());
    }
}

/// Kill every running command's process group: for an exit that does not
/// drop the connections first.
pub(crate) fn stop_all() {
    for group in RUNNING.lock().expect("proxy list lock").drain(..) {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    }
}

/// The running subcommand handles `signal` itself (a graceful stop on
/// Ctrl-C, say): the commands are then stopped when its connections are
/// dropped, not when the signal arrives.
pub(crate) fn leave_to_caller(signal: Signal) {
    LEFT_TO_CALLER.fetch_or(1 << (signal as u32), Ordering::SeqCst);
}

/// Once a command runs: on SIGINT, SIGTERM or SIGHUP that the subcommand
/// does not handle itself, kill the commands and exit as the signal would
/// have ended roadie (128 + its number). The commands are in process groups
/// of their own, so nothing else would stop them.
fn stop_on_signals() {
    static WATCHING: Once = Once::new();
    WATCHING.call_once(|| {
        use tokio::signal::unix::{SignalKind, signal};
        let watched = [
            (Signal::SIGINT, SignalKind::interrupt()),
            (Signal::SIGTERM, SignalKind::terminate()),
            (Signal::SIGHUP, SignalKind::hangup()),
        ];
        for (name, kind) in watched {
            let Ok(mut arrivals) = signal(kind) else {
                continue;
            };
            tokio::spawn(async move {
                while arrivals.recv().await.is_some() {
                    if LEFT_TO_CALLER.load(Ordering::SeqCst) & (1 << (name as u32)) != 0 {
                        continue;
                    }
                    stop_all();
                    std::process::exit(128 + name as i32);
                }
            });
        }
    });
}
