//! `roadie put TARGET LOCAL... REMOTE_DIR` and `roadie get TARGET REMOTE LOCAL_DIR`

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use console::Term;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::{Global, output_result};
use crate::audit;
use crate::error::Error;
use crate::event::{Event, TransferTotals};
use crate::outcome::{HostOutcome, failure_status, overall_exit_code};
use crate::output::json_line;
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::{Intent, SafetyClass};
use crate::ssh::Session;
use crate::transfer::{Download, Progress, Totals, Upload};

#[derive(Debug, Args)]
pub struct PutArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// Local files and directories, then the remote directory they go in
    /// (created if missing; `~/` is the remote home).
    #[arg(required = true, num_args = 2.., value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Hosts worked on at once.
    #[arg(long, default_value_t = DEFAULT_PARALLEL)]
    pub parallel: u16,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// The remote file or directory (`~/` is the remote home).
    pub remote: String,
    /// The local directory it goes in; with several hosts, each host's copy
    /// goes in a subdirectory named after the host.
    pub local_dir: PathBuf,
    /// Hosts worked on at once.
    #[arg(long, default_value_t = DEFAULT_PARALLEL)]
    pub parallel: u16,
}

/// What one host's transfer did.
#[derive(Debug, Clone, Copy)]
struct Done {
    totals: Totals,
    took: Duration,
}

/// A progress bar per host while a terminal watches; nothing otherwise.
#[derive(Clone)]
struct Bars {
    multi: Option<MultiProgress>,
}

impl Bars {
    fn new(json: bool) -> Bars {
        Bars {
            multi: (!json && Term::stderr().is_term()).then(MultiProgress::new),
        }
    }

    /// Show `progress` for `host` until the returned guard is dropped.
    fn follow(&self, host: &str, progress: &Progress) -> Option<BarGuard> {
        let multi = self.multi.as_ref()?;
        let bar = multi.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
            )
            .expect("valid progress template"),
        );
        bar.set_prefix(host.to_owned());
        let (ticking, progress) = (bar.clone(), progress.clone());
        let ticker = tokio::spawn(async move {
            loop {
                ticking.set_length(progress.total.load(Ordering::Relaxed));
                ticking.set_position(progress.done.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some(BarGuard { bar, ticker })
    }
}

struct BarGuard {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Drop for BarGuard {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// Do `transfer` over a fresh SFTP channel of `session`, stopping (and
/// removing what was half written on the server) when `interrupt` turns.
async fn over_sftp<F, Fut>(
    session: Session,
    bars: &Bars,
    mut interrupt: watch::Receiver<bool>,
    transfer: F,
) -> Result<Done, Error>
where
    F: FnOnce(Arc<crate::ssh::sftp::Sftp>, Progress) -> Fut,
    Fut: Future<Output = Result<Totals, Error>>,
{
    let host = session.host().label.clone();
    let started = Instant::now();
    let sftp = Arc::new(session.sftp().await?);
    let progress = Progress::default();
    let bar = bars.follow(&host, &progress);
    let result = tokio::select! {
        done = session.unless_lost(transfer(sftp.clone(), progress)) => done,
        () = async { drop(interrupt.wait_for(|stop| *stop).await); } => {
            sftp.clean_up().await;
            Err(Error::Interrupted {
                host,
                done: "the transfer was stopped; files already complete stay, partial ones were removed",
            })
        }
    };
    drop(bar);
    session.close().await;
    result.map(|totals| Done {
        totals,
        took: started.elapsed(),
    })
}

pub(super) async fn put(global: &Global, args: &PutArgs) -> Result<i32, Error> {
    let (remote_dir, locals) = args
        .paths
        .split_last()
        .expect("clap requires two paths or more");
    let remote_dir = remote_dir
        .to_str()
        .ok_or_else(|| Error::Usage(format!("{}: not a UTF-8 path", remote_dir.display())))?;
    // Every local path is read before any host is contacted.
    let upload = Arc::new(Upload::plan(locals, remote_dir)?);
    let hosts = global.hosts(&args.target)?;
    let intent = Intent {
        class: SafetyClass::Change,
        confirm: global.confirm.clone(),
    };
    let (bars, interrupt) = (Bars::new(global.json), super::interrupt_on_ctrl_c());
    let results = each_host(
        &hosts,
        &intent,
        usize::from(args.parallel),
        move |session| {
            let (upload, bars, interrupt) = (upload.clone(), bars.clone(), interrupt.clone());
            async move {
                let fingerprint = session.verified().fingerprint.clone();
                over_sftp(session, &bars, interrupt, |sftp, progress| async move {
                    upload.run(&sftp, &progress).await
                })
                .await
                .map(|done| (done, fingerprint))
            }
        },
    )
    .await;
    let step = format!(
        "put {} -> {remote_dir}",
        locals
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    audit::record_each(
        &args.target,
        &step,
        SafetyClass::Change,
        &hosts,
        &results,
        |(_, fingerprint)| (HostOutcome::done("ok"), Some(fingerprint.as_str())),
    );
    let results = results
        .into_iter()
        .map(|r| r.map(|(done, _)| done))
        .collect();
    report("put", &hosts, results, global.json)
}

pub(super) async fn get(global: &Global, args: &GetArgs) -> Result<i32, Error> {
    let hosts = global.hosts(&args.target)?;
    let several = hosts.len() > 1;
    let (bars, interrupt) = (Bars::new(global.json), super::interrupt_on_ctrl_c());
    let (remote, local_dir) = (args.remote.clone(), args.local_dir.clone());
    let results = each_host(
        &hosts,
        &Intent::read(),
        usize::from(args.parallel),
        move |session| {
            let (bars, interrupt) = (bars.clone(), interrupt.clone());
            let dir = if several {
                local_dir.join(&session.host().label)
            } else {
                local_dir.clone()
            };
            let remote = remote.clone();
            async move {
                over_sftp(session, &bars, interrupt, |sftp, progress| async move {
                    let download = Download::plan(&sftp, &remote, &dir).await?;
                    download.run(&sftp, &progress).await
                })
                .await
            }
        },
    )
    .await;
    report("get", &hosts, results, global.json)
}

/// Each host's totals (or error), and the exit code of them all.
fn report(
    verb: &str,
    hosts: &[crate::Host],
    results: Vec<Result<Done, Error>>,
    json: bool,
) -> Result<i32, Error> {
    let mut outcomes = Vec::with_capacity(hosts.len());
    let mut out = std::io::stdout().lock();
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(done) => {
                let seconds = done.took.as_secs_f64();
                if json {
                    let totals = TransferTotals {
                        files: done.totals.files,
                        dirs: done.totals.dirs,
                        links: done.totals.links,
                        bytes: done.totals.bytes,
                        duration_ms: u64::try_from(done.took.as_millis()).unwrap_or(u64::MAX),
                    };
                    let event = Event::Transfer {
                        host: host.label.clone(),
                        direction: verb.to_owned(),
                        status: "ok".into(),
                        totals: Some(totals),
                        error: None,
                        error_kind: None,
                        exit_code: None,
                    };
                    output_result(json_line(&mut out, &event))?;
                } else {
                    let line = format!(
                        "{}: {verb} {} in {seconds:.2}s ({}/s)",
                        host.label,
                        done.totals.describe(),
                        indicatif::HumanBytes(per_second(done.totals.bytes, seconds)),
                    );
                    output_result(writeln!(out, "{line}"))?;
                }
                outcomes.push(HostOutcome::Done {
                    note: "ok",
                    ok: true,
                });
            }
            Err(error) => {
                if json {
                    let event = Event::Transfer {
                        host: host.label.clone(),
                        direction: verb.to_owned(),
                        status: failure_status(&error).into(),
                        totals: None,
                        error: Some(crate::error::report(&error)),
                        error_kind: Some(error.kind().into()),
                        exit_code: Some(error.exit_code()),
                    };
                    output_result(json_line(&mut out, &event))?;
                }
                stderr_line!(
                    "{} {}",
                    console::style("roadie: error:").red().bold().for_stderr(),
                    crate::error::report(&error)
                );
                outcomes.push(HostOutcome::Failed(error));
            }
        }
    }
    Ok(overall_exit_code(&outcomes))
}

fn per_second(bytes: u64, seconds: f64) -> u64 {
    if seconds <= 0.0 {
        return 0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rate = (bytes as f64 / seconds) as u64;
    rate
}
