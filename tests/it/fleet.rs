//! Fan-out to many hosts: logins bounded per server (`--max-starts`), a
//! fleet split into shards (`--shard`), and where a call's time goes
//! (`--timings`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::support::{Ran, World, addr};

/// sshd's own default: past 10 unauthenticated connections, drop at random.
const STOCK_MAX_STARTUPS: &str = "MaxStartups 10:30:100";

/// Append to `config` 16 ssh_config names (`siteN`, numbered after those in
/// `names`) for `address:port`, each with `extra` lines.
fn sixteen_sites(config: &mut String, names: &mut Vec<String>, server: &str, extra: &str) {
    let (address, port) = server.split_once(':').unwrap();
    for _ in 0..16 {
        let name = format!("site{}", names.len() + 1);
        writeln!(
            config,
            "Host {name}\n  HostName {address}\n  Port {port}\n{extra}"
        )
        .unwrap();
        names.push(name);
    }
}

/// Two sshds with sshd's default `MaxStartups`, each reached under 16 names
/// (sites on one staging machine): `-F ssh_config` reaches `site1` to
/// `site32`.
fn two_busy_servers() -> World {
    let mut w = World::new();
    let (mut config, mut names) = (String::new(), Vec::new());
    for last in [81, 82] {
        let index = w.server_with(&[addr(last)], &[STOCK_MAX_STARTUPS]);
        sixteen_sites(&mut config, &mut names, &w.entries(index)[0], "");
    }
    w.inventory("staging", &names, "");
    w.write("ssh_config", &config);
    w
}

/// 32 sites on one server, reached through one jump host, both with sshd's
/// default `MaxStartups`.
fn busy_jump_host() -> World {
    let mut w = World::new();
    let jump = w.server_with(&[addr(83)], &[STOCK_MAX_STARTUPS]);
    let target = w.server_with(&[addr(84)], &[STOCK_MAX_STARTUPS]);
    let (hop_address, hop_port) = w.entries(jump)[0]
        .clone()
        .split_once(':')
        .map(|(a, p)| (a.to_owned(), p.to_owned()))
        .unwrap();
    let mut config = format!(
        "Host hop\n  HostName {hop_address}\n  Port {hop_port}\n  IdentityFile {}\n  UserKnownHostsFile {}\n",
        w.client_key.display(),
        w.known_hosts.display()
    );
    let mut names = Vec::new();
    let server = w.entries(target)[0].clone();
    sixteen_sites(&mut config, &mut names, &server, "  ProxyJump hop\n");
    sixteen_sites(&mut config, &mut names, &server, "  ProxyJump hop\n");
    w.inventory("staging", &names, "");
    w.write("ssh_config", &config);
    w
}

/// `true` on all 32 sites at once.
fn run_everywhere(w: &World, extra: &[&str]) -> Ran {
    w.roadie()
        .args(["-F", "ssh_config"])
        .args(extra)
        .args(["run", "staging", "--parallel", "32", "--", "true"])
        .run()
}

/// `rounds` runs on every host with the default --max-starts, none lost.
fn every_host_kept(w: &World, rounds: u32) {
    for round in 1..=rounds {
        let ran = run_everywhere(w, &[]);
        assert_eq!(
            ran.code, 0,
            "round {round}: a host was lost\nstdout:\n{}\nstderr:\n{}",
            ran.stdout, ran.stderr
        );
    }
}

#[test]
fn max_starts_keeps_every_host_behind_a_default_max_startups() {
    every_host_kept(&two_busy_servers(), 3);
}

/// Every host behind one jump host goes through one connection to it: the
/// bastion sees one login per run, and the logins to the servers behind it
/// are bounded as any others.
#[test]
fn hosts_behind_one_jump_host_share_one_connection_to_it() {
    let w = busy_jump_host();
    every_host_kept(&w, 2);
    let jump_log = std::fs::read_to_string(&w.servers[0].log).unwrap();
    assert_eq!(
        jump_log.matches("Accepted publickey").count(),
        2,
        "one login to the jump host per run:\n{jump_log}"
    );
}

/// sshd goes on counting a login among its `MaxStartups` for a moment after
/// the client has seen it succeed (until its monitor has forked the session
/// process), so a login's slot is held until the server has answered a
/// channel open: with one slot per server, a second login waits for that.
#[tokio::test]
async fn a_login_slot_is_held_until_the_server_answers_after_login() {
    use roadie::{Inventory, Overrides, RemoteCommand, Resolver, Session};
    use std::time::Duration;

    let mut w = World::new();
    let s = w.server(&[addr(85)]);
    w.inventory("staging", &w.entries(s), "");
    let inventory = Inventory::load(&w.path("roadie.yaml")).unwrap();
    let overrides = Overrides {
        ssh_config: Some("none".into()),
        max_starts: Some(1),
        ..Overrides::default()
    };
    let host = Resolver::new(&inventory, &overrides)
        .resolve("staging")
        .unwrap()
        .remove(0);
    let first = Session::connect(&host).await.unwrap();
    let second = tokio::spawn({
        let host = host.clone();
        async move { Session::connect(&host).await }
    });
    // A login on loopback takes some 50 ms; this one must not start at all.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !second.is_finished(),
        "a second login went ahead before the first one's server answered a channel open"
    );
    let ran = first.run(&RemoteCommand::argv(&["true"])).await.unwrap();
    assert!(ran.status.success());
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second login goes ahead once the first has run a command")
        .unwrap()
        .unwrap();
    assert!(
        second
            .run(&RemoteCommand::argv(&["true"]))
            .await
            .unwrap()
            .status
            .success()
    );
}

/// The hosts that ran, as `host` events of `roadie --json run` say.
fn hosts_that_ran(ran: &Ran) -> Vec<String> {
    ran.events()
        .iter()
        .filter(|e| e["event"] == "host" && e["status"] == "ok")
        .map(|e| e["host"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn shards_cover_every_host_exactly_once() {
    let mut w = World::new();
    let s = w.server(&[addr(91), addr(92), addr(93), addr(94), addr(95)]);
    let entries = w.entries(s);
    w.inventory("staging", &entries, "");
    let shard = |spec: &str| {
        let ran = w
            .roadie()
            .env("ROADIE_SHARD", spec)
            .args(["--json", "run", "staging", "--", "true"])
            .run()
            .code(0);
        hosts_that_ran(&ran)
    };
    let (first, second) = (shard("1/2"), shard("2/2"));
    let (mut in_first, mut in_second) = (first.clone(), second.clone());
    in_first.sort();
    in_second.sort();
    assert_eq!(
        in_first,
        [&entries[0], &entries[2], &entries[4]].map(String::clone)
    );
    assert_eq!(in_second, [&entries[1], &entries[3]].map(String::clone));
    let every: BTreeSet<String> = first.into_iter().chain(second).collect();
    assert_eq!(every, entries.iter().cloned().collect());

    let listed = w
        .roadie()
        .args(["hosts", "staging", "--shard", "2/3"])
        .run()
        .code(0);
    for (k, entry) in entries.iter().enumerate() {
        assert_eq!(
            listed.stdout.contains(entry.as_str()),
            k % 3 == 1,
            "{}",
            listed.stdout
        );
    }
}

#[test]
fn bad_or_empty_shards_are_refused_in_words() {
    let (w, _) = World::one_host(96);
    for bad in ["0/3", "4/3", "x"] {
        w.roadie()
            .args(["run", "staging", "--shard", bad, "--", "true"])
            .run()
            .code(2)
            .stderr_has(&format!("'{bad}' is not a shard: expected I/N"));
    }
    w.roadie()
        .args(["run", "staging", "--shard", "2/2", "--", "true"])
        .run()
        .code(2)
        .stderr_has("no host of target 'staging' is in this shard (the target has 1 host)");
}

/// The phases of `roadie: timings HOST: ...` lines on stderr, by host, in
/// milliseconds.
fn timings_by_host(stderr: &str) -> Vec<(String, Vec<(String, f64)>)> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("roadie: timings "))
        .map(|rest| {
            let (host, phases) = rest.split_once(": ").expect("HOST: phases");
            let phases = phases
                .split(", ")
                .map(|phase| {
                    let (name, ms) = phase.split_once(' ').expect("NAME TIME");
                    let ms = ms.strip_suffix("ms").expect("in milliseconds");
                    (
                        name.to_owned(),
                        ms.parse().expect("a number of milliseconds"),
                    )
                })
                .collect();
            (host.to_owned(), phases)
        })
        .collect()
}

#[test]
fn timings_name_every_phase_and_the_command_takes_its_own_time() {
    let mut w = World::new();
    let s = w.server(&[addr(97), addr(98)]);
    let entries = w.entries(s);
    w.inventory("staging", &entries, "");
    let ran = w
        .roadie()
        .env("ROADIE_TIMINGS", "1")
        .args(["run", "staging", "--", "sleep 0.3"])
        .run()
        .code(0);
    let mut seen = timings_by_host(&ran.stderr);
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let hosts: Vec<&String> = seen.iter().map(|(host, _)| host).collect();
    assert_eq!(hosts, entries.iter().collect::<Vec<_>>(), "{}", ran.stderr);
    for (host, phases) in &seen {
        let names: Vec<&str> = phases.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "start", "connect", "kex", "auth", "shell", "guard", "command", "total"
            ],
            "{host}"
        );
        let command = phases[6].1;
        assert!(command >= 300.0, "{host}: sleep 0.3 took {command}ms");
        let others: f64 = phases[..6].iter().map(|(_, ms)| ms).sum();
        assert!(others < command, "{host}: {phases:?}");
    }
    let flagged = w
        .roadie()
        .args(["--timings", "run", &entries[0], "--", "true"])
        .run()
        .code(0);
    assert_eq!(
        timings_by_host(&flagged.stderr).len(),
        1,
        "{}",
        flagged.stderr
    );
    let quiet = w
        .roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(0);
    assert!(
        timings_by_host(&quiet.stderr).is_empty(),
        "{}",
        quiet.stderr
    );
}
