//! roadie reaches staging servers over SSH so that functional tests, deploys
//! and debugging sessions can use them.
//!
//! The flow is one way: **target → resolved hosts → verified sessions →
//! commands → results**.
//!
//! - [`Inventory`] reads `roadie.yaml` (environments and their hosts).
//! - [`Resolver`] turns a TARGET (`staging`, `web1`, `staging/web1`, or a
//!   comma list) into [`Host`]s, merging the command line, `roadie.yaml` and
//!   `~/.ssh/config`. It connects to nothing; like ssh, it may look names
//!   up (`CanonicalizeHostname`, the inventory's address check) and run
//!   `Match exec` commands.
//! - [`Session::connect`] opens an SSH connection (through jump hosts if
//!   configured), checks the host key against `known_hosts` (strictly, by
//!   default) and logs in with ssh-agent or key files.
//! - [`Session::run`] runs a [`RemoteCommand`] and returns its stdout, stderr
//!   and exit status; [`Session::start`] streams output as it arrives.
//! - [`Project`] (and [`blocking::Project`] for synchronous tests) runs the
//!   playbooks' tasks as fixtures: `staging.task("create_session")`, with
//!   every safeguard for the task's class first, and its captured values.
//! - What goes wrong is an [`Error`] in roadie's words, with the exit code
//!   the CLI gives it; [`event`] is what the CLI prints, `--json` included.
//!
//! # Layers
//!
//! Inside, each module imports only from its own layer or those below,
//! never in a cycle (the table in `src/layers.rs`, checked by its tests):
//!
//! 1. plain data and parsing, no connections: `certificate`, `command`,
//!    `dotenv`, `duration`, `error`, `event`, `host`, `inventory`,
//!    `known_hosts`, `playbook`, `safety`, `ssh_config` (which, as ssh does,
//!    runs `Match exec` commands and canonicalizes names), `stage`,
//!    `stderr`, `template`, `timings`, `tunnel_spec`, `yaml`;
//! 2. the decisions: `guard` (may this step run on this host?), pure, from
//!    facts handed in; `resolve` (target to hosts, looking up the addresses
//!    the inventory's sanity check compares);
//! 3. SSH connections: `ssh`, kept ones under `ssh::persist`;
//! 4. what runs on one host: `verify` (the facts the guard needs, read from
//!    the server), `job`, `remote_env`, `stacks`, `transfer`, `tunnel`, `debug`,
//!    `debug_publish` (debugger sessions published to a rendezvous host),
//!    `health`, `memory`, `diagnose`;
//! 5. many hosts and the front door: `runner`, `outcome`, `project`,
//!    `blocking`, `audit`;
//! 6. output: `output`;
//! 7. the command line, the demo and its sandbox: `cli`, `demo`, `sandbox`.
//!
//! # Example: a test fixture
//!
//! ```no_run
//! use roadie::{Inventory, Overrides, RemoteCommand, Resolver, Session};
//!
//! # async fn fixture() -> Result<(), roadie::Error> {
//! let inventory = Inventory::discover()?;
//! let overrides = Overrides::default();
//! let hosts = Resolver::new(&inventory, &overrides).resolve("staging")?;
//! let session = Session::connect(&hosts[0]).await?;
//! let command = RemoteCommand::argv(&["python", "manage.py", "create_session", "edith@example.com"])
//!     .cwd("~/sites/staging.example.org")
//!     .env("DJANGO_DEBUG_FALSE", "y")?;
//! let output = session.run(&command).await?;
//! assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
//! let session_key = output.stdout_text();
//! # let _ = session_key;
//! session.close().await;
//! # Ok(())
//! # }
//! ```

#![warn(unreachable_pub, missing_docs)]

/// `eprintln!`, but the line goes out in one write (see [`stderr`]).
macro_rules! stderr_line {
    ($($arg:tt)*) => {
        $crate::stderr::write_line(&format!($($arg)*))
    };
}

// Layer 1: plain data and parsing; no connections.
mod certificate;
mod command;
pub mod dotenv;
mod duration;
pub mod error;
pub mod event;
mod host;
mod inventory;
pub mod known_hosts;
mod playbook;
mod safety;
pub mod ssh_config;
mod stage;
mod stderr;
pub mod template;
#[doc(hidden)]
pub mod timings;
mod tunnel_spec;
mod yaml;
// Layer 2: the decisions (the guard's pure).
mod guard;
mod resolve;
// Layer 3: SSH connections (kept ones under ssh::persist).
mod ssh;
// Layer 4: what runs on one host.
mod debug;
mod debug_publish;
mod diagnose;
mod health;
mod job;
mod memory;
mod remote_env;
mod stacks;
mod transfer;
mod tunnel;
mod verify;
// Layer 5: many hosts, and the library's front door.
mod audit;
pub mod blocking;
mod outcome;
mod project;
mod runner;
// Layer 6: output for people and scripts.
mod output;
// Layer 7: the command line, the demo and its sandbox.
#[doc(hidden)]
pub mod cli;
mod demo;
/// sshd servers for `roadie sandbox` and roadie's own tests; not library API.
#[doc(hidden)]
pub mod sandbox;

#[cfg(test)]
mod layers;

pub use command::{RemoteCommand, Sudo};
pub use error::Error;
pub use host::Host;
pub use inventory::Inventory;
pub use project::{Project, Staging, TaskCall, TaskResult};
pub use resolve::{Overrides, Resolver};
pub use safety::{Lock, Refusal, SafetyClass};
pub use ssh::{Chunk, Execution, ExitStatus, Expect, Output, Session, Written};

/// The environment variable whose value `--sudo` feeds to sudo.
pub const SUDO_PASSWORD_VAR: &str = "ROADIE_SUDO_PASSWORD";
