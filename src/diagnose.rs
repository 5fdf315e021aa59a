//! `roadie diagnose`: why did a test or a container die on a server? The
//! evidence of the kernel's OOM killer (from the kernel log), memory now,
//! the cgroup limits that apply, containers Docker saw killed, and disk
//! space: gathered in one round trip by a POSIX sh script that installs
//! nothing, and parsed here.
//!
//! The script prints each item as a section between markers carrying a
//! random token (so no logged text can fake one), on stdout and on stderr
//! alike, with the section's exit status; the stderr of a section is the
//! reason an item is missing ("not installed", "Operation not permitted").
//! Everything else is pure parsing, tested on outputs of real servers.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde::Serialize;

use crate::command::{RemoteCommand, quote, quote_path};
use crate::error::Error;
use crate::ssh::Session;

/// How many processes "top processes" lists.
pub const TOP_PROCESSES: usize = 10;
/// At most this many processes matched by `--name` are looked at.
pub const MAX_NAMED: usize = 20;
/// How long the whole script may take on a host.
pub const SCRIPT_LIMIT: Duration = Duration::from_secs(90);

/// The script. Arguments: token, journalctl's `--since` (empty: this boot),
/// pid, name pattern, site directory (empty: none).
const SCRIPT: &str = r#"
# POSIX sh has no local variables: each function has names of its own.
token=$1 since=$2 pid=$3 pattern=$4 site=$5
export LC_ALL=C
mark() { printf '\n==roadie:%s:%s==\n' "$token" "$1"; }
sec() {
  sec_name=$1; shift
  mark "begin $sec_name"; mark "begin $sec_name" >&2
  "$@"
  sec_rc=$?
  mark "end $sec_name rc=$sec_rc"; mark "end $sec_name" >&2
}
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  printf '%s: not installed (not found on PATH)\n' "$1" >&2
  return 127
}
# A tool that hangs (a dead NFS mount, a stuck Docker daemon) must not hold
# up the whole report.
bounded() {
  if command -v timeout >/dev/null 2>&1; then timeout 20 "$@"; else "$@"; fi
}
OOM='invoked oom-killer|oom-kill:|[Oo]ut of memory|Killed process|Kill process|memory: usage|swap: usage|Memory cgroup stats for|killed as a result of limit'
klog() {
  need "$1" || return
  if command -v grep >/dev/null 2>&1; then
    { bounded "$@"; mark "rc $?"; } | grep -E -e "$OOM" -e "^==roadie:$token:rc "
  else
    bounded "$@"; mark "rc $?"
  fi
}
journal() {
  if [ -n "$since" ]; then klog journalctl -k --no-pager -o short-iso --since "$since"
  else klog journalctl -k --no-pager -o short-iso -b; fi
}
show() {
  while IFS= read -r show_line || [ -n "$show_line" ]; do printf '%s\n' "$show_line"; done <"$1"
}
system() {
  printf 'kernel %s\n' "$(uname -r)"
  printf 'now %s\n' "$(date +%s)"
  printf 'utc_offset %s\n' "$(date +%z)"
  read -r sys_up _ </proc/uptime && printf 'uptime %s\n' "$sys_up"
  # sysctl files end where a byte-by-byte read stops early: no status check.
  sys_restrict=
  [ -r /proc/sys/kernel/dmesg_restrict ] && read -r sys_restrict </proc/sys/kernel/dmesg_restrict
  [ -z "$sys_restrict" ] || printf 'dmesg_restrict %s\n' "$sys_restrict"
  printf 'user %s\n' "$(id -un)"
  # --since as the server reads it (for the dmesg fallback and the report).
  [ -z "$since" ] || { sys_since=$(date -d "$since" +%s 2>/dev/null) && printf 'since %s\n' "$sys_since"; }
  return 0
}
processes() {
  if command -v ps >/dev/null 2>&1 && ps -eo pid=,rss=,comm=; then return 0; fi
  printf 'from /proc\n'
  for ps_dir in /proc/[0-9]*; do
    ps_name= ps_rss=
    while read -r ps_key ps_value; do
      case $ps_key in Name:) ps_name=$ps_value ;; VmRSS:) ps_rss=${ps_value%% *}; break ;; esac
    done 2>/dev/null <"$ps_dir/status"
    [ -n "$ps_rss" ] && printf '%s %s %s\n' "${ps_dir#/proc/}" "$ps_rss" "$ps_name"
  done
  return 0
}
group() {
  printf 'group %s\n' "$2"
  for group_file in memory.max memory.high memory.current memory.peak memory.swap.max \
      memory.swap.current memory.limit_in_bytes memory.usage_in_bytes memory.max_usage_in_bytes \
      memory.failcnt; do
    [ -r "$1/$group_file" ] && read -r group_value <"$1/$group_file" &&
      printf '%s %s\n' "$group_file" "$group_value"
  done
  for group_file in memory.events memory.oom_control; do
    [ -r "$1/$group_file" ] || continue
    while read -r group_key group_value; do
      printf '%s.%s %s\n' "$group_file" "$group_key" "$group_value"
    done <"$1/$group_file"
  done
}
walk() {
  walk_path=$1
  while :; do
    [ -d "$root$walk_path" ] && group "$root$walk_path" "$walk_path"
    case $walk_path in /|'') break ;; esac
    walk_path=${walk_path%/*}; [ -n "$walk_path" ] || walk_path=/
  done
}
cgroups() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then mode=v2 root=/sys/fs/cgroup
  elif [ -d /sys/fs/cgroup/memory ]; then mode=v1 root=/sys/fs/cgroup/memory
  else echo 'no cgroup memory controller is mounted under /sys/fs/cgroup' >&2; return 1; fi
  printf 'mode %s\n' "$mode"
  pids=$pid
  if [ -n "$pattern" ]; then
    need grep || return
    printf 'x\n' | grep -E -e "$pattern" >/dev/null
    [ $? -eq 2 ] && return 2
    count=0
    for comm_file in $(grep -l -E -e "$pattern" /proc/[0-9]*/comm 2>/dev/null); do
      named=${comm_file#/proc/}; named=${named%/comm}
      [ "$named" = "$$" ] && continue
      count=$((count + 1)); [ $count -le MAX_NAMED ] || break
      pids="$pids $named"
    done
  fi
  for one in $pids; do
    if ! read -r comm 2>/dev/null </proc/$one/comm; then
      [ -n "$pattern" ] || printf 'gone %s\n' "$one"
      continue
    fi
    printf 'process %s %s\n' "$one" "$comm"
    while IFS=: read -r _ controllers path; do
      case $mode in
        v1) case ,$controllers, in *,memory,*) ;; *) continue ;; esac ;;
        v2) [ -z "$controllers" ] || continue ;;
      esac
      printf 'in %s\n' "$path"
      walk "$path"
    done 2>/dev/null </proc/$one/cgroup
  done
  printf 'limited\n'
  if [ $mode = v2 ]; then limit_file=memory.max; else limit_file=memory.limit_in_bytes; fi
  for dir in "$root" "$root"/*/ "$root"/*/*/ "$root"/*/*/*/ "$root"/*/*/*/*/; do
    [ -r "$dir/$limit_file" ] && read -r limit <"$dir/$limit_file" || continue
    case $mode,$limit in v2,max) continue ;; v1,*) [ ${#limit} -lt 19 ] || continue ;; esac
    rel=${dir#"$root"}; rel=/${rel#/}; rel=${rel%/}
    group "$dir" "${rel:-/}"
  done
  return 0
}
containers() {
  need docker || return
  ids=$(bounded docker ps -a -q --no-trunc --filter status=exited --filter status=dead) || return
  [ -n "$ids" ] || return 0
  bounded docker inspect --format '{{.Id}}|{{.Name}}|{{.State.OOMKilled}}|{{.State.ExitCode}}|{{.State.FinishedAt}}|{{.Config.Image}}|{{.HostConfig.Memory}}' $ids
}
disk() { need df || return; bounded df -P -k -- "$1"; }
sec system system
sec journal journal
sec dmesg klog dmesg
sec meminfo show /proc/meminfo
sec processes processes
sec cgroups cgroups
sec docker containers
[ -z "$site" ] || sec disk-site disk "$site"
sec disk-tmp disk /tmp
sec disk-logs disk /var/log
"#;

/// Which process's cgroup limits to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Process {
    Pid(u32),
    /// An extended regular expression (as `grep -E`), matched against
    /// process names (as `ps` and `pgrep` show them).
    Name(String),
}

/// A wall-clock time without a time zone, or with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Seconds east of UTC, when the time said; else the server's own.
    pub offset: Option<i64>,
}

/// `--since`: how far back to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// This long before the server's clock says now.
    Ago(Duration),
    /// From this time on.
    At(Civil),
    /// In journalctl's own words (`10 min ago`, `yesterday`, `-2h`), read on
    /// the server (by journalctl, and by `date -d` for the dmesg fallback).
    Words(String),
}

/// journalctl's relative times (systemd.time(7)) that `date -d` reads too.
static TIME_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:now|today|yesterday|tomorrow|(?:\d+ ?(?:s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?|months?|y|years?) ?)+ago|[+-] ?(?:\d+ ?(?:s|sec|secs|seconds?|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?|months?|y|years?) ?)+)$",
    )
    .expect("valid regex")
});

impl Since {
    /// A duration (`1h`, `30m`, `90s`, `1h30m`) or a time, as journalctl
    /// reads them (`2026-11-20`, `2026-11-20 10:00`,
    /// `2026-11-20T10:00:00+01:00`; without a zone it is the server's).
    pub fn parse(text: &str) -> Result<Since, String> {
        let text = text.trim();
        if let Some(civil) = parse_civil(text) {
            return Ok(Since::At(civil));
        }
        if let Some(ago) = crate::ssh_config::parse_time(text) {
            return Ok(Since::Ago(ago));
        }
        if TIME_WORDS.is_match(text) {
            return Ok(Since::Words(text.to_owned()));
        }
        Err(format!(
            "'{text}' is neither a duration (1h, 30m, 90s), a time (2026-11-20 10:00, \
             2026-11-20T10:00:00Z) nor one of journalctl's (10 min ago, yesterday, -2h)"
        ))
    }

    /// The value for `journalctl --since`.
    fn journal_arg(&self) -> String {
        match self {
            Since::Ago(ago) => format!("-{}s", ago.as_secs()),
            Since::Words(words) => words.clone(),
            Since::At(civil) => match civil.offset {
                Some(_) => format!("@{}", civil.epoch(0)),
                None => format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second
                ),
            },
        }
    }

    /// Seconds since the epoch, given the server's clock and UTC offset,
    /// and its own reading of the words (`date -d`), when it could.
    fn cutoff(&self, clock: &Clock, read_on_server: Option<i64>) -> Option<i64> {
        match self {
            Since::Ago(ago) => clock.now?.checked_sub(i64::try_from(ago.as_secs()).ok()?),
            Since::At(civil) => Some(civil.epoch(civil.offset.or(clock.utc_offset)?)),
            Since::Words(_) => read_on_server,
        }
    }
}

impl Civil {
    /// Seconds since the epoch, reading the time at `offset` (the time's
    /// own offset wins).
    fn epoch(&self, offset: i64) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - self.offset.unwrap_or(offset)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `+0100`, `-05:30`, `Z` to seconds east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    if text == "Z" || text == "z" {
        return Some(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

static CIVIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?)? ?(Z|z|[+-]\d\d:?\d\d)?$",
    )
    .expect("valid regex")
});

/// `2026-11-20`, `2026-11-20 10:00`, `2026-11-20T10:00:00.5+0100`, ...
pub fn parse_civil(text: &str) -> Option<Civil> {
    let c = CIVIL.captures(text)?;
    let number = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let civil = Civil {
        year: c[1].parse().ok()?,
        month: number(2)?,
        day: number(3)?,
        hour: number(4)?,
        minute: number(5)?,
        second: number(6)?,
        offset: match c.get(7) {
            Some(zone) => Some(parse_offset(zone.as_str())?),
            None => None,
        },
    };
    let valid = (1..=12).contains(&civil.month)
        && (1..=31).contains(&civil.day)
        && civil.hour < 24
        && civil.minute < 60
        && civil.second < 61;
    valid.then_some(civil)
}

/// What to gather on a host.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub since: Option<Since>,
    pub process: Option<Process>,
    /// The site's directory on the server (`~/` is the remote home), or why
    /// it is not known.
    pub site: Option<Result<String, String>>,
}

impl Request {
    /// The command that gathers everything, its sections marked with `token`.
    pub fn command(&self, token: &str) -> RemoteCommand {
        let since = self
            .since
            .as_ref()
            .map(Since::journal_arg)
            .unwrap_or_default();
        let (pid, name) = match &self.process {
            Some(Process::Pid(pid)) => (pid.to_string(), String::new()),
            Some(Process::Name(name)) => (String::new(), name.clone()),
            None => (String::new(), String::new()),
        };
        let site = match &self.site {
            Some(Ok(dir)) => quote_path(dir),
            _ => "''".to_owned(),
        };
        let script = SCRIPT.replace("MAX_NAMED", &MAX_NAMED.to_string());
        RemoteCommand::shell(format!(
            "exec sh -c {} roadie-diagnose {} {} {} {} {site}",
            quote(&script),
            quote(token),
            quote(&since),
            quote(&pid),
            quote(&name),
        ))
    }
}

/// Gather the report on `session`'s host.
pub async fn diagnose(session: &Session, request: &Request) -> Result<Report, Error> {
    let token = format!("{:016x}", rand::random::<u64>());
    let command = request.command(&token);
    let host = session.host().label.clone();
    let output = tokio::time::timeout(SCRIPT_LIMIT, session.run(&command))
        .await
        .map_err(|_| Error::Timeout {
            host: host.clone(),
            after: SCRIPT_LIMIT,
        })??;
    let sections = Sections::split(
        &String::from_utf8_lossy(&output.stdout),
        &String::from_utf8_lossy(&output.stderr),
        &token,
    );
    if sections.get("system").is_none() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Remote {
            host,
            message: format!(
                "the diagnosis script did not run ({}): {}",
                output.status,
                stderr.trim()
            ),
        });
    }
    Ok(Report::from_sections(&sections, request, SystemTime::now()))
}

/// One item's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub stdout: String,
    pub stderr: String,
    /// The exit status; `None` if the script stopped before the end.
    pub rc: Option<i32>,
}

impl Section {
    pub fn ok(&self) -> bool {
        self.rc == Some(0)
    }

    /// Why the item failed, in the tool's own words.
    pub fn reason(&self) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        let mut reason = if lines.is_empty() {
            match self.rc {
                Some(rc) => format!("failed with exit status {rc}"),
                None => "the script stopped before this item".to_owned(),
            }
        } else {
            lines.join("; ")
        };
        if reason.len() > 400 {
            let mut end = 400;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push_str("...");
        }
        reason
    }
}

/// The script's output cut into its sections.
#[derive(Debug, Clone, Default)]
pub struct Sections(BTreeMap<String, Section>);

impl Sections {
    pub fn split(stdout: &str, stderr: &str, token: &str) -> Sections {
        let marker = format!("==roadie:{token}:");
        let mut sections: BTreeMap<String, Section> = BTreeMap::new();
        for (name, body) in cut(stdout, &marker) {
            let (name, rc) = match name.split_once(" rc=") {
                Some((name, rc)) => (name.to_owned(), rc.parse().ok()),
                None => (name, None),
            };
            // A pipeline's own status, passed along its output.
            let mut rc = rc;
            let mut lines = Vec::new();
            for line in body.lines() {
                if let Some(inner) = line
                    .strip_prefix(&marker)
                    .and_then(|l| l.strip_prefix("rc "))
                    .and_then(|l| l.strip_suffix("=="))
                {
                    // The command's own failure, else the filter's.
                    let own: Option<i32> = inner.parse().ok();
                    if own != Some(0) {
                        rc = own.or(rc);
                    }
                } else {
                    lines.push(line);
                }
            }
            let section = sections.entry(name).or_default();
            section.stdout = join_lines(&lines);
            section.rc = rc;
        }
        for (name, body) in cut(stderr, &marker) {
            sections.entry(name).or_default().stderr = body;
        }
        Sections(sections)
    }

    pub fn get(&self, name: &str) -> Option<&Section> {
        self.0.get(name)
    }

    /// The section's output, or why there is none.
    fn output(&self, name: &str) -> Result<&str, String> {
        match self.get(name) {
            Some(section) if section.ok() => Ok(&section.stdout),
            Some(section) => Err(section.reason()),
            None => Err("the script stopped before this item".to_owned()),
        }
    }
}

fn join_lines(lines: &[&str]) -> String {
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// `(name, body)` of each `begin NAME` ... `end NAME...` block; the name
/// is the end marker's (it carries the status). A block never ended is
/// kept, without a status.
fn cut(text: &str, marker: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        let inner = line.strip_prefix(marker).and_then(|l| l.strip_suffix("=="));
        match inner {
            Some(rest) if rest.starts_with("begin ") => {
                if let Some((name, body)) = open.take() {
                    blocks.push((name, join_lines(&body)));
                }
                open = Some((rest["begin ".len()..].to_owned(), Vec::new()));
            }
            Some(rest) if rest.starts_with("end ") => {
                if let Some((_, mut body)) = open.take() {
                    // The end marker starts with a newline of its own.
                    if body.last() == Some(&"") {
                        body.pop();
                    }
                    blocks.push((rest["end ".len()..].to_owned(), join_lines(&body)));
                }
            }
            _ => {
                if let Some((_, body)) = open.as_mut() {
                    body.push(line);
                }
            }
        }
    }
    if let Some((name, body)) = open {
        blocks.push((name, join_lines(&body)));
    }
    blocks
}

/// An item of the report, or why it could not be had.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Item<T> {
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

impl<T> Item<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Item::Found(value) => Some(value),
            Item::Unavailable { .. } => None,
        }
    }
}

/// The server's clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clock {
    /// Seconds since the epoch.
    pub now: Option<i64>,
    /// Whole seconds since boot.
    pub uptime: Option<i64>,
    /// Seconds east of UTC.
    pub utc_offset: Option<i64>,
}

impl Clock {
    /// The wall-clock time (seconds since the epoch) of a kernel timestamp
    /// (seconds since boot). To the second or so: the kernel's clock also
    /// stops while a machine is suspended.
    pub fn at_monotonic(&self, seconds: i64) -> Option<i64> {
        Some(self.now? - self.uptime? + seconds)
    }
}

/// The whole report for a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
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

/// OOM-killer events from the kernel log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelLog {
    /// `journalctl` or `dmesg`.
    pub source: &'static str,
    pub events: Vec<OomKill>,
    /// Why the other source was not used, and other caveats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What ran out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
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
pub struct OomKill {
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
    pub fn rss_kb(&self) -> Option<u64> {
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
static CONTAINER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(docker|cri-containerd|crio|libpod)[-/]([0-9a-f]{64})|/([0-9a-f]{64})(?:\.scope)?$",
    )
    .expect("valid regex")
});

/// The container a cgroup path belongs to: `docker 0123456789ab`.
pub fn container_of(path: &str) -> Option<String> {
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

/// The OOM kills in kernel messages, each with the time it was logged
/// (seconds since the epoch, when known), oldest first.
pub fn parse_oom_kills<'a>(
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
                time: epoch.map(rfc3339),
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

fn rfc3339(epoch: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(epoch).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

static JOURNAL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+) \S+ kernel: (.*)$").expect("valid regex"));
static DMESG_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[\s*(\d+)\.\d+\](?:\[\s*[TC]\d+\])? ?(.*)$").expect("valid regex")
});

/// `journalctl -k -o short-iso` lines to `(seconds since the epoch, message)`.
pub fn journal_messages(text: &str) -> Vec<(Option<i64>, &str)> {
    text.lines()
        .filter_map(|line| {
            let c = JOURNAL_LINE.captures(line)?;
            let civil = parse_civil(c.get(1)?.as_str())?;
            let epoch = civil.offset.map(|_| civil.epoch(0));
            Some((epoch, c.get(2)?.as_str()))
        })
        .collect()
}

/// `dmesg` lines (`[  123.456789] message`, or without timestamps) to
/// `(seconds since the epoch, message)`.
pub fn dmesg_messages<'a>(text: &'a str, clock: &Clock) -> Vec<(Option<i64>, &'a str)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match DMESG_LINE.captures(line) {
            Some(c) => {
                let epoch = c[1].parse().ok().and_then(|s| clock.at_monotonic(s));
                (epoch, c.get(2).map_or("", |m| m.as_str()))
            }
            None => (None, line),
        })
        .collect()
}

/// Memory now (`/proc/meminfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memory {
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

pub fn parse_meminfo(text: &str) -> Option<Memory> {
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
pub struct TopProcesses {
    /// `ps`, or `/proc` where ps is missing.
    pub source: &'static str,
    pub processes: Vec<ProcessMemory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessMemory {
    pub pid: u32,
    pub name: String,
    pub rss_kb: u64,
}

/// `PID RSS NAME` lines (`ps -eo pid=,rss=,comm=`, or the script's reading
/// of /proc, which starts with `from /proc`), the `limit` largest first.
pub fn parse_processes(text: &str, limit: usize) -> TopProcesses {
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

/// Memory cgroups: those of the named processes, and those with a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cgroups {
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
pub struct ProcessCgroup {
    pub pid: u32,
    pub name: String,
    pub cgroup: String,
    /// Its own cgroup first, then each one above it up to the root.
    pub groups: Vec<CgroupMemory>,
}

impl ProcessCgroup {
    /// The lowest limit that applies to the process, and where it is set.
    pub fn effective_limit(&self) -> Option<(u64, &str)> {
        self.groups
            .iter()
            .filter_map(|g| g.limit_bytes.map(|l| (l, g.path.as_str())))
            .min_by_key(|(l, _)| *l)
    }
}

/// One cgroup's memory figures (v1 or v2 files, under common names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CgroupMemory {
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
pub fn parse_cgroups(text: &str) -> Result<Cgroups, String> {
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

/// Containers Docker saw end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Containers {
    pub runtime: &'static str,
    /// How many exited (or dead) containers were looked at.
    pub exited: usize,
    /// Those the OOM killer ended (`State.OOMKilled`).
    pub oom_killed: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub exit_code: Option<i32>,
    pub finished_at: String,
    /// `HostConfig.Memory`; `None`: no limit.
    pub memory_limit_bytes: Option<u64>,
}

/// `docker inspect --format 'ID|NAME|OOMKILLED|EXIT|FINISHED|IMAGE|MEMORY'` lines.
pub fn parse_docker(text: &str) -> Containers {
    let mut containers = Containers {
        runtime: "docker",
        exited: 0,
        oom_killed: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('|').collect();
        let [id, name, oom, exit, finished, image, memory] = fields[..] else {
            continue;
        };
        containers.exited += 1;
        if oom != "true" {
            continue;
        }
        containers.oom_killed.push(Container {
            id: id.chars().take(12).collect(),
            name: name.trim_start_matches('/').to_owned(),
            image: image.to_owned(),
            exit_code: exit.parse().ok(),
            finished_at: finished.to_owned(),
            memory_limit_bytes: memory.parse().ok().filter(|m| *m > 0),
        });
    }
    containers
}

/// Space on the filesystem holding a directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disk {
    /// `site`, `tmp` or `logs`.
    pub what: &'static str,
    pub path: String,
    #[serde(flatten)]
    pub usage: Item<DiskUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    pub filesystem: String,
    pub mounted_on: String,
    pub size_kb: u64,
    pub used_kb: u64,
    pub available_kb: u64,
    pub used_percent: Option<u8>,
}

static DF_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(.*)$").expect("valid regex")
});

/// `df -P -k DIR`.
pub fn parse_df(text: &str) -> Option<DiskUsage> {
    text.lines().skip(1).find_map(|line| {
        let c = DF_LINE.captures(line)?;
        Some(DiskUsage {
            filesystem: c[1].to_owned(),
            size_kb: c[2].parse().ok()?,
            used_kb: c[3].parse().ok()?,
            available_kb: c[4].parse().ok()?,
            used_percent: c[5].trim_end_matches('%').parse().ok(),
            mounted_on: c[6].to_owned(),
        })
    })
}

/// Is the journal's answer about the kernel usable? (An unprivileged user
/// sees only their own journal; a machine without journald has none.)
fn journal_unusable(section: &Section) -> Option<String> {
    if !section.ok() {
        return Some(section.reason());
    }
    let blind = [
        "No journal files were found",
        "No journal files were opened",
        "insufficient permissions",
        "not seeing messages from other users",
    ];
    blind
        .iter()
        .any(|b| section.stderr.contains(b))
        .then(|| section.reason())
}

impl Report {
    /// Build the report from the script's sections; `local_now` stands in
    /// for a server clock that could not be read.
    pub fn from_sections(sections: &Sections, request: &Request, local_now: SystemTime) -> Report {
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
            time: clock.now.map(rfc3339),
            uptime_s: clock.uptime.and_then(|u| u64::try_from(u).ok()),
            since: cutoff.map(rfc3339),
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

fn kernel_log(
    sections: &Sections,
    clock: &Clock,
    cutoff: Option<i64>,
    restricted: bool,
) -> Result<KernelLog, String> {
    let missing = Section::default();
    let journal = sections.get("journal").unwrap_or(&missing);
    let dmesg = sections.get("dmesg").unwrap_or(&missing);
    let within = |kills: Vec<OomKill>| -> Vec<OomKill> {
        kills
            .into_iter()
            .filter(|k| match (cutoff, k.epoch) {
                (Some(cutoff), Some(epoch)) => epoch >= cutoff,
                _ => true,
            })
            .collect()
    };
    let journal_problem = journal_unusable(journal);
    if journal_problem.is_none() {
        return Ok(KernelLog {
            source: "journalctl",
            events: within(parse_oom_kills(journal_messages(&journal.stdout))),
            notes: Vec::new(),
        });
    }
    let journal_problem = prefixed("journalctl", &journal_problem.unwrap_or_default());
    if dmesg.ok() {
        let messages = dmesg_messages(&dmesg.stdout, clock);
        let mut notes = vec![format!("not from the journal ({journal_problem})")];
        if messages.iter().any(|(epoch, _)| epoch.is_none()) && cutoff.is_some() {
            notes.push(
                "some dmesg lines have no usable timestamp: those events are shown whatever --since says"
                    .to_owned(),
            );
        }
        return Ok(KernelLog {
            source: "dmesg",
            events: within(parse_oom_kills(messages)),
            notes,
        });
    }
    let mut dmesg_problem = prefixed("dmesg", &dmesg.reason());
    if restricted {
        dmesg_problem.push_str(
            " (kernel.dmesg_restrict is 1: only root, or CAP_SYSLOG, may read the kernel log; \
             members of the adm or systemd-journal groups may read it from the journal)",
        );
    }
    Err(format!(
        "the kernel log is not readable here: {journal_problem}; {dmesg_problem}"
    ))
}

/// `tool: reason`, unless the tool already said its name.
fn prefixed(tool: &str, reason: &str) -> String {
    if reason.starts_with(&format!("{tool}:")) {
        reason.to_owned()
    } else {
        format!("{tool}: {reason}")
    }
}

fn disks(sections: &Sections, request: &Request) -> Vec<Disk> {
    let mut disks = Vec::new();
    match &request.site {
        Some(Ok(site)) => disks.push(Disk {
            what: "site",
            path: site.clone(),
            usage: df_item(sections, "disk-site"),
        }),
        Some(Err(why)) => disks.push(Disk {
            what: "site",
            path: String::new(),
            usage: Item::Unavailable {
                unavailable: why.clone(),
            },
        }),
        None => {}
    }
    for (what, path, section) in [
        ("tmp", "/tmp", "disk-tmp"),
        ("logs", "/var/log", "disk-logs"),
    ] {
        disks.push(Disk {
            what,
            path: path.to_owned(),
            usage: df_item(sections, section),
        });
    }
    disks
}

fn df_item(sections: &Sections, name: &str) -> Item<DiskUsage> {
    Item::from(sections.output(name).and_then(|text| {
        parse_df(text).ok_or_else(|| format!("df said something unexpected: {}", text.trim()))
    }))
}

#[cfg(test)]
mod tests;
