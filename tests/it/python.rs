//! The roadie wheel end to end: built with maturin, installed into a fresh
//! virtualenv, and its pytest plugin and API driven by the suites under
//! python/tests against real sshd hosts (the demo Django site served by
//! gunicorn, a protected host, a host that is not there, a namespace host
//! where failing tests wait in the remote debugger).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::django::{Gunicorn, Staging};
use crate::support::python::wheel_venv;
use crate::support::{
    Roadie, Running, World, addr, eventually, lines_of, said_until, socket_until,
};

fn suite(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python/tests")
        .join(file)
}

/// `python -m pytest` from the wheel's virtualenv, started by `launcher`
/// (empty: directly), in the world (its HOME, inventory and kept
/// connections); no target configured.
fn pytest_via(w: &World, launcher: &[&str]) -> Roadie {
    let python = wheel_venv().join("bin/python");
    let mut command = match launcher {
        [] => Command::new(&python),
        [program, args @ ..] => {
            let mut command = Command::new(program);
            command.args(args).arg(&python);
            command
        }
    };
    command
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-rs"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("ROADIE_INVENTORY", w.path("roadie.yaml"))
        .env_remove("ROADIE_TARGET")
        .env_remove("ROADIE_PROGRAM");
    w.roadie_via(command)
}

fn pytest(w: &World) -> Roadie {
    pytest_via(w, &[])
}

const LIMIT: Duration = Duration::from_secs(300);

#[test]
fn the_wheel_carries_the_program_the_package_completions_and_the_man_page() {
    let venv = wheel_venv();
    let program = env!("CARGO_BIN_EXE_roadie");
    let generated = |args: &[&str]| {
        let out = Command::new(program).args(args).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/roadie.data/data");
    let pages = tempfile::tempdir().unwrap();
    generated(&["man", "--dir", pages.path().to_str().unwrap()]);
    let mut wanted: Vec<(String, String)> = std::fs::read_dir(pages.path())
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                format!("share/man/man1/{}", entry.file_name().to_string_lossy()),
                std::fs::read_to_string(entry.path()).unwrap(),
            )
        })
        .collect();
    assert!(wanted.len() > 10, "a page per subcommand: {wanted:?}");
    for (shell, file) in [
        ("bash", "share/bash-completion/completions/roadie"),
        ("zsh", "share/zsh/site-functions/_roadie"),
        ("fish", "share/fish/vendor_completions.d/roadie.fish"),
    ] {
        wanted.push((file.to_owned(), generated(&["completions", shell])));
    }
    let listed = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        listed(&shipped.join("share/man/man1")),
        listed(pages.path()),
        "the shipped man pages are not the program's: run python/generate-data"
    );
    for (file, text) in &wanted {
        assert!(
            std::fs::read_to_string(shipped.join(file)).ok().as_ref() == Some(text),
            "python/roadie.data/data/{file} is not what the program prints now: run python/generate-data"
        );
        assert!(
            std::fs::read_to_string(venv.join(file)).ok().as_ref() == Some(text),
            "the wheel did not install {file}"
        );
    }
    // Generated from the real definitions: every subcommand is there.
    let bash = generated(&["completions", "bash"]);
    let man = generated(&["man"]);
    assert!(
        man.starts_with(".ie") && man.contains(".TH roadie 1"),
        "{man}"
    );
    for subcommand in ["debug", "tunnel", "completions", "man"] {
        assert!(
            bash.contains(&format!("roadie__subcmd__{subcommand}")),
            "{subcommand}"
        );
        assert!(
            man.contains(&format!("roadie\\-{subcommand}")),
            "{subcommand}"
        );
    }
    let version = Command::new(venv.join("bin/roadie"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("roadie {}\n", env!("CARGO_PKG_VERSION"))
    );
    let typed = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import importlib.resources as r, roadie.plugin; print(r.files('roadie').joinpath('py.typed').is_file())",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&typed.stdout),
        "True\n",
        "{}",
        String::from_utf8_lossy(&typed.stderr)
    );
}

#[test]
fn the_fixtures_log_in_and_reset_checked_through_a_tunnel_under_xdist() {
    let s = Staging::new(200);
    let web = Gunicorn::start(&s.site, s.host);
    let ran = pytest(&s.w)
        .args(["-n", "2", "--roadie-target", "staging"])
        .args([suite("test_staging.py")])
        .env("SITE_ADDRESS", format!("{}:{}", web.address, web.port))
        .run_within(LIMIT);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("6 passed"), "{}", ran.stdout);
    // Both workers' calls went through one kept connection.
    let kept =
        s.w.roadie()
            .args(["--json", "persist", "stop"])
            .run()
            .code(0)
            .events();
    assert_eq!(kept.len(), 1, "one kept connection served them: {kept:?}");
}

#[test]
fn refusals_and_unreachable_hosts_raise_and_a_missing_target_skips() {
    let mut w = World::new();
    let protected = w.server(&[addr(202)]);
    let protected = w.entries(protected)[0].clone();
    let gone = format!(
        "{}:{}",
        addr(203),
        roadie::sandbox::free_port(&[addr(203)]).unwrap()
    );
    w.write(
        "roadie.yaml",
        &format!(
            "environments:\n{}{}",
            World::environment(
                "production",
                std::slice::from_ref(&protected),
                "    protected: true\n"
            ),
            World::environment("gone", std::slice::from_ref(&gone), ""),
        ),
    );
    let ran = pytest(&w)
        .args(["--roadie-target", "production"])
        .args([suite("test_safeguards.py")])
        .env("PROTECTED_HOST", &protected)
        .env("UNREACHABLE", "gone")
        .env("UNREACHABLE_HOST", &gone)
        .run_within(LIMIT);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("3 passed"), "{}", ran.stdout);

    // No target: the fixtures' tests are skipped, saying why.
    let ran = pytest(&w)
        .args([suite("test_staging.py")])
        .run_within(LIMIT);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("1 passed, 5 skipped"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("no roadie target configured: pass --roadie-target ENV"),
        "{}",
        ran.stdout
    );
    // A target that cannot be reached, from the command line, the
    // environment or the ini option, is an error naming the host.
    for how in [
        &["--roadie-target", "gone"][..],
        &["-o", "roadie_target=gone"][..],
        &[][..],
    ] {
        let ran = pytest(&w)
            .args(how)
            .args([suite("test_staging.py")])
            .env("ROADIE_TARGET", if how.is_empty() { "gone" } else { "" })
            .run_within(LIMIT);
        assert_eq!(ran.code, 1, "{how:?}: {}\n{}", ran.stdout, ran.stderr);
        assert!(
            ran.stdout.contains("1 passed, 5 errors"),
            "{how:?}: {}",
            ran.stdout
        );
        assert!(
            ran.stdout
                .contains(&format!("RoadieConnectionError: {gone}: ")),
            "{how:?}: {}",
            ran.stdout
        );
    }
}

#[test]
fn an_unattended_failing_test_under_roadie_pdb_times_out_and_the_run_finishes() {
    let w = World::new();
    let test = format!("{}::test_fails[1]", suite("failing_tests.py").display());
    let ran = pytest(&w)
        .args(["--roadie-pdb", "--roadie-pdb-timeout", "1", &test])
        .run_within(LIMIT);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("1 failed"), "{}", ran.stdout);
    assert!(
        ran.stderr.contains("RemotePdb session open at 127.0.0.1:"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("RemotePdb: nobody attached within 1s; carrying on"),
        "{}",
        ran.stderr
    );
}

/// The `debug_session` events of `roadie --json debug staging --once`.
fn listed(w: &World) -> Vec<serde_json::Value> {
    w.roadie()
        .args(["--json", "debug", "staging", "--once"])
        .run()
        .code(0)
        .events()
}

/// The `debug_session` events of `roadie debug staging --once --json`,
/// once there are `count`.
fn listed_when(w: &World, count: usize) -> Vec<serde_json::Value> {
    eventually(
        "the sessions listed by roadie debug --once",
        Duration::from_secs(60),
        || {
            let sessions = listed(w);
            if sessions.len() == count {
                Ok(sessions)
            } else {
                Err(sessions)
            }
        },
    )
}

/// What `lines` said until it had said `text` `count` times.
fn said_times(lines: &std::sync::mpsc::Receiver<String>, text: &str, count: usize) -> Vec<String> {
    let mut said = Vec::new();
    for _ in 0..count {
        said.extend(said_until(lines, text));
    }
    said
}

/// At the `(Pdb) ` prompt of the session tunnelled to `local`, `typed` sent
/// in one write; what came back until the session closed.
fn typed_at(local: &str, typed: &[u8]) -> String {
    let mut client = TcpStream::connect(local).unwrap();
    socket_until(&mut client, "(Pdb) ");
    client.write_all(typed).unwrap();
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    rest
}

#[test]
fn failing_tests_under_roadie_pdb_and_xdist_wait_where_roadie_debug_finds_them() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    // Three workers, a failing test each, on the namespace host.
    let mut tests = Running(
        pytest_via(&w, &["ip", "netns", "exec", &host.namespace])
            .args(["-n", "3", "--roadie-pdb", "--roadie-pdb-timeout", "45"])
            .args([suite("failing_tests.py")])
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = lines_of(tests.0.stderr.take().unwrap());
    let stdout = tests.0.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let sessions = listed_when(&w, 3);
    let about = |key: &str| -> BTreeSet<String> {
        sessions
            .iter()
            .map(|s| s["session"][key].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let ids: BTreeSet<String> = (1..=3)
        .map(|n| format!("tests/failing_tests.py::test_fails[{n}]"))
        .collect();
    assert_eq!(about("test"), ids, "{sessions:?}");
    assert_eq!(
        about("worker"),
        ["gw0", "gw1", "gw2"].map(String::from).into()
    );
    // Each on its port, saying so as remote-pdb does.
    let said = said_times(&stderr, "RemotePdb session open at", 3);
    for session in &sessions {
        let line = format!(
            "RemotePdb session open at 127.0.0.1:{}, waiting for connection ...",
            session["session"]["port"]
        );
        assert!(said.contains(&line), "{line:?} not in {said:?}");
    }
    // People see which test waits on which worker.
    w.roadie()
        .args(["debug", "staging", "--once"])
        .run()
        .code(0)
        .stdout_has("test tests/failing_tests.py::test_fails[1] on worker gw");

    let mut watcher = Running(
        w.roadie()
            .args(["--json", "debug", "staging", "--interval", "0.2"])
            .spawn(),
    );
    let events = lines_of(watcher.0.stdout.take().unwrap());
    let next_event = || -> serde_json::Value {
        let line = events
            .recv_timeout(Duration::from_secs(60))
            .expect("an event from roadie debug");
        crate::support::event(&line).unwrap_or_else(|| panic!("not JSON: {line}"))
    };
    let mut local = std::collections::BTreeMap::new();
    while local.len() < 3 {
        let event = next_event();
        if event["event"] == "debug_session" {
            let test = event["test"]
                .as_str()
                .unwrap()
                .trim_start_matches("tests/failing_tests.py::");
            local.insert(test.to_owned(), event);
        }
    }
    // Two lines in one write: both are run.
    let first = &local["test_fails[1]"];
    let answer = typed_at(first["local"].as_str().unwrap(), b"p 1+1\nc\n");
    assert!(answer.starts_with("2\n"), "{answer:?}");
    let second = &local["test_fails[2]"];
    let answer = typed_at(second["local"].as_str().unwrap(), b"p x\nq\n");
    assert!(answer.starts_with("42\n"), "{answer:?}");
    // Both ends are told, and how (the workers live on while the third
    // test waits).
    let mut ended = std::collections::BTreeMap::new();
    while ended.len() < 2 {
        let event = next_event();
        if event["event"] == "debug_session_ended" {
            ended.insert(event["port"].to_string(), event["how"].clone());
        }
    }
    assert_eq!(ended[&first["port"].to_string()], "continue", "{ended:?}");
    assert_eq!(ended[&second["port"].to_string()], "quit", "{ended:?}");
    // The third, unattended, gives up waiting and the run finishes.
    said_until(
        &stderr,
        "RemotePdb: nobody attached within 45s; carrying on",
    );
    let status = eventually("pytest to finish", Duration::from_secs(60), || {
        tests.0.try_wait().unwrap()
    });
    assert_eq!(status.code(), Some(1));
    let stdout = stdout.join().unwrap();
    assert!(stdout.contains("3 failed"), "{stdout}");
}
