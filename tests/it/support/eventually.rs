//! Waiting for a state to be reached: one look every 20 ms until the state
//! is there or a deadline passes. The one way tests wait: a timeout names
//! what was awaited and what the last look saw.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How often a condition is looked at.
const EVERY: Duration = Duration::from_millis(20);

/// What one look at a condition says: reached (with a value to hand back),
/// or not yet (with what it saw instead).
pub trait Look {
    type Value;
    fn reached(self) -> Result<Self::Value, String>;
}

impl Look for bool {
    type Value = ();
    fn reached(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("the condition was still false".to_owned())
        }
    }
}

impl<T> Look for Option<T> {
    type Value = T;
    fn reached(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".to_owned())
    }
}

/// `Err` carries the state the look saw, for the failure message.
impl<T, S: Debug> Look for Result<T, S> {
    type Value = T;
    fn reached(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:?}"))
    }
}

/// Look at `condition` until it is reached (`true`, `Some(value)`,
/// `Ok(value)`) and return its value; past `within`, panic naming `what`
/// was awaited and what the last look saw.
pub fn eventually<L: Look>(what: &str, within: Duration, condition: impl FnMut() -> L) -> L::Value {
    reached_within(within, condition).unwrap_or_else(|seen| {
        panic!("gave up after {within:?} waiting for {what}; last seen: {seen}")
    })
}

/// The same without the panic, for a caller that must not panic (a `Drop`)
/// or has more to say: `Err` holds what the last look saw.
pub fn reached_within<L: Look>(
    within: Duration,
    mut condition: impl FnMut() -> L,
) -> Result<L::Value, String> {
    let deadline = Instant::now() + within;
    loop {
        match condition().reached() {
            Ok(value) => return Ok(value),
            Err(seen) if Instant::now() >= deadline => return Err(seen),
            Err(_) => std::thread::sleep(EVERY),
        }
    }
}
