//! `roadie debug TARGET [--attach] [-- pytest ARGS...]`: find debugger
//! sessions waiting on the hosts, tunnel to each, announce them, and
//! optionally connect this terminal to them.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::Global;
use crate::command::{RemoteCommand, quote};
use crate::debug::{Found, Kind, SHIM, State, Waiting, discover};
use crate::duration;
use crate::error::{Error, exit_code};
use crate::event::{Event, Stream};
use crate::output::{Mode, Renderer};
use crate::safety::{Intent, SafetyClass};
use crate::ssh::{Chunk, Expect};
use crate::tunnel::{Link, TunnelEvent, forward};
use crate::tunnel_spec::Remote;

#[derive(Debug, Args)]
pub struct DebugArgs {
    /// An environment, a host, ENV/HOST, or a comma list of these.
    pub target: String,
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
}

/// What `roadie debug` reports (events `debug_session`,
/// `debug_session_attached`, `debug_session_ended`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event")]
enum DebugEvent {
    /// `--once`: a session found waiting, nothing opened to it.
    #[serde(rename = "debug_session")]
    Found { host: String, session: Waiting },
    /// A session waits for a client.
    #[serde(rename = "debug_session")]
    Waiting {
        host: String,
        #[serde(flatten)]
        waiting: Waiting,
        /// The local end of the tunnel to it.
        local: String,
        /// How to connect: an `nc` line, or a URL.
        connect: String,
        exposed: bool,
    },
    /// A client is connected: the session no longer listens, but lives.
    #[serde(rename = "debug_session_attached")]
    Attached { host: String, pid: u32, port: u16 },
    /// The session is over; `how`, when its shim noted it: `continue`,
    /// `quit` or `timeout` (nobody attached in time).
    #[serde(rename = "debug_session_ended")]
    Ended {
        host: String,
        pid: u32,
        port: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        how: Option<String>,
    },
}

impl DebugEvent {
    /// As a line of JSON (plain data: it always serialises).
    fn json(&self) -> String {
        serde_json::to_string(self).expect("a debug event always serialises")
    }

    fn describe(&self) -> String {
        match self {
            DebugEvent::Found { host, session } => format!(
                "{host}: {} (pid {}, port {}): {}",
                what_waits(session),
                session.pid,
                session.port,
                session.command
            ),
            DebugEvent::Waiting {
                host,
                waiting,
                connect,
                exposed,
                ..
            } => {
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
            DebugEvent::Attached { host, pid, port } => {
                format!("{host}: the session on port {port} (pid {pid}) has a client attached")
            }
            DebugEvent::Ended {
                host,
                pid,
                port,
                how,
            } => {
                let how = match how.as_deref() {
                    Some("continue") => " (continued)",
                    Some("quit") => " (quit)",
                    Some("timeout") => " (nobody attached in time; the tests carried on)",
                    _ => "",
                };
                format!("{host}: the session on port {port} (pid {pid}) ended{how}")
            }
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

/// A session being watched: its tunnel, how to reach it, and its state.
struct Tracked {
    host: String,
    waiting: Waiting,
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
        let (host, pid, port) = (self.host.clone(), self.waiting.pid, self.waiting.port);
        match self.state {
            State::Waiting => DebugEvent::Waiting {
                host,
                waiting: self.waiting.clone(),
                local: self.local.to_string(),
                connect: match self.waiting.kind {
                    Kind::RemotePdb => format!("nc {} {}", self.local.ip(), self.local.port()),
                    Kind::WebPdb => format!("http://{}/", self.local),
                    Kind::Debugpy => format!(
                        "in VS Code, a launch.json configuration: {}",
                        vscode_attach(
                            &self.host,
                            &self.waiting,
                            self.local,
                            self.local_root.as_deref()
                        )
                    ),
                },
                exposed: self.waiting.exposed(),
            },
            State::Attached => DebugEvent::Attached { host, pid, port },
            State::Ended => DebugEvent::Ended {
                host,
                pid,
                port,
                how: how.map(str::to_owned),
            },
        }
    }
}

/// Looks for sessions on every host and keeps a tunnel to each.
struct Watcher {
    links: Vec<Arc<Link>>,
    tracked: HashMap<(usize, u32, u16), Tracked>,
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
            for waiting in found.waiting {
                let key = (index, waiting.pid, waiting.port);
                if self.tracked.contains_key(&key) {
                    continue;
                }
                if let Some(tracked) = track(&link, waiting, self.local_root.clone()).await {
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
            if key.0 != index {
                return true;
            }
            let now = found.state_of(&tracked.waiting);
            if now != tracked.state {
                tracked.state = now;
                events.push(tracked.event(found.how_ended(&tracked.waiting)));
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
async fn track(link: &Arc<Link>, waiting: Waiting, local_root: Option<String>) -> Option<Tracked> {
    let remote = Remote {
        host: waiting.reach(),
        port: waiting.port,
    };
    let bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let (local, task) = forward(link.clone(), bind, remote, None).await.ok()?;
    Some(Tracked {
        host: link.label().to_owned(),
        waiting,
        local,
        state: State::Waiting,
        task,
        local_root,
    })
}

fn announce(event: &DebugEvent, json: bool) {
    if json {
        println!("{}", event.json());
    } else {
        stderr_line!("roadie: {}", event.describe());
    }
}

/// `--once`: the sessions waiting on every host, listed; nothing opened.
async fn list_once(global: &Global, hosts: &[crate::host::Host]) -> Result<i32, Error> {
    let results = crate::runner::each_host(hosts, &Intent::read(), 32, |session| async move {
        let found = discover(&session).await;
        session.close().await;
        found
    })
    .await;
    for (host, result) in hosts.iter().zip(results) {
        for waiting in result?.waiting {
            let found = DebugEvent::Found {
                host: host.label.clone(),
                session: waiting,
            };
            if global.json {
                println!("{}", found.json());
            } else {
                println!("{}", found.describe());
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

pub(super) async fn debug(global: &Global, args: &DebugArgs) -> Result<i32, Error> {
    let hosts = global.hosts(&args.target)?;
    if args.stack.stacks {
        return super::stacks::show(global, &hosts, &args.stack).await;
    }
    if args.stack.running {
        return super::stacks::show_running(global, &hosts, &args.stack).await;
    }
    if args.once {
        return list_once(global, &hosts).await;
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
    let (sender, receiver) = mpsc::unbounded_channel::<TunnelEvent>();
    let printer = super::tunnel::print_events(receiver, global.json);
    let mut links = Vec::new();
    for host in &hosts {
        links.push(Link::connect(host, &intent, sender.clone()).await?);
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
    host: String,
    pid: u32,
    port: u16,
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
        match event {
            DebugEvent::Waiting {
                host,
                waiting,
                local,
                ..
            } if waiting.kind == Kind::RemotePdb => {
                let Ok(local) = local.parse() else { return };
                let known = Known {
                    host: host.clone(),
                    pid: waiting.pid,
                    port: waiting.port,
                    local,
                };
                if self.known.values().any(|k| *k == known) {
                    return; // waiting again after a client left
                }
                self.numbered += 1;
                self.known.insert(self.numbered, known);
                if self.current.is_none() {
                    self.switch(self.numbered).await;
                } else {
                    stderr_line!(
                        "roadie: another session is waiting: `:switch {}` to go there",
                        self.numbered
                    );
                }
            }
            DebugEvent::Ended {
                host, pid, port, ..
            } => self
                .known
                .retain(|_, k| (&k.host, k.pid, k.port) != (host, *pid, *port)),
            _ => {}
        }
    }

    async fn switch(&mut self, number: usize) {
        let Some(Known {
            host,
            pid,
            port,
            local,
        }) = self.known.get(&number).cloned()
        else {
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
                stderr_line!("roadie: attached to {host} pid {pid} port {port} (session {number})");
                self.current = Some((number, write));
            }
            Err(e) => stderr_line!("roadie: cannot attach to {host} port {port}: {e}"),
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
                        stderr_line!(
                            "{number}: {} pid {} port {} (local {})",
                            k.host,
                            k.pid,
                            k.port,
                            k.local
                        );
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
