//! Why a connection could not be set up: plain data, so that [`super::Error`]
//! can carry it; the SSH layer ([`crate::ssh`]) produces it.

use std::path::PathBuf;
use std::time::Duration;

use crate::known_hosts::Place;
use crate::safety::Refusal;

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name could not be looked up.
    #[error("cannot resolve {name}: {source}")]
    Resolve {
        /// The name looked up.
        name: String,
        /// What the resolver said.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection failed.
    #[error("cannot connect to {addr}: {source}")]
    Tcp {
        /// The address dialled.
        addr: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A step of connecting took longer than the connect timeout.
    #[error("no answer within {}s while {phase}; is the host up and is sshd listening on that port?", .after.as_secs_f64())]
    Timeout {
        /// What was under way (`connecting`, `key exchange`, `authenticating`).
        phase: &'static str,
        /// How long it waited.
        after: Duration,
    },
    /// The server's host key was refused.
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
    /// No key that was offered logged in.
    #[error("{0}")]
    Auth(AuthFailure),
    #[error(
        "the server closed the connection during authentication \
         (sshd stopped, or dropped the login: MaxStartups, LoginGraceTime)"
    )]
    /// The server closed the connection while roadie logged in.
    ClosedDuringAuth,
    #[error(
        "the server closed the connection before login, during key exchange \
         (sshd stopped, or dropped it: MaxStartups)"
    )]
    /// The server closed the connection during key exchange.
    ClosedDuringKex,
    /// A known_hosts file could not be read.
    #[error("cannot read known_hosts: {0}")]
    KnownHosts(#[source] std::io::Error),
    /// The SSH protocol failed.
    #[error("SSH error: {0}")]
    Protocol(#[source] russh::Error),
    /// A safeguard refused the host during key exchange.
    #[error(transparent)]
    Refused(Box<Refusal>),
    /// What the holder of a persistent connection met connecting.
    #[error("{message}")]
    Relayed {
        /// The kind of failure the holder met (as [`ConnectError::kind`] names it).
        kind: String,
        /// What it said.
        message: String,
    },
    /// The `ProxyCommand` could not be started, or exited.
    #[error("the ProxyCommand `{command}` {problem}")]
    Proxy {
        /// The command, as run.
        command: String,
        /// What happened to it, in words.
        problem: String,
    },
    /// The `ProxyCommand` carried no key exchange within the connect timeout.
    #[error(
        "the ProxyCommand `{command}` carried no SSH key exchange within {}s, and was stopped \
         (run it by hand to see whether it reaches the server)",
        .after.as_secs_f64()
    )]
    ProxyTimeout {
        /// The command, as run.
        command: String,
        /// How long it was given.
        after: Duration,
    },
    /// A jump host on the way failed.
    #[error("through jump host {hop}: {source}")]
    Jump {
        /// The jump host.
        hop: String,
        /// How it failed.
        #[source]
        source: Box<ConnectError>,
    },
}

impl ConnectError {
    pub(crate) fn protocol(e: russh::Error) -> ConnectError {
        ConnectError::Protocol(e)
    }

    /// A short machine-readable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectError::Resolve { .. }
            | ConnectError::Tcp { .. }
            | ConnectError::Proxy { .. } => "connect",
            ConnectError::Timeout { .. } | ConnectError::ProxyTimeout { .. } => "connect_timeout",
            ConnectError::HostKey(_) | ConnectError::KnownHosts(_) => "host_key",
            ConnectError::Auth(_) => "auth",
            ConnectError::ClosedDuringAuth | ConnectError::ClosedDuringKex => "connection_lost",
            ConnectError::Protocol(_) => "protocol",
            ConnectError::Refused(_) => "refused",
            ConnectError::Jump { source, .. } => source.kind(),
            ConnectError::Relayed { kind, .. } => match kind.as_str() {
                "connect_timeout" => "connect_timeout",
                _ => "connect",
            },
        }
    }
}

/// Why a host key was refused.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error(
        "host key not known: {name} presented {presented}, which is not in {files}.\n  \
         If you trust this server, run again with --accept-new to record its key \
         (or add it yourself: {add})"
    )]
    /// The key is in no known_hosts file consulted.
    Unknown {
        /// The name the key is looked up under.
        name: String,
        /// The key the server presented, described.
        presented: String,
        /// The files consulted.
        files: String,
        /// The command that would add it: `ssh-keyscan` appending to the
        /// known_hosts file `--accept-new` would record it in.
        add: String,
    },
    #[error(
        "HOST KEY CHANGED for {name}: the server presented {presented}, but {place} records {recorded}.\n  \
         Someone may be intercepting the connection, or the server was reinstalled.\n  \
         If you are sure the new key is right, remove the old one \
         (ssh-keygen -R '{name}' -f {}) and connect again",
        .place.file.display()
    )]
    /// known_hosts records another key of the same type for this name.
    Changed {
        /// The name the key is looked up under.
        name: String,
        /// The key the server presented, described.
        presented: String,
        /// The key known_hosts records.
        recorded: String,
        /// Where it is recorded.
        place: Place,
    },
    #[error(
        "host key REVOKED: {name} presented {presented}, which {place} marks @revoked; refusing to connect"
    )]
    /// known_hosts marks the presented key `@revoked`.
    Revoked {
        /// The name the key is looked up under.
        name: String,
        /// The key the server presented, described.
        presented: String,
        /// The `@revoked` line.
        place: Place,
    },
    #[error(
        "host key type changed for {name}: the server presented {presented}, but {place} records only {recorded}.\n  \
         If the server's keys really changed, remove the old entry (ssh-keygen -R '{name}') and connect again"
    )]
    /// known_hosts records only keys of other types for this name.
    OtherTypes {
        /// The name the key is looked up under.
        name: String,
        /// The key the server presented, described.
        presented: String,
        /// The key types recorded.
        recorded: String,
        /// Where they are recorded.
        place: Place,
    },
    #[error(
        "the holder of the kept connection to {name} presented {presented}, not the key it recorded"
    )]
    /// The holder of a kept connection presented another key than it recorded.
    Holder {
        /// The name the key is looked up under.
        name: String,
        /// The key it presented, described.
        presented: String,
    },
    #[error(
        "{name} presented a host certificate that known_hosts ({files}) does not vouch for: {why}.\n  \
         known_hosts trusts host certificates through lines '@cert-authority HOST-PATTERNS CA-PUBLIC-KEY' (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT)"
    )]
    /// The server presented a host certificate that is not trusted.
    Certificate {
        /// The name the key is looked up under.
        name: String,
        /// Which check failed, in words.
        why: String,
        /// The known_hosts files consulted.
        files: String,
    },
    /// A newly accepted key could not be written to known_hosts.
    #[error("cannot record the host key of {name} in {}: {source}", .file.display())]
    Record {
        /// The name the key is recorded under.
        name: String,
        /// The known_hosts file.
        file: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// Why authentication failed: every key tried and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// The user roadie tried to log in as.
    pub user: String,
    /// Every key tried, and what became of it.
    pub tried: Vec<String>,
    /// The host key the server presented (it was verified before login).
    pub server_key: Option<String>,
    /// The environment whose identity was the only key offered.
    pub environment: Option<String>,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "authentication failed for user '{}'", self.user)?;
        if self.tried.is_empty() {
            write!(
                f,
                ": no keys to offer (no ssh-agent, no identity in roadie.yaml or ssh_config, no ~/.ssh/id_* files)"
            )
        } else {
            write!(f, "; tried:")?;
            for t in &self.tried {
                write!(f, "\n    {t}")?;
            }
            Ok(())
        }?;
        if let Some(env) = &self.environment {
            write!(
                f,
                "\n  (environment-key lock: only the identity of '{env}' is offered to its hosts; \
                 if this server is not in '{env}', that is the lock doing its job)"
            )?;
        }
        Ok(())
    }
}
