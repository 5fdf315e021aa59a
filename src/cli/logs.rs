//! `roadie logs TARGET [--unit UNIT | --file PATH] [-f] [--since TIME] [--grep PATTERN]`

use std::time::Duration;

use clap::Args;
use tokio::sync::{mpsc, watch};

use super::{Global, output_result};
use crate::command::{RemoteCommand, quote, quote_path};
use crate::error::{Error, exit_code};
use crate::guard::Intent;
use crate::job::{self, Job};
use crate::output::{Event, Mode, Renderer, spawn_printer};
use crate::resolve::Host;
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
    /// new lines. Without `--unit`, `--file` or `--since`, a deployed
    /// site's log (`site_log`, when the server has it) comes first.
    fn command(&self, site_log: &str, resume: bool) -> String {
        let lines = if resume { 0 } else { self.lines };
        let follow = if self.follow { " -f" } else { "" };
        let mut command = match (&self.file, &self.unit) {
            (Some(file), _) => {
                let follow = if self.follow { " -F" } else { "" };
                format!("tail -n {lines}{follow} -- {}", quote_path(file))
            }
            (None, unit) => {
                let unit = unit
                    .as_deref()
                    .map(|u| format!(" -u {}", quote(u)))
                    .unwrap_or_default();
                let since = match (&self.since, resume) {
                    (Some(since), false) => {
                        let since = super::parse_duration(since)
                            .map_or_else(|_| since.clone(), |d| format!("-{}s", d.as_secs()));
                        format!(" --since {}", quote(&since))
                    }
                    _ => String::new(),
                };
                let journal =
                    format!("journalctl --no-pager -o short-iso -n {lines}{unit}{since}{follow}");
                // Without systemd's journal, the system log file.
                format!(
                    "if command -v journalctl >/dev/null 2>&1; then {journal}; \
                     else tail -n {lines}{} -- /var/log/syslog; fi",
                    if self.follow { " -F" } else { "" }
                )
            }
        };
        if self.file.is_none() && self.unit.is_none() && self.since.is_none() {
            let log = quote_path(site_log);
            let follow = if self.follow { " -F" } else { "" };
            command = format!(
                "if [ -f {log} ]; then tail -n {lines}{follow} -- {log}; else {command}; fi"
            );
        }
        if let Some(pattern) = &self.grep {
            command = format!(
                "{{ {command}; }} | grep --line-buffered -E -- {}",
                quote(pattern)
            );
        }
        command
    }
}

pub async fn logs(global: &Global, args: &LogsArgs) -> Result<i32, Error> {
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
    let mut code = exit_code::SUCCESS;
    let all = async {
        for task in tasks {
            if let Ok(Err(e)) = task.await {
                eprintln!("roadie: error: {}", crate::error::report(&e));
                code = exit_code::FAILED;
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
/// connection drops and carry on with new lines.
async fn show(
    host: &Host,
    first: &str,
    resume: &str,
    follow: bool,
    events: &mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut command = first;
    let mut delay = Duration::from_millis(250);
    loop {
        let outcome = async {
            let session = Session::connect_for(host, &Intent::read()).await?;
            let job = Job::Command(RemoteCommand::shell(command));
            let plan = job.plan(&session).await?;
            let mut context = job::Context {
                events,
                deadline: None,
                timeout: None,
                interrupt: interrupt.clone(),
            };
            job::execute(&session, plan, &mut context).await
        }
        .await;
        match outcome {
            Ok(_) => return Ok(()),
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
