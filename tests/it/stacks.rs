//! `roadie debug TARGET --stacks`: where hung test processes are stuck, read
//! with py-spy on the host.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::django::venv;
use crate::support::{Running, World, eventually};

/// Of `events`, those of the process `root` and its children (other tests'
/// pytest runs may be under way on the same machine).
fn of_tree(events: Vec<serde_json::Value>, root: u32) -> Vec<serde_json::Value> {
    events
        .into_iter()
        .filter(|e| e["pid"] == root || e["ppid"] == root)
        .collect()
}

/// `roadie --json debug staging --stacks ARGS`: its events.
fn stacks(w: &World, args: &[&str]) -> Vec<serde_json::Value> {
    w.roadie()
        .args(["--json", "debug", "staging", "--stacks"])
        .args(args)
        .run()
        .events()
}

/// A process started in `w`'s directory, stopped when the test ends.
fn start(w: &World, program: &std::path::Path, args: &[&str]) -> Running {
    Running(
        Command::new(program)
            .args(args)
            .current_dir(w.path(""))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn hung_tests_and_their_xdist_workers_show_the_test_each_is_stuck_in() {
    let (w, entry) = World::one_host(103);
    w.write(
        "hung/test_hang.py",
        "import threading\n\n\ndef test_waits_forever():\n    threading.Event().wait()\n\n\n\
         def test_waits_too():\n    threading.Event().wait()\n",
    );
    let python = venv().join("bin/python");
    let run = start(
        &w,
        &python,
        &["-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "hung"],
    );
    let root = run.0.id();
    let expected: BTreeSet<String> = ["test_waits_forever", "test_waits_too"]
        .iter()
        .map(|t| format!("{}::{t}", w.path("hung/test_hang.py").display()))
        .collect();
    let events = eventually(
        "both workers in their test",
        Duration::from_secs(60),
        || {
            let events = of_tree(stacks(&w, &[]), root);
            let tests: BTreeSet<String> = events
                .iter()
                .filter_map(|e| e["test"].as_str().map(str::to_owned))
                .collect();
            if tests == expected {
                Ok(events)
            } else {
                Err(events)
            }
        },
    );
    // The pytest process that runs them is there too, in no test itself.
    assert_eq!(events.len(), 3, "{events:#?}");
    for event in &events {
        assert_eq!(event["event"], "stacks", "{event}");
        let frames = &event["threads"][0]["frames"];
        assert!(
            frames[0]["file"].is_string() && frames[0]["line"].is_u64(),
            "{event}"
        );
    }
    let stuck = events.iter().find(|e| e["test"].is_string()).unwrap();
    let function = stuck["test"].as_str().unwrap().rsplit("::").next().unwrap();
    let pid = stuck["pid"].as_u64().unwrap().to_string();
    let people = w
        .roadie()
        .args(["debug", "staging", "--stacks", "--pid", &pid])
        .run()
        .code(0);
    let prefix = format!("[{entry}] {pid} ");
    assert!(
        people.stdout.lines().all(|l| l.starts_with(&prefix)),
        "{}",
        people.stdout
    );
    assert!(
        people.stdout.contains(&format!("    {function} (")),
        "{}",
        people.stdout
    );
}

#[test]
fn locals_are_shown_when_asked_and_a_missing_py_spy_is_said_with_the_fix() {
    let (w, _) = World::one_host(104);
    let sleeper = "import time\n\ndef nap(minutes):\n    time.sleep(minutes * 60)\n\nnap(10)\n";
    let _with = start(
        &w,
        &venv().join("bin/python"),
        &["-c", sleeper, "with-py-spy"],
    );
    let events = eventually(
        "the sleeper in its function",
        Duration::from_secs(30),
        || {
            let events = stacks(&w, &["--match", "with-py-spy", "--locals"]);
            let napping = events.iter().any(|e| {
                e["threads"][0]["frames"][0]["function"] == "sleep"
                    || e["threads"][0]["frames"][0]["function"] == "nap"
            });
            if napping { Ok(events) } else { Err(events) }
        },
    );
    let frames = events[0]["threads"][0]["frames"].as_array().unwrap();
    let nap = frames.iter().find(|f| f["function"] == "nap").unwrap();
    assert_eq!(
        nap["locals"][0],
        serde_json::json!(["minutes", "10"]),
        "{nap}"
    );

    // The system's Python has no py-spy beside it, nor is one on PATH.
    let _without = start(
        &w,
        std::path::Path::new("/usr/bin/python3"),
        &["-c", sleeper, "without-py-spy"],
    );
    let events = eventually("the other sleeper", Duration::from_secs(30), || {
        let events = stacks(&w, &["--match", "without-py-spy"]);
        if events.is_empty() {
            Err(events)
        } else {
            Ok(events)
        }
    });
    assert_eq!(events[0]["event"], "stacks_unavailable", "{events:?}");
    let reason = events[0]["reason"].as_str().unwrap();
    assert!(reason.contains("/usr/bin/pip install py-spy"), "{reason}");
}

/// A test run that goes quiet leaves its stacks in the log, once, before
/// it is stopped: what an unattended CI job needs.
#[test]
fn a_run_that_says_nothing_for_a_while_shows_its_stacks_once() {
    let (w, _) = World::one_host(105);
    w.write(
        "quiet/test_quiet.py",
        "import threading\n\n\ndef test_never_ends():\n    threading.Event().wait()\n",
    );
    let pytest = format!(
        "cd {} && {} -m pytest -p no:cacheprovider quiet",
        w.path("").display(),
        venv().join("bin/python").display()
    );
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--stacks-after",
            "2s",
            "--timeout",
            "12s",
            "--",
            &pytest,
        ])
        .run_within(Duration::from_secs(60))
        .code(124);
    assert_eq!(
        ran.stderr
            .matches("the stacks of its Python processes")
            .count(),
        1,
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("no output for 2s"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!(
            "{}::test_never_ends",
            w.path("quiet/test_quiet.py").display()
        )),
        "{}",
        ran.stderr
    );
}

/// `--running`: each xdist worker with the test it is in (noted by roadie's
/// pytest plugin) and for how long, longest first, slow ones flagged.
#[test]
fn running_lists_each_worker_in_its_test_and_flags_the_slow_ones() {
    let (w, entry) = World::one_host(106);
    w.write(
        "hung/test_hang.py",
        "import threading\n\n\ndef test_waits_forever():\n    threading.Event().wait()\n\n\n\
         def test_waits_too():\n    threading.Event().wait()\n",
    );
    let run = Running(
        Command::new(venv().join("bin/python"))
            .args([
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-p",
                "roadie.plugin",
                "-n",
                "2",
                "hung",
            ])
            .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
            .current_dir(w.path(""))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let root = run.0.id();
    let noted = |events: &[serde_json::Value]| {
        events
            .iter()
            .filter(|e| e["source"] == "note" && e["in_test_for"].as_f64().is_some_and(|s| s > 1.0))
            .count()
    };
    let events = eventually(
        "both workers noted in their test",
        Duration::from_secs(60),
        || {
            let ran = w
                .roadie()
                .args(["--json", "debug", "staging", "--running", "--slow", "1s"])
                .run()
                .code(0);
            let events = of_tree(ran.events(), root);
            if noted(&events) == 2 {
                Ok(events)
            } else {
                Err(events)
            }
        },
    );
    let workers: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["source"] == "note").collect();
    let mut tests: Vec<&str> = workers
        .iter()
        .map(|e| e["test"].as_str().unwrap())
        .collect();
    tests.sort_unstable();
    assert_eq!(
        tests,
        [
            "hung/test_hang.py::test_waits_forever",
            "hung/test_hang.py::test_waits_too"
        ]
    );
    let mut names: Vec<&str> = workers
        .iter()
        .map(|e| e["worker"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["gw0", "gw1"]);
    assert!(workers.iter().all(|e| e["slow"] == true), "{events:#?}");
    // Longest in its test first; pytest's own process, in no test, last.
    assert_eq!(events[0]["source"], "note");
    assert!(events[0]["in_test_for"].as_f64() >= events[1]["in_test_for"].as_f64());
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(events[2]["test"].is_null(), "{events:#?}");

    let people = w
        .roadie()
        .args(["debug", "staging", "--running"])
        .run()
        .code(0);
    let prefix = format!(
        "[{}] {} {} {} in it for ",
        entry,
        events[0]["pid"],
        events[0]["worker"].as_str().unwrap(),
        events[0]["test"].as_str().unwrap()
    );
    assert!(
        people.stdout.lines().any(|l| l.starts_with(&prefix)),
        "{}",
        people.stdout
    );
}

/// Two threads that deadlock on purpose, each holding the lock the other
/// wants.
const DEADLOCK: &str = "import faulthandler, signal, sys, threading, time\n\
if 'faulthandler' in sys.argv:\n    faulthandler.register(signal.SIGUSR1)\n\
a, b = threading.Lock(), threading.Lock()\n\
def first():\n    with a:\n        time.sleep(0.3)\n        with b:\n            pass\n\
def second():\n    with b:\n        time.sleep(0.3)\n        with a:\n            pass\n\
threads = [threading.Thread(target=f, name=f.__name__) for f in (first, second)]\n\
for t in threads:\n    t.start()\n\
for t in threads:\n    t.join()\n";

/// The functions of the threads of a `stacks` event that are in `first` or
/// `second` (where each waits for the other's lock).
fn deadlocked(event: &serde_json::Value) -> BTreeSet<String> {
    event["threads"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["frames"].as_array().into_iter().flatten())
        .filter_map(|f| f["function"].as_str())
        .filter(|f| ["first", "second"].contains(f))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_deadlock_shows_both_threads_waiting_with_py_spy_or_faulthandler() {
    let (w, _) = World::one_host(107);
    let script = w.write("deadlock.py", DEADLOCK);
    let both: BTreeSet<String> = ["first".to_owned(), "second".to_owned()].into();
    let _spied = start(
        &w,
        &venv().join("bin/python"),
        &[script.to_str().unwrap(), "py-spy"],
    );
    let events = eventually("both threads stuck", Duration::from_secs(30), || {
        let events = stacks(&w, &["--match", "deadlock.py py-spy"]);
        if events.len() == 1 && deadlocked(&events[0]) == both {
            Ok(events)
        } else {
            Err(events)
        }
    });
    let names: BTreeSet<&str> = events[0]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains("first") && names.contains("second"),
        "{events:?}"
    );

    // Without py-spy: the system's Python, faulthandler registered for
    // SIGUSR1, stderr in a file; roadie signals it and reads the dump.
    let stderr = std::fs::File::create(w.path("deadlock.err")).unwrap();
    let mut dumped = Running(
        Command::new("/usr/bin/python3")
            .args([script.to_str().unwrap(), "faulthandler"])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let events = eventually("the dump of both threads", Duration::from_secs(30), || {
        let events = stacks(&w, &["--match", "deadlock.py faulthandler"]);
        if events.len() == 1 && deadlocked(&events[0]) == both {
            Ok(events)
        } else {
            Err(events)
        }
    });
    assert_eq!(events[0]["event"], "stacks", "{events:?}");
    assert!(
        dumped.0.try_wait().unwrap().is_none(),
        "the dump must not stop the process"
    );
}

/// A login that may not trace the tests' processes is told what is missing.
#[test]
fn a_login_that_may_not_trace_the_tests_is_told_how_to_fix_it() {
    let (w, _) = World::one_host(108);
    w.log_in_as(&crate::support::unprivileged_user());
    let script = w.write("deadlock.py", DEADLOCK);
    let _root_owned = start(
        &w,
        &venv().join("bin/python"),
        &[script.to_str().unwrap(), "traced"],
    );
    let events = eventually("the refusal", Duration::from_secs(30), || {
        let events = stacks(&w, &["--match", "deadlock.py traced"]);
        if events.is_empty() {
            Err(events)
        } else {
            Ok(events)
        }
    });
    assert_eq!(events[0]["event"], "stacks_unavailable", "{events:?}");
    let reason = events[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("needs ptrace permission")
            && reason.contains("as the user running the tests or as root"),
        "{reason}"
    );
}
