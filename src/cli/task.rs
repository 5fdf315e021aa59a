//! `roadie task TARGET TASK [--param K=V]... [--check]` and `roadie tasks`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::run::{HowArgs, execute};
use super::{Global, output_result};
use crate::error::{Error, exit_code};
use crate::event::Event;
use crate::job::Job;
use crate::output::json_text;
use crate::playbook::{Playbooks, check_params, describe_params, parse_params};
use crate::runner::RunSpec;
use crate::safety::Intent;

#[derive(Debug, Args)]
pub struct TaskArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// The task: NAME, or PLAYBOOK:NAME (see `roadie tasks`).
    pub task: String,
    /// A parameter of the task (repeatable).
    #[arg(long = "param", short = 'P', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub how: HowArgs,
}

/// The directory whose `playbooks/` belong to the project: the
/// inventory's, or the current one without an inventory.
fn project_dir(global: &Global) -> Result<PathBuf, Error> {
    let inventory = global.inventory_if_any()?;
    Ok(inventory
        .as_ref()
        .and_then(|inventory| inventory.path.parent())
        .map_or_else(|| PathBuf::from("."), PathBuf::from))
}

pub(super) async fn task(global: &Global, args: &TaskArgs) -> Result<i32, Error> {
    let playbooks = Playbooks::load(&project_dir(global)?)?;
    let (playbook, task) = playbooks.find(&args.task)?;
    let params = parse_params(&args.params)?;
    check_params(task, &params).map_err(|e| Error::Playbook(e.in_file(&playbook.origin)))?;
    let spec = RunSpec {
        target: args.target.clone(),
        job: Job::Task {
            playbook: Arc::new(playbook.clone()),
            task: task.name.clone(),
            params,
            started: std::time::SystemTime::now(),
            sudo_password: super::sudo_password(),
        },
        intent: Intent {
            class: task.class,
            confirm: global.confirm.clone(),
        },
        timeout: args.how.timeout,
        parallel: usize::from(args.how.parallel),
        dry_run: args.how.check,
        watch_memory: None,
        stacks_after: args.how.stacks_after,
    };
    let hosts = global.hosts(&args.target)?;
    execute(global, hosts, &spec).await
}

/// `roadie tasks`: every task, its class, parameters and what it does.
pub(super) fn tasks(global: &Global) -> Result<i32, Error> {
    let playbooks = Playbooks::load(&project_dir(global)?)?;
    let mut out = std::io::stdout().lock();
    for playbook in &playbooks.playbooks {
        for task in &playbook.tasks {
            let line = if global.json {
                json_text(&Event::Task {
                    playbook: playbook.name.clone(),
                    task: task.name.clone(),
                    class: task.class,
                    params: task.params.iter().map(|p| p.name.clone()).collect(),
                    description: task.description.clone(),
                    origin: playbook.origin.clone(),
                })
            } else {
                format!(
                    "{}:{} [{}] ({}){}",
                    playbook.name,
                    task.name,
                    task.class,
                    describe_params(task),
                    task.description
                        .as_deref()
                        .map(|d| format!("  {d}"))
                        .unwrap_or_default()
                )
            };
            output_result(writeln!(out, "{line}"))?;
        }
    }
    Ok(exit_code::SUCCESS)
}
