//! `roadie run --watch-memory` against real sshd: a real process's memory,
//! a real OOM kill in a memory-limited cgroup, a kernel log closed to the
//! login user.

use crate::support::{World, is_root, unprivileged_user};

/// The `memory` of the one host event of a `--json` run.
/// `roadie --json run staging WATCH -- SCRIPT`.
fn watched(w: &World, watch: &str, script: &str) -> crate::support::Ran {
    w.roadie()
        .args(["--json", "run", "staging", watch, "--", script])
        .run()
}

fn memory_of(ran: &crate::support::Ran) -> serde_json::Value {
    let events = ran.events();
    let host = events
        .iter()
        .find(|e| e["event"] == "host")
        .unwrap_or_else(|| panic!("no host event: {events:?}"));
    host["memory"].clone()
}

#[test]
fn the_peak_of_a_growing_process_is_reported() {
    let (w, _) = World::one_host(100);
    let allocated_mib = 200;
    let script = format!(
        "python3 -c \"import time; b = b'x' * ({allocated_mib} * 1024 * 1024); time.sleep(1.5)\""
    );
    let ran = watched(&w, "--watch-memory=0.1", &script).code(0);
    let memory = memory_of(&ran);
    let peak_mib = memory["peak_kib"].as_f64().unwrap() / 1024.0;
    let wanted = f64::from(allocated_mib);
    assert!(
        (peak_mib - wanted).abs() <= wanted * 0.1,
        "peak {peak_mib:.1} MiB, allocated {wanted} MiB: {memory}"
    );
    assert!(memory["samples"].as_array().unwrap().len() >= 5, "{memory}");
    assert!(memory.get("oom_kill").is_none());
    // For people: the peak and a plot, on stderr.
    let ran = w
        .roadie()
        .args(["run", "staging", "--watch-memory=0.2", "--", &script])
        .run()
        .code(0);
    assert!(ran.stderr.contains("memory: peak "), "{}", ran.stderr);
    assert!(ran.stderr.contains('█'), "{}", ran.stderr);
    w.roadie()
        .args(["run", "staging", "--watch-memory=0.01", "--", "true"])
        .run()
        .code(2)
        .stderr_has("50 ms");
}

/// A memory-limited cgroup (v1, as on these machines) whose process
/// allocates past the limit; removed when the test ends.
struct Cgroup(std::path::PathBuf);

impl Cgroup {
    fn new(limit_mib: u64) -> Cgroup {
        let root = std::path::Path::new("/sys/fs/cgroup/memory");
        assert!(
            root.join("memory.limit_in_bytes").exists(),
            "this test needs the cgroup v1 memory controller at {}",
            root.display()
        );
        let dir = root.join(format!("roadie-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("memory.limit_in_bytes"),
            (limit_mib * 1024 * 1024).to_string(),
        )
        .unwrap();
        Cgroup(dir)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Needs root: to make the cgroup and read the kernel log.
#[test]
fn an_oom_kill_is_named_from_the_kernel_log() {
    assert!(is_root(), "this test needs root (CI runs as root)");
    let (w, _) = World::one_host(101);
    let cgroup = Cgroup::new(64);
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec python3 -c \"import time; b = []\nfor _ in range(64): b.append(b'x' * (8 * 1024 * 1024)); time.sleep(0.1)\"",
        cgroup.0.display()
    );
    let ran = watched(&w, "--watch-memory=0.05", &script).code(137);
    let memory = memory_of(&ran);
    let line = memory["oom_kill"]
        .as_str()
        .unwrap_or_else(|| panic!("{memory}"));
    assert!(
        line.contains("Killed process") && line.contains("(python3)"),
        "{line}"
    );
    // The peak it reached is the cgroup's limit, give or take.
    let peak_mib = memory["peak_kib"].as_f64().unwrap() / 1024.0;
    assert!((40.0..=80.0).contains(&peak_mib), "{memory}");
}

/// A process killed (by a signal, not by the kernel) as a user who may not
/// read the kernel log: roadie says it cannot tell, and why.
#[test]
fn a_kill_without_a_readable_kernel_log_is_said_to_be_unknown() {
    assert!(is_root(), "this test needs root (CI runs as root)");
    let restrict = std::path::Path::new("/proc/sys/kernel/dmesg_restrict");
    // Debian's default; made so for this test if the machine differs.
    if std::fs::read_to_string(restrict).unwrap().trim() != "1" {
        std::fs::write(restrict, "1").unwrap();
    }
    let (w, _) = World::one_host(102);
    w.log_in_as(&unprivileged_user());
    let ran = watched(&w, "--watch-memory=0.1", "sleep 0.5; kill -KILL $$").code(137);
    let memory = memory_of(&ran);
    assert!(memory.get("oom_kill").is_none(), "{memory}");
    let unknown = memory["oom_unknown"]
        .as_str()
        .unwrap_or_else(|| panic!("{memory}"));
    assert!(unknown.contains("not readable"), "{unknown}");
}
