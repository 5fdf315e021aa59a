//! `roadie logs TARGET [--unit UNIT | --file PATH] [-f] [--since TIME] [--grep PATTERN]`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::{mpsc, watch};

use super::{Global, output_result};
use crate::command::{RemoteCommand, quote, quote_path};
use crate::error::{Error, exit_code};
use crate::event::Event;
use crate::job::{self, Finished, Job};
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::output::{Mode, Renderer, spawn_printer};
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::Intent;
use crate::ssh::Session;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// A systemd unit's journal (journalctl -u UNIT).
    #[arg(long, conflicts_with = "file")]
    pub unit: Option<String>,
    /// A log file (tail).
    #[arg(long, value_name = "PATH")]
    pub file: Option<String>,
    /// Keep following new lines, across reconnects.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only entries since then (journal): a duration back (10m, 2h) or a
    /// time journalctl understands ("2026-11-20 10:00").
    #[arg(long, value_name = "TIME", conflicts_with = "file")]
    pub since: Option<String>,
    /// Only lines matching this extended regular expression (grep -E).
    #[arg(long, value_name = "PATTERN")]
    pub grep: Option<String>,
    /// How many lines to show first.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub lines: u32,
    /// Hosts read from at once (with -f, every host is followed).
    #[arg(long, default_value_t = DEFAULT_PARALLEL)]
    pub parallel: u16,
}

impl LogsArgs {
    /// The command on the server; `resume` after a reconnect shows only
    /// new lines. With `--grep`, `-n` counts matching lines: the last N
    /// matches are shown (then, with `-f`, every new match, none lost in
    /// between). `site_log`: a deployed site's log, shown by default when
    /// the server has it (without `--unit`, `--file` or `--since`).
    fn command(&self, site_log: &str, resume: bool) -> String {
        let system = format!(
            "if command -v journalctl >/dev/null 2>&1; then {}; else {}; fi",
            self.journal(resume),
            self.file("/var/log/syslog", resume)
        );
        let command = if let Some(file) = &self.file {
            // A missing file is an error (tail -F would wait for it).
            let file = quote_path(file);
            format!(
                "[ -r {file} ] || {{ echo \"cannot read $(printf %s {file}): no such file or no \
                 permission\" >&2; exit 66; }}; {}",
                self.file(&file, resume)
            )
        } else if self.unit.is_some() || self.since.is_some() {
            system
        } else {
            let site_log = quote_path(site_log);
            format!(
                "if [ -f {site_log} ]; then {}; else {system}; fi",
                self.file(&site_log, resume)
            )
        };
        if self.grep.is_some() {
            // grep finding nothing is no failure.
            format!("{command}; s=$?; [ \"$s\" -ne 1 ] || s=0; exit \"$s\"")
        } else {
            command
        }
    }

    /// Show the log file `file` (a shell word).
    fn file(&self, file: &str, resume: bool) -> String {
        let lines = self.lines;
        let Some(pattern) = &self.grep else {
            let count = if resume { 0 } else { lines };
            let follow = if self.follow { " -F" } else { "" };
            return format!("tail -n {count}{follow} -- {file}");
        };
        let pattern = quote(pattern);
        let new = format!("grep --line-buffered -E -- {pattern}");
        match (self.follow, resume) {
            (false, _) => format!("grep -E -- {pattern} {file} | tail -n {lines}"),
            (true, true) => format!("tail -n 0 -F -- {file} | {new}"),
            // The matches so far up to the size it has now, then whatever
            // comes after that byte.
            (true, false) => format!(
                "size=$(wc -c < {file}); {{ head -c \"$size\" -- {file} | grep -E -- {pattern} | \
                 tail -n {lines}; tail -c +\"$((size + 1))\" -F -- {file} | {new}; }}"
            ),
        }
    }

    /// Show the journal (its own `--grep` keeps matches and new ones
    /// together).
    fn journal(&self, resume: bool) -> String {
        let unit = self
            .unit
            .as_deref()
            .map(|u| format!(" -u {}", quote(u)))
            .unwrap_or_default();
        let since = match self.since.as_ref().filter(|_| !resume) {
            None => String::new(),
            Some(since) => {
                let since = crate::duration::parse(since)
                    .map_or_else(|_| since.clone(), |d| format!("-{}s", d.as_secs()));
                format!(" --since {}", quote(&since))
            }
        };
        let grep = self
            .grep
            .as_deref()
            .map(|p| format!(" --grep {}", quote(p)))
            .unwrap_or_default();
        format!(
            "journalctl --no-pager -o short-iso -n {}{unit}{since}{grep}{}",
            if resume { 0 } else { self.lines },
            if self.follow { " -f" } else { "" }
        )
    }
}

pub(super) async fn logs(global: &Global, args: &LogsArgs) -> Result<i32, Error> {
    let hosts = global.hosts(&args.target)?;
    // Each host's log command, first and after a reconnect, by host.
    let mut commands = HashMap::new();
    for host in &hosts {
        let site_log = crate::template::render_host(crate::template::SITE_LOG, host)?;
        let first = args.command(&site_log, false);
        let resume = args.command(&site_log, true);
        commands.insert(host.label.clone(), (first, resume));
    }
    let commands = Arc::new(commands);
    let renderer = Renderer::new(
        Mode::choose(global.json, hosts.len()),
        hosts.iter().map(|h| h.label.clone()).collect(),
    );
    let (events, printer) = spawn_printer(renderer);
    let (_stop, interrupt) = watch::channel(false);
    let (follow, read) = (args.follow, Intent::read());
    // Following never ends on a host, so it holds its place: every host
    // is followed at once.
    let parallel = if follow {
        hosts.len().max(1)
    } else {
        usize::from(args.parallel)
    };
    let shown = each_host(&hosts, &read, parallel, {
        let events = events.clone();
        move |session| {
            let (events, interrupt, commands) =
                (events.clone(), interrupt.clone(), commands.clone());
            async move {
                let (first, resume) = &commands[&session.host().label];
                Box::pin(show(session, first, resume, follow, &events, interrupt)).await
            }
        }
    });
    drop(events);
    let outcomes = tokio::select! {
        results = shown => Some(results),
        _ = tokio::signal::ctrl_c() => None,
    };
    match printer.await {
        Ok(result) => output_result(result.map(drop))?,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
    let Some(results) = outcomes else {
        return Ok(exit_code::SUCCESS);
    };
    let outcomes: Vec<HostOutcome> = results
        .into_iter()
        .map(|result| match result {
            // The log command failed there: its error is in its stderr.
            Ok(finished) => HostOutcome::Ran(finished),
            Err(error) => {
                stderr_line!("roadie: error: {}", crate::error::report(&error));
                HostOutcome::Failed(error)
            }
        })
        .collect();
    Ok(overall_exit_code(&outcomes))
}

/// Show one host's log on `session`; with `follow`, reconnect (with
/// backoff) when the connection drops and carry on with new lines. Returns
/// how the log command ended.
async fn show(
    session: Session,
    first: &str,
    resume: &str,
    follow: bool,
    events: &mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
) -> Result<Finished, Error> {
    let host = session.host().clone();
    let mut session = Some(session);
    let mut command = first;
    let mut delay = Duration::from_millis(250);
    loop {
        let connected = session.take();
        let outcome = async {
            let session = match connected {
                Some(session) => session,
                None => Session::connect_for(&host, &Intent::read()).await?,
            };
            let job = Job::Command(RemoteCommand::shell(command));
            let prepared = job::prepare(&session, &job, &Intent::read()).await?;
            let mut context = job::Context {
                events,
                deadline: None,
                timeout: None,
                interrupt: interrupt.clone(),
                stacks_after: None,
            };
            job::execute(&session, prepared, &mut context).await
        }
        .await;
        match outcome {
            Ok(finished) => return Ok(finished),
            Err(e @ (Error::ConnectionLost { .. } | Error::Connect { .. })) if follow => {
                let _ = events
                    .send(Event::Warning {
                        host: host.label.clone(),
                        message: format!(
                            "{}; reconnecting (lines logged meanwhile may be missing)",
                            crate::error::report(&e).lines().next().unwrap_or_default()
                        ),
                    })
                    .await;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                command = resume;
            }
            Err(e) => return Err(e),
        }
    }
}
