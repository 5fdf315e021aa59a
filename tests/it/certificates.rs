//! OpenSSH certificates against real sshd: a CA made with ssh-keygen signs
//! user keys (sshd trusts it with `TrustedUserCAKeys`, and accepts nothing
//! else) and host keys (`HostCertificate`, trusted by an `@cert-authority`
//! line), checked by roadie and, for parity, by stock `ssh`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{Agent, World, addr, current_user, sh};

/// A certificate authority: `ca` and `ca.pub` in the world's directory.
struct Ca {
    key: PathBuf,
}

impl Ca {
    fn new(w: &World, name: &str) -> Ca {
        let key = w.path(name);
        sh(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
            &[],
        );
        Ca { key }
    }

    fn public(&self) -> String {
        std::fs::read_to_string(format!("{}.pub", self.key.display()))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Sign `public` (a `.pub` file) with `options` (`-I`, `-n`, `-V`, `-h`);
    /// returns the certificate, `NAME-cert.pub` beside it.
    fn sign(&self, public: &Path, options: &[&str]) -> PathBuf {
        let mut args = vec!["-q", "-s", self.key.to_str().unwrap()];
        args.extend_from_slice(options);
        args.push(public.to_str().unwrap());
        sh("ssh-keygen", &args, &[]);
        let base = public.to_str().unwrap().strip_suffix(".pub").unwrap();
        PathBuf::from(format!("{base}-cert.pub"))
    }

    /// A user certificate for the world's client key, under its own name
    /// `NAME-cert.pub` (a copy of the public key is signed).
    fn sign_client(&self, w: &World, name: &str, options: &[&str]) -> PathBuf {
        let public = w.path(&format!("{name}.pub"));
        std::fs::copy(format!("{}.pub", w.client_key.display()), &public).unwrap();
        self.sign(&public, options)
    }
}

/// sshd lines that let a login in by a certificate from `ca` only.
fn certificates_only(ca: &Ca) -> [String; 2] {
    [
        format!("TrustedUserCAKeys {}.pub", ca.key.display()),
        "AuthorizedKeysFile none".to_owned(),
    ]
}

/// A server on 127.0.0.`last` that only a certificate from `ca` logs in
/// to, and an ssh_config naming it `certhost` (with `extra` lines); the
/// inventory's `staging` is `certhost`. Returns the ssh_config.
fn user_certificate_world(w: &mut World, ca: &Ca, last: u8, extra: &str) -> PathBuf {
    let lines = certificates_only(ca);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let s = w.server_with(&[addr(last)], &lines);
    let port = w.servers[s].port;
    w.inventory("staging", &["certhost".to_owned()], "");
    w.write(
        "ssh_config",
        &format!(
            "Host certhost\n  HostName 127.0.0.{last}\n  Port {port}\n  User {}\n  \
             IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n{extra}",
            current_user(),
            w.client_key.display(),
            w.known_hosts.display()
        ),
    )
}

/// Stock `ssh -F CONFIG certhost true`, as the test's user; its exit code.
fn stock_ssh(w: &World, config: &Path, host: &str) -> (i32, String) {
    let out = Command::new("ssh")
        .arg("-F")
        .arg(config)
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .args([host, "true"])
        .env("HOME", &w.home)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .expect("ssh (openssh-client)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_certificate_from_certificate_file_logs_in_as_with_ssh() {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let cert = ca.sign_client(
        &w,
        "valid",
        &["-I", "deploy-id", "-n", &current_user(), "-V", "-5m:+1h"],
    );
    // Without the certificate the key alone is refused: only certificates log in.
    let config = user_certificate_world(&mut w, &ca, 120, "");
    w.run_with_config(&config, "true")
        .run()
        .code(4)
        .stderr_has("not accepted");
    let config = user_certificate_world(
        &mut w,
        &ca,
        121,
        &format!("  CertificateFile {}\n", cert.display()),
    );
    w.run_with_config(&config, "echo by-certificate")
        .run()
        .code(0)
        .stdout_has("by-certificate");
    assert_eq!(
        stock_ssh(&w, &config, "certhost").0,
        0,
        "stock ssh with the same config"
    );
    let ran = w
        .roadie()
        .args(["-F", config.to_str().unwrap(), "hosts", "staging", "--json"])
        .run()
        .code(0);
    let line = ran
        .events()
        .into_iter()
        .find(|e| e["event"] == "host")
        .expect("a host line");
    assert_eq!(
        line["certificates"],
        serde_json::json!([cert.display().to_string()])
    );
}

#[test]
fn key_cert_pub_beside_the_identity_file_logs_in() {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let config = user_certificate_world(&mut w, &ca, 122, "");
    let beside = ca.sign(
        &PathBuf::from(format!("{}.pub", w.client_key.display())),
        &["-I", "beside", "-n", &current_user(), "-V", "-5m:+1h"],
    );
    assert_eq!(
        beside,
        PathBuf::from(format!("{}-cert.pub", w.client_key.display()))
    );
    w.run_with_config(&config, "echo beside")
        .run()
        .code(0)
        .stdout_has("beside");
    assert_eq!(
        stock_ssh(&w, &config, "certhost").0,
        0,
        "stock ssh with the same config"
    );
    w.roadie()
        .args(["-F", config.to_str().unwrap(), "hosts", "staging", "--json"])
        .run()
        .code(0)
        .stdout_has(&beside.display().to_string());
}

#[test]
fn certificate_held_by_ssh_agent_logs_in() {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let config = user_certificate_world(&mut w, &ca, 123, "");
    // Only the agent offers keys: the config's identity is taken away.
    let text = std::fs::read_to_string(&config).unwrap();
    let key_line = format!(
        "  IdentityFile {}\n  IdentitiesOnly yes\n",
        w.client_key.display()
    );
    std::fs::write(&config, text.replace(&key_line, "")).unwrap();
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write(
        "roadie.yaml",
        &text.replace("    identity: client_key\n", ""),
    );
    let key = w.path("agent_key");
    std::fs::copy(&w.client_key, &key).unwrap();
    std::fs::copy(
        format!("{}.pub", w.client_key.display()),
        w.path("agent_key.pub"),
    )
    .unwrap();
    ca.sign(
        &w.path("agent_key.pub"),
        &["-I", "in-agent", "-n", &current_user(), "-V", "-5m:+1h"],
    );
    let agent = Agent::start(&w);
    // The key alone: refused.
    agent.add(&w.client_key);
    w.run_with_config(&config, "true")
        .env("SSH_AUTH_SOCK", &agent.socket)
        .run()
        .code(4)
        .stderr_has("agent key");
    // ssh-add adds agent_key-cert.pub with the key.
    agent.add(&key);
    w.run_with_config(&config, "echo via-agent-certificate")
        .env("SSH_AUTH_SOCK", &agent.socket)
        .run()
        .code(0)
        .stdout_has("via-agent-certificate");
}

#[test]
fn expired_not_yet_valid_and_wrong_principal_certificates_say_what_is_wrong() {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let user = current_user();
    let expired = ca.sign_client(
        &w,
        "expired",
        &["-I", "old-id", "-n", &user, "-V", "-2h:-1h"],
    );
    let early = ca.sign_client(
        &w,
        "early",
        &["-I", "early-id", "-n", &user, "-V", "+1h:+2h"],
    );
    let wrong = ca.sign_client(
        &w,
        "wrong",
        &["-I", "wrong-id", "-n", "somebody-else", "-V", "-5m:+1h"],
    );
    let mut extra = String::new();
    for cert in [&expired, &early, &wrong] {
        let _ = writeln!(extra, "  CertificateFile {}", cert.display());
    }
    let config = user_certificate_world(&mut w, &ca, 124, &extra);
    let ran = w
        .run_with_config(&config, "true")
        .run()
        .code(4)
        .stderr_has("authentication failed");
    let line = |id: &str| {
        ran.stderr
            .lines()
            .find(|l| l.contains(&format!("key ID '{id}'")))
            .unwrap_or_else(|| panic!("no line for certificate {id}:\n{}", ran.stderr))
            .to_owned()
    };
    let old = line("old-id");
    assert!(old.contains(&expired.display().to_string()), "{old}");
    assert!(old.contains(&format!("principals {user}")), "{old}");
    assert!(old.contains("valid from "), "{old}");
    assert!(old.contains("not accepted: expired at "), "{old}");
    assert!(line("early-id").contains("not accepted: not valid yet (until "));
    assert!(line("wrong-id").contains(&format!(
        "not accepted: the login user '{user}' is not among its principals (somebody-else)"
    )));
    // The certificates come before their key.
    let at = |needle: &str| ran.stderr.find(needle).unwrap();
    assert!(at("old-id") < at(&format!("{} (ED25519", w.client_key.display())));
    assert_ne!(
        stock_ssh(&w, &config, "certhost").0,
        0,
        "stock ssh logged in"
    );
}

#[test]
fn a_fido_key_is_said_to_be_unsupported() {
    use roadie::known_hosts::fingerprint;
    use russh::keys::ssh_key::public::{Ed25519PublicKey, KeyData, SkEd25519};
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let fido = w.path("fido_key");
    let key = russh::keys::PublicKey::from(KeyData::SkEd25519(SkEd25519::new(
        Ed25519PublicKey([7; 32]),
        "ssh:".to_owned(),
    )));
    std::fs::write(&fido, "not readable without the security key\n").unwrap();
    std::fs::write(w.path("fido_key.pub"), key.to_openssh().unwrap()).unwrap();
    let config = user_certificate_world(&mut w, &ca, 125, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            &format!("IdentityFile {}", w.client_key.display()),
            &format!("IdentityFile {}", fido.display()),
        ),
    )
    .unwrap();
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write(
        "roadie.yaml",
        &text.replace("    identity: client_key\n", ""),
    );
    w.run_with_config(&config, "true")
        .run()
        .code(4)
        .stderr_has(&format!(
            "{} (sk-ssh-ed25519@openssh.com {}): not supported",
            fido.display(),
            fingerprint(&key)
        ))
        .stderr_has("FIDO security keys");
}

/// A server on 127.0.0.`last` presenting a host certificate signed by `ca`
/// with `options`; known_hosts holds only `known` (the harness's plain
/// lines are replaced), and `staging` is the server. Returns its entry.
fn host_certificate_world(
    w: &mut World,
    ca: &Ca,
    last: u8,
    options: &[&str],
    known: &str,
) -> String {
    let dir = w.path(&format!("server{}", w.servers.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let host_key = dir.join("ssh_host_ed25519_key");
    roadie::sandbox::ensure_key(&host_key, "host").unwrap();
    let cert = ca.sign(
        &PathBuf::from(format!("{}.pub", host_key.display())),
        options,
    );
    let line = format!("HostCertificate {}", cert.display());
    let s = w.server_with(&[addr(last)], &[&line]);
    std::fs::write(&w.known_hosts, known).unwrap();
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    entry
}

/// A world whose `staging` is a server on 127.0.0.`last` with a valid
/// host certificate, and whose known_hosts trusts only its CA, for every
/// host. Returns the server's entry.
fn trusted_host(last: u8) -> (World, Ca, String) {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let trust = format!("@cert-authority * {}\n", ca.public());
    let principal = format!("127.0.0.{last}");
    let options = ["-h", "-I", "h", "-n", &principal, "-V", "-5m:+1h"];
    let entry = host_certificate_world(&mut w, &ca, last, &options, &trust);
    (w, ca, entry)
}

/// With `known` as known_hosts, `staging` is refused for its host key,
/// saying `why`.
fn refused_with(w: &World, known: &str, why: &str) {
    std::fs::write(&w.known_hosts, known).unwrap();
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(4)
        .stderr_has(why);
}

/// An ssh_config for stock ssh to `entry` with the world's key and known_hosts.
fn ssh_config_for(w: &World, entry: &str) -> PathBuf {
    let (ip, port) = entry.split_once(':').unwrap();
    w.write(
        "ssh_config",
        &format!(
            "Host certhost\n  HostName {ip}\n  Port {port}\n  User {}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            current_user(),
            w.client_key.display(),
            w.known_hosts.display()
        ),
    )
}

#[test]
fn host_certificate_from_a_trusted_ca_is_accepted_as_by_ssh() {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let known = format!(
        "@cert-authority 127.0.0.126,[127.0.0.126]:* {}\n",
        ca.public()
    );
    let entry = host_certificate_world(
        &mut w,
        &ca,
        126,
        &["-h", "-I", "host-id", "-n", "127.0.0.126", "-V", "-5m:+1h"],
        &known,
    );
    w.roadie()
        .args(["run", "staging", "--", "echo trusted-host"])
        .run()
        .code(0)
        .stdout_has("trusted-host");
    let config = ssh_config_for(&w, &entry);
    assert_eq!(
        stock_ssh(&w, &config, "certhost").0,
        0,
        "stock ssh with the same known_hosts"
    );
    // A CA line for other hosts does not vouch for this one.
    let elsewhere = format!("@cert-authority 127.0.0.9 {}\n", ca.public());
    refused_with(&w, &elsewhere, "host key");
}

#[test]
fn host_certificates_wrong_principal_expired_or_revoked_ca_are_refused_saying_why() {
    let mut w = World::new();
    let ca = Ca::new(&w, "ca");
    let trust = format!("@cert-authority * {}\n", ca.public());
    let check = |w: &World, entry: &str, why: &str| {
        w.roadie()
            .args(["run", "staging", "--", "true"])
            .run()
            .code(4)
            .stderr_has("presented a host certificate that known_hosts")
            .stderr_has(why);
        let config = ssh_config_for(w, entry);
        let (code, stderr) = stock_ssh(w, &config, "certhost");
        assert_ne!(code, 0, "stock ssh accepted it: {stderr}");
    };
    let entry = host_certificate_world(
        &mut w,
        &ca,
        127,
        &[
            "-h",
            "-I",
            "h",
            "-n",
            "elsewhere.example.org",
            "-V",
            "-5m:+1h",
        ],
        &trust,
    );
    check(
        &w,
        &entry,
        "the host '127.0.0.127' is not among its principals (elsewhere.example.org)",
    );
    let entry = host_certificate_world(
        &mut w,
        &ca,
        128,
        &["-h", "-I", "h", "-n", "127.0.0.128", "-V", "-2h:-1h"],
        &trust,
    );
    check(&w, &entry, "expired at ");
    let revoked = format!("{trust}@revoked * {}\n", ca.public());
    let entry = host_certificate_world(
        &mut w,
        &ca,
        129,
        &["-h", "-I", "h", "-n", "127.0.0.129", "-V", "-5m:+1h"],
        &revoked,
    );
    check(&w, &entry, "the CA key ED25519 SHA256:");
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .stderr_has("is marked @revoked at ");
    // A plain key recorded for the host keeps working, as in ssh.
    let plain =
        roadie::sandbox::known_hosts_line(addr(128), w.servers[1].port, &w.servers[1].host_key)
            .unwrap();
    std::fs::write(&w.known_hosts, format!("{trust}{plain}\n")).unwrap();
    w.inventory("staging", &[w.entries(1)[0].clone()], "");
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(0);
}

#[test]
fn a_pinned_production_key_does_not_hide_behind_a_host_certificate() {
    use roadie::known_hosts::fingerprint;
    let (w, _ca, entry) = trusted_host(130);
    // Only the CA vouches for the server: it presents its certificate.
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(0);
    let pinned = fingerprint(&w.servers[0].host_key);
    w.inventory(
        "staging",
        std::slice::from_ref(&entry),
        &format!(
            "  production:\n    protected: true\n    hosts: [production.example.invalid]\n    \
             host_keys: [\"{pinned}\"]\n"
        ),
    );
    let wiped = w.path("wiped");
    w.roadie()
        .args([
            "run",
            "staging",
            "--destroy",
            "--",
            &format!("touch {}", wiped.display()),
        ])
        .run()
        .code(3)
        .stderr_has("refused by the pinned-host-key lock")
        .stderr_has(&pinned);
    assert!(!wiped.exists(), "the destroy step ran");
}

#[test]
fn a_kept_connection_to_a_host_trusted_through_its_ca_judges_the_certificate_each_time() {
    let (w, ca, entry) = trusted_host(131);
    w.inventory("staging", &[entry], "    persist: 60s\n");
    let session = || {
        w.roadie()
            .args(["run", "staging", "--", "echo $PPID"])
            .run()
            .code(0)
            .stdout
    };
    let first = session();
    assert_eq!(session(), first, "the second run logged in again");
    // The holder's record is judged by each invocation: a CA revoked since
    // refuses the kept connection too.
    let revoked = format!("@cert-authority * {0}\n@revoked * {0}\n", ca.public());
    refused_with(&w, &revoked, "is marked @revoked at ");
    w.roadie().args(["persist", "stop"]).run().code(0);
}
