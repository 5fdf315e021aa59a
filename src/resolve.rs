//! From a TARGET to hosts ready to connect to: inventory entries combined with
//! ssh_config and command-line overrides. Pure but for one thing: once an
//! environment is protected, the inventory's host names are looked up (with
//! a deadline) for the inventory-sanity lock.
//!
//! Precedence, highest first: command line, `roadie.yaml`, ssh_config, defaults.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::host::{
    Algorithms, AuthConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_KEEPALIVE_MAX, DEFAULT_MAX_STARTS, Host, HostKeyConfig, HostKeyPolicy, connect_limit,
};
use crate::inventory::{Environment, HostEntry, Inventory};
use crate::known_hosts::host_entry_name;
use crate::safety::Safety;
use crate::ssh_config::{
    self, ConfigFiles, ForwardAgent, HostConfig, LocalUser, Preset, StrictHostKeyChecking,
};

/// How many `ProxyJump` hops are followed before giving up (loops).
const MAX_HOPS: usize = 8;
/// How long the inventory-sanity lock waits for all its address lookups
/// together (shorter when `--connect-timeout` is).
pub(crate) const ADDRESS_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Settings from the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--user`: log in as this user.
    pub user: Option<String>,
    /// `--port`: connect to this port.
    pub port: Option<u16>,
    /// `--identity`: offer only this key file.
    pub identity: Option<PathBuf>,
    /// `-F FILE`: read only this ssh_config.
    pub ssh_config: Option<PathBuf>,
    /// `--known-hosts`: check host keys against this file only.
    pub known_hosts: Option<PathBuf>,
    /// `--accept-new`: record unknown host keys (trust on first use).
    pub accept_new: bool,
    /// `--insecure-ignore-host-key`: accept any host key.
    pub insecure_ignore_host_key: bool,
    /// `--connect-timeout`: how long each step of connecting may take.
    pub connect_timeout: Option<Duration>,
    /// `--persist TIME`: keep connections for reuse (zero: never).
    pub persist: Option<Duration>,
    /// `--max-starts N`: logins under way at once per server.
    pub max_starts: Option<usize>,
}

/// A host a TARGET chose: listed in the inventory, or outside it.
#[derive(Debug, PartialEq)]
enum Choice<'a> {
    Listed(&'a Environment, &'a HostEntry),
    AdHoc(Box<Host>),
}

/// What the command line or roadie.yaml chose, winning over ssh_config.
#[derive(Debug, Clone, Default)]
struct Chosen {
    identity: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
    /// May ssh-agent keys be offered?
    agent: bool,
    /// The environment the identity comes from.
    environment: Option<String>,
}

/// Resolves targets against an inventory, ssh_config and overrides.
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    /// The inventory targets are resolved against.
    pub inventory: &'a Inventory,
    /// What the command line says.
    pub overrides: &'a Overrides,
    /// The local user, for ssh_config's `%u`, `%d` and `~`.
    pub local: LocalUser,
    safety: Arc<Safety>,
}

impl<'a> Resolver<'a> {
    /// A resolver for `inventory`, with `overrides` winning over it.
    pub fn new(inventory: &'a Inventory, overrides: &'a Overrides) -> Resolver<'a> {
        Resolver {
            inventory,
            overrides,
            local: LocalUser::current(),
            safety: Arc::new(Safety::from_inventory(inventory)),
        }
    }

    fn files(&self) -> ConfigFiles {
        match &self.overrides.ssh_config {
            Some(path) => ConfigFiles::explicit(path),
            None => ConfigFiles::standard(&self.local),
        }
    }

    /// The hosts named by `target`: environments and hosts of the
    /// inventory, and hosts outside it (`[user@]host[:port]`, resolved
    /// through ssh_config; a bare name only where ssh_config places it).
    pub fn resolve(&self, target: &str) -> Result<Vec<Host>, Error> {
        let parts: Vec<&str> = target
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let mut chosen: Vec<Choice<'_>> = Vec::new();
        for part in &parts {
            if self.inventory.names(part) {
                for member in self.inventory.select(part).map_err(Error::Target)? {
                    let listed = Choice::Listed(member.environment, member.host);
                    if !chosen.contains(&listed) {
                        chosen.push(listed);
                    }
                }
            } else {
                let host = self.ad_hoc(part)?;
                if !chosen
                    .iter()
                    .any(|c| matches!(c, Choice::AdHoc(h) if h.label == host.label))
                {
                    chosen.push(Choice::AdHoc(Box::new(host)));
                }
            }
        }
        if parts.is_empty() {
            self.inventory.select(target).map_err(Error::Target)?;
        }
        if let Some(conflict) = self.inventory.protection_conflict() {
            return Err(Error::Refused(Box::new(crate::guard::inventory_conflict(
                &conflict.host,
                &conflict.environment,
                conflict.reason,
            ))));
        }
        let ad_hoc: Vec<&Host> = chosen
            .iter()
            .filter_map(|c| match c {
                Choice::AdHoc(host) => Some(host.as_ref()),
                Choice::Listed(..) => None,
            })
            .collect();
        self.check_addresses(&ad_hoc)?;
        chosen
            .into_iter()
            .map(|c| match c {
                Choice::Listed(env, entry) => self.resolve_entry(env, entry),
                Choice::AdHoc(host) => Ok(*host),
            })
            .collect()
    }

    /// A host outside the inventory, `[user@]host[:port]` resolved through
    /// ssh_config as `ssh` would, in no environment; the inventory's pinned
    /// keys and protected hosts still apply to it. A bare name (no `user@`,
    /// `:port` or dot) is taken as one only when ssh_config says where it is
    /// (a `HostName` of its own, a `ProxyCommand` or a `ProxyJump`):
    /// otherwise it is more likely a mistyped environment, or a command run
    /// outside its project, and is reported as such.
    fn ad_hoc(&self, spec: &str) -> Result<Host, Error> {
        let not_a_host = |why: String| {
            if self.inventory.path.as_os_str().is_empty() {
                let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                let mut missing = Inventory::missing(&here);
                missing.message = format!("{} ({why})", missing.message);
                return Error::Inventory(missing);
            }
            let listed = self.inventory.select(spec).err().unwrap_or_default();
            Error::Target(format!(
                "{listed}; a host outside {} is given as [user@]host[:port] ({why})",
                self.inventory.path.display()
            ))
        };
        let (user, host_name, port) = parse_jump(spec).map_err(not_a_host)?;
        let o = self.overrides;
        let preset = Preset {
            user: o.user.clone().or(user.clone()),
            port: o.port.or(port),
            proxy_command: None,
        };
        let config = self.config(&host_name, &preset, spec)?;
        let bare = user.is_none() && port.is_none() && !host_name.contains('.');
        let placed = config.hostname != ssh_config::canonical_hostname(&host_name)
            || config.proxy_command.is_some()
            || !config.proxy_jump.is_empty();
        if bare && !placed && host_name.parse::<IpAddr>().is_err() {
            return Err(not_a_host(format!(
                "ssh_config gives '{host_name}' no HostName, ProxyCommand or ProxyJump"
            )));
        }
        let chosen = Chosen {
            identity: o.identity.clone(),
            known_hosts: o.known_hosts.clone(),
            agent: true,
            environment: None,
        };
        let mut host = self.build(spec, &config, chosen, 0)?;
        host.persist = o.persist.filter(|d| !d.is_zero());
        Ok(host)
    }

    /// The inventory-sanity lock for addresses: no protected host may share
    /// an address (after ssh_config and DNS) with an unprotected one, nor
    /// with a host outside the inventory (`ad_hoc`).
    ///
    /// Every host of the inventory is looked up, all at once, for at most
    /// [`ADDRESS_LOOKUP_TIMEOUT`]: a name that cannot be resolved in time
    /// is compared by name only. It cannot be shown to collide, and does not
    /// hold up the command; the pinned-key lock still checks whatever server
    /// is reached when connecting.
    fn check_addresses(&self, ad_hoc: &[&Host]) -> Result<(), Error> {
        if !self.inventory.environments.iter().any(|e| e.protected) {
            return Ok(());
        }
        // Each host, with how it is named in a refusal, and whether it is protected.
        let mut hosts: Vec<(Host, String, bool)> = Vec::new();
        for env in &self.inventory.environments {
            for entry in &env.hosts {
                let named = format!("'{}/{}'", env.name, entry.entry);
                hosts.push((self.resolve_entry(env, entry)?, named, env.protected));
            }
        }
        for host in ad_hoc {
            let named = format!("'{}' (in no environment)", host.label);
            hosts.push(((*host).clone(), named, false));
        }
        let limit = self
            .overrides
            .connect_timeout
            .map_or(ADDRESS_LOOKUP_TIMEOUT, |t| {
                connect_limit(t).min(ADDRESS_LOOKUP_TIMEOUT)
            });
        // A host reached through a ProxyCommand is wherever the command
        // takes it: its name's addresses say nothing (ssh does not look it
        // up either), so it is compared by name only.
        let names: Vec<(String, u16)> = hosts
            .iter()
            .filter(|(host, ..)| host.proxy_command.is_none())
            .map(|(host, ..)| (host.hostname.clone(), host.port))
            .collect();
        let mut found = lookup_all(&names, limit).into_iter();
        let addresses: Vec<Vec<SocketAddr>> = hosts
            .iter()
            .map(|(host, ..)| match host.proxy_command {
                Some(_) => Vec::new(),
                None => found.next().unwrap_or_default(),
            })
            .collect();
        let reached: Vec<crate::guard::Reached<'_>> = hosts
            .iter()
            .zip(&addresses)
            .map(
                |((host, named, protected), addresses)| crate::guard::Reached {
                    host,
                    named,
                    protected: *protected,
                    addresses,
                },
            )
            .collect();
        match crate::guard::same_server(&reached) {
            Some(refusal) => Err(Error::Refused(Box::new(refusal))),
            None => Ok(()),
        }
    }

    fn resolve_entry(&self, env: &Environment, entry: &HostEntry) -> Result<Host, Error> {
        let o = self.overrides;
        let preset = Preset {
            user: o.user.clone().or_else(|| env.user.clone()),
            port: o.port.or(entry.port).or(env.port),
            proxy_command: env.proxy_command.clone(),
        };
        let config = self.config(&entry.host, &preset, &entry.entry)?;
        let chosen = Chosen {
            identity: o.identity.clone().or_else(|| env.identity.clone()),
            known_hosts: o.known_hosts.clone().or_else(|| env.known_hosts.clone()),
            agent: env.agent,
            environment: (o.identity.is_none() && env.identity.is_some()).then(|| env.name.clone()),
        };
        let mut host = self.build(&entry.entry, &config, chosen, 0)?;
        host.name.clone_from(&entry.host);
        host.environment = Some(env.name.clone());
        host.protected = env.protected;
        host.vars.clone_from(&env.vars);
        host.persist = o.persist.or(env.persist).filter(|d| !d.is_zero());
        // A protected environment forwards the agent only when it says so.
        let forward = match env.forward_agent {
            Some(wanted) => wanted.then_some(&ForwardAgent::Yes),
            None if env.protected => None,
            None => config.forward_agent.as_ref(),
        };
        host.forward_agent = forward.and_then(|f| agent_socket(f, &config));
        Ok(host)
    }

    fn config(&self, name: &str, preset: &Preset, label: &str) -> Result<HostConfig, Error> {
        ssh_config::resolve(&self.files(), name, preset, &self.local).map_err(|source| {
            Error::SshConfig {
                host: label.to_owned(),
                source,
            }
        })
    }

    /// Build a host from its ssh_config view and what the command line or
    /// roadie.yaml chose.
    fn build(
        &self,
        label: &str,
        config: &HostConfig,
        chosen: Chosen,
        depth: usize,
    ) -> Result<Host, Error> {
        let o = self.overrides;
        let home = &self.local.home;
        let Chosen {
            identity,
            known_hosts,
            agent,
            environment,
        } = chosen;
        let identities_only = (identity.is_some() && !agent) || config.identities_only;
        let identity_files = identity_files(identity, config, home);
        let auth = AuthConfig {
            identities_only,
            environment_identity: environment,
            certificate_files: certificate_files(config, &identity_files),
            identity_files,
            agent: match &config.identity_agent {
                _ if !agent => None,
                Some(socket) => socket.clone(),
                None => std::env::var_os("SSH_AUTH_SOCK")
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from),
            },
        };
        let host_key = self.host_key(config, known_hosts);
        let keepalive = match config.server_alive_interval {
            Some(interval) if interval.is_zero() => None,
            interval => Some((
                interval.unwrap_or(DEFAULT_KEEPALIVE_INTERVAL),
                config
                    .server_alive_count_max
                    .unwrap_or(DEFAULT_KEEPALIVE_MAX),
            )),
        };
        let via = self.jump_chain(&config.proxy_jump, label, depth)?;
        let proxy_command =
            ssh_config::proxy_command(config, crate::command::quote).map_err(|source| {
                Error::SshConfig {
                    host: label.to_owned(),
                    source,
                }
            })?;
        Ok(Host {
            label: label.to_owned(),
            name: config.original_host.clone(),
            environment: None,
            protected: false,
            hostname: config.hostname.clone(),
            port: config.port,
            user: config.user.clone(),
            auth,
            host_key,
            connect_timeout: connect_limit(
                o.connect_timeout
                    .or(config.connect_timeout)
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ),
            keepalive,
            ciphers: config.ciphers.clone(),
            algorithms: algorithms(config),
            via,
            proxy_command,
            forward_agent: config
                .forward_agent
                .as_ref()
                .and_then(|f| agent_socket(f, config)),
            max_starts: o.max_starts.unwrap_or(DEFAULT_MAX_STARTS),
            persist: o.persist.filter(|d| !d.is_zero()),
            vars: BTreeMap::new(),
            safety: self.safety.clone(),
        })
    }

    /// How `config`'s host key is checked: against `known_hosts` if the
    /// command line or roadie.yaml names one, else ssh_config's files.
    fn host_key(&self, config: &HostConfig, known_hosts: Option<PathBuf>) -> HostKeyConfig {
        let o = self.overrides;
        let home = &self.local.home;
        let user_files = match known_hosts {
            Some(file) => vec![file],
            None => config.user_known_hosts_files.clone().unwrap_or_else(|| {
                vec![
                    home.join(".ssh/known_hosts"),
                    home.join(".ssh/known_hosts2"),
                ]
            }),
        };
        let global_files = config.global_known_hosts_files.clone().unwrap_or_else(|| {
            vec![
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2"),
            ]
        });
        let policy = if o.insecure_ignore_host_key {
            HostKeyPolicy::Ignore
        } else if o.accept_new {
            HostKeyPolicy::AcceptNew
        } else {
            match config.strict_host_key_checking {
                // `no` is taken as accept-new: a changed key is never accepted silently.
                Some(StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::No) => {
                    HostKeyPolicy::AcceptNew
                }
                Some(StrictHostKeyChecking::Yes | StrictHostKeyChecking::Ask) | None => {
                    HostKeyPolicy::Strict
                }
            }
        };
        HostKeyConfig {
            name: config
                .host_key_alias
                .clone()
                .unwrap_or_else(|| host_entry_name(&config.hostname, config.port)),
            record_to: user_files.first().cloned(),
            files: user_files.into_iter().chain(global_files).collect(),
            hash: config.hash_known_hosts,
            policy,
        }
    }

    /// `ProxyJump a,b` reaches the host through `b`, itself reached through
    /// `a`; only the first hop's own ProxyJump is honoured, as in ssh.
    fn jump_chain(
        &self,
        hops: &[String],
        label: &str,
        depth: usize,
    ) -> Result<Option<Box<Host>>, Error> {
        if hops.is_empty() {
            return Ok(None);
        }
        if depth >= MAX_HOPS {
            return Err(Error::Usage(format!(
                "{label}: more than {MAX_HOPS} ProxyJump hops; is there a loop in ssh_config?"
            )));
        }
        let mut via: Option<Box<Host>> = None;
        for (index, spec) in hops.iter().enumerate() {
            let (user, name, port) =
                parse_jump(spec).map_err(|m| Error::Usage(format!("{label}: ProxyJump {m}")))?;
            let preset = Preset {
                user,
                port,
                proxy_command: None,
            };
            let mut config = self.config(&name, &preset, label)?;
            if index > 0 {
                config.proxy_jump.clear();
            }
            let chosen = Chosen {
                known_hosts: self.overrides.known_hosts.clone(),
                agent: true,
                ..Chosen::default()
            };
            let mut hop = self.build(spec, &config, chosen, depth + 1)?;
            // A jump host only forwards connections: no command there uses an agent.
            hop.forward_agent = None;
            if index > 0 {
                hop.via = via.take();
            }
            via = Some(Box::new(hop));
        }
        Ok(via)
    }
}

/// The addresses of each `(name, port)`, looked up concurrently, one thread
/// per distinct name, waiting `limit` in all. A name that fails, or has no
/// answer by then, gets no addresses. The system resolver cannot be
/// cancelled: a lookup still running at the deadline is left to finish on
/// its own thread, and its answer is dropped.
fn lookup_all(names: &[(String, u16)], limit: Duration) -> Vec<Vec<SocketAddr>> {
    let deadline = Instant::now() + limit;
    let mut found: Vec<Option<Vec<SocketAddr>>> = names
        .iter()
        .map(|(name, port)| {
            // An address needs no lookup (and [v6] brackets are not in hostname).
            name.parse::<IpAddr>()
                .ok()
                .map(|ip| vec![SocketAddr::new(ip, *port)])
        })
        .collect();
    let (send, receive) = mpsc::channel::<(usize, Vec<SocketAddr>)>();
    let mut pending = 0;
    for (index, (name, port)) in names.iter().enumerate() {
        if found[index].is_some() {
            continue;
        }
        // The same name and port listed twice is looked up once.
        if names[..index].contains(&(name.clone(), *port)) {
            continue;
        }
        let (name, port, send) = (name.clone(), *port, send.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("lookup {name}"))
            .spawn(move || {
                let addresses = (name.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                // The receiver is gone once the deadline has passed.
                let _ = send.send((index, addresses));
            });
        if spawned.is_ok() {
            pending += 1;
        }
    }
    drop(send);
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match receive.recv_timeout(left) {
            Ok((index, addresses)) => {
                found[index] = Some(addresses);
                pending -= 1;
            }
            Err(_) => break,
        }
    }
    names
        .iter()
        .enumerate()
        .map(|(index, key)| {
            let first = names.iter().position(|other| other == key).unwrap_or(index);
            found[index]
                .clone()
                .or_else(|| found[first].clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The agent socket `forward` names: `yes` forwards the agent at
/// `$SSH_AUTH_SOCK` as ssh does (or, as `yes` in roadie.yaml, the one
/// ssh_config's `ForwardAgent` names). None without one.
fn agent_socket(forward: &ForwardAgent, config: &HostConfig) -> Option<PathBuf> {
    match (forward, &config.forward_agent) {
        (ForwardAgent::No, _) => None,
        (ForwardAgent::Socket(path), _) | (ForwardAgent::Yes, Some(ForwardAgent::Socket(path))) => {
            Some(path.clone())
        }
        (ForwardAgent::Yes, _) => std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    }
}

/// The algorithm lists `config` sets, as roadie offers them.
fn algorithms(config: &HostConfig) -> Algorithms {
    let offered =
        |list: &Option<ssh_config::AlgorithmList>| list.as_ref().map(|l| l.offered.clone());
    Algorithms {
        kex: offered(&config.kex_algorithms),
        host_keys: offered(&config.host_key_algorithms),
        macs: offered(&config.macs),
        pubkey: offered(&config.pubkey_accepted_algorithms),
        warnings: ssh_config::algorithm_warnings(config),
    }
}

/// `[user@]host[:port]` (or `ssh://[user@]host[:port]`).
fn parse_jump(spec: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let spec = spec.strip_prefix("ssh://").unwrap_or(spec);
    let (user, rest) = match spec.rsplit_once('@') {
        Some((user, rest)) => (Some(user.to_owned()), rest),
        None => (None, spec),
    };
    let entry = HostEntry::parse(rest).map_err(|m| format!("'{spec}': {m}"))?;
    Ok((user, entry.host, entry.port))
}

/// The key files to offer: the inventory's identity, else ssh_config's
/// `IdentityFile`s, else ssh's default files that exist.
fn identity_files(identity: Option<PathBuf>, config: &HostConfig, home: &Path) -> Vec<PathBuf> {
    match identity {
        Some(file) => vec![file],
        None if !config.identity_files.is_empty() => config.identity_files.clone(),
        None => ["id_rsa", "id_ecdsa", "id_ed25519"]
            .iter()
            .map(|f| home.join(".ssh").join(f))
            .filter(|p| p.exists())
            .collect(),
    }
}

/// The certificates to offer: the `CertificateFile`s, then `KEY-cert.pub`
/// beside each identity file that has one (as ssh looks for it).
fn certificate_files(config: &HostConfig, identity_files: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = config.certificate_files.clone();
    for identity in identity_files {
        let mut beside = identity.as_os_str().to_owned();
        beside.push("-cert.pub");
        let beside = PathBuf::from(beside);
        if beside.exists() && !files.contains(&beside) {
            files.push(beside);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn setup(config: &str, inventory: &str) -> (tempfile::TempDir, Inventory, Overrides) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("ssh_config");
        std::fs::write(&cfg, config).unwrap();
        let inv = Inventory::parse(inventory, &dir.path().join("roadie.yaml"), dir.path()).unwrap();
        let overrides = Overrides {
            ssh_config: Some(cfg),
            ..Overrides::default()
        };
        (dir, inv, overrides)
    }

    #[test]
    fn precedence_cli_then_inventory_then_ssh_config() {
        let (dir, inv, mut o) = setup(
            "Host web\n  HostName 10.0.0.5\n  User cfguser\n  Port 2000\n  IdentityFile ~/cfgkey\n",
            "environments:\n  s:\n    hosts: [web, 'web:2100']\n    user: invuser\n    identity: inv_key\n",
        );
        let r = Resolver::new(&inv, &o);
        let hosts = r.resolve("s/web").unwrap();
        let h = &hosts[0];
        assert_eq!(h.hostname, "10.0.0.5");
        assert_eq!(h.user, "invuser");
        assert_eq!(h.port, 2000);
        assert_eq!(h.auth.identity_files, [dir.path().join("inv_key")]);
        assert!(h.auth.identities_only);
        assert_eq!(h.host_key.name, "[10.0.0.5]:2000");
        assert_eq!(hosts[1].port, 2100);
        o.user = Some("cliuser".into());
        o.port = Some(2222);
        let h = &Resolver::new(&inv, &o).resolve("s/web").unwrap()[0];
        assert_eq!((h.user.as_str(), h.port), ("cliuser", 2222));
        assert_eq!(h.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    }

    #[test]
    fn strictness_and_known_hosts() {
        let (_dir, inv, mut o) = setup(
            "Host a\n  StrictHostKeyChecking no\n  UserKnownHostsFile /kh/one /kh/two\n  HashKnownHosts yes\n",
            "environments:\n  s:\n    hosts: [a, b]\n",
        );
        let hosts = Resolver::new(&inv, &o).resolve("s").unwrap();
        assert_eq!(hosts[0].host_key.policy, HostKeyPolicy::AcceptNew);
        assert_eq!(
            hosts[0].host_key.record_to.as_deref(),
            Some(Path::new("/kh/one"))
        );
        assert!(hosts[0].host_key.hash);
        assert_eq!(hosts[1].host_key.policy, HostKeyPolicy::Strict);
        o.insecure_ignore_host_key = true;
        let hosts = Resolver::new(&inv, &o).resolve("s").unwrap();
        assert_eq!(hosts[1].host_key.policy, HostKeyPolicy::Ignore);
    }

    #[test]
    fn proxy_jump_chain() {
        let (_dir, inv, o) = setup(
            "Host target\n  ProxyJump j1,bob@j2:2200\nHost j1\n  HostName 10.1.1.1\n  ProxyJump j0\nHost j2\n  ProxyJump ignored\n",
            "environments:\n  s:\n    hosts: [target]\n",
        );
        let h = &Resolver::new(&inv, &o).resolve("target").unwrap()[0];
        let j2 = h.via.as_ref().unwrap();
        assert_eq!(
            (j2.hostname.as_str(), j2.port, j2.user.as_str()),
            ("j2", 2200, "bob")
        );
        let j1 = j2.via.as_ref().unwrap();
        assert_eq!(j1.hostname, "10.1.1.1");
        let j0 = j1.via.as_ref().unwrap();
        assert_eq!(j0.hostname, "j0");
        assert!(j0.via.is_none());
    }

    #[test]
    fn lookups_run_together_and_an_address_needs_none() {
        let names = [
            ("127.0.0.1".to_owned(), 22),
            ("localhost".to_owned(), 2200),
            ("::1".to_owned(), 22),
            ("localhost".to_owned(), 2200),
            ("no-such-host.invalid".to_owned(), 22),
        ];
        let found = lookup_all(&names, Duration::from_secs(5));
        assert_eq!(found[0], ["127.0.0.1:22".parse::<SocketAddr>().unwrap()]);
        assert!(
            found[1]
                .iter()
                .all(|a| a.port() == 2200 && a.ip().is_loopback())
        );
        assert!(!found[1].is_empty());
        assert_eq!(found[2], ["[::1]:22".parse::<SocketAddr>().unwrap()]);
        assert_eq!(found[3], found[1]);
        assert!(found[4].is_empty());
        // No time at all: only what needs no lookup is known.
        let found = lookup_all(&names, Duration::ZERO);
        assert_eq!(found[0].len(), 1);
        assert!(found[4].is_empty());
    }

    #[test]
    fn a_proxied_hosts_name_is_not_compared_by_address() {
        // `web`'s name resolves where production is, but the command takes
        // the connection elsewhere: only its name counts.
        let inventory = "environments:\n  s:\n    hosts: [web]\n  \
                         p:\n    protected: true\n    hosts: ['localhost:22']\n";
        let (_dir, inv, o) = setup(
            "Host web\n  HostName 127.0.0.1\n  ProxyCommand nc backend %p\n",
            inventory,
        );
        let h = &Resolver::new(&inv, &o).resolve("s").unwrap()[0];
        assert_eq!(h.proxy_command.as_deref(), Some("nc backend 22"));
        // Dialled directly, the same name is production's address.
        let (_dir, inv, o) = setup("Host web\n  HostName 127.0.0.1\n", inventory);
        let e = Resolver::new(&inv, &o).resolve("s").unwrap_err();
        assert!(e.to_string().contains("reach the same server"), "{e}");
    }

    #[test]
    fn hosts_outside_the_inventory() {
        let (_dir, inv, o) = setup(
            "Host alias\n  HostName 10.0.0.9\n  User cfguser\n",
            "environments:\n  s:\n    hosts: [web]\n",
        );
        let r = Resolver::new(&inv, &o);
        let hosts = r.resolve("s, alias, u@10.0.0.7:2200, alias").unwrap();
        let seen: Vec<_> = hosts
            .iter()
            .map(|h| {
                (
                    h.label.as_str(),
                    h.environment.as_deref(),
                    h.hostname.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("web", Some("s"), "web"),
                ("alias", None, "10.0.0.9"),
                ("u@10.0.0.7:2200", None, "10.0.0.7"),
            ]
        );
        assert_eq!((hosts[2].user.as_str(), hosts[2].port), ("u", 2200));
        assert!(!hosts[1].protected);
        // A bare name ssh_config does not place is a mistyped target...
        let e = r.resolve("typo").unwrap_err();
        assert!(
            matches!(&e, Error::Target(m) if m.contains("unknown target 'typo'")),
            "{e}"
        );
        // ...also without an inventory, where a placed one is a host.
        let none = Inventory::none();
        let r = Resolver::new(&none, &o);
        let e = r.resolve("typo").unwrap_err();
        assert!(
            matches!(&e, Error::Inventory(m) if m.message.contains("[user@]host[:port]")),
            "{e}"
        );
        assert_eq!(r.resolve("alias").unwrap()[0].user, "cfguser");
    }

    #[test]
    fn jump_loops_are_cut() {
        let (_dir, inv, o) = setup(
            "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n",
            "environments:\n  s:\n    hosts: [a]\n",
        );
        let e = Resolver::new(&inv, &o).resolve("a").unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
    }
}
