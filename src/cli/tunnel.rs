//! `roadie tunnel TARGET SPEC... [--exec -- COMMAND...]`

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use tokio::sync::mpsc;

use super::Global;
use crate::dotenv::DotEnv;
use crate::error::{Error, exit_code};
use crate::event::{Event, TunnelEvent};
use crate::safety::{Intent, SafetyClass};
use crate::tunnel::{Link, forward};
use crate::tunnel_spec::{Spec, database_env};

#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// [LOCAL_PORT:]REMOTE_PORT, [LOCAL_PORT:]HOST:PORT (as the server sees
    /// it), or a name from roadie.yaml's `tunnels`. Local port 0 (the
    /// default) picks a free one.
    #[arg(required = true)]
    pub specs: Vec<String>,
    /// The local address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// Run COMMAND locally with the server's database settings (from its
    /// .env) pointed at the tunnel; close the tunnel when it exits and pass
    /// its exit code through.
    #[arg(long)]
    pub exec: bool,
    /// The command for --exec.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The environment lock for every host of `target`, before any is
/// contacted (one refused host stops all), with each refusal in the audit
/// log as `step`.
pub(super) fn lock_all(
    target: &str,
    step: &str,
    hosts: &[crate::host::Host],
    intent: &Intent,
) -> Result<(), Error> {
    let Some(errors) = crate::guard::environment_lock(hosts, intent) else {
        return Ok(());
    };
    for (host, error) in hosts.iter().zip(&errors) {
        crate::audit::record_refusal(target, host, step, intent.class, error);
    }
    Err(crate::guard::first_refusal(errors))
}

/// A link to `host` for `step`, its refusal (by the pinned-key or marker
/// locks) in the audit log.
pub(super) async fn link_to(
    target: &str,
    step: &str,
    host: &crate::host::Host,
    intent: &Intent,
    events: mpsc::UnboundedSender<TunnelEvent>,
) -> Result<std::sync::Arc<Link>, Error> {
    Link::connect(host, intent, events)
        .await
        .inspect_err(|e| crate::audit::record_refusal(target, host, step, intent.class, e))
}

/// Print tunnel events as they come, for people or as JSON lines.
pub(super) fn print_events(
    mut events: mpsc::UnboundedReceiver<TunnelEvent>,
    json: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if json {
                let _ = crate::output::json_stdout(&Event::Tunnel(event));
            } else if matches!(event, TunnelEvent::Listening { .. }) {
                println!("{}", event.describe());
            } else {
                stderr_line!("roadie: {}", event.describe());
            }
        }
    })
}

pub(super) async fn tunnel(global: &Global, args: &TunnelArgs) -> Result<i32, Error> {
    if args.exec == args.command.is_empty() {
        return Err(Error::Usage(if args.exec {
            "--exec needs a command after --".into()
        } else {
            "a command after -- goes with --exec".into()
        }));
    }
    let hosts = global.hosts(&args.target)?;
    let intent = Intent {
        class: SafetyClass::Change,
        confirm: global.confirm.clone(),
    };
    if hosts.len() > 1 && args.exec {
        return Err(Error::Usage(
            "--exec works with one host; name it as ENV/HOST".into(),
        ));
    }
    lock_all(&args.target, "tunnel", &hosts, &intent)?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = print_events(receiver, global.json);
    let mut forwards = Vec::new();
    for host in &hosts {
        let inventory = global.inventory_if_any()?;
        let named = host
            .environment
            .as_deref()
            .and_then(|e| inventory.as_ref()?.environment(e))
            .map(|e| e.tunnels.clone())
            .unwrap_or_default();
        let specs = args
            .specs
            .iter()
            .map(|s| Spec::parse(s, &named).map_err(Error::Usage))
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.len() > 1 && specs.iter().any(|s| s.local_port != 0) {
            return Err(Error::Usage(
                "with several hosts, let roadie pick the local ports (no LOCAL:)".into(),
            ));
        }
        let link = link_to(&args.target, "tunnel", host, &intent, sender.clone()).await?;
        for spec in specs {
            let bind = SocketAddr::new(args.bind, spec.local_port);
            let (local, task) =
                forward(link.clone(), bind, spec.remote.clone(), spec.name.clone()).await?;
            forwards.push((link.clone(), spec, local, task));
        }
    }
    let code = if args.exec {
        let (link, _, local, _) = forwards
            .iter()
            .find(|(_, spec, _, _)| matches!(spec.name.as_deref(), Some("db" | "database")))
            .or(forwards.first())
            .expect("at least one spec");
        exec(link, *local, &args.command).await?
    } else {
        crate::ssh::proxy::leave_to_caller(nix::sys::signal::Signal::SIGINT);
        let _ = tokio::signal::ctrl_c().await;
        exit_code::SUCCESS
    };
    for (_, _, _, task) in &forwards {
        task.abort();
    }
    drop(forwards);
    drop(sender);
    printer.abort();
    Ok(code)
}

/// Run `command` with the database settings of the server's .env pointed at
/// `local`; its exit code.
async fn exec(link: &Link, local: SocketAddr, command: &[String]) -> Result<i32, Error> {
    let session = link
        .session(std::time::Duration::from_secs(10))
        .await
        .ok_or_else(|| Error::Remote {
            host: link.label().to_owned(),
            message: "the connection is down".into(),
        })?;
    let path = crate::template::env_file(session.host(), None)?;
    let mut child = tokio::process::Command::new(&command[0]);
    child
        .args(&command[1..])
        .env("ROADIE_TUNNEL", local.to_string());
    match session.read_file(&path).await? {
        Some(bytes) => {
            for (key, value) in
                database_env(&DotEnv::parse(&String::from_utf8_lossy(&bytes)), local)
            {
                child.env(key, value);
            }
        }
        None => stderr_line!(
            "roadie: warning: {}: {path} does not exist; the command gets only ROADIE_TUNNEL={local}",
            link.label()
        ),
    }
    let status = child
        .status()
        .await
        .map_err(|e| Error::io(format!("cannot run {}", command[0]), e))?;
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
}
