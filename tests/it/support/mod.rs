//! The integration-test harness: real OpenSSH servers (children of the test
//! process, started with roadie's own sandbox code), a private HOME, and a
//! builder that runs the real `roadie` binary.

mod agent;
pub mod django;
mod eventually;
pub mod kernel;
pub mod netns;
pub mod postgres;
pub mod python;
pub mod redact;

pub use agent::Agent;
pub use eventually::{eventually, reached_within};

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use roadie::sandbox::{Server, ServerConfig, ensure_key, known_hosts_line};

/// A private world for one test: a temp dir (HOME is inside it), a client
/// key, and the servers started for the test.
pub struct World {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub client_key: PathBuf,
    pub authorized_keys: PathBuf,
    pub known_hosts: PathBuf,
    pub servers: Vec<Server>,
}

impl World {
    pub fn new() -> World {
        clear_stale_pyenv_lock();
        let dir = tempfile::tempdir().expect("temp dir");
        // sshd reads authorized_keys as the target user: let everyone in.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let client_key = dir.path().join("client_key");
        let public = ensure_key(&client_key, "test client").unwrap();
        let authorized_keys = dir.path().join("authorized_keys");
        std::fs::write(
            &authorized_keys,
            format!("{}\n", public.to_openssh().unwrap()),
        )
        .unwrap();
        std::fs::set_permissions(&authorized_keys, std::fs::Permissions::from_mode(0o644)).unwrap();
        World {
            known_hosts: dir.path().join("known_hosts"),
            home,
            client_key,
            authorized_keys,
            dir,
            servers: Vec::new(),
        }
    }

    /// A world with one server on 127.0.0.`last` and an inventory whose
    /// `staging` environment is that host; returns its `addr:port` entry.
    pub fn one_host(last: u8) -> (World, String) {
        let mut w = World::new();
        let s = w.server(&[addr(last)]);
        let entry = w.entries(s)[0].clone();
        w.inventory("staging", std::slice::from_ref(&entry), "");
        (w, entry)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Start an sshd listening on `addresses`, with `extra` config lines, and
    /// record its key for each address in the world's known_hosts.
    pub fn server_with(&mut self, addresses: &[Ipv4Addr], extra: &[&str]) -> usize {
        self.start_server(addresses, extra, Vec::new())
    }

    /// Start an sshd on `addresses` in a mount namespace of its own where
    /// `sites` is mounted over the login user's `~/sites` (needs root; the
    /// home itself stays, with the Python it may hold): the default site
    /// `~/sites/HOST` on that server is the test's directory.
    pub fn server_with_sites(&mut self, addresses: &[Ipv4Addr], sites: &Path) -> usize {
        std::fs::create_dir_all(sites).unwrap();
        let home = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .expect("the current user")
            .dir;
        let script = "mkdir -p \"$2\" && mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"";
        let launcher = ["unshare", "--mount", "--", "sh", "-c", script, "sh"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([
                sites.display().to_string(),
                home.join("sites").display().to_string(),
            ])
            .collect();
        self.start_server(addresses, &[], launcher)
    }

    fn start_server(
        &mut self,
        addresses: &[Ipv4Addr],
        extra: &[&str],
        launcher: Vec<String>,
    ) -> usize {
        let index = self.servers.len();
        let server = Server::start(&ServerConfig {
            dir: self.path(&format!("server{index}")),
            addresses: addresses.to_vec(),
            port: 0,
            authorized_keys: self.authorized_keys.clone(),
            detached: false,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            launcher,
        })
        .expect("start sshd (is openssh-server installed?)");
        let mut lines = std::fs::read_to_string(&self.known_hosts).unwrap_or_default();
        for address in addresses {
            lines.push_str(&known_hosts_line(*address, server.port, &server.host_key).unwrap());
            lines.push('\n');
        }
        std::fs::write(&self.known_hosts, lines).unwrap();
        self.servers.push(server);
        index
    }

    pub fn server(&mut self, addresses: &[Ipv4Addr]) -> usize {
        self.server_with(addresses, &[])
    }

    /// A host like a container: its sshd on `addresses` runs in memory
    /// cgroup `group`, with a PID namespace (and /proc) of its own and a
    /// cgroup namespace rooted at `group`, whose memory controller it mounts
    /// again (over a tmpfs of its own at /sys/fs/cgroup) in its own mount
    /// namespace; `extra` sshd config lines.
    pub fn server_in_container(
        &mut self,
        addresses: &[Ipv4Addr],
        group: &kernel::MemoryGroup,
        extra: &[&str],
    ) -> usize {
        let mount = "mount -t tmpfs roadie /sys/fs/cgroup && mkdir /sys/fs/cgroup/memory && \
                     mount -t cgroup -o memory roadie /sys/fs/cgroup/memory && exec \"$@\"";
        let mut launcher = group.launcher();
        launcher.extend(
            [
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--cgroup",
                "--",
                "sh",
                "-c",
                mount,
                "sh",
            ]
            .map(str::to_owned),
        );
        self.start_server(addresses, extra, launcher)
    }

    /// A directory with every program of /usr/bin and /usr/sbin but
    /// `missing`, for a PATH without them.
    pub fn bin_without(&self, missing: &[&str]) -> PathBuf {
        let dir = self.path("bin-without");
        std::fs::create_dir(&dir).unwrap();
        for system in ["/usr/bin", "/usr/sbin"] {
            for entry in std::fs::read_dir(system).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name();
                if missing.iter().any(|m| name == *m) || dir.join(&name).exists() {
                    continue;
                }
                std::os::unix::fs::symlink(entry.path(), dir.join(&name)).unwrap();
            }
        }
        dir
    }

    /// A host in a network namespace of its own (so its sockets and
    /// /proc/net are its own), with sshd on port 22 and a `staging`
    /// environment reaching it; the LAN must outlive the test's use of it.
    pub fn netns_host(&mut self) -> (netns::Lan, netns::NetHost) {
        let mut lan = netns::Lan::new();
        let host = lan.host();
        let (data, site) = (self.path("netns-data"), self.path("netns-site"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&site).unwrap();
        let server = host.sshd(
            &self.path("netns-sshd"),
            &self.authorized_keys,
            "nshost",
            &data,
            &site,
        );
        let line = known_hosts_line(host.address, 22, &server.host_key).unwrap();
        std::fs::write(&self.known_hosts, format!("{line}\n")).unwrap();
        self.servers.push(server);
        self.inventory("staging", &[host.address.to_string()], "");
        (lan, host)
    }

    /// A 4 GiB file to upload, sparse (it costs no local disk and takes
    /// seconds to send), and an empty directory to upload it to.
    pub fn long_upload(&self) -> (PathBuf, PathBuf) {
        let big = self.path("huge.bin");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(4 * 1024 * 1024 * 1024)
            .unwrap();
        let dest = self.path("dest");
        std::fs::create_dir_all(&dest).unwrap();
        (big, dest)
    }

    /// Kill server `index` (as a crash would) and start it again on the same
    /// addresses, port and host key.
    pub fn restart(&mut self, index: usize) {
        self.servers[index].kill();
        let old = &self.servers[index];
        let config = ServerConfig {
            dir: old.dir.clone(),
            addresses: old.addresses.clone(),
            port: old.port,
            authorized_keys: self.authorized_keys.clone(),
            detached: false,
            extra: Vec::new(),
            launcher: Vec::new(),
        };
        // The old listener's port may take a moment to be free again.
        self.servers[index] = eventually(
            "sshd to start again on its old port",
            std::time::Duration::from_secs(10),
            || Server::start(&config).map_err(|e| e.to_string()),
        );
    }

    /// Enough servers for all of `addresses` (sshd listens on at most 16
    /// sockets); returns every `addr:port` entry, in order.
    pub fn servers_for(&mut self, addresses: &[Ipv4Addr]) -> Vec<String> {
        let mut entries = Vec::new();
        for chunk in addresses.chunks(roadie::sandbox::MAX_ADDRESSES_PER_SERVER) {
            let index = self.server(chunk);
            entries.extend(self.entries(index));
        }
        entries
    }

    /// `addr:port` entries of server `index`.
    pub fn entries(&self, index: usize) -> Vec<String> {
        let server = &self.servers[index];
        server
            .addresses
            .iter()
            .map(|a| format!("{a}:{}", server.port))
            .collect()
    }

    /// A roadie.yaml with one environment `env` over `hosts`, using the
    /// world's key and known_hosts, plus `extra` lines for the environment.
    pub fn inventory(&self, env: &str, hosts: &[String], extra: &str) {
        let text = format!("environments:\n{}", World::environment(env, hosts, extra));
        self.write("roadie.yaml", &text);
    }

    /// The block of environment `env` in a roadie.yaml, as `inventory`
    /// writes it.
    pub fn environment(env: &str, hosts: &[String], extra: &str) -> String {
        let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        format!(
            "  {env}:\n    hosts: [{}]\n    user: \"{}\"\n    identity: client_key\n    known_hosts: known_hosts\n{extra}",
            hosts.join(", "),
            current_user()
        )
    }

    /// Log in to the inventory's hosts as `user` instead of the current user.
    pub fn log_in_as(&self, user: &str) {
        let text = std::fs::read_to_string(self.path("roadie.yaml")).unwrap();
        let from = format!("user: \"{}\"", current_user());
        assert!(text.contains(&from));
        self.write(
            "roadie.yaml",
            &text.replace(&from, &format!("user: \"{user}\"")),
        );
    }

    /// A directory every account may write to (mode 1777).
    pub fn shared_dir(&self) -> PathBuf {
        let dir = self.path("shared");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        dir
    }

    /// Write `text` to `name` in the world's directory (creating its
    /// directory).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An ssh_config where `target` (server `target`'s address) is reached
    /// through `hop` (server `jump`'s), whose key is checked against
    /// `hop_known_hosts`. Returns the file.
    pub fn jump_config(&self, jump: usize, target: usize, hop_known_hosts: &Path) -> PathBuf {
        let (jump_entry, target_entry) = (&self.entries(jump)[0], &self.entries(target)[0]);
        let (jump_ip, jump_port) = jump_entry.split_once(':').unwrap();
        let (target_ip, target_port) = target_entry.split_once(':').unwrap();
        self.write(
            "ssh_config",
            &format!(
                "Host target\n  HostName {target_ip}\n  Port {target_port}\n  ProxyJump hop\n\
                 Host hop\n  HostName {jump_ip}\n  Port {jump_port}\n  IdentityFile {}\n  UserKnownHostsFile {}\n",
                self.client_key.display(),
                hop_known_hosts.display()
            ),
        )
    }

    /// The roadie binary, run in the world's directory with its HOME.
    pub fn roadie(&self) -> Roadie {
        self.roadie_via(Command::new(env!("CARGO_BIN_EXE_roadie")))
    }

    /// `roadie -F CONFIG run staging -- COMMAND`.
    pub fn run_with_config(&self, config: &Path, command: &str) -> Roadie {
        self.roadie().args([
            "-F",
            config.to_str().unwrap(),
            "run",
            "staging",
            "--",
            command,
        ])
    }

    /// roadie in a mount namespace of its own whose /etc/hosts is `hosts`:
    /// a host name resolves as that file says (needs root).
    pub fn roadie_with_hosts_file(&self, hosts: &Path) -> Roadie {
        self.roadie_with_files(&[(hosts, "/etc/hosts")])
    }

    /// roadie in a mount namespace of its own where each `(file, over)`
    /// replaces the system file `over`, /etc/resolv.conf say (needs root).
    pub fn roadie_with_files(&self, files: &[(&Path, &str)]) -> Roadie {
        self.roadie_via(with_files(files, env!("CARGO_BIN_EXE_roadie")))
    }

    /// roadie started by `command` (a wrapper such as `/usr/bin/time`), in
    /// this world.
    pub fn roadie_via(&self, mut command: Command) -> Roadie {
        command
            .current_dir(self.dir.path())
            .env("HOME", &self.home)
            // Kept connections (--persist) of this world only.
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env_remove("ROADIE_PERSIST")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("ROADIE_PASSPHRASE")
            .env_remove("ROADIE_SUDO_PASSWORD")
            .stdin(Stdio::null());
        Roadie { command }
    }
}

/// `program` in a mount namespace of its own where each `(file, over)`
/// replaces the system file `over` (needs root); add its arguments.
pub fn with_files(files: &[(&Path, &str)], program: &str) -> Command {
    assert!(
        is_root(),
        "private system files need a mount namespace, so root (CI runs as root)"
    );
    let mut script = String::new();
    for index in 0..files.len() {
        let _ = write!(
            script,
            "mount --bind \"${}\" \"${}\" && ",
            2 * index + 1,
            2 * index + 2
        );
    }
    let _ = write!(script, "shift {} && exec \"$@\"", 2 * files.len());
    let mut command = Command::new("unshare");
    command.args(["--mount", "--", "sh", "-c", &script, "sh"]);
    for (file, over) in files {
        command.arg(file).arg(over);
    }
    command.arg(program);
    command
}

/// Root's `~/.bashrc` on these machines runs `pyenv init`, whose `pyenv
/// rehash` waits a minute at every login for its lock file. A rehash killed
/// while it held it (anywhere on the machine) leaves it behind, and every
/// later test would time out. A lock older than any rehash takes (waiting
/// ones give up after 60 s, so none of them can hold it) is removed, loudly.
fn clear_stale_pyenv_lock() {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let lock = Path::new(&home).join(".pyenv/shims/.pyenv-shim");
    let old = std::fs::metadata(&lock)
        .and_then(|m| m.modified())
        .is_ok_and(|at| at.elapsed().unwrap_or_default() > std::time::Duration::from_secs(90));
    if old && std::fs::remove_file(&lock).is_ok() {
        eprintln!(
            "tests: removed a stale pyenv rehash lock {} (every login would have waited 60 s for it)",
            lock.display()
        );
    }
}

/// Create a local account (if missing) that key logins accept: sshd with
/// `UsePAM no` refuses a locked account, so it gets `password_hash`, or `*`.
pub fn ensure_user(name: &str, password_hash: Option<&str>) {
    assert!(
        is_root(),
        "creating the test user {name} needs root (CI runs as root)"
    );
    let exists = Command::new("id")
        .arg(name)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let _ = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", name])
            .status();
    }
    sh("usermod", &["-p", password_hash.unwrap_or("*"), name], &[]);
}

/// Who tests log in as when the root account will not do: sshd runs a
/// root login's session in its privileged monitor, which refuses signal
/// requests. As root, a dedicated account; otherwise the current user.
pub fn unprivileged_user() -> String {
    if is_root() {
        ensure_user("roadie-test", None);
        "roadie-test".to_owned()
    } else {
        current_user()
    }
}

pub fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A child process that is killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A command line being built.
pub struct Roadie {
    pub command: Command,
}

/// What a finished roadie run gave.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Roadie {
    /// Start it with stdin, stdout and stderr piped, for a long-running
    /// command the test talks to.
    pub fn spawn(mut self) -> std::process::Child {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roadie")
    }

    pub fn args<I, S>(mut self, args: I) -> Roadie
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Roadie {
        self.command.env(key, value);
        self
    }

    /// Run it, killing it if it is not done within `limit` (a test failure).
    pub fn run_within(mut self, limit: std::time::Duration) -> Ran {
        use std::io::Read;
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roadie");
        let read = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = read(Box::new(child.stdout.take().unwrap()));
        let stderr = read(Box::new(child.stderr.take().unwrap()));
        let Ok(status) = reached_within(limit, || child.try_wait().unwrap()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "roadie still running after {limit:?}; stderr:\n{}",
                stderr.join().unwrap()
            );
        };
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    }

    pub fn run(mut self) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command.output().expect("run roadie");
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

impl Ran {
    /// Assert the exit code, showing everything when it is wrong.
    pub fn code(self, expected: i32) -> Ran {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Ran {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Ran {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }

    /// Stdout is exactly `expected`: nothing missing, nothing more.
    pub fn stdout_is(self, expected: &str) -> Ran {
        assert_eq!(self.stdout, expected, "stderr:\n{}", self.stderr);
        self
    }

    /// The JSON events printed with --json (see [`event`]).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| event(l).unwrap_or_else(|| panic!("not JSON: {l}")))
            .collect()
    }
}

/// A line of `--json` output as JSON (`None`: it is not JSON), insisting
/// that it is also a `roadie::event::Event`: a line of no kind roadie
/// knows fails the test.
pub fn event(line: &str) -> Option<serde_json::Value> {
    let value = serde_json::from_str(line).ok()?;
    if let Err(e) = serde_json::from_str::<roadie::event::Event>(line) {
        panic!("not a roadie event ({e}): {line}");
    }
    Some(value)
}

/// Run a program and insist that it works.
pub fn sh(program: &str, args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut command = Command::new(program);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Read from `stream` (a debugger's, say) until `marker` arrives, within
/// 30 s; all that came.
pub fn socket_until(stream: &mut std::net::TcpStream, marker: &str) -> String {
    use std::io::Read as _;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut text = String::new();
    let mut buffer = [0u8; 4096];
    while !text.contains(marker) {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the session closed before {marker:?}: {text}");
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    text
}

pub fn addr(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// The lines `pipe` gives, as they come.
pub fn lines_of(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    lines
}

/// The `--json` events of `pipe`, as they come; lines that are not JSON are
/// skipped, and one that is JSON but no roadie event fails the test (see
/// [`event`]): the reader's panic leaves the receiver disconnected, so the
/// test waiting on it fails then, not at its deadline.
pub fn json_events(
    pipe: impl std::io::Read + Send + 'static,
) -> std::sync::mpsc::Receiver<serde_json::Value> {
    let (sender, events) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(value) = event(&line) {
                let _ = sender.send(value);
            }
        }
    });
    events
}

/// The lines up to the next one containing `text`, which comes last
/// (waiting up to 60 s).
pub fn said_until(lines: &std::sync::mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let mut said = Vec::new();
    loop {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("roadie never said {text:?}: {said:?}"));
        let found = line.contains(text);
        said.push(line);
        if found {
            return said;
        }
    }
}
