//! What happens while roadie works, as data: output from a host, warnings,
//! and how each host's work ended. Produced by the layers that run things,
//! rendered by [`crate::output`].

use bytes::Bytes;
use serde::Serialize;

use crate::safety::Lock;

/// Which of a command's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a host's work ended, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostResult {
    pub host: String,
    /// `ok`, `failed` (non-zero exit), `refused` (by a safeguard) or
    /// `error` (could not run it).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    Started { host: String },
    /// Raw output from a host, as it came; shown line by line, as
    /// [`Event::Output`] in JSON.
    #[serde(skip)]
    Data {
        host: String,
        stream: Stream,
        data: Bytes,
    },
    /// One line of a host's output.
    Output {
        host: String,
        stream: Stream,
        line: String,
    },
    /// Something the user should know that is not an error.
    Warning { host: String, message: String },
    /// A host is done.
    #[serde(rename = "host")]
    Finished(Box<HostResult>),
    /// Every host is done: how many ended how, and the exit code.
    Summary {
        hosts: usize,
        ok: usize,
        failed: usize,
        errors: usize,
        refused: usize,
        exit_code: i32,
    },
    /// What stopped one host (`host`), or the whole command (`exit_code`).
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        kind: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },
}

/// The step that ended a job early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedStep {
    /// 1-based.
    pub index: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The end of its stderr.
    pub stderr: String,
}

/// One sample: when (from the start), how much, in how many processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub at_ms: u64,
    pub rss_kib: u64,
    pub processes: u32,
}

/// What the watch saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryReport {
    pub interval_ms: u64,
    pub peak_kib: u64,
    pub peak_at_ms: u64,
    pub samples: Vec<Sample>,
    /// When the command was killed: the kernel log's line about the OOM
    /// kill of one of its processes, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kill: Option<String>,
    /// When the command was killed and the kernel log could not say why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_unknown: Option<String>,
}
