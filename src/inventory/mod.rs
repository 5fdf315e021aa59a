//! `roadie.yaml`: environments, their hosts and how to reach them.
//!
//! ```yaml
//! vars: { wsgi: "superlists.wsgi:application" }   # every environment's, below its own
//! environments:
//!   staging:
//!     hosts: [superlists-staging.example.org, "10.0.0.7:2222"]
//!     user: elspeth
//!     identity: ~/.ssh/roadie_staging
//!     vars: { site: "~/sites/{{ host }}" }
//!   production:
//!     protected: true
//!     hosts: [superlists.example.org]
//!     host_keys: ["SHA256:..."]
//! ```
//!
//! The file is found by walking up from the current directory, like
//! `Cargo.toml`. Relative paths in it are relative to the file.

mod select;
mod shard;

pub(crate) use shard::Shard;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::ssh_config::Located;

/// Hosts of an unprotected environment that could be taken for protected
/// ones (see [`Inventory::protection_conflict`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The host (or environment) concerned.
    pub host: String,
    /// Its unprotected environment.
    pub environment: String,
    pub reason: String,
}

/// The file name searched for.
pub(crate) const FILE_NAME: &str = "roadie.yaml";

/// A problem with the inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(u64, u64)>,
    pub message: String,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for InventoryError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchema {
    #[serde(default)]
    environments: BTreeMap<String, EnvironmentSchema>,
    /// Named tunnels for every environment: `db: 5432`.
    #[serde(default)]
    tunnels: BTreeMap<String, Spanned<serde_json::Value>>,
    /// Vars of every environment; an environment's own `vars` win.
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentSchema {
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    user: Option<String>,
    port: Option<u16>,
    identity: Option<String>,
    known_hosts: Option<String>,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    host_keys: Vec<Spanned<String>>,
    agent: Option<bool>,
    marker: Option<String>,
    #[serde(default)]
    env_marker: Vec<Spanned<String>>,
    #[serde(default)]
    tunnels: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    /// Keep connections for reuse this long after their last use (`60s`).
    persist: Option<Spanned<serde_json::Value>>,
    /// Reach the hosts through this local command (`ProxyCommand`).
    proxy_command: Option<Spanned<String>>,
    /// Forward the local ssh-agent to these hosts (`ForwardAgent`).
    forward_agent: Option<bool>,
}

/// One host line of an environment: an ssh_config alias or `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// As written in the file; used as the host's label.
    pub entry: String,
    /// The name to look up in ssh_config and connect to.
    pub host: String,
    pub port: Option<u16>,
}

impl HostEntry {
    /// Parse `alias`, `host:port`, `[v6]:port` or a bare IPv6 address.
    pub fn parse(entry: &str) -> Result<HostEntry, String> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err("empty host name".into());
        }
        if entry
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == ',')
        {
            return Err(format!("'{entry}' is not a host name or host:port"));
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("'{entry}': missing ']'"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(format!("'{entry}': expected ':PORT' after ']'")),
            }
        } else {
            match entry.rsplit_once(':') {
                // More than one colon and no brackets: a bare IPv6 address.
                Some((host, _)) if host.contains(':') => (entry, None),
                Some((host, port)) => (host, Some(port)),
                None => (entry, None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("'{entry}': bad port '{p}'"))
            })
            .transpose()?;
        check_host_name(host).map_err(|m| format!("'{entry}': {m}"))?;
        Ok(HostEntry {
            entry: entry.to_owned(),
            host: host.to_owned(),
            port,
        })
    }
}

/// Characters a host name may not contain: they mean something to a shell,
/// and a host name ends up in shell commands (`Match exec` in ssh_config, a
/// `ProxyCommand` elsewhere). The list of OpenSSH's `ssh_valid_hostname`
/// (readconf.c, since 9.6: CVE-2023-51385).
const SHELL_METACHARACTERS: &str = "'`\"$\\;&<>|(){},";

/// Refuse a host name as OpenSSH 9.6 and later do: one that starts with `-`
/// (it would read as an option) or holds a shell metacharacter, a space or a
/// control character.
pub(crate) fn check_host_name(host: &str) -> Result<(), String> {
    if host.starts_with('-') {
        return Err("a host name may not start with '-'".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| SHELL_METACHARACTERS.contains(*c) || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "a host name may not contain {c:?} (nor any of {SHELL_METACHARACTERS}, spaces or \
             control characters): shell commands built from it could run something else"
        ));
    }
    Ok(())
}

/// A group of hosts reached the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    pub hosts: Vec<HostEntry>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// The only key offered to these hosts, when set.
    pub identity: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub protected: bool,
    /// SHA256 fingerprints: a server presenting one of these is this environment.
    pub host_keys: Vec<String>,
    /// Offer ssh-agent keys (by default only when no `identity` is set).
    pub agent: bool,
    /// A file on the server naming its environment, checked before destroy steps.
    pub marker: Option<String>,
    /// `KEY=GLOB` patterns matched against the server's `.env` before destroy steps.
    pub env_marker: Vec<EnvMarker>,
    /// Named tunnels (`db` -> `5432`), the inventory's own with these
    /// environment's on top.
    pub tunnels: BTreeMap<String, String>,
    /// The inventory's top-level `vars` with this environment's on top.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Keep connections to these hosts open this long after their last use.
    pub persist: Option<Duration>,
    /// The local command that carries connections to these hosts
    /// (ssh_config's `ProxyCommand`, winning over it), tokens unexpanded.
    pub proxy_command: Option<Located<String>>,
    /// Forward the local ssh-agent to these hosts: `Some` wins over
    /// ssh_config's `ForwardAgent`; a protected environment forwards it only
    /// when this says `true`.
    pub forward_agent: Option<bool>,
}

/// `KEY=GLOB`: the server's `.env` has KEY with a value matching GLOB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvMarker {
    pub key: String,
    pub pattern: String,
}

impl EnvMarker {
    pub fn matches(&self, env: &crate::dotenv::DotEnv) -> bool {
        env.get(&self.key)
            .is_some_and(|value| crate::ssh_config::wildcard_match(&self.pattern, value))
    }
}

impl fmt::Display for EnvMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.pattern)
    }
}

/// A loaded `roadie.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// The file it came from (or a description for in-memory text).
    pub path: PathBuf,
    /// Its environments, in the file's order.
    pub environments: Vec<Environment>,
    /// The top-level `vars`, already part of each environment's.
    pub vars: BTreeMap<String, serde_json::Value>,
}

impl Inventory {
    /// Find `roadie.yaml` in `start` or the nearest parent directory.
    pub fn find(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| candidate.is_file())
    }

    /// Find and load the inventory for the current directory.
    pub fn discover() -> Result<Inventory, InventoryError> {
        let cwd = current_dir()?;
        Inventory::discover_if_any()?.ok_or_else(|| Inventory::missing(&cwd))
    }

    /// The error for no roadie.yaml in `dir` or any parent directory.
    pub fn missing(dir: &Path) -> InventoryError {
        InventoryError {
            file: dir.join(FILE_NAME),
            position: None,
            message: format!(
                "no {FILE_NAME} here or in any parent directory; create one, \
                 pass --inventory FILE, run `roadie sandbox up` to make a local one, \
                 or name a host as [user@]host[:port] (reached as ssh would, through ssh_config)"
            ),
        }
    }

    /// Find and load the inventory for the current directory, if there is one.
    pub fn discover_if_any() -> Result<Option<Inventory>, InventoryError> {
        Inventory::find(&current_dir()?)
            .map(|path| Inventory::load(&path))
            .transpose()
    }

    /// No inventory: nothing to select, nothing protected; a TARGET then
    /// names hosts as `[user@]host[:port]`. Its `path` is empty.
    pub fn none() -> Inventory {
        Inventory {
            path: PathBuf::new(),
            environments: Vec::new(),
            vars: BTreeMap::new(),
        }
    }

    /// Load an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let bytes = std::fs::read(path).map_err(|e| InventoryError {
            file: path.to_path_buf(),
            position: None,
            message: format!("cannot read: {e}"),
        })?;
        let text =
            crate::yaml::utf8_text(bytes, "roadie.yaml").map_err(|(position, message)| {
                InventoryError {
                    file: path.to_path_buf(),
                    position: Some(position),
                    message,
                }
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Inventory::parse(&text, path, base)
    }

    /// Parse inventory text; `path` names it in errors and `base` anchors
    /// relative paths.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Inventory, InventoryError> {
        let at = |position: Option<(u64, u64)>, message: String| InventoryError {
            file: path.to_path_buf(),
            position,
            message,
        };
        let schema: FileSchema = if text.trim().is_empty() {
            FileSchema {
                environments: BTreeMap::new(),
                tunnels: BTreeMap::new(),
                vars: BTreeMap::new(),
            }
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let (position, message) = crate::yaml::error_parts(&e);
                at(position, message)
            })?
        };
        let home = crate::ssh_config::LocalUser::current().home;
        let shared_tunnels = tunnel_names(schema.tunnels, "", &at)?;
        let mut environments = Vec::new();
        for (name, env) in schema.environments {
            if name.is_empty() || name.contains(['/', ',']) || name.chars().any(char::is_whitespace)
            {
                return Err(at(
                    None,
                    format!("environment name '{name}' may not contain '/', ',' or spaces"),
                ));
            }
            let mut hosts = Vec::new();
            for spanned in env.hosts {
                let place = Some((spanned.referenced.line(), spanned.referenced.column()));
                let entry = HostEntry::parse(&spanned.value)
                    .map_err(|m| at(place, format!("environment '{name}': {m}")))?;
                hosts.push(entry);
            }
            let mut host_keys = Vec::new();
            for spanned in env.host_keys {
                let place = Some((spanned.referenced.line(), spanned.referenced.column()));
                if !is_sha256_fingerprint(&spanned.value) {
                    return Err(at(
                        place,
                        format!(
                            "environment '{name}': host key '{}' is not a SHA256 fingerprint \
                             (as printed by `ssh-keygen -lf KEY`, e.g. SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8)",
                            spanned.value
                        ),
                    ));
                }
                host_keys.push(spanned.value);
            }
            let env_marker = env_markers(env.env_marker, &name, &at)?;
            let mut tunnels = shared_tunnels.clone();
            tunnels.extend(tunnel_names(
                env.tunnels,
                &format!("environment '{name}': "),
                &at,
            )?);
            let persist = env
                .persist
                .map(|spanned| persist_setting(&spanned, &name, &at))
                .transpose()?;
            let proxy_command = env
                .proxy_command
                .map(|spanned| proxy_command_setting(spanned, &name, path, &at))
                .transpose()?;
            let path_of = |p: &str| resolve_path(p, base, &home);
            let mut vars = schema.vars.clone();
            vars.extend(env.vars);
            environments.push(Environment {
                name,
                hosts,
                user: env.user,
                port: env.port,
                agent: env.agent.unwrap_or(env.identity.is_none()),
                identity: env.identity.as_deref().map(path_of),
                known_hosts: env.known_hosts.as_deref().map(path_of),
                protected: env.protected,
                host_keys,
                marker: env.marker,
                env_marker,
                tunnels,
                vars,
                persist,
                proxy_command,
                forward_agent: env.forward_agent,
            });
        }
        let inventory = Inventory {
            path: path.to_path_buf(),
            environments,
            vars: schema.vars,
        };
        Ok(inventory)
    }

    /// For the inventory-sanity lock, what can be told from the file alone:
    /// a host name or a pinned key under both a protected and an unprotected
    /// environment.
    pub fn protection_conflict(&self) -> Option<Conflict> {
        for protected in self.environments.iter().filter(|e| e.protected) {
            for other in self.environments.iter().filter(|e| !e.protected) {
                if let Some(host) = protected.hosts.iter().find(|h| {
                    other
                        .hosts
                        .iter()
                        .any(|o| o.host.eq_ignore_ascii_case(&h.host))
                }) {
                    return Some(Conflict {
                        host: host.entry.clone(),
                        environment: other.name.clone(),
                        reason: format!(
                            "host '{}' is listed under the protected environment '{}' \
                             and under the unprotected '{}'; a host belongs to one of them",
                            host.host, protected.name, other.name
                        ),
                    });
                }
                if let Some(key) = protected
                    .host_keys
                    .iter()
                    .find(|k| other.host_keys.contains(k))
                {
                    return Some(Conflict {
                        host: other.name.clone(),
                        environment: other.name.clone(),
                        reason: format!(
                            "host key {key} is pinned under the protected environment '{}' \
                             and under the unprotected '{}'; a server with that key is '{}'",
                            protected.name, other.name, protected.name
                        ),
                    });
                }
            }
        }
        None
    }

    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

/// `env_marker:` entries: `KEY=PATTERN`.
fn env_markers(
    env_marker: Vec<Spanned<String>>,
    name: &str,
    at: &impl Fn(Option<(u64, u64)>, String) -> InventoryError,
) -> Result<Vec<EnvMarker>, InventoryError> {
    let mut markers = Vec::new();
    for spanned in env_marker {
        let place = Some((spanned.referenced.line(), spanned.referenced.column()));
        let marker = spanned
            .value
            .split_once('=')
            .filter(|(key, _)| crate::dotenv::is_env_name(key))
            .map(|(key, pattern)| EnvMarker {
                key: key.to_owned(),
                pattern: pattern.to_owned(),
            })
            .ok_or_else(|| {
                at(
                    place,
                    format!(
                        "environment '{name}': env_marker '{}' is not KEY=PATTERN (e.g. DJANGO_ENV=production)",
                        spanned.value
                    ),
                )
            })?;
        markers.push(marker);
    }
    Ok(markers)
}

fn current_dir() -> Result<PathBuf, InventoryError> {
    std::env::current_dir().map_err(|e| InventoryError {
        file: PathBuf::from("."),
        position: None,
        message: format!("cannot read the current directory: {e}"),
    })
}

/// `proxy_command: COMMAND`, its tokens checked where it is written.
fn proxy_command_setting(
    spanned: Spanned<String>,
    environment: &str,
    path: &Path,
    at: &impl Fn(Option<(u64, u64)>, String) -> InventoryError,
) -> Result<Located<String>, InventoryError> {
    let line = spanned.referenced.line();
    crate::ssh_config::check_proxy_command(&spanned.value).map_err(|m| {
        at(
            Some((line, spanned.referenced.column())),
            format!("environment '{environment}': proxy_command: {m}"),
        )
    })?;
    Ok(Located {
        value: spanned.value,
        file: path.to_path_buf(),
        line: usize::try_from(line).unwrap_or(usize::MAX),
    })
}

/// `persist: 60s` (or a number of seconds).
fn persist_setting(
    spanned: &Spanned<serde_json::Value>,
    environment: &str,
    at: &impl Fn(Option<(u64, u64)>, String) -> InventoryError,
) -> Result<Duration, InventoryError> {
    let text = match &spanned.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    crate::duration::parse(&text).map_err(|m| {
        at(
            Some((spanned.referenced.line(), spanned.referenced.column())),
            format!("environment '{environment}': persist: {m}"),
        )
    })
}

/// `tunnels:` entries: a port (`5432`) or a spec (`"db.internal:5432"`).
fn tunnel_names(
    tunnels: BTreeMap<String, Spanned<serde_json::Value>>,
    context: &str,
    at: &impl Fn(Option<(u64, u64)>, String) -> InventoryError,
) -> Result<BTreeMap<String, String>, InventoryError> {
    let mut names = BTreeMap::new();
    for (name, spanned) in tunnels {
        let place = Some((spanned.referenced.line(), spanned.referenced.column()));
        let text = match &spanned.value {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => {
                return Err(at(
                    place,
                    format!("{context}tunnel '{name}' must be a port or HOST:PORT"),
                ));
            }
        };
        crate::tunnel_spec::Spec::parse(&text, &BTreeMap::new())
            .map_err(|m| at(place, format!("{context}{m}")))?;
        names.insert(name, text);
    }
    Ok(names)
}

/// The 1-based line and column of byte `offset` in `bytes` (the column
/// counted in bytes, as the text before it may not be UTF-8).
fn is_sha256_fingerprint(s: &str) -> bool {
    s.strip_prefix("SHA256:").is_some_and(|b64| {
        b64.len() == 43
            && b64
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    })
}

/// `~` is the home directory; a relative path is relative to the inventory.
fn resolve_path(p: &str, base: &Path, home: &Path) -> PathBuf {
    if p == "~" {
        home.to_path_buf()
    } else if let Some(rest) = p.strip_prefix("~/") {
        home.join(rest)
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Inventory, InventoryError> {
        Inventory::parse(text, Path::new("/inv/roadie.yaml"), Path::new("/inv"))
    }

    #[test]
    fn host_entries() {
        let e = HostEntry::parse("web1").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("web1", None));
        let e = HostEntry::parse("10.0.0.1:2222").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("10.0.0.1", Some(2222)));
        let e = HostEntry::parse("[::1]:2222").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", Some(2222)));
        let e = HostEntry::parse("fe80::1").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("fe80::1", None));
        assert!(HostEntry::parse("web:0").is_err());
        assert!(HostEntry::parse("web:x").is_err());
        assert!(HostEntry::parse("a b").is_err());
    }

    #[test]
    fn host_names_with_shell_metacharacters_are_refused() {
        for bad in [
            "a$(touch${IFS}pwned)",
            "a`id`",
            "a;id",
            "a|id",
            "a&",
            "'a'",
            "\"a\"",
            "a\\b",
            "a<b",
            "a>b",
            "a{b}",
            "a\u{7}b",
            "-oProxyCommand=id",
            "[-x]:22",
        ] {
            let e = HostEntry::parse(bad).unwrap_err();
            assert!(e.contains("host name may not"), "{bad}: {e}");
        }
        for good in [
            "web-1.example.org",
            "fe80::1%eth0",
            "[::1]:22",
            "h_1",
            "10.0.0.1:2",
        ] {
            HostEntry::parse(good).unwrap();
        }
        let e =
            parse("environments:\n  s:\n    hosts:\n      - ok\n      - 'a$(touch${IFS}pwned)'\n")
                .unwrap_err();
        assert_eq!(e.position, Some((5, 9)), "{e}");
        assert!(e.message.contains("'$'"), "{e}");
    }

    #[test]
    fn loads_environments_and_paths() {
        let inv = parse(
            "environments:\n  staging:\n    hosts: [a, 'b:2200']\n    user: u\n    identity: keys/id\n    known_hosts: /kh\n    vars: {site: x, n: 3}\n",
        )
        .unwrap();
        let env = inv.environment("staging").unwrap();
        assert_eq!(env.hosts.len(), 2);
        assert_eq!(env.identity.as_deref(), Some(Path::new("/inv/keys/id")));
        assert_eq!(env.known_hosts.as_deref(), Some(Path::new("/kh")));
        assert_eq!(env.vars["n"], serde_json::json!(3));
    }

    #[test]
    fn top_level_vars_reach_every_environment_below_its_own() {
        let inv = parse(
            "vars: {site: /srv/x, team: web}\nenvironments:\n  a:\n    hosts: [a]\n  b:\n    hosts: [b]\n    vars: {site: /srv/b}\n",
        )
        .unwrap();
        let a = inv.environment("a").unwrap();
        assert_eq!(a.vars["site"], "/srv/x");
        assert_eq!(a.vars["team"], "web");
        let b = inv.environment("b").unwrap();
        assert_eq!(b.vars["site"], "/srv/b");
        assert_eq!(b.vars["team"], "web");
        assert_eq!(inv.vars.len(), 2);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("environments:\n  staging:\n    hostz: [a]\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert!(e.message.contains("hostz"), "{e}");
        let e = parse("environments:\n  staging:\n    hosts: [a\n").unwrap_err();
        assert!(e.position.is_some(), "{e}");
        let e =
            parse("environments:\n  s:\n    hosts:\n      - ok\n      - 'bad host'\n").unwrap_err();
        assert_eq!(e.position, Some((5, 9)), "{e}");
        let e = parse("environments:\n  p:\n    host_keys: [nope]\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert!(e.to_string().starts_with("/inv/roadie.yaml:3:"), "{e}");
    }

    #[test]
    fn a_yaml_bomb_is_refused_in_roadies_words() {
        use std::fmt::Write as _;
        let mut text =
            String::from("environments:\n  s:\n    hosts: [a]\n    vars:\n      l0: &l0 x\n");
        for level in 1..12 {
            let refs = vec![format!("*l{}", level - 1); 10].join(", ");
            writeln!(text, "      l{level}: &l{level} [{refs}]").unwrap();
        }
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("billion laughs"), "{e}");
        assert!(!e.message.contains("budget"), "{e}");
        assert!(e.position.is_some(), "{e}");
    }

    #[test]
    fn a_roadie_yaml_that_is_not_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roadie.yaml");
        std::fs::write(&path, b"environments:\n  s:\n    hosts: [caf\xe9]\n").unwrap();
        let e = Inventory::load(&path).unwrap_err();
        assert_eq!(e.position, Some((3, 16)), "{e}");
        assert!(e.message.contains("not UTF-8 text (byte 0xe9)"), "{e}");
    }
}
