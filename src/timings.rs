//! Where a call's time goes, per host (`--timings`, `ROADIE_TIMINGS=1`):
//! roadie's own start, connecting, key exchange, authentication, the login
//! shell that reads what a task depends on, the guard's checks and the
//! command, measured at the boundaries between them.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When this process started (as near as roadie can tell: its first use).
static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Note the process start; call first thing.
pub fn mark_process_start() {
    LazyLock::force(&PROCESS_START);
}

/// Print every host's timings when its work ends.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether timings are printed.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// How long since the process started.
pub fn since_process_start() -> Duration {
    PROCESS_START.elapsed()
}

/// The phases of one host's call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// From the process start until this host's connection was begun.
    pub start: Duration,
    /// Waiting for a start slot, TCP (or the jump host, or the holder of a
    /// kept connection), and the host keys' check after login.
    pub connect: Duration,
    /// Key exchange, the host key's check included.
    pub kex: Duration,
    /// Authentication.
    pub auth: Duration,
    /// For a job that depends on files on the server (a task's `.env`, the
    /// markers a destroy step is judged by): from the exec request until
    /// the login shell has started and sent them back. (Otherwise the login
    /// shell's start is part of `command`.)
    pub shell: Duration,
    /// The safeguards' judgement of what was read, and planning the steps.
    pub guard: Duration,
    /// From the exec request to the exit status (a task: all its steps).
    pub command: Duration,
    /// From the process start until the command ended.
    pub total: Duration,
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "start {:.1}ms, connect {:.1}ms, kex {:.1}ms, auth {:.1}ms, shell {:.1}ms, guard {:.1}ms, command {:.1}ms, total {:.1}ms",
            ms(self.start),
            ms(self.connect),
            ms(self.kex),
            ms(self.auth),
            ms(self.shell),
            ms(self.guard),
            ms(self.command),
            ms(self.total)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_read_in_milliseconds_phase_by_phase() {
        let t = Timings {
            start: Duration::from_micros(3100),
            command: Duration::from_millis(300),
            total: Duration::from_micros(303_100),
            ..Timings::default()
        };
        assert_eq!(
            t.to_string(),
            "start 3.1ms, connect 0.0ms, kex 0.0ms, auth 0.0ms, shell 0.0ms, guard 0.0ms, command 300.0ms, total 303.1ms"
        );
    }
}
