//! `roadie debug TARGET --stacks [--pid PID | --match PATTERN] [--locals]`:
//! every test process's stacks on every host, prefixed by host and pid;
//! `--json` gives one `stacks` event per process (`stacks_unavailable` for
//! one that could not be read).

use std::io::Write as _;

use clap::Args;
use serde::Serialize;

use super::{Global, host_failed, output_result};
use crate::error::Error;
use crate::host::Host;
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::Intent;
use crate::stacks::{Read, Selection, Stacks};

/// `roadie debug`'s options for stacks.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// Show the current stack of every thread of each test process (pytest
    /// and its xdist workers) on the hosts, for a test that hangs (needs
    /// py-spy on the host); then exit.
    #[arg(long)]
    pub stacks: bool,
    /// With --stacks: only this process.
    #[arg(
        long,
        requires = "stacks",
        conflicts_with = "matching",
        value_name = "PID"
    )]
    pub pid: Option<u32>,
    /// With --stacks: the processes whose command line matches PATTERN (a
    /// regular expression) instead of pytest's.
    #[arg(
        long = "match",
        id = "matching",
        requires = "stacks",
        value_name = "PATTERN"
    )]
    pub matching: Option<String>,
    /// With --stacks: each frame's local variables too.
    #[arg(long, requires = "stacks")]
    pub locals: bool,
}

impl StackArgs {
    fn selection(&self) -> Selection {
        match (self.pid, &self.matching) {
            (Some(pid), _) => Selection::Pid(pid),
            (None, Some(pattern)) => Selection::Matching(pattern.clone()),
            (None, None) => Selection::Tests,
        }
    }
}

/// One process's stacks, or why they are not there, as a JSON line.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum StackEvent<'a> {
    Stacks {
        host: &'a str,
        #[serde(flatten)]
        stacks: &'a Stacks,
    },
    StacksUnavailable {
        host: &'a str,
        pid: u32,
        command: &'a str,
        reason: &'a str,
    },
}

pub(super) async fn show(global: &Global, hosts: &[Host], args: &StackArgs) -> Result<i32, Error> {
    let (selection, locals) = (args.selection(), args.locals);
    let results = each_host(
        hosts,
        &Intent::read(),
        usize::from(DEFAULT_PARALLEL),
        move |session| {
            let selection = selection.clone();
            async move {
                let read = crate::stacks::read(&session, &selection, locals).await;
                session.close().await;
                read
            }
        },
    )
    .await;
    let mut out = std::io::stdout().lock();
    let mut outcomes = Vec::with_capacity(hosts.len());
    for (host, result) in hosts.iter().zip(results) {
        let read = match result {
            Ok(read) => read,
            Err(error) => {
                host_failed(&mut out, host, &error, global.json)?;
                outcomes.push(HostOutcome::Failed(error));
                continue;
            }
        };
        if read.is_empty() && !global.json {
            stderr_line!(
                "roadie: {}: no test processes (pytest) are running",
                host.label
            );
        }
        let shown = read.iter().any(|r| matches!(r, Read::Stacks(_)));
        for process in &read {
            let label = host.label.as_str();
            let written = if global.json {
                serde_json::to_writer(&mut out, &event(label, process))
                    .map_err(std::io::Error::other)
                    .and_then(|()| out.write_all(b"\n"))
            } else {
                write!(out, "{}", crate::stacks::render(label, process))
            };
            output_result(written)?;
        }
        outcomes.push(HostOutcome::Done {
            note: "ok",
            ok: read.is_empty() || shown,
        });
    }
    output_result(out.flush())?;
    Ok(overall_exit_code(&outcomes))
}

fn event<'a>(host: &'a str, read: &'a Read) -> StackEvent<'a> {
    match read {
        Read::Stacks(stacks) => StackEvent::Stacks { host, stacks },
        Read::Unreadable {
            pid,
            command,
            reason,
        } => StackEvent::StacksUnavailable {
            host,
            pid: *pid,
            command,
            reason,
        },
    }
}
