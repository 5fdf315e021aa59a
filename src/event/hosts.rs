//! `roadie hosts`: each host as roadie resolved it, and with `--check` what
//! logging in to it found.

use serde::{Deserialize, Serialize};

use crate::safety::Lock;

/// A `roadie hosts` line. Its `event` is `host`, as a host result's is;
/// the fields tell the two apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HostListing {
    /// One host.
    Host(Box<HostLine>),
}

/// One host as `roadie hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLine {
    /// The host, as the inventory names it.
    pub host: String,
    /// Its environment.
    pub environment: Option<String>,
    /// Is the environment protected?
    pub protected: bool,
    /// The name or address connected to.
    pub hostname: String,
    /// The port.
    pub port: u16,
    /// The login user.
    pub user: String,
    /// `user@host:port`.
    pub address: String,
    /// The key files offered.
    pub identities: Vec<String>,
    /// The certificate files offered.
    pub certificates: Vec<String>,
    /// The jump hosts, first hop first.
    pub via: Vec<String>,
    /// The `ProxyCommand` run to reach the host, tokens expanded.
    pub proxy_command: Option<String>,
    /// The local agent socket forwarded to the host (`ForwardAgent`).
    pub forward_agent: Option<String>,
    /// What roadie offers the host, by ssh_config keyword.
    pub algorithms: Offered,
    /// What ssh_config's algorithm lists leave out or allow that the user
    /// should know (each with its file and line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithm_warnings: Vec<String>,
    /// With --check: the fingerprint of the key the host presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// With --check: `ok`, or why logging in failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// With --check: what kind of error stopped the login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The safeguards that apply, in words.
    pub locks: Vec<String>,
    /// With --check: `allowed`, or why a destroy step would be refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destroy: Option<String>,
    /// With --check: the safeguard that would refuse a destroy step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destroy_lock: Option<Lock>,
}

/// What roadie offers a host, by ssh_config keyword, most wanted first:
/// the configured lists, or roadie's defaults. Host keys are before
/// known_hosts puts the key types it records for the host first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offered {
    /// `Ciphers`.
    pub ciphers: Vec<String>,
    /// `KexAlgorithms`.
    pub kex_algorithms: Vec<String>,
    /// `HostKeyAlgorithms`.
    pub host_key_algorithms: Vec<String>,
    /// `MACs`.
    pub macs: Vec<String>,
    /// `PubkeyAcceptedAlgorithms`.
    pub pubkey_accepted_algorithms: Vec<String>,
}
