//! Kernel state the diagnose tests set up and put back: a memory cgroup
//! (cgroup v1 controller) with a 64 MiB limit, and `kernel.dmesg_restrict`.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{eventually, is_root, reached_within};

const MEMORY_CONTROLLER: &str = "/sys/fs/cgroup/memory";

/// A child cgroup of the v1 memory controller with a 64 MiB limit,
/// removed when the test ends.
pub struct MemoryGroup {
    dir: PathBuf,
    name: String,
}

impl MemoryGroup {
    pub fn new(tag: &str) -> MemoryGroup {
        assert!(
            is_root(),
            "making a memory cgroup needs root (CI runs as root)"
        );
        assert!(
            Path::new(MEMORY_CONTROLLER)
                .join("memory.limit_in_bytes")
                .exists(),
            "this test needs the cgroup v1 memory controller at {MEMORY_CONTROLLER} (see TESTBED.md); \
             this machine does not have it"
        );
        let name = format!("roadie-diag-{}-{tag}", std::process::id());
        let dir = Path::new(MEMORY_CONTROLLER).join(&name);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let group = MemoryGroup { dir, name };
        group.set("memory.limit_in_bytes", "64M");
        // With swap, the process would be swapped out instead of killed.
        group.set("memory.swappiness", "0");
        if group.dir.join("memory.memsw.limit_in_bytes").exists() {
            group.set("memory.memsw.limit_in_bytes", "64M");
        }
        group
    }

    fn set(&self, file: &str, value: &str) {
        let path = self.dir.join(file);
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Its path as the kernel names it (`/roadie-diag-...`).
    pub fn path(&self) -> String {
        format!("/{}", self.name)
    }

    /// A command line that moves itself into the group, then execs the
    /// program and arguments appended to it.
    pub fn launcher(&self) -> Vec<String> {
        vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "echo $$ > \"$0\" && exec \"$@\"".to_owned(),
            self.dir.join("cgroup.procs").display().to_string(),
        ]
    }

    /// Run `program args` inside the group.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let launcher = self.launcher();
        let mut command = Command::new(&launcher[0]);
        command.args(&launcher[1..]).arg(program).args(args);
        command
    }

    /// Wait (up to 10 s) until exactly `count` processes are in the group.
    pub fn wait_for_processes(&self, count: usize) {
        eventually(
            &format!("{} to hold {count} processes", self.name),
            Duration::from_secs(10),
            || {
                let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap();
                if procs.lines().count() == count {
                    Ok(())
                } else {
                    Err(procs)
                }
            },
        );
    }

    /// A Python process that allocates 256 MiB in the group, killed by the
    /// OOM killer; its pid.
    pub fn oom_kill(&self) -> u32 {
        let mut child = self
            .command(
                "/usr/bin/python3",
                &["-c", "data = b'x' * (256 << 20)\nprint(len(data))"],
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run /usr/bin/python3");
        let pid = child.id();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "python3 allocating 256 MiB in a 64 MiB cgroup should be killed (SIGKILL, 137): {status}"
        );
        pid
    }
}

impl Drop for MemoryGroup {
    fn drop(&mut self) {
        // A killed process may take a moment to leave the group.
        let removed = reached_within(Duration::from_secs(5), || {
            std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists()
        });
        if removed.is_err() {
            eprintln!("could not remove {}", self.dir.display());
        }
    }
}

/// `kernel.dmesg_restrict`, set for the test and put back afterwards.
pub struct DmesgRestrict {
    before: String,
}

const DMESG_RESTRICT: &str = "/proc/sys/kernel/dmesg_restrict";

impl DmesgRestrict {
    pub fn on() -> DmesgRestrict {
        assert!(is_root(), "setting kernel.dmesg_restrict needs root");
        let before = std::fs::read_to_string(DMESG_RESTRICT).unwrap();
        std::fs::write(DMESG_RESTRICT, "1").unwrap();
        DmesgRestrict { before }
    }
}

impl Drop for DmesgRestrict {
    fn drop(&mut self) {
        let _ = std::fs::write(DMESG_RESTRICT, self.before.trim());
    }
}
