//! `roadie persist status|stop [TARGET]`: the connections kept for reuse
//! (see [`crate::ssh::persist`]).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};

use super::{Global, output_result};
use crate::error::{Error, exit_code};
use crate::event::Event;
use crate::output::{json_line, json_text};
use crate::ssh::persist::{Place, Record, holder_id};

#[derive(Debug, Subcommand)]
pub enum PersistCommand {
    /// List the kept connections (of TARGET's hosts, or all).
    Status(Which),
    /// End the kept connections (of TARGET's hosts, or all).
    Stop(Which),
    /// The holder itself, started by roadie (reads its request on stdin).
    #[command(hide = true)]
    Hold,
}

#[derive(Debug, Args)]
pub struct Which {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: Option<String>,
}

pub(super) async fn persist(global: &Global, command: &PersistCommand) -> Result<i32, Error> {
    match command {
        PersistCommand::Hold => Ok(crate::ssh::persist::holder::run().await),
        PersistCommand::Status(which) => status(global, which),
        PersistCommand::Stop(which) => stop(global, which).await,
    }
}

/// The holders of `which`'s hosts (all when no target is given).
fn selected(global: &Global, which: &Which) -> Result<Vec<(Place, Option<Record>)>, Error> {
    let all = Place::all().map_err(|e| Error::Usage(format!("kept connections: {e}")))?;
    let Some(target) = &which.target else {
        return Ok(all);
    };
    let ids: BTreeSet<String> = global.hosts(target)?.iter().map(holder_id).collect();
    Ok(all
        .into_iter()
        .filter(|(place, _)| ids.contains(&place.id))
        .collect())
}

/// Whether a process runs as `pid`.
fn alive(pid: u32) -> bool {
    i32::try_from(pid)
        .is_ok_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok())
}

fn status(global: &Global, which: &Which) -> Result<i32, Error> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut lines = Vec::new();
    for (place, record) in selected(global, which)? {
        let Some(record) = record else { continue };
        let running = alive(record.pid) && place.socket().exists();
        let exits_in = match (running, record.idle_since) {
            (true, Some(since)) => Some(
                record
                    .keep
                    .saturating_sub(Duration::from_secs(now.saturating_sub(since))),
            ),
            _ => None,
        };
        if global.json {
            let event = Event::KeptConnection {
                host: record.label.clone(),
                address: record.address.clone(),
                environment: record.environment.clone(),
                pid: record.pid,
                running,
                clients: record.clients,
                keep_secs: record.keep.as_secs_f64(),
                exits_in_secs: exits_in.map(|d| d.as_secs_f64()),
                started: record.started.clone(),
                socket: place.socket(),
            };
            lines.push(json_text(&event));
        } else {
            let state = match (running, exits_in) {
                (false, _) => "gone (stale record)".to_owned(),
                (true, Some(left)) => format!(
                    "idle, exits in {}",
                    humantime::format_duration(Duration::from_secs(left.as_secs()))
                ),
                (true, None) => format!("in use by {}", record.clients),
            };
            lines.push(format!(
                "{}  {}  pid {}  since {}  {state}",
                record.label, record.address, record.pid, record.started
            ));
        }
    }
    if lines.is_empty() && !global.json {
        lines.push("no kept connections".to_owned());
    }
    let text = lines.iter().fold(String::new(), |mut text, line| {
        text.push_str(line);
        text.push('\n');
        text
    });
    output_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        text.as_bytes(),
    ))?;
    Ok(exit_code::SUCCESS)
}

async fn stop(global: &Global, which: &Which) -> Result<i32, Error> {
    for (place, record) in selected(global, which)? {
        let label = record
            .as_ref()
            .map_or_else(|| place.id.clone(), |r| r.label.clone());
        // Not while an invocation is starting a holder there.
        let _lock = crate::ssh::persist::lock(&place, Duration::from_secs(10))
            .await
            .map_err(|e| Error::Usage(format!("kept connection {label}: {e}")))?;
        let stopped = match &record {
            Some(record) => terminate(&place, record).await,
            None => false,
        };
        if !stopped {
            place.discard(record.as_ref().map(|r| r.pid));
        }
        let what = if stopped { "stopped" } else { "removed stale" };
        if global.json {
            let event = Event::KeptConnectionStopped {
                host: label.clone(),
                stopped,
            };
            output_result(json_line(&mut std::io::stdout().lock(), &event))?;
        } else {
            println!("{what}: {label}");
        }
    }
    Ok(exit_code::SUCCESS)
}

/// SIGTERM to the holder, if the process answering on its socket is the one
/// its record names; waits (briefly) for it to go. Whether it was running.
async fn terminate(place: &Place, record: &Record) -> bool {
    let Ok(stream) = tokio::net::UnixStream::connect(place.socket()).await else {
        return false;
    };
    let peer = stream.peer_cred().ok().and_then(|c| c.pid());
    drop(stream);
    let Some(pid) = peer.filter(|p| u32::try_from(*p).ok() == Some(record.pid)) else {
        return false;
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_err() {
        return false;
    }
    for _ in 0..50 {
        if !alive(record.pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}
