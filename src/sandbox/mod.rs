//! Real OpenSSH servers on loopback, for trying roadie out (`roadie sandbox`)
//! and for roadie's own integration tests: generated host and client keys,
//! one `sshd -D` per server, listening on one or more 127.0.0.x addresses.

use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use russh::keys::ssh_key::{Algorithm, LineEnding, PrivateKey, PublicKey};

pub(crate) mod environment;
mod home;
mod vars;

use crate::error::Error;

/// Where Debian's openssh-server puts sshd.
pub(crate) const SSHD: &str = "/usr/sbin/sshd";

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |e| Error::io(context, e)
}

/// The sshd binary, or an error saying which package provides it.
pub(crate) fn sshd_path() -> Result<PathBuf, Error> {
    let path = PathBuf::from(SSHD);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Sandbox(format!(
            "{SSHD} not found: install the OpenSSH server (Debian/Ubuntu: apt-get install openssh-server)"
        )))
    }
}

/// Write a new ed25519 key pair (`path` mode 0600, `path.pub`), or read the
/// one already there.
pub fn ensure_key(path: &Path, comment: &str) -> Result<PublicKey, Error> {
    if let Ok(text) = fs::read_to_string(path)
        && let Ok(key) = PrivateKey::from_openssh(text.trim())
    {
        return Ok(key.public_key().clone());
    }
    let mut key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .map_err(|e| Error::Sandbox(format!("cannot generate a key: {e}")))?;
    key.set_comment(comment);
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Sandbox(format!("cannot encode a key: {e}")))?;
    write_file(path, pem.as_bytes(), 0o600)?;
    let public = key.public_key().clone();
    let line = public
        .to_openssh()
        .map_err(|e| Error::Sandbox(format!("cannot encode a key: {e}")))?;
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    write_file(Path::new(&pub_path), format!("{line}\n").as_bytes(), 0o644)?;
    Ok(public)
}

/// Write a file atomically (temporary name, then rename) with `mode`.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.roadie-tmp-{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(format!("cannot write {}", tmp.display())))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io(format!("cannot write {}", tmp.display())))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .map_err(io(format!("cannot chmod {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io(format!("cannot replace {}", path.display())))
}

/// A free TCP port on every one of `addresses` (checked by binding).
pub fn free_port(addresses: &[Ipv4Addr]) -> Result<u16, Error> {
    for _ in 0..50 {
        let first = addresses.first().copied().unwrap_or(Ipv4Addr::LOCALHOST);
        let probe = TcpListener::bind((first, 0)).map_err(io("cannot find a free port"))?;
        let port = probe
            .local_addr()
            .map_err(io("cannot find a free port"))?
            .port();
        drop(probe);
        if addresses
            .iter()
            .all(|a| TcpListener::bind((*a, port)).is_ok())
        {
            return Ok(port);
        }
    }
    Err(Error::Sandbox(
        "no port is free on all sandbox addresses".into(),
    ))
}

/// sshd listens on at most this many sockets (its MAX_LISTEN_SOCKS).
pub const MAX_ADDRESSES_PER_SERVER: usize = 16;

/// How to set up one sshd.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A directory of its own: config, host key and log go here.
    pub dir: PathBuf,
    /// The addresses to listen on (the same port on each).
    pub addresses: Vec<Ipv4Addr>,
    /// 0 picks a free port.
    pub port: u16,
    /// The authorized_keys file logins are checked against.
    pub authorized_keys: PathBuf,
    /// Keep running after this process exits (`roadie sandbox up`).
    pub detached: bool,
    /// Extra sshd_config lines; they win over roadie's defaults.
    pub extra: Vec<String>,
    /// A command that starts sshd (its argv is appended), such as
    /// `ip netns exec NS` to run it in a network namespace; it must `exec`.
    pub launcher: Vec<String>,
}

/// A running sshd. Dropping it stops the server, unless it was detached.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// sshd's process id.
    pub pid: u32,
    /// The port it listens on.
    pub port: u16,
    /// The addresses it listens on.
    pub addresses: Vec<Ipv4Addr>,
    /// Its host key.
    pub host_key: PublicKey,
    /// Its directory (keys, configuration).
    pub dir: PathBuf,
    /// Its log.
    pub log: PathBuf,
}

impl Server {
    /// Start sshd and wait until it listens on every address.
    pub fn start(config: &ServerConfig) -> Result<Server, Error> {
        let sshd = sshd_path()?;
        prepare_privsep_dir()?;
        fs::create_dir_all(&config.dir)
            .map_err(io(format!("cannot create {}", config.dir.display())))?;
        let host_key_path = config.dir.join("ssh_host_ed25519_key");
        let host_key = ensure_key(&host_key_path, "roadie sandbox host key")?;
        let mut last_error = None;
        for _ in 0..5 {
            let port = if config.port == 0 {
                free_port(&config.addresses)?
            } else {
                config.port
            };
            match launch(&sshd, config, &host_key_path, port) {
                Ok((child, log)) => {
                    return Ok(Server {
                        pid: child.id(),
                        child: (!config.detached).then_some(child),
                        port,
                        addresses: config.addresses.clone(),
                        host_key,
                        dir: config.dir.clone(),
                        log,
                    });
                }
                // Another process took the port between probing and binding.
                Err(e) if config.port == 0 && e.to_string().contains("Address already in use") => {
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Sandbox("sshd did not start".into())))
    }

    /// `addr:port` of each address.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.addresses
            .iter()
            .map(|a| SocketAddr::from((*a, self.port)))
            .collect()
    }

    /// Kill the server and every process under it (its per-connection
    /// processes start sessions of their own), as if the machine died.
    pub fn kill(&mut self) {
        kill_tree(self.pid);
        if let Some(child) = self.child.as_mut() {
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill();
        }
    }
}

/// Kill the sshd `pid` and everything under it as a crash would: sshd's own
/// processes get SIGKILL, so every connection drops at once. The users'
/// processes it started get SIGTERM first and SIGKILL only if still there
/// after a grace period: a login shell cut off inside `~/.bashrc` must be
/// able to run its traps (pyenv's `rehash` holds a lock file in the home
/// directory the machine shares; killed outright it leaves it behind, and
/// every later login waits a minute for it).
fn kill_tree(pid: u32) {
    const GRACE: Duration = Duration::from_secs(3);
    let (servers, sessions): (Vec<u32>, Vec<u32>) = descendants(pid)
        .into_iter()
        .partition(|p| command_name(*p).is_some_and(|name| name.starts_with("sshd")));
    signal_all(&servers, nix::sys::signal::Signal::SIGKILL);
    signal_all(&sessions, nix::sys::signal::Signal::SIGTERM);
    let started = Instant::now();
    let mut left = sessions;
    while !left.is_empty() && started.elapsed() < GRACE {
        std::thread::sleep(Duration::from_millis(20));
        left.retain(|p| running(*p));
    }
    signal_all(&left, nix::sys::signal::Signal::SIGKILL);
}

/// `pid` and all its descendants, found through /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(parent) = stat_field(child, 1).and_then(|p| p.parse::<u32>().ok()) {
            parents.entry(parent).or_default().push(child);
        }
    }
    let mut all = vec![pid];
    let mut index = 0;
    while index < all.len() {
        if let Some(children) = parents.get(&all[index]) {
            all.extend(children);
        }
        index += 1;
    }
    all
}

/// Field `n` after the parenthesised command name of `/proc/PID/stat`
/// (0: the state, 1: the parent).
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n).map(str::to_owned)
}

fn command_name(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|name| name.trim_end().to_owned())
}

/// Still there and not a zombie waiting for its parent.
fn running(pid: u32) -> bool {
    stat_field(pid, 0).is_some_and(|state| state != "Z" && state != "X")
}

fn signal_all(pids: &[u32], signal: nix::sys::signal::Signal) {
    for pid in pids {
        if let Ok(raw) = i32::try_from(*pid) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal);
        }
    }
}

fn prepare_privsep_dir() -> Result<(), Error> {
    let dir = Path::new("/run/sshd");
    if nix::unistd::geteuid().is_root() && !dir.exists() {
        fs::create_dir_all(dir).map_err(io("cannot create /run/sshd"))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(io("cannot chmod /run/sshd"))?;
    }
    Ok(())
}

fn launch(
    sshd: &Path,
    config: &ServerConfig,
    host_key: &Path,
    port: u16,
) -> Result<(Child, PathBuf), Error> {
    let dir = &config.dir;
    // sshd keeps the first value it reads: the caller's lines go first.
    let mut lines: Vec<String> = config.extra.clone();
    lines.extend(
        config
            .addresses
            .iter()
            .map(|a| format!("ListenAddress {a}:{port}")),
    );
    let defaults = [
        format!("HostKey {}", host_key.display()),
        format!("PidFile {}", dir.join("sshd.pid").display()),
        format!("AuthorizedKeysFile {}", config.authorized_keys.display()),
        "UsePAM no".into(),
        "StrictModes no".into(),
        "PasswordAuthentication no".into(),
        "KbdInteractiveAuthentication no".into(),
        "PubkeyAuthentication yes".into(),
        "PermitRootLogin prohibit-password".into(),
        "Subsystem sftp internal-sftp".into(),
        "MaxStartups 200:30:400".into(),
        "MaxSessions 64".into(),
        "LogLevel VERBOSE".into(),
    ];
    // Some keywords (MaxStartups) take the last value: leave out a default
    // the caller sets, but for HostKey, whose lines add up.
    let keyword = |line: &str| {
        line.split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let set: Vec<String> = config.extra.iter().map(|l| keyword(l)).collect();
    lines.extend(
        defaults
            .into_iter()
            .filter(|d| keyword(d) == "hostkey" || !set.contains(&keyword(d))),
    );
    let config_path = dir.join("sshd_config");
    write_file(
        &config_path,
        format!("{}\n", lines.join("\n")).as_bytes(),
        0o644,
    )?;
    let log = dir.join("sshd.log");
    let log_file =
        fs::File::create(&log).map_err(io(format!("cannot create {}", log.display())))?;
    let mut command = match config.launcher.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(sshd);
            command
        }
        None => Command::new(sshd),
    };
    command
        .args(["-D", "-e", "-f"])
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        // Its own process group, so that killing the group also ends the
        // per-connection processes (as a crash would), and so that a
        // detached server does not get the terminal's signals.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(io(format!("cannot start {}", sshd.display())))?;
    let expected = config.addresses.len();
    let started = Instant::now();
    loop {
        let text = fs::read_to_string(&log).unwrap_or_default();
        if text.matches("Server listening on").count() >= expected {
            return Ok((child, log));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::Sandbox(format!(
                "sshd exited ({status}) before listening; its log ({}):\n{}",
                log.display(),
                text.trim()
            )));
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Sandbox(format!(
                "sshd did not listen within {}s; its log ({}):\n{}",
                START_TIMEOUT.as_secs(),
                log.display(),
                text.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A `known_hosts` line for a server address.
pub fn known_hosts_line(address: Ipv4Addr, port: u16, key: &PublicKey) -> Result<String, Error> {
    let mut key = key.clone();
    key.set_comment("");
    let text = key
        .to_openssh()
        .map_err(|e| Error::Sandbox(format!("cannot encode a key: {e}")))?;
    Ok(format!(
        "{} {}",
        crate::known_hosts::host_entry_name(&address.to_string(), port),
        text.trim_end()
    ))
}
