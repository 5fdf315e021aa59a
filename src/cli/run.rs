//! `roadie run TARGET [options] -- COMMAND...`

use std::time::Duration;

use clap::Args;

use super::{Global, output_result};
use crate::command::{RemoteCommand, Sudo};
use crate::duration;
use crate::error::{Error, exit_code};
use crate::job::Job;
use crate::outcome::overall_exit_code;
use crate::output::{Mode, Renderer, spawn_printer};
use crate::runner::{DEFAULT_PARALLEL, RunSpec, run_all};
use crate::safety::{Intent, SafetyClass};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// Run with sudo (non-interactive; the password, if needed, comes from ROADIE_SUDO_PASSWORD).
    #[arg(long)]
    pub sudo: bool,
    /// Run in this remote directory (~/ is the remote home).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set a variable for the command (quoted into the command line).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The command destroys data (a database reset, say): apply the destroy
    /// safeguards (never on a protected environment; server markers checked).
    #[arg(long)]
    pub destroy: bool,
    /// Sample the resident memory of the command's whole process tree on the
    /// server (every 0.5 s, or =INTERVAL), then show its peak, a plot, and,
    /// if it was killed, whether the kernel's OOM killer did it.
    #[arg(
        long,
        value_name = "INTERVAL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "0.5",
        value_parser = duration::parse
    )]
    pub watch_memory: Option<Duration>,
    #[command(flatten)]
    pub how: HowArgs,
    /// The command. One word is a shell command line, sent as is; several
    /// words are a program and its arguments, each quoted.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl RunArgs {
    fn remote_command(&self) -> Result<RemoteCommand, Error> {
        let mut command = match self.command.as_slice() {
            [line] => RemoteCommand::shell(line.clone()),
            words => RemoteCommand::argv(words),
        };
        for pair in &self.env {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| Error::Usage(format!("--env '{pair}': expected KEY=VALUE")))?;
            command = command.env(name, value)?;
        }
        if let Some(dir) = &self.cwd {
            command = command.cwd(dir.clone());
        }
        if self.sudo {
            command = command.sudo(Sudo {
                password: super::sudo_password(),
            });
        }
        Ok(command)
    }
}

/// How `run` and `task` go about their work.
#[derive(Debug, Args)]
pub struct HowArgs {
    /// Check every safeguard and print the commands per host, but run nothing.
    #[arg(long)]
    pub check: bool,
    /// Stop the work on a host after this long (e.g. 30, 30s, 5m).
    #[arg(long, value_name = "TIME", value_parser = duration::parse)]
    pub timeout: Option<Duration>,
    /// Work on at most this many hosts at once.
    #[arg(long, default_value_t = DEFAULT_PARALLEL, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// When a command (a test run) has said nothing for TIME, show the
    /// stacks of its Python processes once (py-spy on the host), so that a
    /// hung job leaves them in its log.
    #[arg(long, value_name = "TIME", value_parser = duration::parse)]
    pub stacks_after: Option<Duration>,
}

pub(super) async fn run(global: &Global, args: &RunArgs) -> Result<i32, Error> {
    if args
        .watch_memory
        .is_some_and(|i| i < Duration::from_millis(50))
    {
        return Err(Error::Usage(
            "--watch-memory: sample every 50 ms at the most often".into(),
        ));
    }
    let spec = RunSpec {
        target: args.target.clone(),
        job: Job::Command(args.remote_command()?),
        intent: Intent {
            class: if args.destroy {
                SafetyClass::Destroy
            } else {
                SafetyClass::Change
            },
            confirm: global.confirm.clone(),
        },
        timeout: args.how.timeout,
        parallel: usize::from(args.how.parallel),
        dry_run: args.how.check,
        watch_memory: args.watch_memory,
        stacks_after: args.how.stacks_after,
    };
    let hosts = global.hosts(&args.target)?;
    execute(global, hosts, &spec).await
}

/// Run `spec` on `hosts`, rendering events as they come; the exit code.
pub(super) async fn execute(
    global: &Global,
    hosts: Vec<crate::Host>,
    spec: &RunSpec,
) -> Result<i32, Error> {
    let renderer = Renderer::new(
        Mode::choose(global.json, hosts.len()),
        hosts.iter().map(|h| h.label.clone()).collect(),
    );
    let (events, printer) = spawn_printer(renderer);
    let interrupt = super::interrupt_on_ctrl_c();
    let runs = run_all(hosts, spec, events, interrupt).await;
    let code = overall_exit_code(runs.iter().map(|r| &r.outcome));
    match printer.await {
        Ok(Ok(renderer)) => output_result(renderer.finish(code))?,
        // Whoever read our output has gone (`| head`): a normal end.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit_code::SUCCESS),
        Ok(Err(e)) => return Err(Error::io("cannot write output", e)),
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
    Ok(code)
}
