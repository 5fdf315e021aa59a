//! Running one command on a session: its output as it arrives, then its exit
//! status. Output is pulled chunk by chunk, so memory stays constant however
//! much a command prints.

use bytes::Bytes;
use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};

use super::Session;
use crate::command::RemoteCommand;
use crate::error::Error;
use crate::stage::{ANSWER_LIMIT, Facts, Garbled, Stage};

/// How much of what a stage's shell says on stderr is kept for its report.
const STAGE_STDERR: usize = 4096;

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExitStatus {
    /// The exit code, when the command exited.
    pub code: Option<u32>,
    /// The signal that killed it, when one did (`TERM`, `KILL`, ...).
    pub signal: Option<String>,
}

impl ExitStatus {
    /// Did the command exit with 0?
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// As a shell reports it: the code, or 128 + the signal number.
    pub fn as_exit_code(&self) -> i32 {
        match (&self.code, &self.signal) {
            (Some(code), _) => i32::try_from(*code).unwrap_or(255),
            (None, Some(signal)) => 128 + signal_number(signal),
            (None, None) => 255,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, &self.signal) {
            (Some(code), _) => write!(f, "exit {code}"),
            (None, Some(signal)) => write!(f, "killed by SIG{signal}"),
            (None, None) => write!(f, "no exit status"),
        }
    }
}

fn signal_name(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name,
    }
    .to_owned()
}

/// How a remote shell or command ended, if `message` says so.
pub(crate) fn ended(message: &ChannelMsg) -> Option<ExitStatus> {
    match message {
        ChannelMsg::ExitStatus { exit_status } => Some(ExitStatus {
            code: Some(*exit_status),
            signal: None,
        }),
        ChannelMsg::ExitSignal {
            signal_name: sig, ..
        } => Some(ExitStatus {
            code: None,
            signal: Some(signal_name(sig)),
        }),
        _ => None,
    }
}

fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    }
}

/// A piece of a running command's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes on stdout.
    Stdout(Bytes),
    /// Bytes on stderr.
    Stderr(Bytes),
    /// The last chunk.
    Exit(ExitStatus),
}

/// Everything a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Everything it printed on stdout.
    pub stdout: Vec<u8>,
    /// Everything it printed on stderr.
    pub stderr: Vec<u8>,
    /// How it exited.
    pub status: ExitStatus,
}

impl Output {
    /// Stdout as text (lossy), without the trailing newline.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout)
            .trim_end_matches('\n')
            .to_owned()
    }
}

/// A command running on a host.
pub struct Execution<'a> {
    session: &'a Session,
    channel: Channel<Msg>,
    /// The `ROADIE_RUN` value its processes carry.
    marker: String,
    code: Option<u32>,
    signal: Option<String>,
    finished: bool,
}

/// A login shell that has answered a [`Stage`] and waits for its step.
pub(crate) struct Staged<'a> {
    session: &'a Session,
    channel: Channel<Msg>,
    /// What it read.
    pub facts: Facts,
    /// What it said on stderr meanwhile (a login shell's warnings).
    pub stderr: Vec<u8>,
}

impl Session {
    /// Start a shell that reads what `stage` asks for and then waits for
    /// its step: one SSH session, one login shell (see [`crate::stage`]).
    /// The login user's home it reports is remembered for
    /// [`Session::home`].
    pub(crate) async fn stage(&self, stage: &Stage) -> Result<Staged<'_>, Error> {
        let lost = |e: russh::Error| Error::ConnectionLost {
            host: self.host.label.clone(),
            reason: self.failure(&e),
        };
        let remote = |message: String| Error::Remote {
            host: self.host.label.clone(),
            message,
        };
        let mut channel = self.open_session().await.map_err(lost)?;
        channel.exec(true, stage.script()).await.map_err(lost)?;
        let (mut answer, mut stderr) = (Vec::new(), Vec::new());
        let mut status = None;
        while !stage.is_complete(&answer) {
            match channel.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    answer.extend_from_slice(&data);
                    if answer.len() > ANSWER_LIMIT {
                        let _ = channel.close().await;
                        return Err(remote(format!(
                            "the files read before the step ({}) come to more than {ANSWER_LIMIT} bytes",
                            stage.paths().join(", ")
                        )));
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    stderr.extend_from_slice(&data);
                    let excess = stderr.len().saturating_sub(STAGE_STDERR);
                    stderr.drain(..excess);
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
                Some(ChannelMsg::Failure) => {
                    return Err(Error::ConnectionLost {
                        host: self.host.label.clone(),
                        reason: "the server refused to run the command".into(),
                    });
                }
                Some(_) => {}
                None if self.handle.is_closed() => {
                    return Err(Error::ConnectionLost {
                        host: self.host.label.clone(),
                        reason: self.lost_reason(),
                    });
                }
                None => {
                    let ended = status.map_or_else(String::new, |code| format!(" (exit {code})"));
                    return Err(remote(format!(
                        "the login shell ended{ended} before it had read the files the step needs: {}",
                        said(&stderr)
                    )));
                }
            }
        }
        let facts = stage.facts(&answer).map_err(|garbled| {
            remote(match garbled {
                Garbled::Unreadable(path) => format!("cannot read {path}: {}", said(&stderr)),
                Garbled::Malformed => format!(
                    "the login shell's answer while reading {} was garbled",
                    stage.paths().join(", ")
                ),
            })
        })?;
        if facts.home.starts_with('/') {
            let _ = self.home.set(facts.home.clone());
        }
        Ok(Staged {
            session: self,
            channel,
            facts,
            stderr,
        })
    }

    /// Start the login user's shell, interactive, on a terminal of type
    /// `term` and `size` (columns, rows) when one is given (`ssh HOST`).
    pub(crate) async fn start_shell(
        &self,
        terminal: Option<(&str, (u32, u32))>,
    ) -> Result<Channel<Msg>, Error> {
        let lost = |e: russh::Error| Error::ConnectionLost {
            host: self.host.label.clone(),
            reason: self.failure(&e),
        };
        let channel = self.open_session().await.map_err(lost)?;
        if let Some((term, (columns, rows))) = terminal {
            channel
                .request_pty(true, term, columns, rows, 0, 0, &[])
                .await
                .map_err(lost)?;
        }
        channel.request_shell(true).await.map_err(lost)?;
        Ok(channel)
    }

    /// Start `command`; read its output with [`Execution::next`].
    pub async fn start(&self, command: &RemoteCommand) -> Result<Execution<'_>, Error> {
        self.start_with_input(command, &[]).await
    }

    /// Start `command` with `input` on its stdin (after whatever the command
    /// itself sends there: sudo's password, a script with secrets).
    pub async fn start_with_input(
        &self,
        command: &RemoteCommand,
        input: &[u8],
    ) -> Result<Execution<'_>, Error> {
        let lost = |e: russh::Error| Error::ConnectionLost {
            host: self.host.label.clone(),
            reason: self.failure(&e),
        };
        let marker = format!("{:016x}", rand::random::<u64>());
        let command = RemoteCommand {
            marker: Some(marker.clone()),
            ..command.clone()
        };
        let channel = self.open_command_session().await.map_err(lost)?;
        channel.exec(true, command.render()).await.map_err(lost)?;
        if let Some(own) = command.stdin() {
            channel.data_bytes(own).await.map_err(lost)?;
        }
        if !input.is_empty() {
            channel.data(input).await.map_err(lost)?;
        }
        channel.eof().await.map_err(lost)?;
        Ok(Execution {
            session: self,
            channel,
            marker,
            code: None,
            signal: None,
            finished: false,
        })
    }

    /// Run `command` to the end and collect its output.
    pub async fn run(&self, command: &RemoteCommand) -> Result<Output, Error> {
        let mut execution = self.start(command).await?;
        let mut output = Output {
            stdout: Vec::new(),
            stderr: Vec::new(),
            status: ExitStatus {
                code: None,
                signal: None,
            },
        };
        while let Some(chunk) = execution.next().await? {
            match chunk {
                Chunk::Stdout(data) => output.stdout.extend_from_slice(&data),
                Chunk::Stderr(data) => output.stderr.extend_from_slice(&data),
                Chunk::Exit(status) => output.status = status,
            }
        }
        Ok(output)
    }
}

impl<'a> Staged<'a> {
    /// Run `command` in the waiting shell.
    pub(crate) async fn run(self, command: &RemoteCommand) -> Result<Execution<'a>, Error> {
        let session = self.session;
        let lost = |e: russh::Error| Error::ConnectionLost {
            host: session.host.label.clone(),
            reason: session.failure(&e),
        };
        let marker = format!("{:016x}", rand::random::<u64>());
        let command = RemoteCommand {
            marker: Some(marker.clone()),
            ..command.clone()
        };
        self.channel
            .data_bytes(crate::stage::go(&command))
            .await
            .map_err(lost)?;
        self.channel.eof().await.map_err(lost)?;
        Ok(Execution {
            session,
            channel: self.channel,
            marker,
            code: None,
            signal: None,
            finished: false,
        })
    }

    /// Let the waiting shell go without running anything.
    pub(crate) async fn abandon(self) {
        // Best effort: its stdin ending is enough for it to exit.
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }
}

/// What a shell said on stderr, for a report.
fn said(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).trim().to_owned();
    if text.is_empty() {
        "it said nothing on stderr".to_owned()
    } else {
        text
    }
}

impl Execution<'_> {
    /// The `ROADIE_RUN` value the command's processes carry.
    pub(crate) fn marker(&self) -> &str {
        &self.marker
    }

    /// The next piece of output, then the exit status, then `None`.
    pub async fn next(&mut self) -> Result<Option<Chunk>, Error> {
        if self.finished {
            return Ok(None);
        }
        loop {
            let Some(message) = self.channel.wait().await else {
                self.finished = true;
                return self.exit().map(Some);
            };
            match message {
                ChannelMsg::Data { data } => return Ok(Some(Chunk::Stdout(data))),
                ChannelMsg::ExtendedData { data, ext: 1 } => return Ok(Some(Chunk::Stderr(data))),
                ChannelMsg::ExitStatus { exit_status } => self.code = Some(exit_status),
                ChannelMsg::ExitSignal {
                    signal_name: sig, ..
                } => self.signal = Some(signal_name(&sig)),
                ChannelMsg::Failure => {
                    self.finished = true;
                    return Err(Error::ConnectionLost {
                        host: self.session.host.label.clone(),
                        reason: "the server refused to run the command".into(),
                    });
                }
                _ => {}
            }
        }
    }

    /// The status once the channel has closed. An exit status may arrive
    /// after EOF, so only a closed channel without one is a failure.
    fn exit(&self) -> Result<Chunk, Error> {
        if self.code.is_none() && self.signal.is_none() {
            let reason = if self.session.handle.is_closed() {
                self.session.lost_reason()
            } else {
                "the server closed the channel without an exit status".to_owned()
            };
            return Err(Error::ConnectionLost {
                host: self.session.host.label.clone(),
                reason,
            });
        }
        Ok(Chunk::Exit(ExitStatus {
            code: self.code,
            signal: self.signal.clone(),
        }))
    }

    /// Ask the remote command to stop (SIGTERM) and close the channel.
    /// sshd refuses signal requests for a root login (whose session it runs
    /// in its privileged monitor): there roadie sends SIGTERM itself, over a
    /// second channel, to the processes carrying this run's `ROADIE_RUN`
    /// marker. (sudo passes sshd's signal on to its command.)
    pub async fn stop(self) {
        // Best effort: the command or the connection may already be gone.
        let _ = self.channel.signal(Sig::TERM).await;
        let _ = self.channel.close().await;
        if self.session.host.user != "root" {
            return;
        }
        let stop = RemoteCommand::shell(format!(
            "for f in $(grep -lxzF {} /proc/[0-9]*/environ 2>/dev/null); do\n\
             \tp=${{f#/proc/}}; kill -TERM \"${{p%/environ}}\" 2>/dev/null\n\
             done\ntrue",
            crate::command::quote(&format!("{}={}", crate::command::MARKER_VAR, self.marker))
        ));
        let _ =
            tokio::time::timeout(self.session.host.connect_timeout, self.session.run(&stop)).await;
    }
}
