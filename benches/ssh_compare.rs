//! roadie against OpenSSH's `ssh`, on the same loopback sshd servers.
//!
//! `cargo bench --bench ssh_compare [-- --runs N] [--only commands|tunnel|transfer|jump|fixture]`
//!
//! Whole processes are timed, contenders interleaved run by run, and medians
//! compared:
//! 1. one command on one host, fresh connection: `roadie run HOST -- true`
//!    against `ssh HOST true` (OpenSSH's default key exchange, and the
//!    curve25519 exchange roadie negotiates); and reusing a connection:
//!    `roadie --persist` through its holder against `ssh` through an
//!    established ControlMaster;
//! 2. `true` and `sleep 1` on 10 and 50 hosts: `roadie run --parallel N`
//!    against N `ssh` processes started at once;
//! 3. peak memory of each (a process and its children, summed; sampled from
//!    /proc in one extra run), and of the processes that keep a connection
//!    or a tunnel;
//! 4. a tunnel: `roadie tunnel` against `ssh -N -L` (same cipher: chacha20,
//!    then aes128-gcm), bulk throughput (1 GiB through it) and round-trip
//!    latency (1,000 64-byte ping-pongs);
//! 5. uploads: `roadie put` of one 100 MiB file against `scp` and `sftp -b`,
//!    and of 1,000 files of 4 KiB against `rsync -a` over ssh (needs rsync);
//! 6. 200 hosts behind one jump host (a bastion of its own, 200 ssh_config
//!    aliases over the servers' addresses): `roadie run --parallel 200`
//!    against 200 `ssh` processes with `ProxyJump` at once;
//! 7. test fixtures on the real Django site (`demo/site`), with a login shell
//!    that costs what real ones do (bash, its `~/.bashrc` sleeping 0.1 s
//!    first thing): `roadie task fixture create_session` and `flush`, fresh
//!    and through a kept connection, against `ssh` running the same
//!    `manage.py` line with the site's `.env` sourced, fresh and through a
//!    ControlMaster (needs root and python3-venv; the site's virtualenv is
//!    made once, under target/, from PyPI).
//!
//! The servers log at DEBUG1 so the key exchange and cipher each client
//! negotiated can be read from them. Run as root to get a benchmark user whose
//! login shell is /bin/sh; otherwise the remote shell's start-up (a heavy
//! ~/.bashrc, say) is in every figure.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roadie::sandbox::{
    MAX_ADDRESSES_PER_SERVER, Server, ServerConfig, ensure_key, known_hosts_line,
};

const HOSTS: u8 = 50;
const BENCH_USER: &str = "roadie-bench";

struct Setup {
    dir: tempfile::TempDir,
    user: String,
    key: PathBuf,
    known_hosts: PathBuf,
    servers: Vec<Server>,
    entries: Vec<(Ipv4Addr, u16)>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = if nix::unistd::geteuid().is_root() {
        let exists = Command::new("id")
            .arg(BENCH_USER)
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            run(Command::new("useradd").args(["-M", "-s", "/bin/sh", BENCH_USER]));
        }
        run(Command::new("usermod")
            .args(["-p", "*", "-s", "/bin/sh", "-d"])
            .arg(dir.path())
            .arg(BENCH_USER));
        BENCH_USER.to_owned()
    } else {
        eprintln!("note: not root, so the commands run in your own login shell");
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .unwrap()
            .name
    };
    let key = dir.path().join("client_key");
    let public = ensure_key(&key, "bench").unwrap();
    let authorized = dir.path().join("authorized_keys");
    std::fs::write(&authorized, format!("{}\n", public.to_openssh().unwrap())).unwrap();
    let addresses: Vec<Ipv4Addr> = (0..HOSTS)
        .map(|i| Ipv4Addr::new(127, 0, 0, 2 + i))
        .collect();
    let mut servers = Vec::new();
    let mut entries = Vec::new();
    let mut known = String::new();
    for (index, chunk) in addresses.chunks(MAX_ADDRESSES_PER_SERVER).enumerate() {
        let server = Server::start(&ServerConfig {
            dir: dir.path().join(format!("server{index}")),
            addresses: chunk.to_vec(),
            port: 0,
            authorized_keys: authorized.clone(),
            detached: false,
            extra: vec!["LogLevel DEBUG1".into()],
            launcher: Vec::new(),
        })
        .expect("sshd (install openssh-server)");
        for address in chunk {
            known.push_str(&known_hosts_line(*address, server.port, &server.host_key).unwrap());
            known.push('\n');
            entries.push((*address, server.port));
        }
        servers.push(server);
    }
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, known).unwrap();
    let hosts = |list: &[(Ipv4Addr, u16)]| {
        list.iter()
            .map(|(a, p)| format!("\"{a}:{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let common =
        format!("    user: \"{user}\"\n    identity: client_key\n    known_hosts: known_hosts\n");
    std::fs::write(
        dir.path().join("roadie.yaml"),
        format!(
            "environments:\n  one:\n    hosts: [{}]\n{common}  ten:\n    hosts: [{}]\n{common}  fleet:\n    hosts: [{}]\n{common}  fixture:\n    hosts: [{}]\n{common}    vars: {{site: \"~/sites/bench\"}}\n",
            hosts(&entries[..1]),
            hosts(&entries[..10]),
            hosts(&entries),
            hosts(&entries[..1])
        ),
    )
    .unwrap();
    Setup {
        dir,
        user,
        key,
        known_hosts,
        servers,
        entries,
    }
}

fn run(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?} failed");
}

impl Setup {
    fn roadie(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roadie"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("ROADIE_PERSIST")
            .env_remove("SSH_AUTH_SOCK");
        command
    }

    fn ssh(&self, (address, port): (Ipv4Addr, u16), extra: &[&str], remote: &str) -> Command {
        let mut command = Command::new("ssh");
        command
            .args([
                "-F",
                "none",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-i",
            ])
            .arg(&self.key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-p", &port.to_string()])
            .args(extra)
            .arg(format!("{}@{address}", self.user));
        if !remote.is_empty() {
            command.arg(remote);
        }
        command
    }
}

/// The key exchange and cipher of the last connection a server logged.
fn negotiated(server: &Path) -> String {
    let log = std::fs::read_to_string(server.join("sshd.log")).unwrap_or_default();
    let last = |what: &str| {
        log.lines()
            .rev()
            .find_map(|l| l.split_once(what))
            .and_then(|(_, v)| v.split_whitespace().next())
            .map_or_else(|| "?".into(), str::to_owned)
    };
    format!(
        "kex {}, cipher {}",
        last("kex: algorithm:"),
        last("kex: client->server cipher:")
    )
}

/// Start every command at once; the wall time until all have exited, and
/// the sum of their peak RSS (KiB) when `measure_memory` (polled from /proc,
/// so only for runs long enough to be sampled).
fn wall(commands: Vec<Command>, measure_memory: bool) -> (Duration, u64) {
    let started = Instant::now();
    let mut children: Vec<Child> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut peaks: HashMap<u32, u64> = HashMap::new();
    let mut done = vec![false; children.len()];
    while done.iter().any(|d| !d) {
        for (i, child) in children.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            if measure_memory {
                for pid in tree(child.id()) {
                    if let Some(kib) = peak_rss(pid) {
                        let peak = peaks.entry(pid).or_default();
                        *peak = (*peak).max(kib);
                    }
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "a benchmark command failed: {:?}",
                    child.stderr.take().map(std::io::read_to_string)
                );
                done[i] = true;
            }
        }
        if done.iter().any(|d| !d) {
            std::thread::sleep(if measure_memory {
                Duration::from_millis(2)
            } else {
                Duration::from_micros(200)
            });
        }
    }
    (started.elapsed(), peaks.values().sum())
}

/// `pid` and every process under it (scp's and rsync's ssh, say).
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() {
        let parent = all[next];
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mib(kib: u64) -> f64 {
    f64::from(u32::try_from(kib).unwrap_or(u32::MAX)) / 1024.0
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Run each contender `runs` times, interleaved, and print medians and the
/// ratio of roadie (the first) to each of the others; then once more each,
/// sampled for peak memory (the processes and their children, summed).
fn compare(title: &str, runs: usize, contenders: &[(&str, &dyn Fn() -> Vec<Command>)]) {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for _ in 0..runs {
        for (i, (_, make)) in contenders.iter().enumerate() {
            times[i].push(wall(make(), false).0);
        }
    }
    let memory: Vec<u64> = contenders
        .iter()
        .map(|(_, make)| wall(make(), true).1)
        .collect();
    println!("\n{title} (median of {runs} runs)");
    let roadie = median(times[0].clone());
    for (i, (name, _)) in contenders.iter().enumerate() {
        let m = median(times[i].clone());
        let ratio = if i == 0 {
            String::new()
        } else {
            format!(
                "   roadie = {:.2}x this",
                roadie.as_secs_f64() / m.as_secs_f64()
            )
        };
        println!(
            "  {name:<52} {:>8.1} ms  {:>6.1} MiB peak{ratio}",
            m.as_secs_f64() * 1000.0,
            mib(memory[i])
        );
    }
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .map_or(15, |n| n.parse().expect("--runs N"));
    // `--only tunnel` (or `commands`) runs one part.
    let only: Option<String> = std::env::args().skip_while(|a| a != "--only").nth(1);
    let s = setup();
    match only.as_deref() {
        Some("tunnel") => return tunnels(&s, s.entries[0], runs),
        Some("transfer") => return transfers(&s, s.entries[0], runs),
        Some("fixture") => return fixtures(&s, s.entries[0], runs),
        Some("jump") => return behind_a_bastion(&s, runs),
        _ => {}
    }
    let version = Command::new("ssh").arg("-V").output().unwrap();
    println!(
        "roadie {} against {}; login user {}; {} sshd servers, {} addresses",
        env!("CARGO_PKG_VERSION"),
        String::from_utf8_lossy(&version.stderr).trim(),
        s.user,
        s.servers.len(),
        s.entries.len()
    );
    let one = s.entries[0];
    let server = &s.servers[0].dir;
    wall(vec![s.roadie(&["run", "one", "--", "true"])], false);
    println!("negotiated by roadie: {}", negotiated(server));
    wall(vec![s.ssh(one, &[], "true")], false);
    println!("negotiated by ssh:    {}", negotiated(server));

    let curve = ["-o", "KexAlgorithms=curve25519-sha256"];
    compare(
        "one host, `true`, fresh connection",
        runs,
        &[
            ("roadie run one -- true", &|| {
                vec![s.roadie(&["run", "one", "--", "true"])]
            }),
            ("ssh HOST true", &|| vec![s.ssh(one, &[], "true")]),
            ("ssh -o KexAlgorithms=curve25519-sha256 HOST true", &|| {
                vec![s.ssh(one, &curve, "true")]
            }),
        ],
    );
    reuse(&s, one, runs);
    for (env, n) in [("ten", 10), ("fleet", s.entries.len())] {
        for remote in ["true", "sleep 1"] {
            let fleet_runs = (runs / 3).max(5);
            compare(
                &format!("{n} hosts, `{remote}`"),
                fleet_runs,
                &[
                    (
                        &format!("roadie run {env} --parallel {n} -- {remote}"),
                        &|| {
                            vec![s.roadie(&[
                                "run",
                                env,
                                "--parallel",
                                &n.to_string(),
                                "--",
                                remote,
                            ])]
                        },
                    ),
                    (&format!("{n} ssh processes at once"), &|| {
                        s.entries[..n]
                            .iter()
                            .map(|e| s.ssh(*e, &[], remote))
                            .collect()
                    }),
                ],
            );
        }
    }
    behind_a_bastion(&s, runs);
    if only.is_none() {
        tunnels(&s, one, runs);
        transfers(&s, one, runs);
        fixtures(&s, one, runs);
    }
}

/// `ssh` holding a connection to one host as a ControlMaster, until dropped.
struct Master {
    child: Child,
    /// `ControlPath=...`, for the commands that go through it.
    option: String,
}

impl Master {
    fn start(s: &Setup, one: (Ipv4Addr, u16)) -> Master {
        let control = s.dir.path().join("cm");
        let option = format!("ControlPath={}", control.display());
        let child = s
            .ssh(one, &["-o", "ControlMaster=yes", "-o", &option, "-N"], "")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !control.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no ControlMaster"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Master { child, option }
    }

    /// `ssh` options that send a command through it.
    fn through(&self) -> [&str; 4] {
        ["-o", "ControlMaster=no", "-o", &self.option]
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pid of roadie's holder of a kept connection.
fn holder_pid(s: &Setup) -> u32 {
    let status = s
        .roadie(&["--json", "persist", "status"])
        .output()
        .unwrap()
        .stdout;
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    u32::try_from(status["pid"].as_u64().unwrap()).unwrap()
}

/// One command on one host over a connection already made: roadie through
/// its holder (`--persist`), ssh through a ControlMaster.
fn reuse(s: &Setup, one: (Ipv4Addr, u16), runs: usize) {
    let master = Master::start(s, one);
    let kept = ["--persist", "10m", "run", "one", "--", "true"];
    wall(vec![s.roadie(&kept)], false);
    compare(
        "one host, `true`, reusing an established connection",
        runs,
        &[
            ("roadie --persist 10m run one -- true", &|| {
                vec![s.roadie(&kept)]
            }),
            ("ssh -o ControlPath=CM HOST true (master up)", &|| {
                vec![s.ssh(one, &master.through(), "true")]
            }),
        ],
    );
    println!(
        "  kept by: roadie's holder {:.1} MiB, ssh's ControlMaster {:.1} MiB (peak)",
        mib(peak_rss(holder_pid(s)).unwrap_or(0)),
        mib(peak_rss(master.child.id()).unwrap_or(0))
    );
    wall(vec![s.roadie(&["persist", "stop"])], false);
}

/// How many hosts stand behind the bastion.
const BEHIND: usize = 200;

/// `true` on 200 hosts behind one jump host, each an ssh_config alias
/// (`behindN`) of one of the servers' addresses with `ProxyJump bastion`.
fn behind_a_bastion(s: &Setup, runs: usize) {
    let dir = s.dir.path().join("bastion");
    // Room for every ssh process's own login at once.
    let bastion = Server::start(&ServerConfig {
        dir: dir.clone(),
        addresses: vec![Ipv4Addr::LOCALHOST],
        port: 0,
        authorized_keys: s.dir.path().join("authorized_keys"),
        detached: false,
        extra: vec!["MaxStartups 1000:30:1000".into()],
        launcher: Vec::new(),
    })
    .expect("sshd for the bastion");
    let mut known = std::fs::read_to_string(&s.known_hosts).unwrap();
    known
        .push_str(&known_hosts_line(Ipv4Addr::LOCALHOST, bastion.port, &bastion.host_key).unwrap());
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, format!("{known}\n")).unwrap();
    let mut config = format!(
        "Host bastion\n  HostName 127.0.0.1\n  Port {}\n",
        bastion.port
    );
    let mut names = Vec::new();
    for i in 0..BEHIND {
        let (address, port) = s.entries[i % s.entries.len()];
        let name = format!("behind{i}");
        let _ = writeln!(
            config,
            "Host {name}\n  HostName {address}\n  Port {port}\n  ProxyJump bastion"
        );
        names.push(name);
    }
    let _ = writeln!(
        config,
        "Host *\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes",
        s.user,
        s.key.display(),
        known_hosts.display()
    );
    let config_file = dir.join("ssh_config");
    std::fs::write(&config_file, config).unwrap();
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("roadie.yaml"),
        format!(
            "environments:\n  behind:\n    hosts: [{}]\n",
            names.join(", ")
        ),
    )
    .unwrap();
    let config_arg = config_file.to_str().unwrap();
    let parallel = BEHIND.to_string();
    let roadie = || {
        let mut command = s.roadie(&[
            "-F",
            config_arg,
            "run",
            "behind",
            "--parallel",
            &parallel,
            "--",
            "true",
        ]);
        command.current_dir(&project);
        command
    };
    compare(
        &format!("{BEHIND} hosts behind one jump host, `true`"),
        (runs / 3).max(5),
        &[
            (
                &format!("roadie -F CONFIG run behind --parallel {BEHIND} -- true"),
                &|| vec![roadie()],
            ),
            (
                &format!("{BEHIND} ssh -F CONFIG behindN true (ProxyJump)"),
                &|| {
                    names
                        .iter()
                        .map(|name| {
                            let mut ssh = Command::new("ssh");
                            ssh.args(["-F", config_arg, name, "true"]);
                            ssh
                        })
                        .collect()
                },
            ),
        ],
    );
    let logins = std::fs::read_to_string(dir.join("sshd.log"))
        .unwrap_or_default()
        .matches("Accepted publickey")
        .count();
    println!("  logins to the bastion in all: {logins}");
}

/// A virtualenv with the demo site's requirements, made once under target/.
fn site_venv() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = repo.join("target/bench-venv");
    if !venv.join("bin/gunicorn").exists() {
        // The system Python: one under root's home (pyenv) is not the bench
        // user's to run.
        run(Command::new("/usr/bin/python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv));
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "-r"])
            .arg(repo.join("demo/site/requirements.txt")));
    }
    venv
}

/// What a functional test calls before each test, on the real Django site
/// in the bench user's `~/sites/bench`, with a login shell of known cost:
/// bash, whose `~/.bashrc` sleeps 0.1 s before anything else (as pyenv or
/// nvm set-up above its interactive guard does). roadie's task against
/// `ssh` running the same `manage.py` line with the `.env` sourced.
fn fixtures(s: &Setup, one: (Ipv4Addr, u16), runs: usize) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the fixture benchmark needs root: it gives the bench user bash and a slow ~/.bashrc"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = s.dir.path().join("sites/bench");
    std::fs::create_dir_all(site.parent().unwrap()).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(repo.join("demo/site"))
        .arg(&site));
    std::os::unix::fs::symlink(site_venv(), site.join("virtualenv")).unwrap();
    std::fs::write(
        site.join(".env"),
        "DJANGO_DEBUG_FALSE=y\nDJANGO_SECRET_KEY=bench-secret\nSITENAME=bench\n",
    )
    .unwrap();
    run(Command::new("chown").arg("-R").arg(&s.user).arg(&site));
    std::fs::write(s.dir.path().join(".bashrc"), "sleep 0.1\n").unwrap();
    run(Command::new("usermod").args(["-s", "/bin/bash", &s.user]));
    wall(vec![s.roadie(&["task", "fixture", "migrate"])], false);
    let manage = |args: &str| {
        format!(
            "cd ~/sites/bench && set -a && . ./.env && set +a && exec virtualenv/bin/python manage.py {args}"
        )
    };
    let master = Master::start(s, one);
    let email = "--param=email=edith@example.com";
    for (task, extra, args) in [
        (
            "create_session",
            Some(email),
            "create_session -- edith@example.com",
        ),
        ("flush", None, "flush --noinput"),
    ] {
        let line = manage(args);
        let fresh: Vec<&str> = ["task", "fixture", task].into_iter().chain(extra).collect();
        let kept: Vec<&str> = ["--persist", "10m"]
            .iter()
            .copied()
            .chain(fresh.clone())
            .collect();
        wall(vec![s.roadie(&kept)], false);
        compare(
            &format!("fixture `{task}`, fresh connection, login shell 0.1 s"),
            runs,
            &[
                (&format!("roadie {}", fresh.join(" ")), &|| {
                    vec![s.roadie(&fresh)]
                }),
                ("ssh HOST 'cd SITE && . ./.env && manage.py ...'", &|| {
                    vec![s.ssh(one, &[], &line)]
                }),
            ],
        );
        compare(
            &format!("fixture `{task}`, kept connection, login shell 0.1 s"),
            runs,
            &[
                (&format!("roadie {}", kept.join(" ")), &|| {
                    vec![s.roadie(&kept)]
                }),
                ("ssh -o ControlPath=CM HOST '...' (master up)", &|| {
                    vec![s.ssh(one, &master.through(), &line)]
                }),
            ],
        );
        for args in [&fresh, &kept] {
            let timed: Vec<&str> = ["--timings"]
                .iter()
                .copied()
                .chain(args.iter().copied())
                .collect();
            let stderr = s.roadie(&timed).output().unwrap().stderr;
            let stderr = String::from_utf8_lossy(&stderr);
            let line = stderr
                .lines()
                .find(|l| l.contains("timings"))
                .unwrap_or("?");
            println!("  {}: {line}", args.join(" "));
        }
    }
    wall(vec![s.roadie(&["persist", "stop"])], false);
    run(Command::new("usermod").args(["-s", "/bin/sh", &s.user]));
}

/// Uploads to one host, into a fresh directory each run.
fn transfers(s: &Setup, (address, port): (Ipv4Addr, u16), runs: usize) {
    let source = s.dir.path().join("upload");
    let many = source.join("many");
    std::fs::create_dir_all(&many).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect()
    };
    let big = source.join("big.bin");
    std::fs::write(&big, noise(100 * 1024 * 1024)).unwrap();
    for i in 0..1000 {
        std::fs::write(many.join(format!("f{i:04}")), noise(4096)).unwrap();
    }
    // Somewhere the login user may write, emptied before every run.
    let into = s.dir.path().join("into");
    let fresh = || {
        let _ = std::fs::remove_dir_all(&into);
        std::fs::create_dir_all(&into).unwrap();
        std::fs::set_permissions(&into, std::fs::Permissions::from_mode(0o1777)).unwrap();
        into.to_str().unwrap().to_owned()
    };
    let ssh_options = format!(
        "-F none -o BatchMode=yes -o IdentitiesOnly=yes -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
        s.key.display(),
        s.known_hosts.display()
    );
    let destination = |dir: &str| format!("{}@{address}:{dir}/", s.user);
    let scp = |file: &Path, dir: &str| {
        let mut command = Command::new("scp");
        command
            .arg("-q")
            .args(ssh_options.split(' '))
            .args(["-P", &port.to_string()])
            .arg(file)
            .arg(destination(dir));
        command
    };
    let rsync = |from: &Path, dir: &str| {
        let mut command = Command::new("rsync");
        command
            .args(["-a", "-e", &format!("ssh {ssh_options} -p {port}")])
            .arg(from)
            .arg(destination(dir));
        command
    };
    let roadie = |from: &Path, dir: &str| s.roadie(&["put", "one", from.to_str().unwrap(), dir]);
    let batch = s.dir.path().join("sftp-batch");
    std::fs::write(
        &batch,
        format!("put {} {}/\n", big.display(), into.display()),
    )
    .unwrap();
    let sftp = || {
        let mut command = Command::new("sftp");
        command
            .arg("-q")
            .args(ssh_options.split(' '))
            .args(["-P", &port.to_string(), "-b"])
            .arg(&batch)
            .arg(format!("{}@{address}", s.user));
        command
    };
    compare(
        "upload one 100 MiB file",
        runs.min(7),
        &[
            ("roadie put one big.bin DIR", &|| {
                vec![roadie(&big, &fresh())]
            }),
            ("scp big.bin HOST:DIR/", &|| vec![scp(&big, &fresh())]),
            ("sftp -b 'put big.bin DIR/' HOST", &|| {
                fresh();
                vec![sftp()]
            }),
        ],
    );
    compare(
        "upload 1,000 files of 4 KiB",
        runs.min(7),
        &[
            ("roadie put one many DIR", &|| vec![roadie(&many, &fresh())]),
            ("rsync -a many HOST:DIR/", &|| vec![rsync(&many, &fresh())]),
        ],
    );
}

/// A server on the host's side: swallows a stream and answers with how much
/// came, or echoes 64-byte messages.
fn tunnel_target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut stream = stream;
                let mut kind = [0u8; 1];
                if stream.read_exact(&mut kind).is_err() {
                    return;
                }
                let mut buffer = vec![0u8; 1 << 16];
                if kind[0] == b'B' {
                    let mut total: u64 = 0;
                    while let Ok(n) = stream.read(&mut buffer) {
                        if n == 0 {
                            break;
                        }
                        total += n as u64;
                    }
                    let _ = stream.write_all(&total.to_le_bytes());
                } else {
                    let mut message = [0u8; 64];
                    while stream.read_exact(&mut message).is_ok() {
                        if stream.write_all(&message).is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    port
}

const BULK: u64 = 1 << 30;

/// Push 1 GiB through `local`; the time until the far end has it all.
fn bulk(local: &str) -> Duration {
    let mut stream = TcpStream::connect(local).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let started = Instant::now();
    stream.write_all(b"B").unwrap();
    for _ in 0..(BULK >> 20) {
        stream.write_all(&chunk).unwrap();
    }
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut total = [0u8; 8];
    stream.read_exact(&mut total).unwrap();
    assert_eq!(u64::from_le_bytes(total), BULK);
    started.elapsed()
}

/// 1,000 64-byte ping-pongs through `local`; the time for all of them.
fn ping_pong(local: &str) -> Duration {
    let mut stream = TcpStream::connect(local).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.write_all(b"E").unwrap();
    let mut message = [7u8; 64];
    let started = Instant::now();
    for _ in 0..1000 {
        stream.write_all(&message).unwrap();
        stream.read_exact(&mut message).unwrap();
    }
    started.elapsed()
}

/// Wait until something listens on `local`.
fn wait_for(local: &str) {
    let started = Instant::now();
    while TcpStream::connect(local).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listens on {local}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tunnels(s: &Setup, one: (Ipv4Addr, u16), runs: usize) {
    for cipher in ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"] {
        tunnel(s, one, runs, cipher);
    }
}

/// The tunnel figures with both sides held to `cipher` (roadie through an
/// ssh_config `Ciphers` line).
fn tunnel(s: &Setup, one: (Ipv4Addr, u16), runs: usize, cipher: &str) {
    let target = tunnel_target();
    let config = s.dir.path().join("ssh_config_tunnel");
    std::fs::write(&config, format!("Host *\n    Ciphers {cipher}\n")).unwrap();
    let roadie_port = roadie::sandbox::free_port(&[Ipv4Addr::LOCALHOST]).unwrap();
    let roadie_local = format!("127.0.0.1:{roadie_port}");
    let mut roadie = s
        .roadie(&[
            "-F",
            config.to_str().unwrap(),
            "tunnel",
            "one",
            &format!("{roadie_port}:{target}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&roadie_local);
    let server = &s.servers[0].dir;
    println!("\ntunnel, roadie negotiated: {}", negotiated(server));
    let ssh_port = roadie::sandbox::free_port(&[Ipv4Addr::LOCALHOST]).unwrap();
    let ssh_local = format!("127.0.0.1:{ssh_port}");
    let forward = format!("{ssh_port}:127.0.0.1:{target}");
    let ciphers = format!("Ciphers={cipher}");
    let mut ssh = s
        .ssh(one, &["-o", &ciphers, "-N", "-L", &forward], "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&ssh_local);
    println!("tunnel, ssh negotiated:    {}", negotiated(server));
    let tunnel_runs = (runs / 3).max(5);
    let (mut roadie_bulk, mut ssh_bulk, mut roadie_rtt, mut ssh_rtt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..tunnel_runs {
        roadie_bulk.push(bulk(&roadie_local));
        ssh_bulk.push(bulk(&ssh_local));
        roadie_rtt.push(ping_pong(&roadie_local));
        ssh_rtt.push(ping_pong(&ssh_local));
    }
    let mib_total = f64::from(u32::try_from(BULK >> 20).expect("fits"));
    let rate = |d: Duration| mib_total / d.as_secs_f64();
    let (rb, sb) = (median(roadie_bulk), median(ssh_bulk));
    let (rr, sr) = (median(roadie_rtt), median(ssh_rtt));
    println!("tunnel, {cipher} both (median of {tunnel_runs} runs)");
    println!(
        "  1 GiB through it: roadie tunnel {:.0} MiB/s, ssh -N -L {:.0} MiB/s   roadie = {:.2}x the rate",
        rate(rb),
        rate(sb),
        rate(rb) / rate(sb)
    );
    println!(
        "  1,000 64-byte round trips: roadie tunnel {:.1} us each, ssh -N -L {:.1} us each   roadie = {:.2}x the time",
        rr.as_secs_f64() * 1000.0,
        sr.as_secs_f64() * 1000.0,
        rr.as_secs_f64() / sr.as_secs_f64()
    );
    println!(
        "  peak memory: roadie tunnel {:.1} MiB, ssh -N -L {:.1} MiB",
        mib(peak_rss(roadie.id()).unwrap_or(0)),
        mib(peak_rss(ssh.id()).unwrap_or(0))
    );
    let _ = roadie.kill();
    let _ = ssh.kill();
    let _ = roadie.wait();
    let _ = ssh.wait();
}
