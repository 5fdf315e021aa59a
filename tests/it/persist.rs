//! Kept connections (`--persist`): reuse across invocations, with host keys
//! and safeguards still judged per invocation; stale holders replaced.

use std::os::unix::fs::PermissionsExt;

use crate::support::{World, addr, eventually};

/// How long a holder or command may take to come or go: generous, as the
/// tests check that it happens, not how fast.
const GENEROUS: std::time::Duration = std::time::Duration::from_secs(60);

/// The process id of the sshd session a command ran under: the same for
/// two commands only when they ran on one SSH connection.
fn connection_of(w: &World, extra: &[&str]) -> String {
    let ran = w
        .roadie()
        .args(extra)
        .args(["run", "staging", "--", "echo $PPID"])
        .run()
        .code(0);
    ran.stdout.trim().to_owned()
}

fn holders(w: &World) -> Vec<serde_json::Value> {
    w.roadie()
        .args(["persist", "status", "--json"])
        .run()
        .code(0)
        .events()
}

fn one_kept_host(keep: &str) -> World {
    let mut w = World::new();
    let s = w.server(&[addr(30)]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", &[entry], &format!("    persist: {keep}\n"));
    w
}

#[test]
fn later_invocations_reuse_the_kept_connection_until_stopped() {
    let w = one_kept_host("60s");
    let first = connection_of(&w, &[]);
    let second = connection_of(&w, &[]);
    assert_eq!(first, second, "the second run logged in again");
    // --persist 0 on the command line wins: a connection of its own.
    assert_ne!(connection_of(&w, &["--persist", "0"]), first);

    let kept = holders(&w);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["running"], true);
    assert_eq!(kept[0]["host"], w.entries(0)[0].as_str());
    let pid = kept[0]["pid"].as_u64().unwrap();

    // Private: the directory 0700, the socket 0600.
    let dir = w.path("run").join("roadie");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let socket = std::path::PathBuf::from(kept[0]["socket"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );

    w.roadie()
        .args(["persist", "stop", "staging"])
        .run()
        .code(0)
        .stdout_has("stopped");
    assert!(!pid_alive(pid), "the holder still runs after stop");
    assert!(holders(&w).is_empty());
    assert_ne!(connection_of(&w, &[]), first, "reused a stopped connection");
    w.roadie().args(["persist", "stop"]).run().code(0);
}

fn pid_alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Every SHA256 fingerprint recorded in `known_hosts`.
fn fingerprints(known_hosts: &std::path::Path) -> Vec<String> {
    let listed = crate::support::sh("ssh-keygen", &["-lf", known_hosts.to_str().unwrap()], &[]);
    listed
        .split_whitespace()
        .filter(|word| word.starts_with("SHA256:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn each_invocation_judges_the_kept_servers_key_itself() {
    let w = one_kept_host("60s");
    let first = connection_of(&w, &[]);
    let holder = holders(&w)[0]["pid"].clone();

    // The server's key is now pinned under a protected environment: a
    // change is refused before anything runs, kept connection or not.
    let inventory = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    let pins = fingerprints(&w.known_hosts).join(", ");
    w.write(
        "roadie.yaml",
        &format!(
            "{inventory}  production:\n    hosts: [\"production.example.invalid\"]\n    protected: true\n    host_keys: [{pins}]\n"
        ),
    );
    let refused = w
        .roadie()
        .args(["run", "staging", "--", "echo ran"])
        .run()
        .code(3)
        .stderr_has("pinned-host-key");
    assert!(!refused.stdout.contains("ran"), "{}", refused.stdout);

    // A known_hosts that no longer vouches for the key: refused too,
    // although the holder verified it when it connected.
    w.write("roadie.yaml", &inventory);
    let known = std::fs::read_to_string(&w.known_hosts).unwrap();
    std::fs::write(&w.known_hosts, "").unwrap();
    w.roadie()
        .args(["run", "staging", "--", "echo ran"])
        .run()
        .code(4)
        .stderr_has("host key not known");

    // Vouched for again: the same kept connection serves.
    std::fs::write(&w.known_hosts, known).unwrap();
    assert_eq!(connection_of(&w, &[]), first);
    assert_eq!(holders(&w)[0]["pid"], holder);
    w.roadie().args(["persist", "stop"]).run().code(0);
}

#[test]
fn a_dead_holder_or_server_is_replaced_and_an_idle_holder_exits() {
    let mut w = one_kept_host("2s");
    let first = connection_of(&w, &[]);
    let pid = holders(&w)[0]["pid"].as_u64().unwrap();

    // The holder killed outright: its socket is left behind, unanswered.
    crate::support::sh("kill", &["-KILL", &pid.to_string()], &[]);
    eventually("the killed holder to go", GENEROUS, || !pid_alive(pid));
    let second = connection_of(&w, &[]);
    assert_ne!(second, first);
    let replacement = holders(&w)[0]["pid"].as_u64().unwrap();
    assert_ne!(replacement, pid);

    // The server restarted under the holder: the next run logs in anew.
    w.restart(0);
    let third = connection_of(&w, &[]);
    assert_ne!(third, second);

    // Nothing uses it for its idle time: it exits and cleans up.
    let last = holders(&w)[0]["pid"].as_u64().unwrap();
    eventually("the idle holder to exit", GENEROUS, || !pid_alive(last));
    assert!(holders(&w).is_empty(), "{:?}", holders(&w));
    assert!(!pid_alive(replacement));
}

#[test]
fn commands_files_and_signals_behave_the_same_through_a_kept_connection() {
    let w = one_kept_host("60s");
    let local = w.write("payload.txt", "kept and carried\n");
    for persist in ["0", "60s"] {
        let roadie = || w.roadie().args(["--persist", persist]);
        let dir = format!("/tmp/roadie-persist-{persist}-{}", std::process::id());
        roadie()
            .args(["run", "staging", "--", &format!("mkdir -p {dir}")])
            .run()
            .code(0);
        roadie()
            .args(["put", "staging", local.to_str().unwrap(), &dir])
            .run()
            .code(0);
        let ran = roadie()
            .args([
                "run",
                "staging",
                "--env",
                "GREETING=it's here",
                "--",
                &format!("cat {dir}/payload.txt; echo \"$GREETING\"; echo err >&2; exit 7"),
            ])
            .run()
            .code(7);
        assert_eq!(
            ran.stdout, "kept and carried\nit's here\n",
            "persist {persist}"
        );
        assert_eq!(ran.stderr, "err\n", "persist {persist}");
        let back = w.path(&format!("back-{persist}"));
        std::fs::create_dir_all(&back).unwrap();
        roadie()
            .args([
                "get",
                "staging",
                &format!("{dir}/payload.txt"),
                back.to_str().unwrap(),
            ])
            .run()
            .code(0);
        let fetched = walk(&back);
        assert_eq!(
            fetched,
            vec!["kept and carried\n".to_owned()],
            "persist {persist}"
        );
        // A command killed by a signal reports it the same way.
        let killed = roadie()
            .args(["run", "staging", "--", "kill -TERM $$"])
            .run();
        assert_eq!(killed.code, 143, "persist {persist}: {killed:?}");
        roadie()
            .args(["run", "staging", "--", &format!("rm -r {dir}")])
            .run()
            .code(0);
    }
    w.roadie().args(["persist", "stop"]).run().code(0);
}

/// The contents of every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(std::fs::read_to_string(path).unwrap());
        }
    }
    found
}

#[test]
fn invocations_starting_together_share_one_holder() {
    let w = one_kept_host("60s");
    let started: Vec<_> = (0..4)
        .map(|_| {
            w.roadie()
                .args(["run", "staging", "--", "echo $PPID"])
                .spawn()
        })
        .collect();
    let connections: Vec<String> = started
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    assert!(
        connections.iter().all(|c| *c == connections[0]),
        "{connections:?}"
    );
    assert_eq!(holders(&w).len(), 1);
    w.roadie().args(["persist", "stop"]).run().code(0);
}

#[test]
fn a_kept_connection_through_a_jump_host_judges_the_jump_hosts_key_too() {
    let mut w = World::new();
    let jump = w.server(&[addr(32)]);
    let target = w.server(&[addr(33)]);
    let hop_known = w.path("hop_known_hosts");
    std::fs::copy(&w.known_hosts, &hop_known).unwrap();
    let config = w.jump_config(jump, target, &hop_known);
    w.inventory("staging", &["target".to_owned()], "    persist: 60s\n");
    let via = ["-F", config.to_str().unwrap()];
    let first = connection_of(&w, &via);
    assert_eq!(connection_of(&w, &via), first);
    // The jump host's key is no longer vouched for: refused, kept or not.
    std::fs::write(&hop_known, "").unwrap();
    w.roadie()
        .args(via)
        .args(["run", "staging", "--", "true"])
        .run()
        .code(4)
        .stderr_has("through jump host hop")
        .stderr_has("host key not known");
    w.roadie().args(["persist", "stop"]).run().code(0);
}

#[test]
fn a_command_whose_caller_was_killed_does_not_run_on_in_the_holder() {
    let w = one_kept_host("60s");
    connection_of(&w, &[]);
    let pid_file = format!("/tmp/roadie-persist-orphan-{}", std::process::id());
    let mut caller = w
        .roadie()
        .args([
            "run",
            "staging",
            "--",
            &format!("echo $$ > {pid_file}; while :; do echo tick; sleep 0.1; done"),
        ])
        .spawn();
    eventually("the command to start", GENEROUS, || {
        std::fs::read_to_string(&pid_file).is_ok_and(|p| p.ends_with('\n'))
    });
    let remote: u64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    caller.kill().unwrap();
    caller.wait().unwrap();
    eventually("the orphaned command to end", GENEROUS, || {
        !pid_alive(remote)
    });
    let _ = std::fs::remove_file(&pid_file);
    assert_eq!(holders(&w).len(), 1, "the holder went too");
    w.roadie().args(["persist", "stop"]).run().code(0);
}

#[test]
fn a_holder_keeps_no_descriptor_of_its_caller() {
    let w = one_kept_host("60s");
    // The caller's stdout also open as descriptor 3 (no close-on-exec), as a
    // test runner's pipes can be: reading it must end when roadie ends.
    let script = format!(
        "exec 3>&1; exec '{}' run staging -- echo fine",
        env!("CARGO_BIN_EXE_roadie")
    );
    let child = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(w.dir.path())
        .env("HOME", &w.home)
        .env("XDG_RUNTIME_DIR", w.path("run"))
        .env_remove("ROADIE_PERSIST")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let out = finished
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the caller's pipe stayed open: the holder inherited it")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fine\n");
    assert_eq!(holders(&w).len(), 1);
    w.roadie().args(["persist", "stop"]).run().code(0);
}

/// What each thread of process `pid` waits in, as the kernel names it
/// (`anon_pipe_write`, or `pipe_write` on older kernels, for a full pipe).
fn waits_of(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("wchan")).ok())
        .collect()
}

#[test]
fn a_client_that_stops_reading_holds_up_no_other_invocation() {
    let w = one_kept_host("60s");
    connection_of(&w, &[]);
    // Its stdout is never read: once the pipe is full, it stops reading the
    // channel, and the server keeps sending.
    let mut stalled = w
        .roadie()
        .args(["run", "staging", "--", "head -c 300000000 /dev/zero"])
        .spawn();
    eventually("the stalled client's stdout to fill", GENEROUS, || {
        let waits = waits_of(stalled.id());
        if waits.iter().any(|w| w.ends_with("pipe_write")) {
            Ok(())
        } else {
            Err(waits)
        }
    });
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "echo still served"])
        .run_within(std::time::Duration::from_secs(60))
        .code(0);
    assert_eq!(ran.stdout, "still served\n");
    stalled.kill().unwrap();
    stalled.wait().unwrap();
    w.roadie().args(["persist", "stop"]).run().code(0);
}

#[test]
fn a_hung_holder_is_replaced_and_then_leaves_its_successor_alone() {
    let w = one_kept_host("60s");
    let first = connection_of(&w, &[]);
    let hung = holders(&w)[0]["pid"].as_u64().unwrap();
    crate::support::sh("kill", &["-STOP", &hung.to_string()], &[]);
    // It accepts nothing: after the connect timeout it is set aside.
    let second = connection_of(&w, &["--connect-timeout", "2"]);
    assert_ne!(second, first);
    let successor = holders(&w)[0]["pid"].as_u64().unwrap();
    assert_ne!(successor, hung);
    // Woken, the old one sees it was replaced, and goes without touching
    // its successor's socket or record.
    crate::support::sh("kill", &["-CONT", &hung.to_string()], &[]);
    eventually("the replaced holder to exit", GENEROUS, || !pid_alive(hung));
    let kept = holders(&w);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["pid"].as_u64(), Some(successor));
    assert_eq!(connection_of(&w, &[]), second);
    w.roadie().args(["persist", "stop"]).run().code(0);
}
