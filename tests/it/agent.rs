//! `ForwardAgent` (ssh_config) and `forward_agent:` (roadie.yaml): a
//! command on the server uses the local ssh-agent, proven by reaching a
//! third sshd that accepts only a key the agent alone holds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use roadie::sandbox::ensure_key;

use crate::support::{Running, World, addr, eventually, sh};

/// A local ssh-agent on `socket` holding `key`, stopped when dropped.
fn agent_holding(socket: &Path, key: &Path) -> Running {
    let agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client)");
    let agent = Running(agent);
    eventually("ssh-agent to listen", Duration::from_secs(10), || {
        socket.exists()
    });
    sh(
        "ssh-add",
        &[key.to_str().unwrap()],
        &[("SSH_AUTH_SOCK", socket)],
    );
    agent
}

/// What the server runs: list the agent's keys, then log in to `third`
/// (`ip:port`) with whatever agent it was given, and no key file.
fn through_agent(third: &str) -> String {
    let (ip, port) = third.split_once(':').unwrap();
    format!(
        "ssh-add -l && ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=no \
         -o IdentityFile=/dev/null -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
         -p {port} {ip} echo third hop reached"
    )
}

#[test]
fn a_forwarded_agent_lets_the_server_reach_a_third_sshd() {
    let mut w = World::new();
    let agent_key = w.path("agent_key");
    let public = ensure_key(&agent_key, "agent only").unwrap();
    let agent_fingerprint = roadie::known_hosts::fingerprint(&public);
    // The third sshd accepts only the agent's key, which no file on the
    // server holds.
    let agent_only: PathBuf = w.write(
        "agent_only_keys",
        &format!("{}\n", public.to_openssh().unwrap()),
    );
    std::fs::set_permissions(
        &agent_only,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let first = w.server(&[addr(178)]);
    let third = w.server_with(
        &[addr(179)],
        &[&format!("AuthorizedKeysFile {}", agent_only.display())],
    );
    let (first_entry, third_entry) = (w.entries(first)[0].clone(), w.entries(third)[0].clone());
    let socket = w.path("agent.sock");
    let _agent = agent_holding(&socket, &agent_key);
    let config = w.write("ssh_config", "Host *\n  ForwardAgent yes\n");
    let run = |inventory_extra: &str| {
        w.inventory(
            "staging",
            std::slice::from_ref(&first_entry),
            inventory_extra,
        );
        w.roadie()
            .env("SSH_AUTH_SOCK", &socket)
            .args(["-F", config.to_str().unwrap(), "--confirm", "staging"])
            .args(["run", "staging", "--", &through_agent(&third_entry)])
            .run()
    };
    // ssh_config's ForwardAgent yes: the server lists the agent's key and
    // logs in to the third host with it.
    run("")
        .code(0)
        .stdout_has(&agent_fingerprint)
        .stdout_has("third hop reached");
    let hosts = w
        .roadie()
        .env("SSH_AUTH_SOCK", &socket)
        .args(["-F", config.to_str().unwrap(), "--json", "hosts", "staging"])
        .run()
        .code(0)
        .events();
    assert_eq!(hosts[0]["forward_agent"], socket.to_str().unwrap());
    // Not through a kept connection, whose holder has no agent of this
    // invocation's: connected directly, and said.
    w.roadie()
        .env("SSH_AUTH_SOCK", &socket)
        .args(["-F", config.to_str().unwrap(), "--persist", "30s"])
        .args(["run", "staging", "--", &through_agent(&third_entry)])
        .run()
        .code(0)
        .stdout_has("third hop reached")
        .stderr_has("needs a connection of its own");
    // roadie.yaml's forward_agent: false wins over it: no agent there.
    let ran = run("    forward_agent: false\n");
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(!ran.stdout.contains("third hop reached"), "{ran:?}");
    // A protected environment never forwards it because of ssh_config...
    let ran = run("    protected: true\n");
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(!ran.stdout.contains(&agent_fingerprint), "{ran:?}");
    // ...only when it says so itself.
    run("    protected: true\n    forward_agent: true\n")
        .code(0)
        .stdout_has("third hop reached");
}
