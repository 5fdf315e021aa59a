//! roadie reaches staging servers over SSH so that functional tests, deploys
//! and debugging sessions can use them.
//!
//! The flow is one way: **target → resolved hosts → verified sessions →
//! commands → results**.
//!
//! - [`Inventory`] reads `roadie.yaml` (environments and their hosts).
//! - [`Resolver`] turns a TARGET (`staging`, `web1`, `staging/web1`, or a
//!   comma list) into [`Host`]s, merging the command line, `roadie.yaml` and
//!   `~/.ssh/config`. Nothing there touches the network.
//! - [`Session::connect`] opens an SSH connection (through jump hosts if
//!   configured), checks the host key against `known_hosts` (strictly, by
//!   default) and logs in with ssh-agent or key files.
//! - [`Session::run`] runs a [`RemoteCommand`] and returns its stdout, stderr
//!   and exit status; [`Session::start`] streams output as it arrives.
//! - [`runner::run_all`] does the same on many hosts at once.
//! - [`diagnose::diagnose`] gathers why something died on a host (OOM kills
//!   from the kernel log, memory, cgroup limits, containers, disk space) in
//!   one round trip, every item on its own: a missing tool or permission is
//!   that item's reason, never a failure of the whole.
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

/// `eprintln!`, but the line goes out in one write (see [`stderr`]).
macro_rules! stderr_line {
    ($($arg:tt)*) => {
        $crate::stderr::write_line(&format!($($arg)*))
    };
}

pub mod audit;
pub mod blocking;
pub mod cli;
pub mod command;
pub mod debug;
pub mod demo;
pub mod diagnose;
pub mod dotenv;
pub mod error;
pub mod guard;
pub mod health;
pub mod inventory;
pub mod job;
pub mod memory;
pub mod output;
pub mod persist;
pub mod playbook;
pub mod project;
pub mod resolve;
pub mod runner;
pub mod sandbox;
pub mod ssh;
pub mod ssh_config;
mod stderr;
pub mod template;
pub mod timings;
pub mod transfer;
pub mod tunnel;
mod yaml;

pub use command::RemoteCommand;
pub use error::Error;
pub use inventory::Inventory;
pub use project::Project;
pub use resolve::{Host, Overrides, Resolver};
pub use ssh::{Output, Session};

/// The environment variable whose value `--sudo` feeds to sudo.
pub const SUDO_PASSWORD_VAR: &str = "ROADIE_SUDO_PASSWORD";
