//! The stacks of a test run's Python processes on one host, for a test that
//! hangs rather than fails (`roadie debug TARGET --stacks`): every pytest
//! process and those under it (xdist workers), or one pid, or the command
//! lines matching a pattern; each thread's frames from py-spy, found on the
//! host's PATH or beside the process's own interpreter (else from the dump
//! faulthandler writes on SIGUSR1, where the process registered that and its
//! stderr is a file). One command per
//! host, reading only. What is missing to read them (py-spy, ptrace
//! permission) is said, with what to do.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::command::RemoteCommand;
use crate::error::Error;
pub(crate) use crate::event::{Frame, Stacks, TestProcess, Thread};
use crate::ssh::Session;

/// The program that runs on the host (with `python3`).
const PROGRAM: &str = include_str!("stacks.py");

/// Which processes to read.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// Every pytest process and the processes under it.
    Tests,
    /// This process.
    Pid(u32),
    /// Processes whose command line matches this regular expression.
    Matching(String),
    /// The Python processes of one run (its `ROADIE_RUN` marker).
    Run(String),
}

/// One process, as the host reported it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Process {
    pub pid: u32,
    #[serde(default)]
    pub ppid: u32,
    pub command: String,
    #[serde(default)]
    threads: Vec<SpyThread>,
    problem: Option<String>,
    #[serde(default)]
    venv_bin: String,
    #[serde(default)]
    said: String,
    ptrace_scope: Option<u32>,
    uid: Option<u32>,
    /// With `running`: how long it has run, in seconds.
    age: Option<f64>,
    /// With `running`: the note roadie's pytest plugin keeps of its test.
    note: Option<Note>,
}

/// What roadie's pytest plugin notes of the test a process runs.
#[derive(Debug, Clone, Deserialize)]
struct Note {
    test: String,
    #[serde(default)]
    worker: String,
    /// Seconds since the test began.
    #[serde(rename = "for")]
    for_secs: f64,
}

/// A thread as py-spy's `--json` gives it.
#[derive(Debug, Clone, Deserialize)]
struct SpyThread {
    thread_id: u64,
    thread_name: Option<String>,
    #[serde(default)]
    active: bool,
    frames: Vec<SpyFrame>,
}

#[derive(Debug, Clone, Deserialize)]
struct SpyFrame {
    name: String,
    filename: String,
    line: i64,
    locals: Option<Vec<SpyLocal>>,
}

#[derive(Debug, Clone, Deserialize)]
struct SpyLocal {
    name: String,
    repr: Option<String>,
}

/// What one process gave: its stacks, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Stacks(Stacks),
    /// Not read: the process, and what to do about it.
    Unreadable {
        pid: u32,
        command: String,
        reason: String,
    },
}

/// The stacks of the processes `selection` picks on the host `session`
/// reaches (with each local's repr when `locals`).
pub(crate) async fn read(
    session: &Session,
    selection: &Selection,
    locals: bool,
) -> Result<Vec<Read>, Error> {
    let processes = report(session, selection, locals, false).await?;
    Ok(processes.iter().map(judge).collect())
}

/// Every test process on the host `session` reaches and the test it is in,
/// from the pytest plugin's note, else from its stack.
pub(crate) async fn running(session: &Session) -> Result<Vec<TestProcess>, Error> {
    let processes = report(session, &Selection::Tests, false, true).await?;
    let rows: Vec<TestProcess> = processes
        .iter()
        .map(|process| {
            let mut row = TestProcess {
                pid: process.pid,
                ppid: process.ppid,
                command: process.command.clone(),
                worker: None,
                test: None,
                in_test_for: None,
                running_for: process.age,
                source: "none".into(),
                reason: None,
            };
            if let Some(note) = &process.note {
                row.test = Some(note.test.clone());
                row.worker = (!note.worker.is_empty()).then(|| note.worker.clone());
                row.in_test_for = Some(note.for_secs);
                row.source = "note".into();
                return row;
            }
            match judge(process) {
                Read::Stacks(stacks) if stacks.test.is_some() => {
                    row.test = stacks.test;
                    row.source = "stack".into();
                }
                Read::Stacks(_) => {}
                Read::Unreadable { reason, .. } => row.reason = Some(reason),
            }
            row
        })
        .collect();
    Ok(rows)
}

/// What the host's program reports of the processes `selection` picks.
async fn report(
    session: &Session,
    selection: &Selection,
    locals: bool,
    running: bool,
) -> Result<Vec<Process>, Error> {
    let (mode, value) = match selection {
        Selection::Tests => ("tests", String::new()),
        Selection::Pid(pid) => ("pid", pid.to_string()),
        Selection::Matching(pattern) => ("match", pattern.clone()),
        Selection::Run(marker) => ("marker", marker.clone()),
    };
    let flag = if locals { "1" } else { "0" };
    let what = if running { "running" } else { "stacks" };
    let output = session
        .run(&RemoteCommand::argv(&[
            "python3", "-c", PROGRAM, mode, &value, flag, what,
        ]))
        .await?;
    let remote = |message: String| Error::Remote {
        host: session.host().label.clone(),
        message,
    };
    if output.status.code == Some(127) {
        return Err(remote(
            "python3 is not on the host's PATH: roadie reads test processes' stacks with it".into(),
        ));
    }
    if !output.status.success() {
        return Err(remote(format!(
            "looking for the test processes failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        remote(format!(
            "the host's report of its processes was not understood: {e}"
        ))
    })
}

/// A process's stacks, or what kept them from being read and what to do.
fn judge(process: &Process) -> Read {
    let unreadable = |reason: String| Read::Unreadable {
        pid: process.pid,
        command: process.command.clone(),
        reason,
    };
    match process.problem.as_deref() {
        None => Read::Stacks(stacks(process)),
        Some("no_py_spy") => unreadable(format!(
            "py-spy is not installed where roadie looks (the host's PATH, {}): install it \
             there with `{}/pip install py-spy` (or `pip install py-spy` on PATH); or run the \
             tests with faulthandler registered for SIGUSR1 \
             (`faulthandler.register(signal.SIGUSR1)` in conftest.py) and their stderr going \
             to a file, for roadie to signal them and read the dump ({})",
            process.venv_bin, process.venv_bin, process.said
        )),
        Some("ptrace") => unreadable(format!(
            "py-spy may not read pid {}: {}. Reading another process needs ptrace permission: \
             log in as the user running the tests or as root{}",
            process.pid,
            process.said,
            match (process.ptrace_scope, process.uid) {
                (Some(scope @ 1..), _) => format!(
                    ", or allow it with `sysctl kernel.yama.ptrace_scope=0` (it is {scope})"
                ),
                (_, Some(0)) => String::new(),
                _ => " (roadie logged in as another user)".into(),
            }
        )),
        Some(_) => unreadable(format!(
            "py-spy failed on pid {}: {}",
            process.pid, process.said
        )),
    }
}

fn stacks(process: &Process) -> Stacks {
    let threads: Vec<Thread> = process
        .threads
        .iter()
        .map(|t| Thread {
            id: t.thread_id,
            name: t.thread_name.clone(),
            active: t.active,
            frames: t
                .frames
                .iter()
                .map(|f| Frame {
                    function: f.name.clone(),
                    file: f.filename.clone(),
                    line: f.line,
                    locals: f.locals.as_ref().map(|locals| {
                        locals
                            .iter()
                            .map(|l| (l.name.clone(), l.repr.clone().unwrap_or_default()))
                            .collect()
                    }),
                })
                .collect(),
        })
        .collect();
    Stacks {
        pid: process.pid,
        ppid: process.ppid,
        command: process.command.clone(),
        test: threads.iter().find_map(|t| test_of(&t.frames)),
        threads,
    }
}

/// The test a stack is in: the outermost frame of a `test` function in a
/// test file (`test_*.py` or `*_test.py`).
fn test_of(frames: &[Frame]) -> Option<String> {
    frames.iter().rev().find_map(|f| {
        let name = f.file.rsplit('/').next().unwrap_or(&f.file);
        let stem = name.strip_suffix(".py");
        let test_file =
            stem.is_some_and(|stem| stem.starts_with("test_") || stem.ends_with("_test"));
        (test_file && f.function.starts_with("test")).then(|| format!("{}::{}", f.file, f.function))
    })
}

/// A process's stacks as py-spy prints them, each line prefixed with
/// `[host] pid`.
pub(crate) fn render(host: &str, read: &Read) -> String {
    let mut text = String::new();
    let mut line = |pid: u32, rest: &str| {
        let _ = writeln!(text, "[{host}] {pid} {rest}");
    };
    match read {
        Read::Unreadable {
            pid,
            command,
            reason,
        } => {
            line(*pid, command);
            line(*pid, &format!("  stacks unavailable: {reason}"));
        }
        Read::Stacks(stacks) => {
            let within = stacks
                .test
                .as_deref()
                .map(|t| format!(" (in {t})"))
                .unwrap_or_default();
            line(stacks.pid, &format!("{}{within}", stacks.command));
            for thread in &stacks.threads {
                let name = thread.name.as_deref().unwrap_or("");
                let state = if thread.active { "active" } else { "idle" };
                line(
                    stacks.pid,
                    &format!("  Thread {:#x} ({state}): \"{name}\"", thread.id),
                );
                for frame in &thread.frames {
                    line(
                        stacks.pid,
                        &format!("    {} ({}:{})", frame.function, frame.file, frame.line),
                    );
                    for (name, value) in frame.locals.iter().flatten() {
                        line(stacks.pid, &format!("        {name} = {value}"));
                    }
                }
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn py_spys_frames_become_stacks_with_the_test_they_are_in() {
        let read = judge(&process(
            r#"{"pid": 7, "ppid": 1, "command": "python -m pytest", "threads": [
                {"thread_id": 1, "thread_name": "MainThread", "active": true, "frames": [
                    {"name": "wait", "filename": "/usr/lib/python3.11/threading.py", "line": 320},
                    {"name": "test_hangs", "filename": "/srv/tests/test_slow.py", "line": 12,
                     "locals": [{"name": "event", "repr": "<Event>", "arg": false}]},
                    {"name": "pytest_pyfunc_call", "filename": "/v/_pytest/python.py", "line": 194}
                ]}]}"#,
        ));
        let Read::Stacks(stacks) = read else {
            panic!("{read:?}")
        };
        assert_eq!(
            stacks.test.as_deref(),
            Some("/srv/tests/test_slow.py::test_hangs")
        );
        let frames = &stacks.threads[0].frames;
        assert_eq!((frames[0].function.as_str(), frames[0].line), ("wait", 320));
        assert_eq!(
            frames[1].locals,
            Some(vec![("event".to_owned(), "<Event>".to_owned())])
        );
    }

    #[test]
    fn what_is_missing_is_said_with_the_fix() {
        let missing = judge(&process(
            r#"{"pid": 9, "command": "/srv/venv/bin/python -m pytest", "problem": "no_py_spy", "venv_bin": "/srv/venv/bin"}"#,
        ));
        let Read::Unreadable { reason, .. } = missing else {
            panic!()
        };
        assert!(
            reason.contains("/srv/venv/bin/pip install py-spy"),
            "{reason}"
        );
        let denied = judge(&process(
            r#"{"pid": 9, "command": "pytest", "problem": "ptrace", "said": "Permission denied (os error 13)", "ptrace_scope": 1, "uid": 1000}"#,
        ));
        let Read::Unreadable { reason, .. } = denied else {
            panic!()
        };
        assert!(
            reason.contains("kernel.yama.ptrace_scope=0") && reason.contains("Permission denied"),
            "{reason}"
        );
    }
}
