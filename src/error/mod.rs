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
    /// Bad command line or arguments.
    #[error("{0}")]
    Usage(String),
    /// A malformed roadie.yaml.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A TARGET that names no hosts, or not the ones needed.
    #[error("{0}")]
    Target(String),
    /// A malformed ssh_config.
    #[error("{host}: ssh_config: {source}")]
    SshConfig {
        /// The host whose settings were being read.
        host: String,
        /// What is wrong, and where.
        #[source]
        source: ConfigError,
    },
    /// The host could not be reached or logged in to.
    #[error("{host}: {source}")]
    Connect {
        /// The host, as the inventory names it.
        host: String,
        /// Why.
        #[source]
        source: Box<ConnectError>,
    },
    #[error("{host}: connection lost: {reason}")]
    /// The connection dropped while a command ran or files went across.
    ConnectionLost {
        /// The host, as the inventory names it.
        host: String,
        /// What ended it.
        reason: String,
    },
    #[error("{host}: command timed out after {}s and was stopped", .after.as_secs_f64())]
    /// A command ran past its timeout and was stopped.
    Timeout {
        /// The host, as the inventory names it.
        host: String,
        /// The timeout.
        after: Duration,
    },
    #[error("{host}: {message}")]
    /// sudo refused or needed a password.
    Sudo {
        /// The host, as the inventory names it.
        host: String,
        /// What sudo said, and what to do.
        message: String,
    },
    /// Stopped by Ctrl-C.
    #[error("{host}: interrupted; {done}")]
    Interrupted {
        /// The host, as the inventory names it.
        host: String,
        /// What roadie did about the work under way, in words.
        done: &'static str,
    },
    /// A local file or stream could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What roadie was doing.
        context: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A sandbox could not be set up.
    #[error("sandbox: {0}")]
    Sandbox(String),
    /// A safeguard refused.
    #[error(transparent)]
    Refused(Box<Refusal>),
    #[error("{host}: not run: {reason}")]
    /// Not run, because another host of the target was refused.
    NotRun {
        /// The host, as the inventory names it.
        host: String,
        /// Why it was not run.
        reason: String,
    },
    #[error("{host}: {message}")]
    /// Something on the server went wrong.
    Remote {
        /// The host, as the inventory names it.
        host: String,
        /// What went wrong.
        message: String,
    },
    /// A malformed playbook, or a task asked for wrongly.
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
