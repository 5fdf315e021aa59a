//! Durations as roadie's options and files write them.

use std::time::Duration;

/// `30`, `30s`, `1m30s`, `2h`; or fractional seconds like `0.5`.
pub(crate) fn parse(s: &str) -> Result<Duration, String> {
    if let Ok(seconds) = s.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Ok(Duration::from_secs_f64(seconds));
    }
    crate::ssh_config::parse_time(s)
        .ok_or_else(|| format!("'{s}' is not a duration (like 30, 30s, 1m30s or 2h)"))
}
