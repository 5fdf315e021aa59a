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
//!
//! The files: `script.sh` (the script itself), `sections.rs` (its output
//! cut into items), `report.rs` (the report built from them),
//! `kernel_log.rs` (journalctl's or dmesg's lines), `oom_kill.rs` (a kill
//! read from them), `memory.rs`, `cgroup.rs`, `containers.rs`, `disk.rs`
//! (one item each), `since.rs` (`--since`) and `dates.rs` (times and the
//! server's clock).

mod cgroup;
mod containers;
mod dates;
mod disk;
mod kernel_log;
mod memory;
mod oom_kill;
mod report;
mod sections;
mod since;

use std::time::{Duration, SystemTime};

use crate::command::{RemoteCommand, quote, quote_path};
use crate::error::Error;
use crate::ssh::Session;

pub(crate) use cgroup::{CgroupMemory, Cgroups};
pub(crate) use containers::Containers;
pub(crate) use disk::Disk;
pub(crate) use kernel_log::KernelLog;
pub(crate) use memory::{Memory, TopProcesses};
pub(crate) use oom_kill::{OomKill, Scope};
pub(crate) use report::{Item, Report};
pub(crate) use sections::Sections;
pub(crate) use since::Since;

/// How many processes "top processes" lists.
pub(crate) const TOP_PROCESSES: usize = 10;
/// At most this many processes matched by `--name` are looked at.
pub(crate) const MAX_NAMED: usize = 20;
/// How long the whole script may take on a host.
pub(crate) const SCRIPT_LIMIT: Duration = Duration::from_secs(90);

/// The script. Arguments: token, journalctl's `--since` (empty: this boot),
/// pid, name pattern, site directory (empty: none).
const SCRIPT: &str = include_str!("script.sh");

/// Which process's cgroup limits to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Process {
    Pid(u32),
    /// An extended regular expression (as `grep -E`), matched against
    /// process names (as `ps` and `pgrep` show them).
    Name(String),
}

/// What to gather on a host.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub since: Option<Since>,
    pub process: Option<Process>,
    /// The site's directory on the server (`~/` is the remote home), or why
    /// it is not known.
    pub site: Option<Result<String, String>>,
}

impl Request {
    /// The command that gathers everything, its sections marked with `token`.
    pub(crate) fn command(&self, token: &str) -> RemoteCommand {
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
pub(crate) async fn diagnose(session: &Session, request: &Request) -> Result<Report, Error> {
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

#[cfg(test)]
mod tests;
