//! Regression tests for defects found by trying roadie as a new user would,
//! under faults and with hostile input; each is named after what it guards.

use crate::support::{World, eventually};

/// Two `roadie env --set` started together on one `.env` used to both pass
/// the "only if unchanged" check, and one update was lost. On a namespace
/// host (latency, unlike loopback, leaves the race open) twenty pairs of
/// concurrent edits, each pair on a file of its own (in a directory of its
/// own), must keep every key, and each `.env.bak` must be a version the second writer saw. (A large
/// file makes each write take longer, so the writers overlap.)
#[test]
fn concurrent_env_edits_keep_every_key() {
    let mut w = World::new();
    let (_lan, _host) = w.netns_host();
    let data = w.path("netns-data");
    let padding = padding();
    let edits = [["--set", "A=1"], ["--set", "B=1"]];
    race_env_edits(&w, 20, "FIRST=1\n", edits);
    let padded = |text: &str| text.lines().any(|l| format!("{l}\n") == padding);
    for pair in 0..20 {
        let now = std::fs::read_to_string(data.join(format!("{pair}/.env"))).unwrap();
        let backup = std::fs::read_to_string(data.join(format!("{pair}/.env.bak"))).unwrap();
        // Every key, each once, and nothing else.
        for key in ["FIRST", "A", "B"] {
            assert!(has(&now, key), "pair {pair}: {key} lost:\n{now}");
        }
        assert!(
            padded(&now) && now.lines().count() == 4,
            "pair {pair}:\n{now}"
        );
        assert!(
            has(&backup, "FIRST")
                && padded(&backup)
                && has(&backup, "A") != has(&backup, "B")
                && backup.lines().count() == 3,
            "pair {pair}: the backup must be the version the second writer read:\n{backup}"
        );
    }
}

/// `--unset` and `--ensure-secret` write through the same locked edit as
/// `--set`: raced against a `--set` on a namespace host, neither edit is
/// lost.
#[test]
fn concurrent_unset_and_ensure_secret_keep_every_edit() {
    let mut w = World::new();
    let (_lan, _host) = w.netns_host();
    let data = w.path("netns-data");
    for (edit, check) in [
        (["--unset", "GONE"], "GONE is gone"),
        (["--ensure-secret", "SECRET"], "SECRET is set"),
    ] {
        race_env_edits(&w, 10, "FIRST=1\nGONE=1\n", [["--set", "A=1"], edit]);
        for pair in 0..10 {
            let now = std::fs::read_to_string(data.join(format!("{pair}/.env"))).unwrap();
            let key = |name: &str| {
                now.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}=")))
            };
            assert!(
                has(&now, "FIRST") && has(&now, "A"),
                "pair {pair}: A lost:\n{now}"
            );
            let kept = match edit[0] {
                "--unset" => key("GONE").is_none(),
                _ => key("SECRET").is_some_and(|v| v.len() >= 32) && has(&now, "GONE"),
            };
            assert!(kept, "pair {pair}: not {check}:\n{now}");
        }
    }
}

/// 2 MiB of one key: a large file makes each write take longer, so that
/// the writers overlap.
fn padding() -> String {
    format!("PADDING={}\n", "x".repeat(2 << 20))
}

fn has(text: &str, key: &str) -> bool {
    text.lines().any(|l| l == format!("{key}=1"))
}

/// `pairs` files `N/.env` on the namespace host, each `start` and the
/// padding, with the two `edits` (`--set K=V`, `--unset K`, ...) run on
/// each at once; each must say it changed its key.
fn race_env_edits(w: &World, pairs: usize, start: &str, edits: [[&str; 2]; 2]) {
    let (data, site) = (w.path("netns-data"), w.path("netns-site"));
    let padding = padding();
    let editors: Vec<_> = (0..pairs)
        .flat_map(|pair| {
            // A directory of its own, as each site has: a writer locks the
            // directory it replaces a file in.
            std::fs::create_dir_all(data.join(pair.to_string())).unwrap();
            std::fs::write(
                data.join(format!("{pair}/.env")),
                format!("{start}{padding}"),
            )
            .unwrap();
            let file = format!("{}/{pair}/.env", site.display());
            edits.map(|[option, value]| {
                let roadie = w
                    .roadie()
                    .args(["env", "staging", "--file", &file, option, value]);
                let key = value.split('=').next().unwrap_or_default();
                let said = format!("{file}: changed {key}\n");
                std::thread::spawn(move || (roadie.run(), said))
            })
        })
        .collect();
    for editor in editors {
        let (ran, said) = editor.join().unwrap();
        assert_eq!(ran.code(0).stdout, said);
    }
}

/// A `--param` value in shell arithmetic is evaluated again by bash however
/// it is quoted (`$(( '$(cmd)' ))` runs cmd), even in a `read` task: such a
/// template is refused when the playbook is read, and `| int` lets only an
/// integer through.
#[test]
fn params_in_shell_arithmetic_cannot_run_commands() {
    let (w, _entry) = World::one_host(71);
    let pwned = w.path("pwned");
    let injection = format!("n=$(touch {})", pwned.display());
    w.write(
        "playbooks/count.yaml",
        "tasks:\n  next:\n    class: read\n    params: {n: {}}\n    steps:\n      - run: \"echo $(( {{ n }} + 1 ))\"\n",
    );
    w.roadie()
        .args(["task", "staging", "next", "--param", &injection])
        .run()
        .code(2)
        .stderr_has("playbooks/count.yaml:6:")
        .stderr_has("{{ n | int }}");
    w.write(
        "playbooks/count.yaml",
        "tasks:\n  next:\n    class: read\n    params: {n: {}}\n    steps:\n      - run: \"echo $(( {{ n | int }} + 1 ))\"\n",
    );
    w.roadie()
        .args(["task", "staging", "next", "--param", &injection])
        .run()
        .code(2)
        .stderr_has("is not an integer");
    assert!(!pwned.exists(), "the parameter ran a command on the host");
    let ran = w
        .roadie()
        .args(["task", "staging", "next", "--param", "n=41"])
        .run()
        .code(0);
    assert_eq!(ran.stdout, "42\n");
}

/// `trap` runs its first argument as code when the trap fires, however it
/// is quoted: a parameter there is refused when the playbook is read.
#[test]
fn params_in_a_trap_cannot_run_commands() {
    let (w, _entry) = World::one_host(73);
    let pwned = w.path("pwned");
    w.write(
        "playbooks/cleanup.yaml",
        "tasks:\n  tidy:\n    class: read\n    params: {n: {}}\n    steps:\n      - run: \"trap {{ n }} EXIT; echo ran\"\n",
    );
    let ran = w
        .roadie()
        .args([
            "task",
            "staging",
            "tidy",
            "--param",
            &format!("n=touch {}", pwned.display()),
        ])
        .run()
        .code(2)
        .stderr_has("playbooks/cleanup.yaml:6:")
        .stderr_has("{{ n | quote }}");
    assert!(!ran.stdout.contains("ran"), "{}", ran.stdout);
    assert!(!pwned.exists(), "the parameter ran a command on the host");
}

/// `--grep X -n 3` used to grep the last 3 lines; it gives the last 3
/// matches. A missing `--file` used to exit 0.
#[test]
fn logs_grep_counts_matches_and_a_missing_file_fails() {
    let (w, _entry) = World::one_host(72);
    let lines: String = (1..=30)
        .map(|n| {
            if n % 5 == 0 {
                format!("match {n}\n")
            } else {
                format!("other {n}\n")
            }
        })
        .collect();
    let log = w.write("app.log", &lines);
    let log = log.to_str().unwrap();
    let ran = w
        .roadie()
        .args([
            "logs", "staging", "--file", log, "--grep", "match", "-n", "3",
        ])
        .run()
        .code(0);
    assert_eq!(ran.stdout, "match 20\nmatch 25\nmatch 30\n");
    let ran = w
        .roadie()
        .args(["logs", "staging", "--file", log, "--grep", "nothing"])
        .run()
        .code(0);
    assert_eq!(ran.stdout, "");
    let missing = w.path("missing.log");
    w.roadie()
        .args(["logs", "staging", "--file", missing.to_str().unwrap()])
        .run()
        .code(66)
        .stderr_has("cannot read");
}

/// A malformed playbook used to name its place twice
/// (`wipe.yaml:3: column 5: error: line 3 column 5: unknown field ...`).
#[test]
fn playbook_errors_name_their_place_once() {
    let (w, _entry) = World::one_host(73);
    w.write("playbooks/wipe.yaml", "tasks:\n  wipe:\n    stpes: []\n");
    let ran = w.roadie().args(["tasks"]).run().code(2);
    assert!(
        ran.stderr
            .contains("playbooks/wipe.yaml:3:5: unknown field `stpes`"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("line 3"), "{}", ran.stderr);
}

/// A host listed under a protected and an unprotected environment used to
/// exit 2 (a usage error) although the message called it a lock: every
/// refusal by a safeguard is exit 3 and names its lock.
#[test]
fn inventory_sanity_refusals_exit_3() {
    let (w, entry) = World::one_host(74);
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    w.write(
        "roadie.yaml",
        &format!("{text}  production:\n    protected: true\n    hosts: [\"{entry}\"]\n"),
    );
    let ran = w
        .roadie()
        .args(["--json", "run", "staging", "--", "true"])
        .run()
        .code(3);
    let refusal = format!(
        "{entry}: refused by the inventory-sanity lock: host '{}' is listed under the protected \
         environment 'production' and under the unprotected 'staging'; a host belongs to one of \
         them\n  fix roadie.yaml or ssh_config so that the two cannot be confused",
        entry.split_once(':').unwrap().0
    );
    assert_eq!(
        ran.events(),
        [serde_json::json!({
            "event": "error",
            "exit_code": 3,
            "host": entry,
            "kind": "refused",
            "lock": "inventory_sanity",
            "message": refusal,
        })]
    );
    assert_eq!(ran.stderr, format!("roadie: error: {refusal}\n"));
    w.roadie()
        .args(["run", "staging", "--", "true"])
        .run()
        .code(3)
        .stderr_has("refused by the inventory-sanity lock")
        .stderr_has("listed under the protected environment 'production'");
}

/// With stdout and stderr in one file (`2>&1`, a CI log), roadie's own
/// `roadie: ...` lines used to land inside a line the command left
/// unfinished: they start a line of their own.
#[test]
fn roadie_lines_start_a_line_when_stdout_and_stderr_share_a_file() {
    let (w, _entry) = World::one_host(75);
    let log = w.path("combined.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut roadie = w.roadie().args([
        "run",
        "staging",
        // Long enough for a login on a loaded machine to print first.
        "--timeout",
        "5",
        "--",
        "printf 'no newline yet'; sleep 30",
    ]);
    let status = roadie
        .command
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(124));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "no newline yet", "{text}");
    assert!(
        lines[1].starts_with("roadie: error: ") && lines[1].contains("timed out"),
        "{text}"
    );
}

/// A test server was killed with everything under it by SIGKILL, so a login
/// shell cut off inside `~/.bashrc` never ran its traps: pyenv's `rehash`
/// then left its lock file in root's home, and every later login on the
/// machine waited a minute for it (CI failed 30 tests that way). sshd still
/// dies at once, as in a crash; the user's processes get SIGTERM first and
/// remove their lock.
#[test]
fn a_killed_test_server_lets_login_shells_clean_up() {
    let (mut w, _) = World::one_host(2);
    let lock = w.path("lock");
    let script = format!(
        "set -o noclobber; : > {0}; trap 'rm -f {0}' EXIT; echo locked; sleep 60",
        lock.display()
    );
    let mut command = w.roadie().args(["run", "staging", "--", &script]).command;
    command.stdout(std::process::Stdio::piped());
    let mut roadie = crate::support::Running(command.spawn().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(roadie.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "locked\n");
    assert!(lock.exists());
    w.servers[0].kill();
    eventually(
        &format!("the login shell's EXIT trap to remove {}", lock.display()),
        std::time::Duration::from_secs(10),
        || !lock.exists(),
    );
}

/// sshd killed in the middle of an upload, by `roadie put` and by a task's
/// `put` step: russh's words (`sender dropped`, exit 1, as if the server had
/// refused the file) used to reach the user. Both say the connection was
/// lost and how, with exit 4 and the host named.
#[test]
fn a_connection_lost_mid_upload_is_named_in_roadies_words() {
    use std::time::Duration;

    let (mut w, entry) = World::one_host(218);
    let (big, dest) = w.long_upload();
    w.write(
        "playbooks/upload.yaml",
        &format!(
            "tasks:\n  upload:\n    class: change\n    steps:\n      - put: {}\n        to: {}/huge.bin\n",
            big.display(),
            dest.display()
        ),
    );
    for command in [
        vec![
            "put".to_owned(),
            "staging".to_owned(),
            big.display().to_string(),
            dest.display().to_string(),
        ],
        vec!["task".to_owned(), "staging".to_owned(), "upload".to_owned()],
    ] {
        let upload = w.roadie().args(&command).spawn();
        eventually(
            "the upload to write its temporary file",
            Duration::from_secs(30),
            || std::fs::read_dir(&dest).unwrap().next().is_some(),
        );
        w.servers[0].kill();
        let upload = upload.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&upload.stderr);
        assert_eq!(upload.status.code(), Some(4), "{command:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{entry}: connection lost: the connection closed (sshd died or the network failed)"
            )),
            "{command:?}: {stderr}"
        );
        assert!(!stderr.contains("sender dropped"), "{stderr}");
        w.restart(0);
        for e in std::fs::read_dir(&dest).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
    }
}

/// An `addr:port` on 127.0.0.`last` where nothing listens.
fn nothing_listens_on(last: u8) -> String {
    let closed = std::net::TcpListener::bind((crate::support::addr(last), 0)).unwrap();
    closed.local_addr().unwrap().to_string()
}

/// `roadie logs` on one host it cannot reach used to exit 1 (a remote
/// command failed) where every other command exits 4 (connection failed).
#[test]
fn logs_on_an_unreachable_host_exits_4() {
    let w = World::new();
    w.inventory("staging", &[nothing_listens_on(204)], "");
    w.roadie()
        .args(["logs", "staging", "--file", "/nonexistent.log"])
        .run()
        .code(4)
        .stderr_has("roadie: error:");
}

/// `roadie shell` used to audit "ok" whatever the shell's exit code.
#[test]
fn shell_exiting_nonzero_is_audited_with_its_code() {
    use std::io::Write as _;
    let mut w = World::new();
    let s = w.server(&[crate::support::addr(205)]);
    w.inventory("staging", &w.entries(s), "");
    let mut child = w.roadie().args(["shell", "staging"]).spawn();
    child.stdin.take().unwrap().write_all(b"exit 5\n").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(5));
    let log = std::fs::read_to_string(w.home.join(".local/state/roadie/audit.jsonl")).unwrap();
    let outcomes: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["exit 5"], "{log}");
}

/// `roadie tunnel` used to connect the target's hosts one by one and meet
/// the environment lock only at the protected one: the hosts before it had
/// been logged in to. One refused host stops all, before any is contacted.
#[test]
fn tunnel_to_a_protected_environment_checks_the_lock_before_connecting() {
    let mut w = World::new();
    let staging = w.server(&[crate::support::addr(206)]);
    let production = w.server(&[crate::support::addr(207)]);
    let text = format!(
        "environments:\n{}{}",
        World::environment("staging", &w.entries(staging), ""),
        World::environment(
            "production",
            &w.entries(production),
            "    protected: true\n"
        ),
    );
    w.write("roadie.yaml", &text);
    w.roadie()
        .args(["tunnel", "staging,production", "5432"])
        .run()
        .code(3)
        .stderr_has("refused by the protected-environment lock");
    for s in [staging, production] {
        let log = std::fs::read_to_string(&w.servers[s].log).unwrap();
        assert!(!log.contains("Accepted publickey"), "logged in:\n{log}");
    }
    // Every refusal is in the audit log, a tunnel's too: the protected
    // host's, and only it.
    let audit = std::fs::read_to_string(w.home.join(".local/state/roadie/audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{audit}");
    assert_eq!(
        lines[0]["host"],
        w.entries(production)[0].as_str(),
        "{audit}"
    );
    assert_eq!(lines[0]["step"], "tunnel", "{audit}");
    assert_eq!(lines[0]["outcome"], "refused", "{audit}");
}

/// `roadie debug --once` used to stop at the first host it could not
/// reach, with that host's code (4), dropping what the others had found;
/// now each failing host is reported, the others are still listed, and the
/// code is the one for several hosts, as `roadie run` gives it.
#[test]
fn debug_once_reports_a_failing_host_and_goes_on_to_the_others() {
    let mut w = World::new();
    let s = w.server(&[crate::support::addr(208)]);
    let unreachable = nothing_listens_on(209);
    let hosts = [vec![unreachable.clone()], w.entries(s)].concat();
    w.inventory("staging", &hosts, "");
    w.roadie()
        .args(["debug", "staging", "--once"])
        .run()
        .code(1)
        .stderr_has(&unreachable);
    let log = std::fs::read_to_string(&w.servers[s].log).unwrap();
    assert!(log.contains("Accepted publickey"), "not looked at:\n{log}");
}

/// `roadie logs -f` went through the fan-out that works on `--parallel`
/// hosts at a time, and following never ends on a host: a host past the
/// first `--parallel` was never followed, without a word. Every host is
/// followed at once.
#[test]
fn logs_follow_every_host_whatever_parallel_says() {
    let mut w = World::new();
    let s = w.server(&[crate::support::addr(219), crate::support::addr(220)]);
    let entries = w.entries(s);
    w.inventory("staging", &entries, "");
    let log = w.write("app.log", "a line\n");
    let mut roadie = crate::support::Running(
        w.roadie()
            .args(["logs", "staging", "-f", "--parallel", "1", "--file"])
            .args([&log])
            .spawn(),
    );
    let lines = crate::support::lines_of(roadie.0.stdout.take().unwrap());
    let mut missing: Vec<String> = entries.iter().map(|e| format!("[{e}] a line")).collect();
    let mut said = Vec::new();
    while !missing.is_empty() {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("never followed {missing:?}; said {said:?}"));
        missing.retain(|m| *m != line);
        said.push(line);
    }
}
