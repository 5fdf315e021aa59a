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
//!    ([`crate::inventory`]; [`same_server`] over the addresses
//!    [`crate::resolve`] looked up).
//!
//! Every rule is a function from facts to a verdict, with no I/O: what only
//! a server can tell (its keys, its marker files) is read by the layers
//! above ([`crate::ssh`] during key exchange, [`crate::verify`] for markers)
//! and handed in.

pub(crate) mod markers;

use std::net::SocketAddr;

use russh::keys::ssh_key::PublicKey;

use crate::error::Error;
use crate::host::Host;
use crate::known_hosts::fingerprint;
use crate::safety::{EnvironmentSafety, Intent, Lock, Refusal, SafetyClass, Verified};

/// The protection facts of the environment `host` was listed under.
fn own_environment(host: &Host) -> Option<&EnvironmentSafety> {
    host.environment
        .as_deref()
        .and_then(|e| host.safety.environment(e))
}

/// A refusal by the inventory-sanity lock: `host` of `environment` cannot
/// be told apart from a protected one (`reason` says how).
pub(crate) fn inventory_conflict(host: &str, environment: &str, reason: String) -> Refusal {
    Refusal {
        lock: Lock::InventorySanity,
        host: host.to_owned(),
        environment: Some(environment.to_owned()),
        fingerprint: None,
        reason,
        remedy: "fix roadie.yaml or ssh_config so that the two cannot be confused".to_owned(),
    }
}

/// One host of a target as the inventory-sanity lock sees it: how the
/// inventory names it, whether it is protected, and the addresses its name
/// resolved to (none for a host reached through a `ProxyCommand`).
pub(crate) struct Reached<'a> {
    pub host: &'a Host,
    pub named: &'a str,
    pub protected: bool,
    pub addresses: &'a [SocketAddr],
}

/// The inventory-sanity lock over a target's hosts: a protected and an
/// unprotected host that reach the same server (the same name and port, or
/// a shared address) refuse the unprotected one.
pub(crate) fn same_server(reached: &[Reached<'_>]) -> Option<Refusal> {
    let mut seen: Vec<(String, &Reached<'_>)> = Vec::new();
    for this in reached {
        let host = this.host;
        let name = format!("{}:{}", host.hostname.to_ascii_lowercase(), host.port);
        for (other_name, other) in &seen {
            let same =
                *other_name == name || this.addresses.iter().any(|a| other.addresses.contains(a));
            if same && other.protected != this.protected {
                let (protected, unprotected) = if this.protected {
                    (this, *other)
                } else {
                    (*other, this)
                };
                let u = unprotected.host;
                return Some(inventory_conflict(
                    &u.label,
                    u.environment.as_deref().unwrap_or("no environment"),
                    format!(
                        "{} (unprotected) and {} (protected) reach the same server ({name})",
                        unprotected.named, protected.named
                    ),
                ));
            }
        }
        seen.push((name, this));
    }
    None
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
pub(crate) fn before_connect(host: &Host, intent: &Intent) -> Result<(), Box<Refusal>> {
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

/// The environment lock, for every host of a target before any is
/// contacted: if it refuses one, every host gets an error (refused, or not
/// run), so that a target is never half done because of a refusal.
pub(crate) fn environment_lock(hosts: &[Host], intent: &Intent) -> Option<Vec<Error>> {
    let refusals: Vec<Option<Box<Refusal>>> = hosts
        .iter()
        .map(|h| before_connect(h, intent).err())
        .collect();
    if refusals.iter().all(Option::is_none) {
        return None;
    }
    let errors = hosts
        .iter()
        .zip(refusals)
        .map(|(host, refusal)| match refusal {
            Some(refusal) => Error::Refused(refusal),
            None => Error::NotRun {
                host: host.label.clone(),
                reason: "another host of the target was refused".into(),
            },
        })
        .collect();
    Some(errors)
}

/// For a command that holds every host of a target open together (tunnels,
/// debuggers): of what [`environment_lock`] said of each host, the first
/// refusal, which stops them all.
pub(crate) fn first_refusal(errors: Vec<Error>) -> Error {
    errors
        .into_iter()
        .find(|e| matches!(e, Error::Refused(_)))
        .expect("the lock refused a host")
}

/// During key exchange, before logging in: the pinned-key lock.
pub(crate) fn on_host_key(
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
pub(crate) fn on_announced_keys(
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
pub(crate) fn locks(host: &Host, verified: Option<&Verified>) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::safety::Safety;

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

    /// A refusal's words, all of them, for a table's expected text.
    fn words(refusal: &Refusal) -> String {
        format!("{refusal} {} {}", refusal.reason, refusal.remedy)
    }

    /// How a case must come out: allowed, or refused by `lock` with words
    /// containing the text.
    #[derive(Debug)]
    enum Verdict {
        Allowed,
        Refused(Lock, &'static str),
    }

    fn judged<T: std::fmt::Debug>(got: &Result<T, Box<Refusal>>, want: &Verdict) -> bool {
        match (got, want) {
            (Ok(_), Verdict::Allowed) => true,
            (Err(refusal), Verdict::Refused(lock, text)) => {
                refusal.lock == *lock && words(refusal).contains(text)
            }
            _ => false,
        }
    }

    #[test]
    fn protected_environment_rules() {
        use SafetyClass::{Change, Destroy, Read};
        use Verdict::{Allowed, Refused};
        let locked = Lock::ProtectedEnvironment;
        // (environment, protected, class, --confirm) -> verdict
        let cases = [
            ("production", true, Read, None, Allowed),
            (
                "production",
                true,
                Destroy,
                Some("production"),
                Refused(locked, "No flag overrides this"),
            ),
            (
                "production",
                true,
                Change,
                None,
                Refused(locked, "--confirm production"),
            ),
            (
                "production",
                true,
                Change,
                Some("prod"),
                Refused(locked, "--confirm 'prod' does not name it"),
            ),
            ("production", true, Change, Some("production"), Allowed),
            ("staging", false, Destroy, None, Allowed),
        ];
        for (env, protected, class, confirm, want) in cases {
            let got = before_connect(&host(env, protected), &intent(class, confirm));
            assert!(
                judged(&got, &want),
                "{env} {class:?} --confirm {confirm:?}: {got:?}, wanted {want:?}"
            );
        }
    }

    fn key() -> PublicKey {
        russh::keys::PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .clone()
    }

    /// A staging host in an inventory where production pins `prod_key`;
    /// staging pins a key of its own when `staging_pins`.
    fn staging_where_production_pins(prod_key: &PublicKey, staging_pins: bool) -> Host {
        let mut staging = host("staging", false);
        let mut facts = safety();
        facts.environments[1].pins = vec![fingerprint(prod_key)];
        if !staging_pins {
            facts.environments[0].pins.clear();
        }
        staging.safety = std::sync::Arc::new(facts);
        staging
    }

    #[test]
    fn pinned_keys_decide_what_a_server_is() {
        use SafetyClass::{Change, Destroy, Read};
        use Verdict::{Allowed, Refused};
        let (prod_key, stranger) = (key(), key());
        let pinned = Lock::PinnedHostKey;
        // (key presented, staging pins its own, class, --confirm)
        //   -> verdict, and the protected environment the server is taken for
        let cases = [
            (
                &prod_key,
                true,
                Destroy,
                None,
                Refused(pinned, "reached as 'staging'"),
                None,
            ),
            (&prod_key, true, Read, None, Allowed, Some("production")),
            (
                &prod_key,
                true,
                Change,
                Some("production"),
                Allowed,
                Some("production"),
            ),
            // staging pins its own keys: a stranger's key is refused for
            // change, allowed for read.
            (
                &stranger,
                true,
                Destroy,
                None,
                Refused(pinned, "not one of those pinned for 'staging'"),
                None,
            ),
            (&stranger, true, Read, None, Allowed, None),
            (&stranger, false, Destroy, None, Allowed, None),
        ];
        for (key, staging_pins, class, confirm, want, protected_as) in cases {
            let staging = staging_where_production_pins(&prod_key, staging_pins);
            let got = on_host_key(&staging, &intent(class, confirm), key);
            assert!(
                judged(&got, &want),
                "{class:?} --confirm {confirm:?}: {got:?}, wanted {want:?}"
            );
            if let Ok(verified) = got {
                assert_eq!(verified.protected_as.as_deref(), protected_as);
            }
        }
    }

    #[test]
    fn announced_keys_pinned_under_a_protected_environment_decide_too() {
        use SafetyClass::{Change, Destroy, Read};
        use Verdict::{Allowed, Refused};
        let (prod_key, stranger) = (key(), key());
        let staging = staging_where_production_pins(&prod_key, true);
        let pinned = Lock::PinnedHostKey;
        // (keys announced, class, --confirm) -> verdict, and the protected
        // environment the server is taken for
        let cases: [(Vec<PublicKey>, _, _, _, _); 6] = [
            (Vec::new(), Destroy, None, Allowed, None),
            (vec![stranger.clone()], Destroy, None, Allowed, None),
            (
                vec![stranger.clone(), prod_key.clone()],
                Destroy,
                None,
                Refused(pinned, "also holds the host key"),
                None,
            ),
            (
                vec![prod_key.clone()],
                Change,
                None,
                Refused(pinned, "--confirm production"),
                None,
            ),
            (
                vec![prod_key.clone()],
                Change,
                Some("production"),
                Allowed,
                Some("production"),
            ),
            (
                vec![prod_key.clone()],
                Read,
                None,
                Allowed,
                Some("production"),
            ),
        ];
        for (keys, class, confirm, want, protected_as) in cases {
            let got = on_announced_keys(&staging, &intent(class, confirm), &keys);
            assert!(
                judged(&got, &want),
                "{} keys, {class:?} --confirm {confirm:?}: {got:?}, wanted {want:?}",
                keys.len()
            );
            if let Ok(env) = got {
                assert_eq!(env.as_deref(), protected_as);
            }
        }
    }

    #[test]
    fn a_protected_and_an_unprotected_host_on_one_server_conflict() {
        let at = |name: &str, env: &str, protected: bool| {
            let mut h = host(env, protected);
            h.label = name.into();
            h.hostname = name.into();
            h.port = 22;
            h
        };
        let (staging, prod) = (at("web1", "staging", false), at("db1", "production", true));
        let (alias, other) = (at("WEB1", "production", true), at("web2", "staging", false));
        let a: Vec<SocketAddr> = vec!["10.0.0.1:22".parse().unwrap()];
        let b: Vec<SocketAddr> = vec!["10.0.0.2:22".parse().unwrap()];
        let none: Vec<SocketAddr> = Vec::new();
        let reached = |host, protected, addresses| Reached {
            host,
            named: if protected { "'p'" } else { "'u'" },
            protected,
            addresses,
        };
        // (hosts with their addresses) -> the refused host, or none
        let cases = [
            (
                vec![reached(&staging, false, &a), reached(&prod, true, &b)],
                None,
            ),
            (
                vec![reached(&staging, false, &a), reached(&prod, true, &a)],
                Some("web1"),
            ),
            (
                vec![reached(&prod, true, &a), reached(&staging, false, &a)],
                Some("web1"),
            ),
            // The same name, whatever the case, without addresses (a
            // ProxyCommand host): the same server.
            (
                vec![
                    reached(&staging, false, &none),
                    reached(&alias, true, &none),
                ],
                Some("web1"),
            ),
            // Two unprotected hosts may share a server.
            (
                vec![reached(&staging, false, &a), reached(&other, false, &a)],
                None,
            ),
        ];
        for (hosts, refused) in cases {
            let got = same_server(&hosts);
            assert_eq!(got.as_ref().map(|r| r.host.as_str()), refused, "{got:?}");
            if let Some(refusal) = got {
                assert_eq!(refusal.lock, Lock::InventorySanity);
                assert!(
                    refusal
                        .reason
                        .contains("'u' (unprotected) and 'p' (protected) reach the same server"),
                    "{refusal:?}"
                );
            }
        }
    }

    #[test]
    fn one_refused_host_stops_every_host_of_the_target() {
        let hosts = [host("staging", false), host("production", true)];
        let destroy = intent(SafetyClass::Destroy, None);
        let errors = environment_lock(&hosts, &destroy).expect("production refuses destroy");
        assert!(matches!(&errors[0], Error::NotRun { host, .. } if host == "web1"));
        assert!(
            matches!(&errors[1], Error::Refused(r) if r.lock == Lock::ProtectedEnvironment),
            "{errors:?}"
        );
        assert!(environment_lock(&hosts, &intent(SafetyClass::Read, None)).is_none());
        assert!(environment_lock(&hosts[..1], &destroy).is_none());
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
