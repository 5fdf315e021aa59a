//! `roadie debug` with real pytest, remote-pdb (through roadie's shim) and
//! web-pdb on a real sshd host.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::django::venv;
use crate::support::netns::NetHost;
use crate::support::{Running, World, eventually, lines_of, said_until, socket_until};

const FAILING_TEST: &str = "def test_fails():\n    x = 41\n    assert x + 1 == 43\n";

/// A tests directory with one failing test, and the shim next to it.
fn tests_dir(w: &World) -> PathBuf {
    let dir = w.path("project");
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("tests/test_fail.py"), FAILING_TEST).unwrap();
    std::fs::write(
        dir.join("roadie_pdb.py"),
        include_str!("../../python/roadie/remote_pdb.py"),
    )
    .unwrap();
    dir
}

fn python() -> PathBuf {
    venv().join("bin/python")
}

/// A command run on `host` (in its network namespace).
fn on(host: &NetHost) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", &host.namespace]);
    command
}

/// A pytest shard on the host, stopped at its failing test in the shim.
fn shard(host: &NetHost, dir: &Path) -> Child {
    on(host)
        .arg(python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests",
            "--pdb",
            "--pdbcls=roadie_pdb:RemotePdb",
        ])
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .env("REMOTE_PDB_PORT", "0")
        .env("ROADIE_PDB_TIMEOUT", "120")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `roadie --json debug staging`, watching; its events as they come.
fn watch(w: &World) -> (Running, std::sync::mpsc::Receiver<serde_json::Value>) {
    let mut roadie = Running(
        w.roadie()
            .args(["--json", "debug", "staging", "--interval", "0.2"])
            .spawn(),
    );
    let events = crate::support::json_events(roadie.0.stdout.take().unwrap());
    (roadie, events)
}

/// The Python script `script` running on `host`, its output dropped.
fn run_script(host: &NetHost, script: &Path) -> Child {
    on(host)
        .arg(python())
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn next(events: &std::sync::mpsc::Receiver<serde_json::Value>, kind: &str) -> serde_json::Value {
    next_of(events, &[kind])
}

/// The next event of one of `kinds` (waiting up to 60 s).
fn next_of(
    events: &std::sync::mpsc::Receiver<serde_json::Value>,
    kinds: &[&str],
) -> serde_json::Value {
    loop {
        let event = events
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {kinds:?} event"));
        if kinds.iter().any(|kind| event["event"] == *kind) {
            return event;
        }
    }
}

#[test]
fn three_shards_are_found_evaluated_through_the_tunnel_and_continued() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    let dir = tests_dir(&w);
    let mut shards: Vec<Running> = (0..3).map(|_| Running(shard(&host, &dir))).collect();
    let (_roadie, events) = watch(&w);
    let found: Vec<serde_json::Value> = (0..3).map(|_| next(&events, "debug_session")).collect();
    let mut pids: Vec<u64> = found.iter().map(|e| e["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    let mut expected: Vec<u64> = shards.iter().map(|c| u64::from(c.0.id())).collect();
    expected.sort_unstable();
    assert_eq!(pids, expected, "{found:?}");
    for session in &found {
        assert_eq!(session["kind"], "remote-pdb");
        assert_eq!(session["test"], "tests/test_fail.py::test_fails (call)");
        assert_eq!(session["exposed"], false);
        let mut stream = TcpStream::connect(session["local"].as_str().unwrap()).unwrap();
        socket_until(&mut stream, "(Pdb) ");
        stream.write_all(b"p 1+1\n").unwrap();
        let answer = socket_until(&mut stream, "(Pdb) ");
        assert_eq!(answer.lines().next(), Some("2"), "{answer}");
        stream.write_all(b"c\n").unwrap();
    }
    for shard in &mut shards {
        // The test failed, and pytest carried on to its end.
        assert_eq!(shard.0.wait().unwrap().code(), Some(1));
    }
    for _ in 0..3 {
        next(&events, "debug_session_ended");
    }
}

/// One failing test waiting in the shim on a namespace host, `roadie
/// debug` watching, and a client at its `(Pdb)` prompt through the tunnel.
struct Attached {
    shard: Running,
    events: std::sync::mpsc::Receiver<serde_json::Value>,
    session: serde_json::Value,
    stream: TcpStream,
    _roadie: Running,
    _lan: crate::support::netns::Lan,
    _w: World,
}

fn attached() -> Attached {
    let mut w = World::new();
    let (lan, host) = w.netns_host();
    let dir = tests_dir(&w);
    let shard = Running(shard(&host, &dir));
    let (roadie, events) = watch(&w);
    let session = next(&events, "debug_session");
    let mut stream = TcpStream::connect(session["local"].as_str().unwrap()).unwrap();
    socket_until(&mut stream, "(Pdb) ");
    Attached {
        shard,
        events,
        session,
        stream,
        _roadie: roadie,
        _lan: lan,
        _w: w,
    }
}

#[test]
fn lines_a_client_sends_together_all_reach_the_shim() {
    // Every part bound: what is not would be dropped (stopped) at once.
    let Attached {
        mut shard,
        mut stream,
        events: _events,
        session: _session,
        _roadie,
        _lan,
        _w,
    } = attached();
    // One write: the three lines arrive at the shim together.
    stream.write_all(b"p 1+1\np 2+2\nc\n").unwrap();
    let answers = socket_until(&mut stream, "(Pdb) 4\n");
    assert!(answers.starts_with("2\n(Pdb) 4\n"), "{answers:?}");
    // `c` was run too: the test run goes on to its end.
    assert_eq!(wait_for(&mut shard.0).code(), Some(1));
}

/// The exit status of `child`, which must end within 60 s.
fn wait_for(child: &mut Child) -> std::process::ExitStatus {
    eventually("the process to end", Duration::from_secs(60), || {
        child.try_wait().unwrap()
    })
}

#[test]
fn an_attached_session_is_told_apart_from_an_ended_one() {
    let Attached {
        mut shard,
        events,
        session,
        mut stream,
        _roadie,
        _lan,
        _w,
    } = attached();
    let attached = next_of(&events, &["debug_session_attached", "debug_session_ended"]);
    assert_eq!(attached["event"], "debug_session_attached", "{attached}");
    assert_eq!(attached["pid"], session["pid"]);
    assert_eq!(attached["port"], session["port"]);
    // Ten more looks while the client stays: none calls it ended.
    let quiet_until = Instant::now() + Duration::from_secs(2);
    while let Some(left) = quiet_until.checked_duration_since(Instant::now()) {
        if let Ok(event) = events.recv_timeout(left) {
            assert_ne!(event["event"], "debug_session_ended", "{event}");
        }
    }
    stream.write_all(b"p 1+1\n").unwrap();
    assert!(socket_until(&mut stream, "(Pdb) ").starts_with("2\n"));
    stream.write_all(b"c\n").unwrap();
    let ended = next(&events, "debug_session_ended");
    assert_eq!(ended["pid"], session["pid"]);
    assert_eq!(wait_for(&mut shard.0).code(), Some(1));
}

#[test]
fn sessions_lists_only_live_ones() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    let dir = tests_dir(&w);
    let _shards: Vec<Running> = (0..2).map(|_| Running(shard(&host, &dir))).collect();
    let mut roadie = Running(
        w.roadie()
            .args(["debug", "staging", "--attach", "--interval", "0.2"])
            .spawn(),
    );
    let mut stdin = roadie.0.stdin.take().unwrap();
    let said = lines_of(roadie.0.stderr.take().unwrap());
    let attached = said_until(&said, "attached to ").pop().unwrap();
    let pid = attached
        .split(" pid ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_owned();
    said_until(&said, "another session is waiting");
    stdin.write_all(b"c\n").unwrap();
    said_until(&said, &format!("(pid {pid}) ended"));
    stdin.write_all(b":sessions\n").unwrap();
    // The second, still waiting, is listed; the first, ended, is not.
    let listed = said_until(&said, "2: ");
    assert!(
        !listed.last().unwrap().contains(&format!(" pid {pid} ")),
        "{listed:?}"
    );
    assert!(
        listed.iter().all(|line| !line.starts_with("1: ")),
        "the ended session is still listed: {listed:?}"
    );
}

#[test]
fn web_pdb_is_found_warned_about_and_reachable_through_the_tunnel() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    let port = 5555;
    let script = w.write(
        "debugged.py",
        &format!("import web_pdb\nx = 41\nweb_pdb.set_trace(port={port})\nprint(x)\n"),
    );
    let debugged = Running(run_script(&host, &script));
    let (_roadie, events) = watch(&w);
    let session = next(&events, "debug_session");
    assert_eq!(session["kind"], "web-pdb");
    assert_eq!(session["port"], port);
    assert_eq!(
        session["exposed"], true,
        "web-pdb listens on 0.0.0.0: {session}"
    );
    let local = session["local"].as_str().unwrap();
    assert_eq!(session["connect"], format!("http://{local}/"));
    let mut stream = TcpStream::connect(local).unwrap();
    write!(stream, "GET /frame-data HTTP/1.0\r\nHost: {local}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let frame: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    assert!(frame["locals"].to_string().contains("41"), "{frame}");
    drop(debugged);
    next(&events, "debug_session_ended");
}

#[test]
fn a_web_pdb_session_ends_when_its_server_stops() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    // Debugged in a thread: when the thread ends, web-pdb stops its server;
    // the process lives on.
    let script = w.write(
        "debugged.py",
        "import threading, time, web_pdb\n\
         def debugged():\n    x = 41\n    web_pdb.set_trace(port=5555)\n    return x\n\
         thread = threading.Thread(target=debugged)\nthread.start()\nthread.join()\ntime.sleep(120)\n",
    );
    let mut debugged = Running(run_script(&host, &script));
    let (_roadie, events) = watch(&w);
    let session = next(&events, "debug_session");
    assert_eq!(session["kind"], "web-pdb");
    // The browser's part: a WebSocket on /ws, and `c` sent through it.
    let local = session["local"].as_str().unwrap();
    let mut socket = TcpStream::connect(local).unwrap();
    write!(
        socket,
        "GET /ws HTTP/1.1\r\nHost: {local}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: cm9hZGllIHRlc3Qga2V5IQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    assert!(socket_until(&mut socket, "\r\n\r\n").starts_with("HTTP/1.1 101"));
    // A masked text frame (mask key 0) holding "c".
    socket.write_all(&[0x81, 0x81, 0, 0, 0, 0, b'c']).unwrap();
    let ended = next_of(&events, &["debug_session_attached", "debug_session_ended"]);
    assert_eq!(ended["event"], "debug_session_ended", "{ended}");
    assert!(
        debugged.0.try_wait().unwrap().is_none(),
        "the end was told only when the process exited"
    );
}

#[test]
fn debug_runs_pytest_and_attaches_this_terminal() {
    let mut w = World::new();
    let (_lan, _host) = w.netns_host();
    let dir = tests_dir(&w);
    let python = python();
    let command = [
        "--",
        python.to_str().unwrap(),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests",
    ];
    let mut roadie = Running(
        w.roadie()
            .args(["debug", "staging", "--attach", "--interval", "0.2", "--cwd"])
            .args([&dir])
            .args(command)
            .spawn(),
    );
    let mut stdin = roadie.0.stdin.take().unwrap();
    let mut stdout = roadie.0.stdout.take().unwrap();
    let read_until = |stdout: &mut std::process::ChildStdout, marker: &str| {
        let mut text = String::new();
        let mut buffer = [0u8; 4096];
        while !text.contains(marker) {
            let n = stdout.read(&mut buffer).unwrap();
            assert!(n > 0, "roadie's output ended before {marker:?}: {text}");
            text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
        text
    };
    read_until(&mut stdout, "(Pdb) ");
    stdin.write_all(b"p x + 1\n").unwrap();
    let answer = read_until(&mut stdout, "(Pdb) ");
    assert!(answer.starts_with("42\n"), "{answer:?}");
    stdin.write_all(b"c\n").unwrap();
    let rest = read_until(&mut stdout, "1 failed");
    assert!(rest.contains("test_fails"), "{rest}");
    // pytest's exit code comes through.
    assert_eq!(roadie.0.wait().unwrap().code(), Some(1));
}

/// A program waiting in debugpy for an editor (`python -m debugpy --listen
/// 127.0.0.1:0 --wait-for-client`) is found by its adapter's port for
/// clients, tunnelled to, and announced with a VS Code attach configuration
/// whose port reaches the adapter: a DAP `initialize` through it is answered.
#[test]
fn a_debugpy_session_is_announced_with_a_vscode_attach_that_reaches_it() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    let script = w.write("waits.py", "import time\ntime.sleep(600)\n");
    let _debugged = Running(
        on(&host)
            .arg(python())
            .args([
                "-m",
                "debugpy",
                "--listen",
                "127.0.0.1:0",
                "--wait-for-client",
            ])
            .arg(&script)
            .current_dir(w.path(""))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut roadie = Running(
        w.roadie()
            .args([
                "--json",
                "debug",
                "staging",
                "--interval",
                "0.2",
                "--local-root",
                "/home/me/site",
            ])
            .spawn(),
    );
    let events = crate::support::json_events(roadie.0.stdout.take().unwrap());
    let session = next(&events, "debug_session");
    assert_eq!(session["kind"], "debugpy", "{session}");
    let local = session["local"].as_str().unwrap();
    let connect = session["connect"].as_str().unwrap();
    let snippet: serde_json::Value = serde_json::from_str(
        connect
            .strip_prefix("in VS Code, a launch.json configuration: ")
            .unwrap_or_else(|| panic!("{connect}")),
    )
    .unwrap();
    assert_eq!(
        (snippet["type"].as_str(), snippet["request"].as_str()),
        (Some("debugpy"), Some("attach"))
    );
    let port = snippet["connect"]["port"].as_u64().unwrap();
    assert_eq!(format!("127.0.0.1:{port}"), local);
    let remote_root = std::fs::canonicalize(w.path("")).unwrap();
    assert_eq!(
        snippet["pathMappings"],
        serde_json::json!([{"localRoot": "/home/me/site", "remoteRoot": remote_root}]),
        "{snippet}"
    );
    // The Debug Adapter Protocol's first request, answered by the adapter.
    let mut stream = TcpStream::connect(local).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = r#"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"roadie","clientID":"roadie"}}"#;
    write!(stream, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let answer = socket_until(&mut stream, "\"command\": \"initialize\"");
    assert!(
        answer.contains("\"type\": \"response\"") && answer.contains("\"success\": true"),
        "{answer}"
    );
}
