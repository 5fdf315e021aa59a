//! `roadie hosts TARGET [--check]`

use clap::Args;

use super::{Global, output_result};
use crate::error::{ConnectError, Error, exit_code};
use crate::event::{Event, HostLine, HostListing};
use crate::guard;
use crate::host::Host;
use crate::known_hosts::describe;
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::output::json_line;
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::{Intent, Lock};
use crate::ssh::Session;
use crate::ssh::algorithms;
use crate::verify;

#[derive(Debug, Args)]
pub struct HostsArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// Connect to each host: show its host key and whether login works.
    #[arg(long)]
    pub check: bool,
}

/// File names, for people and scripts.
fn shown(files: &[std::path::PathBuf]) -> Vec<String> {
    files.iter().map(|p| p.display().to_string()).collect()
}

impl HostLine {
    fn new(host: &Host) -> HostLine {
        let mut via = Vec::new();
        let mut hop = host.via.as_deref();
        while let Some(h) = hop {
            via.push(h.address());
            hop = h.via.as_deref();
        }
        via.reverse();
        HostLine {
            host: host.label.clone(),
            environment: host.environment.clone(),
            protected: host.protected,
            hostname: host.hostname.clone(),
            port: host.port,
            user: host.user.clone(),
            address: host.address(),
            identities: shown(&host.auth.identity_files),
            certificates: shown(&host.auth.certificate_files),
            via,
            proxy_command: host.proxy_command.clone(),
            forward_agent: host.forward_agent.as_ref().map(|p| p.display().to_string()),
            algorithms: algorithms::offered(host),
            algorithm_warnings: host.algorithms.warnings.clone(),
            host_key: None,
            login: None,
            error_kind: None,
            locks: guard::locks(host, None),
            destroy: None,
            destroy_lock: None,
        }
    }
}

/// What a check learned from a host it reached.
struct Checked {
    host_key: String,
    locks: Vec<String>,
    destroy: String,
    destroy_lock: Option<Lock>,
}

/// Logged in (to read only): the host key, the locks that apply, and
/// whether a destroy step would be allowed.
async fn check(session: Session) -> Result<Checked, Error> {
    let (destroy, destroy_lock) = match verify::destroy_verdict(&session).await {
        Ok(()) => ("allowed".to_owned(), None),
        Err(Error::Refused(refusal)) => {
            (format!("refused: {}", refusal.reason), Some(refusal.lock))
        }
        Err(other) => (format!("unknown: {}", crate::error::report(&other)), None),
    };
    let checked = Checked {
        host_key: describe(session.server_key()),
        locks: guard::locks(session.host(), Some(session.verified())),
        destroy,
        destroy_lock,
    };
    session.close().await;
    Ok(checked)
}

pub(super) async fn hosts(global: &Global, args: &HostsArgs) -> Result<i32, Error> {
    let hosts = global.hosts(&args.target)?;
    let mut lines: Vec<HostLine> = hosts.iter().map(HostLine::new).collect();
    if !args.check {
        output_result(print(&lines, global.json))?;
        return Ok(exit_code::SUCCESS);
    }
    let results = each_host(
        &hosts,
        &Intent::read(),
        usize::from(DEFAULT_PARALLEL),
        check,
    )
    .await;
    let mut outcomes = Vec::with_capacity(results.len());
    for (line, result) in lines.iter_mut().zip(results) {
        match result {
            Ok(checked) => {
                line.host_key = Some(checked.host_key);
                line.login = Some("ok".into());
                line.locks = checked.locks;
                line.destroy = Some(checked.destroy);
                line.destroy_lock = checked.destroy_lock;
                outcomes.push(HostOutcome::done("ok"));
            }
            Err(error) => {
                if let Error::Connect { source, .. } = &error
                    && let ConnectError::Auth(failure) = source.as_ref()
                {
                    line.host_key.clone_from(&failure.server_key);
                }
                line.error_kind = Some(error.kind().into());
                line.login = Some(crate::error::report(&error));
                outcomes.push(HostOutcome::Failed(error));
            }
        }
    }
    output_result(print(&lines, global.json))?;
    Ok(overall_exit_code(&outcomes))
}

fn print(lines: &[HostLine], json: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        for line in lines {
            let event = Event::Listing(HostListing::Host(Box::new(line.clone())));
            json_line(&mut out, &event)?;
        }
        return out.flush();
    }
    let width = lines.iter().map(|l| l.host.len()).max().unwrap_or(4).max(4);
    let env_width = lines
        .iter()
        .map(|l| l.environment.as_deref().unwrap_or("-").len() + if l.protected { 12 } else { 0 })
        .max()
        .unwrap_or(3)
        .max(3);
    writeln!(out, "{:<width$}  {:<env_width$}  ADDRESS", "HOST", "ENV")?;
    for l in lines {
        let env = format!(
            "{}{}",
            l.environment.as_deref().unwrap_or("-"),
            if l.protected { " (protected)" } else { "" }
        );
        writeln!(out, "{:<width$}  {env:<env_width$}  {}", l.host, l.address)?;
        let pad = " ".repeat(width + 2);
        if !l.via.is_empty() {
            writeln!(out, "{pad}via {}", l.via.join(" -> "))?;
        }
        if let Some(command) = &l.proxy_command {
            writeln!(out, "{pad}proxy command {command}")?;
        }
        if let Some(socket) = &l.forward_agent {
            writeln!(out, "{pad}agent forwarded from {socket}")?;
        }
        for warning in &l.algorithm_warnings {
            writeln!(out, "{pad}warning {warning}")?;
        }
        if !l.identities.is_empty() {
            writeln!(out, "{pad}identity {}", l.identities.join(", "))?;
        }
        if !l.certificates.is_empty() {
            writeln!(out, "{pad}certificate {}", l.certificates.join(", "))?;
        }
        if let Some(key) = &l.host_key {
            writeln!(out, "{pad}host key {key}")?;
        }
        if let Some(login) = &l.login {
            writeln!(
                out,
                "{pad}login {}",
                login.replace('\n', &format!("\n{pad}  "))
            )?;
        }
        for lock in &l.locks {
            writeln!(out, "{pad}lock {lock}")?;
        }
        if let Some(destroy) = &l.destroy {
            writeln!(out, "{pad}destroy {destroy}")?;
        }
    }
    out.flush()
}
