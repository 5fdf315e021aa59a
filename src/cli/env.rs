//! `roadie env TARGET [KEY...] [--set K=V] [--unset K] [--ensure-secret K]`:
//! read a server's `.env` (secrets masked), or edit it in place, atomically.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::{Global, host_failed, output_result};
use crate::audit;
use crate::dotenv::{DotEnv, Unportable, mask, quote_value};
use crate::error::Error;
use crate::event::{Event, HostEnv, Malformed};
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::output::json_line;
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::{Intent, SafetyClass};
use crate::ssh::Session;

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
    /// Only these keys.
    pub keys: Vec<String>,
    /// The .env on the server (default: vars.env_file, else ~/sites/HOST/.env).
    #[arg(long, value_name = "PATH")]
    pub file: Option<String>,
    /// Show secret values instead of masking them.
    #[arg(long)]
    pub reveal: bool,
    /// Set KEY to VALUE (in place; comments and order kept).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove KEY.
    #[arg(long, value_name = "KEY")]
    pub unset: Vec<String>,
    /// Give KEY a strong random value if it has none (like a first deploy).
    #[arg(long, value_name = "KEY")]
    pub ensure_secret: Vec<String>,
}

/// The edits asked for.
#[derive(Debug, Clone, Default)]
struct Edits {
    set: Vec<(String, String)>,
    unset: Vec<String>,
    ensure_secret: Vec<String>,
}

impl Edits {
    fn is_empty(&self) -> bool {
        self.set.is_empty() && self.unset.is_empty() && self.ensure_secret.is_empty()
    }

    /// Apply to `env`; the keys that changed.
    fn apply(&self, env: &mut DotEnv) -> Result<Vec<String>, Error> {
        let mut changed = Vec::new();
        for (key, value) in &self.set {
            if env.set(key, value).map_err(|e| unportable(key, &e))? {
                changed.push(key.clone());
            }
        }
        for key in &self.unset {
            if env.unset(key) {
                changed.push(key.clone());
            }
        }
        for key in &self.ensure_secret {
            if env.ensure_secret(key) {
                changed.push(key.clone());
            }
        }
        Ok(changed)
    }

    /// For the audit log: the keys, never the values.
    fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .set
            .iter()
            .map(|(k, _)| format!("--set {k}=..."))
            .collect();
        parts.extend(self.unset.iter().map(|k| format!("--unset {k}")));
        parts.extend(
            self.ensure_secret
                .iter()
                .map(|k| format!("--ensure-secret {k}")),
        );
        format!("env {}", parts.join(" "))
    }
}

/// What one host gave: the event's fields, and the values as shown.
#[derive(Debug)]
struct Gathered {
    /// Edited (an `env_edit` event), else read (`env`).
    edited: bool,
    /// Everything but the values.
    line: HostEnv,
    values: Option<BTreeMap<String, Shown>>,
    /// The host key of the server edited, for the audit log.
    fingerprint: Option<String>,
}

impl Gathered {
    /// As its JSON event.
    fn event(&self) -> Event {
        let line = HostEnv {
            values: self.values.as_ref().map(|values| {
                values
                    .iter()
                    .map(|(key, value)| (key.clone(), value.text().to_owned()))
                    .collect()
            }),
            ..self.line.clone()
        };
        if self.edited {
            Event::EnvEdit(line)
        } else {
            Event::Env(line)
        }
    }
}

/// A value as `roadie env` shows it: masked, or with `--reveal` the value
/// itself, which nothing but the output written for the user exposes.
#[derive(Debug)]
enum Shown {
    Masked(String),
    Revealed(SecretString),
}

impl Shown {
    fn text(&self) -> &str {
        match self {
            Shown::Masked(text) => text,
            Shown::Revealed(value) => value.expose_secret(),
        }
    }
}

fn malformed(env: &DotEnv) -> Vec<Malformed> {
    env.malformed()
        .map(|(line, reason)| Malformed {
            line,
            reason: reason.to_owned(),
        })
        .collect()
}

fn unportable(key: &str, error: &Unportable) -> Error {
    Error::Usage(format!("--set {key}: {error}"))
}

fn parse_edits(args: &EnvArgs) -> Result<Edits, Error> {
    let mut edits = Edits {
        unset: args.unset.clone(),
        ensure_secret: args.ensure_secret.clone(),
        ..Edits::default()
    };
    for pair in &args.set {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--set '{pair}': expected KEY=VALUE")))?;
        // Refused here, before any host is reached.
        quote_value(value).map_err(|e| unportable(key, &e))?;
        edits.set.push((key.to_owned(), value.to_owned()));
    }
    for key in edits
        .set
        .iter()
        .map(|(k, _)| k)
        .chain(&edits.unset)
        .chain(&edits.ensure_secret)
    {
        if !crate::dotenv::is_env_name(key) {
            return Err(Error::Usage(format!(
                "'{key}' is not a valid variable name"
            )));
        }
    }
    Ok(edits)
}

async fn read(
    session: Session,
    file: Option<String>,
    keys: Vec<String>,
    reveal: bool,
) -> Result<Gathered, Error> {
    let path = crate::template::env_file(session.host(), file.as_deref())?;
    let bytes = session
        .read_file(&path)
        .await?
        .ok_or_else(|| Error::Remote {
            host: session.host().label.clone(),
            message: format!("{path} does not exist on the server"),
        })?;
    session.close().await;
    let env = DotEnv::parse(&String::from_utf8_lossy(&bytes));
    let mut values = BTreeMap::new();
    for (key, value) in env.entries() {
        if keys.is_empty() || keys.iter().any(|k| k == key) {
            let shown = if reveal {
                Shown::Revealed(value.into())
            } else {
                Shown::Masked(mask(key, value))
            };
            values.insert(key.to_owned(), shown);
        }
    }
    let missing = keys
        .iter()
        .filter(|k| !values.contains_key(*k))
        .cloned()
        .collect();
    Ok(Gathered {
        edited: false,
        line: HostEnv {
            host: String::new(),
            file: path,
            values: None,
            changed: None,
            malformed: malformed(&env),
            missing,
        },
        values: Some(values),
        fingerprint: None,
    })
}

async fn edit(session: Session, file: Option<String>, edits: Edits) -> Result<Gathered, Error> {
    let path = crate::template::env_file(session.host(), file.as_deref())?;
    let edited = crate::remote_env::edit(&session, &path, |env| edits.apply(env)).await;
    let fingerprint = session.verified().fingerprint.clone();
    session.close().await;
    let (changed, env) = edited?;
    Ok(Gathered {
        edited: true,
        line: HostEnv {
            host: String::new(),
            file: path,
            values: None,
            changed: Some(changed),
            malformed: malformed(&env),
            missing: Vec::new(),
        },
        values: None,
        fingerprint: Some(fingerprint),
    })
}

pub(super) async fn env(global: &Global, args: &EnvArgs) -> Result<i32, Error> {
    let edits = parse_edits(args)?;
    let hosts = global.hosts(&args.target)?;
    let parallel = usize::from(DEFAULT_PARALLEL);
    let results = if edits.is_empty() {
        let (file, keys, reveal) = (args.file.clone(), args.keys.clone(), args.reveal);
        each_host(&hosts, &Intent::read(), parallel, move |session| {
            read(session, file.clone(), keys.clone(), reveal)
        })
        .await
    } else {
        let intent = Intent {
            class: SafetyClass::Change,
            confirm: global.confirm.clone(),
        };
        let (file, for_hosts) = (args.file.clone(), edits.clone());
        let results = each_host(&hosts, &intent, parallel, move |session| {
            edit(session, file.clone(), for_hosts.clone())
        })
        .await;
        audit::record_each(
            &args.target,
            &edits.describe(),
            SafetyClass::Change,
            &hosts,
            &results,
            |r| {
                let outcome = if r.line.changed.as_ref().is_some_and(Vec::is_empty) {
                    "unchanged"
                } else {
                    "ok"
                };
                (HostOutcome::done(outcome), r.fingerprint.as_deref())
            },
        );
        results
    };
    report(&hosts, results, global.json)
}

fn report(
    hosts: &[crate::Host],
    results: Vec<Result<Gathered, Error>>,
    json: bool,
) -> Result<i32, Error> {
    let mut outcomes = Vec::with_capacity(hosts.len());
    let several = hosts.len() > 1;
    let mut out = std::io::stdout().lock();
    for (host, result) in hosts.iter().zip(results) {
        let mut result = match result {
            Ok(result) => result,
            Err(error) => {
                host_failed(&mut out, host, &error, json)?;
                outcomes.push(HostOutcome::Failed(error));
                continue;
            }
        };
        result.line.host.clone_from(&host.label);
        for m in &result.line.malformed {
            stderr_line!(
                "roadie: warning: {}: {}:{}: {} (line left as it is)",
                host.label,
                result.line.file,
                m.line,
                m.reason
            );
        }
        for key in &result.line.missing {
            stderr_line!(
                "roadie: {}: {key} is not set in {}",
                host.label,
                result.line.file
            );
        }
        outcomes.push(HostOutcome::Done {
            note: "ok",
            ok: result.line.missing.is_empty(),
        });
        if json {
            output_result(json_line(&mut out, &result.event()))?;
            continue;
        }
        let prefix = if several {
            format!("[{}] ", host.label)
        } else {
            String::new()
        };
        if let Some(values) = &result.values {
            for (key, value) in values {
                output_result(writeln!(out, "{prefix}{key}={}", value.text()))?;
            }
        }
        if let Some(changed) = &result.line.changed {
            let text = if changed.is_empty() {
                format!("{prefix}{}: unchanged", result.line.file)
            } else {
                format!(
                    "{prefix}{}: changed {}",
                    result.line.file,
                    changed.join(", ")
                )
            };
            output_result(writeln!(out, "{text}"))?;
        }
    }
    Ok(overall_exit_code(&outcomes))
}
