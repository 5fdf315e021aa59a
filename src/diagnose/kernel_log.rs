//! The kernel log: from the journal, or else from dmesg, each message
//! with the time it was logged; the OOM kills in it since `--since`.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::dates::{Clock, parse_civil};
use super::oom_kill::{OomKill, parse_oom_kills};
use super::sections::{Section, Sections};

/// OOM-killer events from the kernel log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct KernelLog {
    /// `journalctl` or `dmesg`.
    pub source: &'static str,
    pub events: Vec<OomKill>,
    /// Why the other source was not used, and other caveats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

static JOURNAL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+) \S+ kernel: (.*)$").expect("valid regex"));
static DMESG_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[\s*(\d+)\.\d+\](?:\[\s*[TC]\d+\])? ?(.*)$").expect("valid regex")
});

/// `journalctl -k -o short-iso` lines to `(seconds since the epoch, message)`.
#[cfg(test)]
pub(crate) fn journal_messages(text: &str) -> Vec<(Option<i64>, &str)> {
    read_journal(text).0
}

/// The journal's messages, and what is wrong with the first timestamp that
/// cannot be a time (`2026-02-31`): its message is kept, without a time.
fn read_journal(text: &str) -> (Vec<(Option<i64>, &str)>, Option<String>) {
    let mut impossible = None;
    let messages = text
        .lines()
        .filter_map(|line| {
            let c = JOURNAL_LINE.captures(line)?;
            let epoch = match parse_civil(c.get(1)?.as_str())? {
                Ok(civil) => civil.epoch(None),
                Err(why) => {
                    impossible.get_or_insert(why);
                    None
                }
            };
            Some((epoch, c.get(2)?.as_str()))
        })
        .collect();
    (messages, impossible)
}

/// `dmesg` lines (`[  123.456789] message`, or without timestamps) to
/// `(seconds since the epoch, message)`.
pub(crate) fn dmesg_messages<'a>(text: &'a str, clock: &Clock) -> Vec<(Option<i64>, &'a str)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match DMESG_LINE.captures(line) {
            Some(c) => {
                let epoch = c[1].parse().ok().and_then(|s| clock.at_monotonic(s));
                (epoch, c.get(2).map_or("", |m| m.as_str()))
            }
            None => (None, line),
        })
        .collect()
}

/// Is the journal's answer about the kernel usable? (An unprivileged user
/// sees only their own journal; a machine without journald has none.)
fn journal_unusable(section: &Section) -> Option<String> {
    if !section.ok() {
        return Some(section.reason());
    }
    let blind = [
        "No journal files were found",
        "No journal files were opened",
        "insufficient permissions",
        "not seeing messages from other users",
    ];
    blind
        .iter()
        .any(|b| section.stderr.contains(b))
        .then(|| section.reason())
}

pub(super) fn kernel_log(
    sections: &Sections,
    clock: &Clock,
    cutoff: Option<i64>,
    restricted: bool,
) -> Result<KernelLog, String> {
    let missing = Section::default();
    let journal = sections.get("journal").unwrap_or(&missing);
    let dmesg = sections.get("dmesg").unwrap_or(&missing);
    let within = |kills: Vec<OomKill>| -> Vec<OomKill> {
        kills
            .into_iter()
            .filter(|k| match (cutoff, k.epoch) {
                (Some(cutoff), Some(epoch)) => epoch >= cutoff,
                _ => true,
            })
            .collect()
    };
    let journal_problem = journal_unusable(journal);
    if journal_problem.is_none() {
        let (messages, impossible) = read_journal(&journal.stdout);
        return Ok(KernelLog {
            source: "journalctl",
            events: within(parse_oom_kills(messages)),
            notes: impossible
                .map(|why| {
                    format!(
                        "journal: {why}; the events logged so are shown without a time, \
                         whatever --since says"
                    )
                })
                .into_iter()
                .collect(),
        });
    }
    let journal_problem = prefixed("journalctl", &journal_problem.unwrap_or_default());
    if dmesg.ok() {
        let messages = dmesg_messages(&dmesg.stdout, clock);
        let mut notes = vec![format!("not from the journal ({journal_problem})")];
        if messages.iter().any(|(epoch, _)| epoch.is_none()) && cutoff.is_some() {
            notes.push(
                "some dmesg lines have no usable timestamp: those events are shown whatever --since says"
                    .to_owned(),
            );
        }
        return Ok(KernelLog {
            source: "dmesg",
            events: within(parse_oom_kills(messages)),
            notes,
        });
    }
    let mut dmesg_problem = prefixed("dmesg", &dmesg.reason());
    if restricted {
        dmesg_problem.push_str(
            " (kernel.dmesg_restrict is 1: only root, or CAP_SYSLOG, may read the kernel log; \
             members of the adm or systemd-journal groups may read it from the journal)",
        );
    }
    Err(format!(
        "the kernel log is not readable here: {journal_problem}; {dmesg_problem}"
    ))
}

/// `tool: reason`, unless the tool already said its name.
fn prefixed(tool: &str, reason: &str) -> String {
    if reason.starts_with(&format!("{tool}:")) {
        reason.to_owned()
    } else {
        format!("{tool}: {reason}")
    }
}
