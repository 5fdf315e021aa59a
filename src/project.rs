//! roadie as a test suite's setup uses it: a project (roadie.yaml and its
//! playbooks), a connection to a staging host, and tasks run on it with
//! their captured results. [`crate::blocking`] has the same for synchronous
//! test code.
//!
//! ```no_run
//! # async fn setup() -> Result<(), roadie::Error> {
//! let project = roadie::Project::discover()?;
//! let staging = project.connect("staging").await?;
//! let result = staging.task("create_session").param("email", "edith@example.com").run().await?;
//! let session_key = result.captured("session_key")?;
//! # let _ = session_key;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;
use tokio::sync::{mpsc, watch};

use crate::error::Error;
use crate::event::{Event, FailedStep, Stream};
use crate::host::Host;
use crate::inventory::Inventory;
use crate::job::{self, Finished, Job};
use crate::outcome::{HostOutcome, failure_audit, refused_by};
use crate::playbook::{Playbooks, check_params};
use crate::resolve::{Overrides, Resolver};
use crate::safety::{Intent, SafetyClass};
use crate::ssh::{ExitStatus, Session};
use crate::verify;

/// An inventory with its playbooks.
#[derive(Debug, Clone)]
pub struct Project {
    /// roadie.yaml, loaded.
    pub inventory: Inventory,
    /// The playbooks next to it.
    pub playbooks: Arc<Playbooks>,
    /// Settings that win over roadie.yaml and ssh_config (as the command line's do).
    pub overrides: Overrides,
    /// Fed to sudo by the steps of tasks that use it; from
    /// `ROADIE_SUDO_PASSWORD` when the project is loaded.
    pub sudo_password: Option<SecretString>,
}

impl Project {
    /// The roadie.yaml of the current directory (or a parent) and its playbooks.
    pub fn discover() -> Result<Project, Error> {
        Project::from_inventory(Inventory::discover()?)
    }

    /// The inventory at `path` and its playbooks.
    pub fn load(path: &Path) -> Result<Project, Error> {
        Project::from_inventory(Inventory::load(path)?)
    }

    fn from_inventory(inventory: Inventory) -> Result<Project, Error> {
        let dir = inventory.path.parent().unwrap_or(Path::new("."));
        let playbooks = Playbooks::load(dir)?;
        Ok(Project {
            inventory,
            playbooks: Arc::new(playbooks),
            overrides: Overrides::default(),
            sudo_password: std::env::var(crate::SUDO_PASSWORD_VAR)
                .ok()
                .map(SecretString::from),
        })
    }

    /// The hosts of `target`.
    pub fn hosts(&self, target: &str) -> Result<Vec<Host>, Error> {
        Resolver::new(&self.inventory, &self.overrides).resolve(target)
    }

    /// Connect to the one host of `target` (an error if it names several)
    /// to run fixtures, destroy-class tasks included: every lock applies
    /// before logging in, so a protected environment, or a server holding a
    /// key pinned under one, is refused before any byte of a command is sent.
    pub async fn connect(&self, target: &str) -> Result<Staging, Error> {
        let intent = Intent {
            class: SafetyClass::Destroy,
            confirm: None,
        };
        self.connect_for(target, intent).await
    }

    /// Connect to the one host of `target` in the protected environment
    /// `environment`, to run change-class tasks there (destroy-class ones stay
    /// refused): the library's `--confirm ENV`.
    pub async fn connect_confirmed(
        &self,
        target: &str,
        environment: &str,
    ) -> Result<Staging, Error> {
        let intent = Intent {
            class: SafetyClass::Change,
            confirm: Some(environment.to_owned()),
        };
        self.connect_for(target, intent).await
    }

    async fn connect_for(&self, target: &str, intent: Intent) -> Result<Staging, Error> {
        let hosts = self.hosts(target)?;
        let [host] = hosts.as_slice() else {
            return Err(Error::Target(format!(
                "target '{target}' has {} hosts; connect to one (ENV/HOST)",
                hosts.len()
            )));
        };
        let session = match Session::connect_for(host, &intent).await {
            Ok(session) => session,
            Err(error) => {
                crate::audit::record_refusal(target, host, "connect", intent.class, &error);
                return Err(error);
            }
        };
        Ok(Staging {
            session,
            confirm: intent.confirm,
            playbooks: self.playbooks.clone(),
            target: target.to_owned(),
            sudo_password: self.sudo_password.clone(),
        })
    }
}

/// A connected staging host, to run tasks on.
pub struct Staging {
    session: Session,
    /// The protected environment the connection was confirmed for.
    confirm: Option<String>,
    playbooks: Arc<Playbooks>,
    target: String,
    sudo_password: Option<SecretString>,
}

impl Staging {
    /// Prepare the task `name` (`TASK` or `PLAYBOOK:TASK`).
    pub fn task(&self, name: &str) -> TaskCall<'_> {
        TaskCall {
            staging: self,
            name: name.to_owned(),
            params: BTreeMap::new(),
        }
    }

    /// The host connected to.
    pub fn host(&self) -> &Host {
        self.session.host()
    }

    /// The connection itself, for roadie's own walk-throughs: what runs on
    /// it is checked by nobody, so it stays inside the crate.
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Close the connection.
    pub async fn close(self) {
        self.session.close().await;
    }
}

/// A task about to run.
pub struct TaskCall<'a> {
    staging: &'a Staging,
    name: String,
    params: BTreeMap<String, String>,
}

/// What a task did on its host.
#[derive(Debug, Clone)]
pub struct TaskResult {
    /// The last step's exit status (the failing one's, if one failed).
    pub status: ExitStatus,
    /// What the steps captured, by name.
    pub captured: BTreeMap<String, String>,
    /// The step that failed, if one did.
    pub failed_step: Option<FailedStep>,
    /// Everything the steps printed on stdout.
    pub stdout: Vec<u8>,
    /// Everything the steps printed on stderr.
    pub stderr: Vec<u8>,
    /// What went wrong around the task without stopping it.
    pub warnings: Vec<String>,
}

impl TaskResult {
    fn outcome(&self) -> HostOutcome {
        HostOutcome::Ran(Finished {
            status: self.status.clone(),
            captured: self.captured.clone(),
            failed_step: self.failed_step.clone(),
        })
    }

    /// An error (with the failing step) if the task failed.
    pub fn ok(&self) -> Result<(), Error> {
        let Some(step) = &self.failed_step else {
            return Ok(());
        };
        Err(Error::Remote {
            host: String::from("task"),
            message: format!(
                "step {} ({}) failed{}: {}",
                step.index,
                step.name,
                step.exit_code
                    .map(|c| format!(" with exit {c}"))
                    .unwrap_or_default(),
                step.stderr.trim()
            ),
        })
    }

    /// The value captured as `name`; an error (with the failing step) if
    /// the task failed or captured no such value.
    pub fn captured(&self, name: &str) -> Result<&str, Error> {
        self.ok()?;
        self.captured
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::Usage(format!("the task captured no '{name}'")))
    }
}

impl TaskCall<'_> {
    /// Set a parameter.
    #[must_use]
    pub fn param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params.insert(name.to_owned(), value.into());
        self
    }

    /// Run the task: the safeguards for its class first, then its steps.
    pub async fn run(self) -> Result<TaskResult, Error> {
        let session = &self.staging.session;
        let (playbook, task) = self.staging.playbooks.find(&self.name)?;
        check_params(task, &self.params)
            .map_err(|e| Error::Playbook(e.in_file(&playbook.origin)))?;
        let intent = Intent {
            class: task.class,
            confirm: self.staging.confirm.clone(),
        };
        let job = Job::Task {
            playbook: Arc::new(playbook.clone()),
            task: task.name.clone(),
            params: self.params.clone(),
            started: std::time::SystemTime::now(),
            sudo_password: self.staging.sudo_password.clone(),
        };
        let result = run_job(session, &job, &intent).await;
        let (outcome, lock) = match &result {
            Ok(r) => (r.outcome().audit(), None),
            Err(e) => (failure_audit(e), refused_by(e)),
        };
        let host = session.host();
        let audited = if crate::audit::is_audited(intent.class, lock) {
            crate::audit::record(&crate::audit::Entry {
                target: &self.staging.target,
                host: &host.label,
                environment: host.environment.as_deref(),
                fingerprint: Some(&session.verified().fingerprint),
                step: &job.describe(),
                class: intent.class,
                outcome,
                lock,
            })
        } else {
            Ok(())
        };
        // The steps have run: a log that cannot be written must not make
        // them look as if they had not (a test harness would run them again).
        result.map(|mut r| {
            if let Err(e) = audited {
                r.warnings.push(format!("cannot write the audit log: {e}"));
            }
            r
        })
    }
}

async fn run_job(session: &Session, job: &Job, intent: &Intent) -> Result<TaskResult, Error> {
    verify::check_keys(session, intent)?;
    let prepared = job::prepare(session, job, intent).await?;
    let (events, mut received) = mpsc::channel::<Event>(64);
    let collector = tokio::spawn(async move {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(event) = received.recv().await {
            if let Event::Data { stream, data, .. } = event {
                match stream {
                    Stream::Stdout => stdout.extend_from_slice(&data),
                    Stream::Stderr => stderr.extend_from_slice(&data),
                }
            }
        }
        (stdout, stderr)
    });
    let (_stop, interrupt) = watch::channel(false);
    let mut context = job::Context {
        events: &events,
        deadline: None,
        timeout: None,
        interrupt,
        stacks_after: None,
    };
    let finished = job::execute(session, prepared, &mut context).await;
    drop(context);
    drop(events);
    let (stdout, stderr) = collector.await.unwrap_or_default();
    let finished = finished?;
    Ok(TaskResult {
        status: finished.status,
        captured: finished.captured,
        failed_step: finished.failed_step,
        stdout,
        stderr,
        warnings: Vec::new(),
    })
}
