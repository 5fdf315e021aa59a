//! The command line: argument definitions and one module per subcommand.

mod completions;
mod debug;
mod demo;
mod diagnose;
mod env;
mod hosts;
mod logs;
mod persist;
mod publish;
mod run;
mod sandbox;
mod shell;
mod stacks;
mod task;
mod transfer;
mod tunnel;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::duration;
use crate::error::{Error, exit_code};
use crate::event::Event;
use crate::host::Host;
use crate::inventory::{Inventory, Shard};
use crate::output::json_line;
use crate::resolve::{Overrides, Resolver};

/// roadie: reach staging servers over SSH from tests, deploys and debugging sessions.
#[derive(Debug, Parser)]
#[command(name = "roadie", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent command-line flags"
)]
pub struct Global {
    /// Inventory file (default: roadie.yaml here or in a parent directory).
    #[arg(long, global = true, value_name = "FILE", env = "ROADIE_INVENTORY")]
    pub inventory: Option<PathBuf>,
    /// Read only this ssh_config file (like ssh -F; `none` reads none).
    #[arg(short = 'F', long = "ssh-config", global = true, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Log in as this user (overrides roadie.yaml and ssh_config).
    #[arg(short = 'l', long, global = true)]
    pub user: Option<String>,
    /// Connect to this port (overrides roadie.yaml and ssh_config).
    #[arg(short = 'p', long, global = true)]
    pub port: Option<u16>,
    /// Offer only this private key.
    #[arg(long, global = true, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Use this known_hosts file instead of the configured ones.
    #[arg(long, global = true, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Trust and record host keys seen for the first time (changed keys are still refused).
    #[arg(long, global = true)]
    pub accept_new: bool,
    /// DANGEROUS: accept any host key, even a changed one.
    #[arg(long, global = true)]
    pub insecure_ignore_host_key: bool,
    /// Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config's ConnectTimeout).
    #[arg(long, global = true, value_name = "TIME", value_parser = duration::parse)]
    pub connect_timeout: Option<Duration>,
    /// Keep each connection open this long after its last use (e.g. 60s), so
    /// that later invocations reuse it instead of logging in again; 0: never.
    /// Wins over `persist:` in roadie.yaml.
    #[arg(long, global = true, value_name = "TIME", value_parser = duration::parse, env = "ROADIE_PERSIST")]
    pub persist: Option<Duration>,
    /// At most this many connections to one server (the jump host, when
    /// there is one) may be logging in at once; sshd's MaxStartups drops
    /// unauthenticated connections past 10 by default.
    #[arg(long, global = true, value_name = "N", env = "ROADIE_MAX_STARTS",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_starts: Option<u16>,
    /// Work on shard I of N of the target's hosts: host k (from 0, in
    /// target order) is in shard (k mod N) + 1.
    #[arg(long, global = true, value_name = "I/N", env = "ROADIE_SHARD")]
    pub shard: Option<Shard>,
    /// Print per host where the time went: start, connect, kex, auth,
    /// guard, command.
    #[arg(long, global = true, env = "ROADIE_TIMINGS",
          value_parser = clap::builder::FalseyValueParser::new())]
    pub timings: bool,
    /// Allow changes to this protected environment (name it exactly).
    /// Destroy steps stay refused there whatever is given.
    #[arg(long, global = true, value_name = "ENV")]
    pub confirm: Option<String>,
    /// Print JSON lines instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find debugger sessions (remote-pdb, web-pdb) waiting on the hosts (or published there) and tunnel to them; -- pytest ... runs tests wired to one; --publish TARGET -- pytest ... runs them here and publishes their sessions to TARGET.
    Debug(debug::DebugArgs),
    /// Why did something die? OOM kills from the kernel log, memory, cgroup limits, containers killed by OOM, disk space.
    Diagnose(diagnose::DiagnoseArgs),
    /// Show what roadie is for: sandbox hosts, a Django site, sessions, a reset, a refusal.
    Demo(demo::DemoArgs),
    /// Run a command on every host of TARGET.
    Run(run::RunArgs),
    /// List the hosts of TARGET as resolved; --check connects to each.
    Hosts(hosts::HostsArgs),
    /// Read a server's .env (secrets masked), or edit it in place.
    Env(env::EnvArgs),
    /// Show server logs (journal or files) from every host; -f follows them across reconnects.
    Logs(logs::LogsArgs),
    /// Run a playbook task (flush, create_session, ...) on every host of TARGET.
    Task(task::TaskArgs),
    /// Open an interactive login shell on one host (a change: --confirm ENV for a protected one).
    Shell(shell::ShellArgs),
    /// List the playbook tasks: shipped ones and those in playbooks/.
    Tasks,
    /// Forward local ports to ports on (or seen from) the hosts; --exec runs a command with the database settings.
    Tunnel(tunnel::TunnelArgs),
    /// Copy local files and directories to every host of TARGET (SFTP, atomically per file).
    #[command(override_usage = "roadie put [OPTIONS] <TARGET> <LOCAL>... <REMOTE_DIR>")]
    Put(transfer::PutArgs),
    /// Copy a file or directory from every host of TARGET.
    Get(transfer::GetArgs),
    /// Connections kept for reuse (--persist): status, stop.
    #[command(subcommand)]
    Persist(persist::PersistCommand),
    /// Local OpenSSH servers to try roadie on.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(completions::CompletionsArgs),
    /// Print roadie's man page (roff) to stdout; --dir writes every subcommand's too.
    Man(completions::ManArgs),
}

/// The first Ctrl-C turns the returned flag on (stop what runs, clean up,
/// report); a second one leaves at once.
fn interrupt_on_ctrl_c() -> tokio::sync::watch::Receiver<bool> {
    let (stop, interrupt) = tokio::sync::watch::channel(false);
    crate::ssh::proxy::leave_to_caller(nix::sys::signal::Signal::SIGINT);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                crate::ssh::proxy::stop_all();
                std::process::exit(exit_code::INTERRUPTED);
            }
        }
    });
    interrupt
}

impl Global {
    fn overrides(&self) -> Overrides {
        Overrides {
            user: self.user.clone(),
            port: self.port,
            identity: self.identity.clone(),
            ssh_config: self.ssh_config.clone(),
            known_hosts: self.known_hosts.clone(),
            accept_new: self.accept_new,
            insecure_ignore_host_key: self.insecure_ignore_host_key,
            connect_timeout: self.connect_timeout,
            persist: self.persist,
            max_starts: self.max_starts.map(usize::from),
        }
    }

    /// The inventory: `--inventory`'s, else roadie.yaml here or in a parent
    /// directory, if there is one.
    pub(crate) fn inventory_if_any(&self) -> Result<Option<Inventory>, Error> {
        Ok(match &self.inventory {
            Some(path) => Some(Inventory::load(path)?),
            None => Inventory::discover_if_any()?,
        })
    }

    /// The hosts of `target`. Without a roadie.yaml, hosts are named as
    /// `[user@]host[:port]`, as for ssh.
    fn hosts(&self, target: &str) -> Result<Vec<Host>, Error> {
        let inventory = self.inventory_if_any()?.unwrap_or_else(Inventory::none);
        let overrides = self.overrides();
        let hosts = Resolver::new(&inventory, &overrides).resolve(target)?;
        if hosts.is_empty() {
            return Err(Error::Target(format!("target '{target}' has no hosts")));
        }
        let Some(shard) = self.shard else {
            return Ok(hosts);
        };
        let count = hosts.len();
        let slice = shard.slice(hosts);
        if slice.is_empty() {
            let plural = if count == 1 { "" } else { "s" };
            return Err(Error::Target(format!(
                "--shard {shard}: no host of target '{target}' is in this shard (the target has {count} host{plural})"
            )));
        }
        Ok(slice)
    }
}

/// Run the command line; returns the process exit code.
pub fn main(cli: &Cli) -> i32 {
    if cli.global.timings {
        crate::timings::enable();
    }
    match cli.global.color {
        Colour::Always => console::set_colors_enabled(true),
        Colour::Never => console::set_colors_enabled(false),
        Colour::Auto => {}
    }
    match cli.global.color {
        Colour::Always => console::set_colors_enabled_stderr(true),
        Colour::Never => console::set_colors_enabled_stderr(false),
        Colour::Auto => {}
    }
    if cli.global.insecure_ignore_host_key {
        stderr_line!(
            "{} --insecure-ignore-host-key: host keys are NOT checked; anyone on the network path can impersonate these hosts",
            console::style("roadie: WARNING:").red().bold().for_stderr()
        );
    }
    // A tunnel's data hops between the connection's task and each client's,
    // a kept connection's between its invocations' and the server's: on one
    // thread those hops are cheapest (measured: higher throughput, same or
    // lower latency). Everything else spreads hosts over the cores.
    let mut builder = if matches!(
        cli.command,
        Command::Tunnel(_) | Command::Persist(persist::PersistCommand::Hold)
    ) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(
                &Error::io("cannot start the async runtime", e),
                cli.global.json,
            );
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Debug(args) => debug::debug(&cli.global, args).await,
            Command::Demo(args) => demo::demo(args).await,
            Command::Diagnose(args) => diagnose::diagnose(&cli.global, args).await,
            Command::Run(args) => run::run(&cli.global, args).await,
            Command::Hosts(args) => hosts::hosts(&cli.global, args).await,
            Command::Env(args) => env::env(&cli.global, args).await,
            Command::Task(args) => task::task(&cli.global, args).await,
            Command::Shell(args) => shell::shell(&cli.global, args).await,
            Command::Tasks => task::tasks(&cli.global),
            Command::Logs(args) => logs::logs(&cli.global, args).await,
            Command::Tunnel(args) => tunnel::tunnel(&cli.global, args).await,
            Command::Put(args) => transfer::put(&cli.global, args).await,
            Command::Get(args) => transfer::get(&cli.global, args).await,
            Command::Persist(command) => persist::persist(&cli.global, command).await,
            Command::Sandbox(command) => sandbox::sandbox(&cli.global, command),
            Command::Completions(args) => completions::completions(args),
            Command::Man(args) => completions::man(args),
        }
    });
    // Connections still open are dropped with the runtime; don't wait for them.
    runtime.shutdown_background();
    crate::ssh::proxy::stop_all();
    match result {
        Ok(code) => code,
        Err(error) => fail(&error, cli.global.json),
    }
}

/// Report an error that stopped the whole command (on stderr, and as a JSON
/// event on stdout with --json); returns its exit code.
fn fail(error: &Error, json: bool) -> i32 {
    let message = crate::error::report(error);
    if json {
        // A refusal that stopped it names its host.
        let refusal = match error {
            Error::Refused(refusal) => Some(refusal),
            _ => None,
        };
        let event = Event::Error {
            host: refusal.map(|r| r.host.clone()),
            kind: error.kind().into(),
            message: message.clone(),
            exit_code: Some(error.exit_code()),
            lock: refusal.map(|r| r.lock),
        };
        // Nowhere left to report a failure to write it.
        let _ = json_line(&mut std::io::stdout().lock(), &event);
    }
    stderr_line!(
        "{} {message}",
        console::style("roadie: error:").red().bold().for_stderr()
    );
    error.exit_code()
}

/// Report that `host` failed with `error`: on stderr, and as an `error`
/// event with --json.
fn host_failed(
    out: &mut impl std::io::Write,
    host: &Host,
    error: &Error,
    json: bool,
) -> Result<(), Error> {
    let message = crate::error::report(error);
    if json {
        let event = Event::Error {
            host: Some(host.label.clone()),
            kind: error.kind().into(),
            message: message.clone(),
            exit_code: None,
            lock: crate::outcome::refused_by(error),
        };
        output_result(json_line(out, &event))?;
    }
    stderr_line!(
        "{} {message}",
        console::style("roadie: error:").red().bold().for_stderr()
    );
    Ok(())
}

/// The sudo password from `ROADIE_SUDO_PASSWORD`, read where the command
/// line is, and handed down as a secret.
pub(crate) fn sudo_password() -> Option<secrecy::SecretString> {
    std::env::var(crate::SUDO_PASSWORD_VAR)
        .ok()
        .map(secrecy::SecretString::from)
}

/// Treat a closed stdout (`roadie ... | head`) as a normal end.
fn output_result(result: std::io::Result<()>) -> Result<(), Error> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| Error::io("cannot write output", e)),
    }
}
