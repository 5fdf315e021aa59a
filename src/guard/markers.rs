//! The server-marker lock, judged from files already read on the server:
//! [`files_to_read`] says which, the caller reads them, [`by_marker_files`]
//! and [`by_env_files`] decide. No I/O here.

use std::collections::BTreeMap;

use super::{own_environment, refusal};
use crate::dotenv::DotEnv;
use crate::error::Error;
use crate::host::Host;
use crate::safety::{Lock, Refusal};

/// The files on a server the server-marker lock judges by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarkerFiles {
    /// The marker files the inventory names, in its order.
    pub markers: Vec<String>,
    /// The `.env` the host itself uses (the one the step applies, else its
    /// environment's), when any environment is recognised by its `.env`.
    pub own_env: Option<String>,
    /// Every `.env` to look at: `own_env` first, then wherever each
    /// protected environment keeps its hosts' `.env`.
    pub env_files: Vec<String>,
}

impl MarkerFiles {
    /// Every path to read: the marker files, then the `.env` files, each once.
    pub(crate) fn every(&self) -> Vec<String> {
        let mut every: Vec<String> = Vec::new();
        for path in self.markers.iter().chain(&self.env_files) {
            if !every.contains(path) {
                every.push(path.clone());
            }
        }
        every
    }
}

/// What was found at each path of a [`MarkerFiles`]: its text, or `None`
/// when the server has no such file.
pub(crate) type Found = BTreeMap<String, Option<String>>;

/// Which files a destroy step on `host` must have read first
/// (`applied_env`: the `.env` the step will apply, if any).
pub(crate) fn files_to_read(host: &Host, applied_env: Option<&str>) -> Result<MarkerFiles, Error> {
    let safety = &host.safety;
    let mut markers: Vec<String> = safety
        .environments
        .iter()
        .filter_map(|e| e.marker.clone())
        .collect();
    markers.dedup();
    if safety.environments.iter().all(|e| e.env_marker.is_empty()) {
        return Ok(MarkerFiles {
            markers,
            own_env: None,
            env_files: Vec::new(),
        });
    }
    let own_path = match applied_env {
        Some(path) => path.to_owned(),
        None => crate::template::env_file(host, None)?,
    };
    Ok(MarkerFiles {
        markers,
        env_files: env_file_candidates(host, &own_path),
        own_env: Some(own_path),
    })
}

/// A server-marker refusal: (reason, remedy).
type MarkerRefusal = (String, String);

/// The server-marker lock by marker files (read first: `found` needs only
/// `files.markers`): none may name a protected environment, and the host's
/// own environment's must be there and name it. `fingerprint`: the server's
/// host key, for the message.
pub(crate) fn by_marker_files(
    host: &Host,
    files: &MarkerFiles,
    found: &Found,
    fingerprint: &str,
) -> Result<(), Box<Refusal>> {
    marker_files(host, files, found).map_err(|r| Box::new(marker_refusal(host, fingerprint, r)))
}

/// The server-marker lock by `.env` files (`found` needs
/// `files.env_files`): none may match a protected environment's markers,
/// and the host's own must match all of its environment's.
pub(crate) fn by_env_files(
    host: &Host,
    files: &MarkerFiles,
    found: &Found,
    fingerprint: &str,
) -> Result<(), Box<Refusal>> {
    env_markers(host, files, found).map_err(|r| Box::new(marker_refusal(host, fingerprint, r)))
}

fn marker_refusal(host: &Host, fingerprint: &str, (reason, remedy): MarkerRefusal) -> Refusal {
    refusal(host, Lock::ServerMarker, Some(fingerprint), reason, remedy)
}

fn text<'a>(found: &'a Found, path: &str) -> Option<&'a str> {
    found.get(path).and_then(Option::as_deref)
}

/// Marker files: none may name a protected environment, and the host's own
/// environment's must name it.
fn marker_files(host: &Host, files: &MarkerFiles, found: &Found) -> Result<(), MarkerRefusal> {
    let safety = &host.safety;
    let own = own_environment(host);
    for path in &files.markers {
        let named = text(found, path).map(str::trim);
        if let Some(name) = named
            && let Some(env) = safety.environment(name).filter(|e| e.protected)
        {
            return Err((
                format!(
                    "the server's marker {path} names the protected environment '{}'",
                    env.name
                ),
                "This server is production by its own account; no flag overrides that.".into(),
            ));
        }
        let Some(own) = own.filter(|o| o.marker.as_ref() == Some(path)) else {
            continue;
        };
        match named {
            Some(name) if name == own.name => {}
            Some(name) => {
                return Err((
                    format!(
                        "the server's marker {path} names '{name}', not '{}'",
                        own.name
                    ),
                    format!("Check that this host really belongs to '{}'.", own.name),
                ));
            }
            None => {
                return Err((
                    format!(
                        "the marker {path} that '{}' requires is missing on the server",
                        own.name
                    ),
                    format!(
                        "Create it on a real '{0}' host: echo {0} > {path}",
                        own.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `.env` markers: no `.env` on the server may match a protected
/// environment's, and the host's own must match all of its own
/// environment's.
fn env_markers(host: &Host, files: &MarkerFiles, found: &Found) -> Result<(), MarkerRefusal> {
    let Some(own_path) = files.own_env.as_deref() else {
        return Ok(());
    };
    let safety = &host.safety;
    let present: Vec<(&str, DotEnv)> = files
        .env_files
        .iter()
        .filter_map(|path| text(found, path).map(|t| (path.as_str(), DotEnv::parse(t))))
        .collect();
    for (path, dotenv) in &present {
        for env in safety.environments.iter().filter(|e| e.protected) {
            if let Some(marker) = env.env_marker.iter().find(|m| m.matches(dotenv)) {
                return Err((
                    format!(
                        "the server's {path} matches {marker}, the marker of the protected environment '{}'",
                        env.name
                    ),
                    "This server is production by its own settings; no flag overrides that.".into(),
                ));
            }
        }
    }
    let own = own_environment(host).filter(|o| !o.env_marker.is_empty());
    let protected_markers = safety
        .environments
        .iter()
        .any(|e| e.protected && !e.env_marker.is_empty());
    let Some((_, own_dotenv)) = present.iter().find(|(path, _)| *path == own_path) else {
        // Nothing to prove what this server is: a protected environment that
        // is recognised by its .env could hide behind any path not tried.
        return match (own, protected_markers) {
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
                    files.env_files.join(", ")
                ),
                "Deploy the site (its .env) first, or point vars.env_file in roadie.yaml at it."
                    .into(),
            )),
        };
    };
    if let Some(own) = own
        && let Some(marker) = own.env_marker.iter().find(|m| !m.matches(own_dotenv))
    {
        return Err((
            format!(
                "the server's {own_path} does not match {marker}, which '{}' requires",
                own.name
            ),
            format!("Check that this host really belongs to '{}'.", own.name),
        ));
    }
    Ok(())
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
    use std::sync::Arc;

    use super::*;
    use crate::inventory::EnvMarker;
    use crate::safety::{EnvironmentSafety, Safety};

    fn environment(name: &str, protected: bool) -> EnvironmentSafety {
        EnvironmentSafety {
            name: name.into(),
            protected,
            pins: Vec::new(),
            marker: None,
            env_marker: Vec::new(),
            hosts: vec![format!("{name}-web")],
            vars: BTreeMap::new(),
        }
    }

    fn marker(text: &str) -> EnvMarker {
        let (key, pattern) = text.split_once('=').unwrap();
        EnvMarker {
            key: key.into(),
            pattern: pattern.into(),
        }
    }

    /// A staging host, in an inventory that also has production.
    fn staging_host(staging: EnvironmentSafety, production: EnvironmentSafety) -> Host {
        let mut host = Host::for_tests("staging-web");
        host.environment = Some("staging".into());
        host.safety = Arc::new(Safety {
            environments: vec![staging, production],
        });
        host
    }

    /// Read `files` from a server holding `server` (path -> text).
    fn judge(host: &Host, server: &[(&str, &str)]) -> Result<(), String> {
        let files = files_to_read(host, None).unwrap();
        let found: Found = files
            .markers
            .iter()
            .chain(&files.env_files)
            .map(|path| {
                let text = server.iter().find(|(p, _)| p == path).map(|(_, t)| *t);
                (path.clone(), text.map(str::to_owned))
            })
            .collect();
        by_marker_files(host, &files, &found, "SHA256:key")
            .and_then(|()| by_env_files(host, &files, &found, "SHA256:key"))
            .map_err(|refusal| {
                assert_eq!(refusal.lock, Lock::ServerMarker);
                assert_eq!(refusal.fingerprint.as_deref(), Some("SHA256:key"));
                refusal.reason
            })
    }

    #[test]
    fn marker_files_decide_what_a_server_is() {
        let marked = |name: &str, protected| EnvironmentSafety {
            marker: Some("/etc/roadie-env".into()),
            ..environment(name, protected)
        };
        // (staging requires the marker, server's marker text, refusal expected)
        let cases: &[(bool, Option<&str>, Option<&str>)] = &[
            (true, Some("staging\n"), None),
            (
                true,
                Some("production\n"),
                Some("names the protected environment 'production'"),
            ),
            (
                false,
                Some("production"),
                Some("names the protected environment 'production'"),
            ),
            (true, Some("qa"), Some("names 'qa', not 'staging'")),
            (true, None, Some("that 'staging' requires is missing")),
            (false, None, None),
            (false, Some("qa"), None),
        ];
        for (required, on_server, refused) in cases {
            let staging = if *required {
                marked("staging", false)
            } else {
                environment("staging", false)
            };
            let host = staging_host(staging, marked("production", true));
            let server: Vec<(&str, &str)> =
                on_server.iter().map(|t| ("/etc/roadie-env", *t)).collect();
            match (judge(&host, &server), refused) {
                (Ok(()), None) => {}
                (Err(reason), Some(part)) if reason.contains(part) => {}
                (verdict, _) => panic!(
                    "required {required}, marker {on_server:?}: expected {refused:?}, got {verdict:?}"
                ),
            }
        }
    }

    /// A case of `env_markers_decide_what_a_server_is`.
    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
    );

    #[test]
    fn env_markers_decide_what_a_server_is() {
        let staging_env = "~/sites/staging-web/.env";
        let production_env = "~/sites/production-web/.env";
        let with_markers = |name: &str, protected, markers: &[&str]| EnvironmentSafety {
            env_marker: markers.iter().map(|m| marker(m)).collect(),
            ..environment(name, protected)
        };
        // (staging's env_marker, production's, the server's files, refusal expected)
        let cases: &[Case] = &[
            (
                &["SITE=staging*"],
                &["SITE=prod*"],
                &[(staging_env, "SITE=staging.example\n")],
                None,
            ),
            (
                &["SITE=staging*"],
                &["SITE=prod*"],
                &[(staging_env, "SITE=prod.example\n")],
                Some("matches SITE=prod*, the marker of the protected environment 'production'"),
            ),
            (
                &[],
                &["SITE=prod*"],
                &[
                    (staging_env, "SITE=x\n"),
                    (production_env, "SITE=prod.example\n"),
                ],
                Some("the server's ~/sites/production-web/.env matches SITE=prod*"),
            ),
            (
                &["SITE=staging*"],
                &[],
                &[(staging_env, "SITE=qa\n")],
                Some("does not match SITE=staging*, which 'staging' requires"),
            ),
            (
                &["SITE=staging*"],
                &[],
                &[],
                Some("has no ~/sites/staging-web/.env to check 'staging''s env_marker against"),
            ),
            (
                &[],
                &["SITE=prod*"],
                &[],
                Some("cannot be told apart from a protected environment"),
            ),
            (
                &[],
                &["SITE=prod*"],
                &[(staging_env, "SITE=anything\n")],
                None,
            ),
        ];
        for (own, protected, server, refused) in cases {
            let host = staging_host(
                with_markers("staging", false, own),
                with_markers("production", true, protected),
            );
            match (judge(&host, server), refused) {
                (Ok(()), None) => {}
                (Err(reason), Some(part)) if reason.contains(part) => {}
                (verdict, _) => panic!(
                    "staging {own:?}, production {protected:?}, server {server:?}: expected {refused:?}, got {verdict:?}"
                ),
            }
        }
    }

    #[test]
    fn no_markers_anywhere_reads_nothing() {
        let host = staging_host(
            environment("staging", false),
            environment("production", true),
        );
        let files = files_to_read(&host, None).unwrap();
        assert!(files.markers.is_empty() && files.env_files.is_empty() && files.own_env.is_none());
        assert_eq!(judge(&host, &[]), Ok(()));
    }

    #[test]
    fn the_env_a_step_applies_is_the_one_judged() {
        let host = staging_host(
            EnvironmentSafety {
                env_marker: vec![marker("SITE=staging*")],
                ..environment("staging", false)
            },
            environment("production", true),
        );
        let files = files_to_read(&host, Some("/srv/app/.env")).unwrap();
        assert_eq!(files.own_env.as_deref(), Some("/srv/app/.env"));
        assert_eq!(
            files.env_files.first().map(String::as_str),
            Some("/srv/app/.env")
        );
    }
}
