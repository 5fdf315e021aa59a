//! `roadie diagnose` against real sshd hosts: a real OOM kill in a memory
//! cgroup (cgroup v1 controller), found in the kernel log with its pid,
//! name and constraint; a host without journalctl; a host whose kernel log
//! the login user may not read.

use std::time::Duration;

use crate::support::kernel::{DmesgRestrict, MemoryGroup};
use crate::support::{World, addr, eventually, unprivileged_user};

/// The one `diagnose` event of a --json run.
/// `roadie --json diagnose staging --since SINCE`: the one host's report.
fn diagnose_since(w: &World, since: &str) -> serde_json::Value {
    let ran = w
        .roadie()
        .args(["--json", "diagnose", "staging", "--since", since])
        .run_within(Duration::from_secs(60))
        .code(0);
    report(&ran.stdout)
}

fn report(stdout: &str) -> serde_json::Value {
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| crate::support::event(l).unwrap_or_else(|| panic!("not JSON: {l}")))
        .collect();
    assert_eq!(events.len(), 1, "{stdout}");
    assert_eq!(events[0]["event"], "diagnose", "{stdout}");
    events[0].clone()
}

fn kill_with_pid(report: &serde_json::Value, pid: u32) -> serde_json::Value {
    let events = report["oom_kills"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no OOM kills in {report:#}"));
    events
        .iter()
        .find(|e| e["pid"] == pid)
        .unwrap_or_else(|| panic!("no kill of pid {pid} in {report:#}"))
        .clone()
}

#[test]
fn diagnose_reports_a_cgroup_oom_kill_with_pid_name_and_constraint() {
    let group = MemoryGroup::new("kill");
    let pid = group.oom_kill();
    let (w, _) = World::one_host(150);
    let report = diagnose_since(&w, "10m");
    let kill = kill_with_pid(&report, pid);
    assert_eq!(kill["process"], "python3", "{kill:#}");
    assert_eq!(kill["scope"], "cgroup", "{kill:#}");
    assert_eq!(kill["constraint"], "CONSTRAINT_MEMCG", "{kill:#}");
    assert_eq!(kill["oom_memcg"], group.path(), "{kill:#}");
    assert_eq!(kill["task_memcg"], group.path(), "{kill:#}");
    assert_eq!(kill["cgroup_limit_kb"], 64 * 1024, "{kill:#}");
    assert!(kill["anon_rss_kb"].as_u64().unwrap() > 0, "{kill:#}");
    assert!(kill["time"].is_string(), "{kill:#}");
    // The rest of the report is there too.
    assert!(
        report["memory"]["total_kb"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(
        !report["top_processes"]["processes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(report["cgroups"]["version"], "v1", "{report:#}");
    assert_eq!(report["disks"][1]["path"], "/tmp");
    assert!(
        report["disks"][1]["size_kb"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    // For people, the same kill, under the host's heading.
    w.roadie()
        .args(["diagnose", "staging", "--since", "10m"])
        .run_within(Duration::from_secs(60))
        .code(0)
        .stdout_has(&format!("== {}", w.entries(0)[0]))
        .stdout_has(&format!(
            "python3 (pid {pid}): cgroup {} hit its limit of 64.0 MiB",
            group.path()
        ));
}

#[test]
fn diagnose_shows_the_cgroup_limit_of_a_named_process() {
    let group = MemoryGroup::new("named");
    let (w, _) = World::one_host(151);
    // A process with a name of its own (the name of the link it ran as).
    let name = format!("rdg{}", std::process::id() % 100_000);
    let link = w.path(&name);
    std::os::unix::fs::symlink("/usr/bin/sleep", &link).unwrap();
    let child = crate::support::Running(
        group
            .command(link.to_str().unwrap(), &["60"])
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    // Wait until it has moved into the group and exec'd.
    eventually(&format!("{name} to start"), Duration::from_secs(10), || {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == name {
            Ok(())
        } else {
            Err(comm)
        }
    });
    for selector in [
        vec!["--pid".to_owned(), pid.to_string()],
        vec!["--name".to_owned(), format!("^{name}$")],
    ] {
        let ran = w
            .roadie()
            .args(["--json", "diagnose", "staging"])
            .args(&selector)
            .run_within(Duration::from_secs(60))
            .code(0);
        let report = report(&ran.stdout);
        let processes = report["cgroups"]["processes"].as_array().unwrap();
        assert_eq!(processes.len(), 1, "{selector:?}: {report:#}");
        let process = &processes[0];
        assert_eq!(process["pid"], pid);
        assert_eq!(process["name"], name.as_str());
        assert_eq!(process["cgroup"], group.path());
        assert_eq!(process["groups"][0]["path"], group.path());
        assert_eq!(process["groups"][0]["limit_bytes"], 64 << 20);
        assert!(
            report["cgroups"]["limited"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["path"] == group.path()),
            "{report:#}"
        );
    }
    w.roadie()
        .args(["diagnose", "staging", "--pid", &pid.to_string()])
        .run_within(Duration::from_secs(60))
        .code(0)
        .stdout_has(&format!("{name} (pid {pid}) in {}", group.path()))
        .stdout_has(&format!("{}: limit 64.0 MiB", group.path()));
    // A process that is gone (killed, say) is said to be gone.
    drop(child);
    w.roadie()
        .args(["diagnose", "staging", "--pid", &pid.to_string()])
        .run_within(Duration::from_secs(60))
        .code(0)
        .stdout_has(&format!("process {pid} does not exist"));
}

#[test]
fn diagnose_reads_dmesg_on_a_host_without_journalctl() {
    let group = MemoryGroup::new("nojournal");
    let pid = group.oom_kill();
    let mut w = World::new();
    let bin = w.bin_without(&["journalctl"]);
    let setenv = format!("SetEnv PATH={}", bin.display());
    let server = w.server_with(&[addr(152)], &[&setenv]);
    let entry = w.entries(server)[0].clone();
    w.inventory("staging", &[entry], "");
    let report = diagnose_since(&w, "10m");
    let log = &report["oom_kills"];
    assert_eq!(log["source"], "dmesg", "{report:#}");
    let notes = log["notes"].to_string();
    assert!(
        notes.contains("journalctl: not installed (not found on PATH)"),
        "{report:#}"
    );
    let kill = kill_with_pid(&report, pid);
    assert_eq!(kill["process"], "python3");
    assert_eq!(kill["oom_memcg"], group.path());
}

#[test]
fn diagnose_gives_a_partial_report_when_the_kernel_log_is_unreadable() {
    let _restrict = DmesgRestrict::on();
    let (w, _) = World::one_host(153);
    w.log_in_as(&unprivileged_user());
    let report = diagnose_since(&w, "1h");
    assert_eq!(report["user"], "roadie-test");
    let why = report["oom_kills"]["unavailable"]
        .as_str()
        .unwrap_or_else(|| panic!("the kernel log should be unreadable: {report:#}"));
    assert!(why.contains("journalctl: "), "{why}");
    assert!(
        why.contains("dmesg: read kernel buffer failed: Operation not permitted"),
        "{why}"
    );
    assert!(why.contains("kernel.dmesg_restrict is 1"), "{why}");
    // Everything else is still there.
    assert!(
        report["memory"]["total_kb"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(
        report["top_processes"]["processes"].is_array(),
        "{report:#}"
    );
    assert!(
        report["disks"][1]["size_kb"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    w.roadie()
        .args(["diagnose", "staging"])
        .run_within(Duration::from_secs(60))
        .code(0)
        .stdout_has("OOM kills since boot: unavailable: the kernel log is not readable here")
        .stdout_has("Memory: ");
}

#[test]
fn diagnose_groups_hosts_and_says_which_could_not_be_reached() {
    let mut w = World::new();
    let server = w.server(&[addr(154), addr(155)]);
    let mut entries = w.entries(server);
    // Nothing listens on the port of this one.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    entries.push(down.clone());
    w.inventory("staging", &entries, "");
    let ran = w
        .roadie()
        .args(["--json", "diagnose", "staging"])
        .run_within(Duration::from_secs(60))
        .code(1);
    let events = ran.events();
    assert_eq!(events.len(), 3, "{}", ran.stdout);
    for (event, entry) in events.iter().zip(&entries) {
        assert_eq!(event["host"], entry.as_str());
    }
    assert_eq!(events[0]["event"], "diagnose");
    assert_eq!(events[1]["event"], "diagnose");
    assert_eq!(events[2]["event"], "error");
    assert_eq!(events[2]["kind"], "connect");
    let ran = w
        .roadie()
        .args(["diagnose", "staging"])
        .run_within(Duration::from_secs(60))
        .code(1)
        .stderr_has(&down);
    let first = ran.stdout.find(&format!("== {}", entries[0])).unwrap();
    let second = ran.stdout.find(&format!("== {}", entries[1])).unwrap();
    assert!(first < second, "{}", ran.stdout);
    assert_eq!(ran.stdout.matches("Memory: ").count(), 2, "{}", ran.stdout);
}

/// `--since` used to refuse journalctl's own forms (`10 min ago`,
/// `yesterday`) that `roadie logs --since` takes: the server reads them,
/// for the journal and for dmesg's timestamps alike.
#[test]
fn diagnose_since_takes_journalctl_words() {
    let group = MemoryGroup::new("words");
    let pid = group.oom_kill();
    let (w, _) = World::one_host(151);
    for since in ["10 min ago", "yesterday"] {
        let report = diagnose_since(&w, since);
        kill_with_pid(&report, pid);
        assert!(report["since"].is_string(), "{since}: {report:#}");
    }
    w.roadie()
        .args(["diagnose", "staging", "--since", "sometime"])
        .run()
        .code(2)
        .stderr_has("10 min ago");
}
