//! The whole report for a host, built from the script's sections.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::cgroup::{Cgroups, parse_cgroups};
use super::containers::{Containers, parse_docker};
use super::dates::{Clock, parse_offset, rfc3339};
use super::disk::{Disk, disks};
use super::kernel_log::{KernelLog, kernel_log};
use super::memory::{Memory, TopProcesses, parse_meminfo, parse_processes};
use super::sections::Sections;
use super::{Request, TOP_PROCESSES};

/// An item of the report, or why it could not be had.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Item<T> {
    Found(T),
    Unavailable { unavailable: String },
}

impl<T> From<Result<T, String>> for Item<T> {
    fn from(result: Result<T, String>) -> Item<T> {
        match result {
            Ok(value) => Item::Found(value),
            Err(unavailable) => Item::Unavailable { unavailable },
        }
    }
}

#[cfg(test)]
impl<T> Item<T> {
    pub(crate) fn found(&self) -> Option<&T> {
        match self {
            Item::Found(value) => Some(value),
            Item::Unavailable { .. } => None,
        }
    }
}

/// The whole report for a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Who the report was gathered as (what it could read depends on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The server's clock when the report was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
    /// OOM kills from this time on (`None`: since the server booted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub oom_kills: Item<KernelLog>,
    pub memory: Item<Memory>,
    pub top_processes: Item<TopProcesses>,
    pub cgroups: Item<Cgroups>,
    pub containers: Item<Containers>,
    pub disks: Vec<Disk>,
}

impl Report {
    /// Build the report from the script's sections; `local_now` stands in
    /// for a server clock that could not be read.
    pub(crate) fn from_sections(
        sections: &Sections,
        request: &Request,
        local_now: SystemTime,
    ) -> Report {
        let system = sections.output("system").unwrap_or_default();
        let mut values = BTreeMap::new();
        for line in system.lines() {
            if let Some((key, value)) = line.split_once(' ') {
                values.insert(key, value.trim());
            }
        }
        let clock = Clock {
            now: values.get("now").and_then(|v| v.parse().ok()).or_else(|| {
                local_now
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .and_then(|d| i64::try_from(d.as_secs()).ok())
            }),
            uptime: values
                .get("uptime")
                .and_then(|v| v.split('.').next()?.parse().ok()),
            utc_offset: values.get("utc_offset").and_then(|v| parse_offset(v)),
        };
        let read_on_server = values.get("since").and_then(|v| v.parse().ok());
        let cutoff = request
            .since
            .as_ref()
            .and_then(|s| s.cutoff(&clock, read_on_server));
        let restricted = values.get("dmesg_restrict") == Some(&"1");
        Report {
            kernel: values.get("kernel").map(|v| (*v).to_owned()),
            user: values.get("user").map(|v| (*v).to_owned()),
            time: clock.now.and_then(rfc3339),
            uptime_s: clock.uptime.and_then(|u| u64::try_from(u).ok()),
            since: cutoff.and_then(rfc3339),
            oom_kills: Item::from(kernel_log(sections, &clock, cutoff, restricted)),
            memory: Item::from(sections.output("meminfo").and_then(|text| {
                parse_meminfo(text).ok_or_else(|| "/proc/meminfo has no MemTotal".to_owned())
            })),
            top_processes: Item::from(
                sections
                    .output("processes")
                    .map(|text| parse_processes(text, TOP_PROCESSES)),
            ),
            cgroups: Item::from(sections.output("cgroups").and_then(|text| {
                let mut cgroups = parse_cgroups(text)?;
                if request.process.is_some() && cgroups.gone.is_none() {
                    cgroups.processes.get_or_insert_with(Vec::new);
                }
                Ok(cgroups)
            })),
            containers: Item::from(sections.output("docker").map(parse_docker)),
            disks: disks(sections, request),
        }
    }
}
