//! Host-key checking against real servers: unknown, accepted on first use,
//! changed, hashed, revoked, and several key types per host.

use std::fmt::Write as _;
use std::io::Write as _;

use roadie::known_hosts::fingerprint;
use roadie::sandbox::ensure_key;

use crate::support::{World, addr, sh};

fn world() -> (World, String) {
    World::one_host(3)
}

#[test]
fn unknown_key_is_refused_with_fingerprint_then_accept_new_records_it() {
    let (w, entry) = world();
    std::fs::write(&w.known_hosts, "").unwrap();
    let fp = fingerprint(&w.servers[0].host_key);
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(4)
        .stderr_has("host key not known")
        .stderr_has(&fp)
        .stderr_has("--accept-new");
    w.roadie()
        .args(["run", "staging", "--accept-new", "--", "echo in"])
        .run()
        .code(0)
        .stdout_is("in\n")
        .stderr_has("recorded new host key");
    let recorded = std::fs::read_to_string(&w.known_hosts).unwrap();
    let (host, port) = entry.split_once(':').unwrap();
    assert!(
        recorded.contains(&format!("[{host}]:{port} ssh-ed25519 ")) || recorded.starts_with("|1|"),
        "{recorded}"
    );
    // Now known: no flag needed, no warning.
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(0);
    assert!(!ran.stderr.contains("recorded"), "{}", ran.stderr);
}

/// The hint for an unknown key said `>> ~/.ssh/known_hosts` even when
/// roadie.yaml points `known_hosts:` elsewhere, so following it changed
/// nothing: it names the file roadie reads (and `--accept-new` writes).
#[test]
fn the_unknown_key_hint_names_the_known_hosts_file_roadie_reads() {
    let (w, _) = world();
    std::fs::write(&w.known_hosts, "").unwrap();
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(4);
    let hint = format!(">> {})", w.known_hosts.display());
    assert!(
        ran.stderr.contains(&hint),
        "no `{hint}` in:\n{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("~/.ssh/known_hosts"), "{}", ran.stderr);
}

#[test]
fn changed_key_is_refused_naming_file_and_line() {
    let (w, entry) = world();
    let impostor = ensure_key(&w.path("impostor"), "impostor").unwrap();
    let (host, port) = entry.split_once(':').unwrap();
    let text = format!(
        "# first line\n[{host}]:{port} {}\n",
        impostor.to_openssh().unwrap()
    );
    std::fs::write(&w.known_hosts, text).unwrap();
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--accept-new",
            "--",
            "touch should-not-exist",
        ])
        .run()
        .code(4)
        .stderr_has("HOST KEY CHANGED")
        .stderr_has(&format!("{}:2", w.known_hosts.display()))
        .stderr_has(&fingerprint(&w.servers[0].host_key))
        .stderr_has(&fingerprint(&impostor));
    assert!(!w.path("should-not-exist").exists(), "{}", ran.stderr);
    // Only the explicit, loudly warned escape hatch gets through.
    w.roadie()
        .args(["run", "staging", "--insecure-ignore-host-key", "--", "true"])
        .run()
        .code(0)
        .stderr_has("WARNING")
        .stderr_has("NOT CHECKING");
}

#[test]
fn hashed_entries_from_ssh_keygen_are_understood() {
    let (w, _) = world();
    // Let OpenSSH's own tool hash the file.
    sh(
        "ssh-keygen",
        &["-H", "-f", w.known_hosts.to_str().unwrap()],
        &[],
    );
    let hashed = std::fs::read_to_string(&w.known_hosts).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    w.roadie()
        .args(["run", "staging", "--", "echo ok"])
        .run()
        .code(0)
        .stdout_is("ok\n");
}

#[test]
fn revoked_key_is_refused_even_when_also_listed() {
    let (w, _) = world();
    let mut text = std::fs::read_to_string(&w.known_hosts).unwrap();
    writeln!(
        text,
        "@revoked * {}",
        w.servers[0].host_key.to_openssh().unwrap()
    )
    .unwrap();
    std::fs::write(&w.known_hosts, text).unwrap();
    w.roadie()
        .args(["run", "staging", "--accept-new", "--", "true"])
        .run()
        .code(4)
        .stderr_has("REVOKED")
        .stderr_has(&format!("{}:2", w.known_hosts.display()));
}

#[test]
fn known_type_is_asked_for_when_the_server_has_several_keys() {
    // A server with an ed25519 and an ECDSA key; known_hosts knows only the
    // ECDSA one. roadie must ask for ECDSA, as ssh does, and connect.
    let mut w = World::new();
    let ecdsa = w.path("ecdsa_host_key");
    sh(
        "ssh-keygen",
        &["-q", "-t", "ecdsa", "-N", "", "-f", ecdsa.to_str().unwrap()],
        &[],
    );
    let s = w.server_with(&[addr(4)], &[&format!("HostKey {}", ecdsa.display())]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let (host, port) = entry.split_once(':').unwrap();
    let public = std::fs::read_to_string(format!("{}.pub", ecdsa.display())).unwrap();
    std::fs::write(&w.known_hosts, format!("[{host}]:{port} {public}")).unwrap();
    let ran = w
        .roadie()
        .args(["--json", "hosts", "staging", "--check"])
        .run()
        .code(0);
    let key = ran.events()[0]["host_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ECDSA "), "{key}");
}

#[test]
fn key_of_another_type_than_the_recorded_one_is_refused() {
    let (w, entry) = world();
    let (host, port) = entry.split_once(':').unwrap();
    let ecdsa = w.path("other_ecdsa");
    sh(
        "ssh-keygen",
        &["-q", "-t", "ecdsa", "-N", "", "-f", ecdsa.to_str().unwrap()],
        &[],
    );
    let public = std::fs::read_to_string(format!("{}.pub", ecdsa.display())).unwrap();
    std::fs::write(&w.known_hosts, format!("[{host}]:{port} {public}")).unwrap();
    w.roadie()
        .args(["run", "staging", "--accept-new", "--", "true"])
        .run()
        .code(4)
        .stderr_has("host key type changed");
}

/// A server with an RSA host key (and the harness's ed25519 one), whose
/// RSA key alone is in known_hosts; `extra` restricts what it offers.
pub(crate) fn rsa_server(extra: &[&str]) -> (World, std::path::PathBuf) {
    let mut w = World::new();
    let rsa = w.path("rsa_host_key");
    sh(
        "ssh-keygen",
        &["-q", "-t", "rsa", "-N", "", "-f", rsa.to_str().unwrap()],
        &[],
    );
    let host_key = format!("HostKey {}", rsa.display());
    let lines: Vec<&str> = ["LogLevel DEBUG1", host_key.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let s = w.server_with(&[addr(5)], &lines);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let (host, port) = entry.split_once(':').unwrap();
    let public = std::fs::read_to_string(format!("{}.pub", rsa.display())).unwrap();
    std::fs::write(&w.known_hosts, format!("[{host}]:{port} {public}")).unwrap();
    let log = w.servers[s].log.clone();
    (w, log)
}

fn host_key_of_check(w: &World) -> String {
    let ran = w
        .roadie()
        .args(["--json", "hosts", "staging", "--check"])
        .run()
        .code(0);
    ran.events()[0]["host_key"].as_str().unwrap().to_owned()
}

#[test]
fn rsa_host_key_is_verified_with_sha2_signatures_never_sha1() {
    // The server offers only RSA, ssh-rsa (SHA-1) included, as an old one
    // would: roadie must pick rsa-sha2-512, never ssh-rsa.
    let (w, log) = rsa_server(&["HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256,ssh-rsa"]);
    let key = host_key_of_check(&w);
    assert!(key.starts_with("RSA "), "{key}");
    let log = std::fs::read_to_string(log).unwrap();
    let chosen: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("kex: host key algorithm: "))
        .filter_map(|(_, rest)| rest.split_whitespace().next())
        .collect();
    assert_eq!(chosen, ["rsa-sha2-512"], "{log}");
}

#[test]
fn recorded_rsa_key_is_asked_for_when_the_server_prefers_ed25519() {
    // A modern sshd (no ssh-rsa) with ed25519 and RSA keys; known_hosts has
    // the RSA one. Asking for ssh-rsa would get the ed25519 key, refused as
    // a key of another type.
    let (w, _) = rsa_server(&[]);
    let key = host_key_of_check(&w);
    assert!(key.starts_with("RSA "), "{key}");
}

#[test]
fn mixed_case_name_finds_the_hashed_entry_ssh_wrote() {
    // ssh records and looks up `web1.example.test` however it was typed;
    // so must roadie, or a hashed entry is never found.
    let (w, entry) = world();
    let (address, port) = entry.split_once(':').unwrap();
    let hosts = w.write(
        "hosts",
        &format!("127.0.0.1 localhost\n{address} web1.example.test\n"),
    );
    let line = std::fs::read_to_string(&w.known_hosts).unwrap();
    let line = line.replacen(address, "web1.example.test", 1);
    std::fs::write(&w.known_hosts, line).unwrap();
    sh(
        "ssh-keygen",
        &["-H", "-f", w.known_hosts.to_str().unwrap()],
        &[],
    );
    w.inventory("staging", &[format!("WEB1.Example.TEST:{port}")], "");
    w.roadie_with_hosts_file(&hosts)
        .args(["run", "staging", "--", "echo ok"])
        .run()
        .code(0)
        .stdout_is("ok\n");
}

/// The server's key line in the world's known_hosts, recorded under `name`.
fn record_as(w: &World, name: &str) -> String {
    let mut key = w.servers[0].host_key.clone();
    key.set_comment("");
    format!("{name} {}\n", key.to_openssh().unwrap().trim_end())
}

#[test]
fn known_hosts_key_recorded_without_port_is_accepted_on_another_port_as_ssh_does() {
    let (w, entry) = world();
    let (ip, port) = entry.split_once(':').unwrap();
    assert_ne!(port, "22");
    std::fs::write(&w.known_hosts, record_as(&w, ip)).unwrap();
    // OpenSSH 9.2 accepts it...
    let ssh = std::process::Command::new("ssh")
        .args([
            "-F",
            "none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .args(["-o", "GlobalKnownHostsFile=none", "-i"])
        .arg(&w.client_key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", w.known_hosts.display()))
        .args(["-p", port, ip, "echo", "ssh-ok"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ssh.stdout).contains("ssh-ok"),
        "{}",
        String::from_utf8_lossy(&ssh.stderr)
    );
    // ...and so does roadie.
    w.roadie()
        .args(["-F", "none", "run", "staging", "--", "echo", "roadie-ok"])
        .run()
        .code(0)
        .stdout_is("roadie-ok\n");
    // A different key under the bare name is not a changed key: unknown.
    let other = w.path("other_host_key");
    let other_key = ensure_key(&other, "other").unwrap();
    std::fs::write(
        &w.known_hosts,
        format!("{ip} {}\n", other_key.to_openssh().unwrap().trim_end()),
    )
    .unwrap();
    w.roadie()
        .args(["-F", "none", "run", "staging", "--", "true"])
        .run()
        .code(4)
        .stderr_has("host key not known");
}

#[test]
fn a_known_hosts_line_that_is_not_utf8_is_skipped_with_a_warning() {
    let (w, entry) = world();
    let (ip, port) = entry.split_once(':').unwrap();
    let mut text = b"bad\xff.example.org ssh-ed25519 AAAA\n".to_vec();
    text.extend_from_slice(record_as(&w, &format!("[{ip}]:{port}")).as_bytes());
    std::fs::write(&w.known_hosts, text).unwrap();
    w.roadie()
        .args(["-F", "none", "run", "staging", "--", "echo", "still-ok"])
        .run()
        .code(0)
        .stdout_is("still-ok\n")
        .stderr_has(&format!(
            "{}:1: skipped a line that is not UTF-8 text (byte 0xff at column 4)",
            w.known_hosts.display()
        ));
}

#[test]
fn large_known_hosts_is_read_in_little_memory() {
    let (w, entry) = world();
    let (ip, port) = entry.split_once(':').unwrap();
    let own = record_as(&w, &format!("[{ip}]:{port}"));
    std::fs::write(&w.known_hosts, &own).unwrap();
    let small = peak_rss_of_a_run(&w);
    // 29 MB of other hosts' keys, as a long-lived CI runner collects.
    let filler = record_as(&w, "host-000000.example.org");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&w.known_hosts).unwrap());
    let mut written = 0;
    let mut index = 0;
    while written < 29_000_000 {
        let line = filler.replacen("000000", &format!("{index:06}"), 1);
        file.write_all(line.as_bytes()).unwrap();
        written += line.len();
        index += 1;
    }
    file.write_all(own.as_bytes()).unwrap();
    file.into_inner().unwrap().sync_all().unwrap();
    let large = peak_rss_of_a_run(&w);
    // What the file costs, beyond what the program itself takes (a debug
    // build's code and tables weigh more than a file read a line at a time).
    let cost = large.saturating_sub(small);
    // Held whole and parsed, the file took 127 MiB; ssh needs 8 MiB in all.
    assert!(
        cost < 8 * 1024,
        "the 29 MB file took {cost} KiB ({large} KiB peak against {small} KiB)"
    );
}

/// The peak memory (VmHWM, KiB) of roadie's own process in a run on
/// `staging`, read once the command runs, by when known_hosts was read.
fn peak_rss_of_a_run(w: &World) -> u64 {
    let mut roadie = crate::support::Running(
        w.roadie()
            .args(["-F", "none", "run", "staging", "--", "echo found; sleep 30"])
            .spawn(),
    );
    let lines = crate::support::lines_of(roadie.0.stdout.take().unwrap());
    crate::support::said_until(&lines, "found");
    let status = std::fs::read_to_string(format!("/proc/{}/status", roadie.0.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}
