//! The stacks of test processes on a host, and which test each is in
//! (`roadie debug --stacks`, `--running`), as they are reported.

use serde::{Deserialize, Serialize};

/// A test process and the test it is in (`roadie debug --running`), for the
/// `test_running` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestProcess {
    /// Its process id.
    pub pid: u32,
    /// Its parent's pid (an xdist worker's is its pytest's).
    pub ppid: u32,
    /// Its command line.
    pub command: String,
    /// The pytest-xdist worker (`gw0`, ...), when noted.
    pub worker: Option<String>,
    /// The test it is in, when known.
    pub test: Option<String>,
    /// Seconds in that test, when noted.
    pub in_test_for: Option<f64>,
    /// Seconds the process has run.
    pub running_for: Option<f64>,
    /// Where `test` comes from: `note` (the plugin's), `stack` (py-spy's),
    /// or `none` (with `reason`).
    pub source: String,
    /// Why no test is known, when `source` is `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A process's stacks, for `--json` (event `stacks`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stacks {
    /// Its process id.
    pub pid: u32,
    /// Its parent's pid (an xdist worker's is its pytest's).
    pub ppid: u32,
    /// Its command line.
    pub command: String,
    /// The test it is in, as `FILE::FUNCTION`, from its stack (the frame
    /// nearest the top in a test file that runs a `test` function).
    pub test: Option<String>,
    /// Its threads.
    pub threads: Vec<Thread>,
}

/// One thread's stack, innermost frame first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Thread {
    /// Its id.
    pub id: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Is it running (not waiting)?
    pub active: bool,
    /// Its frames, innermost first.
    pub frames: Vec<Frame>,
}

/// One frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Frame {
    /// The function.
    pub function: String,
    /// Its file.
    pub file: String,
    /// The line.
    pub line: i64,
    /// With `--locals`: each local's name and repr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locals: Option<Vec<(String, String)>>,
}
