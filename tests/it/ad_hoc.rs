//! Hosts outside roadie.yaml (`roadie run [user@]host[:port] -- CMD`),
//! resolved through ssh_config as `ssh HOST` does, with the safeguards of
//! an inventory that is found still standing.

use std::process::{Command, Stdio};

use roadie::known_hosts::fingerprint;
use roadie::sandbox::known_hosts_line;

use crate::support::{World, addr, current_user};

#[test]
fn a_host_is_reached_without_any_roadie_yaml_as_ssh_reaches_it() {
    let mut w = World::new();
    let s = w.server(&[addr(174)]);
    let entry = w.entries(s)[0].clone();
    let (ip, port) = entry.split_once(':').unwrap();
    let config = w.write(
        "ssh_config",
        &format!(
            "Host web\n  HostName {ip}\n  Port {port}\n  IdentityFile {}\n  UserKnownHostsFile {}\n",
            w.client_key.display(),
            w.known_hosts.display()
        ),
    );
    assert!(!w.path("roadie.yaml").exists());
    let config = config.to_str().unwrap();
    w.roadie()
        .args(["-F", config, "run", "web", "--", "echo ad hoc"])
        .run()
        .code(0)
        .stdout_has("ad hoc");
    let ssh = Command::new("ssh")
        .args(["-F", config, "-o", "BatchMode=yes", "web", "echo ad hoc"])
        .stdin(Stdio::null())
        .output()
        .expect("ssh (openssh-client)");
    assert_eq!(
        String::from_utf8_lossy(&ssh.stdout).trim(),
        "ad hoc",
        "{}",
        String::from_utf8_lossy(&ssh.stderr)
    );
    // user@host:port, with no ssh_config at all; several at once.
    let user = current_user();
    let ran = w
        .roadie()
        .args(["-F", "none", "--identity", w.client_key.to_str().unwrap()])
        .args(["--known-hosts", w.known_hosts.to_str().unwrap()])
        .args(["run", &format!("{user}@{entry},{entry}"), "--", "whoami"])
        .run()
        .code(0);
    assert_eq!(
        ran.stdout.matches(&format!("] {user}\n")).count(),
        2,
        "{ran:?}"
    );
    let host = &w
        .roadie()
        .args(["-F", config, "--json", "hosts", "web"])
        .run()
        .code(0)
        .events()[0];
    assert_eq!(host["environment"], serde_json::Value::Null);
    assert_eq!(host["protected"], false);
    assert_eq!(host["address"], format!("{user}@{entry}"));
    // What is no host, without a roadie.yaml, says what a TARGET can be.
    for (target, why) in [
        ("web server", "'web server' is not a host name"),
        ("staging", "ssh_config gives 'staging' no HostName"),
    ] {
        w.roadie()
            .args(["-F", "none", "run", target, "--", "true"])
            .run()
            .code(2)
            .stderr_has("no roadie.yaml here or in any parent directory")
            .stderr_has("or name a host as [user@]host[:port]")
            .stderr_has(why);
    }
}

#[test]
fn a_host_outside_the_inventory_still_meets_its_protected_hosts_and_pinned_keys() {
    let mut w = World::new();
    let production = w.server(&[addr(175)]);
    let staging = w.server(&[addr(177)]);
    let (prod_entry, staging_entry) = (
        w.entries(production)[0].clone(),
        w.entries(staging)[0].clone(),
    );
    let (prod_ip, prod_port) = prod_entry.split_once(':').unwrap();
    let pin = fingerprint(&w.servers[production].host_key);
    w.write(
        "roadie.yaml",
        &format!(
            "environments:\n{}{}",
            World::environment("staging", std::slice::from_ref(&staging_entry), ""),
            World::environment(
                "production",
                std::slice::from_ref(&prod_entry),
                &format!("    protected: true\n    host_keys: [\"{pin}\"]\n"),
            )
        ),
    );
    // Where production's key was once accepted under another name, and an
    // alias that a ProxyCommand takes to production.
    let line = known_hosts_line(addr(175), 0, &w.servers[production].host_key).unwrap();
    let key = line.split_once(' ').unwrap().1;
    let known = std::fs::read_to_string(&w.known_hosts).unwrap();
    std::fs::write(
        &w.known_hosts,
        format!("{known}[127.0.0.176]:{prod_port} {key}\n"),
    )
    .unwrap();
    let config = w.write(
        "ssh_config",
        &format!(
            "Host sneaky\n  HostName 127.0.0.176\n  Port {prod_port}\n  ProxyCommand nc {prod_ip} %p\n"
        ),
    );
    let user = current_user();
    let adhoc = |target: &str| {
        w.roadie()
            .args(["-F", config.to_str().unwrap()])
            .args(["--identity", w.client_key.to_str().unwrap()])
            .args(["--known-hosts", w.known_hosts.to_str().unwrap()])
            .args(["run", target, "--destroy", "--", "echo ran"])
            .run()
    };
    // A host of no environment runs as any unprotected host does...
    adhoc(&format!("{user}@{staging_entry}"))
        .code(0)
        .stdout_has("ran");
    // ...but production's address, under another spelling, is production...
    adhoc(&format!("{user}@{prod_entry}"))
        .code(3)
        .stderr_has("refused by the inventory-sanity lock")
        .stderr_has("(in no environment) (unprotected) and 'production/");
    // ...and so is a server presenting its pinned key.
    let ran = adhoc("sneaky")
        .code(3)
        .stderr_has("refused by the pinned-host-key lock")
        .stderr_has(&pin);
    assert!(!ran.stdout.contains("ran"), "{ran:?}");
    let log = std::fs::read_to_string(&w.servers[production].log).unwrap();
    assert!(!log.contains("Accepted publickey"), "logged in:\n{log}");
    // With environments to choose from, a bare name ssh_config does not
    // place is a mistyped target, not a host.
    adhoc("stagign")
        .code(2)
        .stderr_has("unknown target 'stagign'")
        .stderr_has("a host outside");
}
