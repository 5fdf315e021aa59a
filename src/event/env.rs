//! `roadie env`: a host's `.env`, as read (values masked unless revealed)
//! or as edited.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one host's `.env` gave (events `env` and `env_edit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEnv {
    /// The host, as the inventory names it.
    pub host: String,
    /// The file, on the server.
    pub file: String,
    /// Read: each key asked for and its value, masked unless revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, String>>,
    /// Edited: the keys changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<Vec<String>>,
    /// The lines that are not `KEY=value`.
    pub malformed: Vec<Malformed>,
    /// Read: the keys asked for that are not set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// A line of a `.env` that is not `KEY=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// 1-based.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}
