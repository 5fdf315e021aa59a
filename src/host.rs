//! A host, resolved and ready to connect to: the one value every layer above
//! the parsers hands along (the resolver makes it, the guard judges it, the
//! SSH layer dials it, templates render with it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::safety::Safety;

/// Used when neither the command line nor ssh_config sets a connect timeout.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connect timeout as ssh reads it: zero (`ConnectTimeout 0`) means none,
/// so connecting waits as long as the system lets it.
pub(crate) fn connect_limit(timeout: Duration) -> Duration {
    if timeout.is_zero() {
        Duration::MAX
    } else {
        timeout
    }
}
/// How many connections to one server may be logging in at once when
/// `--max-starts` is not given: below sshd's `MaxStartups` default of 10
/// unauthenticated connections, leaving room for other clients.
pub(crate) const DEFAULT_MAX_STARTS: usize = 8;
/// Used when ssh_config sets no `ServerAliveInterval`.
pub(crate) const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Used when ssh_config sets no `ServerAliveCountMax`.
pub(crate) const DEFAULT_KEEPALIVE_MAX: u32 = 3;

/// What to do with a host key that known_hosts does not vouch for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostKeyPolicy {
    /// Refuse unknown and changed keys (the default).
    Strict,
    /// Record unknown keys (trust on first use); refuse changed ones.
    AcceptNew,
    /// Accept anything. Only from `--insecure-ignore-host-key`.
    Ignore,
}

/// How the client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Key files, in the order they are tried.
    pub identity_files: Vec<PathBuf>,
    /// Certificate files: the `CertificateFile`s, then `KEY-cert.pub` beside
    /// each identity file that has one. Each is offered with the key it
    /// certifies (an identity file's or an agent key), before that key.
    pub certificate_files: Vec<PathBuf>,
    /// Offer only keys from `identity_files` (agent keys included only when
    /// they are one of those).
    pub identities_only: bool,
    /// The ssh-agent socket, if any.
    pub agent: Option<PathBuf>,
    /// The environment whose `identity` is the only key offered (the
    /// environment-key lock), for messages.
    pub environment_identity: Option<String>,
}

/// How the server's host key is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKeyConfig {
    /// The name the key is recorded under (`host`, `[host]:port`, or `HostKeyAlias`).
    pub name: String,
    /// known_hosts files to consult.
    pub files: Vec<PathBuf>,
    /// Where a newly accepted key is written.
    pub record_to: Option<PathBuf>,
    /// Write new entries hashed (`HashKnownHosts yes`).
    pub hash: bool,
    pub policy: HostKeyPolicy,
}

/// The algorithm lists ssh_config sets (`KexAlgorithms`,
/// `HostKeyAlgorithms`, `MACs`, `PubkeyAcceptedAlgorithms`): the names
/// roadie offers, most wanted first; `None` where unset (roadie's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Algorithms {
    /// Key exchange.
    pub kex: Option<Vec<String>>,
    /// Host-key algorithms; those whose key type known_hosts records for the
    /// host are asked for first.
    pub host_keys: Option<Vec<String>>,
    /// MACs.
    pub macs: Option<Vec<String>>,
    /// The signature algorithms public-key login may use.
    pub pubkey: Option<Vec<String>>,
    /// What the user should know about them, each naming its file and line:
    /// names left out, SHA-1 RSA signatures allowed.
    pub warnings: Vec<String>,
}

/// A host, resolved and ready to connect to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// How the host is named in output: the inventory entry as written.
    pub label: String,
    /// The host's name as listed, without a port: `{{ host }}` in templates.
    pub name: String,
    /// The inventory environment it is listed under.
    pub environment: Option<String>,
    /// Is that environment protected?
    pub protected: bool,
    /// Address or DNS name to connect to.
    pub hostname: String,
    /// The port to connect to.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// How to log in.
    pub auth: AuthConfig,
    /// How the server's key is checked.
    pub host_key: HostKeyConfig,
    /// How long each step of connecting may take; `Duration::MAX` for no
    /// limit (`ConnectTimeout 0`).
    pub connect_timeout: Duration,
    /// Keepalive interval and how many unanswered ones end the connection.
    pub keepalive: Option<(Duration, u32)>,
    /// `Ciphers` from ssh_config, most wanted first (russh's default if unset).
    pub ciphers: Option<Vec<String>>,
    /// The other algorithm lists from ssh_config.
    pub algorithms: Algorithms,
    /// The jump host this one is reached through (`ProxyJump`).
    pub via: Option<Box<Host>>,
    /// The local command whose stdin and stdout carry the connection
    /// (`ProxyCommand`), its tokens expanded; run with `sh -c`.
    pub proxy_command: Option<String>,
    /// The local ssh-agent socket forwarded to the host's commands
    /// (`ForwardAgent`); `None`: not forwarded.
    pub forward_agent: Option<PathBuf>,
    /// At most this many connections to the server this one logs in to may
    /// be setting up (connect, key exchange, authentication) at once.
    pub max_starts: usize,
    /// Keep the connection open this long after its last use, for later
    /// invocations to reuse (`--persist`).
    pub persist: Option<Duration>,
    /// Its variables for templates: the inventory's, its environment's, its own.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// The inventory's protection facts (pinned keys, markers), for the guard.
    pub safety: Arc<Safety>,
}

impl Host {
    /// A host with defaults, for unit tests elsewhere in the crate.
    #[cfg(test)]
    pub(crate) fn for_tests(name: &str) -> Host {
        Host {
            label: name.into(),
            name: name.into(),
            environment: None,
            protected: false,
            hostname: name.into(),
            port: 22,
            user: "user".into(),
            auth: AuthConfig {
                identity_files: Vec::new(),
                certificate_files: Vec::new(),
                identities_only: false,
                agent: None,
                environment_identity: None,
            },
            host_key: HostKeyConfig {
                name: name.into(),
                files: Vec::new(),
                record_to: None,
                hash: false,
                policy: HostKeyPolicy::Strict,
            },
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keepalive: None,
            ciphers: None,
            algorithms: Algorithms::default(),
            via: None,
            proxy_command: None,
            forward_agent: None,
            max_starts: DEFAULT_MAX_STARTS,
            persist: None,
            vars: BTreeMap::new(),
            safety: Arc::new(Safety::default()),
        }
    }

    /// `user@host:port`, for messages.
    pub fn address(&self) -> String {
        if self.hostname.contains(':') {
            format!("{}@[{}]:{}", self.user, self.hostname, self.port)
        } else {
            format!("{}@{}:{}", self.user, self.hostname, self.port)
        }
    }
}
