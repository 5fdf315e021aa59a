//! What tunnels report (`roadie tunnel`, and the tunnels of `roadie debug`).

use serde::{Deserialize, Serialize};

/// What tunnels report; each is a line of `--json` output of its own
/// (its kind in `event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TunnelEvent {
    /// A local port forwards to `remote` as seen from `host`.
    Listening {
        /// The host, as the inventory names it.
        host: String,
        /// The local end, `address:port`.
        local: String,
        /// Where it goes, as the server sees it.
        remote: String,
        /// The tunnel's name in roadie.yaml, if it has one.
        name: Option<String>,
    },
    /// The SSH connection dropped; local ports stay open.
    Disconnected {
        /// The host, as the inventory names it.
        host: String,
        /// Why.
        reason: String,
    },
    /// The SSH connection is back.
    Reconnected {
        /// The host, as the inventory names it.
        host: String,
    },
    /// Reconnecting failed this time; roadie tries again.
    RetryFailed {
        /// The host, as the inventory names it.
        host: String,
        /// Why.
        reason: String,
        /// When the next try is.
        next_in_ms: u64,
    },
    /// The server could not connect a forwarded connection (nothing listens there).
    ConnectFailed {
        /// The host, as the inventory names it.
        host: String,
        /// Where it was to go.
        remote: String,
        /// Why.
        reason: String,
    },
    /// A local client read too slowly and its connection was cut.
    ClientTooSlow {
        /// The host, as the inventory names it.
        host: String,
        /// Where it went.
        remote: String,
    },
    /// A local client came while the SSH connection was down (or not
    /// answering), and was closed; nothing was asked of the server.
    LinkDown {
        /// The host, as the inventory names it.
        host: String,
        /// Where it was to go.
        remote: String,
        /// Why the connection is down.
        reason: String,
    },
}
