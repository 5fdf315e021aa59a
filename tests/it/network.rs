//! Reaching hosts: many at once, through a jump host, and every way a host can
//! fail to answer. None of these may hang.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::Stdio;

use crate::support::{World, addr};

#[test]
fn fifty_hosts_at_once_each_answers_for_itself() {
    let mut w = World::new();
    let addresses: Vec<_> = (10..60).map(addr).collect();
    let entries = w.servers_for(&addresses);
    w.inventory("fleet", &entries, "");
    // SSH_CONNECTION names the server address the session arrived on.
    let ran = w
        .roadie()
        .args([
            "run",
            "fleet",
            "--",
            "echo \"$SSH_CONNECTION\" | cut -d' ' -f3",
        ])
        .run()
        .code(0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 50, "{}", ran.stdout);
    for entry in &entries {
        let ip = entry.split(':').next().unwrap();
        assert!(
            lines.contains(&format!("[{entry}] {ip}").as_str()),
            "no line for {entry}:\n{}",
            ran.stdout
        );
    }
    assert!(
        ran.stderr.contains("50 hosts: 50 ok, 0 failed, 0 errors"),
        "{}",
        ran.stderr
    );
}

#[test]
fn one_failing_host_never_hides_or_stops_the_others() {
    let mut w = World::new();
    let s = w.server(&[addr(20), addr(21)]);
    let mut entries = w.entries(s);
    // A third host where nothing listens.
    let dead = TcpListener::bind((addr(22), 0)).unwrap();
    let dead_entry = format!("{}", dead.local_addr().unwrap());
    drop(dead);
    entries.push(dead_entry.clone());
    w.inventory("mixed", &entries, "");
    let ip_of_first = entries[0].split(':').next().unwrap().to_owned();
    let script = format!(
        "if echo \"$SSH_CONNECTION\" | grep -q ' {ip_of_first} '; then exit 7; else echo fine; fi"
    );
    let ran = w
        .roadie()
        .args(["--json", "run", "mixed", "--", &script])
        .run()
        .code(1);
    let events = ran.events();
    let host = |entry: &str| {
        events
            .iter()
            .find(|e| e["event"] == "host" && e["host"] == entry)
            .unwrap()
            .clone()
    };
    assert_eq!(host(&entries[0])["status"], "failed");
    assert_eq!(host(&entries[0])["exit_code"], 7);
    assert_eq!(host(&entries[1])["status"], "ok");
    let dead = host(&dead_entry);
    assert_eq!(dead["status"], "error");
    assert_eq!(dead["error_kind"], "connect");
    assert!(
        dead["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{dead}"
    );
    // The human summary names every host too.
    let ran = w
        .roadie()
        .args(["run", "mixed", "--", &script])
        .run()
        .code(1);
    for entry in &entries {
        assert!(
            ran.stderr.contains(entry.as_str()),
            "{entry} missing:\n{}",
            ran.stderr
        );
    }
    assert!(
        ran.stderr
            .lines()
            .any(|l| l == "3 hosts: 1 ok, 1 failed, 1 error"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_port_that_never_answers_times_out() {
    let w = World::new();
    // Accepts TCP (the kernel does) but never speaks SSH.
    let silent = TcpListener::bind((addr(23), 0)).unwrap();
    let entry = silent.local_addr().unwrap().to_string();
    w.inventory("silent", std::slice::from_ref(&entry), "");
    w.roadie()
        .args(["run", "silent", "--connect-timeout", "1", "--", "true"])
        .run()
        .code(4)
        .stderr_has(&entry)
        .stderr_has("no answer within 1s");
    drop(silent);
}

#[test]
fn sshd_dying_mid_command_is_reported_not_hung() {
    let mut w = World::new();
    let s = w.server(&[addr(24)]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let mut command = w
        .roadie()
        .args(["run", "staging", "--", "echo started; sleep 60"])
        .command;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    w.servers[s].kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("connection lost") && stderr.contains(&entry),
        "{stderr}"
    );
}

#[test]
fn proxy_jump_through_a_second_sshd() {
    let mut w = World::new();
    // The jump host logs at DEBUG so the forwarding it did can be seen.
    let jump = w.server_with(&[addr(30)], &["LogLevel DEBUG1"]);
    let target = w.server(&[addr(31)]);
    let jump_entry = w.entries(jump)[0].clone();
    let target_entry = w.entries(target)[0].clone();
    let jump_port = jump_entry.split_once(':').unwrap().1.to_owned();
    let (target_ip, target_port) = target_entry.split_once(':').unwrap();
    let config = w.jump_config(jump, target, &w.known_hosts);
    w.inventory("staging", &["target".to_owned()], "");
    w.run_with_config(&config, "echo through")
        .run()
        .code(0)
        .stdout_has("through");
    let jump_log = std::fs::read_to_string(&w.servers[jump].log).unwrap();
    assert!(
        jump_log.contains(&format!("to {target_ip} port {target_port}")),
        "the jump host did not forward to the target:\n{jump_log}"
    );
    let ran = w
        .roadie()
        .args(["-F", config.to_str().unwrap(), "--json", "hosts", "staging"])
        .run()
        .code(0);
    assert_eq!(
        ran.events()[0]["via"][0].as_str().unwrap(),
        format!("{}@{jump_entry}", crate::support::current_user())
    );
    // A jump host that refuses us is named in the error.
    let bad = w.write(
        "ssh_config_bad",
        &std::fs::read_to_string(&config)
            .unwrap()
            .replace(&format!("Port {jump_port}"), "Port 1"),
    );
    w.roadie()
        .args(["-F", bad.to_str().unwrap(), "run", "staging", "--", "true"])
        .run()
        .code(4)
        .stderr_has("through jump host hop");
}

#[test]
fn a_jump_host_that_cannot_reach_the_target_says_so_in_roadies_words() {
    let mut w = World::new();
    let jump = w.server(&[addr(36)]);
    let target = w.server(&[addr(37)]);
    let config = w.jump_config(jump, target, &w.known_hosts);
    w.servers[target].kill();
    w.inventory("staging", &["target".to_owned()], "");
    let ran = w
        .roadie()
        .args([
            "-F",
            config.to_str().unwrap(),
            "run",
            "staging",
            "--",
            "true",
        ])
        .run()
        .code(4)
        .stderr_has("through jump host hop")
        .stderr_has("nothing accepts connections there");
    assert!(
        !ran.stderr.contains("Failed to open channel"),
        "{}",
        ran.stderr
    );
}

#[test]
fn unanswered_keepalives_are_named_as_the_reason_the_connection_ended() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    w.write(
        "ssh_config",
        "Host *\n    ServerAliveInterval 1\n    ServerAliveCountMax 2\n",
    );
    let mut child = w
        .roadie()
        .args([
            "-F",
            "ssh_config",
            "run",
            "staging",
            "--",
            "echo started; sleep 60",
        ])
        .spawn();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("started") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "roadie ended early"
        );
    }
    host.unplug();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("no answer to 2 keepalives in 2s"),
        "{stderr}"
    );
    assert!(!stderr.contains("the connection closed"), "{stderr}");
}
