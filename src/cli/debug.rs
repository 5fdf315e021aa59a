//! `roadie debug TARGET [--attach] [-- pytest ARGS...]`: find debugger
//! sessions waiting on the hosts (and those published there from hosts
//! nobody can reach, see [`super::publish`]), tunnel to each, announce
//! them, and optionally connect this terminal to them.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use std::io::Write as _;

use super::{Global, host_failed, output_result};
use crate::command::{RemoteCommand, quote};
use crate::debug::{Found, SHIM, State, discover};
use crate::debug_publish::Record;
use crate::duration;
use crate::error::{Error, exit_code};
use crate::event::{
    Attached, DebugEvent, DebugSession, Ended, Event, Kind, PublishedSession, Stream, TunnelEvent,
    Waiting,
};
use crate::outcome::{HostOutcome, overall_exit_code};
use crate::output::{Mode, Renderer};
use crate::runner::{DEFAULT_PARALLEL, each_host};
use crate::safety::{Intent, SafetyClass};
use crate::ssh::{Chunk, Expect};
use crate::tunnel::{Link, To, forward};
use crate::tunnel_spec::Remote;

#[derive(Debug, Args)]
pub struct DebugArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    #[arg(required_unless_present = "publish")]
    pub target: Option<String>,
    /// Run the test command here (a CI runner) and publish each session
    /// that waits to TARGET, a host this one can reach, where
    /// `roadie debug TARGET` finds it (ROADIE_DEBUG_PUBLISH=0: just run it).
    #[arg(long, value_name = "TARGET", conflicts_with_all = ["target", "attach", "once", "cwd", "stacks"])]
    pub publish: Option<String>,
    /// Connect this terminal to a waiting remote-pdb session (`:help` for
    /// switching between several).
    #[arg(long)]
    pub attach: bool,
    /// List the waiting sessions once and exit (no tunnels).
    #[arg(long)]
    pub once: bool,
    /// How often to look for sessions.
    #[arg(long, default_value = "1", value_parser = duration::parse, value_name = "TIME")]
    pub interval: Duration,
    /// With a command: how long a failing test waits for a debugger before
    /// it carries on unattended (0 waits forever).
    #[arg(long, default_value = "600", value_parser = duration::parse, value_name = "TIME")]
    pub wait: Duration,
    /// With a command: the remote directory to run it in (~/ is the remote home).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// The local checkout of the code a debugpy session runs: its VS Code
    /// attach snippet maps the session's remote directory to it.
    #[arg(long, value_name = "DIR")]
    pub local_root: Option<String>,
    #[command(flatten)]
    pub stack: super::stacks::StackArgs,
    /// A pytest command to run on the host with post-mortem debugging wired
    /// to a remote debugger (--pdb --pdbcls=roadie_pdb:RemotePdb is added).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Hosts looked at once (`--once`).
    #[arg(long, default_value_t = DEFAULT_PARALLEL)]
    pub parallel: u16,
}

impl PublishedSession {
    fn new(record: Record) -> PublishedSession {
        let left_s = record.left(crate::debug_publish::now());
        PublishedSession {
            published: true,
            record,
            left_s,
        }
    }

    /// `test X on worker gw1 of run 9001 job test on runner-3, published
    /// (9m58s left)`.
    fn describe(&self) -> String {
        use std::fmt::Write;
        let r = &self.record;
        let mut text = format!("test {}", r.test.as_deref().unwrap_or("(unknown)"));
        if let Some(worker) = &r.worker {
            let _ = write!(text, " on worker {worker}");
        }
        if let Some(job) = r.job() {
            let _ = write!(text, " of {job}");
        }
        let _ = write!(text, " on {} (pid {}), published", r.runner, r.pid);
        match self.left_s {
            Some(left) => {
                let left = humantime::format_duration(Duration::from_secs(left));
                let _ = write!(text, " ({left} left)");
            }
            None => text.push_str(" (waits until attached)"),
        }
        text
    }
}

/// `" (continued)"` and the like, for how a session ended.
pub(super) fn ended_how(how: Option<&str>) -> &'static str {
    match how {
        Some("continue") => " (continued)",
        Some("quit") => " (quit)",
        Some("timeout") => " (nobody attached in time; the tests carried on)",
        _ => "",
    }
}

impl DebugEvent {
    fn describe(&self) -> String {
        match self {
            DebugEvent::Session(DebugSession::Found {
                number,
                host,
                session,
            }) => format!(
                "{number}: {host}: {} (pid {}, port {}): {}",
                what_waits(session),
                session.pid,
                session.port,
                session.command
            ),
            DebugEvent::Session(DebugSession::FoundPublished {
                number,
                host,
                session,
            }) => format!("{number}: {host}: {}", session.describe()),
            DebugEvent::Session(DebugSession::Waiting {
                host,
                waiting,
                connect,
                exposed,
                ..
            }) => {
                let warning = if *exposed {
                    format!(
                        "\n  WARNING: it listens on {} port {}: reachable from outside the server",
                        waiting.address, waiting.port
                    )
                } else {
                    String::new()
                };
                format!(
                    "{host}: {} (pid {}, port {}): {connect}{warning}",
                    what_waits(waiting),
                    waiting.pid,
                    waiting.port
                )
            }
            DebugEvent::Session(DebugSession::Published {
                host,
                session,
                connect,
                ..
            }) => format!("{host}: {}: {connect}", session.describe()),
            DebugEvent::Attached(Attached::Local { host, pid, port }) => {
                format!("{host}: the session on port {port} (pid {pid}) has a client attached")
            }
            DebugEvent::Attached(Attached::Published { host, socket, .. }) => {
                format!("{host}: the session published at {socket} has a client attached")
            }
            DebugEvent::Ended(Ended::Local {
                host,
                pid,
                port,
                how,
            }) => format!(
                "{host}: the session on port {port} (pid {pid}) ended{}",
                ended_how(how.as_deref())
            ),
            DebugEvent::Ended(Ended::Published {
                host, test, how, ..
            }) => format!(
                "{host}: the published session of test {} ended{}",
                test.as_deref().unwrap_or("(unknown)"),
                ended_how(how.as_deref())
            ),
        }
    }

    /// What names the session this event is about, for the console: the
    /// same for its waiting and its ended events.
    fn session_key(&self) -> Option<String> {
        match self {
            DebugEvent::Session(DebugSession::Waiting { host, waiting, .. }) => {
                Some(format!("{host} {} {}", waiting.pid, waiting.port))
            }
            DebugEvent::Ended(Ended::Local {
                host, pid, port, ..
            }) => Some(format!("{host} {pid} {port}")),
            DebugEvent::Session(DebugSession::Published { host, session, .. }) => {
                Some(format!("{host} {}", session.record.socket))
            }
            DebugEvent::Ended(Ended::Published { host, socket, .. }) => {
                Some(format!("{host} {socket}"))
            }
            _ => None,
        }
    }
}

/// `test X on worker gw2 waiting in remote-pdb` for a session whose test
/// (and worker) the shim noted, else `remote-pdb waiting`.
fn what_waits(waiting: &Waiting) -> String {
    let kind = waiting.kind;
    match (&waiting.test, &waiting.worker) {
        (Some(test), Some(worker)) => format!("test {test} on worker {worker} waiting in {kind}"),
        (Some(test), None) => format!("test {test} waiting in {kind}"),
        _ => format!("{kind} waiting"),
    }
}

/// What is watched: a session found on the host, or one published there.
enum Seen {
    Local(Waiting),
    Published(Record),
}

/// A session being watched: its tunnel, how to reach it, and its state.
struct Tracked {
    host: String,
    seen: Seen,
    /// The local end of the tunnel to it.
    local: SocketAddr,
    state: State,
    task: tokio::task::JoinHandle<()>,
    /// `--local-root`, for a debugpy session's path mappings.
    local_root: Option<String>,
}

impl Tracked {
    /// The event telling that it is in its current state (`how` it ended,
    /// if it did and that is known).
    fn event(&self, how: Option<&str>) -> DebugEvent {
        let host = self.host.clone();
        let nc = format!("nc {} {}", self.local.ip(), self.local.port());
        match (&self.seen, self.state) {
            (Seen::Local(waiting), State::Waiting) => DebugEvent::Session(DebugSession::Waiting {
                host,
                waiting: waiting.clone(),
                local: self.local.to_string(),
                connect: match waiting.kind {
                    Kind::RemotePdb => nc,
                    Kind::WebPdb => format!("http://{}/", self.local),
                    Kind::Debugpy => format!(
                        "in VS Code, a launch.json configuration: {}",
                        vscode_attach(&self.host, waiting, self.local, self.local_root.as_deref())
                    ),
                },
                exposed: waiting.exposed(),
            }),
            (Seen::Local(waiting), State::Attached) => DebugEvent::Attached(Attached::Local {
                host,
                pid: waiting.pid,
                port: waiting.port,
            }),
            (Seen::Local(waiting), State::Ended) => DebugEvent::Ended(Ended::Local {
                host,
                pid: waiting.pid,
                port: waiting.port,
                how: how.map(str::to_owned),
            }),
            (Seen::Published(record), State::Waiting) => {
                DebugEvent::Session(DebugSession::Published {
                    host,
                    session: PublishedSession::new(record.clone()),
                    local: self.local.to_string(),
                    connect: nc,
                })
            }
            (Seen::Published(record), State::Attached) => {
                DebugEvent::Attached(Attached::Published {
                    host,
                    socket: record.socket.clone(),
                    pid: record.pid,
                })
            }
            (Seen::Published(record), State::Ended) => DebugEvent::Ended(Ended::Published {
                host,
                socket: record.socket.clone(),
                pid: record.pid,
                test: record.test.clone(),
                // Its record gone at the end of its time: nobody came.
                how: (record.left(crate::debug_publish::now()) == Some(0))
                    .then(|| "timeout".to_owned()),
            }),
        }
    }

    /// Its state now, by what `found` says; how it ended, if that is known.
    fn state_in<'a>(&self, found: &'a Found) -> (State, Option<&'a str>) {
        match &self.seen {
            Seen::Local(waiting) => (found.state_of(waiting), found.how_ended(waiting)),
            Seen::Published(record) => {
                let now = found.published.iter().find(|r| r.socket == record.socket);
                let state = match now {
                    Some(r) if r.attached => State::Attached,
                    Some(_) => State::Waiting,
                    None => State::Ended,
                };
                (state, None)
            }
        }
    }
}

/// What names a watched session on host `index`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Local(usize, u32, u16),
    Published(usize, String),
}

impl Key {
    fn host(&self) -> usize {
        match self {
            Key::Local(index, ..) | Key::Published(index, _) => *index,
        }
    }
}

/// Looks for sessions on every host and keeps a tunnel to each.
struct Watcher {
    links: Vec<Arc<Link>>,
    tracked: HashMap<Key, Tracked>,
    local_root: Option<String>,
}

impl Watcher {
    /// Look again; what appeared, and what changed state.
    async fn poll(&mut self) -> Vec<DebugEvent> {
        let mut events = Vec::new();
        for (index, link) in self.links.clone().into_iter().enumerate() {
            // Down, or the look failed: keep what we know until it works.
            let Some(session) = link.session(Duration::from_millis(100)).await else {
                continue;
            };
            let Ok(found) = discover(&session).await else {
                continue;
            };
            events.extend(self.update(index, &found));
            let now = crate::debug_publish::now();
            let new = found
                .waiting
                .into_iter()
                .map(|w| (Key::Local(index, w.pid, w.port), Seen::Local(w)))
                .chain(
                    found
                        .published
                        .into_iter()
                        .filter(|r| r.left(now) != Some(0))
                        .map(|r| (Key::Published(index, r.socket.clone()), Seen::Published(r))),
                );
            for (key, seen) in new {
                if self.tracked.contains_key(&key) {
                    continue;
                }
                if let Some(tracked) = track(&link, seen, self.local_root.clone()).await {
                    events.push(tracked.event(None));
                    self.tracked.insert(key, tracked);
                }
            }
        }
        events
    }

    /// The known sessions of host `index` brought to what `found` says;
    /// the changes, and ended ones are dropped with their tunnels.
    fn update(&mut self, index: usize, found: &Found) -> Vec<DebugEvent> {
        let mut events = Vec::new();
        self.tracked.retain(|key, tracked| {
            if key.host() != index {
                return true;
            }
            let (now, how) = tracked.state_in(found);
            if now != tracked.state {
                tracked.state = now;
                events.push(tracked.event(how));
            }
            if now == State::Ended {
                tracked.task.abort();
            }
            now != State::Ended
        });
        events
    }
}

/// A VS Code `launch.json` configuration that attaches to the debugpy
/// session `waiting` through the tunnel's `local` end, its remote directory
/// mapped to `local_root` when given.
fn vscode_attach(
    host: &str,
    waiting: &Waiting,
    local: SocketAddr,
    local_root: Option<&str>,
) -> String {
    let mut attach = serde_json::json!({
        "name": format!("roadie: {host} pid {}", waiting.pid),
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": local.ip().to_string(), "port": local.port()},
    });
    if let (Some(local_root), Some(remote_root)) = (local_root, &waiting.cwd) {
        attach["pathMappings"] =
            serde_json::json!([{"localRoot": local_root, "remoteRoot": remote_root}]);
    }
    attach.to_string()
}

/// A tunnel to a new waiting session on `link`'s host.
async fn track(link: &Arc<Link>, seen: Seen, local_root: Option<String>) -> Option<Tracked> {
    let to = match &seen {
        Seen::Local(waiting) => To::Port(Remote {
            host: waiting.reach(),
            port: waiting.port,
        }),
        Seen::Published(record) => To::Socket(record.socket.clone()),
    };
    let bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let (local, task) = forward(link.clone(), bind, to, None).await.ok()?;
    Some(Tracked {
        host: link.label().to_owned(),
        seen,
        local,
        state: State::Waiting,
        task,
        local_root,
    })
}

fn announce(event: &DebugEvent, json: bool) {
    if json {
        let _ = crate::output::json_stdout(&Event::Debug(event.clone()));
    } else {
        stderr_line!("roadie: {}", event.describe());
    }
}

pub(super) async fn debug(global: &Global, args: &DebugArgs) -> Result<i32, Error> {
    let target = match (&args.target, &args.publish) {
        (_, Some(publish)) => {
            return Box::pin(super::publish::publish(global, publish, args)).await;
        }
        (Some(target), None) => target,
        (None, None) => return Err(Error::Usage("name a TARGET, or --publish TARGET".into())),
    };
    let hosts = global.hosts(target)?;
    if args.stack.stacks {
        return super::stacks::show(global, &hosts, &args.stack).await;
    }
    if args.stack.running {
        return super::stacks::show_running(global, &hosts, &args.stack).await;
    }
    if args.once {
        return list_once(global, &hosts, usize::from(args.parallel)).await;
    }
    if !args.command.is_empty() && hosts.len() > 1 {
        return Err(Error::Usage(
            "a command runs on one host; name it as ENV/HOST".into(),
        ));
    }
    // Tunnels to a debugger change nothing, but they reach into a running
    // process: a change, as any tunnel.
    let intent = Intent {
        class: SafetyClass::Change,
        confirm: global.confirm.clone(),
    };
    super::tunnel::lock_all(target, "debug", &hosts, &intent)?;
    let (sender, receiver) = mpsc::unbounded_channel::<TunnelEvent>();
    let printer = super::tunnel::print_events(receiver, global.json);
    let mut links = Vec::new();
    for host in &hosts {
        links.push(super::tunnel::link_to(target, "debug", host, &intent, sender.clone()).await?);
    }
    let mut watcher = Watcher {
        links,
        tracked: HashMap::new(),
        local_root: args.local_root.clone(),
    };
    let (done_sender, mut done) = mpsc::channel::<i32>(1);
    if !args.command.is_empty() {
        let link = watcher.links[0].clone();
        let (command, cwd, wait, json) = (
            args.command.clone(),
            args.cwd.clone(),
            args.wait,
            global.json,
        );
        tokio::spawn(async move {
            let code = match run_tests(&link, &command, cwd.as_deref(), wait, json).await {
                Ok(code) => code,
                Err(e) => {
                    stderr_line!("roadie: error: {}", crate::error::report(&e));
                    e.exit_code()
                }
            };
            let _ = done_sender.send(code).await;
        });
    }
    let (output_sender, mut outputs) = mpsc::unbounded_channel();
    let mut console = Console {
        active: args.attach,
        known: BTreeMap::new(),
        numbered: 0,
        current: None,
        output_sender,
    };
    let mut typed = BufReader::new(tokio::io::stdin()).lines();
    let mut ticker = tokio::time::interval(args.interval);
    crate::ssh::proxy::leave_to_caller(nix::sys::signal::Signal::SIGINT);
    let code = loop {
        tokio::select! {
            _ = ticker.tick() => {
                for event in watcher.poll().await {
                    announce(&event, global.json);
                    console.offer(&event).await;
                }
            }
            line = typed.next_line(), if console.active => console.input(line.ok().flatten()).await,
            Some(output) = outputs.recv() => console.output(output),
            code = done.recv() => break code.unwrap_or(exit_code::SUCCESS),
            _ = tokio::signal::ctrl_c() => break exit_code::SUCCESS,
        }
    };
    for tracked in watcher.tracked.values() {
        tracked.task.abort();
    }
    printer.abort();
    Ok(code)
}

/// `--once`: the sessions waiting on the hosts and those published
/// there, numbered, printed; nothing is opened to them.
async fn list_once(
    global: &Global,
    hosts: &[crate::host::Host],
    parallel: usize,
) -> Result<i32, Error> {
    let results = each_host(hosts, &Intent::read(), parallel, |session| async move {
        let found = discover(&session).await;
        session.close().await;
        found
    })
    .await;
    let now = crate::debug_publish::now();
    let mut number = 0;
    let mut out = std::io::stdout().lock();
    let mut outcomes = Vec::with_capacity(hosts.len());
    for (host, result) in hosts.iter().zip(results) {
        let found = match result {
            Ok(found) => found,
            Err(error) => {
                host_failed(&mut out, host, &error, global.json)?;
                outcomes.push(HostOutcome::Failed(error));
                continue;
            }
        };
        outcomes.push(HostOutcome::done("listed"));
        let waiting = found.waiting.into_iter().map(|session| {
            number += 1;
            DebugEvent::Session(DebugSession::Found {
                number,
                host: host.label.clone(),
                session,
            })
        });
        let events: Vec<DebugEvent> = waiting.collect();
        let published = found
            .published
            .into_iter()
            .filter(|r| r.left(now) != Some(0))
            .map(|record| {
                number += 1;
                DebugEvent::Session(DebugSession::FoundPublished {
                    number,
                    host: host.label.clone(),
                    session: PublishedSession::new(record),
                })
            });
        for event in events.into_iter().chain(published) {
            if global.json {
                output_result(crate::output::json_line(&mut out, &Event::Debug(event)))?;
            } else {
                output_result(writeln!(out, "{}", event.describe()))?;
            }
        }
    }
    Ok(overall_exit_code(&outcomes))
}

/// Run the tests on the host with the shim uploaded and post-mortem
/// debugging wired to it; their exit code.
async fn run_tests(
    link: &Link,
    command: &[String],
    cwd: Option<&str>,
    wait: Duration,
    json: bool,
) -> Result<i32, Error> {
    let session = link
        .session(Duration::from_secs(10))
        .await
        .ok_or_else(|| Error::Remote {
            host: link.label().to_owned(),
            message: "the connection is down".into(),
        })?;
    let temporary = session.run(&RemoteCommand::shell("mktemp -d")).await?;
    let dir = String::from_utf8_lossy(&temporary.stdout).trim().to_owned();
    if !temporary.status.success() || dir.is_empty() {
        return Err(Error::Remote {
            host: link.label().to_owned(),
            message: "cannot make a temporary directory (mktemp -d)".into(),
        });
    }
    session
        .write_file(
            &format!("{dir}/roadie_pdb.py"),
            SHIM.as_bytes(),
            &Expect::Anything,
            0o644,
            false,
        )
        .await?;
    let words: Vec<String> = command.iter().map(|w| quote(w)).collect();
    let script = format!(
        "PYTHONPATH={dir}${{PYTHONPATH:+:$PYTHONPATH}} REMOTE_PDB_HOST=127.0.0.1 REMOTE_PDB_PORT=0 ROADIE_PDB_TIMEOUT={} \
         {} --pdb --pdbcls=roadie_pdb:RemotePdb; status=$?; rm -rf {dir}; exit $status",
        wait.as_secs(),
        words.join(" "),
        dir = quote(&dir),
    );
    let mut remote = RemoteCommand::shell(script);
    if let Some(cwd) = cwd {
        remote = remote.cwd(cwd);
    }
    let mut execution = session.start(&remote).await?;
    // The tests' output as `roadie run` shows a host's: passed through, or
    // as JSON output events.
    let host = link.label().to_owned();
    let mode = if json { Mode::Json } else { Mode::Plain };
    let mut shown = Renderer::new(mode, vec![host.clone()]);
    while let Some(chunk) = execution.next().await? {
        let (stream, data) = match chunk {
            Chunk::Stdout(data) => (Stream::Stdout, data),
            Chunk::Stderr(data) => (Stream::Stderr, data),
            Chunk::Exit(status) => {
                let _ = shown.flush();
                return Ok(status.as_exit_code());
            }
        };
        let _ = shown.handle(Event::Data {
            host: host.clone(),
            stream,
            data,
        });
        let _ = shown.flush();
    }
    Ok(exit_code::FAILED)
}

/// Output of an attached session (`None`: it ended), by its number.
type SessionOutput = (usize, Option<Vec<u8>>);

/// A live remote-pdb session this terminal can attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    /// What names it (see [`DebugEvent::session_key`]).
    key: String,
    /// What it is, for people.
    label: String,
    local: SocketAddr,
}

/// This terminal connected to remote-pdb sessions, one at a time.
struct Console {
    active: bool,
    /// Live sessions by number (1, 2, ... in the order they appeared).
    known: BTreeMap<usize, Known>,
    /// The last number given.
    numbered: usize,
    /// The connected session (its number) and its writer.
    current: Option<(usize, tokio::net::tcp::OwnedWriteHalf)>,
    output_sender: mpsc::UnboundedSender<SessionOutput>,
}

impl Console {
    /// A session appeared (attach if nothing is attached yet) or ended.
    async fn offer(&mut self, event: &DebugEvent) {
        if !self.active {
            return;
        }
        let Some(key) = event.session_key() else {
            return;
        };
        let (label, local) = match event {
            DebugEvent::Session(DebugSession::Waiting {
                host,
                waiting,
                local,
                ..
            }) if waiting.kind == Kind::RemotePdb => (
                format!("{host} pid {} port {}", waiting.pid, waiting.port),
                local,
            ),
            DebugEvent::Session(DebugSession::Published {
                host,
                session,
                local,
                ..
            }) => (format!("{host}: {}", session.describe()), local),
            DebugEvent::Ended(Ended::Local { .. } | Ended::Published { .. }) => {
                self.known.retain(|_, k| k.key != key);
                return;
            }
            _ => return,
        };
        let Ok(local) = local.parse() else { return };
        if self.known.values().any(|k| k.key == key) {
            return; // waiting again after a client left
        }
        self.numbered += 1;
        self.known
            .insert(self.numbered, Known { key, label, local });
        if self.current.is_none() {
            self.switch(self.numbered).await;
        } else {
            stderr_line!(
                "roadie: another session is waiting: `:switch {}` to go there",
                self.numbered
            );
        }
    }

    async fn switch(&mut self, number: usize) {
        let Some(Known { label, local, .. }) = self.known.get(&number).cloned() else {
            stderr_line!("roadie: no session {number}; `:sessions` lists them");
            return;
        };
        match TcpStream::connect(local).await {
            Ok(stream) => {
                let (mut read, write) = stream.into_split();
                let sender = self.output_sender.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 8192];
                    loop {
                        match read.read(&mut buffer).await {
                            Ok(0) | Err(_) => {
                                let _ = sender.send((number, None));
                                return;
                            }
                            Ok(n) => {
                                let _ = sender.send((number, Some(buffer[..n].to_vec())));
                            }
                        }
                    }
                });
                stderr_line!("roadie: attached to {label} (session {number})");
                self.current = Some((number, write));
            }
            Err(e) => stderr_line!("roadie: cannot attach to {label}: {e}"),
        }
    }

    fn output(&mut self, (number, data): SessionOutput) {
        let current = self.current.as_ref().map(|(i, _)| *i);
        match data {
            Some(bytes) if current == Some(number) => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = out.write_all(&bytes);
                let _ = out.flush();
            }
            Some(_) => {}
            None => {
                if current == Some(number) {
                    self.current = None;
                    stderr_line!(
                        "\nroadie: the session ended (continued, quit, or the connection dropped)"
                    );
                }
            }
        }
    }

    async fn input(&mut self, line: Option<String>) {
        let Some(line) = line else {
            self.active = false; // stdin closed: nothing more to send
            return;
        };
        if let Some(command) = line.strip_prefix(':') {
            let mut words = command.split_whitespace();
            match (
                words.next(),
                words.next().and_then(|n| n.parse::<usize>().ok()),
            ) {
                (Some("sessions"), _) => {
                    for (number, k) in &self.known {
                        stderr_line!("{number}: {} (local {})", k.label, k.local);
                    }
                }
                (Some("switch"), Some(n)) => self.switch(n).await,
                _ => stderr_line!(
                    "roadie: `:sessions` lists the sessions, `:switch N` attaches to one; other lines go to the session"
                ),
            }
            return;
        }
        match &mut self.current {
            Some((_, writer)) => {
                if writer
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    stderr_line!("roadie: the session is gone; that line was not sent");
                    self.current = None;
                }
            }
            None => stderr_line!("roadie: no session attached; waiting for one (`:sessions`)"),
        }
    }
}
