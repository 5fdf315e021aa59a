//! Snapshots of roadie's human output (stdout, stderr and the exit code, as
//! a user sees them) against real sshd hosts, behind the redactor of
//! `support::redact` for what varies between runs. Review a changed
//! snapshot with `cargo insta review` (or accept with `INSTA_UPDATE=always`).

use std::net::TcpListener;
use std::time::Duration;

use insta::assert_snapshot;
use roadie::known_hosts::fingerprint;

use crate::support::kernel::{DmesgRestrict, MemoryGroup};
use crate::support::redact::Redactor;
use crate::support::{World, addr, current_user, unprivileged_user};

/// An `addr:port` on 127.0.0.`last` where nothing listens.
fn unreachable(last: u8) -> String {
    let closed = TcpListener::bind((addr(last), 0)).unwrap();
    closed.local_addr().unwrap().to_string()
}

fn redactor(w: &World) -> Redactor {
    Redactor::new().exact(w.dir.path().display().to_string(), "[TMP]")
}

#[test]
fn snapshot_run_on_three_hosts_with_a_failure_and_an_unreachable_host() {
    let mut w = World::new();
    let server = w.server(&[addr(180), addr(181)]);
    let mut entries = w.entries(server);
    entries.push(unreachable(182));
    w.inventory("staging", &entries, "");
    let script = "case \"$SSH_CONNECTION\" in \
                  *' 127.0.0.180 '*) echo 'migrations pending' >&2; exit 7;; \
                  *) echo 'all migrations applied';; esac";
    let ran = w
        .roadie()
        .args(["run", "staging", "--", script])
        .run_within(Duration::from_secs(30));
    assert_snapshot!(redactor(&w).screen(&ran));
}

#[test]
fn snapshot_hosts_check_with_an_unknown_key_and_an_unreachable_host() {
    let mut w = World::new();
    let known = w.server(&[addr(183)]);
    let recorded = std::fs::read_to_string(&w.known_hosts).unwrap();
    let unknown = w.server(&[addr(184)]);
    // The second server's key is not in known_hosts.
    std::fs::write(&w.known_hosts, recorded).unwrap();
    let mut entries = w.entries(known);
    entries.extend(w.entries(unknown));
    entries.push(unreachable(185));
    w.inventory("staging", &entries, "");
    let ran = w
        .roadie()
        .args(["hosts", "staging", "--check"])
        .run_within(Duration::from_secs(30));
    assert_snapshot!(redactor(&w).screen(&ran));
}

/// roadie.yaml with a `staging` and a protected `production` environment,
/// one host each; production pins `pinned` (a fingerprint) when given.
fn staging_and_production(w: &World, staging: &str, production: &str, pinned: Option<&str>) {
    let pins = pinned.map_or_else(String::new, |fp| format!("    host_keys: [\"{fp}\"]\n"));
    let locks = format!("    protected: true\n{pins}");
    let text = format!(
        "environments:\n{}{}",
        World::environment("staging", &[staging.to_owned()], ""),
        World::environment("production", &[production.to_owned()], &locks)
    );
    w.write("roadie.yaml", &text);
}

#[test]
fn snapshot_refusal_of_a_destroy_task_on_a_protected_environment() {
    let mut w = World::new();
    let server = w.server(&[addr(186), addr(187)]);
    let entries = w.entries(server);
    staging_and_production(&w, &entries[0], &entries[1], None);
    let ran = w
        .roadie()
        .args(["task", "production", "flush"])
        .run_within(Duration::from_secs(30));
    assert_snapshot!(redactor(&w).screen(&ran));
}

#[test]
fn snapshot_refusal_by_a_pinned_host_key() {
    let mut w = World::new();
    // The staging name lands on the server that presents production's key.
    let server = w.server(&[addr(188), addr(189)]);
    let entries = w.entries(server);
    let pinned = fingerprint(&w.servers[server].host_key);
    staging_and_production(&w, &entries[0], &entries[1], Some(&pinned));
    let ran = w
        .roadie()
        .args(["run", "staging", "--", "echo should not run"])
        .run_within(Duration::from_secs(30));
    assert_snapshot!(redactor(&w).screen(&ran));
}

#[test]
fn snapshot_task_check_of_the_shipped_deploy() {
    let mut w = World::new();
    let server = w.server(&[addr(190)]);
    w.inventory(
        "staging",
        &w.entries(server),
        "    vars: {wsgi: \"superlists.wsgi:application\"}\n",
    );
    // The plan names the repository; --check reads nothing from it.
    let repo = format!("repo={}", w.dir.path().display());
    let ran = w
        .roadie()
        .args(["task", "staging", "deploy", "--check", "--param", &repo])
        .run_within(Duration::from_secs(30));
    let home = nix::unistd::User::from_name(&current_user())
        .unwrap()
        .expect("the current user")
        .dir;
    let redactor = redactor(&w)
        .exact(home.display().to_string(), "[HOME]")
        // A release is named after the second it was made in; a run holds
        // the deploy lock under a random token.
        .rule(r"\b20\d{12}\b", "[RELEASE]")
        .rule(r"\b[0-9a-f]{16}\b", "[TOKEN]");
    assert_snapshot!(redactor.screen(&ran));
}

/// A host like a container (its own memory cgroup of 64 MiB, processes and
/// cgroup tree), where a deploy user's process was just killed by the OOM
/// killer; the user may not read the kernel log (`kernel.dmesg_restrict`),
/// and the host has neither journalctl nor docker.
#[test]
fn snapshot_diagnose_of_a_host_after_an_oom_kill() {
    let _restrict = DmesgRestrict::on();
    let group = MemoryGroup::new("snapshot");
    let mut w = World::new();
    let path = format!(
        "SetEnv PATH={}",
        w.bin_without(&["journalctl", "docker"]).display()
    );
    let server = w.server_in_container(&[addr(191)], &group, &[&path]);
    let site = w.path("site");
    std::fs::create_dir(&site).unwrap();
    w.inventory(
        "staging",
        &w.entries(server),
        &format!("    vars: {{site: \"{}\"}}\n", site.display()),
    );
    w.log_in_as(&unprivileged_user());
    w.roadie()
        .args([
            "run",
            "staging",
            "--",
            "python3",
            "-c",
            "data = b'x' * (256 << 20)",
        ])
        .run_within(Duration::from_secs(30))
        .code(137);
    // The report shows the host's processes: those of the run's own login
    // are gone first (left: unshare and sshd).
    group.wait_for_processes(2);
    let ran = w
        .roadie()
        .args(["diagnose", "staging"])
        .run_within(Duration::from_secs(60));
    assert!(
        ran.stdout.contains("\n    /: limit 64.0 MiB, "),
        "{}",
        ran.stdout
    );
    let redactor = redactor(&w)
        .rule(r"\(kernel \S+, up [^,]+,", "(kernel [KERNEL], up [UPTIME],")
        .rule(
            r"(?m)^ +\d+ +(\d+(?:\.\d+)? \S+) +(\S+)$",
            "  [PID]  $1  $2",
        )
        .rule(
            r"\d+% used, \S+ \S+ free of \S+ \S+ \(\S+ on \S+\)",
            "[DISK USAGE]",
        )
        .sort_lines(r"^  \[PID\]  \[SIZE\]  ");
    assert_snapshot!(redactor.screen(&ran));
}
