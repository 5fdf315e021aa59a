//! `roadie debug --publish`: tests failing on a CI runner nobody can reach
//! (a network namespace without sshd whose firewall drops every new inbound
//! connection), their debugger sessions published to a rendezvous host
//! (another namespace, stock sshd, a home of its own) and reached from the
//! developer side (this test process) with `roadie debug rendezvous`.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::support::django::venv;
use crate::support::netns::{Lan, NetHost};
use crate::support::{
    Roadie, Running, World, current_user, eventually, lines_of, said_until, socket_until,
};
use roadie::sandbox::{ensure_key, known_hosts_line};

const FAILING: &str = "import pytest\n\n@pytest.mark.parametrize('n', [1, 2, 3])\ndef test_fails(n):\n    x = 40 + n\n    assert x == 0\n";
const PASSING: &str = "def test_passes():\n    assert 1 + 1 == 2\n";

/// The forward-only key's options in authorized_keys: forwarding, and SFTP
/// (for the records) as its only service.
const FORWARD_ONLY: &str = "restrict,port-forwarding,command=\"internal-sftp\"";

/// The three hosts, the rendezvous host's private home (bind-mounted over
/// the login user's home there) and the runner's forward-only key.
struct Ci {
    w: World,
    _lan: Lan,
    runner: NetHost,
    rendezvous: NetHost,
    home: PathBuf,
    key: PathBuf,
}

/// The login user's home directory, as /etc/passwd says.
fn login_home() -> PathBuf {
    let user = current_user();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.split(':').next() == Some(user.as_str()))
        .unwrap_or_else(|| panic!("{user} is not in /etc/passwd"));
    PathBuf::from(line.split(':').nth(5).unwrap())
}

fn sh_in(host: &NetHost, script: &str) {
    let status = Command::new("ip")
        .args(["netns", "exec", &host.namespace, "sh", "-c", script])
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

fn ci(environment_extra: &str) -> Ci {
    let mut w = World::new();
    let mut lan = Lan::new();
    let rendezvous = lan.host();
    let runner = lan.host();
    let ci_key = w.path("ci_key");
    let public = ensure_key(&ci_key, "ci runner").unwrap();
    let mut keys = std::fs::read_to_string(&w.authorized_keys).unwrap();
    let line = public.to_openssh().unwrap();
    keys = format!("{keys}{FORWARD_ONLY} {line}\n");
    std::fs::write(&w.authorized_keys, keys).unwrap();
    let home = w.path("rendezvous-home");
    std::fs::create_dir_all(&home).unwrap();
    let server = rendezvous.sshd(
        &w.path("rendezvous-sshd"),
        &w.authorized_keys,
        "rendezvous",
        &home,
        &login_home(),
    );
    let line = known_hosts_line(rendezvous.address, 22, &server.host_key).unwrap();
    std::fs::write(&w.known_hosts, format!("{line}\n")).unwrap();
    w.servers.push(server);
    w.inventory(
        "rendezvous",
        &[rendezvous.address.to_string()],
        environment_extra,
    );
    // A runner: nothing listens on its interface, and what would connect
    // in is dropped (its own loopback aside).
    sh_in(
        &runner,
        "nft add table inet runner && \
         nft add chain inet runner input '{ type filter hook input priority 0; policy accept; }' && \
         nft add rule inet runner input iif lo accept && \
         nft add rule inet runner input ct state new drop",
    );
    let project = w.path("project/tests");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("test_fail.py"), FAILING).unwrap();
    std::fs::write(project.join("test_pass.py"), PASSING).unwrap();
    Ci {
        w,
        _lan: lan,
        runner,
        rendezvous,
        home,
        key: ci_key,
    }
}

impl Ci {
    /// `roadie [ARGS] debug --publish rendezvous --wait WAIT -- pytest -n N
    /// FILE`, run on the runner with the forward-only key, as PID 1 of a
    /// PID namespace.
    fn publish(&self, args: &[&str], wait: &str, workers: &str, file: &str) -> Roadie {
        // In a PID namespace of its own too, as a CI container is: all its
        // processes die with it when the test ends.
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.runner.namespace]);
        command.args(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]);
        command.arg(env!("CARGO_BIN_EXE_roadie"));
        let python = venv().join("bin/python");
        self.w
            .roadie_via(command)
            .args(["--identity", self.key.to_str().unwrap()])
            .args(args)
            .args(["debug", "--publish", "rendezvous", "--wait", wait, "--"])
            .args([
                python.to_str().unwrap(),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
            ])
            .args(["-n", workers])
            .args([self.w.path("project/tests").join(file)])
            .env("GITHUB_RUN_ID", "9001")
            .env("GITHUB_JOB", "test")
    }

    /// What is in the rendezvous host's `~/.roadie/debug/`.
    fn published_files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.home.join(".roadie/debug")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Whether anyone logged in to the rendezvous host.
    fn logged_in(&self) -> bool {
        std::fs::read_to_string(&self.w.servers[0].log)
            .unwrap_or_default()
            .contains("Accepted publickey")
    }

    /// `roadie --json debug rendezvous --once`: the sessions listed.
    fn listed(&self) -> Vec<serde_json::Value> {
        self.w
            .roadie()
            .args(["--json", "debug", "rendezvous", "--once"])
            .run()
            .code(0)
            .events()
    }
}

fn next(events: &std::sync::mpsc::Receiver<serde_json::Value>, kind: &str) -> serde_json::Value {
    loop {
        let event = events
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {kind} event"));
        if event["event"] == kind {
            return event;
        }
    }
}

fn wait_for(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    eventually("the CI command to end", within, || {
        child.try_wait().unwrap()
    })
}

#[test]
fn three_failing_shards_on_a_runner_are_published_listed_debugged_and_continued() {
    let ci = ci("");
    let mut runner = Running(ci.publish(&["--json"], "120", "3", "test_fail.py").spawn());
    let failures = lines_of(runner.0.stderr.take().unwrap());
    let published = crate::support::json_events(runner.0.stdout.take().unwrap());
    // Within 2 s of each failure line (the shim's), the developer's
    // listing has it.
    let mut listed = Vec::new();
    for count in 1..=3 {
        said_until(&failures, "RemotePdb session open at 127.0.0.1:");
        listed = eventually("the session published", Duration::from_secs(2), || {
            let listed = ci.listed();
            (listed.len() >= count).then_some(listed)
        });
    }
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut tests: Vec<String> = listed
        .iter()
        .map(|e| e["session"]["test"].as_str().unwrap().to_owned())
        .collect();
    tests.sort();
    assert_eq!(
        tests,
        ["1", "2", "3"].map(|n| format!("project/tests/test_fail.py::test_fails[{n}]")),
        "{listed:?}"
    );
    let mut workers: Vec<&str> = listed
        .iter()
        .map(|e| e["session"]["worker"].as_str().unwrap())
        .collect();
    workers.sort_unstable();
    assert_eq!(workers, ["gw0", "gw1", "gw2"], "{listed:?}");
    for event in &listed {
        let session = &event["session"];
        assert_eq!(event["host"], ci.rendezvous.address.to_string());
        assert_eq!(session["published"], true);
        assert_eq!(session["ci_run"], "9001");
        assert_eq!(session["ci_job"], "test");
        let left = session["left_s"].as_u64().unwrap();
        assert!((100..=120).contains(&left), "{event}");
    }
    // Every record has its socket beside it, and only the login user
    // reaches them.
    let files = ci.published_files();
    assert_eq!(files.len(), 6, "{files:?}");
    for name in &files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ci.home.join(".roadie/debug").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is open to others: {mode:o}");
    }
    // Nothing on the runner can be reached from outside.
    let outside = SocketAddr::from((ci.runner.address, 22));
    assert!(TcpStream::connect_timeout(&outside, Duration::from_millis(500)).is_err());
    // The developer side: through its one SSH connection to each.
    let mut watching = Running(
        ci.w.roadie()
            .args(["--json", "debug", "rendezvous", "--interval", "0.2"])
            .spawn(),
    );
    let events = crate::support::json_events(watching.0.stdout.take().unwrap());
    for _ in 0..3 {
        let session = next(&events, "debug_session");
        assert_eq!(session["published"], true, "{session}");
        let mut stream = TcpStream::connect(session["local"].as_str().unwrap()).unwrap();
        socket_until(&mut stream, "(Pdb) ");
        stream.write_all(b"p 1+1\n").unwrap();
        let answer = socket_until(&mut stream, "(Pdb) ");
        assert_eq!(answer.lines().next(), Some("2"), "{answer}");
        stream.write_all(b"c\n").unwrap();
    }
    for _ in 0..3 {
        let ended = next(&events, "debug_session_ended");
        assert!(ended["socket"].as_str().is_some(), "{ended}");
        let unpublished = next(&published, "debug_unpublished");
        assert_eq!(unpublished["how"], "continue", "{unpublished}");
    }
    // The tests failed and carried on: pytest's code is the command's.
    assert_eq!(
        wait_for(&mut runner.0, Duration::from_secs(60)).code(),
        Some(1)
    );
    assert_eq!(ci.published_files(), Vec::<String>::new());
}

#[test]
fn an_unattended_published_session_times_out_and_the_ci_command_exits_with_pytests_code() {
    let ci = ci("");
    let mut runner = Running(ci.publish(&["--json"], "2", "1", "test_fail.py").spawn());
    let published = crate::support::json_events(runner.0.stdout.take().unwrap());
    let first = next(&published, "debug_published");
    assert_eq!(first["timeout"], 2, "{first}");
    let mut watching = Running(
        ci.w.roadie()
            .args(["--json", "debug", "rendezvous", "--interval", "0.2"])
            .spawn(),
    );
    let events = crate::support::json_events(watching.0.stdout.take().unwrap());
    let session = next(&events, "debug_session");
    assert_eq!(session["test"], first["test"], "{session}");
    // Nobody attaches: each of the three waits 2 s, is taken off the
    // rendezvous host, and the developer side is told why it ended.
    let gone = next(&published, "debug_unpublished");
    assert_eq!(gone["how"], "timeout", "{gone}");
    let ended = next(&events, "debug_session_ended");
    assert_eq!(ended["socket"], session["socket"], "{ended}");
    assert_eq!(ended["how"], "timeout", "{ended}");
    let code = wait_for(&mut runner.0, Duration::from_secs(60)).code();
    assert_eq!(code, Some(1), "pytest's code: three tests failed");
    assert_eq!(ci.published_files(), Vec::<String>::new());
}

#[test]
fn a_forward_only_key_publishes_and_is_refused_a_shell() {
    let ci = ci("");
    // The key the runner publishes with (the other tests prove it is
    // enough) runs nothing: stock ssh gets sshd's refusal, not a shell.
    let ssh = Command::new("ip")
        .args(["netns", "exec", &ci.runner.namespace, "ssh"])
        .args(["-i", ci.key.to_str().unwrap(), "-F", "/dev/null"])
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
        .args([
            "-o",
            &format!("UserKnownHostsFile={}", ci.w.known_hosts.display()),
        ])
        .arg(format!("{}@{}", current_user(), ci.rendezvous.address))
        .arg("echo shell")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&ssh.stdout);
    assert_eq!(ssh.status.code(), Some(1), "{said}");
    assert_eq!(said.trim(), "This service allows sftp connections only.");
    // Nor does roadie get one with it.
    let mut command = Command::new("ip");
    command.args([
        "netns",
        "exec",
        &ci.runner.namespace,
        env!("CARGO_BIN_EXE_roadie"),
    ]);
    let ran =
        ci.w.roadie_via(command)
            .args(["--identity", ci.key.to_str().unwrap()])
            .args(["run", "rendezvous", "--", "echo shell"])
            .run();
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(!ran.stdout.contains("shell"), "{ran:?}");
    // And it publishes: a failing test on the runner appears.
    let mut runner = Running(ci.publish(&["--json"], "60", "1", "test_fail.py").spawn());
    let published = crate::support::json_events(runner.0.stdout.take().unwrap());
    next(&published, "debug_published");
}

#[test]
fn publishing_to_a_protected_environment_is_refused_before_anything_is_forwarded() {
    let ci = ci("    protected: true\n");
    let ran = ci
        .publish(&[], "60", "1", "test_fail.py")
        .run_within(Duration::from_secs(60))
        .code(3)
        .stderr_has("protected");
    // Refused before the tests ran, and nothing reached the host.
    assert!(!ran.stdout.contains("failed"), "{ran:?}");
    assert!(!ci.logged_in(), "roadie logged in to the protected host");
    assert_eq!(ci.published_files(), Vec::<String>::new());
}

#[test]
fn passing_tests_or_publishing_off_make_no_connection() {
    let ci = ci("");
    ci.publish(&[], "60", "1", "test_pass.py")
        .run_within(Duration::from_secs(60))
        .code(0)
        .stdout_has("1 passed");
    // Off: the failing tests fail at once, nothing waits or connects.
    let ran = ci
        .publish(&[], "60", "1", "test_fail.py")
        .env("ROADIE_DEBUG_PUBLISH", "0")
        .run_within(Duration::from_secs(60))
        .code(1);
    assert!(ran.stdout.contains("3 failed"), "{ran:?}");
    assert!(!ran.stderr.contains("RemotePdb"), "{ran:?}");
    assert!(!ci.logged_in(), "a connection was made");
}

#[test]
fn the_developer_lists_published_sessions_numbered_and_switches_between_them() {
    let ci = ci("");
    let mut runner = Running(ci.publish(&[], "120", "3", "test_fail.py").spawn());
    // The runner's log tells what to run.
    let told = lines_of(runner.0.stderr.take().unwrap());
    said_until(&told, "`roadie debug rendezvous --attach` reaches it");
    let listing = eventually("three published sessions", Duration::from_secs(60), || {
        let ran =
            ci.w.roadie()
                .args(["debug", "rendezvous", "--once"])
                .run()
                .code(0);
        (ran.stdout.lines().count() == 3).then_some(ran.stdout)
    });
    for (number, line) in listing.lines().enumerate() {
        assert!(line.starts_with(&format!("{}: ", number + 1)), "{listing}");
        assert!(
            line.contains("project/tests/test_fail.py::test_fails["),
            "{line}"
        );
        assert!(line.contains(" on worker gw"), "{line}");
        assert!(line.contains("of run 9001 job test"), "{line}");
        assert!(line.contains("left)"), "{line}");
    }
    let mut roadie = Running(
        ci.w.roadie()
            .args(["debug", "rendezvous", "--attach", "--interval", "0.2"])
            .spawn(),
    );
    let mut stdin = roadie.0.stdin.take().unwrap();
    let said = lines_of(roadie.0.stderr.take().unwrap());
    let out = lines_of(roadie.0.stdout.take().unwrap());
    said_until(&said, "attached to ");
    stdin.write_all(b"p 1+1\n").unwrap();
    said_until(&out, "(Pdb) 2");
    said_until(&said, "another session is waiting: `:switch 2`");
    stdin.write_all(b":switch 2\np 20+2\n").unwrap();
    said_until(&said, "(session 2)");
    said_until(&out, "(Pdb) 22");
    stdin.write_all(b"c\n").unwrap();
    said_until(
        &said,
        "the published session of test project/tests/test_fail.py::test_fails[",
    );
}

#[test]
fn a_lost_rendezvous_connection_is_made_again_and_what_waits_published_again() {
    let ci = ci("");
    let mut runner = Running(ci.publish(&["--json"], "120", "1", "test_fail.py").spawn());
    let published = crate::support::json_events(runner.0.stdout.take().unwrap());
    let first = next(&published, "debug_published");
    // The rendezvous host's sshd drops the runner's connection (its
    // per-connection processes die; the listener stays).
    let sshd = ci.w.servers[0].pid.to_string();
    assert!(
        Command::new("pkill")
            .args(["-KILL", "-P", &sshd])
            .status()
            .unwrap()
            .success()
    );
    let again = next(&published, "debug_published");
    assert_eq!(
        (&again["pid"], &again["test"]),
        (&first["pid"], &first["test"])
    );
    let listed = eventually("the session listed again", Duration::from_secs(10), || {
        let listed = ci.listed();
        (listed.len() == 1).then_some(listed)
    });
    assert_eq!(listed[0]["session"]["test"], first["test"]);
    let mut watching = Running(
        ci.w.roadie()
            .args(["--json", "debug", "rendezvous", "--interval", "0.2"])
            .spawn(),
    );
    let events = crate::support::json_events(watching.0.stdout.take().unwrap());
    let session = next(&events, "debug_session");
    let mut stream = TcpStream::connect(session["local"].as_str().unwrap()).unwrap();
    socket_until(&mut stream, "(Pdb) ");
    stream.write_all(b"p 1+1\n").unwrap();
    assert_eq!(
        socket_until(&mut stream, "(Pdb) ").lines().next(),
        Some("2")
    );
}

#[test]
fn a_session_published_with_stock_ssh_is_reached_the_same_way() {
    let ci = ci("");
    // On the runner: something listening on its loopback, and stock ssh
    // making the same remote forward roadie makes, with the same key.
    let server = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 7299))\ns.listen(1)\n\
                  c, _ = s.accept()\nc.sendall(b'hello from the runner\\n')\nc.close()\n";
    let _listening = Running(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &ci.runner.namespace,
                "python3",
                "-c",
                server,
            ])
            .spawn()
            .unwrap(),
    );
    let dir = ci.home.join(".roadie/debug");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = login_home().join(".roadie/debug/stock-1-7299.sock");
    let _ssh = Running(
        Command::new("ip")
            .args(["netns", "exec", &ci.runner.namespace, "ssh", "-N"])
            .args(["-i", ci.key.to_str().unwrap(), "-F", "/dev/null"])
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args([
                "-o",
                &format!("UserKnownHostsFile={}", ci.w.known_hosts.display()),
            ])
            .arg("-R")
            .arg(format!("{}:127.0.0.1:7299", socket.display()))
            .arg(format!("{}@{}", current_user(), ci.rendezvous.address))
            .spawn()
            .unwrap(),
    );
    eventually("stock ssh's socket", Duration::from_secs(10), || {
        dir.join("stock-1-7299.sock").exists()
    });
    let record = serde_json::json!({
        "socket": socket, "runner": "stock", "pid": 1, "test": "t.py::test_stock",
        "started": 4_000_000_000_u64, "timeout": 0,
    });
    std::fs::write(dir.join("stock-1-7299.json"), record.to_string()).unwrap();
    let mut watching = Running(
        ci.w.roadie()
            .args(["--json", "debug", "rendezvous", "--interval", "0.2"])
            .spawn(),
    );
    let events = crate::support::json_events(watching.0.stdout.take().unwrap());
    let session = next(&events, "debug_session");
    assert_eq!(session["test"], "t.py::test_stock", "{session}");
    assert_eq!(
        session["left_s"],
        serde_json::Value::Null,
        "waits forever: {session}"
    );
    let mut stream = TcpStream::connect(session["local"].as_str().unwrap()).unwrap();
    assert_eq!(socket_until(&mut stream, "\n"), "hello from the runner\n");
}

#[test]
fn the_plugins_roadie_pdb_is_published_as_it_is() {
    let ci = ci("");
    // roadie's Python package from the source tree, its plugin by name.
    let package = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
    let mut runner = Running(
        ci.publish(&["--json"], "600", "1", "test_fail.py")
            .args([
                "-p",
                "roadie.plugin",
                "--roadie-pdb",
                "--roadie-pdb-timeout",
                "45",
            ])
            .env("PYTHONPATH", package)
            .spawn(),
    );
    let published = crate::support::json_events(runner.0.stdout.take().unwrap());
    let first = next(&published, "debug_published");
    // The plugin's own wait, not --wait: it is the plugin that debugs.
    assert_eq!(first["timeout"], 45, "{first}");
    assert_eq!(first["test"], "project/tests/test_fail.py::test_fails[1]");
    assert_eq!(first["worker"], "gw0");
    let listed = eventually("the session listed", Duration::from_secs(10), || {
        let listed = ci.listed();
        (listed.len() == 1).then_some(listed)
    });
    assert_eq!(listed[0]["session"]["test"], first["test"]);
}

#[test]
fn a_cancelled_ci_job_takes_its_sessions_off_the_rendezvous_host() {
    let ci = ci("");
    let mut runner = Running(ci.publish(&["--json"], "120", "1", "test_fail.py").spawn());
    let published = crate::support::json_events(runner.0.stdout.take().unwrap());
    next(&published, "debug_published");
    assert_eq!(ci.published_files().len(), 2);
    // The CI job is cancelled: roadie (under `unshare`) gets SIGTERM.
    let roadie = Command::new("pgrep")
        .args(["-P", &runner.0.id().to_string()])
        .output()
        .unwrap();
    let roadie = String::from_utf8(roadie.stdout).unwrap().trim().to_owned();
    assert!(!roadie.is_empty(), "roadie's process not found");
    assert!(
        Command::new("kill")
            .args(["-TERM", &roadie])
            .status()
            .unwrap()
            .success()
    );
    let gone = next(&published, "debug_unpublished");
    assert_eq!(gone["how"], serde_json::Value::Null, "{gone}");
    // The tests were told (pytest dies of SIGTERM: 128 + 15), and nothing
    // is left on the rendezvous host.
    assert_eq!(
        wait_for(&mut runner.0, Duration::from_secs(30)).code(),
        Some(143)
    );
    assert_eq!(ci.published_files(), Vec::<String>::new());
}
