//! `roadie diagnose TARGET [--since TIME] [--pid PID | --name PATTERN]`:
//! why did something die on the hosts? OOM kills, memory, cgroup limits,
//! containers killed by OOM, disk space; grouped per host.

use std::fmt::Write as _;
use std::io::Write;

use clap::Args;
use console::style;

use super::{Global, host_failed, output_result};
use crate::diagnose::{
    CgroupMemory, Cgroups, Containers, Disk, Item, KernelLog, Memory, OomKill, Process, Report,
    Request, Scope, Since, TopProcesses,
};
use crate::error::Error;
use crate::event::Event;
use crate::host::Host;
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::output::json_line;
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::Intent;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// OOM kills since then: a duration back (1h, 30m) or a time
    /// ("2026-11-20 10:00", server's time zone unless one is given).
    /// Default: since the server booted.
    #[arg(long, value_name = "TIME", value_parser = Since::parse)]
    pub since: Option<Since>,
    /// Show the cgroup memory limits that apply to this process.
    #[arg(long, conflicts_with = "name")]
    pub pid: Option<u32>,
    /// Show the cgroup memory limits of processes whose name matches this
    /// extended regular expression (as pgrep matches names).
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,
}

pub(super) async fn diagnose(global: &Global, args: &DiagnoseArgs) -> Result<i32, Error> {
    let hosts = global.hosts(&args.target)?;
    let process = match (&args.pid, &args.name) {
        (Some(pid), _) => Some(Process::Pid(*pid)),
        (None, Some(name)) => Some(Process::Name(name.clone())),
        (None, None) => None,
    };
    let since = args.since.clone();
    let results = each_host(
        &hosts,
        &Intent::read(),
        usize::from(DEFAULT_PARALLEL),
        move |session| {
            let request = Request {
                since: since.clone(),
                process: process.clone(),
                site: Some(
                    crate::template::render_host("{{ site }}", session.host())
                        .map_err(|e| format!("the site directory is not known: {e}")),
                ),
            };
            async move {
                let report = crate::diagnose::diagnose(&session, &request).await;
                session.close().await;
                report
            }
        },
    )
    .await;
    report(&hosts, results, global.json)
}

fn report(hosts: &[Host], results: Vec<Result<Report, Error>>, json: bool) -> Result<i32, Error> {
    let mut outcomes = Vec::with_capacity(hosts.len());
    let mut out = std::io::stdout().lock();
    let mut first = true;
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(report) => {
                let written = if json {
                    json_line(&mut out, &diagnose_event(&host.label, &report))
                } else {
                    writeln!(out, "{}", render(&host.label, &report, first))
                };
                output_result(written)?;
                first = false;
                outcomes.push(HostOutcome::Done {
                    note: "ok",
                    ok: true,
                });
            }
            Err(error) => {
                host_failed(&mut out, host, &error, json)?;
                outcomes.push(HostOutcome::Failed(error));
            }
        }
    }
    output_result(out.flush())?;
    Ok(overall_exit_code(&outcomes))
}

/// One host's report as its JSON event.
fn diagnose_event(host: &str, report: &Report) -> Event {
    let serde_json::Value::Object(report) =
        serde_json::to_value(report).expect("a report always serialises")
    else {
        unreachable!("a report serialises as an object")
    };
    Event::Diagnose {
        host: host.to_owned(),
        report,
    }
}

/// `kb` KiB in words: `512 KiB`, `64.0 MiB`, `7.8 GiB`.
fn size_kb(kb: u64) -> String {
    size(kb.saturating_mul(1024))
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut whole = bytes;
    while whole >= 1024 && unit + 1 < UNITS.len() {
        whole /= 1024;
        unit += 1;
    }
    if unit < 2 {
        return format!("{whole} {}", UNITS[unit]);
    }
    // One decimal, from integers: bytes / 1024^unit to tenths.
    let scale = 1u64 << (10 * unit);
    let tenths = (u128::from(bytes) * 10 + u128::from(scale) / 2) / u128::from(scale);
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

fn unavailable(reason: &str) -> String {
    style(format!("unavailable: {reason}")).yellow().to_string()
}

/// The human report for one host.
fn render(host: &str, report: &Report, first: bool) -> String {
    let mut text = String::new();
    if !first {
        text.push('\n');
    }
    let mut about = Vec::new();
    if let Some(kernel) = &report.kernel {
        about.push(format!("kernel {kernel}"));
    }
    if let Some(uptime) = report.uptime_s {
        about.push(format!(
            "up {}",
            humantime::format_duration(std::time::Duration::from_secs(uptime / 60 * 60))
        ));
    }
    if let Some(user) = &report.user {
        about.push(format!("as {user}"));
    }
    let _ = writeln!(
        text,
        "{} {}",
        style(format!("== {host}")).bold(),
        style(format!("({})", about.join(", "))).dim()
    );
    render_kills(&mut text, &report.oom_kills, report.since.as_deref());
    render_memory(&mut text, &report.memory, &report.top_processes);
    render_cgroups(&mut text, &report.cgroups);
    render_containers(&mut text, &report.containers);
    render_disks(&mut text, &report.disks);
    text.truncate(text.trim_end().len());
    text
}

fn render_kills(text: &mut String, item: &Item<KernelLog>, since: Option<&str>) {
    let since = since.map_or_else(|| "since boot".to_owned(), |s| format!("since {s}"));
    let log = match item {
        Item::Found(log) => log,
        Item::Unavailable { unavailable: why } => {
            let _ = writeln!(text, "OOM kills {since}: {}", unavailable(why));
            return;
        }
    };
    let heading = format!("OOM kills {since} (from {})", log.source);
    if log.events.is_empty() {
        let _ = writeln!(text, "{heading}: none");
    } else {
        let _ = writeln!(
            text,
            "{heading}: {}",
            style(log.events.len().to_string()).red().bold()
        );
    }
    for kill in &log.events {
        render_kill(text, kill);
    }
    for note in &log.notes {
        let _ = writeln!(text, "  {}", style(format!("note: {note}")).dim());
    }
}

fn render_kill(text: &mut String, kill: &OomKill) {
    let when = kill.time.as_deref().unwrap_or("(time unknown)");
    let what = style(format!("{} (pid {})", kill.process, kill.pid))
        .red()
        .bold();
    let why = match kill.scope {
        Some(Scope::Cgroup) => {
            let group = kill.oom_memcg.as_deref().unwrap_or("?");
            let mut why = format!("cgroup {group} hit its limit");
            if let Some(limit) = kill.cgroup_limit_kb {
                let _ = write!(why, " of {}", size_kb(limit));
            }
            if let Some(container) = &kill.container {
                let _ = write!(why, " ({container})");
            }
            why
        }
        Some(Scope::System) => "the whole machine ran out of memory".to_owned(),
        Some(Scope::Cpuset) => "its cpuset's memory nodes ran out".to_owned(),
        Some(Scope::Mempolicy) => "its NUMA memory policy's nodes ran out".to_owned(),
        None => "out of memory".to_owned(),
    };
    let _ = writeln!(text, "  {when}  {what}: {why}");
    let mut figures = Vec::new();
    if let Some(rss) = kill.rss_kb() {
        figures.push(format!("resident {}", size_kb(rss)));
    }
    for (name, value) in [
        ("anon", kill.anon_rss_kb),
        ("file", kill.file_rss_kb),
        ("shmem", kill.shmem_rss_kb),
        ("virtual", kill.total_vm_kb),
    ] {
        if let Some(value) = value {
            figures.push(format!("{name} {}", size_kb(value)));
        }
    }
    if let Some(trigger) = &kill.triggered_by
        && *trigger != kill.process
    {
        figures.push(format!("woken by {trigger}"));
    }
    if let (Some(task), Some(oom)) = (&kill.task_memcg, &kill.oom_memcg)
        && task != oom
    {
        figures.push(format!("in {task}"));
    }
    if let Some(constraint) = &kill.constraint {
        figures.push(constraint.clone());
    }
    if !figures.is_empty() {
        let _ = writeln!(text, "      {}", figures.join(", "));
    }
}

fn render_memory(text: &mut String, memory: &Item<Memory>, top: &Item<TopProcesses>) {
    match memory {
        Item::Found(m) => {
            let available = m
                .available_kb
                .map_or_else(String::new, |a| format!(", {} available", size_kb(a)));
            let swap = if m.swap {
                format!(
                    "swap {} of {} free",
                    size_kb(m.swap_free_kb),
                    size_kb(m.swap_total_kb)
                )
            } else {
                "no swap".to_owned()
            };
            let _ = writeln!(
                text,
                "Memory: {} total{available}; {swap}",
                size_kb(m.total_kb)
            );
        }
        Item::Unavailable { unavailable: why } => {
            let _ = writeln!(text, "Memory: {}", unavailable(why));
        }
    }
    match top {
        Item::Found(top) => {
            let _ = writeln!(
                text,
                "Top processes by resident memory (from {}):",
                top.source
            );
            for p in &top.processes {
                let _ = writeln!(
                    text,
                    "  {:>8}  {:>10}  {}",
                    p.pid,
                    size_kb(p.rss_kb),
                    p.name
                );
            }
        }
        Item::Unavailable { unavailable: why } => {
            let _ = writeln!(text, "Top processes: {}", unavailable(why));
        }
    }
}

fn times(n: u64) -> String {
    match n {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

fn describe_group(group: &CgroupMemory) -> String {
    let mut parts = vec![match group.limit_bytes {
        Some(limit) => format!("limit {}", size(limit)),
        None => "no limit".to_owned(),
    }];
    if let Some(usage) = group.usage_bytes {
        parts.push(format!("using {}", size(usage)));
    }
    if let Some(peak) = group.peak_bytes {
        parts.push(format!("peak {}", size(peak)));
    }
    if let Some(hits) = group.limit_hits.filter(|h| *h > 0) {
        parts.push(format!("limit hit {}", times(hits)));
    }
    if let Some(kills) = group.oom_kills.filter(|k| *k > 0) {
        let kills = if kills == 1 {
            "1 OOM kill".to_owned()
        } else {
            format!("{kills} OOM kills")
        };
        parts.push(style(kills).red().to_string());
    }
    if let Some(container) = &group.container {
        parts.push(container.clone());
    }
    parts.join(", ")
}

fn render_cgroups(text: &mut String, item: &Item<Cgroups>) {
    let cgroups = match item {
        Item::Found(cgroups) => cgroups,
        Item::Unavailable { unavailable: why } => {
            let _ = writeln!(text, "Memory cgroups: {}", unavailable(why));
            return;
        }
    };
    let _ = writeln!(text, "Memory cgroups ({}):", cgroups.version);
    if let Some(pid) = cgroups.gone {
        let _ = writeln!(
            text,
            "  process {pid} does not exist (any more: see the OOM kills above)"
        );
    }
    if let Some(processes) = &cgroups.processes {
        if processes.is_empty() {
            let _ = writeln!(text, "  no process has a matching name");
        }
        for p in processes {
            let _ = writeln!(text, "  {} (pid {}) in {}", p.name, p.pid, p.cgroup);
            for group in &p.groups {
                if group.path == p.cgroup || group.limit_bytes.is_some() {
                    let _ = writeln!(text, "    {}: {}", group.path, describe_group(group));
                }
            }
            if p.effective_limit().is_none() {
                let _ = writeln!(text, "    no cgroup memory limit applies");
            }
        }
    }
    if cgroups.limited.is_empty() {
        let _ = writeln!(text, "  no cgroup has a memory limit");
    } else {
        let _ = writeln!(text, "  with a limit:");
        for group in &cgroups.limited {
            let _ = writeln!(text, "    {}: {}", group.path, describe_group(group));
        }
    }
}

fn render_containers(text: &mut String, item: &Item<Containers>) {
    match item {
        Item::Found(c) if c.oom_killed.is_empty() => {
            let _ = writeln!(
                text,
                "Containers killed by OOM: none ({} exited, {})",
                c.exited, c.runtime
            );
        }
        Item::Found(c) => {
            let _ = writeln!(
                text,
                "Containers killed by OOM ({}): {}",
                c.runtime,
                style(c.oom_killed.len().to_string()).red().bold()
            );
            for k in &c.oom_killed {
                let limit = k.memory_limit_bytes.map_or_else(
                    || "no memory limit".to_owned(),
                    |l| format!("limit {}", size(l)),
                );
                let exit = k
                    .exit_code
                    .map_or_else(String::new, |code| format!(", exit {code}"));
                let _ = writeln!(
                    text,
                    "  {} {} ({}): {limit}{exit}, finished {}",
                    k.id, k.name, k.image, k.finished_at
                );
            }
        }
        Item::Unavailable { unavailable: why } => {
            let _ = writeln!(text, "Containers: {}", unavailable(why));
        }
    }
}

fn render_disks(text: &mut String, disks: &[Disk]) {
    let _ = writeln!(text, "Disk space:");
    let width = disks.iter().map(|d| d.path.len()).max().unwrap_or(0);
    for disk in disks {
        let line = match &disk.usage {
            Item::Found(u) => {
                let used = u
                    .used_percent
                    .map_or_else(|| "-".to_owned(), |p| format!("{p}%"));
                let used = if u.used_percent.is_some_and(|p| p >= 90) {
                    style(format!("{used} used")).red().bold().to_string()
                } else {
                    format!("{used} used")
                };
                format!(
                    "{used}, {} free of {} ({} on {})",
                    size_kb(u.available_kb),
                    size_kb(u.size_kb),
                    u.filesystem,
                    u.mounted_on
                )
            }
            Item::Unavailable { unavailable: why } => unavailable(why),
        };
        let _ = writeln!(text, "  {:<5} {:<width$}  {line}", disk.what, disk.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(2048), "2 KiB");
        assert_eq!(size(64 << 20), "64.0 MiB");
        assert_eq!(size_kb(65_152), "63.6 MiB");
        assert_eq!(size_kb(8_000_000), "7.6 GiB");
    }
}
