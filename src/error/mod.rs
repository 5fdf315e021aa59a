//! Errors and the exit-code contract.

use std::time::Duration;

mod connect;
mod playbook;

pub use connect::{AuthFailure, ConnectError, HostKeyError};
pub use playbook::PlaybookError;

use crate::inventory::InventoryError;
use crate::safety::Refusal;
use crate::ssh_config::ConfigError;

/// Exit codes, as published in the README.
pub mod exit_code {
    /// Everything succeeded.
    pub const SUCCESS: i32 = 0;
    /// A remote command failed on one of several hosts (a single host's own
    /// exit code is passed through instead).
    pub const FAILED: i32 = 1;
    /// Bad command line or configuration.
    pub const USAGE: i32 = 2;
    /// Refused by a safeguard.
    pub const REFUSED: i32 = 3;
    /// Connection, authentication or host-key failure.
    pub const CONNECTION: i32 = 4;
    /// A command ran past its `--timeout` (as GNU `timeout` reports it).
    pub const TIMEOUT: i32 = 124;
    /// Stopped by Ctrl-C (SIGINT), as shells report it.
    pub const INTERRUPTED: i32 = 130;
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("{0}")]
    Target(String),
    #[error("{host}: ssh_config: {source}")]
    SshConfig {
        host: String,
        #[source]
        source: ConfigError,
    },
    #[error("{host}: {source}")]
    Connect {
        host: String,
        #[source]
        source: Box<ConnectError>,
    },
    #[error("{host}: connection lost while running the command: {reason}")]
    ConnectionLost { host: String, reason: String },
    #[error("{host}: command timed out after {}s and was stopped", .after.as_secs_f64())]
    Timeout { host: String, after: Duration },
    #[error("{host}: {message}")]
    Sudo { host: String, message: String },
    #[error("{host}: interrupted; {done}")]
    Interrupted {
        host: String,
        /// What roadie did about the work under way, in words.
        done: &'static str,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error(transparent)]
    Refused(Box<Refusal>),
    #[error("{host}: not run: {reason}")]
    NotRun { host: String, reason: String },
    #[error("{host}: {message}")]
    Remote { host: String, message: String },
    #[error(transparent)]
    Playbook(#[from] PlaybookError),
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Inventory(_)
            | Error::Target(_)
            | Error::SshConfig { .. }
            | Error::Sandbox(_)
            | Error::Playbook(_) => exit_code::USAGE,
            Error::Connect { .. } | Error::ConnectionLost { .. } => exit_code::CONNECTION,
            Error::Timeout { .. } => exit_code::TIMEOUT,
            Error::Refused(_) | Error::NotRun { .. } => exit_code::REFUSED,
            Error::Interrupted { .. } => exit_code::INTERRUPTED,
            Error::Sudo { .. } | Error::Io { .. } | Error::Remote { .. } => exit_code::FAILED,
        }
    }

    /// A short machine-readable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::Inventory(_) => "inventory",
            Error::Target(_) => "target",
            Error::SshConfig { .. } => "ssh_config",
            Error::Connect { source, .. } => source.kind(),
            Error::ConnectionLost { .. } => "connection_lost",
            Error::Timeout { .. } => "timeout",
            Error::Sudo { .. } => "sudo",
            Error::Interrupted { .. } => "interrupted",
            Error::Io { .. } => "io",
            Error::Sandbox(_) => "sandbox",
            Error::Refused(_) => "refused",
            Error::NotRun { .. } => "not_run",
            Error::Remote { .. } => "remote",
            Error::Playbook(_) => "playbook",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The whole chain of causes, one per line, for people.
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str("\n  caused by: ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
