//! Times as the server's kernel log and `--since` write them, and the
//! server's clock they are read against.

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use regex::Regex;

/// A wall-clock time without a time zone, or with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Seconds east of UTC, when the time said; else the server's own.
    pub offset: Option<i64>,
}

impl Civil {
    /// Seconds since the epoch, reading the time at `offset` (the time's
    /// own offset wins).
    pub(super) fn epoch(&self, offset: i64) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - self.offset.unwrap_or(offset)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `+0100`, `-05:30`, `Z` to seconds east of UTC.
pub(super) fn parse_offset(text: &str) -> Option<i64> {
    if text == "Z" || text == "z" {
        return Some(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

static CIVIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?)? ?(Z|z|[+-]\d\d:?\d\d)?$",
    )
    .expect("valid regex")
});

/// `2026-11-20`, `2026-11-20 10:00`, `2026-11-20T10:00:00.5+0100`, ...
pub fn parse_civil(text: &str) -> Option<Civil> {
    let c = CIVIL.captures(text)?;
    let number = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let civil = Civil {
        year: c[1].parse().ok()?,
        month: number(2)?,
        day: number(3)?,
        hour: number(4)?,
        minute: number(5)?,
        second: number(6)?,
        offset: match c.get(7) {
            Some(zone) => Some(parse_offset(zone.as_str())?),
            None => None,
        },
    };
    let valid = (1..=12).contains(&civil.month)
        && (1..=31).contains(&civil.day)
        && civil.hour < 24
        && civil.minute < 60
        && civil.second < 61;
    valid.then_some(civil)
}

/// The server's clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clock {
    /// Seconds since the epoch.
    pub now: Option<i64>,
    /// Whole seconds since boot.
    pub uptime: Option<i64>,
    /// Seconds east of UTC.
    pub utc_offset: Option<i64>,
}

impl Clock {
    /// The wall-clock time (seconds since the epoch) of a kernel timestamp
    /// (seconds since boot). To the second or so: the kernel's clock also
    /// stops while a machine is suspended.
    pub fn at_monotonic(&self, seconds: i64) -> Option<i64> {
        Some(self.now? - self.uptime? + seconds)
    }
}

pub(super) fn rfc3339(epoch: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(epoch).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}
