//! Running one command on many hosts at once: one connection per host, a
//! bounded number in flight, every host's result kept, none hiding another's.
//! Every host goes through the safeguards ([`crate::guard`]) first, and every
//! change or destroy step that runs, and every refusal, is audited.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::audit;
use crate::error::Error;
use crate::event::{Event, HostResult};
use crate::guard;
use crate::host::Host;
use crate::job::{self, Job};
use crate::outcome::HostOutcome;
use crate::safety::Intent;
use crate::ssh::Session;
use crate::timings::{self, Timings};

/// The default number of hosts worked on at once.
pub(crate) const DEFAULT_PARALLEL: u16 = 32;

/// What to run and how.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    /// The TARGET as given, for the audit log.
    pub target: String,
    pub job: Job,
    /// The step's safety class and the user's confirmation.
    pub intent: Intent,
    /// Stop the command after this long.
    pub timeout: Option<Duration>,
    /// At most this many hosts at once.
    pub parallel: usize,
    /// Check every lock and show the command, but run nothing (`--check`).
    pub dry_run: bool,
    /// Sample the command's memory on the server this often
    /// (`--watch-memory`; commands only, not tasks).
    pub watch_memory: Option<Duration>,
    /// Show a step's Python stacks once it has said nothing this long.
    pub stacks_after: Option<Duration>,
}

/// One host's result.
#[derive(Debug)]
pub(crate) struct HostRun {
    pub host: String,
    /// The fingerprint of the key the host presented, when it was reached.
    pub fingerprint: Option<String>,
    pub outcome: HostOutcome,
    pub duration: Duration,
    /// What `--watch-memory` saw.
    pub memory: Option<crate::event::MemoryReport>,
}

impl HostRun {
    /// As reported in events.
    pub(crate) fn result(&self) -> HostResult {
        let mut result = HostResult {
            host: self.host.clone(),
            status: self.outcome.status().into(),
            exit_code: None,
            signal: None,
            error: None,
            error_kind: None,
            lock: None,
            host_key: self.fingerprint.clone(),
            task: None,
            captured: None,
            failed_step: None,
            would_run: None,
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            memory: self.memory.clone(),
        };
        match &self.outcome {
            HostOutcome::Ran(finished) => {
                let status = &finished.status;
                result.exit_code = status.code.map(|_| status.as_exit_code());
                result.signal.clone_from(&status.signal);
                result.failed_step.clone_from(&finished.failed_step);
                if !finished.captured.is_empty() {
                    result.captured = Some(finished.captured.clone());
                }
            }
            HostOutcome::Planned(steps) => result.would_run = Some(steps.clone()),
            HostOutcome::Done { .. } => {}
            HostOutcome::Failed(error) => {
                result.exit_code = Some(error.exit_code());
                result.error = Some(crate::error::report(error));
                result.error_kind = Some(error.kind().into());
                result.lock = self.outcome.lock();
            }
        }
        result
    }
}

fn audit(spec: &RunSpec, host: &Host, run: &HostRun, events_warning: &mut Vec<String>) {
    let refused = run.outcome.lock();
    if !audit::is_audited(spec.intent.class, refused) {
        return;
    }
    let step = if spec.dry_run {
        format!("{} (check)", spec.job.describe())
    } else {
        spec.job.describe()
    };
    let entry = audit::Entry {
        target: &spec.target,
        host: &host.label,
        environment: host.environment.as_deref(),
        fingerprint: run.fingerprint.as_deref(),
        step: &step,
        class: spec.intent.class,
        outcome: run.outcome.audit(),
        lock: refused,
    };
    if let Err(e) = audit::record(&entry) {
        events_warning.push(format!(
            "could not write the audit log {}: {e}",
            audit::path().display()
        ));
    }
}

/// Run `spec` on every host, sending events to `events`. Returns each host's
/// result, in the order of `hosts`. When `interrupt` turns true, running
/// commands are stopped (SIGTERM) and hosts not yet started are skipped.
///
/// The environment lock is checked for every host first: if it refuses any
/// host, nothing runs anywhere. Later locks (host key, server markers) refuse
/// the host concerned.
pub(crate) async fn run_all(
    hosts: Vec<Host>,
    spec: &RunSpec,
    events: mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
) -> Vec<HostRun> {
    if let Some(errors) = guard::environment_lock(&hosts, &spec.intent) {
        let mut runs = Vec::new();
        for (host, error) in hosts.iter().zip(errors) {
            let learned = Learned::default();
            runs.push(finish(host, spec, &events, learned, Err(error), Instant::now()).await);
        }
        return runs;
    }
    fan_out(&hosts, spec.parallel, |host| {
        let (events, spec, interrupt) = (events.clone(), spec.clone(), interrupt.clone());
        async move {
            let started = Instant::now();
            // The receiver only goes away when output can no longer be
            // written (a closed pipe); then there is nobody left to tell.
            let _ = events
                .send(Event::Started {
                    host: host.label.clone(),
                })
                .await;
            let mut learned = Learned::default();
            let result = if *interrupt.borrow() {
                Err(Error::Interrupted {
                    host: host.label.clone(),
                    done: "nothing was started",
                })
            } else {
                // One host's whole run is a large future: on the heap.
                Box::pin(run_one(&host, &spec, &events, interrupt, &mut learned)).await
            };
            finish(&host, &spec, &events, learned, result, started).await
        }
    })
    .await
}

/// The one fan-out: `work` for every host, at most `parallel` at once; the
/// results in the order of `hosts`. A panic in one host's work is the
/// caller's.
async fn fan_out<T, F, Fut>(hosts: &[Host], parallel: usize, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Host) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let tasks: Vec<_> = hosts
        .iter()
        .map(|host| {
            let (permits, job) = (permits.clone(), work(host.clone()));
            tokio::spawn(async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                job.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(result) => results.push(result),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
    results
}

/// Connect to every host for `intent` (at most `parallel` at once) and do
/// `work` with each session; the results come back in the order of `hosts`.
/// The environment lock is checked for all hosts first: if it refuses one,
/// no host is worked on.
pub(crate) async fn each_host<T, F, Fut>(
    hosts: &[Host],
    intent: &Intent,
    parallel: usize,
    work: F,
) -> Vec<Result<T, Error>>
where
    T: Send + 'static,
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    if let Some(errors) = guard::environment_lock(hosts, intent) {
        return errors.into_iter().map(Err).collect();
    }
    let work = Arc::new(work);
    fan_out(hosts, parallel, |host| {
        let (work, intent) = (work.clone(), intent.clone());
        async move {
            let session = Session::connect_for(&host, &intent).await?;
            work(session).await
        }
    })
    .await
}

/// What was learned on a host besides the outcome.
#[derive(Debug, Default)]
struct Learned {
    /// The key the host presented, once reached.
    fingerprint: Option<String>,
    memory: Option<crate::event::MemoryReport>,
    /// Where the time went, once connected.
    timings: Option<Timings>,
}

/// Record a host's result: audit it and report it.
async fn finish(
    host: &Host,
    spec: &RunSpec,
    events: &mpsc::Sender<Event>,
    learned: Learned,
    result: Result<HostOutcome, Error>,
    started: Instant,
) -> HostRun {
    let run = HostRun {
        host: host.label.clone(),
        fingerprint: learned.fingerprint,
        outcome: result.unwrap_or_else(HostOutcome::Failed),
        duration: started.elapsed(),
        memory: learned.memory,
    };
    if let Some(spent) = learned.timings.filter(|_| timings::enabled()) {
        stderr_line!("roadie: timings {}: {spent}", host.label);
    }
    let mut warnings = Vec::new();
    audit(spec, host, &run, &mut warnings);
    for message in warnings {
        let _ = events
            .send(Event::Warning {
                host: host.label.clone(),
                message,
            })
            .await;
    }
    let mut result = run.result();
    result.task = spec.job.task_name().map(str::to_owned);
    if result.task.is_none() {
        // A command's exit status says it all; steps are a task's.
        result.failed_step = None;
    }
    let _ = events.send(Event::Finished(Box::new(result))).await;
    run
}

async fn run_one(
    host: &Host,
    spec: &RunSpec,
    events: &mpsc::Sender<Event>,
    interrupt: watch::Receiver<bool>,
    learned: &mut Learned,
) -> Result<HostOutcome, Error> {
    let session = Session::connect_for(host, &spec.intent).await?;
    learned.fingerprint = Some(session.verified().fingerprint.clone());
    for note in session.notes() {
        let _ = events
            .send(Event::Warning {
                host: host.label.clone(),
                message: note.clone(),
            })
            .await;
    }
    let mut spent = session.timings();
    // A watched command first says where its process tree starts.
    let (job, watched) = match (&spec.job, spec.watch_memory) {
        (Job::Command(command), Some(interval)) if !spec.dry_run => {
            let (command, pid_file) = crate::memory::watched(command);
            (Job::Command(command), Some((pid_file, interval)))
        }
        _ => (spec.job.clone(), None),
    };
    let checking = Instant::now();
    let prepared = job::prepare(&session, &job, &spec.intent).await?;
    spent.shell = prepared.shell;
    spent.guard = checking.elapsed().saturating_sub(prepared.shell);
    if spec.dry_run {
        let shown = prepared.plan.display();
        prepared.abandon().await;
        session.close().await;
        return Ok(HostOutcome::Planned(shown));
    }
    let mut context = job::Context {
        events,
        deadline: spec.timeout.map(|t| tokio::time::Instant::now() + t),
        timeout: spec.timeout,
        interrupt,
        stacks_after: spec.stacks_after,
    };
    let executing = Instant::now();
    let finished = match watched {
        None => job::execute(&session, prepared, &mut context).await,
        Some((pid_file, interval)) => {
            let (ended, when_ended) = tokio::sync::oneshot::channel::<()>();
            let run = async {
                let finished = job::execute(&session, prepared, &mut context).await;
                let _ = ended.send(());
                finished
            };
            let watch = crate::memory::sample(&session, &pid_file, interval, async {
                let _ = when_ended.await;
            });
            let (finished, seen) = tokio::join!(run, watch);
            let status = finished.as_ref().ok().map(|f| &f.status);
            learned.memory = Some(crate::memory::report(&session, seen, interval, status).await);
            finished
        }
    };
    spent.command = executing.elapsed();
    spent.total = timings::since_process_start();
    learned.timings = Some(spent);
    session.close().await;
    Ok(HostOutcome::Ran(finished?))
}
