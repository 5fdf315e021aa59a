//! `roadie run` against real sshd: exit codes, streams, quoting, JSON, sudo.

use crate::support::{World, addr, current_user, eventually, is_root, unprivileged_user};

fn one_host() -> (World, String) {
    World::one_host(2)
}

#[test]
fn exit_code_and_streams_pass_through() {
    let (w, _) = one_host();
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--",
            "echo to-out; echo to-err >&2; exit 3",
        ])
        .run()
        .code(3);
    assert_eq!(ran.stdout, "to-out\n");
    assert_eq!(ran.stderr, "to-err\n");
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(0);
}

#[test]
fn values_with_quotes_and_semicolons_arrive_intact() {
    let (w, _) = one_host();
    let nasty = "it's; echo pwned \"$HOME\" `id` \\ end";
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--env",
            &format!("NASTY={nasty}"),
            "--",
            "printf '%s' \"$NASTY\"",
        ])
        .run()
        .code(0);
    assert_eq!(ran.stdout, nasty);
    // Several words are an argv: each arrives as one argument.
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--",
            "printf",
            "[%s]\\n",
            "a'b; c",
            "$HOME",
            "two words",
        ])
        .run()
        .code(0);
    assert_eq!(ran.stdout, "[a'b; c]\n[$HOME]\n[two words]\n");
    // --cwd is quoted too, and ~/ is the remote home.
    let dir = w.path("dir with 'quote'");
    std::fs::create_dir_all(&dir).unwrap();
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--cwd",
            dir.to_str().unwrap(),
            "--",
            "pwd",
        ])
        .run()
        .code(0);
    assert_eq!(ran.stdout, format!("{}\n", dir.display()));
    let ran = w
        .roadie()
        .args(["run", "staging", "--cwd", "~", "--", "pwd"])
        .run()
        .code(0);
    let home = nix::unistd::User::from_name(&current_user())
        .unwrap()
        .unwrap()
        .dir;
    assert_eq!(ran.stdout, format!("{}\n", home.display()));
    let ran = w
        .roadie()
        .args(["run", "staging", "--env", "1BAD=x", "--", "true"])
        .run()
        .code(2);
    assert_eq!(
        ran.stderr,
        "roadie: error: '1BAD' is not a valid environment variable name (letters, digits and _, not starting with a digit)\n"
    );
}

#[test]
fn json_events_for_a_test_harness() {
    let (w, entry) = one_host();
    let ran = w
        .roadie()
        .args([
            "--json",
            "run",
            "staging",
            "--",
            "echo one; echo two >&2; exit 5",
        ])
        .run()
        .code(5);
    let events = ran.events();
    let mut outputs: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "output")
        .map(|e| (e["stream"].as_str().unwrap(), e["line"].as_str().unwrap()))
        .collect();
    // The two streams may come in either order.
    outputs.sort_unstable();
    assert_eq!(
        outputs,
        [("stderr", "two"), ("stdout", "one")],
        "{events:?}"
    );
    let host = events.iter().find(|e| e["event"] == "host").unwrap();
    assert_eq!(host["host"], entry.as_str());
    assert_eq!(host["status"], "failed");
    assert_eq!(host["exit_code"], 5);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["exit_code"], 5);
}

#[test]
fn timeout_stops_the_command() {
    let (w, _) = one_host();
    w.log_in_as(&unprivileged_user());
    let pid_file = w.shared_dir().join("remote.pid");
    let script = format!("echo $$ > '{}'; exec sleep 60", pid_file.display());
    w.roadie()
        .args(["run", "staging", "--timeout", "1", "--", &script])
        .run()
        .code(124)
        .stderr_has("timed out after 1s");
    assert_remote_process_ends(&pid_file);
}

#[test]
fn several_hosts_that_all_time_out_exit_124() {
    let mut w = World::new();
    let s = w.server(&[addr(71), addr(72)]);
    let entries = w.entries(s);
    w.inventory("staging", &entries, "");
    w.log_in_as(&unprivileged_user());
    w.roadie()
        .args(["run", "staging", "--timeout", "1", "--", "sleep 30"])
        .run()
        .code(124);
    // One fails on its own, the other times out: a plain failure.
    w.roadie()
        .args([
            "run",
            "staging",
            "--timeout",
            "1",
            "--",
            "case \"$SSH_CONNECTION\" in *127.0.0.71*) exit 7;; *) sleep 30;; esac",
        ])
        .run()
        .code(1);
}

/// The remote command (which wrote its pid to `pid_file`) goes away.
fn assert_remote_process_ends(pid_file: &std::path::Path) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    eventually(
        &format!("remote process {} to end", pid.trim()),
        std::time::Duration::from_secs(20),
        || match std::fs::read_to_string(&stat) {
            // Gone, or a zombie: dead, not yet reaped.
            Err(_) => Ok(()),
            Ok(state) if state.contains(") Z ") => Ok(()),
            Ok(state) => Err(state),
        },
    );
}

#[test]
fn ctrl_c_stops_the_remote_command() {
    let (w, _) = one_host();
    w.log_in_as(&unprivileged_user());
    let pid_file = w.shared_dir().join("remote.pid");
    let script = format!(
        "echo $$ > '{}.tmp' && mv '{0}.tmp' '{0}'; exec sleep 60",
        pid_file.display()
    );
    let mut child = w
        .roadie()
        .args(["run", "staging", "--", &script])
        .command
        .spawn()
        .unwrap();
    eventually(
        "the command to start",
        std::time::Duration::from_secs(20),
        || pid_file.exists(),
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_remote_process_ends(&pid_file);
}

#[test]
fn hundred_megabytes_stream_in_constant_memory() {
    use std::io::Read;
    let (w, _) = one_host();
    let mut command = w
        .roadie()
        .args(["run", "staging", "--", "head -c 104857600 /dev/zero"])
        .command;
    command.stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    let (mut total, mut peak_kib) = (0usize, 0u64);
    loop {
        let n = stdout.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        assert!(buffer[..n].iter().all(|b| *b == 0));
        total += n;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(total, 104_857_600);
    assert!(peak_kib > 0, "could not read roadie's memory use");
    assert!(
        peak_kib < 64 * 1024,
        "roadie's peak RSS was {peak_kib} KiB for 100 MiB of output"
    );
}

#[test]
fn closed_stdout_stops_cleanly() {
    use std::io::Read;
    let (w, _) = one_host();
    let mut command = w.roadie().args(["run", "staging", "--", "yes"]).command;
    command.stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut first = [0u8; 4];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout is now closed: roadie must notice and end by itself.
    let status = child.wait().unwrap();
    assert_eq!(&first, b"y\ny\n");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn unknown_target_lists_known_ones_and_bad_inventory_names_line_and_column() {
    let (w, entry) = one_host();
    let ran = w.roadie().args(["run", "prod", "--", "true"]).run().code(2);
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: error: unknown target 'prod': no environment or host of that name (known environments: staging; known hosts: staging/{entry}); a host outside {}/roadie.yaml is given as [user@]host[:port] (ssh_config gives 'prod' no HostName, ProxyCommand or ProxyJump)\n",
            w.dir.path().display()
        )
    );
    w.write(
        "roadie.yaml",
        "environments:\n  staging:\n    hosts: [a]\n    usr: me\n",
    );
    let ran = w
        .roadie()
        .args(["--json", "run", "staging", "--", "true"])
        .run()
        .code(2);
    let events = ran.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "error");
    assert_eq!(events[0]["kind"], "inventory");
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .contains("roadie.yaml:4:5:")
    );
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(2)
        .stderr_has("roadie.yaml:4:5:")
        .stderr_has("usr");
    w.write("roadie.yaml", "environments:\n  staging:\n    hosts: [a\n");
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(2);
    assert!(ran.stderr.contains("roadie.yaml:"), "{}", ran.stderr);
    std::fs::remove_file(w.path("roadie.yaml")).unwrap();
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(2)
        .stderr_has("no roadie.yaml");
}

#[test]
fn inventory_is_found_from_a_subdirectory() {
    let (w, _) = one_host();
    let sub = w.path("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let mut roadie = w.roadie().args(["run", "staging", "--", "echo found"]);
    roadie.command.current_dir(&sub);
    assert_eq!(roadie.run().code(0).stdout, "found\n");
}

#[test]
fn hosts_lists_and_checks() {
    let (w, entry) = one_host();
    let ran = w
        .roadie()
        .args(["--json", "hosts", "staging", "--check"])
        .run()
        .code(0);
    let events = ran.events();
    assert_eq!(events.len(), 1);
    let key = roadie::known_hosts::describe(&w.servers[0].host_key);
    assert_eq!(events[0]["host"], entry.as_str());
    assert_eq!(events[0]["host_key"], key.as_str());
    assert_eq!(events[0]["login"], "ok");
    let ran = w.roadie().args(["hosts", "staging"]).run().code(0);
    // Each line exactly, whatever the columns' widths.
    let lines: Vec<String> = ran
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let identity = w.client_key.display();
    assert_eq!(
        lines,
        [
            "HOST ENV ADDRESS".to_owned(),
            format!("{entry} staging {}@{entry}", current_user()),
            format!("identity {identity}"),
            format!("lock environment-key: only 'staging''s identity {identity} is offered"),
        ],
        "{}",
        ran.stdout
    );
    // A key the server does not accept: the check says so, and still shows the host key.
    let other = w.path("other_key");
    roadie::sandbox::ensure_key(&other, "other").unwrap();
    let ran = w
        .roadie()
        .args([
            "--json",
            "hosts",
            "staging",
            "--check",
            "--identity",
            other.to_str().unwrap(),
        ])
        .run()
        .code(4);
    let events = ran.events();
    assert_eq!(events[0]["host_key"], key.as_str());
    assert_eq!(events[0]["error_kind"], "auth");
}

/// Needs root (to create a user and a sudoers rule) and the sudo package;
/// CI runs as root and installs sudo.
#[test]
fn sudo_fails_fast_without_a_password_and_works_with_one() {
    assert!(is_root(), "this test needs root (CI runs as root)");
    assert!(
        std::path::Path::new("/usr/bin/sudo").exists(),
        "install sudo (apt-get install sudo)"
    );
    let user = "roadie-sudo-test";
    let hashed = crate::support::sh("openssl", &["passwd", "-6", "s3cret pass"], &[]);
    crate::support::ensure_user(user, Some(hashed.trim()));
    std::fs::write(
        "/etc/sudoers.d/roadie-sudo-test",
        format!("{user} ALL=(ALL) ALL\n"),
    )
    .unwrap();
    let (w, _) = one_host();
    w.log_in_as(user);
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "id -un"])
        .run()
        .code(0);
    assert_eq!(ran.stdout, format!("{user}\n"));
    w.roadie()
        .args(["run", "staging", "--sudo", "--", "id -u"])
        .run()
        .code(1)
        .stderr_has("sudo needs a password")
        .stderr_has("ROADIE_SUDO_PASSWORD");
    let ran = w
        .roadie()
        .args(["run", "staging", "--sudo", "--", "id -u; cat"])
        .env("ROADIE_SUDO_PASSWORD", "s3cret pass")
        .run()
        .code(0);
    // Root, and the password never reaches the command's stdin.
    assert_eq!(ran.stdout, "0\n");
    sudo_leaves_nothing_running_or_behind(&w);
    // A sudo step of a task that applies the server's .env: the password
    // goes to sudo, the script (with the secrets) to the shell, via stdin.
    let site = w.shared_dir();
    std::fs::write(
        site.join(".env"),
        "GREETING='hello there'\nAPI_TOKEN=t0ken\n",
    )
    .unwrap();
    std::fs::create_dir_all(w.path("playbooks")).unwrap();
    w.write(
        "playbooks/admin.yaml",
        &format!(
            "env_file: {}/.env\ntasks:\n  whoami:\n    class: change\n    steps:\n      - run: 'id -u; echo \"$GREETING\"; cat'\n        sudo: true\n",
            site.display()
        ),
    );
    let ran = w
        .roadie()
        .args(["task", "staging", "whoami"])
        .env("ROADIE_SUDO_PASSWORD", "s3cret pass")
        .run()
        .code(0);
    assert_eq!(ran.stdout, "0\nhello there\n");
    w.roadie()
        .args(["run", "staging", "--sudo", "--", "id -u"])
        .env("ROADIE_SUDO_PASSWORD", "wrong")
        .run()
        .code(1)
        .stderr_has("rejected the password");
    // A wrong password with secrets on stdin: sudo never reads the script.
    let ran = w
        .roadie()
        .args(["task", "staging", "whoami"])
        .env("ROADIE_SUDO_PASSWORD", "wrong")
        .run()
        .code(1)
        .stderr_has("rejected the password");
    assert!(!ran.stderr.contains("t0ken"), "{}", ran.stderr);
    // `~` under sudo is still the login user's home.
    let home = format!("/home/{user}");
    let ran = w
        .roadie()
        .args(["run", "staging", "--sudo", "--cwd", "~", "--", "id -u; pwd"])
        .env("ROADIE_SUDO_PASSWORD", "s3cret pass")
        .run()
        .code(0);
    assert_eq!(ran.stdout, format!("0\n{home}\n"));
    // When sudo does not ask (NOPASSWD), an unneeded password is still
    // never run or printed as part of the script.
    std::fs::write(
        "/etc/sudoers.d/roadie-sudo-test",
        format!("{user} ALL=(ALL) NOPASSWD: ALL\n"),
    )
    .unwrap();
    let ran = w
        .roadie()
        .args(["task", "staging", "whoami"])
        .env("ROADIE_SUDO_PASSWORD", "$(echo INJECTED) s3cret")
        .run();
    std::fs::remove_file("/etc/sudoers.d/roadie-sudo-test").unwrap();
    let ran = ran.code(0);
    assert_eq!(ran.stdout, "0\nhello there\n");
    assert!(
        !ran.stderr.contains("s3cret") && !ran.stderr.contains("INJECTED"),
        "{}",
        ran.stderr
    );
}

/// With sudo: watching a command's memory leaves nothing behind in /tmp,
/// and a timeout stops the command (sudo passes sshd's signal on).
fn sudo_leaves_nothing_running_or_behind(w: &World) {
    // Watching a sudo command's memory leaves nothing behind in /tmp.
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--sudo",
            "--watch-memory",
            "--",
            "echo $$; sleep 0.5",
        ])
        .env("ROADIE_SUDO_PASSWORD", "s3cret pass")
        .run()
        .code(0);
    let shell = ran.stdout.lines().next().unwrap().trim().to_owned();
    for entry in std::fs::read_dir("/tmp").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".roadie-watch-") {
            let pid = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert_ne!(pid, shell, "{name} left behind: {ran:?}");
        }
    }
    let pid_file =
        std::path::PathBuf::from(format!("/tmp/roadie-sudo-stop-{}", std::process::id()));
    let script = format!("echo $$ > {}; exec sleep 300", pid_file.display());
    times_out_and_is_gone(w, &["--sudo"], &pid_file, &script);
}

/// Start `script` (which writes its shell's pid to `pid_file`, then stays
/// quiet) with `--timeout 1` and `extra` arguments; insist that it times out
/// and that its process is then gone on the server.
fn times_out_and_is_gone(w: &World, extra: &[&str], pid_file: &std::path::Path, script: &str) {
    let ran = w
        .roadie()
        .args(["run", "staging", "--timeout", "1"])
        .args(extra)
        .args(["--", script])
        .env("ROADIE_SUDO_PASSWORD", "s3cret pass")
        .run()
        .code(124);
    let pid: u32 = std::fs::read_to_string(pid_file)
        .unwrap_or_else(|e| panic!("{e}: {ran:?}"))
        .trim()
        .parse()
        .unwrap();
    let _ = std::fs::remove_file(pid_file);
    eventually(
        &format!("the command to end after the timeout ({extra:?})"),
        std::time::Duration::from_secs(30),
        || !std::path::Path::new(&format!("/proc/{pid}")).exists(),
    );
}

#[test]
fn a_timeout_stops_a_quiet_command_even_for_a_root_login() {
    // sshd refuses signal requests for root logins: roadie ends the
    // command's processes itself. (As another user, sshd's signal does it.)
    let (w, _) = one_host();
    let pid_file = w.path("quiet.pid");
    let script = format!("echo $$ > {}; exec sleep 300", pid_file.display());
    times_out_and_is_gone(&w, &[], &pid_file, &script);
}
