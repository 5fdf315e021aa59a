//! The [`crate::Project`] API for synchronous code (a `#[test]` without an
//! async runtime, say): each call runs to completion on a runtime of its own.
//!
//! ```no_run
//! let project = roadie::blocking::Project::discover()?;
//! let staging = project.connect("staging")?;
//! let key = staging
//!     .task("create_session")
//!     .param("email", "edith@example.com")
//!     .run()?
//!     .captured("session_key")?
//!     .to_owned();
//! # Ok::<(), roadie::Error>(())
//! ```

use std::path::Path;

use crate::error::Error;
use crate::project::{self, TaskResult};

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))
}

/// See [`project::Project`].
pub struct Project {
    inner: project::Project,
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
}

impl Project {
    /// The roadie.yaml of the current directory (or a parent) and its playbooks.
    pub fn discover() -> Result<Project, Error> {
        Ok(Project {
            inner: project::Project::discover()?,
            runtime: std::sync::Arc::new(runtime()?),
        })
    }

    /// The inventory at `path` and its playbooks.
    pub fn load(path: &Path) -> Result<Project, Error> {
        Ok(Project {
            inner: project::Project::load(path)?,
            runtime: std::sync::Arc::new(runtime()?),
        })
    }

    /// See [`project::Project::connect`].
    pub fn connect(&self, target: &str) -> Result<Staging, Error> {
        self.staging(self.runtime.block_on(self.inner.connect(target)))
    }

    /// See [`project::Project::connect_confirmed`].
    pub fn connect_confirmed(&self, target: &str, environment: &str) -> Result<Staging, Error> {
        self.staging(
            self.runtime
                .block_on(self.inner.connect_confirmed(target, environment)),
        )
    }

    fn staging(&self, connected: Result<project::Staging, Error>) -> Result<Staging, Error> {
        Ok(Staging {
            inner: connected?,
            runtime: self.runtime.clone(),
        })
    }
}

/// See [`project::Staging`].
pub struct Staging {
    inner: project::Staging,
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
}

impl Staging {
    /// Prepare the task `name` (`TASK` or `PLAYBOOK:TASK`).
    pub fn task(&self, name: &str) -> TaskCall<'_> {
        TaskCall {
            inner: self.inner.task(name),
            runtime: &self.runtime,
        }
    }

    /// The host connected to.
    pub fn host(&self) -> &crate::Host {
        self.inner.host()
    }
}

/// See [`project::TaskCall`].
pub struct TaskCall<'a> {
    inner: project::TaskCall<'a>,
    runtime: &'a tokio::runtime::Runtime,
}

impl TaskCall<'_> {
    /// Set a parameter.
    #[must_use]
    pub fn param(self, name: &str, value: impl Into<String>) -> Self {
        TaskCall {
            inner: self.inner.param(name, value),
            runtime: self.runtime,
        }
    }

    /// Run the task: the safeguards for its class first, then its steps.
    pub fn run(self) -> Result<TaskResult, Error> {
        self.runtime.block_on(self.inner.run())
    }
}
