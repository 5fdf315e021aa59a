//! What happens while roadie works, as data: output from a host, warnings,
//! and how each host's work ended. Produced by the layers that run things,
//! rendered by roadie's output layer.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::safety::{Lock, SafetyClass};

mod debug;
mod env;
mod hosts;
mod stacks;
mod tunnel;

pub use debug::{
    Attached, DebugEvent, DebugSession, Ended, Kind, PublishEvent, PublishedSession, Record,
    Waiting,
};
pub use env::{HostEnv, Malformed};
pub use hosts::{HostLine, HostListing, Offered};
pub use stacks::{Frame, Stacks, TestProcess, Thread};
pub use tunnel::TunnelEvent;

/// Which of a command's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a host's work ended, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostResult {
    /// The host, as the inventory names it.
    pub host: String,
    /// `ok`, `failed` (non-zero exit), `refused` (by a safeguard) or
    /// `error` (could not run it).
    pub status: String,
    /// The command's exit code (an error's, when it could not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that killed the command, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// What went wrong, when it could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What kind of error that was (`connect`, `auth`, `host_key`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The safeguard that refused the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// The fingerprint of the key the host presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// The task run, for `roadie task`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// What the task's steps captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured: Option<std::collections::BTreeMap<String, String>>,
    /// The step that ended the job early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<FailedStep>,
    /// `--check`: the commands that would run, step by step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_run: Option<Vec<String>>,
    /// How long the host's work took.
    pub duration_ms: u64,
    /// `--watch-memory`: what the command's process tree used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryReport>,
}

/// Something that happened: what the layers that run things send, what the
/// human renderer shows, and (serialised, its kind in `event`) each line
/// of `--json` output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Work on a host began (no JSON line of its own).
    #[serde(skip)]
    Started {
        /// The host, as the inventory names it.
        host: String,
    },
    /// Raw output from a host, as it came; shown line by line, as
    /// [`Event::Output`] in JSON.
    #[serde(skip)]
    Data {
        /// The host, as the inventory names it.
        host: String,
        /// Which stream.
        stream: Stream,
        /// The bytes, as they came.
        data: Bytes,
    },
    /// One line of a host's output.
    Output {
        /// The host, as the inventory names it.
        host: String,
        /// Which stream.
        stream: Stream,
        /// The line, without its newline.
        line: String,
    },
    /// Something the user should know that is not an error.
    Warning {
        /// The host, as the inventory names it.
        host: String,
        /// The warning.
        message: String,
    },
    /// A host is done.
    #[serde(rename = "host")]
    Finished(Box<HostResult>),
    /// Every host is done: how many ended how, and the exit code.
    Summary {
        /// How many hosts.
        hosts: usize,
        /// How many did all they were asked.
        ok: usize,
        /// How many ran and failed.
        failed: usize,
        /// How many could not run.
        errors: usize,
        /// How many a safeguard refused.
        refused: usize,
        /// The exit code of the whole command.
        exit_code: i32,
    },
    /// A transfer (`put`, `get`) on one host: its totals, or why it failed.
    Transfer {
        /// The host, as the inventory names it.
        host: String,
        /// `put` or `get`.
        direction: String,
        /// `ok`, `refused` or `error`.
        status: String,
        /// Files, directories, links and bytes copied, when it worked.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        totals: Option<TransferTotals>,
        /// What went wrong, when it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// What kind of error that was.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_kind: Option<String>,
        /// The error's exit code.
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },
    /// A kept connection (`roadie persist status`).
    KeptConnection {
        /// The host, as the inventory names it.
        host: String,
        /// `user@host:port`.
        address: String,
        /// The environment it was reached under.
        environment: Option<String>,
        /// The holder's process id.
        pid: u32,
        /// Is the holder there?
        running: bool,
        /// How many roadie processes use it now.
        clients: usize,
        /// How long it is kept after its last use.
        keep_secs: f64,
        /// When an idle one closes.
        exits_in_secs: Option<f64>,
        /// When it was opened.
        started: String,
        /// Its socket.
        socket: std::path::PathBuf,
    },
    /// A kept connection stopped (`roadie persist stop`).
    KeptConnectionStopped {
        /// The host, as the inventory names it.
        host: String,
        /// Was a running holder stopped (else a stale record was removed)?
        stopped: bool,
    },
    /// `roadie sandbox up`.
    SandboxUp {
        /// The environment written to roadie.yaml.
        environment: String,
        /// Each server's `address:port`.
        hosts: Vec<String>,
        /// The protected server's `address:port`, with `--production`.
        production: Option<String>,
        /// The inventory written.
        inventory: std::path::PathBuf,
    },
    /// `roadie sandbox down`: how many servers were stopped.
    SandboxDown {
        /// How many servers.
        stopped: usize,
    },
    /// `roadie sandbox status`.
    SandboxStatus {
        /// Is every server up?
        running: bool,
        /// Each server.
        hosts: Vec<SandboxHost>,
    },
    /// A task of the playbooks (`roadie tasks`).
    Task {
        /// The playbook it is in.
        playbook: String,
        /// Its name.
        task: String,
        /// What it may do to a host.
        class: SafetyClass,
        /// Its parameters' names.
        params: Vec<String>,
        /// What it does.
        description: Option<String>,
        /// The playbook's file.
        origin: String,
    },
    /// What stopped one host (`host`), or the whole command (`exit_code`).
    Error {
        /// The host, when one host failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// What kind of error (`connect`, `auth`, `usage`, ...).
        kind: String,
        /// What went wrong, with its causes.
        message: String,
        /// The exit code, when the whole command stopped.
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The safeguard that refused, when one did.
        #[serde(skip_serializing_if = "Option::is_none")]
        lock: Option<Lock>,
    },
    /// `roadie diagnose`: one host's report (its sections as the README
    /// documents them).
    Diagnose {
        /// The host, as the inventory names it.
        host: String,
        /// The report's sections.
        #[serde(flatten)]
        report: serde_json::Map<String, serde_json::Value>,
    },
    /// `roadie env`: a host's `.env`, as read.
    Env(HostEnv),
    /// `roadie env --set/--unset/--ensure-secret`: a host's `.env`, as
    /// edited.
    EnvEdit(HostEnv),
    /// `roadie debug --stacks`: one process's stacks.
    Stacks {
        /// The host, as the inventory names it.
        host: String,
        /// The stacks.
        #[serde(flatten)]
        stacks: Stacks,
    },
    /// `roadie debug --stacks`: a process whose stacks could not be read.
    StacksUnavailable {
        /// The host, as the inventory names it.
        host: String,
        /// The process.
        pid: u32,
        /// Its command line.
        command: String,
        /// Why not, and what to do about it.
        reason: String,
    },
    /// `roadie debug --running`: a test process and its test.
    TestRunning {
        /// The host, as the inventory names it.
        host: String,
        /// The process.
        #[serde(flatten)]
        running: TestProcess,
        /// In its test longer than `--slow`.
        slow: bool,
    },
    /// What a tunnel reports (its kind in `event`, as the variant names it).
    #[serde(untagged)]
    Tunnel(TunnelEvent),
    /// What `roadie debug` reports (its kind in `event`).
    #[serde(untagged)]
    Debug(DebugEvent),
    /// What `roadie debug --publish` reports (its kind in `event`).
    #[serde(untagged)]
    Publish(PublishEvent),
    /// A `roadie hosts` line (`event` is `host`, as for a host result).
    #[serde(untagged)]
    Listing(HostListing),
}

/// What a transfer copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferTotals {
    /// Files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub links: u64,
    /// Bytes.
    pub bytes: u64,
    /// How long it took.
    pub duration_ms: u64,
}

/// One sandbox server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxHost {
    /// `address:port`.
    pub host: String,
    /// sshd's process id.
    pub pid: u32,
    /// Is it there and listening?
    pub up: bool,
}

/// The step that ended a job early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    /// 1-based.
    pub index: usize,
    /// The step's name.
    pub name: String,
    /// Its exit code, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The end of its stderr.
    pub stderr: String,
}

/// One sample: when (from the start), how much, in how many processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When, from the start of the command.
    pub at_ms: u64,
    /// The resident memory of the whole process tree.
    pub rss_kib: u64,
    /// How many processes it had.
    pub processes: u32,
}

/// What the watch saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryReport {
    /// How often it was sampled.
    pub interval_ms: u64,
    /// The most memory the tree used.
    pub peak_kib: u64,
    /// When it used that much, from the start.
    pub peak_at_ms: u64,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// When the command was killed: the kernel log's line about the OOM
    /// kill of one of its processes, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kill: Option<String>,
    /// When the command was killed and the kernel log could not say why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_unknown: Option<String>,
}

#[cfg(test)]
mod tests;
