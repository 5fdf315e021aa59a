//! The keyed safeguards against real hosts with addresses of their own: a
//! staging host and a production host in network namespaces, each with its
//! own sshd, host key, login key and data. Every test checks that the
//! production data is untouched and that the refusal names its lock.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use roadie::known_hosts::fingerprint;
use roadie::sandbox::{Server, ensure_key, known_hosts_line};

use crate::support::netns::{Lan, NetHost, put};
use crate::support::{Ran, World, current_user};

const PRODUCTION_DATA: &str = "production data\n";

/// A staging host and a production host.
struct Estate {
    w: World,
    site: PathBuf,
    staging: Node,
    production: Node,
    _servers: Vec<Server>,
    _lan: Lan,
}

struct Node {
    net: NetHost,
    data: PathBuf,
    fingerprint: String,
}

impl Estate {
    /// `production_takes_staging_key`: production also accepts the staging
    /// login key (someone copied it over), so that only the other locks stand.
    fn new(production_takes_staging_key: bool) -> Estate {
        let w = World::new();
        let mut lan = Lan::new();
        let site = w.path("site");
        std::fs::create_dir_all(&site).unwrap();
        let staging_public =
            std::fs::read_to_string(format!("{}.pub", w.client_key.display())).unwrap();
        let production_public = ensure_key(&w.path("production_key"), "production")
            .unwrap()
            .to_openssh()
            .unwrap();
        let mut servers = Vec::new();
        let mut known = String::new();
        let mut nodes = Vec::new();
        for (name, keys) in [
            ("staging", staging_public.clone()),
            (
                "production",
                if production_takes_staging_key {
                    format!("{production_public}\n{staging_public}")
                } else {
                    format!("{production_public}\n")
                },
            ),
        ] {
            let net = lan.host();
            let data = w.path(&format!("data-{name}"));
            put(&data.join("db.marker"), &format!("{name} data\n"));
            put(&data.join("roadie-environment"), &format!("{name}\n"));
            put(
                &data.join(".env"),
                &format!("DJANGO_ENV={name}\nDJANGO_SECRET_KEY=s3cret-{name}\n"),
            );
            let authorized = w.write(&format!("authorized_keys_{name}"), &keys);
            let server = net.sshd(
                &w.path(&format!("sshd-{name}")),
                &authorized,
                name,
                &data,
                &site,
            );
            known.push_str(&known_hosts_line(net.address, 22, &server.host_key).unwrap());
            known.push('\n');
            nodes.push(Node {
                fingerprint: fingerprint(&server.host_key),
                net,
                data,
            });
            servers.push(server);
        }
        std::fs::write(&w.known_hosts, known).unwrap();
        let production = nodes.pop().unwrap();
        let staging = nodes.pop().unwrap();
        Estate {
            w,
            site,
            staging,
            production,
            _servers: servers,
            _lan: lan,
        }
    }

    /// An environment block: `hosts`, the user, its login key and known_hosts,
    /// and `extra` lines.
    fn env(name: &str, hosts: &[String], key: &str, extra: &[String]) -> String {
        let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        let mut text = format!(
            "  {name}:\n    hosts: [{}]\n    user: \"{}\"\n    identity: {key}\n    known_hosts: known_hosts\n",
            hosts.join(", "),
            current_user()
        );
        for line in extra {
            writeln!(text, "    {line}").unwrap();
        }
        text
    }

    fn inventory(&self, environments: &[String]) {
        self.w.write(
            "roadie.yaml",
            &format!("environments:\n{}", environments.concat()),
        );
    }

    /// A staging environment over `node` that requires `marker`, and a
    /// protected production environment that pins no key.
    fn marker_inventory(&self, node: &Node, marker: &str) {
        self.inventory(&[
            Estate::env(
                "staging",
                &[Estate::ip(node)],
                "client_key",
                &[format!("marker: {marker}")],
            ),
            Estate::env(
                "production",
                &["production.example.invalid".into()],
                "production_key",
                &["protected: true".into()],
            ),
        ]);
    }

    /// The usual production environment: protected, pinned, its own key.
    fn production_env(&self, hosts: &[String]) -> String {
        Estate::env(
            "production",
            hosts,
            "production_key",
            &[
                "protected: true".into(),
                format!("host_keys: [\"{}\"]", self.production.fingerprint),
            ],
        )
    }

    fn destroy_command(&self) -> String {
        format!("echo wiped > {}/db.marker", self.site.display())
    }

    fn ip(node: &Node) -> String {
        node.net.address.to_string()
    }

    fn assert_production_untouched(&self) {
        let data = std::fs::read_to_string(self.production.data.join("db.marker")).unwrap();
        assert_eq!(data, PRODUCTION_DATA, "production data was changed");
    }
}

fn refused(ran: Ran, lock: &str) -> Ran {
    ran.code(3)
        .stderr_has(&format!("refused by the {lock} lock"))
}

#[test]
fn staging_alias_whose_hostname_is_production_is_caught_by_the_pinned_key() {
    let e = Estate::new(true);
    e.w.write(
        "ssh_config",
        &format!(
            "Host staging-db\n  HostName {}\n",
            Estate::ip(&e.production)
        ),
    );
    // Production is listed by a name that no longer matches the alias's
    // address, so only the host key can tell.
    e.inventory(&[
        Estate::env("staging", &["staging-db".into()], "client_key", &[]),
        e.production_env(&["production.example.invalid".into()]),
    ]);
    let ran =
        e.w.roadie()
            .args([
                "-F",
                "ssh_config",
                "run",
                "staging",
                "--destroy",
                "--",
                &e.destroy_command(),
            ])
            .run();
    refused(ran, "pinned-host-key")
        .stderr_has(&e.production.fingerprint)
        .stderr_has("pinned under the protected environment 'production'")
        .stderr_has("reached as 'staging'");
    e.assert_production_untouched();
    // A change (ad-hoc run) is refused too without --confirm production.
    let ran =
        e.w.roadie()
            .args(["-F", "ssh_config", "run", "staging", "--", "true"])
            .run();
    refused(ran, "pinned-host-key").stderr_has("--confirm production");
}

#[test]
fn stale_hosts_entry_pointing_staging_at_production() {
    let e = Estate::new(true);
    let hosts = e.w.write(
        "hosts",
        &format!(
            "127.0.0.1 localhost\n{} staging.example.test\n{} production.example.test\n",
            Estate::ip(&e.production),
            Estate::ip(&e.production)
        ),
    );
    // The names were used before, when they were right.
    let mut known = std::fs::read_to_string(&e.w.known_hosts).unwrap();
    for (name, node) in [
        ("staging.example.test", &e.staging),
        ("production.example.test", &e.production),
    ] {
        let line = known
            .lines()
            .find(|l| l.starts_with(&format!("{} ", Estate::ip(node))))
            .unwrap()
            .to_owned();
        known.push_str(&line.replacen(&Estate::ip(node), name, 1));
        known.push('\n');
    }
    std::fs::write(&e.w.known_hosts, known).unwrap();
    // Both names resolving to one address: the inventory-sanity lock stops
    // everything as soon as the inventory is read. Production listed by
    // another name: the pinned key still knows it.
    for (production_name, lock) in [
        (
            "production.example.test",
            "refused by the inventory-sanity lock",
        ),
        (
            "production.example.invalid",
            "refused by the pinned-host-key lock",
        ),
    ] {
        e.inventory(&[
            Estate::env(
                "staging",
                &["staging.example.test".into()],
                "client_key",
                &[],
            ),
            e.production_env(&[production_name.into()]),
        ]);
        let ran =
            e.w.roadie_with_hosts_file(&hosts)
                .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
                .run()
                .stderr_has(lock);
        assert_eq!(ran.code, 3, "{}", ran.stderr);
        assert!(
            ran.stderr.contains("staging.example.test"),
            "{}",
            ran.stderr
        );
        e.assert_production_untouched();
    }
}

#[test]
fn production_key_pinned_but_its_entry_unprotected() {
    let e = Estate::new(false);
    e.inventory(&[
        Estate::env(
            "legacy",
            &[Estate::ip(&e.production)],
            "production_key",
            &[],
        ),
        e.production_env(&[]),
    ]);
    for flags in [&["--destroy"][..], &[][..], &["--confirm", "legacy"][..]] {
        let ran =
            e.w.roadie()
                .args(["run", "legacy"])
                .args(flags)
                .args(["--", &e.destroy_command()])
                .run();
        refused(ran, "pinned-host-key");
        e.assert_production_untouched();
    }
    // The Rust API refuses the connection itself, before logging in.
    let project = roadie::blocking::Project::load(&e.w.path("roadie.yaml")).unwrap();
    match project.connect("legacy") {
        Err(roadie::Error::Refused(refusal)) => {
            assert_eq!(refusal.lock, roadie::Lock::PinnedHostKey);
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("connected to production for fixtures"),
    }
    // Naming production itself lets a change through: it *is* production.
    e.w.roadie()
        .args(["run", "legacy", "--confirm", "production", "--", "hostname"])
        .run()
        .code(0)
        .stdout_has("production");
}

/// Production holds an Ed25519 and an ECDSA host key; only the ECDSA one
/// is pinned. Reached through a staging entry, the server presents its
/// Ed25519 key, but announces both after login: refused before any command.
#[test]
fn pinned_key_of_another_type_than_the_one_negotiated() {
    let mut w = World::new();
    let ecdsa = w.path("ssh_host_ecdsa_key");
    crate::support::sh(
        "ssh-keygen",
        &["-q", "-t", "ecdsa", "-N", "", "-f", ecdsa.to_str().unwrap()],
        &[],
    );
    let pinned = crate::support::sh(
        "ssh-keygen",
        &["-l", "-f", &format!("{}.pub", ecdsa.display())],
        &[],
    );
    let pinned = pinned.split_whitespace().nth(1).unwrap().to_owned();
    let host_key_line = format!("HostKey {}", ecdsa.display());
    let s = w.server_with(&[crate::support::addr(61)], &[&host_key_line]);
    let entry = w.entries(s)[0].clone();
    w.inventory(
        "staging",
        std::slice::from_ref(&entry),
        &format!(
            "  production:\n    protected: true\n    hosts: [production.example.invalid]\n    \
             host_keys: [\"{pinned}\"]\n"
        ),
    );
    let wiped = w.path("wiped");
    let ran = w
        .roadie()
        .args([
            "run",
            "staging",
            "--destroy",
            "--",
            &format!("touch {}", wiped.display()),
        ])
        .run();
    refused(ran, "pinned-host-key")
        .stderr_has(&pinned)
        .stderr_has("protected environment 'production'");
    assert!(!wiped.exists(), "the destroy step ran");
    w.roadie()
        .args(["hosts", "staging", "--check"])
        .run()
        .code(0)
        .stdout_has("treated as 'production'");
    // A change needs production named, as on production itself.
    refused(
        w.roadie().args(["run", "staging", "--", "true"]).run(),
        "pinned-host-key",
    );
}

#[test]
fn staging_identity_offered_to_production_cannot_log_in() {
    let e = Estate::new(false);
    // No pins and nothing protected: only the login key stands in the way.
    e.inventory(&[Estate::env(
        "staging",
        &[Estate::ip(&e.production)],
        "client_key",
        &[],
    )]);
    e.w.roadie()
        .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
        .run()
        .code(4)
        .stderr_has("authentication failed")
        .stderr_has("environment-key lock");
    e.assert_production_untouched();
}

#[test]
fn server_marker_names_production() {
    let e = Estate::new(true);
    let marker = format!("{}/roadie-environment", e.site.display());
    // Production exists in the inventory (protected) but pins no key.
    e.marker_inventory(&e.production, &marker);
    let ran =
        e.w.roadie()
            .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
            .run();
    refused(ran, "server-marker").stderr_has("names the protected environment 'production'");
    e.assert_production_untouched();
    // On the real staging host the marker agrees, and the step runs.
    e.marker_inventory(&e.staging, &marker);
    e.w.roadie()
        .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
        .run()
        .code(0);
    let staging = std::fs::read_to_string(e.staging.data.join("db.marker")).unwrap();
    assert_eq!(staging, "wiped\n");
    // A required marker that is missing refuses too.
    std::fs::remove_file(e.staging.data.join("roadie-environment")).unwrap();
    let ran =
        e.w.roadie()
            .args(["run", "staging", "--destroy", "--", "true"])
            .run();
    refused(ran, "server-marker").stderr_has("is missing on the server");
}

#[test]
fn env_marker_in_the_servers_dotenv() {
    let e = Estate::new(true);
    let env_file = format!("env_file: \"{}/.env\"", e.site.display());
    e.inventory(&[
        Estate::env(
            "staging",
            &[Estate::ip(&e.production)],
            "client_key",
            &[format!("vars: {{{env_file}}}")],
        ),
        Estate::env(
            "production",
            &["production.example.invalid".into()],
            "production_key",
            &[
                "protected: true".into(),
                "env_marker: [\"DJANGO_ENV=prod*\"]".into(),
                format!("vars: {{{env_file}}}"),
            ],
        ),
    ]);
    let ran =
        e.w.roadie()
            .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
            .run();
    refused(ran, "server-marker").stderr_has("DJANGO_ENV=prod*");
    e.assert_production_untouched();
}

/// A wrong alias lands on production, whose `.env` lives where production's
/// own `env_file` template puts it for production's own host names: found
/// there, and refused. With no `.env` to tell the server apart, refused too.
#[test]
fn env_marker_found_where_production_keeps_its_dotenv() {
    let e = Estate::new(true);
    // Each server sees its own data directory at the site path.
    let production_site = e.production.data.join("production.example.invalid");
    std::fs::create_dir_all(&production_site).unwrap();
    std::fs::write(production_site.join(".env"), "DJANGO_ENV=production\n").unwrap();
    e.inventory(&[
        Estate::env("staging", &[Estate::ip(&e.production)], "client_key", &[]),
        Estate::env(
            "production",
            &["production.example.invalid".into()],
            "production_key",
            &[
                "protected: true".into(),
                "env_marker: [\"DJANGO_ENV=production\"]".into(),
                format!(
                    "vars: {{env_file: \"{}/{{{{ host }}}}/.env\"}}",
                    e.site.display()
                ),
            ],
        ),
    ]);
    let ran =
        e.w.roadie()
            .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
            .run();
    refused(ran, "server-marker")
        .stderr_has("production.example.invalid/.env matches DJANGO_ENV=production");
    e.assert_production_untouched();
    std::fs::remove_file(production_site.join(".env")).unwrap();
    let ran =
        e.w.roadie()
            .args(["run", "staging", "--destroy", "--", &e.destroy_command()])
            .run();
    refused(ran, "server-marker").stderr_has("cannot be told apart");
    e.assert_production_untouched();
}

#[test]
fn destroy_on_a_protected_environment_whatever_the_flags() {
    let e = Estate::new(false);
    e.inventory(&[e.production_env(&[Estate::ip(&e.production)])]);
    let attempts: &[&[&str]] = &[
        &[],
        &["--confirm", "production"],
        &["--confirm", "production", "--accept-new"],
        &["--confirm", "production", "--insecure-ignore-host-key"],
        &["--confirm", "production", "--sudo", "--parallel", "1"],
        &["--confirm", "production", "--check"],
    ];
    for flags in attempts {
        let ran =
            e.w.roadie()
                .args(["--json", "run", "production", "--destroy"])
                .args(*flags)
                .args(["--", &e.destroy_command()])
                .run();
        let events = ran.events();
        let host = events.iter().find(|e| e["event"] == "host").unwrap();
        assert_eq!(host["status"], "refused", "{flags:?}: {events:?}");
        assert_eq!(host["lock"], "protected_environment", "{flags:?}");
        assert_eq!(ran.code, 3, "{flags:?}");
        e.assert_production_untouched();
    }
    // Playbook tasks: a shipped destroy task, and one that does not say
    // what it does (taken as destroy), even with every flag.
    std::fs::create_dir_all(e.w.path("playbooks")).unwrap();
    e.w.write(
        "playbooks/ours.yaml",
        &format!(
            "tasks:\n  wipe:\n    steps:\n      - run: {}\n",
            e.destroy_command()
        ),
    );
    for task in [
        &["flush"][..],
        &["wipe"][..],
        &["create_session", "--param", "email=x@y.z"][..],
    ] {
        for flags in [&[][..], &["--confirm", "production", "--check"][..]] {
            let ran =
                e.w.roadie()
                    .args(["task", "production"])
                    .args(task)
                    .args(flags)
                    .run();
            refused(ran, "protected-environment");
            e.assert_production_untouched();
        }
    }
    // The Rust API goes through the same locks.
    let project = roadie::blocking::Project::load(&e.w.path("roadie.yaml")).unwrap();
    let Err(refused) = project.connect("production") else {
        panic!("connected to production for fixtures");
    };
    assert!(matches!(refused, roadie::Error::Refused(_)), "{refused}");
    let production = project
        .connect_confirmed("production", "production")
        .unwrap();
    let refused = production.task("wipe").run().unwrap_err();
    assert!(matches!(refused, roadie::Error::Refused(_)), "{refused}");
    e.assert_production_untouched();
}

#[test]
fn confirm_must_name_the_protected_environment() {
    let e = Estate::new(false);
    e.inventory(&[
        Estate::env("staging", &[Estate::ip(&e.staging)], "client_key", &[]),
        e.production_env(&[Estate::ip(&e.production)]),
    ]);
    let change = format!("echo changed > {}/db.marker", e.site.display());
    for wrong in ["prod", "Production", "staging", "yes", "production "] {
        let ran =
            e.w.roadie()
                .args(["run", "production", "--confirm", wrong, "--", &change])
                .run();
        refused(ran, "protected-environment").stderr_has("does not name it");
        e.assert_production_untouched();
    }
    // Several hosts, one refused: nothing runs anywhere.
    let ran =
        e.w.roadie()
            .args(["run", "staging,production", "--", &change])
            .run()
            .code(3);
    assert!(ran.stderr.contains("not run"), "{}", ran.stderr);
    assert_eq!(
        std::fs::read_to_string(e.staging.data.join("db.marker")).unwrap(),
        "staging data\n"
    );
    e.w.roadie()
        .args([
            "run",
            "production",
            "--confirm",
            "production",
            "--",
            &change,
        ])
        .run()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(e.production.data.join("db.marker")).unwrap(),
        "changed\n"
    );
}

#[test]
fn hosts_check_shows_locks_and_the_destroy_verdict() {
    let e = Estate::new(true);
    e.w.write(
        "ssh_config",
        &format!(
            "Host staging-db\n  HostName {}\n",
            Estate::ip(&e.production)
        ),
    );
    e.inventory(&[
        Estate::env(
            "staging",
            &[Estate::ip(&e.staging), "staging-db".into()],
            "client_key",
            &[],
        ),
        e.production_env(&["production.example.invalid".into()]),
    ]);
    let ran =
        e.w.roadie()
            .args(["-F", "ssh_config", "--json", "hosts", "staging", "--check"])
            .run()
            .code(0);
    let events = ran.events();
    assert_eq!(events[0]["destroy"], "allowed", "{events:?}");
    assert_eq!(events[1]["destroy_lock"], "pinned_host_key", "{events:?}");
    let locks = events[1]["locks"].to_string();
    assert!(locks.contains("treated as 'production'"), "{locks}");
    assert!(
        events[1]["host_key"]
            .as_str()
            .unwrap()
            .contains(&e.production.fingerprint)
    );
    assert!(
        events[0]["locks"]
            .to_string()
            .contains("only 'staging''s identity"),
        "{events:?}"
    );
}

#[test]
fn audit_log_records_runs_and_refusals_without_secrets() {
    let e = Estate::new(false);
    e.inventory(&[
        Estate::env("staging", &[Estate::ip(&e.staging)], "client_key", &[]),
        e.production_env(&[Estate::ip(&e.production)]),
    ]);
    e.w.roadie()
        .args(["run", "staging", "--env", "API_TOKEN=hunter2", "--", "true"])
        .run()
        .code(0);
    e.w.roadie()
        .args(["run", "production", "--destroy", "--", "true"])
        .run()
        .code(3);
    let log = std::fs::read_to_string(e.w.home.join(".local/state/roadie/audit.jsonl")).unwrap();
    assert!(
        !log.contains("hunter2"),
        "a secret reached the audit log:\n{log}"
    );
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["host"], Estate::ip(&e.staging));
    assert_eq!(lines[0]["class"], "change");
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["fingerprint"], e.staging.fingerprint.as_str());
    assert!(lines[0]["step"].as_str().unwrap().contains("API_TOKEN=..."));
    assert_eq!(lines[1]["class"], "destroy");
    assert_eq!(lines[1]["outcome"], "refused");
    assert_eq!(lines[1]["lock"], "protected_environment");
    assert_eq!(lines[1]["user"], current_user());
    assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn dead_dns_for_production_names_does_not_hold_up_staging() {
    // A name server that never answers, and a protected environment whose
    // hosts only it could resolve: the address check must give up on them
    // together, within its deadline, rather than wait for each in turn.
    let (w, _) = World::one_host(9);
    let silent = std::net::UdpSocket::bind("127.0.0.153:53").expect("bind a UDP port 53");
    let resolv = w.write(
        "resolv.conf",
        // Each name alone would take 50 s to give up on (10 s, 5 attempts).
        "nameserver 127.0.0.153\noptions timeout:10 attempts:5\n",
    );
    let hosts = w.write("hosts", "127.0.0.1 localhost\n");
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write(
        "roadie.yaml",
        &format!(
            "{text}  production:\n    protected: true\n    hosts: [a.prod.example.test, b.prod.example.test, c.prod.example.test]\n"
        ),
    );
    let started = std::time::Instant::now();
    w.roadie_with_files(&[(&hosts, "/etc/hosts"), (&resolv, "/etc/resolv.conf")])
        .args(["run", "staging", "--", "echo ok"])
        .run_within(Duration::from_secs(60))
        .code(0)
        .stdout_has("ok");
    let took = started.elapsed();
    // The lookups' deadline (3 s) and a login, with room for a busy machine.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    drop(silent);
}
