//! `roadie shell TARGET`: the login shell of one host, interactive, as
//! `ssh HOST` gives it: a terminal when stdin is one (in raw mode locally,
//! its size kept up to date), the shell's exit code passed through. Opening
//! a shell is a change: a protected environment needs `--confirm ENV`.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Read as _};

use clap::Args;
use russh::ChannelMsg;
use tokio::sync::mpsc;

use super::Global;
use crate::error::Error;
use crate::host::Host;
use crate::job::Finished;
use crate::outcome::HostOutcome;
use crate::safety::{Intent, SafetyClass};
use crate::ssh::{ExitStatus, Session, ended};

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// One host: a host, ENV/HOST, or an environment of one host.
    pub target: String,
}

pub(super) async fn shell(global: &Global, args: &ShellArgs) -> Result<i32, Error> {
    let hosts = global.hosts(&args.target)?;
    let [host] = hosts.as_slice() else {
        return Err(Error::Usage(format!(
            "roadie shell opens one host's shell, and '{}' has {} hosts: name one as ENV/HOST",
            args.target,
            hosts.len()
        )));
    };
    let intent = Intent {
        class: SafetyClass::Change,
        confirm: global.confirm.clone(),
    };
    let results = [open(host, &intent).await];
    crate::audit::record_each(
        &args.target,
        "shell",
        SafetyClass::Change,
        &hosts,
        &results,
        |(status, fingerprint)| (ran(status), Some(fingerprint.as_str())),
    );
    let [result] = results;
    result.map(|(status, _)| status.as_exit_code())
}

/// A shell that ended with `status`, as an outcome.
fn ran(status: &ExitStatus) -> HostOutcome {
    HostOutcome::Ran(Finished {
        status: status.clone(),
        captured: BTreeMap::new(),
        failed_step: None,
    })
}

/// The shell of `host`, for as long as it runs: how it ended, and the
/// fingerprint of the server's key (for the audit log).
async fn open(host: &Host, intent: &Intent) -> Result<(ExitStatus, String), Error> {
    let session = Session::connect_for(host, intent).await?;
    let fingerprint = session.verified().fingerprint.clone();
    for note in session.notes() {
        stderr_line!("roadie: {}: {note}", host.label);
    }
    let interactive = std::io::stdin().is_terminal();
    let term = std::env::var("TERM").unwrap_or_else(|_| "dumb".into());
    let channel = session
        .start_shell(interactive.then(|| (term.as_str(), size())))
        .await?;
    let (mut from_shell, to_shell) = channel.split();
    let raw = if interactive { RawMode::enter() } else { None };
    let (keys, mut typed) = mpsc::channel::<Vec<u8>>(16);
    // A thread, not the runtime's: a read of the terminal cannot be cut
    // short, and the process may end while one waits.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if keys.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut resized = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .map_err(|e| Error::io("cannot watch the terminal's size", e))?;
    let mut status = None;
    let mut stdin_open = true;
    let lost = |e: russh::Error| Error::ConnectionLost {
        host: host.label.clone(),
        reason: session.failure(&e),
    };
    loop {
        tokio::select! {
            message = from_shell.wait() => match message {
                Some(ChannelMsg::Data { data }) => write_all(&mut std::io::stdout(), &data)?,
                Some(ChannelMsg::ExtendedData { data, .. }) => write_all(&mut std::io::stderr(), &data)?,
                Some(other) => status = ended(&other).or(status),
                None => break,
            },
            key = typed.recv(), if stdin_open => {
                if let Some(bytes) = key {
                    to_shell.data(&bytes[..]).await.map_err(lost)?;
                } else {
                    stdin_open = false;
                    to_shell.eof().await.map_err(lost)?;
                }
            }
            _ = resized.recv(), if interactive => {
                let (columns, rows) = size();
                to_shell.window_change(columns, rows, 0, 0).await.map_err(lost)?;
            }
        }
    }
    drop(raw);
    let status = status.ok_or_else(|| Error::ConnectionLost {
        host: host.label.clone(),
        reason: if session.is_closed() {
            session.lost_reason()
        } else {
            "the server closed the shell without an exit status".into()
        },
    })?;
    session.close().await;
    Ok((status, fingerprint))
}

/// The local terminal's size, columns and rows.
fn size() -> (u32, u32) {
    let (rows, columns) = console::Term::stdout().size();
    (u32::from(columns), u32::from(rows))
}

fn write_all(to: &mut impl std::io::Write, data: &[u8]) -> Result<(), Error> {
    to.write_all(data)
        .and_then(|()| to.flush())
        .map_err(|e| Error::io("cannot write the shell's output", e))
}

/// The local terminal in raw mode (keys go to the remote shell as typed,
/// Ctrl-C included) until dropped.
struct RawMode {
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    /// Raw mode on stdin's terminal; `None` if it cannot be set.
    fn enter() -> Option<RawMode> {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSADRAIN, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSADRAIN,
            &self.saved,
        );
    }
}
