//! How one host's work ended, decided in one place: its status in reports,
//! its line in the audit log, and what it adds to the command's exit code.

use crate::error::{Error, exit_code};
use crate::job::Finished;
use crate::safety::Lock;

/// How one host's work ended.
#[derive(Debug)]
pub(crate) enum HostOutcome {
    /// A command or a task ran to its end; its status says how it went.
    Ran(Finished),
    /// `--check`: every lock passed; what would run, step by step.
    Planned(Vec<String>),
    /// Work other than a command (a transfer, an edit, a report) was done.
    /// `note` is what the audit log says of it (`ok`, `unchanged`); `ok` is
    /// false when it was done but did not find all it was asked for.
    Done { note: &'static str, ok: bool },
    /// It could not be done, or a safeguard refused it.
    Failed(Error),
}

impl HostOutcome {
    /// Work other than a command done in full; `note` for the audit log.
    pub(crate) fn done(note: &'static str) -> HostOutcome {
        HostOutcome::Done { note, ok: true }
    }

    /// Did it go as asked?
    pub(crate) fn succeeded(&self) -> bool {
        match self {
            HostOutcome::Ran(finished) => {
                finished.status.success() && finished.failed_step.is_none()
            }
            HostOutcome::Planned(_) => true,
            HostOutcome::Done { ok, .. } => *ok,
            HostOutcome::Failed(_) => false,
        }
    }

    /// `ok`, `failed` (it ran and failed), `refused` (by a safeguard) or
    /// `error` (it could not be done).
    pub(crate) fn status(&self) -> &'static str {
        match self {
            _ if self.succeeded() => "ok",
            HostOutcome::Failed(error) => failure_status(error),
            _ => "failed",
        }
    }

    /// The safeguard that refused it.
    pub(crate) fn lock(&self) -> Option<Lock> {
        match self {
            HostOutcome::Failed(error) => refused_by(error),
            _ => None,
        }
    }

    /// For the audit log: `ok`, `step N failed`, `exit N`, `signal NAME`,
    /// `checked`, a done step's note, `refused` or `error (KIND)`.
    pub(crate) fn audit(&self) -> String {
        match self {
            HostOutcome::Ran(_) if self.succeeded() => "ok".into(),
            HostOutcome::Ran(Finished {
                failed_step: Some(step),
                ..
            }) => format!("step {} failed", step.index),
            HostOutcome::Ran(finished) => finished.status.to_string(),
            HostOutcome::Planned(_) => "checked".into(),
            HostOutcome::Done { note, .. } => (*note).into(),
            HostOutcome::Failed(error) => failure_audit(error),
        }
    }

    /// The exit code this host alone gives: a command's own, an error's.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            HostOutcome::Ran(finished) => finished.status.as_exit_code(),
            HostOutcome::Planned(_) | HostOutcome::Done { ok: true, .. } => exit_code::SUCCESS,
            HostOutcome::Done { ok: false, .. } => exit_code::FAILED,
            HostOutcome::Failed(error) => error.exit_code(),
        }
    }
}

/// `refused` (by a safeguard) or `error`: work that failed with `error`.
pub(crate) fn failure_status(error: &Error) -> &'static str {
    match error {
        Error::Refused(_) => "refused",
        _ => "error",
    }
}

/// What the audit log says of work that failed with `error`.
pub(crate) fn failure_audit(error: &Error) -> String {
    match error {
        Error::Refused(_) => "refused".into(),
        error => format!("error ({})", error.kind()),
    }
}

/// The safeguard that refused, when `error` is a refusal.
pub(crate) fn refused_by(error: &Error) -> Option<Lock> {
    match error {
        Error::Refused(refusal) => Some(refusal.lock),
        _ => None,
    }
}

/// The exit code for a whole command: 3 if a safeguard refused any host;
/// else a single host's own code; with several hosts, 124 or 130 when every
/// host that failed ran out of time or was interrupted, else 1 when any
/// failed.
pub(crate) fn overall_exit_code<'a>(outcomes: impl IntoIterator<Item = &'a HostOutcome>) -> i32 {
    let outcomes: Vec<&HostOutcome> = outcomes.into_iter().collect();
    if outcomes.iter().any(|o| o.lock().is_some()) {
        return exit_code::REFUSED;
    }
    if let [single] = outcomes.as_slice() {
        return single.exit_code();
    }
    let failed: Vec<i32> = outcomes
        .iter()
        .filter(|o| !o.succeeded())
        .map(|o| match o {
            HostOutcome::Failed(error) => error.exit_code(),
            _ => exit_code::FAILED,
        })
        .collect();
    match failed.split_first() {
        None => exit_code::SUCCESS,
        Some((&first, rest))
            if [exit_code::TIMEOUT, exit_code::INTERRUPTED].contains(&first)
                && rest.iter().all(|&c| c == first) =>
        {
            first
        }
        Some(_) => exit_code::FAILED,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::event::FailedStep;
    use crate::ssh::ExitStatus;

    fn ran(code: u32) -> HostOutcome {
        HostOutcome::Ran(Finished {
            status: ExitStatus {
                code: Some(code),
                signal: None,
            },
            captured: BTreeMap::new(),
            failed_step: None,
        })
    }

    fn timed_out() -> HostOutcome {
        HostOutcome::Failed(Error::Timeout {
            host: "web1".into(),
            after: Duration::from_secs(1),
        })
    }

    fn refused() -> HostOutcome {
        HostOutcome::Failed(Error::Refused(Box::new(crate::guard::inventory_conflict(
            "web1",
            "staging",
            "listed twice".into(),
        ))))
    }

    #[test]
    fn one_host_gives_its_own_exit_code() {
        assert_eq!(overall_exit_code(&[ran(7)]), 7);
        assert_eq!(overall_exit_code(&[timed_out()]), exit_code::TIMEOUT);
        assert_eq!(overall_exit_code(&[HostOutcome::Planned(Vec::new())]), 0);
        let incomplete = HostOutcome::Done {
            note: "ok",
            ok: false,
        };
        assert_eq!(overall_exit_code(&[incomplete]), exit_code::FAILED);
    }

    #[test]
    fn several_hosts_give_one_code_for_all() {
        assert_eq!(overall_exit_code(&[ran(0), ran(0)]), 0);
        assert_eq!(overall_exit_code(&[ran(0), ran(7)]), exit_code::FAILED);
        assert_eq!(
            overall_exit_code(&[ran(0), timed_out(), timed_out()]),
            exit_code::TIMEOUT
        );
        assert_eq!(overall_exit_code(&[ran(7), timed_out()]), exit_code::FAILED);
        assert_eq!(
            overall_exit_code(&[ran(7), refused(), timed_out()]),
            exit_code::REFUSED
        );
    }

    #[test]
    fn status_and_audit_line_agree() {
        let failed_step = HostOutcome::Ran(Finished {
            status: ExitStatus {
                code: Some(1),
                signal: None,
            },
            captured: BTreeMap::new(),
            failed_step: Some(FailedStep {
                index: 2,
                name: "migrate".into(),
                exit_code: Some(1),
                stderr: String::new(),
            }),
        });
        let cases = [
            (ran(0), "ok", "ok"),
            (ran(3), "failed", "exit 3"),
            (failed_step, "failed", "step 2 failed"),
            (HostOutcome::Planned(Vec::new()), "ok", "checked"),
            (
                HostOutcome::Done {
                    note: "unchanged",
                    ok: true,
                },
                "ok",
                "unchanged",
            ),
            (refused(), "refused", "refused"),
            (timed_out(), "error", "error (timeout)"),
        ];
        for (outcome, status, audit) in cases {
            assert_eq!(
                (outcome.status(), outcome.audit().as_str()),
                (status, audit)
            );
        }
        assert_eq!(refused().lock(), Some(Lock::InventorySanity));
        assert_eq!(timed_out().lock(), None);
    }
}
