//! Memory cgroups (v1 or v2): those of the processes asked about, and
//! every one with a limit; the container a cgroup belongs to.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// Memory cgroups: those of the named processes, and those with a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Cgroups {
    /// `v1` or `v2`.
    pub version: String,
    /// With --pid or --name: each process and its cgroup, then the
    /// cgroups above it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<ProcessCgroup>>,
    /// --pid of a process that no longer exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone: Option<u32>,
    /// Every cgroup (four levels down) with a memory limit: containers,
    /// systemd units with MemoryMax, CI jobs.
    pub limited: Vec<CgroupMemory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProcessCgroup {
    pub pid: u32,
    pub name: String,
    pub cgroup: String,
    /// Its own cgroup first, then each one above it up to the root.
    pub groups: Vec<CgroupMemory>,
}

impl ProcessCgroup {
    /// The lowest limit that applies to the process, and where it is set.
    pub(crate) fn effective_limit(&self) -> Option<(u64, &str)> {
        self.groups
            .iter()
            .filter_map(|g| g.limit_bytes.map(|l| (l, g.path.as_str())))
            .min_by_key(|(l, _)| *l)
    }
}

/// One cgroup's memory figures (v1 or v2 files, under common names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CgroupMemory {
    pub path: String,
    /// `memory.max` / `memory.limit_in_bytes`; `None`: no limit.
    pub limit_bytes: Option<u64>,
    /// v2 `memory.high` (throttled above it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<u64>,
    /// `memory.peak` / `memory.max_usage_in_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_bytes: Option<u64>,
    /// How often the limit was hit: v1 `memory.failcnt`, v2 `max` in
    /// `memory.events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_hits: Option<u64>,
    /// Processes the OOM killer killed here (`oom_kill` in `memory.events`
    /// or v1 `memory.oom_control`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_usage_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl CgroupMemory {
    fn new(path: &str) -> CgroupMemory {
        CgroupMemory {
            path: path.to_owned(),
            container: container_of(path),
            ..CgroupMemory::default()
        }
    }

    fn set(&mut self, file: &str, value: &str) {
        // v1 says "no limit" with a huge number, v2 with `max`.
        let limit = || value.parse::<u64>().ok().filter(|v| *v < 1 << 62);
        let number = || value.parse::<u64>().ok();
        match file {
            "memory.max" | "memory.limit_in_bytes" => self.limit_bytes = limit(),
            "memory.high" => self.high_bytes = limit(),
            "memory.current" | "memory.usage_in_bytes" => self.usage_bytes = number(),
            "memory.peak" | "memory.max_usage_in_bytes" => self.peak_bytes = number(),
            "memory.failcnt" | "memory.events.max" => self.limit_hits = number(),
            "memory.events.oom_kill" | "memory.oom_control.oom_kill" => self.oom_kills = number(),
            "memory.swap.max" => self.swap_limit_bytes = limit(),
            "memory.swap.current" => self.swap_usage_bytes = number(),
            _ => {}
        }
    }
}

/// The script's `cgroups` section.
pub(crate) fn parse_cgroups(text: &str) -> Result<Cgroups, String> {
    let mut cgroups = Cgroups {
        version: String::new(),
        processes: None,
        gone: None,
        limited: Vec::new(),
    };
    let mut in_limited = false;
    for line in text.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "mode" => rest.clone_into(&mut cgroups.version),
            "gone" => cgroups.gone = rest.parse().ok(),
            "process" => {
                let (pid, name) = rest.split_once(' ').unwrap_or((rest, ""));
                if let Ok(pid) = pid.parse() {
                    cgroups
                        .processes
                        .get_or_insert_with(Vec::new)
                        .push(ProcessCgroup {
                            pid,
                            name: name.to_owned(),
                            cgroup: String::new(),
                            groups: Vec::new(),
                        });
                }
            }
            "in" => {
                if let Some(process) = cgroups.processes.as_mut().and_then(|p| p.last_mut()) {
                    rest.clone_into(&mut process.cgroup);
                }
            }
            "limited" => in_limited = true,
            "group" => {
                let group = CgroupMemory::new(rest);
                if in_limited {
                    cgroups.limited.push(group);
                } else if let Some(process) = cgroups.processes.as_mut().and_then(|p| p.last_mut())
                {
                    process.groups.push(group);
                }
            }
            file if file.starts_with("memory.") => {
                let group = if in_limited {
                    cgroups.limited.last_mut()
                } else {
                    cgroups
                        .processes
                        .as_mut()
                        .and_then(|p| p.last_mut())
                        .and_then(|p| p.groups.last_mut())
                };
                if let Some(group) = group {
                    group.set(file, rest.trim());
                }
            }
            _ => {}
        }
    }
    if cgroups.version.is_empty() {
        return Err("the cgroup item said nothing".to_owned());
    }
    Ok(cgroups)
}

static CONTAINER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(docker|cri-containerd|crio|libpod)[-/]([0-9a-f]{64})|/([0-9a-f]{64})(?:\.scope)?$",
    )
    .expect("valid regex")
});

/// The container a cgroup path belongs to: `docker 0123456789ab`.
pub(crate) fn container_of(path: &str) -> Option<String> {
    let c = CONTAINER.captures(path)?;
    match (c.get(1), c.get(2), c.get(3)) {
        (Some(runtime), Some(id), _) => {
            let runtime = match runtime.as_str() {
                "cri-containerd" => "containerd",
                "libpod" => "podman",
                other => other,
            };
            Some(format!("{runtime} {}", &id.as_str()[..12]))
        }
        (_, _, Some(id)) => Some(format!("container {}", &id.as_str()[..12])),
        _ => None,
    }
}
