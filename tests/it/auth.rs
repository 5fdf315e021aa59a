//! Authentication against real sshd: a real ssh-agent, encrypted keys, and
//! the list of keys tried when nothing works.

use crate::support::{Agent, World, addr, sh};

/// An environment without an identity: keys come from the agent or defaults.
fn world_without_identity() -> World {
    let mut w = World::new();
    let s = w.server(&[addr(5)]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write(
        "roadie.yaml",
        &text.replace("    identity: client_key\n", ""),
    );
    w
}

#[test]
fn agent_key_logs_in() {
    let w = world_without_identity();
    let agent = Agent::start(&w);
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .env("SSH_AUTH_SOCK", &agent.socket)
        .run()
        .code(4)
        .stderr_has("no keys to offer")
        .stderr_has("authentication failed");
    agent.add(&w.client_key);
    w.roadie()
        .args(["run", "staging", "--", "echo via-agent"])
        .env("SSH_AUTH_SOCK", &agent.socket)
        .run()
        .code(0)
        .stdout_has("via-agent");
}

#[test]
fn configured_identity_is_the_only_key_offered() {
    // The agent holds the authorized key, but roadie.yaml names another one:
    // only that one may be offered, so login fails and says what was tried.
    let w = world_without_identity();
    let agent = Agent::start(&w);
    agent.add(&w.client_key);
    let other = w.path("staging_key");
    roadie::sandbox::ensure_key(&other, "staging").unwrap();
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write("roadie.yaml", &format!("{text}    identity: staging_key\n"));
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "true"])
        .env("SSH_AUTH_SOCK", &agent.socket)
        .run()
        .code(4)
        .stderr_has("authentication failed")
        .stderr_has(&other.display().to_string())
        .stderr_has("not accepted");
    assert!(
        !ran.stderr.contains("agent key"),
        "an agent key was offered:\n{}",
        ran.stderr
    );
}

#[test]
fn encrypted_key_needs_its_passphrase_and_never_hangs() {
    let mut w = World::new();
    let key = w.path("encrypted_key");
    sh(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "correct horse",
            "-f",
            key.to_str().unwrap(),
        ],
        &[],
    );
    std::fs::write(
        &w.authorized_keys,
        std::fs::read_to_string(format!("{}.pub", key.display())).unwrap(),
    )
    .unwrap();
    let s = w.server(&[addr(6)]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write(
        "roadie.yaml",
        &text.replace("identity: client_key", "identity: encrypted_key"),
    );
    // No terminal, no passphrase: a clear failure, not a prompt.
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(4)
        .stderr_has("encrypted")
        .stderr_has("ROADIE_PASSPHRASE");
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .env("ROADIE_PASSPHRASE", "wrong")
        .run()
        .code(4)
        .stderr_has("does not unlock it");
    w.roadie()
        .args(["run", "staging", "--", "echo unlocked"])
        .env("ROADIE_PASSPHRASE", "correct horse")
        .run()
        .code(0)
        .stdout_has("unlocked");
}

#[test]
fn default_key_files_are_used_when_nothing_is_configured() {
    let w = world_without_identity();
    std::fs::copy(&w.client_key, w.home.join(".ssh/id_ed25519")).unwrap();
    w.roadie()
        .args(["run", "staging", "--", "echo default"])
        .run()
        .code(0)
        .stdout_has("default");
}

#[test]
fn login_cut_by_the_server_is_connection_lost_not_a_refused_key() {
    // sshd gives up on the login (LoginGraceTime) while it is still checking
    // the key: its AuthorizedKeysCommand, the only source of keys, takes
    // longer than the grace time.
    let mut w = World::new();
    let s = w.server_with(
        &[addr(34)],
        &[
            "AuthorizedKeysFile none",
            "AuthorizedKeysCommand /usr/bin/sleep 5",
            "AuthorizedKeysCommandUser nobody",
            "LoginGraceTime 1",
        ],
    );
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let host = lost_connection(&w, &entry);
    let error = host["error"].as_str().unwrap();
    assert!(
        error.contains("the server closed the connection during authentication"),
        "{error}"
    );
    assert!(!error.contains("not accepted"), "a key was blamed: {error}");
}

#[test]
fn login_dropped_by_max_startups_is_connection_lost_not_a_refused_key() {
    // One unauthenticated connection is all sshd allows; a second is
    // dropped at once, as a busy server drops logins past MaxStartups.
    let mut w = World::new();
    let s = w.server_with(&[addr(35)], &["MaxStartups 1:100:1"]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let mut hog = std::net::TcpStream::connect(&entry).unwrap();
    let mut banner = [0u8; 4];
    std::io::Read::read_exact(&mut hog, &mut banner).unwrap();
    assert_eq!(&banner, b"SSH-", "sshd did not take the first connection");
    let host = lost_connection(&w, &entry);
    assert!(
        host["error"]
            .as_str()
            .unwrap()
            .contains("the server closed the connection"),
        "{host}"
    );
}

/// `roadie run staging -- true` on the one host `entry`, which must end in
/// a lost connection (exit 4): its host event.
fn lost_connection(w: &World, entry: &str) -> serde_json::Value {
    let ran = w
        .roadie()
        .args(["-F", "none", "--json", "run", "staging", "--", "true"])
        .run()
        .code(4);
    let host = ran
        .events()
        .into_iter()
        .find(|e| e["event"] == "host" && e["host"] == entry)
        .expect("a host event");
    assert_eq!(host["error_kind"], "connection_lost", "{host}");
    host
}
