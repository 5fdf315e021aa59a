//! `roadie persist hold`: the background process that keeps one verified,
//! logged-in connection and serves its own user's invocations on a private
//! Unix socket, forwarding each of their channels to the server.
//!
//! Limits of the relay, both fine for roadie as its only client: russh's
//! server side keeps one pending reply per channel, so a client must make
//! one request per channel and wait for its answer (roadie sends a single
//! `exec` or `subsystem`); and what the server sends is taken from the shared
//! connection at once, whatever the client's pace, so a client that leaves
//! more than [`UNREAD_LIMIT`] unread on a channel has that channel closed
//! rather than holding up everybody's.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use russh::keys::{Algorithm, PrivateKey};
use russh::server::{self, Auth, ChannelOpenHandle};
use russh::{
    Channel, ChannelId, ChannelMsg, ChannelOpenFailure, ChannelReadHalf, ChannelWriteHalf, client,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::{HoldAnswer, HoldRequest, Place, Record};
use crate::ssh::{self, Session};

/// Run the holder: connect as the request says, answer on stdout, then
/// serve until idle, until the server's connection ends, or until SIGTERM.
/// Returns the process exit code.
pub(crate) async fn run() -> i32 {
    // Out of the terminal's session: Ctrl-C and hang-ups there are the
    // invoking command's, not this process's.
    let _ = nix::unistd::setsid();
    close_inherited_descriptors();
    let mut input = String::new();
    if let Err(e) = tokio::io::stdin().read_to_string(&mut input).await {
        stderr_line!("roadie persist hold: cannot read the request: {e}");
        return 2;
    }
    let request: HoldRequest = match serde_json::from_str(&input) {
        Ok(request) => request,
        Err(e) => {
            stderr_line!("roadie persist hold: bad request: {e}");
            return 2;
        }
    };
    // Hold no directory of the caller's (a mount point, say) busy.
    let _ = std::env::set_current_dir(&request.place.dir);
    // A server that vanished (a laptop asleep, a NAT that forgot) must be
    // noticed even when nothing runs: keepalives, whatever the config says.
    let mut host = request.host.clone();
    host.keepalive = host.keepalive.or(Some((
        crate::host::DEFAULT_KEEPALIVE_INTERVAL,
        crate::host::DEFAULT_KEEPALIVE_MAX,
    )));
    let mut session = match ssh::connect_host(&host, &request.intent).await {
        Ok(session) => session,
        Err(ssh::ConnectError::Refused(refusal)) => {
            answer(&HoldAnswer::Refused(refusal)).await;
            return 1;
        }
        Err(e) => {
            answer(&HoldAnswer::Failed {
                kind: e.kind().to_owned(),
                message: e.to_string(),
            })
            .await;
            return 1;
        }
    };
    // Every invocation checks the pinned-key lock against these keys: a
    // holder that could not learn them serves nobody.
    if session.announced_keys().is_empty()
        && let Err(e) = session.learn_announced_keys().await
    {
        answer(&HoldAnswer::Failed {
            kind: "persist".into(),
            message: format!("the server's other host keys are unknown: {e}"),
        })
        .await;
        session.close().await;
        return 1;
    }
    let (listener, shared) = match listen(&request, &session) {
        Ok(listening) => listening,
        Err(message) => {
            stderr_line!("roadie persist hold: {message}");
            answer(&HoldAnswer::Failed {
                kind: "persist".into(),
                message,
            })
            .await;
            session.close().await;
            return 1;
        }
    };
    answer(&HoldAnswer::Ready).await;
    let session = Arc::new(session);
    let why = serve(&listener, &shared, &session, request.keep).await;
    // Whoever connects now finds nobody listening (and starts a new holder)
    // rather than waiting for this one to wind down.
    drop(listener);
    stderr_line!("roadie persist hold: exiting: {why}");
    {
        // Held to the end: a client leaving now must not write the record again.
        let mut record = shared.record.lock().expect("record lock");
        *record = None;
        // Only this holder's own files: a newer one may have taken the name.
        if shared.owns_socket() {
            shared.place.discard(Some(std::process::id()));
        }
    }
    if let Ok(session) = Arc::try_unwrap(session) {
        session.close().await;
    }
    0
}

/// Close what this process inherited from whoever ran roadie (descriptors
/// without close-on-exec beyond the standard three): a caller waiting for
/// them to close (a test runner reading a pipe) must not wait for the holder.
/// Those roadie itself opens are all close-on-exec.
fn close_inherited_descriptors() {
    const CLOSE_ON_EXEC: u32 = 0o2_000_000;
    let Ok(entries) = std::fs::read_dir("/proc/self/fdinfo") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|fd| *fd > 2)
        else {
            continue;
        };
        let flags = std::fs::read_to_string(entry.path()).ok().and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        });
        if flags.is_some_and(|f| f & CLOSE_ON_EXEC == 0) {
            let _ = nix::unistd::close(fd);
        }
    }
}

async fn answer(answer: &HoldAnswer) {
    let mut line = serde_json::to_vec(answer).expect("plain data serializes");
    line.push(b'\n');
    let mut stdout = tokio::io::stdout();
    let _ = stdout.write_all(&line).await;
    let _ = stdout.flush().await;
}

/// What the serving loop and the client tasks share.
struct Shared {
    place: Place,
    /// None once the holder is exiting.
    record: Mutex<Option<Record>>,
    clients: AtomicUsize,
    idle_since: Mutex<Instant>,
    changed: tokio::sync::Notify,
    config: Arc<server::Config>,
    /// Device and inode of the socket this holder put in place.
    socket: (u64, u64),
}

/// Device and inode of `path` itself (not what a symlink there points to).
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Shared {
    /// Whether the socket in place is still this holder's: once another
    /// holder has replaced it (this one was judged stale), this one must
    /// not touch the record or the socket again.
    fn owns_socket(&self) -> bool {
        file_id(&self.place.socket()) == Some(self.socket)
    }

    fn joined(&self) {
        let clients = self.clients.fetch_add(1, Ordering::SeqCst) + 1;
        self.publish(clients);
    }

    fn left(&self) {
        *self.idle_since.lock().expect("idle lock") = Instant::now();
        let clients = self.clients.fetch_sub(1, Ordering::SeqCst) - 1;
        self.publish(clients);
        self.changed.notify_one();
    }

    fn publish(&self, clients: usize) {
        let mut record = self.record.lock().expect("record lock");
        let Some(record) = record.as_mut() else {
            return; // exiting: the record is gone for good
        };
        if !self.owns_socket() {
            return; // superseded: the record is another holder's
        }
        record.clients = clients;
        record.idle_since = (clients == 0).then(unix_now);
        if let Err(e) = write_record(&self.place, record) {
            stderr_line!("roadie persist hold: {e}");
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Write the record atomically (temporary name, then rename), 0600.
fn write_record(place: &Place, record: &Record) -> Result<(), String> {
    let path = place.record();
    let temp = place
        .dir
        .join(format!(".{}.json.{}", place.id, std::process::id()));
    let text = serde_json::to_vec_pretty(record).expect("plain data serializes");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temp)?;
        std::io::Write::write_all(&mut file, &text)?;
        std::fs::rename(&temp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Listen on a fresh socket, write the record, then put the socket in place
/// (rename: a client never finds a socket without its record).
fn listen(request: &HoldRequest, session: &Session) -> Result<(UnixListener, Arc<Shared>), String> {
    let place = &request.place;
    let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .map_err(|e| format!("cannot make a key: {e}"))?;
    let openssh = |k: &russh::keys::ssh_key::PublicKey| k.to_openssh().unwrap_or_default();
    let host = &request.host;
    let record = Record {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: std::process::id(),
        label: host.label.clone(),
        address: host.address(),
        environment: host.environment.clone(),
        keep: request.keep,
        started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        holder_key: openssh(key.public_key()),
        server_key: openssh(session.server_key()),
        server_certificate: session
            .server_certificate()
            .and_then(|c| c.to_openssh().ok()),
        announced: session.announced_keys().iter().map(openssh).collect(),
        hops: session.hop_keys().iter().map(openssh).collect(),
        clients: 0,
        idle_since: Some(unix_now()),
    };
    let temp = place
        .dir
        .join(format!(".{}.{}.sock", place.id, std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let listener = UnixListener::bind(&temp)
        .map_err(|e| format!("cannot listen on {}: {e}", temp.display()))?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", temp.display()))?;
    write_record(place, &record)?;
    std::fs::rename(&temp, place.socket())
        .map_err(|e| format!("cannot put the socket in place: {e}"))?;
    let socket = file_id(&place.socket()).ok_or("the socket vanished as it was put in place")?;
    let config = server::Config {
        keys: vec![key],
        auth_rejection_time: Duration::ZERO,
        auth_rejection_time_initial: Some(Duration::ZERO),
        inactivity_timeout: None,
        nodelay: true,
        preferred: ssh::local_hop_algorithms(),
        ..server::Config::default()
    };
    Ok((
        listener,
        Arc::new(Shared {
            place: place.clone(),
            record: Mutex::new(Some(record)),
            clients: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            changed: tokio::sync::Notify::new(),
            config: Arc::new(config),
            socket,
        }),
    ))
}

/// Accept this user's invocations until idle for `keep`, until the server's
/// connection ends, or until SIGTERM; says which.
async fn serve(
    listener: &UnixListener,
    shared: &Arc<Shared>,
    session: &Arc<Session>,
    keep: Duration,
) -> &'static str {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return "cannot handle SIGTERM";
    };
    crate::ssh::proxy::leave_to_caller(nix::sys::signal::Signal::SIGTERM);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let uid = nix::unistd::getuid().as_raw();
    loop {
        let idle = shared.clients.load(Ordering::SeqCst) == 0;
        let deadline = *shared.idle_since.lock().expect("idle lock") + keep;
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if stream.peer_cred().is_ok_and(|c| c.uid() == uid) {
                        serve_client(stream, shared.clone(), session.clone());
                    }
                }
                // Out of descriptors, say: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            () = tokio::time::sleep_until(deadline.into()), if idle => {
                return "idle";
            }
            () = shared.changed.notified() => {}
            _ = tick.tick() => {
                if session.is_closed() {
                    return "the server's connection ended";
                }
                if idle && !shared.owns_socket() {
                    return "replaced by another holder";
                }
            }
            _ = terminate.recv() => return "stopped (SIGTERM)",
        }
    }
}

fn serve_client(stream: UnixStream, shared: Arc<Shared>, upstream: Arc<Session>) {
    shared.joined();
    tokio::spawn(async move {
        let proxy = Proxy { upstream };
        if let Ok(running) = server::run_stream(shared.config.clone(), stream, proxy).await {
            let _ = running.await;
        }
        shared.left();
    });
}

/// The russh server side for one invocation: every channel it opens is
/// opened on the server's connection and relayed.
struct Proxy {
    upstream: Arc<Session>,
}

impl server::Handler for Proxy {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        // The socket's peer is this user (checked on accept); a holder whose
        // server connection is gone sends the client elsewhere.
        Ok(if self.upstream.is_closed() {
            Auth::reject()
        } else {
            Auth::Accept
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<server::Msg>,
        reply: ChannelOpenHandle,
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let upstream = self.upstream.clone();
        let handle = session.handle();
        tokio::spawn(async move {
            let opened = upstream.open_session().await;
            relay(opened, channel, reply, handle).await;
        });
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<server::Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let upstream = self.upstream.clone();
        let handle = session.handle();
        let (host, from) = (host_to_connect.to_owned(), originator_address.to_owned());
        tokio::spawn(async move {
            let opened = upstream
                .answered(upstream.handle().channel_open_direct_tcpip(
                    host,
                    port_to_connect,
                    from,
                    originator_port,
                ))
                .await;
            relay(opened, channel, reply, handle).await;
        });
        Ok(())
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        channel: Channel<server::Msg>,
        socket_path: &str,
        reply: ChannelOpenHandle,
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let upstream = self.upstream.clone();
        let handle = session.handle();
        let path = socket_path.to_owned();
        tokio::spawn(async move {
            let opened = upstream
                .answered(upstream.handle().channel_open_direct_streamlocal(path))
                .await;
            relay(opened, channel, reply, handle).await;
        });
        Ok(())
    }
}

/// Answer the client's channel open as the server answered ours, then relay
/// both ways until either side closes.
async fn relay(
    opened: Result<Channel<client::Msg>, russh::Error>,
    down: Channel<server::Msg>,
    reply: ChannelOpenHandle,
    handle: server::Handle,
) {
    let up = match opened {
        Ok(up) => up,
        Err(russh::Error::ChannelOpenFailure(reason)) => return reply.reject(reason).await,
        Err(_) => return reply.reject(ChannelOpenFailure::ConnectFailed).await,
    };
    reply.accept().await;
    let id = down.id();
    let (from_client, to_client) = down.split();
    let (from_server, to_server) = up.split();
    // Whichever side ends the channel, the other is closed too: a command
    // whose client went away must not run on for the holder's lifetime.
    tokio::select! {
        () = upward(from_client, &to_server, &handle, id) => {}
        () = downward(from_server, &to_client, &handle, id) => {}
    }
    let _ = to_server.close().await;
    let _ = to_client.close().await;
}

/// The client's requests and data, to the server.
async fn upward(
    mut from_client: ChannelReadHalf,
    to_server: &ChannelWriteHalf<client::Msg>,
    handle: &server::Handle,
    id: ChannelId,
) {
    while let Some(msg) = from_client.wait().await {
        let sent = match msg {
            ChannelMsg::Data { data } => to_server.data_bytes(data).await,
            ChannelMsg::ExtendedData { data, ext } => {
                to_server.extended_data_bytes(ext, data).await
            }
            ChannelMsg::Eof => to_server.eof().await,
            ChannelMsg::Close => break,
            ChannelMsg::Exec {
                want_reply,
                command,
            } => to_server.exec(want_reply, command).await,
            ChannelMsg::SetEnv {
                want_reply,
                variable_name,
                variable_value,
            } => {
                to_server
                    .set_env(want_reply, variable_name, variable_value)
                    .await
            }
            ChannelMsg::RequestPty {
                want_reply,
                term,
                col_width,
                row_height,
                pix_width,
                pix_height,
                terminal_modes,
            } => {
                to_server
                    .request_pty(
                        want_reply,
                        &term,
                        col_width,
                        row_height,
                        pix_width,
                        pix_height,
                        &terminal_modes,
                    )
                    .await
            }
            ChannelMsg::RequestShell { want_reply } => to_server.request_shell(want_reply).await,
            ChannelMsg::RequestSubsystem { want_reply, name } => {
                to_server.request_subsystem(want_reply, name).await
            }
            ChannelMsg::Signal { signal } => to_server.signal(signal).await,
            ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            } => {
                to_server
                    .window_change(col_width, row_height, pix_width, pix_height)
                    .await
            }
            // X11 is not relayed (agent forwarding is refused by russh).
            ChannelMsg::RequestX11 {
                want_reply: true, ..
            } => handle
                .channel_failure(id)
                .await
                .map_err(|()| russh::Error::SendError),
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Most a client may leave unread on one channel: beyond it the channel is
/// closed. The server connection is shared, and a channel it cannot hand its
/// data to would hold up every invocation's channels.
const UNREAD_LIMIT: usize = 64 << 20;

/// The bytes of data a message carries.
fn data_len(msg: &ChannelMsg) -> usize {
    match msg {
        ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => data.len(),
        _ => 0,
    }
}

/// The server's answers, data and exit status, to the client. The server's
/// side is read at once, whatever the client's pace; what the client has not
/// taken yet waits here, up to [`UNREAD_LIMIT`].
async fn downward(
    mut from_server: ChannelReadHalf,
    to_client: &ChannelWriteHalf<server::Msg>,
    handle: &server::Handle,
    id: ChannelId,
) {
    let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<ChannelMsg>();
    let unread = AtomicUsize::new(0);
    // True if the client fell too far behind.
    let read = async {
        let queue = queue;
        while let Some(msg) = from_server.wait().await {
            let size = data_len(&msg);
            if unread.fetch_add(size, Ordering::SeqCst) + size > UNREAD_LIMIT {
                stderr_line!(
                    "roadie persist hold: a client left over {} MiB unread; its channel is closed",
                    UNREAD_LIMIT >> 20
                );
                return true;
            }
            let last = matches!(msg, ChannelMsg::Close);
            if queue.send(msg).is_err() || last {
                break;
            }
        }
        false
    };
    let deliver = async {
        while let Some(msg) = queued.recv().await {
            let size = data_len(&msg);
            if !deliver_to_client(msg, to_client, handle, id).await {
                break;
            }
            unread.fetch_sub(size, Ordering::SeqCst);
        }
    };
    tokio::pin!(deliver);
    tokio::select! {
        too_slow = read => {
            if !too_slow {
                // All the server sent is queued: hand it over.
                deliver.await;
            }
        }
        () = &mut deliver => {}
    }
}

/// Pass one message of the server's on to the client; false once the
/// channel or the client is gone (or closed).
async fn deliver_to_client(
    msg: ChannelMsg,
    to_client: &ChannelWriteHalf<server::Msg>,
    handle: &server::Handle,
    id: ChannelId,
) -> bool {
    match msg {
        ChannelMsg::Data { data } => to_client.data_bytes(data).await.is_ok(),
        ChannelMsg::ExtendedData { data, ext } => {
            to_client.extended_data_bytes(ext, data).await.is_ok()
        }
        ChannelMsg::Eof => to_client.eof().await.is_ok(),
        ChannelMsg::Close => false,
        ChannelMsg::ExitStatus { exit_status } => to_client.exit_status(exit_status).await.is_ok(),
        ChannelMsg::ExitSignal {
            signal_name,
            core_dumped,
            error_message,
            lang_tag,
        } => handle
            .exit_signal_request(id, signal_name, core_dumped, error_message, lang_tag)
            .await
            .is_ok(),
        ChannelMsg::Success => handle.channel_success(id).await.is_ok(),
        ChannelMsg::Failure => handle.channel_failure(id).await.is_ok(),
        ChannelMsg::XonXoff { client_can_do } => {
            handle.xon_xoff_request(id, client_can_do).await.is_ok()
        }
        _ => true,
    }
}
