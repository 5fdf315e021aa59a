//! `--since`: how far back to look for OOM kills.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::dates::{Civil, Clock, parse_civil};

/// `--since`: how far back to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// This long before the server's clock says now.
    Ago(Duration),
    /// From this time on.
    At(Civil),
    /// In journalctl's own words (`10 min ago`, `yesterday`, `-2h`), read on
    /// the server (by journalctl, and by `date -d` for the dmesg fallback).
    Words(String),
}

/// journalctl's relative times (systemd.time(7)) that `date -d` reads too.
static TIME_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:now|today|yesterday|tomorrow|(?:\d+ ?(?:s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?|months?|y|years?) ?)+ago|[+-] ?(?:\d+ ?(?:s|sec|secs|seconds?|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?|months?|y|years?) ?)+)$",
    )
    .expect("valid regex")
});

impl Since {
    /// A duration (`1h`, `30m`, `90s`, `1h30m`) or a time, as journalctl
    /// reads them (`2026-11-20`, `2026-11-20 10:00`,
    /// `2026-11-20T10:00:00+01:00`; without a zone it is the server's).
    pub fn parse(text: &str) -> Result<Since, String> {
        let text = text.trim();
        if let Some(civil) = parse_civil(text) {
            return civil.map(Since::At);
        }
        if let Some(ago) = crate::ssh_config::parse_time(text) {
            return Ok(Since::Ago(ago));
        }
        if TIME_WORDS.is_match(text) {
            return Ok(Since::Words(text.to_owned()));
        }
        Err(format!(
            "'{text}' is neither a duration (1h, 30m, 90s), a time (2026-11-20 10:00, \
             2026-11-20T10:00:00Z) nor one of journalctl's (10 min ago, yesterday, -2h)"
        ))
    }

    /// The value for `journalctl --since`.
    pub(super) fn journal_arg(&self) -> String {
        match self {
            Since::Ago(ago) => format!("-{}s", ago.as_secs()),
            Since::Words(words) => words.clone(),
            Since::At(Civil::Zoned(at)) => format!("@{}", at.as_second()),
            Since::At(Civil::Local(local)) => local.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }

    /// Seconds since the epoch, given the server's clock and UTC offset,
    /// and its own reading of the words (`date -d`), when it could.
    pub(super) fn cutoff(&self, clock: &Clock, read_on_server: Option<i64>) -> Option<i64> {
        match self {
            Since::Ago(ago) => clock.now?.checked_sub(i64::try_from(ago.as_secs()).ok()?),
            Since::At(civil) => civil.epoch(clock.utc_offset),
            Since::Words(_) => read_on_server,
        }
    }
}
