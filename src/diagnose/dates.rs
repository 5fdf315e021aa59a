//! Times as the server's kernel log and `--since` write them, and the
//! server's clock they are read against. The calendar is jiff's; what
//! roadie adds is the shapes it reads and its own words for a time that
//! cannot be.

use std::sync::LazyLock;

use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use regex::Regex;

/// A time as written: with an offset from UTC it is one instant; without,
/// a wall-clock time read in the server's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Civil {
    Zoned(Timestamp),
    Local(DateTime),
}

impl Civil {
    /// Seconds since the epoch, a local time read at `server_offset`
    /// (seconds east of UTC; `None`: a local time is no instant).
    pub(super) fn epoch(&self, server_offset: Option<i64>) -> Option<i64> {
        match self {
            Civil::Zoned(at) => Some(at.as_second()),
            Civil::Local(local) => Some(
                offset(server_offset?)?
                    .to_timestamp(*local)
                    .ok()?
                    .as_second(),
            ),
        }
    }
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
    let seconds = sign * (hours * 3600 + minutes * 60);
    (minutes < 60 && offset(seconds).is_some()).then_some(seconds)
}

/// Seconds east of UTC as an offset jiff takes (within ±25:59:59).
fn offset(seconds: i64) -> Option<Offset> {
    Offset::from_seconds(i32::try_from(seconds).ok()?).ok()
}

static CIVIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?)? ?(Z|z|[+-]\d\d:?\d\d)?$",
    )
    .expect("valid regex")
});

/// Why a time at the very ends of jiff's range (years -9999 to 9999, less
/// a day for the offsets) is refused.
const OUT_OF_RANGE: &str = "it is past the years roadie reads (0 to 9999)";

/// `2026-11-20`, `2026-11-20 10:00`, `2026-11-20T10:00:00.5+0100`, ...;
/// `None` if `text` is not written as a time at all, an error in roadie's
/// words if it is one that cannot be (`2026-02-31`, `24:61`).
pub(crate) fn parse_civil(text: &str) -> Option<Result<Civil, String>> {
    let c = CIVIL.captures(text)?;
    let number = |i: usize| {
        c.get(i)
            .map_or(0, |m| m.as_str().parse::<i16>().unwrap_or(0))
    };
    let local = datetime(
        number(1),
        [number(2), number(3), number(4), number(5), number(6)],
    );
    let civil = local.and_then(|local| match c.get(7) {
        None => Ok(Civil::Local(local)),
        Some(zone) => {
            let zone = zone.as_str();
            let seconds = parse_offset(zone).ok_or(format!("there is no UTC offset {zone}"))?;
            offset(seconds)
                .and_then(|o| o.to_timestamp(local).ok())
                .map(Civil::Zoned)
                .ok_or_else(|| OUT_OF_RANGE.to_owned())
        }
    });
    Some(civil.map_err(|why| format!("'{text}' is not a real time: {why}")))
}

/// The date and time of the fields read (`[month, day, hour, minute,
/// second]`), or what is impossible about them. A leap second (`:60`) is
/// read as the next minute's first, as journalctl and `date -d` read it.
fn datetime(year: i16, [month, day, hour, minute, second]: [i16; 5]) -> Result<DateTime, String> {
    let small = |n: i16| i8::try_from(n).unwrap_or(i8::MAX);
    if !(1..=12).contains(&month) {
        return Err(format!("there is no month {month:02}"));
    }
    let first = Date::new(year, small(month), 1).map_err(|_| OUT_OF_RANGE.to_owned())?;
    let days = first.days_in_month();
    if day < 1 || day > i16::from(days) {
        return Err(format!(
            "{} {year} has no day {day:02} (it has {days})",
            first.strftime("%B")
        ));
    }
    if hour > 23 {
        return Err(format!("there is no hour {hour:02} (0 to 23)"));
    }
    if minute > 59 {
        return Err(format!("there is no minute {minute:02} (0 to 59)"));
    }
    if second > 60 {
        return Err(format!("there is no second {second:02} (0 to 59)"));
    }
    let leap = SignedDuration::from_secs(i64::from(second == 60));
    DateTime::new(
        year,
        small(month),
        small(day),
        small(hour),
        small(minute),
        small(second.min(59)),
        0,
    )
    .and_then(|time| time.checked_add(leap))
    .map_err(|_| OUT_OF_RANGE.to_owned())
}

/// The server's clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Clock {
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
    pub(crate) fn at_monotonic(&self, seconds: i64) -> Option<i64> {
        Some(self.now? - self.uptime? + seconds)
    }
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-20T10:00:00Z`), if
/// within the years jiff knows.
pub(super) fn rfc3339(epoch: i64) -> Option<String> {
    Timestamp::from_second(epoch)
        .ok()
        .map(|at| at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}
