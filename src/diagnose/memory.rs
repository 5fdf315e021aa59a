//! Memory now: `/proc/meminfo` and the processes using most of it.

use std::collections::BTreeMap;

use serde::Serialize;

/// Memory now (`/proc/meminfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Memory {
    pub total_kb: u64,
    /// What new work could use without swapping (the kernel's estimate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_kb: Option<u64>,
    pub free_kb: u64,
    /// Whether the machine has swap at all.
    pub swap: bool,
    pub swap_total_kb: u64,
    pub swap_free_kb: u64,
}

pub(crate) fn parse_meminfo(text: &str) -> Option<Memory> {
    let mut values = BTreeMap::new();
    for line in text.lines() {
        if let Some((key, rest)) = line.split_once(':')
            && let Some(number) = rest.split_whitespace().next()
            && let Ok(value) = number.parse::<u64>()
        {
            values.insert(key.trim(), value);
        }
    }
    let swap_total_kb = values.get("SwapTotal").copied().unwrap_or(0);
    Some(Memory {
        total_kb: *values.get("MemTotal")?,
        available_kb: values.get("MemAvailable").copied(),
        free_kb: values.get("MemFree").copied().unwrap_or(0),
        swap: swap_total_kb > 0,
        swap_total_kb,
        swap_free_kb: values.get("SwapFree").copied().unwrap_or(0),
    })
}

/// The processes using most resident memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TopProcesses {
    /// `ps`, or `/proc` where ps is missing.
    pub source: &'static str,
    pub processes: Vec<ProcessMemory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProcessMemory {
    pub pid: u32,
    pub name: String,
    pub rss_kb: u64,
}

/// `PID RSS NAME` lines (`ps -eo pid=,rss=,comm=`, or the script's reading
/// of /proc, which starts with `from /proc`), the `limit` largest first.
pub(crate) fn parse_processes(text: &str, limit: usize) -> TopProcesses {
    let source = if text.starts_with("from /proc") {
        "/proc"
    } else {
        "ps"
    };
    let mut processes: Vec<ProcessMemory> = text
        .lines()
        .filter_map(|line| {
            let (pid, rest) = line.trim_start().split_once(char::is_whitespace)?;
            let (rss_kb, name) = rest.trim_start().split_once(char::is_whitespace)?;
            Some(ProcessMemory {
                pid: pid.parse().ok()?,
                name: name.trim().to_owned(),
                rss_kb: rss_kb.parse().ok()?,
            })
        })
        .collect();
    processes.sort_by(|a, b| b.rss_kb.cmp(&a.rss_kb).then(a.pid.cmp(&b.pid)));
    processes.truncate(limit);
    TopProcesses { source, processes }
}
