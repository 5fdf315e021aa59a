//! ssh_config's algorithm lists against real servers restricted to one
//! algorithm: only a config naming it connects, for roadie and for stock
//! `ssh` alike, and sshd's log shows what was negotiated.

use std::path::Path;
use std::process::Command;

use crate::host_keys::rsa_server;
use crate::support::{Ran, World, addr, current_user, sh};

/// What sshd logged after `marker` (`kex: algorithm: ` say) on each
/// connection, the first word each time.
fn logged(log: &Path, marker: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(marker))
        .filter_map(|(_, rest)| rest.split_whitespace().next())
        .filter(|word| *word != "(no")
        .map(str::to_owned)
        .collect()
}

/// Stock `ssh -F ssh_config` (the world's) to server `entry`, with
/// `identity` and the world's known_hosts: whether `echo agreed` ran.
fn stock_ssh(w: &World, entry: &str, identity: &Path) -> bool {
    let (host, port) = entry.split_once(':').unwrap();
    let out = Command::new("ssh")
        .env("HOME", &w.home)
        .arg("-F")
        .arg(w.path("ssh_config"))
        .arg("-i")
        .arg(identity)
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", w.known_hosts.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null", "-p", port, "-l"])
        .arg(current_user())
        .args([host, "echo", "agreed"])
        .output()
        .expect("ssh (openssh-client)");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("agreed")
}

/// For each ssh_config text, whether it must connect: roadie and stock
/// ssh both do exactly then. Returns what roadie said each time.
fn only_these_connect(
    w: &World,
    entry: &str,
    identity: &Path,
    cases: &[(&str, bool)],
) -> Vec<String> {
    let mut said = Vec::new();
    for (text, connects) in cases {
        let ran = roadie_with(w, text);
        assert_eq!(
            (ran.code, ran.stdout.contains("agreed")),
            if *connects { (0, true) } else { (4, false) },
            "roadie with {text:?}:\n{}",
            ran.stderr
        );
        assert_eq!(
            stock_ssh(w, entry, identity),
            *connects,
            "ssh with {text:?}"
        );
        said.push(ran.stderr);
    }
    said
}

/// `roadie -F ssh_config run staging -- echo agreed`, `text` being the
/// ssh_config.
fn roadie_with(w: &World, text: &str) -> Ran {
    let config = w.write("ssh_config", text);
    w.run_with_config(&config, "echo agreed").run()
}

/// roadie without an ssh_config (its defaults) cannot log in.
fn roadie_defaults_do_not_connect(w: &World) {
    w.roadie()
        .args(["-F", "none", "run", "staging", "--", "true"])
        .run()
        .code(4);
}

fn server(w: &mut World, last: u8, lines: &[&str]) -> (String, std::path::PathBuf) {
    let lines: Vec<&str> = ["LogLevel DEBUG1"].iter().chain(lines).copied().collect();
    let s = w.server_with(&[addr(last)], &lines);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    (entry, w.servers[s].log.clone())
}

#[test]
fn kex_algorithms_from_ssh_config_are_the_ones_offered() {
    let mut w = World::new();
    let (entry, log) = server(&mut w, 211, &["KexAlgorithms diffie-hellman-group14-sha1"]);
    let said = only_these_connect(
        &w,
        &entry,
        &w.client_key,
        &[
            ("Host *\n    KexAlgorithms curve25519-sha256\n", false),
            (
                "Host *\n    KexAlgorithms +diffie-hellman-group14-sha1\n",
                true,
            ),
            // A name roadie lacks is left out, with a warning naming the line.
            (
                "Host *\n    KexAlgorithms sntrup761x25519-sha512,diffie-hellman-group14-sha1\n",
                true,
            ),
        ],
    );
    assert!(
        said[2].contains(
            "ssh_config:2: KexAlgorithms: roadie does not implement sntrup761x25519-sha512"
        ),
        "{}",
        said[2]
    );
    // Two roadie logins and two ssh ones agreed on it; the others found nothing in common.
    assert_eq!(
        logged(&log, "kex: algorithm: "),
        ["diffie-hellman-group14-sha1"; 4]
    );
    // Without roadie's defaults the server finds nothing in common either.
    roadie_defaults_do_not_connect(&w);
    // A list of which roadie implements nothing: refused with file and line.
    roadie_with(&w, "Host *\n    KexAlgorithms sntrup761x25519-sha512\n")
        .code(2)
        .stderr_has("ssh_config:2: ")
        .stderr_has("roadie implements none of sntrup761x25519-sha512");
}

#[test]
fn macs_from_ssh_config_are_the_ones_offered() {
    let mut w = World::new();
    let (entry, log) = server(&mut w, 212, &["Ciphers aes128-ctr", "MACs hmac-sha1"]);
    only_these_connect(
        &w,
        &entry,
        &w.client_key,
        &[
            ("Host *\n    MACs hmac-sha2-256,hmac-sha2-512\n", false),
            ("Host *\n    MACs hmac-sha2-256,hmac-sha1\n", true),
        ],
    );
    assert_eq!(
        logged(&log, "kex: client->server cipher: aes128-ctr MAC: "),
        ["hmac-sha1"; 2]
    );
    // roadie's defaults (SHA-2 MACs only) do not reach it.
    roadie_defaults_do_not_connect(&w);
}

#[test]
fn ssh_rsa_host_keys_only_where_ssh_config_asks_and_warned() {
    // An old device: its RSA key (the one known_hosts records) signs with
    // SHA-1 only.
    let (w, log) = rsa_server(&["HostKeyAlgorithms ssh-rsa"]);
    let entry = w.entries(0)[0].clone();
    let said = only_these_connect(
        &w,
        &entry,
        &w.client_key,
        &[
            ("Host *\n    HostKeyAlgorithms rsa-sha2-512\n", false),
            ("Host *\n    HostKeyAlgorithms +ssh-rsa\n", true),
        ],
    );
    assert!(
        said[1]
            .contains("ssh_config:2: HostKeyAlgorithms allows ssh-rsa (RSA signatures with SHA-1"),
        "{}",
        said[1]
    );
    assert_eq!(logged(&log, "kex: host key algorithm: "), ["ssh-rsa"; 2]);
    // Never by default.
    roadie_defaults_do_not_connect(&w);
}

#[test]
fn host_key_algorithms_still_ask_first_for_the_type_known_hosts_records() {
    // The server holds ed25519 and RSA keys; known_hosts records only RSA.
    let (w, log) = rsa_server(&[]);
    let entry = w.entries(0)[0].clone();
    // ed25519 listed first, but RSA is what can be checked.
    roadie_with(
        &w,
        "Host *\n    HostKeyAlgorithms ssh-ed25519,rsa-sha2-256,rsa-sha2-512\n",
    )
    .code(0)
    .stdout_has("agreed");
    // ssh orders by known_hosts for a '-' list (not for a plain one).
    let minus = "Host *\n    HostKeyAlgorithms -ecdsa*,rsa-sha2-512\n";
    roadie_with(&w, minus).code(0).stdout_has("agreed");
    assert!(stock_ssh(&w, &entry, &w.client_key));
    assert_eq!(
        logged(&log, "kex: host key algorithm: "),
        ["rsa-sha2-256", "rsa-sha2-256", "rsa-sha2-256"]
    );
}

#[test]
fn pubkey_accepted_algorithms_decide_how_an_rsa_key_signs() {
    let mut w = World::new();
    let rsa = w.path("rsa_client_key");
    sh(
        "ssh-keygen",
        &["-q", "-t", "rsa", "-N", "", "-f", rsa.to_str().unwrap()],
        &[],
    );
    let public = std::fs::read_to_string(format!("{}.pub", rsa.display())).unwrap();
    std::fs::write(&w.authorized_keys, public).unwrap();
    let inventory_with_rsa_key = |w: &World| {
        let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
        w.write(
            "roadie.yaml",
            &text.replace("identity: client_key", "identity: rsa_client_key"),
        );
    };
    // A server taking only rsa-sha2-256 signatures.
    let (entry, log) = server(&mut w, 215, &["PubkeyAcceptedAlgorithms rsa-sha2-256"]);
    inventory_with_rsa_key(&w);
    only_these_connect(
        &w,
        &entry,
        &rsa,
        &[
            ("Host *\n    PubkeyAcceptedAlgorithms ssh-ed25519\n", false),
            (
                "Host *\n    PubkeyAcceptedKeyTypes rsa-sha2-256,rsa-sha2-512\n",
                true,
            ),
        ],
    );
    let attempts = logged(&log, "test pkalg ");
    assert_eq!(
        attempts,
        ["rsa-sha2-256"; 2],
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // roadie's default signs with rsa-sha2-512, which this server refuses.
    roadie_defaults_do_not_connect(&w);

    // A server taking only ssh-rsa (SHA-1): only where the user asks.
    let (entry, log) = server(&mut w, 216, &["PubkeyAcceptedAlgorithms ssh-rsa"]);
    inventory_with_rsa_key(&w);
    let said = only_these_connect(
        &w,
        &entry,
        &rsa,
        &[
            ("Host *\n    PubkeyAcceptedAlgorithms rsa-sha2-512\n", false),
            ("Host *\n    PubkeyAcceptedAlgorithms ^ssh-rsa\n", true),
        ],
    );
    assert!(
        said[1].contains("PubkeyAcceptedAlgorithms allows ssh-rsa"),
        "{}",
        said[1]
    );
    assert_eq!(logged(&log, "test pkalg "), ["ssh-rsa"; 2]);
}

#[test]
fn hosts_json_shows_the_resolved_algorithm_lists() {
    let (w, _) = World::one_host(217);
    let config = w.write(
        "ssh_config",
        "Host *\n    KexAlgorithms curve25519-sha256,sntrup761x25519-sha512\n    \
         HostKeyAlgorithms ssh-ed25519*\n    MACs hmac-sha2-512\n",
    );
    let ran = w
        .roadie()
        .args(["--json", "-F", config.to_str().unwrap(), "hosts", "staging"])
        .run()
        .code(0);
    let host = &ran.events()[0];
    let list = |key: &str| -> Vec<String> {
        serde_json::from_value(host["algorithms"][key].clone()).unwrap()
    };
    assert_eq!(list("kex_algorithms"), ["curve25519-sha256"]);
    assert_eq!(
        list("host_key_algorithms"),
        ["ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"]
    );
    assert_eq!(list("macs"), ["hmac-sha2-512"]);
    // Unset: roadie's defaults, SHA-1 RSA not among them.
    assert!(list("ciphers").contains(&"chacha20-poly1305@openssh.com".to_owned()));
    let pubkey = list("pubkey_accepted_algorithms");
    assert!(pubkey.contains(&"rsa-sha2-512".to_owned()), "{pubkey:?}");
    assert!(!pubkey.contains(&"ssh-rsa".to_owned()), "{pubkey:?}");
    let warnings = host["algorithm_warnings"].to_string();
    assert!(
        warnings.contains("does not implement sntrup761x25519-sha512")
            && !warnings.contains("cert-v01"),
        "{warnings}"
    );
}
