//! The local audit log: every change and destroy step that runs, and every
//! refusal, as JSON lines in `$XDG_STATE_HOME/roadie/audit.jsonl` (by default
//! `~/.local/state/roadie/audit.jsonl`). Steps are described without the
//! values of their environment variables, so secrets never reach it.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;

use crate::error::Error;
use crate::host::Host;
use crate::outcome::{HostOutcome, failure_audit, refused_by};
use crate::safety::{Lock, SafetyClass};

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry<'a> {
    pub target: &'a str,
    pub host: &'a str,
    pub environment: Option<&'a str>,
    /// The host key fingerprint, when the host was reached.
    pub fingerprint: Option<&'a str>,
    pub step: &'a str,
    pub class: SafetyClass,
    /// `ok`, `exit N`, `signal NAME`, `error`, or `refused`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    user: String,
    #[serde(flatten)]
    entry: &'a Entry<'a>,
}

/// The one audit policy: every refusal is audited; of the steps that run,
/// changes and destroys are, reads are not.
pub(crate) fn is_audited(class: SafetyClass, refused: Option<Lock>) -> bool {
    class != SafetyClass::Read || refused.is_some()
}

/// Record that `host` of `target` was refused `step` (a connection for
/// steps of `class`); anything but a refusal is not for the audit log.
pub(crate) fn record_refusal(
    target: &str,
    host: &Host,
    step: &str,
    class: SafetyClass,
    error: &Error,
) {
    if let Error::Refused(_) = error {
        let ran = |(): &()| -> (HostOutcome, Option<&str>) { unreachable!("not run") };
        record_one(target, step, class, host, Err(error), &ran);
    }
}

/// Record how a step went on each of `hosts` (`results` in the same
/// order): `ran` gives the outcome and key fingerprint of a host it ran on.
/// A log that cannot be written is a warning: the step has happened.
pub(crate) fn record_each<T>(
    target: &str,
    step: &str,
    class: SafetyClass,
    hosts: &[Host],
    results: &[Result<T, Error>],
    ran: impl Fn(&T) -> (HostOutcome, Option<&str>),
) {
    for (host, result) in hosts.iter().zip(results) {
        record_one(target, step, class, host, result.as_ref(), &ran);
    }
}

/// Record how `step` went on `host`, if the policy audits it.
fn record_one<'a, T>(
    target: &str,
    step: &str,
    class: SafetyClass,
    host: &Host,
    result: Result<&'a T, &'a Error>,
    ran: &impl Fn(&'a T) -> (HostOutcome, Option<&'a str>),
) {
    let (outcome, lock, fingerprint) = match result {
        Ok(done) => {
            let (outcome, fingerprint) = ran(done);
            (outcome.audit(), None, fingerprint)
        }
        Err(e) => (
            failure_audit(e),
            refused_by(e),
            match e {
                Error::Refused(refusal) => refusal.fingerprint.as_deref(),
                _ => None,
            },
        ),
    };
    if !is_audited(class, lock) {
        return;
    }
    let entry = Entry {
        target,
        host: &host.label,
        environment: host.environment.as_deref(),
        fingerprint,
        step,
        class,
        outcome,
        lock,
    };
    if let Err(e) = record(&entry) {
        stderr_line!("roadie: warning: could not write the audit log: {e}");
    }
}

/// Where the audit log is.
pub(crate) fn path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || {
                crate::ssh_config::LocalUser::current()
                    .home
                    .join(".local/state")
            },
            PathBuf::from,
        );
    state.join("roadie/audit.jsonl")
}

/// Append `entry`. The log is private to the user (0600 in a 0700 directory).
pub(crate) fn record(entry: &Entry<'_>) -> std::io::Result<()> {
    let path = path();
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let line = Line {
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        user: crate::ssh_config::LocalUser::current().name,
        entry,
    };
    let mut text = serde_json::to_string(&line).map_err(std::io::Error::other)?;
    text.push('\n');
    // One write of one line to a file opened for appending: lines from
    // roadie processes running at once do not mix.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?
        .write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_always_audited_and_reads_that_ran_never() {
        let cases = [
            (SafetyClass::Read, None, false),
            (SafetyClass::Read, Some(Lock::PinnedHostKey), true),
            (SafetyClass::Change, None, true),
            (SafetyClass::Change, Some(Lock::ProtectedEnvironment), true),
            (SafetyClass::Destroy, None, true),
            (SafetyClass::Destroy, Some(Lock::ServerMarker), true),
        ];
        for (class, refused, audited) in cases {
            assert_eq!(
                is_audited(class, refused),
                audited,
                "{class:?} refused by {refused:?}"
            );
        }
    }
}
