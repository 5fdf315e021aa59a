//! `roadie debug --publish TARGET -- COMMAND...`: run the tests here (a CI
//! runner nobody can reach) with post-mortem debugging wired to roadie's
//! shim, and publish each session that waits to TARGET, where
//! `roadie debug TARGET` finds it.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use tokio::signal::unix::{SignalKind, signal};

use super::Global;
use super::debug::{DebugArgs, ended_how};
use crate::debug::SHIM;
use crate::debug_publish::{Note, Publisher, Record, read_notes};
use crate::error::{Error, exit_code};
use crate::event::{Event, PublishEvent};
use crate::safety::{Intent, SafetyClass};

/// The variable that turns publishing off (`0`): the command runs as is.
const SWITCH: &str = "ROADIE_DEBUG_PUBLISH";
/// How often the shim's notes are read (a directory listing, here).
const NOTES_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// How events are shown: JSON lines, or for people, who are told the
/// TARGET to give `roadie debug`.
#[derive(Clone, Copy)]
struct Shown<'a> {
    json: bool,
    target: &'a str,
}

impl PublishEvent {
    fn describe(&self, target: &str) -> String {
        match self {
            PublishEvent::DebugPublished { host, record } => format!(
                "{} waits in remote-pdb (pid {}); published to {host}: `roadie debug {target} --attach` reaches it",
                what(record),
                record.pid
            ),
            PublishEvent::DebugUnpublished { host, record, how } => format!(
                "the session of {} ended{}; taken off {host}",
                what(record),
                ended_how(how.as_deref())
            ),
        }
    }

    fn announce(self, shown: Shown<'_>) {
        if shown.json {
            let _ = crate::output::json_stdout(&Event::Publish(self));
        } else {
            stderr_line!("roadie: {}", self.describe(shown.target));
        }
    }
}

/// `test X on worker gw1`, or what can be said.
fn what(record: &Record) -> String {
    let test = record.test.as_deref().unwrap_or("a test");
    match &record.worker {
        Some(worker) => format!("{test} on worker {worker}"),
        None => test.to_owned(),
    }
}

pub(super) async fn publish(global: &Global, target: &str, args: &DebugArgs) -> Result<i32, Error> {
    if args.command.is_empty() {
        return Err(Error::Usage(
            "--publish runs the tests: roadie debug --publish TARGET -- pytest ...".into(),
        ));
    }
    let mut hosts = global.hosts(target)?;
    if hosts.len() > 1 {
        return Err(Error::Usage(format!(
            "sessions are published to one host, and '{target}' has {}; name it as ENV/HOST",
            hosts.len()
        )));
    }
    let host = hosts.remove(0);
    // Reaching into the tests' processes from the rendezvous host: a
    // change, as any tunnel. A protected host is refused before the tests
    // run, so nothing is ever forwarded to it.
    let intent = Intent {
        class: SafetyClass::Change,
        confirm: global.confirm.clone(),
    };
    crate::guard::before_connect(&host, &intent).map_err(Error::Refused)?;
    if std::env::var(SWITCH).is_ok_and(|v| v == "0") {
        let status = command(&args.command)
            .status()
            .await
            .map_err(|e| started_error(&args.command, e))?;
        return Ok(code_of(status));
    }
    let dir = private_dir()?;
    let shown = Shown {
        json: global.json,
        target,
    };
    let result = Box::pin(run_published(
        args,
        Publisher::new(host, intent),
        &dir,
        shown,
    ))
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Run the tests wired to the shim (in `dir`, where its notes go too), and
/// publish what waits until they end; their exit code.
async fn run_published(
    args: &DebugArgs,
    mut publisher: Publisher,
    dir: &Path,
    shown: Shown<'_>,
) -> Result<i32, Error> {
    std::fs::write(dir.join("roadie_pdb.py"), SHIM)
        .map_err(|e| Error::io(format!("cannot write {}", dir.display()), e))?;
    let mut tests = command(&args.command);
    // The shim as a plugin: failing tests wait in it, under pytest-xdist
    // too (which refuses --pdb). The roadie plugin's `--roadie-pdb` wires
    // the same shim itself.
    if !args.command.iter().any(|w| w == "--roadie-pdb") {
        tests.args(["-p", "roadie_pdb"]);
    }
    let path = match std::env::var_os("PYTHONPATH") {
        Some(old) if !old.is_empty() => {
            let mut path = dir.as_os_str().to_owned();
            path.push(":");
            path.push(old);
            path
        }
        _ => dir.as_os_str().to_owned(),
    };
    tests
        .env("PYTHONPATH", path)
        .env("REMOTE_PDB_HOST", "127.0.0.1")
        .env("REMOTE_PDB_PORT", "0")
        .env("ROADIE_PDB_TIMEOUT", args.wait.as_secs().to_string())
        .env("ROADIE_PDB_NOTES", dir);
    if shown.json {
        // stdout is the events', one per line: the tests' output (pytest's
        // progress characters end no line) goes to stderr.
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("cannot pass stderr on", e))?;
        tests.stdout(stderr);
    }
    let mut child = tests.spawn().map_err(|e| started_error(&args.command, e))?;
    let mut ticker = tokio::time::interval(NOTES_POLL);
    // Stopped (Ctrl-C, a cancelled CI job): the tests are told, and what
    // was published is taken off once they have stopped.
    let (mut interrupt, mut terminate) = (
        signal(SignalKind::interrupt()).map_err(|e| Error::io("cannot watch for signals", e))?,
        signal(SignalKind::terminate()).map_err(|e| Error::io("cannot watch for signals", e))?,
    );
    let pid = child.id().and_then(|id| i32::try_from(id).ok());
    let pass_on = |signal| {
        if let Some(pid) = pid {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    };
    // Once publishing fails (refused, unreachable), the tests carry on alone.
    let mut failed = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = interrupt.recv() => pass_on(nix::sys::signal::Signal::SIGINT),
            _ = terminate.recv() => pass_on(nix::sys::signal::Signal::SIGTERM),
            _ = ticker.tick(), if !failed => {
                if let Err(e) = sync(&mut publisher, &read_notes(dir), shown).await {
                    stderr_line!(
                        "roadie: error: cannot publish to {}: {}; the tests carry on without it",
                        publisher.label(),
                        crate::error::report(&e)
                    );
                    failed = true;
                }
            }
        }
    };
    let status = status.map_err(|e| Error::io("cannot wait for the tests", e))?;
    // What was still published (the tests were killed): taken off.
    for key in publisher.keys() {
        unpublish(&mut publisher, key, None, shown).await;
    }
    publisher.close().await;
    Ok(code_of(status))
}

/// Bring the rendezvous host to what the shim's `notes` say.
async fn sync(publisher: &mut Publisher, notes: &[Note], shown: Shown<'_>) -> Result<(), Error> {
    // Published again below, through a new connection, if still waiting.
    if publisher.lost() {
        stderr_line!(
            "roadie: the connection to {} was lost; publishing again what waits",
            publisher.label()
        );
    }
    for key in publisher.keys() {
        if !notes.iter().any(|n| n.key() == key) {
            unpublish(publisher, key, None, shown).await;
        }
    }
    for note in notes {
        if note.over() {
            unpublish(publisher, note.key(), note.ended.as_deref(), shown).await;
        } else if publisher.has(note.key()) {
            publisher
                .set_attached(note.key(), note.state == "attached")
                .await;
        } else if note.state == "waiting" {
            let record = publisher.publish(note).await?;
            PublishEvent::DebugPublished {
                host: publisher.label().to_owned(),
                record,
            }
            .announce(shown);
        }
    }
    Ok(())
}

async fn unpublish(
    publisher: &mut Publisher,
    key: (u32, u16),
    how: Option<&str>,
    shown: Shown<'_>,
) {
    if let Some(record) = publisher.unpublish(key).await {
        PublishEvent::DebugUnpublished {
            host: publisher.label().to_owned(),
            record,
            how: how.map(str::to_owned),
        }
        .announce(shown);
    }
}

/// The test command, its output passed through.
fn command(words: &[String]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&words[0]);
    command.args(&words[1..]).kill_on_drop(true);
    command
}

fn started_error(words: &[String], e: std::io::Error) -> Error {
    Error::io(format!("cannot run {}", words[0]), e)
}

/// The command's exit code; killed by a signal, 128 + the signal.
fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(exit_code::FAILED)
}

/// A new directory only this user can read, for the shim and its notes.
fn private_dir() -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let tag: u32 = rand::random();
    let dir = std::env::temp_dir().join(format!("roadie-publish-{}-{tag:08x}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    Ok(dir)
}
