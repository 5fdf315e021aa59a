//! `roadie sandbox up|down|status`: real sshd servers on 127.0.0.x, and a
//! `sandbox` environment in roadie.yaml that reaches them.

use std::path::PathBuf;

use clap::Subcommand;

use super::Global;
use crate::error::{Error, exit_code};
use crate::event::Event;
use crate::inventory::{self, Inventory};
use crate::output::json_text;
use crate::sandbox::environment::{ENVIRONMENT, Options, PRODUCTION, Sandbox};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start N sshd servers on 127.0.0.2, 127.0.0.3, ... and write the `sandbox` environment.
    Up {
        /// How many hosts.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=200))]
        hosts: u8,
        /// Also start a protected `production` host, pinned by its key and
        /// with a login key of its own, to see the safeguards refuse.
        #[arg(long)]
        production: bool,
        /// Set a var of the `sandbox` environment (kept by later `up`s).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
    },
    /// Stop the sandbox servers (keys and the environment are kept).
    Down,
    /// Show whether the sandbox servers are running.
    Status,
}

/// `NAME=VALUE`, NAME a plain identifier (it is used in templates).
fn parse_var(pair: &str) -> Result<(String, String), String> {
    let (name, value) = pair
        .split_once('=')
        .ok_or_else(|| format!("'{pair}': expected NAME=VALUE"))?;
    if !crate::dotenv::is_env_name(name) {
        return Err(format!(
            "'{name}' is not a var name (letters, digits and _, not starting with a digit)"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// The inventory the sandbox belongs to: --inventory, the one found from
/// here, or a new roadie.yaml here.
fn inventory_path(global: &Global) -> Result<PathBuf, Error> {
    let cwd =
        std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let path = global
        .inventory
        .clone()
        .or_else(|| Inventory::find(&cwd))
        .unwrap_or_else(|| cwd.join(inventory::FILE_NAME));
    Ok(if path.is_absolute() {
        path
    } else {
        cwd.join(path)
    })
}

pub(super) fn sandbox(global: &Global, command: &SandboxCommand) -> Result<i32, Error> {
    let sandbox = Sandbox::new(inventory_path(global)?);
    let json = global.json;
    match command {
        SandboxCommand::Up {
            hosts,
            production,
            vars,
        } => {
            let state = sandbox.up(&Options {
                hosts: *hosts,
                production: *production,
                vars: vars.clone(),
            })?;
            let endpoints: Vec<String> = state
                .hosts
                .iter()
                .map(|h| format!("{}:{}", h.address, state.port))
                .collect();
            let protected = state
                .production
                .as_ref()
                .map(|p| format!("{}:{}", p.address, state.port));
            if json {
                println!(
                    "{}",
                    json_text(&Event::SandboxUp {
                        environment: ENVIRONMENT.to_owned(),
                        hosts: endpoints,
                        production: protected,
                        inventory: sandbox.inventory.clone(),
                    })
                );
                return Ok(exit_code::SUCCESS);
            }
            println!(
                "sandbox: {} sshd server(s) up on {}\nsandbox: environment '{ENVIRONMENT}' written to {}",
                state.hosts.len(),
                endpoints.join(", "),
                sandbox.inventory.display()
            );
            if let Some(protected) = protected {
                println!(
                    "sandbox: protected environment '{PRODUCTION}' on {protected}, pinned by its host key, with its own login key\n\
                     try: roadie run {PRODUCTION} --destroy -- true     (refused: protected environment)"
                );
            }
            println!("try: roadie run {ENVIRONMENT} -- uname -a");
            Ok(exit_code::SUCCESS)
        }
        SandboxCommand::Down => {
            let stopped = sandbox.down()?;
            if json {
                println!(
                    "{}",
                    json_text(&Event::SandboxDown {
                        stopped: stopped.unwrap_or(0),
                    })
                );
            } else {
                match stopped {
                    Some(n) => println!("sandbox: stopped {n} server(s)"),
                    None => println!("sandbox: not running"),
                }
            }
            Ok(exit_code::SUCCESS)
        }
        SandboxCommand::Status => status(&sandbox, json),
    }
}

/// `roadie sandbox status`: each server, and whether all are up.
fn status(sandbox: &Sandbox, json: bool) -> Result<i32, Error> {
    let Some(hosts) = sandbox.status()? else {
        if json {
            println!(
                "{}",
                json_text(&Event::SandboxStatus {
                    running: false,
                    hosts: Vec::new(),
                })
            );
        } else {
            println!("sandbox: not running (start it with `roadie sandbox up`)");
        }
        return Ok(exit_code::FAILED);
    };
    let all_up = hosts.iter().all(|h| h.up);
    if json {
        println!(
            "{}",
            json_text(&Event::SandboxStatus {
                running: all_up,
                hosts: hosts.clone(),
            })
        );
    } else {
        for h in &hosts {
            println!(
                "{}  pid {}  {}",
                h.host,
                h.pid,
                if h.up { "up" } else { "DOWN" }
            );
        }
    }
    Ok(if all_up {
        exit_code::SUCCESS
    } else {
        exit_code::FAILED
    })
}
