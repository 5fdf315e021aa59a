//! `roadie sandbox up|down|status`: real sshd servers on 127.0.0.x, and a
//! `sandbox` environment in roadie.yaml that reaches them.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use super::Global;
use crate::error::{Error, exit_code};
use crate::inventory::{self, Inventory};
use crate::sandbox::{Server, ServerConfig, ensure_key, free_port, known_hosts_line, write_file};
use crate::ssh_config::LocalUser;

const BEGIN: &str = "# >>> roadie sandbox: written by `roadie sandbox up`; edits between these markers are replaced";
const END: &str = "# <<< roadie sandbox";
const ENVIRONMENT: &str = "sandbox";
const PRODUCTION: &str = "production";

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
    },
    /// Stop the sandbox servers (keys and the environment are kept).
    Down,
    /// Show whether the sandbox servers are running.
    Status,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    port: u16,
    hosts: Vec<HostState>,
    #[serde(default)]
    production: Option<HostState>,
}

impl State {
    fn all(&self) -> impl Iterator<Item = &HostState> {
        self.hosts.iter().chain(&self.production)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct HostState {
    address: Ipv4Addr,
    pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
}

struct Paths {
    inventory: PathBuf,
    dir: PathBuf,
}

impl Paths {
    fn new(global: &Global) -> Result<Paths, Error> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?;
        let inventory = global
            .inventory
            .clone()
            .or_else(|| Inventory::find(&cwd))
            .unwrap_or_else(|| cwd.join(inventory::FILE_NAME));
        let inventory = if inventory.is_absolute() {
            inventory
        } else {
            cwd.join(inventory)
        };
        let base = inventory.parent().unwrap_or(&cwd).to_path_buf();
        Ok(Paths {
            dir: base.join(".roadie/sandbox"),
            inventory,
        })
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn read_state(&self) -> Result<Option<State>, Error> {
        match std::fs::read_to_string(self.state()) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Sandbox(format!(
                    "{} is damaged ({e}); delete it",
                    self.state().display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(
                format!("cannot read {}", self.state().display()),
                e,
            )),
        }
    }
}

pub fn sandbox(global: &Global, command: &SandboxCommand) -> Result<i32, Error> {
    let paths = Paths::new(global)?;
    match command {
        SandboxCommand::Up { hosts, production } => up(&paths, *hosts, *production, global.json),
        SandboxCommand::Down => down(&paths, global.json),
        SandboxCommand::Status => status(&paths, global.json),
    }
}

/// A client key and the authorized_keys file that admits it.
fn client_key(paths: &Paths, name: &str) -> Result<PathBuf, Error> {
    let key = paths.dir.join(format!("{name}_key"));
    let public = ensure_key(&key, &format!("roadie sandbox {name} key"))?;
    let line = public
        .to_openssh()
        .map_err(|e| Error::Sandbox(format!("cannot encode a key: {e}")))?;
    let authorized_keys = paths.dir.join(format!("authorized_keys_{name}"));
    write_file(&authorized_keys, format!("{line}\n").as_bytes(), 0o644)?;
    Ok(authorized_keys)
}

fn up(paths: &Paths, count: u8, production: bool, json: bool) -> Result<i32, Error> {
    let previous = paths.read_state()?;
    let previous_port = previous.as_ref().map(|s| s.port);
    if let Some(state) = previous {
        stop(paths, &state);
    }
    let mut addresses: Vec<Ipv4Addr> = (0..count)
        .map(|i| Ipv4Addr::new(127, 0, 0, 2 + i))
        .collect();
    if production {
        addresses.push(Ipv4Addr::new(127, 0, 0, 2 + count));
    }
    let port = match previous_port {
        Some(port)
            if addresses
                .iter()
                .all(|a| std::net::TcpListener::bind((*a, port)).is_ok()) =>
        {
            port
        }
        _ => free_port(&addresses)?,
    };
    let (state, known_hosts) = start_servers(paths, &addresses, port, production)?;
    write_file(
        &paths.dir.join("known_hosts"),
        format!("{}\n", known_hosts.join("\n")).as_bytes(),
        0o644,
    )?;
    let state_text =
        serde_json::to_string_pretty(&state).map_err(|e| Error::Sandbox(e.to_string()))?;
    write_file(&paths.state(), state_text.as_bytes(), 0o644)?;
    install_environment(&paths.inventory, &state)?;
    let endpoints: Vec<String> = state
        .hosts
        .iter()
        .map(|h| format!("{}:{port}", h.address))
        .collect();
    let protected = state
        .production
        .as_ref()
        .map(|p| format!("{}:{port}", p.address));
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "sandbox_up", "environment": ENVIRONMENT, "hosts": endpoints, "production": protected, "inventory": paths.inventory})
        );
    } else {
        println!(
            "sandbox: {} sshd server(s) up on {}\nsandbox: environment '{ENVIRONMENT}' written to {}",
            state.hosts.len(),
            endpoints.join(", "),
            paths.inventory.display()
        );
        if let Some(protected) = protected {
            println!(
                "sandbox: protected environment '{PRODUCTION}' on {protected}, pinned by its host key, with its own login key\n\
                 try: roadie run {PRODUCTION} --destroy -- true     (refused: protected environment)"
            );
        }
        println!("try: roadie run {ENVIRONMENT} -- uname -a");
    }
    Ok(exit_code::SUCCESS)
}

/// Start one sshd per address (the last one the production host when
/// `production`); returns the state and the known_hosts lines.
fn start_servers(
    paths: &Paths,
    addresses: &[Ipv4Addr],
    port: u16,
    production: bool,
) -> Result<(State, Vec<String>), Error> {
    // Each environment logs in with its own key: the staging key cannot
    // reach the production host (the environment-key lock).
    let staging_keys = client_key(paths, "client")?;
    let production_keys = if production {
        Some(client_key(paths, "production")?)
    } else {
        None
    };
    let mut state = State {
        port,
        hosts: Vec::new(),
        production: None,
    };
    let mut known_hosts = Vec::new();
    for (index, address) in addresses.iter().enumerate() {
        let is_production = production && index == addresses.len() - 1;
        let (dir, authorized_keys) = match &production_keys {
            Some(keys) if is_production => (paths.dir.join("production"), keys.clone()),
            _ => (
                paths.dir.join(format!("host{}", index + 1)),
                staging_keys.clone(),
            ),
        };
        let server = Server::start(&ServerConfig {
            dir,
            addresses: vec![*address],
            port,
            authorized_keys,
            detached: true,
            extra: Vec::new(),
            launcher: Vec::new(),
        });
        let server = match server {
            Ok(server) => server,
            Err(e) => {
                stop(paths, &state);
                return Err(e);
            }
        };
        known_hosts.push(known_hosts_line(*address, port, &server.host_key)?);
        let host = HostState {
            address: *address,
            pid: server.pid,
            fingerprint: is_production
                .then(|| crate::ssh::known_hosts::fingerprint(&server.host_key)),
        };
        if is_production {
            state.production = Some(host);
        } else {
            state.hosts.push(host);
        }
    }
    Ok((state, known_hosts))
}

/// The sandbox environments, for an `environments:` mapping indented by `indent`.
fn environment_block(state: &State, indent: usize) -> String {
    let entry = |h: &HostState| format!("\"{}:{}\"", h.address, state.port);
    let hosts: Vec<String> = state.hosts.iter().map(entry).collect();
    let user = LocalUser::current().name;
    let (one, two) = (" ".repeat(indent), " ".repeat(indent * 2));
    let mut lines = vec![
        format!("{one}{BEGIN}"),
        format!("{one}{ENVIRONMENT}:"),
        format!("{two}hosts: [{}]", hosts.join(", ")),
        format!("{two}user: \"{user}\""),
        format!("{two}identity: .roadie/sandbox/client_key"),
        format!("{two}known_hosts: .roadie/sandbox/known_hosts"),
    ];
    if let Some(production) = &state.production {
        lines.extend([
            format!("{one}{PRODUCTION}:"),
            format!("{two}protected: true"),
            format!("{two}hosts: [{}]", entry(production)),
            format!("{two}user: \"{user}\""),
            format!("{two}identity: .roadie/sandbox/production_key"),
            format!("{two}known_hosts: .roadie/sandbox/known_hosts"),
            format!(
                "{two}host_keys: [\"{}\"]",
                production.fingerprint.as_deref().unwrap_or_default()
            ),
        ]);
    }
    lines.push(format!("{one}{END}"));
    lines.join("\n")
}

/// Put the sandbox environment into the inventory: replace an earlier one,
/// or insert it under `environments:`, or create the file. The result is
/// parsed before it is written, and written atomically.
fn install_environment(path: &Path, state: &State) -> Result<(), Error> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let block = |indent| environment_block(state, indent);
    let text = match existing {
        None => format!("environments:\n{}\n", block(2)),
        Some(text) => merge_block(&text, block).ok_or_else(|| {
            Error::Sandbox(format!(
                "cannot add the '{ENVIRONMENT}' environment to {} by myself; add this under `environments:`:\n{}",
                path.display(),
                block(2)
            ))
        })?,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let parsed = Inventory::parse(&text, path, base)?;
    if parsed.environment(ENVIRONMENT).is_none() {
        return Err(Error::Sandbox(format!(
            "the sandbox environment did not land in {}",
            path.display()
        )));
    }
    let mode = std::fs::metadata(path).map_or(0o644, |m| {
        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777
    });
    write_file(path, text.as_bytes(), mode)
}

/// `text` with the managed block (made by `block` for an indent) replaced or
/// added; `None` when the file's shape is not one this can edit safely.
fn merge_block(text: &str, block: impl Fn(usize) -> String) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let begin = lines.iter().position(|l| l.trim_start() == BEGIN);
    let end = lines.iter().position(|l| l.trim_start() == END);
    let (before, inserted, after) = match (begin, end) {
        (Some(b), Some(e)) if b < e => (&lines[..b], block(indent_of(lines[b])), &lines[e + 1..]),
        _ => {
            let environments = lines.iter().position(|l| l.trim_end() == "environments:");
            match environments {
                Some(at) => {
                    let children: Vec<&&str> = lines[at + 1..]
                        .iter()
                        .take_while(|l| {
                            l.trim().is_empty() || l.starts_with(' ') || l.starts_with('#')
                        })
                        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                        .collect();
                    let indent = children.first().map_or(2, |l| indent_of(l));
                    // Environments the block defines must not exist already.
                    let ours = block(indent);
                    let names: Vec<&str> = ours
                        .lines()
                        .filter(|l| indent_of(l) == indent && !l.trim_start().starts_with('#'))
                        .map(str::trim)
                        .collect();
                    let taken = children
                        .iter()
                        .any(|l| indent_of(l) == indent && names.contains(&l.trim()));
                    if taken {
                        return None;
                    }
                    (&lines[..=at], block(indent), &lines[at + 1..])
                }
                None if !lines.iter().any(|l| l.starts_with("environments")) => {
                    return Some(
                        format!("{}\nenvironments:\n{}\n", lines.join("\n"), block(2))
                            .trim_start()
                            .to_owned(),
                    );
                }
                None => return None,
            }
        }
    };
    let mut out: Vec<String> = before.iter().map(|l| (*l).to_owned()).collect();
    out.push(inserted);
    out.extend(after.iter().map(|l| (*l).to_owned()));
    Some(format!("{}\n", out.join("\n")))
}

fn is_our_sshd(pid: u32, dir: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()))
}

fn listening(address: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((address, port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Stop the servers of `state` and forget it.
fn stop(paths: &Paths, state: &State) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    for host in state.all() {
        if !is_our_sshd(host.pid, &paths.dir) {
            continue;
        }
        let group = Pid::from_raw(i32::try_from(host.pid).unwrap_or(i32::MAX));
        let _ = killpg(group, Signal::SIGTERM);
        let started = Instant::now();
        while listening(host.address, state.port) && started.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(paths.state());
}

fn down(paths: &Paths, json: bool) -> Result<i32, Error> {
    let Some(state) = paths.read_state()? else {
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "sandbox_down", "stopped": 0})
            );
        } else {
            println!("sandbox: not running");
        }
        return Ok(exit_code::SUCCESS);
    };
    stop(paths, &state);
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "sandbox_down", "stopped": state.all().count()})
        );
    } else {
        println!("sandbox: stopped {} server(s)", state.all().count());
    }
    Ok(exit_code::SUCCESS)
}

fn status(paths: &Paths, json: bool) -> Result<i32, Error> {
    let Some(state) = paths.read_state()? else {
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "sandbox_status", "running": false, "hosts": []})
            );
        } else {
            println!("sandbox: not running (start it with `roadie sandbox up`)");
        }
        return Ok(exit_code::FAILED);
    };
    let mut all_up = true;
    let mut rows = Vec::new();
    for host in state.all() {
        let up = is_our_sshd(host.pid, &paths.dir) && listening(host.address, state.port);
        all_up &= up;
        rows.push(serde_json::json!({"host": format!("{}:{}", host.address, state.port), "pid": host.pid, "up": up}));
        if !json {
            println!(
                "{}:{}  pid {}  {}",
                host.address,
                state.port,
                host.pid,
                if up { "up" } else { "DOWN" }
            );
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "sandbox_status", "running": all_up, "hosts": rows})
        );
    }
    Ok(if all_up {
        exit_code::SUCCESS
    } else {
        exit_code::FAILED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(port: u16) -> State {
        State {
            port,
            hosts: vec![HostState {
                address: Ipv4Addr::new(127, 0, 0, 2),
                pid: 1,
                fingerprint: None,
            }],
            production: Some(HostState {
                address: Ipv4Addr::new(127, 0, 0, 3),
                pid: 2,
                fingerprint: Some("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into()),
            }),
        }
    }

    fn parses_with_sandbox(text: &str) -> Inventory {
        let inv = Inventory::parse(text, Path::new("roadie.yaml"), Path::new(".")).unwrap();
        assert!(inv.environment(ENVIRONMENT).is_some(), "{text}");
        inv
    }

    #[test]
    fn block_goes_into_existing_inventories() {
        let first = state(2222);
        let block = |indent| environment_block(&first, indent);
        let merged =
            merge_block("environments:\n    staging:\n        hosts: [a]\n", block).unwrap();
        assert!(
            parses_with_sandbox(&merged)
                .environment("staging")
                .is_some()
        );
        let merged = merge_block(
            "# mine\nenvironments:\n  staging:\n    hosts: [a]\ntop: 1\n",
            block,
        );
        assert!(merged.is_some());
        let merged =
            merge_block("# mine\nenvironments:\n  staging:\n    hosts: [a]\n", block).unwrap();
        assert!(merged.starts_with("# mine\n"));
        parses_with_sandbox(&merged);
        let second = state(3333);
        let again = merge_block(&merged, |indent| environment_block(&second, indent)).unwrap();
        assert!(again.contains("3333") && !again.contains("2222"), "{again}");
        assert_eq!(again.matches(BEGIN).count(), 1);
        parses_with_sandbox(&again);
        parses_with_sandbox(&merge_block("", block).unwrap());
        parses_with_sandbox(&merge_block("environments:\n", block).unwrap());
        assert!(merge_block("environments: {}\n", block).is_none());
        assert!(merge_block("environments:\n  sandbox:\n    hosts: [x]\n", block).is_none());
        assert!(merge_block("environments:\n  production:\n    hosts: [x]\n", block).is_none());
    }
}
