//! Debugger sessions as roadie reports them (`roadie debug`, and
//! `roadie debug --publish`): what waits, where, and what became of it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What kind of debugger waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A raw TCP pdb prompt (remote-pdb, roadie's shim).
    RemotePdb,
    /// A web page (web-pdb).
    WebPdb,
    /// debugpy's adapter, for an editor (VS Code) to attach to.
    Debugpy,
}

/// A debugger session waiting on a server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Waiting {
    /// Its process.
    pub pid: u32,
    /// What kind of debugger it is.
    pub kind: Kind,
    /// The address it listens on, on the server.
    pub address: IpAddr,
    /// The port it listens on.
    pub port: u16,
    /// The test it stopped in, where that can be told.
    pub test: Option<String>,
    /// The pytest-xdist worker (`gw2`) it runs in, where the shim noted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The directory it runs in on the server (for an editor's path
    /// mappings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Its command line.
    pub command: String,
}

/// What a published session's record (`NAME.json` beside `NAME.sock`) says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The socket on the rendezvous host that reaches the session.
    pub socket: String,
    /// The host the tests run on (the runner's hostname).
    pub runner: String,
    /// The process that waits, on the runner.
    pub pid: u32,
    /// The test it stopped in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// The pytest-xdist worker (`gw2`) it runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The CI run or pipeline (`GITHUB_RUN_ID`, `CI_PIPELINE_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
    /// The CI job (`GITHUB_JOB`, `CI_JOB_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
    /// When it began to wait (seconds since the Unix epoch, runner's clock).
    pub started: u64,
    /// How long it waits for a client, in seconds (0: forever).
    pub timeout: u64,
    /// A client is attached.
    #[serde(default)]
    pub attached: bool,
}

/// A session published to a host from one nobody can reach, as events
/// show it (`published` is always true).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedSession {
    /// Always true: it was published.
    pub published: bool,
    /// Its record.
    #[serde(flatten)]
    pub record: Record,
    /// Seconds left of its wait (none: it waits forever).
    pub left_s: Option<u64>,
}

/// What `roadie debug` reports of the sessions it finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum DebugEvent {
    /// A session found, or waiting for a client.
    #[serde(rename = "debug_session")]
    Session(DebugSession),
    /// A client is connected: the session no longer listens, but lives.
    #[serde(rename = "debug_session_attached")]
    Attached(Attached),
    /// The session is over.
    #[serde(rename = "debug_session_ended")]
    Ended(Ended),
}

/// What `roadie debug --publish` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PublishEvent {
    /// A session waits, and is reachable from the rendezvous host.
    DebugPublished {
        /// The rendezvous host.
        host: String,
        /// The session's record there.
        #[serde(flatten)]
        record: Record,
    },
    /// It ended (`how`: `continue`, `quit`, `timeout`, when the shim said);
    /// its socket and record are gone from the rendezvous host.
    DebugUnpublished {
        /// The rendezvous host.
        host: String,
        /// The session's record there.
        #[serde(flatten)]
        record: Record,
        /// How it ended, when that is known.
        #[serde(skip_serializing_if = "Option::is_none")]
        how: Option<String>,
    },
}

/// A `debug_session` event: a session found waiting (`--once`: numbered,
/// nothing opened to it) or waiting at the end of a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DebugSession {
    /// `--once`: a session found waiting, nothing opened to it.
    Found {
        /// Its number in the list.
        number: usize,
        /// The host, as the inventory names it.
        host: String,
        /// The session.
        session: Waiting,
    },
    /// `--once`: a session published to the host.
    FoundPublished {
        /// Its number in the list.
        number: usize,
        /// The host, as the inventory names it.
        host: String,
        /// The session.
        session: PublishedSession,
    },
    /// A session waits for a client.
    Waiting {
        /// The host, as the inventory names it.
        host: String,
        /// The session.
        #[serde(flatten)]
        waiting: Waiting,
        /// The local end of the tunnel to it.
        local: String,
        /// How to connect: an `nc` line, or a URL.
        connect: String,
        /// It listens on every interface of the server.
        exposed: bool,
    },
    /// A session published to the host waits for a client.
    Published {
        /// The host, as the inventory names it.
        host: String,
        /// The session.
        #[serde(flatten)]
        session: PublishedSession,
        /// The local end of the tunnel to its socket.
        local: String,
        /// How to connect: an `nc` line.
        connect: String,
    },
}

/// A `debug_session_attached` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Attached {
    /// A session on the host has a client.
    Local {
        /// The host, as the inventory names it.
        host: String,
        /// Its process.
        pid: u32,
        /// Its port.
        port: u16,
    },
    /// A published session has a client.
    Published {
        /// The host, as the inventory names it.
        host: String,
        /// Its socket on the host.
        socket: String,
        /// Its process, on the runner.
        pid: u32,
    },
}

/// A `debug_session_ended` event; `how`, when known: `continue`, `quit` or
/// `timeout` (nobody attached in time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ended {
    /// A session on the host is over.
    Local {
        /// The host, as the inventory names it.
        host: String,
        /// Its process.
        pid: u32,
        /// Its port.
        port: u16,
        /// How it ended, when its shim noted it.
        #[serde(skip_serializing_if = "Option::is_none")]
        how: Option<String>,
    },
    /// A published session is over (its record is gone).
    Published {
        /// The host, as the inventory names it.
        host: String,
        /// Its socket on the host.
        socket: String,
        /// Its process, on the runner.
        pid: u32,
        /// Its test, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        test: Option<String>,
        /// `timeout` when its time was up.
        #[serde(skip_serializing_if = "Option::is_none")]
        how: Option<String>,
    },
}
