//! One OOM kill, read from the kernel's messages about it: who was
//! killed, what ran out (a cgroup's limit or the whole machine), the memory
//! figures, on kernels from 4.9 to 6.x.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::cgroup::container_of;
use super::dates::rfc3339;

/// What ran out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scope {
    /// A memory cgroup hit its limit (a container, a systemd unit's
    /// MemoryMax, a CI job's limit).
    Cgroup,
    /// The whole machine.
    System,
    /// The memory nodes a cpuset allows.
    Cpuset,
    /// A NUMA memory policy.
    Mempolicy,
}

impl Scope {
    fn from_constraint(constraint: &str) -> Option<Scope> {
        Some(match constraint {
            "CONSTRAINT_MEMCG" => Scope::Cgroup,
            "CONSTRAINT_NONE" => Scope::System,
            "CONSTRAINT_CPUSET" => Scope::Cpuset,
            "CONSTRAINT_MEMORY_POLICY" => Scope::Mempolicy,
            _ => return None,
        })
    }
}

/// One process killed by the OOM killer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct OomKill {
    /// When, as RFC 3339 UTC (absent if the log has no timestamps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip)]
    pub epoch: Option<i64>,
    pub pid: u32,
    pub process: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The kernel's word for it: `CONSTRAINT_MEMCG`, `CONSTRAINT_NONE`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// The cgroup whose limit was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_memcg: Option<String>,
    /// The cgroup the killed process was in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_memcg: Option<String>,
    /// The container that cgroup belongs to (`docker 0123456789ab`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_usage_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_limit_kb: Option<u64>,
    /// How often the cgroup had hit its limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_failcnt: Option<u64>,
    /// The process whose allocation woke the OOM killer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_vm_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anon_rss_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_rss_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shmem_rss_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgtables_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// The kernel's line, as logged.
    pub message: String,
}

impl OomKill {
    /// Resident memory when killed.
    pub(crate) fn rss_kb(&self) -> Option<u64> {
        let parts = [self.anon_rss_kb, self.file_rss_kb, self.shmem_rss_kb];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }
}

/// What the lines before a kill said about it.
#[derive(Debug, Default)]
struct Context {
    triggered_by: Option<String>,
    scope: Option<Scope>,
    constraint: Option<String>,
    oom_memcg: Option<String>,
    task_memcg: Option<String>,
    stats_for: Option<String>,
    usage_kb: Option<u64>,
    limit_kb: Option<u64>,
    failcnt: Option<u64>,
    uid: Option<u32>,
}

static INVOKED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+?) invoked oom-killer:").expect("valid regex"));
static USAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)").expect("valid regex")
});
static STATS_FOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Memory cgroup stats for ([^:]+):").expect("valid regex"));
static TASK_IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Task in (\S+) killed as a result of limit of (\S+)").expect("valid regex")
});
static CONSTRAINT_TASK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r",task=(.*),pid=(\d+),uid=(\d+)$").expect("valid regex"));
static KILL_PROCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(Memory cgroup out of memory|Out of memory[^:]*): Kill process \d+")
        .expect("valid regex")
});
static KILLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(Memory cgroup out of memory|Out of memory[^:]*): )?Killed process (\d+) \((.*)\)(?: (.*))?$")
        .expect("valid regex")
});
static FIGURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([a-z-]+):(\d+)kB").expect("valid regex"));
static SCORE_ADJ: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"oom_score_adj:(-?\d+)").expect("valid regex"));
static UID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"UID:(\d+)").expect("valid regex"));

/// The OOM kills in kernel messages, each with the time it was logged
/// (seconds since the epoch, when known), oldest first.
pub(crate) fn parse_oom_kills<'a>(
    messages: impl IntoIterator<Item = (Option<i64>, &'a str)>,
) -> Vec<OomKill> {
    let mut kills = Vec::new();
    let mut context = Context::default();
    for (epoch, message) in messages {
        let message = message.trim_end();
        if let Some(c) = INVOKED.captures(message) {
            context = Context {
                triggered_by: Some(c[1].to_owned()),
                ..Context::default()
            };
        } else if let Some(c) = USAGE.captures(message) {
            context.usage_kb = c[1].parse().ok();
            context.limit_kb = c[2].parse().ok();
            context.failcnt = c[3].parse().ok();
        } else if let Some(c) = STATS_FOR.captures(message) {
            context.stats_for = Some(c[1].to_owned());
        } else if let Some(c) = TASK_IN.captures(message) {
            context.task_memcg = Some(c[1].to_owned());
            context.oom_memcg = Some(c[2].to_owned());
            context.scope.get_or_insert(Scope::Cgroup);
        } else if let Some(rest) = message.strip_prefix("oom-kill:") {
            read_constraint(rest, &mut context);
        } else if let Some(c) = KILL_PROCESS.captures(message) {
            context.scope.get_or_insert(scope_of_prefix(&c[1]));
        } else if let Some(c) = KILLED.captures(message) {
            let Ok(pid) = c[2].parse() else { continue };
            let mut kill = OomKill {
                time: epoch.and_then(rfc3339),
                epoch,
                pid,
                process: c[3].to_owned(),
                uid: None,
                scope: None,
                constraint: None,
                oom_memcg: None,
                task_memcg: None,
                container: None,
                cgroup_usage_kb: None,
                cgroup_limit_kb: None,
                cgroup_failcnt: None,
                triggered_by: None,
                total_vm_kb: None,
                anon_rss_kb: None,
                file_rss_kb: None,
                shmem_rss_kb: None,
                pgtables_kb: None,
                oom_score_adj: None,
                message: message.to_owned(),
            };
            let figures = c.get(4).map_or("", |m| m.as_str());
            for f in FIGURE.captures_iter(figures) {
                let value = f[2].parse().ok();
                match &f[1] {
                    "total-vm" => kill.total_vm_kb = value,
                    "anon-rss" => kill.anon_rss_kb = value,
                    "file-rss" => kill.file_rss_kb = value,
                    "shmem-rss" => kill.shmem_rss_kb = value,
                    "pgtables" => kill.pgtables_kb = value,
                    _ => {}
                }
            }
            kill.oom_score_adj = SCORE_ADJ.captures(figures).and_then(|s| s[1].parse().ok());
            kill.uid = UID
                .captures(figures)
                .and_then(|u| u[1].parse().ok())
                .or(context.uid);
            let context = std::mem::take(&mut context);
            kill.scope = context
                .scope
                .or_else(|| c.get(1).map(|p| scope_of_prefix(p.as_str())));
            kill.constraint = context.constraint;
            kill.triggered_by = context.triggered_by;
            kill.oom_memcg = context.oom_memcg.or_else(|| {
                (kill.scope == Some(Scope::Cgroup))
                    .then(|| context.stats_for.clone())
                    .flatten()
            });
            kill.task_memcg = context.task_memcg;
            if kill.scope == Some(Scope::Cgroup) {
                kill.cgroup_usage_kb = context.usage_kb;
                kill.cgroup_limit_kb = context.limit_kb;
                kill.cgroup_failcnt = context.failcnt;
            }
            kill.container = kill
                .task_memcg
                .as_deref()
                .and_then(container_of)
                .or_else(|| kill.oom_memcg.as_deref().and_then(container_of));
            kills.push(kill);
        }
    }
    kills
}

fn scope_of_prefix(prefix: &str) -> Scope {
    if prefix.starts_with("Memory cgroup") {
        Scope::Cgroup
    } else {
        Scope::System
    }
}

/// `constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,
/// oom_memcg=/x,task_memcg=/x,task=python3,pid=1234,uid=0`
fn read_constraint(text: &str, context: &mut Context) {
    let mut head = text;
    if let Some(c) = CONSTRAINT_TASK.captures(text) {
        context.uid = c[3].parse().ok();
        head = &text[..c.get(0).map_or(text.len(), |m| m.start())];
    }
    for pair in head.split(',') {
        match pair.split_once('=') {
            Some(("constraint", value)) => {
                context.scope = Scope::from_constraint(value).or(context.scope);
                context.constraint = Some(value.to_owned());
            }
            Some(("oom_memcg", value)) => context.oom_memcg = Some(value.to_owned()),
            Some(("task_memcg", value)) => context.task_memcg = Some(value.to_owned()),
            _ => {}
        }
    }
}
