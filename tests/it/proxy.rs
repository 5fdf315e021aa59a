//! `ProxyCommand` (ssh_config, and `proxy_command:` in roadie.yaml): real
//! sshd reached through `nc` and through a relay script, stock `ssh` given
//! the same config, and the command's end, its stderr and its process group
//! bounded as roadie's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use roadie::known_hosts::fingerprint;
use roadie::sandbox::known_hosts_line;

use crate::support::{World, addr, current_user, eventually};

/// How long a process may take to go: generous, as the tests check that it
/// goes, not how fast.
const GENEROUS: Duration = Duration::from_secs(30);

/// A known_hosts line recording server `index`'s key under `name`.
fn known_as(w: &World, index: usize, name: &str) -> String {
    let server = &w.servers[index];
    let line = known_hosts_line(server.addresses[0], server.port, &server.host_key).unwrap();
    format!("{name} {}\n", line.split_once(' ').unwrap().1)
}

fn append(path: &Path, text: &str) {
    let mut all = std::fs::read_to_string(path).unwrap_or_default();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

/// `(address, port)` of server `index`.
fn place(w: &World, index: usize) -> (String, u16) {
    let server = &w.servers[index];
    (server.addresses[0].to_string(), server.port)
}

/// Stock `ssh -F config` to `host`, with the world's key and known_hosts
/// only, running `command`.
fn stock_ssh(w: &World, config: &Path, host: &str, command: &str) -> Command {
    let mut ssh = Command::new("ssh");
    ssh.current_dir(w.dir.path())
        .arg("-F")
        .arg(config)
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .args(["-o", "GlobalKnownHostsFile=none", "-i"])
        .arg(&w.client_key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", w.known_hosts.display()))
        .args(["-l", &current_user(), host, command])
        .stdin(Stdio::null());
    ssh
}

fn output_of(mut command: Command) -> (i32, String, String) {
    let out = command.output().expect("ssh (openssh-client)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An ssh_config where `name` is server `index`, reached through `nc` once
/// the shell has run `first` (recording its pid, say).
fn nc_config(w: &World, index: usize, name: &str, first: &str) -> PathBuf {
    let (ip, port) = place(w, index);
    w.write(
        "ssh_config",
        &format!(
            "Host {name}\n  HostName {ip}\n  Port {port}\n  \
             ProxyCommand sh -c '{first}; exec nc %h %p'\n"
        ),
    )
}

/// `roadie -F config --json hosts staging`: one object per host.
fn hosts_json(w: &World, config: &Path) -> Vec<serde_json::Value> {
    w.roadie()
        .args(["-F", config.to_str().unwrap(), "--json", "hosts", "staging"])
        .run()
        .code(0)
        .events()
}

/// Is process `pid` gone (or only a zombie waiting to be reaped)?
fn gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| stat.contains(") Z "))
}

/// The pid a proxy command wrote to `file`, once it has.
fn pid_in(file: &Path) -> String {
    eventually("the proxy command to write its pid", GENEROUS, || {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
            .filter(|pid| !pid.is_empty())
    })
}

/// A relay like a bastion's: knows internal names the local resolver does
/// not, and carries bytes between stdin/stdout and the server.
fn relay_script(w: &World, name: &str, address: &str) -> PathBuf {
    w.write(
        "relay.py",
        &format!(
            r#"import os, socket, sys, threading
internal = {{"{name}": "{address}"}}
server = socket.create_connection((internal[sys.argv[1]], int(sys.argv[2])))
sys.stderr.write("relay: carrying %s port %s\n" % (sys.argv[1], sys.argv[2]))
sys.stderr.flush()
def up():
    while data := os.read(0, 65536):
        server.sendall(data)
    server.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := server.recv(65536):
    os.write(1, data)
"#
        ),
    )
}

#[test]
fn an_sshd_reached_through_nc_and_through_a_relay_script_as_with_stock_ssh() {
    let mut w = World::new();
    let s = w.server(&[addr(161)]);
    let (ip, port) = place(&w, s);
    let relay = relay_script(&w, "db.internal.invalid", &ip);
    // Known under the relayed name only: ssh checks the key under the host
    // name it was given, not the address the relay reached.
    append(
        &w.known_hosts,
        &known_as(&w, s, &format!("[db.internal.invalid]:{port}")),
    );
    let config = w.write(
        "ssh_config",
        &format!(
            "Host via-nc\n  HostName {ip}\n  Port {port}\n  ProxyCommand nc %h %p\n\
             Host via-relay\n  HostName db.internal.invalid\n  Port {port}\n  \
             ProxyCommand python3 {} %h %p\n",
            relay.display()
        ),
    );
    w.inventory("staging", &["via-nc".into(), "via-relay".into()], "");
    let ran = w
        .run_with_config(&config, "echo reached $((40 + 2))")
        .run()
        .code(0)
        .stderr_has(&format!(
            "[via-relay] relay: carrying db.internal.invalid port {port}"
        ));
    assert_eq!(ran.stdout.matches("reached 42").count(), 2, "{ran:?}");
    for host in ["via-nc", "via-relay"] {
        let (code, stdout, stderr) = output_of(stock_ssh(&w, &config, host, "echo reached"));
        assert_eq!(
            (code, stdout.trim()),
            (0, "reached"),
            "ssh {host}: {stderr}"
        );
    }
    // hosts shows the command as it runs, tokens expanded.
    let events = hosts_json(&w, &config);
    assert_eq!(events[0]["proxy_command"], format!("nc {ip} {port}"));
    assert_eq!(
        events[1]["proxy_command"],
        format!("python3 {} db.internal.invalid {port}", relay.display())
    );
}

#[test]
fn proxy_command_in_roadie_yaml_wins_over_ssh_config() {
    let mut w = World::new();
    let s = w.server(&[addr(162)]);
    let (ip, port) = place(&w, s);
    // ssh_config sends the host through a jump host that does not exist;
    // roadie.yaml's command replaces it, as `ssh -o ProxyCommand=` does.
    let config = w.write(
        "ssh_config",
        &format!("Host {ip}\n  ProxyJump nobody@127.0.0.1:1\n"),
    );
    let starts = w.path("starts");
    w.inventory(
        "staging",
        &[format!("{ip}:{port}")],
        &format!(
            "    proxy_command: \"sh -c 'echo started >> {}; exec nc %h %p'\"\n",
            starts.display()
        ),
    );
    w.run_with_config(&config, "echo via yaml")
        .run()
        .code(0)
        .stdout_has("via yaml");
    assert_eq!(std::fs::read_to_string(&starts).unwrap(), "started\n");
    // A token ssh does not expand there is an error naming its place.
    w.inventory(
        "staging",
        &[format!("{ip}:{port}")],
        "    proxy_command: \"nc %h %d\"\n",
    );
    w.run_with_config(&config, "true")
        .run()
        .code(2)
        .stderr_has("roadie.yaml:7:")
        .stderr_has("unknown token %d");
}

#[test]
fn proxy_command_tokens_and_host_key_alias_as_stock_ssh_uses_them() {
    let mut w = World::new();
    let s = w.server(&[addr(163)]);
    let other = w.server(&[addr(164)]);
    let (ip, port) = place(&w, s);
    let args = w.write(
        "logargs",
        "#!/bin/sh\nout=$1\nshift\nfor a in \"$@\"; do printf '%s|' \"$a\"; done > \"$out\"\nexec nc \"$1\" \"$2\"\n",
    );
    std::fs::set_permissions(&args, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let user = current_user();
    // The key is known under the alias (lowercased, as ssh does) only.
    append(&w.known_hosts, &known_as(&w, s, "staging-key"));
    append(&w.known_hosts, &known_as(&w, other, "other-key"));
    let config = w.write(
        "ssh_config",
        &format!(
            "Host Web-Alias Wrong-Alias\n  HostName {ip}\n  Port {port}\n  User {user}\n  \
             ProxyCommand {} \"$ARGS_OUT\" %h %p %r %n %k %% 'a  b'\n\
             Host Web-Alias\n  HostKeyAlias Staging-KEY\nHost Wrong-Alias\n  HostKeyAlias other-key\n",
            args.display()
        ),
    );
    w.inventory("staging", &["Web-Alias".into()], "");
    w.run_with_config(&config, "echo aliased")
        .env("ARGS_OUT", w.path("roadie.args"))
        .run()
        .code(0)
        .stdout_has("aliased");
    let mut ssh = stock_ssh(&w, &config, "Web-Alias", "echo aliased");
    ssh.env("ARGS_OUT", w.path("ssh.args"));
    let (code, stdout, stderr) = output_of(ssh);
    assert_eq!((code, stdout.trim()), (0, "aliased"), "{stderr}");
    let roadie_args = std::fs::read_to_string(w.path("roadie.args")).unwrap();
    assert_eq!(
        roadie_args,
        format!("{ip}|{port}|{user}|Web-Alias|staging-key|%|a  b|")
    );
    assert_eq!(
        roadie_args,
        std::fs::read_to_string(w.path("ssh.args")).unwrap()
    );
    // ssh -G prints the command as written; roadie hosts as it runs.
    let (code, view, _) = output_of({
        let mut g = Command::new("ssh");
        g.arg("-G").arg("-F").arg(&config).arg("Web-Alias");
        g
    });
    assert_eq!(code, 0);
    let written = view
        .lines()
        .find_map(|l| l.strip_prefix("proxycommand "))
        .unwrap();
    let expanded = written
        .replace("%h", &ip)
        .replace("%p", &port.to_string())
        .replace("%r", &user)
        .replace("%n", "Web-Alias")
        .replace("%k", "staging-key")
        .replace("%%", "%");
    assert_eq!(
        hosts_json(&w, &config)[0]["proxy_command"],
        expanded.as_str()
    );
    // Under an alias that records another server's key, the key is refused.
    w.inventory("staging", &["Wrong-Alias".into()], "");
    w.run_with_config(&config, "echo should-not-run")
        .env("ARGS_OUT", w.path("wrong.args"))
        .run()
        .code(4)
        .stderr_has("other-key");
}

#[test]
fn a_proxy_command_that_fails_is_reported_with_its_status_and_stderr() {
    let w = World::new();
    let config = w.write(
        "ssh_config",
        "Host bastion-down\n  HostName 127.0.0.165\n  \
         ProxyCommand sh -c 'echo \"bastion: no route to %h\" >&2; exit 7'\n",
    );
    w.inventory("staging", &["bastion-down".into()], "");
    let ran = w
        .run_with_config(&config, "true")
        .run_within(GENEROUS)
        .code(4)
        // Shown as it came, after the host's label...
        .stderr_has("[bastion-down] bastion: no route to 127.0.0.165")
        // ...and in the error, with the status.
        .stderr_has(
            "exited with status 7 before the SSH connection was set up; \
             its stderr ended with: bastion: no route to 127.0.0.165",
        );
    assert!(!ran.stderr.contains("Error("), "{}", ran.stderr);
}

#[test]
fn a_hanging_proxy_command_is_stopped_at_the_connect_timeout_with_its_process_group() {
    let w = World::new();
    let (leader, child) = (w.path("leader.pid"), w.path("child.pid"));
    let config = w.write(
        "ssh_config",
        &format!(
            "Host hangs\n  HostName 127.0.0.166\n  \
             ProxyCommand sh -c 'echo $$ > {}; sleep 300 & echo $! > {}; wait'\n",
            leader.display(),
            child.display()
        ),
    );
    w.inventory("staging", &["hangs".into()], "");
    let started = std::time::Instant::now();
    w.roadie()
        .args(["-F", config.to_str().unwrap(), "--connect-timeout", "1"])
        .args(["run", "staging", "--", "true"])
        .run_within(GENEROUS)
        .code(4)
        .stderr_has("carried no SSH key exchange within 1s, and was stopped");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    for pid in [pid_in(&leader), pid_in(&child)] {
        eventually(&format!("proxy process {pid} to be gone"), GENEROUS, || {
            gone(&pid)
        });
    }
}

/// A roadie run through a ProxyCommand that records its pid in `pid_file`,
/// running a remote command that touches `started` and then waits.
fn long_run_through_proxy(w: &mut World, last: u8, pid_file: &Path, started: &Path) -> Command {
    let s = w.server(&[addr(last)]);
    let config = nc_config(
        w,
        s,
        "proxied",
        &format!("echo $$ > {}", pid_file.display()),
    );
    w.inventory("staging", &["proxied".into()], "");
    let mut command = w
        .roadie()
        .args(["-F", config.to_str().unwrap(), "run", "staging", "--"])
        .args([format!("touch {} && sleep 60", started.display())])
        .command;
    command.stdout(Stdio::null()).stderr(Stdio::null());
    command
}

fn signal_stops_the_proxy(last: u8, signal: nix::sys::signal::Signal, code: i32) {
    let mut w = World::new();
    let (pid_file, started) = (w.path("proxy.pid"), w.path("started"));
    let mut roadie = long_run_through_proxy(&mut w, last, &pid_file, &started)
        .spawn()
        .unwrap();
    eventually("the remote command to start", GENEROUS, || started.exists());
    let proxy = pid_in(&pid_file);
    assert!(!gone(&proxy), "the proxy command is not running");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(roadie.id()).unwrap());
    nix::sys::signal::kill(pid, signal).unwrap();
    let status = eventually("roadie to stop", GENEROUS, || roadie.try_wait().unwrap());
    assert_eq!(status.code(), Some(code), "{status:?}");
    eventually("the proxy command to be gone", GENEROUS, || gone(&proxy));
}

#[test]
fn ctrl_c_stops_the_run_and_its_proxy_command() {
    signal_stops_the_proxy(167, nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_stops_roadie_and_its_proxy_command() {
    signal_stops_the_proxy(168, nix::sys::signal::Signal::SIGTERM, 143);
}

#[test]
fn a_jump_host_reached_through_a_proxy_command() {
    let mut w = World::new();
    // The jump host logs at DEBUG so the forwarding it did can be seen.
    let jump = w.server_with(&[addr(169)], &["LogLevel DEBUG1"]);
    let target = w.server(&[addr(170)]);
    let ((jump_ip, jump_port), (target_ip, target_port)) = (place(&w, jump), place(&w, target));
    let config = w.write(
        "ssh_config",
        &format!(
            "Host target\n  HostName {target_ip}\n  Port {target_port}\n  ProxyJump bastion\n\
             Host bastion\n  HostName {jump_ip}\n  Port {jump_port}\n  IdentityFile {}\n  \
             UserKnownHostsFile {}\n  ProxyCommand sh -c 'echo tunnel up >&2; exec nc %h %p'\n",
            w.client_key.display(),
            w.known_hosts.display()
        ),
    );
    w.inventory("staging", &["target".into()], "");
    w.run_with_config(&config, "echo behind the bastion")
        .run()
        .code(0)
        .stdout_has("behind the bastion")
        .stderr_has("[bastion] tunnel up");
    let forwarded = format!("to {target_ip} port {target_port}");
    eventually(
        "the jump host to log the forward to the target",
        GENEROUS,
        || {
            let log = std::fs::read_to_string(&w.servers[jump].log).unwrap();
            if log.contains(&forwarded) {
                Ok(())
            } else {
                Err(log)
            }
        },
    );
    let (code, stdout, stderr) = output_of(stock_ssh(&w, &config, "target", "echo behind"));
    assert_eq!((code, stdout.trim()), (0, "behind"), "{stderr}");
}

#[test]
fn a_kept_connection_through_a_proxy_command_starts_it_once() {
    let mut w = World::new();
    let s = w.server(&[addr(171)]);
    let starts = w.path("starts");
    let config = nc_config(&w, s, "kept", &format!("echo $$ >> {}", starts.display()));
    w.inventory("staging", &["kept".into()], "    persist: 60s\n");
    let sessions: Vec<String> = (0..2)
        .map(|_| {
            w.run_with_config(&config, "echo $PPID")
                .run()
                .code(0)
                .stdout
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(sessions[0], sessions[1], "the second run logged in again");
    let started = std::fs::read_to_string(&starts).unwrap();
    assert_eq!(started.lines().count(), 1, "{started}");
    let proxy = started.trim().to_owned();
    assert!(!gone(&proxy), "the holder's proxy command is not running");
    w.roadie().args(["persist", "stop"]).run().code(0);
    eventually("the holder's proxy command to be gone", GENEROUS, || {
        gone(&proxy)
    });
}

#[test]
fn a_proxy_command_that_lands_on_production_is_refused_by_its_pinned_key() {
    let mut w = World::new();
    let production = w.server(&[addr(172)]);
    let (prod_ip, prod_port) = place(&w, production);
    // The command is wrong (it goes to production), and someone accepted
    // that key for the staging name once: known_hosts vouches for it, so
    // only the pinned key can tell.
    append(
        &w.known_hosts,
        &known_as(&w, production, &format!("[127.0.0.173]:{prod_port}")),
    );
    let config = w.write(
        "ssh_config",
        &format!(
            "Host staging-web\n  HostName 127.0.0.173\n  Port {prod_port}\n  \
             ProxyCommand nc {prod_ip} %p\n"
        ),
    );
    let pin = fingerprint(&w.servers[production].host_key);
    w.write(
        "roadie.yaml",
        &format!(
            "environments:\n{}{}",
            World::environment("staging", &["staging-web".into()], ""),
            World::environment(
                "production",
                &[format!("{prod_ip}:{prod_port}")],
                &format!("    protected: true\n    host_keys: [\"{pin}\"]\n"),
            )
        ),
    );
    w.roadie()
        .args([
            "-F",
            config.to_str().unwrap(),
            "run",
            "staging",
            "--destroy",
        ])
        .args(["--", "echo should-not-run"])
        .run()
        .code(3)
        .stderr_has("refused by the pinned-host-key lock")
        .stderr_has(&pin);
    let log = std::fs::read_to_string(&w.servers[production].log).unwrap();
    assert!(!log.contains("Accepted publickey"), "logged in:\n{log}");
}
