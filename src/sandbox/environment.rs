//! The managed sandbox: N sshd servers on 127.0.0.2, 127.0.0.3, ... (and
//! optionally a protected `production` host), their keys and known_hosts
//! under `.roadie/sandbox/` next to the inventory, and the environments that
//! reach them written into roadie.yaml as a marked block.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::vars::{create_default_sites, sandbox_vars, vars_lines};
use super::{Server, ServerConfig, ensure_key, free_port, known_hosts_line, write_file};
use crate::error::Error;
use crate::event::SandboxHost;
use crate::inventory::Inventory;
use crate::ssh_config::LocalUser;

const BEGIN: &str = "# >>> roadie sandbox: written by `roadie sandbox up`; its vars are kept, other edits between these markers are replaced";
/// How the managed block's first line starts, whatever roadie version wrote it.
const BEGIN_PREFIX: &str = "# >>> roadie sandbox:";
const END: &str = "# <<< roadie sandbox";
/// The environment of the sandbox hosts.
pub(crate) const ENVIRONMENT: &str = "sandbox";
/// The protected environment `--production` adds.
pub(crate) const PRODUCTION: &str = "production";

/// What to start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub hosts: u8,
    /// Also a protected, key-pinned production host with its own login key.
    pub production: bool,
    /// `vars` of the sandbox environment to set (name, string value), on
    /// top of those it has; they are kept by later runs.
    pub vars: Vec<(String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    pub port: u16,
    pub hosts: Vec<HostState>,
    #[serde(default)]
    pub production: Option<HostState>,
}

impl State {
    /// Every host, production last.
    pub(crate) fn all(&self) -> impl Iterator<Item = &HostState> {
        self.hosts.iter().chain(&self.production)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HostState {
    pub address: Ipv4Addr,
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// A sandbox belonging to an inventory file.
#[derive(Debug, Clone)]
pub(crate) struct Sandbox {
    pub inventory: PathBuf,
    pub dir: PathBuf,
}

impl Sandbox {
    /// The sandbox of `inventory` (an absolute path): `.roadie/sandbox/` beside it.
    pub(crate) fn new(inventory: PathBuf) -> Sandbox {
        let base = inventory.parent().unwrap_or(Path::new(".")).to_path_buf();
        Sandbox {
            dir: base.join(".roadie/sandbox"),
            inventory,
        }
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The state of a running (or crashed) sandbox.
    pub(crate) fn state(&self) -> Result<Option<State>, Error> {
        let path = self.state_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Sandbox(format!("{} is damaged ({e}); delete it", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// Start the servers (stopping earlier ones, keeping their port and
    /// keys) and write the environments into the inventory.
    pub(crate) fn up(&self, options: &Options) -> Result<State, Error> {
        let vars = BlockVars {
            sandbox: sandbox_vars(&self.inventory, &self.dir, ENVIRONMENT, &options.vars)?,
            production: if options.production {
                sandbox_vars(&self.inventory, &self.dir, PRODUCTION, &[])?
            } else {
                BTreeMap::new()
            },
        };
        let previous = self.state()?;
        let previous_port = previous.as_ref().map(|s| s.port);
        if let Some(state) = previous {
            self.stop(&state);
        }
        let mut addresses: Vec<Ipv4Addr> = (0..options.hosts)
            .map(|i| Ipv4Addr::new(127, 0, 0, 2 + i))
            .collect();
        if options.production {
            addresses.push(Ipv4Addr::new(127, 0, 0, 2 + options.hosts));
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
        create_default_sites(&self.dir, &addresses)?;
        let (state, known_hosts) = self.start_servers(&addresses, port, options.production)?;
        write_file(
            &self.dir.join("known_hosts"),
            format!("{}\n", known_hosts.join("\n")).as_bytes(),
            0o644,
        )?;
        let state_text =
            serde_json::to_string_pretty(&state).map_err(|e| Error::Sandbox(e.to_string()))?;
        write_file(&self.state_file(), state_text.as_bytes(), 0o644)?;
        install_environment(&self.inventory, &state, &vars)?;
        Ok(state)
    }

    /// Stop the servers; how many there were, or `None` if none ran.
    pub(crate) fn down(&self) -> Result<Option<usize>, Error> {
        let Some(state) = self.state()? else {
            return Ok(None);
        };
        self.stop(&state);
        Ok(Some(state.all().count()))
    }

    /// Each host and whether it runs; `None` if the sandbox is not up.
    pub(crate) fn status(&self) -> Result<Option<Vec<SandboxHost>>, Error> {
        let Some(state) = self.state()? else {
            return Ok(None);
        };
        Ok(Some(
            state
                .all()
                .map(|host| SandboxHost {
                    host: format!("{}:{}", host.address, state.port),
                    pid: host.pid,
                    up: is_our_sshd(host.pid, &self.dir) && listening(host.address, state.port),
                })
                .collect(),
        ))
    }

    /// A client key and the authorized_keys file that admits it.
    fn client_key(&self, name: &str) -> Result<PathBuf, Error> {
        let key = self.dir.join(format!("{name}_key"));
        let public = ensure_key(&key, &format!("roadie sandbox {name} key"))?;
        let line = public
            .to_openssh()
            .map_err(|e| Error::Sandbox(format!("cannot encode a key: {e}")))?;
        let authorized_keys = self.dir.join(format!("authorized_keys_{name}"));
        write_file(&authorized_keys, format!("{line}\n").as_bytes(), 0o644)?;
        Ok(authorized_keys)
    }

    /// Start one sshd per address (the last one the production host when
    /// `production`); returns the state and the known_hosts lines.
    fn start_servers(
        &self,
        addresses: &[Ipv4Addr],
        port: u16,
        production: bool,
    ) -> Result<(State, Vec<String>), Error> {
        // Each environment logs in with its own key: the staging key cannot
        // reach the production host (the environment-key lock).
        let staging_keys = self.client_key("client")?;
        let production_keys = if production {
            Some(self.client_key("production")?)
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
                Some(keys) if is_production => (self.dir.join("production"), keys.clone()),
                _ => (
                    self.dir.join(format!("host{}", index + 1)),
                    staging_keys.clone(),
                ),
            };
            let server = super::home::launcher(&self.dir, &dir, *address).and_then(|launcher| {
                Server::start(&ServerConfig {
                    dir,
                    addresses: vec![*address],
                    port,
                    authorized_keys,
                    detached: true,
                    extra: Vec::new(),
                    launcher,
                })
            });
            let server = match server {
                Ok(server) => server,
                Err(e) => {
                    self.stop(&state);
                    return Err(e);
                }
            };
            known_hosts.push(known_hosts_line(*address, port, &server.host_key)?);
            let host = HostState {
                address: *address,
                pid: server.pid,
                fingerprint: is_production
                    .then(|| crate::known_hosts::fingerprint(&server.host_key)),
            };
            if is_production {
                state.production = Some(host);
            } else {
                state.hosts.push(host);
            }
        }
        Ok((state, known_hosts))
    }

    /// Stop the servers of `state` and forget it.
    fn stop(&self, state: &State) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        for host in state.all() {
            if !is_our_sshd(host.pid, &self.dir) {
                continue;
            }
            let group = Pid::from_raw(i32::try_from(host.pid).unwrap_or(i32::MAX));
            let _ = killpg(group, Signal::SIGTERM);
            let started = Instant::now();
            while listening(host.address, state.port) && started.elapsed() < Duration::from_secs(3)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(self.state_file());
    }
}

/// The vars of each environment of the managed block.
#[derive(Debug, Default)]
struct BlockVars {
    sandbox: BTreeMap<String, Value>,
    production: BTreeMap<String, Value>,
}

/// The sandbox environments, for an `environments:` mapping indented by `indent`.
fn environment_block(state: &State, vars: &BlockVars, indent: usize) -> String {
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
    lines.extend(vars_lines(&vars.sandbox, &two, &one));
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
        lines.extend(vars_lines(&vars.production, &two, &one));
    }
    lines.push(format!("{one}{END}"));
    lines.join("\n")
}

/// Put the sandbox environment into the inventory: replace an earlier one,
/// or insert it under `environments:`, or create the file. The result is
/// parsed before it is written, and written atomically.
fn install_environment(path: &Path, state: &State, vars: &BlockVars) -> Result<(), Error> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let block = |indent| environment_block(state, vars, indent);
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
    let begin = lines
        .iter()
        .position(|l| l.trim_start().starts_with(BEGIN_PREFIX));
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
        let site = BTreeMap::from([("site".to_owned(), Value::from("/srv/{{ host }}"))]);
        let vars = BlockVars {
            sandbox: site.clone(),
            production: site,
        };
        let block = |indent| environment_block(&first, &vars, indent);
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
        let again =
            merge_block(&merged, |indent| environment_block(&second, &vars, indent)).unwrap();
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
