//! `roadie logs TARGET [--unit UNIT | --file PATH] [-f] [--since TIME] [--grep PATTERN]`

use std::time::Duration;

use clap::Args;
use tokio::sync::{mpsc, watch};

use super::{Global, output_result};
use crate::command::{RemoteCommand, quote, quote_path};
use crate::error::{Error, exit_code};
use crate::event::Event;
use crate::host::Host;
use crate::job::{self, Job};
use crate::output::{Mode, Renderer, spawn_printer};
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
    let site_logs = hosts
        .iter()
        .map(|host| crate::template::render_host(crate::template::SITE_LOG, host))
        .collect::<Result<Vec<_>, _>>()?;
    let renderer = Renderer::new(
        Mode::choose(global.json, hosts.len()),
        hosts.iter().map(|h| h.label.clone()).collect(),
    );
    let (events, printer) = spawn_printer(renderer);
    let (_stop, interrupt) = watch::channel(false);
    let tasks: Vec<_> = hosts
        .into_iter()
        .zip(site_logs)
        .map(|(host, site_log)| {
            let (events, interrupt) = (events.clone(), interrupt.clone());
            let (first, resume) = (
                args.command(&site_log, false),
                args.command(&site_log, true),
            );
            let follow = args.follow;
            tokio::spawn(
                async move { show(&host, &first, &resume, follow, &events, interrupt).await },
            )
        })
        .collect();
    drop(events);
    let several = tasks.len() > 1;
    let mut code = exit_code::SUCCESS;
    let all = async {
        for task in tasks {
            match task.await {
                Ok(Err(e)) => {
                    stderr_line!("roadie: error: {}", crate::error::report(&e));
                    code = exit_code::FAILED;
                }
                // The log command failed there (its error is in its stderr):
                // one host's own code is passed through.
                Ok(Ok(failed)) if failed != 0 => {
                    code = if several { exit_code::FAILED } else { failed };
                }
                _ => {}
            }
        }
    };
    tokio::select! {
        () = all => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    match printer.await {
        Ok(result) => output_result(result.map(drop))?,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
    Ok(code)
}

/// Show one host's log; with `follow`, reconnect (with backoff) when the
/// connection drops and carry on with new lines. Returns the log command's
/// exit code.
async fn show(
    host: &Host,
    first: &str,
    resume: &str,
    follow: bool,
    events: &mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
) -> Result<i32, Error> {
    let mut command = first;
    let mut delay = Duration::from_millis(250);
    loop {
        let outcome = async {
            let session = Session::connect_for(host, &Intent::read()).await?;
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
            Ok(finished) => return Ok(finished.status.as_exit_code()),
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
