//! What happens while roadie works, as data: output from a host, warnings,
//! and how each host's work ended. Produced by the layers that run things,
//! rendered by roadie's output layer.

use bytes::Bytes;
use serde::Serialize;

use crate::safety::Lock;

/// Which of a command's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a host's work ended, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostResult {
    /// The host, as the inventory names it.
    pub host: String,
    /// `ok`, `failed` (non-zero exit), `refused` (by a safeguard) or
    /// `error` (could not run it).
    pub status: &'static str,
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
    pub error_kind: Option<&'static str>,
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
#[derive(Debug, Clone, Serialize)]
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
    /// What stopped one host (`host`), or the whole command (`exit_code`).
    Error {
        /// The host, when one host failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// What kind of error (`connect`, `auth`, `usage`, ...).
        kind: &'static str,
        /// What went wrong, with its causes.
        message: String,
        /// The exit code, when the whole command stopped.
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },
}

/// The step that ended a job early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// When, from the start of the command.
    pub at_ms: u64,
    /// The resident memory of the whole process tree.
    pub rss_kib: u64,
    /// How many processes it had.
    pub processes: u32,
}

/// What the watch saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
