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
    /// new lines. With `--grep`, `-n` counts matching lines: the last N
    /// matches are shown (then, with `-f`, every new match). `site_log`:
    /// a deployed site's log (see [`LogsArgs::source`]).
    fn command(&self, site_log: &str, resume: bool) -> String {
        let mut command = match &self.grep {
            None if resume => self.source(site_log, Some(0), self.follow, false),
            None => self.source(site_log, Some(self.lines), self.follow, true),
            Some(pattern) => {
                let pattern = quote(pattern);
                let last = format!(
                    "{{ {}; }} | grep -E -- {pattern} | tail -n {}",
                    self.source(site_log, None, false, true),
                    self.lines
                );
                let new = format!(
                    "{{ {}; }} | grep --line-buffered -E -- {pattern}",
                    self.source(site_log, Some(0), true, false)
                );
                // grep finding nothing is no failure.
                let search = match (self.follow, resume) {
                    (false, _) => last,
                    (true, false) => format!("{last}; {new}"),
                    (true, true) => new,
                };
                format!("{search}; s=$?; [ \"$s\" -ne 1 ] || s=0; exit \"$s\"")
            }
        };
        if let Some(file) = &self.file {
            // A missing file is an error (tail -F would wait for it).
            let file = quote_path(file);
            command = format!(
                "[ -r {file} ] || {{ echo \"cannot read $(printf %s {file}): no such file or no \
                 permission\" >&2; exit 66; }}; {command}"
            );
        }
        command
    }

    /// What shows the log: its last `lines` lines (all with `None`; those
    /// since `--since` if `since`), and with `follow` new ones as they come.
    /// Without `--unit`, `--file` or `--since`, a deployed site's log
    /// (`site_log`, when the server has it) comes before the journal.
    fn source(&self, site_log: &str, lines: Option<u32>, follow: bool, since: bool) -> String {
        let count = lines.map_or_else(|| "+1".to_owned(), |n| n.to_string());
        let tail = |file: &str| {
            format!(
                "tail -n {count}{} -- {file}",
                if follow { " -F" } else { "" }
            )
        };
        if let Some(file) = &self.file {
            return tail(&quote_path(file));
        }
        let unit = self
            .unit
            .as_deref()
            .map(|u| format!(" -u {}", quote(u)))
            .unwrap_or_default();
        let since = match self.since.as_ref().filter(|_| since) {
            None => String::new(),
            Some(since) => {
                let since = super::parse_duration(since)
                    .map_or_else(|_| since.clone(), |d| format!("-{}s", d.as_secs()));
                format!(" --since {}", quote(&since))
            }
        };
        let journal = format!(
            "journalctl --no-pager -o short-iso{}{unit}{since}{}",
            lines.map(|n| format!(" -n {n}")).unwrap_or_default(),
            if follow { " -f" } else { "" }
        );
        // Without systemd's journal, the system log file.
        let system = format!(
            "if command -v journalctl >/dev/null 2>&1; then {journal}; else {}; fi",
            tail("/var/log/syslog")
        );
        if self.unit.is_some() || self.since.is_some() {
            return system;
        }
        let site_log = quote_path(site_log);
        format!(
            "if [ -f {site_log} ]; then {}; else {system}; fi",
            tail(&site_log)
        )
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
