//! The words the guard judges in: what a step may do ([`SafetyClass`]),
//! what the user asked ([`Intent`]), each environment's protection facts
//! ([`Safety`]), which lock refused and why ([`Refusal`]). Plain data, so
//! that the inventory, playbooks and errors can name them; the rules are in
//! [`crate::guard`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::inventory::{EnvMarker, Inventory};

/// What a step may do to a host.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum SafetyClass {
    /// Inspect only: `hosts --check`, reading `.env`, logs.
    Read,
    /// Deploy, edit `.env`, ad-hoc `run`, open a tunnel.
    #[default]
    Change,
    /// Database reset, session creation, any step marked destroy.
    Destroy,
}

impl fmt::Display for SafetyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SafetyClass::Read => "read",
            SafetyClass::Change => "change",
            SafetyClass::Destroy => "destroy",
        })
    }
}

/// Which lock refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lock {
    /// A protected environment: no destroy, change only when confirmed.
    ProtectedEnvironment,
    /// A host key pinned under an environment says what the server is.
    PinnedHostKey,
    /// An environment's identity is the only key offered to its hosts.
    EnvironmentKey,
    /// Marker files and `.env` contents on the server say what it is.
    ServerMarker,
    /// One host or key under a protected and an unprotected environment.
    InventorySanity,
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lock::ProtectedEnvironment => "protected-environment",
            Lock::PinnedHostKey => "pinned-host-key",
            Lock::EnvironmentKey => "environment-key",
            Lock::ServerMarker => "server-marker",
            Lock::InventorySanity => "inventory-sanity",
        })
    }
}

/// What the user asked to do, and what they confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub class: SafetyClass,
    /// `--confirm ENV`: the protected environment the user means to change.
    pub confirm: Option<String>,
}

impl Intent {
    pub fn read() -> Intent {
        Intent {
            class: SafetyClass::Read,
            confirm: None,
        }
    }
}

/// A refusal: which lock, where, and what would have to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{host}: refused by the {lock} lock: {reason}{}\n  {remedy}", key_note(.fingerprint.as_deref()))]
pub struct Refusal {
    /// Which lock refused.
    pub lock: Lock,
    /// The host, as the inventory names it.
    pub host: String,
    /// The environment it was reached under.
    pub environment: Option<String>,
    /// The key the server presented, when it was seen.
    pub fingerprint: Option<String>,
    /// Why.
    pub reason: String,
    /// What would have to change.
    pub remedy: String,
}

fn key_note(fingerprint: Option<&str>) -> String {
    fingerprint
        .map(|f| format!(" (host key {f})"))
        .unwrap_or_default()
}

/// The protection facts of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSafety {
    pub name: String,
    pub protected: bool,
    pub pins: Vec<String>,
    pub marker: Option<String>,
    pub env_marker: Vec<EnvMarker>,
    /// Its hosts' names as listed (`{{ host }}` in its templates).
    pub hosts: Vec<String>,
    /// Its `vars`: where its hosts keep their `.env`.
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// The protection facts of the whole inventory: every host carries them, so
/// that a host reached under one environment can be recognised as another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Safety {
    pub environments: Vec<EnvironmentSafety>,
}

impl Safety {
    pub fn from_inventory(inventory: &Inventory) -> Safety {
        Safety {
            environments: inventory
                .environments
                .iter()
                .map(|e| EnvironmentSafety {
                    name: e.name.clone(),
                    protected: e.protected,
                    pins: e.host_keys.clone(),
                    marker: e.marker.clone(),
                    env_marker: e.env_marker.clone(),
                    hosts: e.hosts.iter().map(|h| h.host.clone()).collect(),
                    vars: e.vars.clone(),
                })
                .collect(),
        }
    }

    pub fn environment(&self, name: &str) -> Option<&EnvironmentSafety> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The environment that pins `fingerprint`, protected ones first.
    pub fn pinned_under(&self, fingerprint: &str) -> Option<&EnvironmentSafety> {
        let mut pinning = self
            .environments
            .iter()
            .filter(|e| e.pins.iter().any(|p| p == fingerprint));
        let all: Vec<&EnvironmentSafety> = pinning.by_ref().collect();
        all.iter().find(|e| e.protected).or(all.first()).copied()
    }
}

/// What is known about a host once its key has been seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub fingerprint: String,
    /// The environment whose pin the key matched.
    pub pinned_under: Option<String>,
    /// The protected environment the host is treated as, if any.
    pub protected_as: Option<String>,
}
