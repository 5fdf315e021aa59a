//! The safeguards: the one place that decides whether a step may run on a
//! host. Several independent locks, each enough on its own to refuse:
//!
//! 1. **protected environment**: destroy never runs in a `protected: true`
//!    environment; change needs `--confirm ENV` naming it exactly;
//! 2. **pinned host key**: a server presenting a key pinned under a protected
//!    environment *is* that environment, whatever name or address reached it
//!    (checked during key exchange, before logging in); a server in an
//!    environment with pins must present one of them;
//! 3. **environment key**: an environment's `identity` is the only key offered
//!    to its hosts (enforced in [`crate::resolve`] and [`crate::ssh`]);
//! 4. **server marker**: before a destroy step, marker files and `.env`
//!    patterns on the server must not name a protected environment, and must
//!    be present where the inventory requires them;
//! 5. **inventory sanity**: one host or pinned key under a protected and an
//!    unprotected environment is a configuration error
//!    ([`crate::inventory`], [`crate::resolve`]).

use std::collections::BTreeMap;
use std::fmt;

use russh::keys::ssh_key::PublicKey;
use serde::{Deserialize, Serialize};

use crate::dotenv::DotEnv;
use crate::error::Error;
use crate::inventory::{EnvMarker, Inventory};
use crate::resolve::Host;
use crate::ssh::Session;
use crate::ssh::known_hosts::fingerprint;

/// What a step may do to a host.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum SafetyClass {
    /// Inspect only: `hosts --check`, reading `.env`, logs.
    Read,
    /// Deploy, edit `.env`, ad-hoc `run`, open a tunnel.
    #[default]
    Change,
    /// Database reset, session creation, any step marked destroy.
    Destroy,
}

impl fmt::Display for SafetyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SafetyClass::Read => "read",
            SafetyClass::Change => "change",
            SafetyClass::Destroy => "destroy",
        })
    }
}

/// Which lock refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lock {
    ProtectedEnvironment,
    PinnedHostKey,
    EnvironmentKey,
    ServerMarker,
    InventorySanity,
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lock::ProtectedEnvironment => "protected-environment",
            Lock::PinnedHostKey => "pinned-host-key",
            Lock::EnvironmentKey => "environment-key",
            Lock::ServerMarker => "server-marker",
            Lock::InventorySanity => "inventory-sanity",
        })
    }
}

/// What the user asked to do, and what they confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub class: SafetyClass,
    /// `--confirm ENV`: the protected environment the user means to change.
    pub confirm: Option<String>,
}

impl Intent {
    pub fn read() -> Intent {
        Intent {
            class: SafetyClass::Read,
            confirm: None,
        }
    }
}

/// A refusal: which lock, where, and what would have to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{host}: refused by the {lock} lock: {reason}{}\n  {remedy}", key_note(.fingerprint.as_deref()))]
pub struct Refusal {
    pub lock: Lock,
    pub host: String,
    pub environment: Option<String>,
    pub fingerprint: Option<String>,
    pub reason: String,
    pub remedy: String,
}

fn key_note(fingerprint: Option<&str>) -> String {
    fingerprint
        .map(|f| format!(" (host key {f})"))
        .unwrap_or_default()
}

/// The protection facts of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSafety {
    pub name: String,
    pub protected: bool,
    pub pins: Vec<String>,
    pub marker: Option<String>,
    pub env_marker: Vec<EnvMarker>,
    /// Its hosts' names as listed (`{{ host }}` in its templates).
    pub hosts: Vec<String>,
    /// Its `vars`: where its hosts keep their `.env`.
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// The protection facts of the whole inventory: every host carries them, so
/// that a host reached under one environment can be recognised as another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Safety {
    pub environments: Vec<EnvironmentSafety>,
}

impl Safety {
    pub fn from_inventory(inventory: &Inventory) -> Safety {
        Safety {
            environments: inventory
                .environments
                .iter()
                .map(|e| EnvironmentSafety {
                    name: e.name.clone(),
                    protected: e.protected,
                    pins: e.host_keys.clone(),
                    marker: e.marker.clone(),
                    env_marker: e.env_marker.clone(),
                    hosts: e.hosts.iter().map(|h| h.host.clone()).collect(),
                    vars: e.vars.clone(),
                })
                .collect(),
        }
    }

    pub fn environment(&self, name: &str) -> Option<&EnvironmentSafety> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The environment that pins `fingerprint`, protected ones first.
    pub fn pinned_under(&self, fingerprint: &str) -> Option<&EnvironmentSafety> {
        let mut pinning = self
            .environments
            .iter()
            .filter(|e| e.pins.iter().any(|p| p == fingerprint));
        let all: Vec<&EnvironmentSafety> = pinning.by_ref().collect();
        all.iter().find(|e| e.protected).or(all.first()).copied()
    }
}

/// The protection facts of the environment `host` was listed under.
fn own_environment(host: &Host) -> Option<&EnvironmentSafety> {
    host.environment
        .as_deref()
        .and_then(|e| host.safety.environment(e))
}

/// What is known about a host once its key has been seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub fingerprint: String,
    /// The environment whose pin the key matched.
    pub pinned_under: Option<String>,
    /// The protected environment the host is treated as, if any.
    pub protected_as: Option<String>,
}

/// A refusal by the inventory-sanity lock: `host` of `environment` cannot
/// be told apart from a protected one (`reason` says how).
pub fn inventory_conflict(host: &str, environment: &str, reason: String) -> Refusal {
    Refusal {
        lock: Lock::InventorySanity,
        host: host.to_owned(),
        environment: Some(environment.to_owned()),
        fingerprint: None,
        reason,
        remedy: "fix roadie.yaml or ssh_config so that the two cannot be confused".to_owned(),
    }
}

fn refusal(
    host: &Host,
    lock: Lock,
    fingerprint: Option<&str>,
    reason: String,
    remedy: String,
) -> Refusal {
    Refusal {
        lock,
        host: host.label.clone(),
        environment: host.environment.clone(),
        fingerprint: fingerprint.map(str::to_owned),
        reason,
        remedy,
    }
}

/// The rule of a protected environment: destroy never, change only when
/// confirmed by name, read always.
fn protected_rule(
    host: &Host,
    intent: &Intent,
    env: &str,
    lock: Lock,
    why: &str,
    fingerprint: Option<&str>,
) -> Result<(), Box<Refusal>> {
    match intent.class {
        SafetyClass::Read => Ok(()),
        SafetyClass::Destroy => Err(Box::new(refusal(
            host,
            lock,
            fingerprint,
            format!("{why}; destroy steps never run in the protected environment '{env}'"),
            "No flag overrides this. Run it against a staging environment, or, if this host is not \
             production, fix roadie.yaml (its environment, protected, host_keys)."
                .into(),
        ))),
        SafetyClass::Change => match intent.confirm.as_deref() {
            Some(confirmed) if confirmed == env => Ok(()),
            Some(other) => Err(Box::new(refusal(
                host,
                lock,
                fingerprint,
                format!("{why}; --confirm '{other}' does not name it"),
                format!("To change '{env}' on purpose, pass --confirm {env}."),
            ))),
            None => Err(Box::new(refusal(
                host,
                lock,
                fingerprint,
                format!("{why}; changing it needs confirmation"),
                format!("To change '{env}' on purpose, pass --confirm {env}."),
            ))),
        },
    }
}

/// Before connecting: the environment lock.
pub fn before_connect(host: &Host, intent: &Intent) -> Result<(), Box<Refusal>> {
    match &host.environment {
        Some(env) if host.protected => protected_rule(
            host,
            intent,
            env,
            Lock::ProtectedEnvironment,
            &format!("the host is in the protected environment '{env}'"),
            None,
        ),
        _ => Ok(()),
    }
}

/// During key exchange, before logging in: the pinned-key lock.
pub fn on_host_key(
    host: &Host,
    intent: &Intent,
    key: &PublicKey,
) -> Result<Verified, Box<Refusal>> {
    let fp = fingerprint(key);
    let pinned = host.safety.pinned_under(&fp);
    let mut verified = Verified {
        fingerprint: fp.clone(),
        pinned_under: pinned.map(|e| e.name.clone()),
        protected_as: None,
    };
    if let Some(env) = pinned.filter(|e| e.protected) {
        verified.protected_as = Some(env.name.clone());
        let reached_as = host.environment.as_deref().unwrap_or("no environment");
        let why = if host.environment.as_deref() == Some(env.name.as_str()) {
            format!(
                "the server presented a key pinned under the protected environment '{}'",
                env.name
            )
        } else {
            format!(
                "the server presented a key pinned under the protected environment '{}', although it was reached as '{reached_as}' (a wrong alias, address or DNS entry?)",
                env.name
            )
        };
        // The key says what the server is: that environment's rules decide.
        protected_rule(
            host,
            intent,
            &env.name,
            Lock::PinnedHostKey,
            &why,
            Some(&fp),
        )?;
        return Ok(verified);
    }
    let own = own_environment(host);
    if let Some(own) = own.filter(|own| !own.pins.is_empty() && !own.pins.contains(&fp))
        && intent.class > SafetyClass::Read
    {
        return Err(Box::new(refusal(
            host,
            Lock::PinnedHostKey,
            Some(&fp),
            format!(
                "the server's key is not one of those pinned for '{}' ({})",
                own.name,
                own.pins.join(", ")
            ),
            format!(
                "If this really is a '{}' server with a new key, add {fp} to its host_keys in roadie.yaml.",
                own.name
            ),
        )));
    }
    Ok(verified)
}

/// After logging in, before any command: the pinned-key lock for the other
/// host keys the server holds (OpenSSH announces them all), so that which key
/// type was negotiated cannot hide a pinned one. An announced key is only the
/// server's claim, but a claim to be protected can only make roadie refuse.
/// Returns the protected environment the server is thereby taken to be.
pub fn on_announced_keys(
    host: &Host,
    intent: &Intent,
    keys: &[PublicKey],
) -> Result<Option<String>, Box<Refusal>> {
    for key in keys {
        let fp = fingerprint(key);
        if let Some(env) = host.safety.pinned_under(&fp).filter(|e| e.protected) {
            let why = format!(
                "the server also holds the host key {fp} ({}), pinned under the protected \
                 environment '{}', although it presented another of its keys",
                key.algorithm().as_str(),
                env.name
            );
            protected_rule(
                host,
                intent,
                &env.name,
                Lock::PinnedHostKey,
                &why,
                Some(&fp),
            )?;
            return Ok(Some(env.name.clone()));
        }
    }
    Ok(None)
}

/// The locks that apply to `host`, in words (with what its key showed, once
/// it has been seen).
pub fn locks(host: &Host, verified: Option<&Verified>) -> Vec<String> {
    let mut locks = Vec::new();
    let own = own_environment(host);
    if let (true, Some(env)) = (host.protected, &host.environment) {
        locks.push(format!(
            "{}: '{env}' is protected",
            Lock::ProtectedEnvironment
        ));
    }
    if let Some(protected) = verified.and_then(|v| v.protected_as.as_deref())
        && host.environment.as_deref() != Some(protected)
    {
        locks.push(format!(
            "{}: the key is pinned under the protected '{protected}', so this host is treated as '{protected}'",
            Lock::PinnedHostKey
        ));
    }
    if let Some(own) = own.filter(|o| !o.pins.is_empty()) {
        let state = match verified {
            Some(v) if own.pins.contains(&v.fingerprint) => "the key is one of them",
            Some(_) => "the key is NOT one of them",
            None => "not checked yet",
        };
        locks.push(format!(
            "{}: {} key(s) pinned for '{}'; {state}",
            Lock::PinnedHostKey,
            own.pins.len(),
            own.name
        ));
    }
    if let Some(env) = &host.auth.environment_identity {
        let keys: Vec<String> = host
            .auth
            .identity_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let agent = if host.auth.agent.is_some() {
            " (and ssh-agent keys)"
        } else {
            ""
        };
        locks.push(format!(
            "{}: only '{env}''s identity {}{agent} is offered",
            Lock::EnvironmentKey,
            keys.join(", ")
        ));
    }
    for env in &host.safety.environments {
        if let Some(path) = &env.marker {
            locks.push(format!(
                "{}: {path} is read before destroy steps ('{}')",
                Lock::ServerMarker,
                env.name
            ));
        }
        for marker in &env.env_marker {
            locks.push(format!(
                "{}: .env {marker} marks '{}'",
                Lock::ServerMarker,
                env.name
            ));
        }
    }
    locks
}

/// May a step of `intent` run on the host `session` already reaches?
/// Checks every lock again, reading the server's markers for destroy
/// (`applied_env`: the `.env` the step will apply, if any).
pub async fn check_session(
    session: &Session,
    intent: &Intent,
    applied_env: Option<&str>,
) -> Result<(), Error> {
    let host = session.host();
    before_connect(host, intent)
        .and_then(|()| on_host_key(host, intent, session.server_key()).map(|_| ()))
        .and_then(|()| on_announced_keys(host, intent, session.announced_keys()).map(|_| ()))
        .map_err(Error::Refused)?;
    before_destroy(session, intent, applied_env).await
}

/// Would a destroy step be allowed on the host `session` reaches?
pub async fn destroy_verdict(session: &Session) -> Result<(), Error> {
    let destroy = Intent {
        class: SafetyClass::Destroy,
        confirm: None,
    };
    check_session(session, &destroy, None).await
}

/// A file on the server as text; `None` when it does not exist.
async fn read_remote(session: &Session, path: &str) -> Result<Option<String>, Error> {
    Ok(session
        .read_file(path)
        .await?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// A server-marker refusal: (reason, remedy).
type MarkerRefusal = (String, String);

/// Before a destroy step: the server-marker lock. Reads every marker file the
/// inventory names and the server's `.env` files (`applied_env`, the one the
/// step will apply, among them).
pub async fn before_destroy(
    session: &Session,
    intent: &Intent,
    applied_env: Option<&str>,
) -> Result<(), Error> {
    if intent.class != SafetyClass::Destroy {
        return Ok(());
    }
    let host = session.host();
    let mut verdict = marker_files(session).await?;
    if verdict.is_ok() {
        verdict = env_markers(session, applied_env).await?;
    }
    verdict.map_err(|(reason, remedy)| {
        let fp = fingerprint(session.server_key());
        Error::Refused(Box::new(refusal(
            host,
            Lock::ServerMarker,
            Some(&fp),
            reason,
            remedy,
        )))
    })
}

/// Marker files: none may name a protected environment, and the host's own
/// environment's must name it.
async fn marker_files(session: &Session) -> Result<Result<(), MarkerRefusal>, Error> {
    let host = session.host();
    let safety = &host.safety;
    let own = own_environment(host);
    let mut paths: Vec<&str> = safety
        .environments
        .iter()
        .filter_map(|e| e.marker.as_deref())
        .collect();
    paths.dedup();
    for path in paths {
        let content = read_remote(session, path).await?;
        let named = content.as_deref().map(str::trim);
        if let Some(name) = named
            && let Some(env) = safety.environment(name).filter(|e| e.protected)
        {
            return Ok(Err((
                format!(
                    "the server's marker {path} names the protected environment '{}'",
                    env.name
                ),
                "This server is production by its own account; no flag overrides that.".into(),
            )));
        }
        let Some(own) = own.filter(|o| o.marker.as_deref() == Some(path)) else {
            continue;
        };
        match named {
            Some(name) if name == own.name => {}
            Some(name) => {
                return Ok(Err((
                    format!(
                        "the server's marker {path} names '{name}', not '{}'",
                        own.name
                    ),
                    format!("Check that this host really belongs to '{}'.", own.name),
                )));
            }
            None => {
                return Ok(Err((
                    format!(
                        "the marker {path} that '{}' requires is missing on the server",
                        own.name
                    ),
                    format!(
                        "Create it on a real '{0}' host: echo {0} > {path}",
                        own.name
                    ),
                )));
            }
        }
    }
    Ok(Ok(()))
}

/// `.env` markers: no `.env` on the server may match a protected
/// environment's, and the host's own (the one the step applies, else its
/// environment's) must match all of its own environment's.
async fn env_markers(
    session: &Session,
    applied_env: Option<&str>,
) -> Result<Result<(), MarkerRefusal>, Error> {
    let host = session.host();
    let safety = &host.safety;
    if safety.environments.iter().all(|e| e.env_marker.is_empty()) {
        return Ok(Ok(()));
    }
    let own_path = match applied_env {
        Some(path) => path.to_owned(),
        None => crate::template::env_file(host, None)?,
    };
    let candidates = env_file_candidates(host, &own_path);
    let mut found = Vec::new();
    for path in &candidates {
        if let Some(text) = read_remote(session, path).await? {
            found.push((path.as_str(), DotEnv::parse(&text)));
        }
    }
    for (path, dotenv) in &found {
        for env in safety.environments.iter().filter(|e| e.protected) {
            if let Some(marker) = env.env_marker.iter().find(|m| m.matches(dotenv)) {
                return Ok(Err((
                    format!(
                        "the server's {path} matches {marker}, the marker of the protected environment '{}'",
                        env.name
                    ),
                    "This server is production by its own settings; no flag overrides that.".into(),
                )));
            }
        }
    }
    let own = own_environment(host).filter(|o| !o.env_marker.is_empty());
    let protected_markers = safety
        .environments
        .iter()
        .any(|e| e.protected && !e.env_marker.is_empty());
    let Some((_, own_dotenv)) = found.iter().find(|(path, _)| *path == own_path) else {
        // Nothing to prove what this server is: a protected environment that
        // is recognised by its .env could hide behind any path not tried.
        return Ok(match (own, protected_markers) {
            (None, false) => Ok(()),
            (Some(own), _) => Err((
                format!(
                    "the server has no {own_path} to check '{}''s env_marker against",
                    own.name
                ),
                "Check vars.env_file in roadie.yaml, and that the site is deployed.".into(),
            )),
            (None, true) => Err((
                format!(
                    "the server has no {own_path}, so it cannot be told apart from a protected \
                     environment that is recognised by its .env (tried: {})",
                    candidates.join(", ")
                ),
                "Deploy the site (its .env) first, or point vars.env_file in roadie.yaml at it."
                    .into(),
            )),
        });
    };
    if let Some(own) = own
        && let Some(marker) = own.env_marker.iter().find(|m| !m.matches(own_dotenv))
    {
        return Ok(Err((
            format!(
                "the server's {own_path} does not match {marker}, which '{}' requires",
                own.name
            ),
            format!("Check that this host really belongs to '{}'.", own.name),
        )));
    }
    Ok(Ok(()))
}

/// Where a `.env` may be on the server `host` reaches: `own_path` first,
/// then wherever each protected environment keeps its hosts' `.env` (its
/// `env_file`, or the default, rendered for each of its own hosts and for
/// this one). A template that does not render for a host names no file.
fn env_file_candidates(host: &Host, own_path: &str) -> Vec<String> {
    let mut paths = vec![own_path.to_owned()];
    for env in host.safety.environments.iter().filter(|e| e.protected) {
        let names = env.hosts.iter().chain(std::iter::once(&host.name));
        for name in names {
            let as_listed_there = Host {
                name: name.clone(),
                environment: Some(env.name.clone()),
                vars: env.vars.clone(),
                ..host.clone()
            };
            if let Ok(path) = crate::template::env_file(&as_listed_there, None)
                && !paths.contains(&path)
            {
                paths.push(path);
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safety() -> Safety {
        Safety {
            environments: vec![
                EnvironmentSafety {
                    name: "staging".into(),
                    protected: false,
                    pins: vec!["SHA256:staging".into()],
                    marker: None,
                    env_marker: Vec::new(),
                    hosts: Vec::new(),
                    vars: BTreeMap::new(),
                },
                EnvironmentSafety {
                    name: "production".into(),
                    protected: true,
                    pins: vec!["SHA256:prod".into()],
                    marker: None,
                    env_marker: Vec::new(),
                    hosts: Vec::new(),
                    vars: BTreeMap::new(),
                },
            ],
        }
    }

    fn host(env: &str, protected: bool) -> Host {
        let mut host = Host::for_tests("web1");
        host.environment = Some(env.into());
        host.protected = protected;
        host.safety = std::sync::Arc::new(safety());
        host
    }

    fn intent(class: SafetyClass, confirm: Option<&str>) -> Intent {
        Intent {
            class,
            confirm: confirm.map(str::to_owned),
        }
    }

    #[test]
    fn protected_environment_rules() {
        let prod = host("production", true);
        assert!(before_connect(&prod, &intent(SafetyClass::Read, None)).is_ok());
        let e =
            before_connect(&prod, &intent(SafetyClass::Destroy, Some("production"))).unwrap_err();
        assert_eq!(e.lock, Lock::ProtectedEnvironment);
        assert!(e.to_string().contains("No flag overrides this"), "{e}");
        let e = before_connect(&prod, &intent(SafetyClass::Change, None)).unwrap_err();
        assert!(e.remedy.contains("--confirm production"));
        let e = before_connect(&prod, &intent(SafetyClass::Change, Some("prod"))).unwrap_err();
        assert!(
            e.reason.contains("--confirm 'prod' does not name it"),
            "{e}"
        );
        assert!(before_connect(&prod, &intent(SafetyClass::Change, Some("production"))).is_ok());
        let staging = host("staging", false);
        assert!(before_connect(&staging, &intent(SafetyClass::Destroy, None)).is_ok());
    }

    fn key() -> PublicKey {
        russh::keys::PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .clone()
    }

    #[test]
    fn pinned_keys_decide_what_a_server_is() {
        let (prod_key, stranger) = (key(), key());
        let mut staging = host("staging", false);
        let mut facts = safety();
        facts.environments[1].pins = vec![fingerprint(&prod_key)];
        staging.safety = std::sync::Arc::new(facts.clone());
        let destroy = intent(SafetyClass::Destroy, None);
        let e = on_host_key(&staging, &destroy, &prod_key).unwrap_err();
        assert_eq!(e.lock, Lock::PinnedHostKey);
        assert!(e.reason.contains("reached as 'staging'"), "{e}");
        let verified = on_host_key(&staging, &intent(SafetyClass::Read, None), &prod_key).unwrap();
        assert_eq!(verified.protected_as.as_deref(), Some("production"));
        assert!(
            on_host_key(
                &staging,
                &intent(SafetyClass::Change, Some("production")),
                &prod_key
            )
            .is_ok()
        );
        // staging pins its own keys: a stranger's key is refused for change,
        // allowed for read.
        assert!(on_host_key(&staging, &destroy, &stranger).is_err());
        assert!(on_host_key(&staging, &intent(SafetyClass::Read, None), &stranger).is_ok());
        facts.environments[0].pins.clear();
        staging.safety = std::sync::Arc::new(facts);
        assert!(on_host_key(&staging, &destroy, &stranger).is_ok());
    }

    #[test]
    fn safety_classes_order() {
        assert!(
            SafetyClass::Read < SafetyClass::Change && SafetyClass::Change < SafetyClass::Destroy
        );
        assert_eq!(
            safety().pinned_under("SHA256:prod").unwrap().name,
            "production"
        );
        assert!(safety().pinned_under("SHA256:other").is_none());
    }
}
