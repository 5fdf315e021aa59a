//! roadie's reading of ssh_config, checked against OpenSSH's own (`ssh -G`).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use roadie::ssh_config::{
    ConfigFiles, ForwardAgent, LocalUser, Preset, StrictHostKeyChecking, resolve,
};

const CONFIG: &str = r#"
# A config in the style teams really have.
Host alias
    HostName real.example.org
    User deploy
Match host real.example.org
    Port 2222
    IdentityFile ~/.ssh/id_%h_%r
    IdentityFile "~/.ssh/second key"
Host *.example.org !skip.example.org
    IdentitiesOnly yes
    ForwardAgent yes
    ConnectTimeout 7
Host zeta
    ConnectTimeout none
    ForwardAgent ~/.ssh/agent.%r
    ProxyCommand  sh -c "nc %h %p" # via zeta, as written  
Host other zeta
    ConnectTimeout 0
Match originalhost alias exec "test %n = alias"
    ServerAliveInterval 45
Host other
    ProxyJump admin@j1:2200,j2
    UserKnownHostsFile ~/kh1 /tmp/kh2
    StrictHostKeyChecking accept-new
    HostKeyAlias other-alias
    ProxyCommand nc ignored-after-proxyjump
Include INCLUDED
Match user ci
    Port 2200
Match final host final.example.org
    User via-final
Host short
    HostName final.example.org
Host MixedAlias
    HostName Mixed.Example.ORG
    HostKeyAlias Key.Example.ORG
    IdentityFile ~/.ssh/id_%h
Host Final-Mixed
    HostName FINAL.Example.org
Host *
    User fallback
    ServerAliveCountMax 5
"#;

const INCLUDED: &str = "Host zeta\n    HostName zeta.internal\n    Port 2022\nHost skip.example.org\n    StrictHostKeyChecking no\n    ProxyCommand none\n";

/// `ssh -G`'s view: key → values (several for repeated keys).
fn openssh_view(config: &Path, host: &str, user: Option<&str>) -> HashMap<String, Vec<String>> {
    ssh_g(Command::new("ssh"), config, host, user)
        .unwrap_or_else(|stderr| panic!("ssh -G {host}: {stderr}"))
}

/// What `ssh` (as `command` runs it) prints with `-G -F config [-l user]
/// host`, or what it said on stderr when it refused.
fn ssh_g(
    mut command: Command,
    config: &Path,
    host: &str,
    user: Option<&str>,
) -> Result<HashMap<String, Vec<String>>, String> {
    command.arg("-G").arg("-F").arg(config);
    if let Some(user) = user {
        command.args(["-l", user]);
    }
    let out = command.arg(host).output().expect("ssh (openssh-client)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut view: HashMap<String, Vec<String>> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((key, value)) = line.split_once(' ') {
            view.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    Ok(view)
}

fn one<'a>(view: &'a HashMap<String, Vec<String>>, key: &str) -> &'a str {
    view.get(key)
        .and_then(|v| v.first())
        .map_or("", String::as_str)
}

#[test]
fn matches_openssh_for_hosts_matches_includes_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let included = dir.path().join("included.conf");
    std::fs::write(&included, INCLUDED).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        CONFIG.replace("INCLUDED", included.to_str().unwrap()),
    )
    .unwrap();
    let local = LocalUser::current();

    let cases: &[(&str, Option<&str>)] = &[
        ("alias", None),
        ("other", None),
        ("zeta", None),
        ("skip.example.org", None),
        ("web.example.org", None),
        ("short", None),
        ("unrelated", None),
        ("unrelated", Some("ci")),
        ("alias", Some("ci")),
        // ssh lowercases the host name (not the alias it was given) once the
        // first pass is read; `Host` patterns compare exactly.
        ("MixedAlias", None),
        ("mixedalias", None),
        ("ALIAS", None),
        ("WEB.Example.ORG", None),
        ("Skip.Example.org", None),
        ("Final-Mixed", None),
        ("REAL.example.org", None),
        ("FE80:0::1", None),
        ("::FFFF:127.0.0.1", None),
        ("10.0.0.1", None),
    ];
    for (host, user) in cases {
        compare(&config, host, *user, &local);
    }
}

/// Assert that roadie and `ssh -G` agree on everything roadie uses.
fn compare(config: &Path, host: &str, user: Option<&str>, local: &LocalUser) {
    let home = local.home.display().to_string();
    let openssh = openssh_view(config, host, user);
    let preset = Preset {
        user: user.map(str::to_owned),
        ..Preset::default()
    };
    let ours = resolve(&ConfigFiles::explicit(config), host, &preset, local).unwrap();
    let what = format!("host {host} user {user:?}");
    assert_eq!(ours.hostname, one(&openssh, "hostname"), "hostname, {what}");
    assert_eq!(ours.user, one(&openssh, "user"), "user, {what}");
    let forward_agent = match &ours.forward_agent {
        None | Some(ForwardAgent::No) => "no".to_owned(),
        Some(ForwardAgent::Yes) => "yes".to_owned(),
        Some(ForwardAgent::Socket(path)) => path.display().to_string(),
    };
    assert_eq!(
        forward_agent,
        one(&openssh, "forwardagent"),
        "forwardagent, {what}"
    );
    assert_eq!(
        ours.proxy_command.as_ref().map_or("", |c| c.value.as_str()),
        one(&openssh, "proxycommand"),
        "proxycommand, {what}"
    );
    assert_eq!(ours.port.to_string(), one(&openssh, "port"), "port, {what}");
    if !ours.identity_files.is_empty() {
        // ssh -G shows IdentityFile before its %-tokens are expanded.
        let theirs: Vec<String> = openssh["identityfile"]
            .iter()
            .map(|f| {
                f.replacen('~', &home, 1)
                    .replace("%h", &ours.hostname)
                    .replace("%r", &ours.user)
            })
            .collect();
        let ours: Vec<String> = ours
            .identity_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(ours, theirs, "identityfile, {what}");
    }
    assert_eq!(
        ours.identities_only,
        one(&openssh, "identitiesonly") == "yes",
        "identitiesonly, {what}"
    );
    // ssh -G prints 0 for `ConnectTimeout 0` (no timeout) and none if unset.
    let timeout = ours
        .connect_timeout
        .map_or("none".to_owned(), |t| t.as_secs().to_string());
    assert_eq!(
        timeout,
        one(&openssh, "connecttimeout"),
        "connecttimeout, {what}"
    );
    let interval = ours
        .server_alive_interval
        .unwrap_or(Duration::ZERO)
        .as_secs()
        .to_string();
    assert_eq!(
        interval,
        one(&openssh, "serveraliveinterval"),
        "serveraliveinterval, {what}"
    );
    assert_eq!(
        ours.server_alive_count_max.unwrap_or(3).to_string(),
        one(&openssh, "serveralivecountmax"),
        "serveralivecountmax, {what}"
    );
    assert_eq!(
        ours.proxy_jump.join(","),
        one(&openssh, "proxyjump"),
        "proxyjump, {what}"
    );
    if let Some(files) = &ours.user_known_hosts_files {
        let ours: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        let theirs: Vec<String> = one(&openssh, "userknownhostsfile")
            .split(' ')
            .map(|f| f.replacen('~', &home, 1))
            .collect();
        assert_eq!(ours, theirs, "userknownhostsfile, {what}");
    }
    let strict = match ours.strict_host_key_checking {
        None | Some(StrictHostKeyChecking::Ask) => "ask",
        Some(StrictHostKeyChecking::Yes) => "true",
        Some(StrictHostKeyChecking::No) => "false",
        Some(StrictHostKeyChecking::AcceptNew) => "accept-new",
    };
    assert_eq!(
        strict,
        one(&openssh, "stricthostkeychecking"),
        "stricthostkeychecking, {what}"
    );
    assert_eq!(
        ours.host_key_alias.as_deref().unwrap_or(""),
        one(&openssh, "hostkeyalias"),
        "hostkeyalias, {what}"
    );
}

/// An ssh_config whose `Match exec` hands `%h` and `%n` to the shell, as
/// users' configs do.
const EXEC_CONFIG: &str = "Match exec \"test %h = %n\"\n    User ignored\n";

#[test]
fn inventory_host_with_shell_metacharacters_is_refused_before_any_shell_sees_it() {
    let (w, _) = crate::support::World::one_host(7);
    w.write("ssh_config", EXEC_CONFIG);
    w.write(
        "roadie.yaml",
        "environments:\n  staging:\n    hosts:\n      - 'a$(touch${IFS}pwned)'\n",
    );
    w.roadie()
        .args(["-F", "ssh_config", "run", "staging", "--", "true"])
        .run()
        .code(2)
        .stderr_has("roadie.yaml:4:9:")
        .stderr_has("host name may not contain '$'");
    assert!(!w.path("pwned").exists(), "the shell ran the host name");
    // Nor can a target on the command line smuggle one in.
    w.roadie()
        .args([
            "-F",
            "ssh_config",
            "run",
            "a$(touch${IFS}pwned)",
            "--",
            "true",
        ])
        .run()
        .code(2);
    assert!(!w.path("pwned").exists(), "the shell ran the target");
}

#[test]
fn match_exec_refuses_a_hostname_from_ssh_config_that_would_run_something() {
    let (w, entry) = crate::support::World::one_host(7);
    w.write(
        "ssh_config",
        &format!("Host evil\n    HostName x$(touch${{IFS}}pwned)\n{EXEC_CONFIG}"),
    );
    w.inventory("staging", &["evil".to_owned(), entry], "");
    w.roadie()
        .args(["-F", "ssh_config", "run", "staging", "--", "true"])
        .run()
        .code(2)
        .stderr_has("ssh_config:3")
        .stderr_has("Match exec: %h is 'x$(touch${IFS}pwned)'");
    assert!(!w.path("pwned").exists(), "the shell ran the HostName");
}

#[test]
fn ciphers_from_ssh_config_are_the_ones_offered() {
    use crate::support::{World, addr};
    // A server that speaks only aes128-gcm, which roadie does not offer by
    // default.
    let mut w = World::new();
    let s = w.server_with(&[addr(31)], &["Ciphers aes128-gcm@openssh.com"]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", &[entry], "");
    w.roadie()
        .args(["-F", "none", "run", "staging", "--", "true"])
        .run()
        .code(4);
    let with_config = |text: &str, command: &str| {
        let config = w.write("ssh_config", text);
        w.run_with_config(&config, command).run()
    };
    with_config(
        "Host *\n    Ciphers ^aes128-gcm@openssh.com\n",
        "echo agreed",
    )
    .code(0)
    .stdout_has("agreed");
    // A cipher OpenSSH does not know is named, with file and line.
    with_config("Host *\n    Ciphers none\n", "true")
        .stderr_has("unknown cipher 'none'")
        .stderr_has("ssh_config");
}

#[test]
fn ciphers_lists_read_as_ssh_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let local = LocalUser::current();
    for spec in [
        "aes256-ctr,aes128-gcm@openssh.com",
        "^aes128-gcm@openssh.com",
        "-chacha20*,aes*-ctr",
        "+aes128-cbc",
    ] {
        std::fs::write(&config, format!("Host *\n    Ciphers {spec}\n")).unwrap();
        let theirs = one(&openssh_view(&config, "x", None), "ciphers").to_owned();
        let ours = resolve(
            &ConfigFiles::explicit(&config),
            "x",
            &Preset::default(),
            &local,
        )
        .unwrap()
        .ciphers
        .unwrap();
        assert_eq!(ours.join(","), theirs, "Ciphers {spec}");
    }
}

/// `ssh -F file -G host`: its exit code and what it printed on stderr.
fn openssh_verdict(config: &Path, host: &str) -> (i32, String) {
    let out = Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(config)
        .arg(host)
        .output()
        .expect("ssh (openssh-client)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ssh_config_mistakes_that_ssh_refuses_are_refused_with_file_and_line() {
    let (w, entry) = crate::support::World::one_host(7);
    let host_block = format!("Host {}\n", entry.split(':').next().unwrap());
    // (file text, the line ssh and roadie must name, what roadie says)
    let cases: &[(&[u8], usize, &str)] = &[
        (
            b"Host *\n    IdentityFle ~/.ssh/id\n",
            2,
            "unknown keyword 'identityfle'",
        ),
        (
            b"Host other\n    IdentityFle ~/.ssh/id\n",
            2,
            "unknown keyword",
        ),
        (b"Host *\n    User me\nHost\n", 3, "host needs a value"),
        (b"Host *\n    Port\n", 2, "port needs a value"),
        (b"Host other\n    Port 70000\n", 2, "bad port '70000'"),
        (
            b"Host other\n    ServerAliveInterval soon\n",
            2,
            "bad time 'soon'",
        ),
        (
            b"Host other\n    ForwardAgent\n",
            2,
            "forwardagent needs a value",
        ),
        (b"\xef\xbb\xbfHost *\n    User me\n", 1, "byte-order mark"),
        (
            b"IdentityFle x\nIgnoreUnknown IdentityFle\n",
            1,
            "unknown keyword",
        ),
    ];
    for (text, line, message) in cases {
        let config = w.path("ssh_config");
        std::fs::write(&config, text).unwrap();
        let what = String::from_utf8_lossy(text);
        let (code, stderr) = openssh_verdict(&config, "x");
        assert_eq!(code, 255, "ssh accepted {what:?}");
        assert!(
            stderr.contains(&format!("line {line}")),
            "ssh on {what:?}: {stderr}"
        );
        w.roadie()
            .args(["-F", "ssh_config", "run", "staging", "--", "true"])
            .run()
            .code(2)
            .stderr_has(&format!("ssh_config:{line}: "))
            .stderr_has(message);
    }
    // Keywords ssh knows but roadie does not act on, deprecated ones, and
    // misspellings IgnoreUnknown covers: accepted by both.
    let accepted = format!(
        "IgnoreUnknown IdentityFle,Fancy*\nIdentityFle x\nFancyOption 1\n\
         SendEnv LANG LC_*\nUseRoaming no\nGSSAPIAuthentication no\nForwardAgent no\n\
         Host other\n    Port 70\n{host_block}    ControlMaster auto\n    ConnectTimeout 0\n"
    );
    let config = w.write("ssh_config", &accepted);
    assert_eq!(openssh_verdict(&config, "x").0, 0, "ssh refused {accepted}");
    w.roadie()
        .args(["-F", "ssh_config", "run", "staging", "--", "echo", "read"])
        .run()
        .code(0)
        .stdout_has("read");
}

#[test]
fn connect_timeout_zero_means_no_timeout_as_in_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "Host x\n    ConnectTimeout 0\nHost *\n    ConnectTimeout 3\n",
    )
    .unwrap();
    assert_eq!(
        one(&openssh_view(&config, "x", None), "connecttimeout"),
        "0"
    );
    let w = crate::support::World::new();
    w.inventory("staging", &["x".to_owned()], "");
    let inventory = roadie::Inventory::load(&w.path("roadie.yaml")).unwrap();
    let overrides = roadie::Overrides {
        ssh_config: Some(config),
        ..roadie::Overrides::default()
    };
    let host = &roadie::Resolver::new(&inventory, &overrides)
        .resolve("staging")
        .unwrap()[0];
    assert_eq!(host.connect_timeout, Duration::MAX, "roadie's 10 s applied");
}

#[test]
fn ciphers_roadie_does_not_implement_are_refused_not_trimmed() {
    let (w, _) = crate::support::World::one_host(7);
    let config = w.write("ssh_config", "Host *\n    Ciphers 3des-cbc,aes256-ctr\n");
    // ssh accepts the list (it implements 3des-cbc)...
    assert_eq!(
        one(&openssh_view(&config, "x", None), "ciphers"),
        "3des-cbc,aes256-ctr"
    );
    // ...roadie cannot offer it, and says so rather than offering less.
    w.roadie()
        .args(["-F", "ssh_config", "run", "staging", "--", "true"])
        .run()
        .code(2)
        .stderr_has("ssh_config:2: ")
        .stderr_has("roadie does not implement '3des-cbc'");
}

#[test]
fn non_utf8_ssh_config_line_is_named_with_line_and_column() {
    let (w, _) = crate::support::World::one_host(7);
    std::fs::write(w.path("ssh_config"), b"Host *\n    User caf\xe9\n").unwrap();
    w.roadie()
        .args(["-F", "ssh_config", "run", "staging", "--", "true"])
        .run()
        .code(2)
        .stderr_has("ssh_config:2: column 13: not UTF-8 text (byte 0xe9)");
}

/// Algorithm lists in the forms users write them, in several blocks (the
/// first value read wins).
const ALGORITHMS_CONFIG: &str = "\
Host plus
    KexAlgorithms +diffie-hellman-group14-sha1
    HostKeyAlgorithms ^ssh-rsa
    MACs -umac*,hmac-sha1*
    PubkeyAcceptedKeyTypes ssh-ed25519*,rsa-sha2-*
Host explicit
    HostKeyAlgorithms -ecdsa*,sk-*
    KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256,sntrup761x25519-sha512
    MACs hmac-sha2-512,umac-128@openssh.com,hmac-sha1
    PubkeyAcceptedAlgorithms +ssh-rsa
Host everything
    HostKeyAlgorithms *
    KexAlgorithms -sntrup*,*sha1
    MACs ^hmac-sha2-512-etm@openssh.com
    PubkeyAcceptedAlgorithms -*cert*
Host *
    KexAlgorithms curve25519-sha256
    HostKeyAlgorithms ssh-ed25519
    MACs hmac-sha2-256
    PubkeyAcceptedAlgorithms rsa-sha2-512
";

#[test]
fn algorithm_lists_read_as_ssh_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, ALGORITHMS_CONFIG).unwrap();
    let local = LocalUser::current();
    for host in ["plus", "explicit", "everything", "other"] {
        let theirs = openssh_view(&config, host, None);
        let ours = resolve(
            &ConfigFiles::explicit(&config),
            host,
            &Preset::default(),
            &local,
        )
        .unwrap();
        for (keyword, list) in [
            ("kexalgorithms", &ours.kex_algorithms),
            ("hostkeyalgorithms", &ours.host_key_algorithms),
            ("macs", &ours.macs),
            ("pubkeyacceptedalgorithms", &ours.pubkey_accepted_algorithms),
        ] {
            let list = list.as_ref().unwrap();
            assert_eq!(
                list.openssh.join(","),
                one(&theirs, keyword),
                "{keyword}, {host}"
            );
            // What roadie offers is what ssh would, less what roadie lacks.
            let kept: Vec<&String> = list
                .openssh
                .iter()
                .filter(|n| list.offered.contains(n))
                .collect();
            assert_eq!(kept.len(), list.offered.len(), "{keyword}, {host}: order");
            assert!(list.left_out.iter().all(|n| !list.offered.contains(n)));
        }
    }
    let ours = |host: &str| {
        resolve(
            &ConfigFiles::explicit(&config),
            host,
            &Preset::default(),
            &local,
        )
        .unwrap()
    };
    // What roadie lacks: left out, and named when the value asked for it.
    let explicit = ours("explicit");
    let kex = explicit.kex_algorithms.unwrap();
    assert_eq!(kex.offered, ["curve25519-sha256", "ecdh-sha2-nistp256"]);
    assert_eq!(kex.left_out, ["sntrup761x25519-sha512"]);
    assert_eq!(explicit.macs.unwrap().left_out, ["umac-128@openssh.com"]);
    let hostkeys = ours("everything").host_key_algorithms.unwrap();
    assert!(hostkeys.offered.contains(&"ssh-rsa".to_owned()));
    assert!(hostkeys.left_out.contains(&"ssh-dss".to_owned()));
    assert!(!hostkeys.offered.iter().any(|n| n.starts_with("sk-")));
    // `+` keeps OpenSSH's defaults roadie lacks out silently.
    assert!(ours("plus").kex_algorithms.unwrap().left_out.is_empty());
}

#[test]
fn algorithm_names_ssh_refuses_are_refused_with_file_and_line() {
    let (w, _) = crate::support::World::one_host(7);
    for (text, message) in [
        (
            "Host *\n    KexAlgorithms curve25519-sha256,bogus\n",
            "unknown algorithm 'bogus'",
        ),
        (
            "Host other\n    HostKeyAlgorithms nosuch*\n",
            "unknown algorithm 'nosuch*'",
        ),
        (
            "Host *\n    MACs hmac-sha2-256 hmac-sha1\n",
            "unexpected 'hmac-sha1'",
        ),
        (
            "Host *\n    PubkeyAcceptedAlgorithms Ssh-ed25519\n",
            "unknown algorithm",
        ),
    ] {
        let config = w.write("ssh_config", text);
        let (code, stderr) = openssh_verdict(&config, "x");
        assert_eq!(code, 255, "ssh accepted {text:?}");
        assert!(stderr.contains("line 2"), "ssh on {text:?}: {stderr}");
        w.roadie()
            .args(["-F", "ssh_config", "run", "staging", "--", "true"])
            .run()
            .code(2)
            .stderr_has("ssh_config:2: ")
            .stderr_has(message);
    }
}

/// Names for the canonicalization tests: what the test's own /etc/hosts
/// resolves (nothing else resolves: no DNS server, only that file). ssh
/// looks the candidates up anchored (`web.staging.example.`), which glibc
/// finds in the file only written so; the first name is the canonical one
/// (as a CNAME's target would be).
const CANONICAL_HOSTS: &str = "127.0.0.1 localhost\n\
    127.0.0.218 web.staging.example web.staging.example.\n\
    127.0.0.219 real.internal.example alias.staging.example.\n";

const CANONICAL_CONFIG: &str = "\
CanonicalizeHostname yes
CanonicalDomains nowhere.example staging.example
CanonicalizePermittedCNAMEs *.staging.example:*.internal.example
Host web
    Port 2201
Host *.staging.example
    User deploy
Match canonical host real.internal.example
    Port 2202
Match canonical
    IdentityFile ~/.ssh/canonical_%h
Host jumped
    HostName web
    ProxyJump 127.0.0.1
Host proxied-*
    ProxyCommand nc %h %p
";

/// `program` with the test's /etc/hosts, no DNS server and an nsswitch.conf
/// that reads only files: no look-up leaves the machine.
fn with_test_names(w: &crate::support::World, program: &str) -> Command {
    let files = [
        (w.write("hosts", CANONICAL_HOSTS), "/etc/hosts"),
        (
            w.write("resolv.conf", "nameserver 127.0.0.1\n"),
            "/etc/resolv.conf",
        ),
        (
            w.write("nsswitch.conf", "hosts: files\n"),
            "/etc/nsswitch.conf",
        ),
    ];
    let files: Vec<(&Path, &str)> = files.iter().map(|(f, o)| (f.as_path(), *o)).collect();
    crate::support::with_files(&files, program)
}

#[test]
fn canonicalize_hostname_matches_openssh() {
    let w = crate::support::World::new();
    let config = w.write("ssh_config", CANONICAL_CONFIG);
    let names = [
        "web",
        "alias",
        "WEB.staging.example",
        "10.0.0.1",
        "jumped",
        "proxied-web",
    ];
    w.write(
        "roadie.yaml",
        &format!(
            "environments:\n  staging:\n    hosts: [{}]\n  gone:\n    hosts: [nosuch]\n",
            names.join(", ")
        ),
    );
    let ran = w
        .roadie_via(with_test_names(&w, env!("CARGO_BIN_EXE_roadie")))
        .args(["--json", "-F", config.to_str().unwrap(), "hosts", "staging"])
        .run()
        .code(0);
    let home = w.home.display().to_string();
    let events = ran.events();
    assert_eq!(events.len(), names.len());
    for (event, name) in events.iter().zip(names) {
        let theirs = ssh_g(with_test_names(&w, "ssh"), &config, name, None)
            .unwrap_or_else(|e| panic!("ssh -G {name}: {e}"));
        let field = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            field("hostname"),
            one(&theirs, "hostname"),
            "hostname, {name}"
        );
        assert_eq!(field("user"), one(&theirs, "user"), "user, {name}");
        assert_eq!(
            event["port"].to_string(),
            one(&theirs, "port"),
            "port, {name}"
        );
        let ours: Vec<String> = serde_json::from_value(event["identities"].clone()).unwrap();
        let hostname = one(&theirs, "hostname");
        let expected: Vec<String> = theirs
            .get("identityfile")
            .into_iter()
            .flatten()
            .filter(|f| f.contains("canonical_"))
            .map(|f| f.replacen('~', &home, 1).replace("%h", hostname))
            .collect();
        assert_eq!(ours, expected, "identityfile, {name}");
    }
    // What canonicalization gave: a domain appended, a permitted CNAME
    // followed and the second pass applied; the rest left alone.
    let hostnames: Vec<String> = events
        .iter()
        .map(|e| e["hostname"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        hostnames,
        [
            "web.staging.example",
            "real.internal.example",
            "web.staging.example",
            "10.0.0.1",
            "web",
            "proxied-web"
        ]
    );
    assert_eq!(events[1]["port"], 2202);
    // A name that resolves nowhere, while CanonicalizePermittedCNAMEs asks
    // for its canonical name: ssh gives up, and so does roadie.
    let refused = ssh_g(with_test_names(&w, "ssh"), &config, "nosuch", None).unwrap_err();
    assert!(
        refused.contains("Could not resolve hostname nosuch"),
        "{refused}"
    );
    w.roadie_via(with_test_names(&w, env!("CARGO_BIN_EXE_roadie")))
        .args(["-F", config.to_str().unwrap(), "hosts", "gone"])
        .run()
        .code(2)
        .stderr_has("ssh_config:3: ")
        .stderr_has("cannot resolve host 'nosuch'");
}

#[test]
fn canonicalize_always_and_no_fallback_match_openssh() {
    let w = crate::support::World::new();
    let config = w.write(
        "ssh_config",
        "CanonicalizeHostname always\nCanonicalDomains staging.example\n\
         CanonicalizeFallbackLocal no\nHost *\n    ProxyCommand nc %h %p\n",
    );
    w.write(
        "roadie.yaml",
        "environments:\n  staging:\n    hosts: [web]\n  gone:\n    hosts: [nosuch]\n",
    );
    let ran = w
        .roadie_via(with_test_names(&w, env!("CARGO_BIN_EXE_roadie")))
        .args(["--json", "-F", config.to_str().unwrap(), "hosts", "staging"])
        .run()
        .code(0);
    let theirs = ssh_g(with_test_names(&w, "ssh"), &config, "web", None).unwrap();
    assert_eq!(one(&theirs, "hostname"), "web.staging.example");
    assert_eq!(ran.events()[0]["hostname"], "web.staging.example");
    // A name no domain completes: ssh gives up, and so does roadie, naming the line.
    let refused = ssh_g(with_test_names(&w, "ssh"), &config, "nosuch", None).unwrap_err();
    assert!(refused.contains("Could not resolve host"), "{refused}");
    w.roadie_via(with_test_names(&w, env!("CARGO_BIN_EXE_roadie")))
        .args(["-F", config.to_str().unwrap(), "hosts", "gone"])
        .run()
        .code(2)
        .stderr_has("ssh_config:1: ")
        .stderr_has("cannot resolve host 'nosuch'");
}
