//! `roadie debug TARGET --stacks [--pid PID | --match PATTERN] [--locals]`:
//! every test process's stacks on every host, prefixed by host and pid;
//! `--json` gives one `stacks` event per process (`stacks_unavailable` for
//! one that could not be read).

use std::fmt::Write as _;
use std::io::Write as _;

use clap::Args;

use super::{Global, host_failed, output_result};
use crate::error::Error;
use crate::event::Event;
use crate::host::Host;
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::output::json_line;
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::Intent;
use crate::stacks::{Read, Selection, TestProcess};

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
    /// With --stacks: the Python processes whose command line matches PATTERN
    /// (a regular expression) instead of pytest's.
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
    /// List every test process on the hosts (pytest-xdist workers included)
    /// with the test it is in and for how long, longest first; then exit.
    #[arg(long, conflicts_with = "stacks")]
    pub running: bool,
    /// With --running: flag tests that have run longer than TIME.
    #[arg(long, requires = "running", value_name = "TIME", value_parser = crate::duration::parse)]
    pub slow: Option<std::time::Duration>,
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
                json_line(&mut out, &event(label, process))
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

fn event(host: &str, read: &Read) -> Event {
    let host = host.to_owned();
    match read.clone() {
        Read::Stacks(stacks) => Event::Stacks { host, stacks },
        Read::Unreadable {
            pid,
            command,
            reason,
        } => Event::StacksUnavailable {
            host,
            pid,
            command,
            reason,
        },
    }
}

/// `--running`: every host's test processes, longest in its test first.
pub(super) async fn show_running(
    global: &Global,
    hosts: &[Host],
    args: &StackArgs,
) -> Result<i32, Error> {
    let results = each_host(
        hosts,
        &Intent::read(),
        usize::from(DEFAULT_PARALLEL),
        |session| async move {
            let rows = crate::stacks::running(&session).await;
            session.close().await;
            rows
        },
    )
    .await;
    let mut out = std::io::stdout().lock();
    let mut outcomes = Vec::with_capacity(hosts.len());
    let mut rows = Vec::new();
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(found) => {
                if found.is_empty() && !global.json {
                    stderr_line!(
                        "roadie: {}: no test processes (pytest) are running",
                        host.label
                    );
                }
                rows.extend(found.into_iter().map(|row| (host.label.as_str(), row)));
                outcomes.push(HostOutcome::Done {
                    note: "ok",
                    ok: true,
                });
            }
            Err(error) => {
                host_failed(&mut out, host, &error, global.json)?;
                outcomes.push(HostOutcome::Failed(error));
            }
        }
    }
    let key = |r: &TestProcess| (r.in_test_for.unwrap_or(-1.0), r.running_for.unwrap_or(-1.0));
    rows.sort_by(|(_, a), (_, b)| {
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for (host, row) in &rows {
        let slow = match (args.slow, row.in_test_for) {
            (Some(limit), Some(secs)) => secs > limit.as_secs_f64(),
            _ => false,
        };
        let written = if global.json {
            let event = Event::TestRunning {
                host: (*host).to_owned(),
                running: row.clone(),
                slow,
            };
            json_line(&mut out, &event)
        } else {
            writeln!(out, "{}", running_line(host, row, slow))
        };
        output_result(written)?;
    }
    output_result(out.flush())?;
    Ok(overall_exit_code(&outcomes))
}

/// `[host] pid worker test, for how long`, flagged when slow.
fn running_line(host: &str, row: &TestProcess, slow: bool) -> String {
    let worker = row.worker.as_deref().unwrap_or("-");
    let test = row.test.as_deref().unwrap_or("(no test known)");
    let how_long = match (row.in_test_for, row.running_for) {
        (Some(secs), _) => format!("in it for {secs:.0}s"),
        (None, Some(secs)) => format!("running for {secs:.0}s (when the test began is not noted)"),
        (None, None) => String::new(),
    };
    let mut line = format!("[{host}] {} {worker} {test} {how_long}", row.pid);
    if let Some(reason) = &row.reason {
        let _ = write!(line, " ({reason})");
    }
    if slow {
        let _ = write!(line, " {}", console::style("SLOW").red().bold());
    }
    line
}
