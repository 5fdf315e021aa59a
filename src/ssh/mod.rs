//! The SSH client: connect (directly or through jump hosts), verify the host
//! key, authenticate, and run commands.

pub(crate) mod algorithms;
mod auth;
mod exec;
mod files;
mod handler;
mod jumps;
pub(crate) mod persist;
pub(crate) mod proxy;
mod remote_forward;
pub(crate) mod sftp;
mod starts;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::ssh_key::PublicKey;
use tokio::net::TcpStream;

pub use exec::{Chunk, Execution, ExitStatus, Output};
pub(crate) use exec::{Staged, ended};
pub use files::{Expect, Written};
pub(crate) use handler::{ClientHandler, ThroughHolder};
pub(crate) use remote_forward::Forwarded;

use crate::error::{ConnectError, Error};
use crate::guard;
use crate::host::Host;
use crate::known_hosts::{self, KnownHosts};
use crate::safety::{Intent, Verified};
use crate::timings::Timings;
use handler::Observed;

/// How long [`Session::close`] waits for a connection to wind down.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// An authenticated SSH connection to one host.
pub struct Session {
    host: Host,
    handle: client::Handle<ClientHandler>,
    server_key: PublicKey,
    /// The host certificate the server presented its key in, if it did.
    server_certificate: Option<Box<russh::keys::Certificate>>,
    /// The host keys the server announced after login.
    announced: Vec<PublicKey>,
    verified: Verified,
    notes: Vec<String>,
    /// The jump connection, kept open for as long as this one lives
    /// (shared with the other hosts behind the same jump host).
    via: Option<Arc<Session>>,
    /// The `ProxyCommand` carrying the connection, stopped when it is.
    proxy: Option<Box<proxy::Proxy>>,
    /// What the handler saw (keys the server announces arrive after login).
    observed: Arc<Mutex<Observed>>,
    /// Through a kept connection: the announced keys came with its record,
    /// so none need asking for.
    announced_known: bool,
    /// The login user's home, once asked for.
    home: tokio::sync::OnceCell<String>,
    /// How long setting the connection up took, phase by phase.
    timings: Timings,
    /// This connection's place among the logins to its server (see
    /// [`starts`]), until the server has answered a channel open: sshd
    /// counts a login among its `MaxStartups` until its monitor has forked
    /// the session process, which is after the client has seen the login
    /// succeed, and only that process answers channel opens.
    start_slot: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.host.label)
            .field("address", &self.host.address())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connect to `host`, check its key, and log in, to run change-class
    /// commands (see [`Session::connect_for`]).
    pub async fn connect(host: &Host) -> Result<Session, Error> {
        Session::connect_for(host, &Intent::default()).await
    }

    /// Connect to `host` for `intent`. The safeguards decide before anything
    /// is sent: the environment lock before connecting, the pinned-key lock
    /// during key exchange (before logging in).
    pub async fn connect_for(host: &Host, intent: &Intent) -> Result<Session, Error> {
        guard::before_connect(host, intent).map_err(Error::Refused)?;
        let began = Instant::now();
        let start = crate::timings::since_process_start();
        let connected = match host.persist {
            Some(keep) => crate::ssh::persist::connect(host, intent, keep).await,
            None => connect_host(host, intent).await,
        };
        connected
            .map(|mut session| {
                let t = &mut session.timings;
                t.start = start;
                t.connect = began.elapsed().saturating_sub(t.kex + t.auth);
                session
            })
            .map_err(|source| match source {
                ConnectError::Refused(refusal) => Error::Refused(refusal),
                source => Error::Connect {
                    host: host.label.clone(),
                    source: Box::new(source),
                },
            })
    }

    /// How long setting the connection up took; the guard and command
    /// phases are the caller's to fill in.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// What the safeguards learned from the host's key.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The host this session is connected to.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// A russh error met on this connection, in roadie's words: why the
    /// connection ended if it has, the server's reason for refusing a
    /// channel, or the protocol error.
    pub(crate) fn failure(&self, e: &russh::Error) -> String {
        match e {
            _ if self.handle.is_closed() => self.lost_reason(),
            russh::Error::ChannelOpenFailure(reason) => refused_channel(reason),
            russh::Error::SendError | russh::Error::Disconnect | russh::Error::HUP => {
                self.lost_reason()
            }
            other => format!("SSH protocol error: {other}"),
        }
    }

    /// `work`, unless the connection ends first, or `work` fails because it
    /// has: then what ended it is what happened (an upload cut by sshd's
    /// death says so, not what the library saw of it, and does not wait for
    /// replies that cannot come).
    pub(crate) async fn unless_lost<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut ended = self
            .observed
            .lock()
            .expect("handler state lock")
            .ended
            .0
            .subscribe();
        let lost = || Error::ConnectionLost {
            host: self.host.label.clone(),
            reason: self.lost_reason(),
        };
        tokio::select! {
            // Work that is done is done, though the connection ends with it.
            biased;
            done = work => done.map_err(|e| match e {
                Error::Remote { .. } | Error::Io { .. } if self.handle.is_closed() => lost(),
                other => other,
            }),
            _ = ended.wait_for(|ended| *ended) => Err(lost()),
        }
    }

    /// Why the connection ended, in words, for a connection that has.
    pub fn lost_reason(&self) -> String {
        if let Some(end) = self.proxy.as_deref().and_then(proxy::Proxy::ended) {
            return format!("the ProxyCommand {end}");
        }
        let timed_out = self
            .observed
            .lock()
            .expect("handler state lock")
            .keepalive_timed_out;
        match self.host.keepalive {
            Some((interval, max)) if timed_out => format!(
                "no answer to {max} keepalives in {}s (the host or the network went away)",
                (interval * max).as_secs()
            ),
            _ => "the connection closed (sshd died or the network failed)".to_owned(),
        }
    }

    /// Open a forwarding channel to `host:port` as the server sees it
    /// (`direct-tcpip`), on behalf of the local client `from`.
    pub async fn open_forward(
        &self,
        host: &str,
        port: u16,
        from: &std::net::SocketAddr,
    ) -> Result<russh::Channel<client::Msg>, OpenError> {
        self.opened(self.handle.channel_open_direct_tcpip(
            host.to_owned(),
            u32::from(port),
            from.ip().to_string(),
            u32::from(from.port()),
        ))
        .await
    }

    /// Open a forwarding channel to the Unix socket `path` on the server
    /// (`direct-streamlocal@openssh.com`).
    pub async fn open_unix_forward(
        &self,
        path: &str,
    ) -> Result<russh::Channel<client::Msg>, OpenError> {
        self.opened(self.handle.channel_open_direct_streamlocal(path))
            .await
    }

    /// The server's answer to a channel open; the first answer frees this
    /// connection's start slot (see [`Session::start_slot`]).
    pub(crate) async fn answered<T>(&self, open: impl Future<Output = T>) -> T {
        let answer = open.await;
        self.start_slot.lock().expect("start slot lock").take();
        answer
    }

    /// A session channel, once the server has answered.
    pub(crate) async fn open_session(&self) -> Result<russh::Channel<client::Msg>, russh::Error> {
        self.answered(self.handle.channel_open_session()).await
    }

    /// A session channel to run a command on, with the local agent
    /// forwarded to it when the host says so (`ForwardAgent`).
    pub(crate) async fn open_command_session(
        &self,
    ) -> Result<russh::Channel<client::Msg>, russh::Error> {
        let channel = self.open_session().await?;
        if self.host.forward_agent.is_some() {
            channel.agent_forward(false).await?;
        }
        Ok(channel)
    }

    /// A forwarding channel once the server answers, or why not.
    async fn opened(
        &self,
        open: impl Future<Output = Result<russh::Channel<client::Msg>, russh::Error>>,
    ) -> Result<russh::Channel<client::Msg>, OpenError> {
        match tokio::time::timeout(self.host.connect_timeout, self.answered(open)).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(russh::Error::ChannelOpenFailure(reason))) if !self.is_closed() => {
                Err(OpenError::Refused(refused_channel(&reason)))
            }
            Ok(Err(e)) => Err(OpenError::Connection(self.failure(&e))),
            Err(_) => Err(OpenError::Connection(format!(
                "the SSH connection did not answer within {}s",
                self.host.connect_timeout.as_secs()
            ))),
        }
    }

    /// The key the server presented (and that was verified).
    pub fn server_key(&self) -> &PublicKey {
        &self.server_key
    }

    /// The host certificate the server presented its key in (and that was
    /// verified), if it did.
    pub(crate) fn server_certificate(&self) -> Option<&russh::keys::Certificate> {
        self.server_certificate.as_deref()
    }

    /// Every host key the server announced holding (OpenSSH does, after
    /// login); empty if it announced none.
    pub fn announced_keys(&self) -> &[PublicKey] {
        &self.announced
    }

    /// Warnings from setting up the connection (a newly recorded host key,
    /// an unchecked one), including those of jump hosts.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The keys of the jump hosts this connection goes through, the nearest
    /// to the server first.
    pub(crate) fn hop_keys(&self) -> Vec<PublicKey> {
        let mut keys = Vec::new();
        let mut hop = self.via.as_deref();
        while let Some(session) = hop {
            keys.push(session.server_key.clone());
            hop = session.via.as_deref();
        }
        keys
    }

    /// Add a warning for the user.
    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Close the connection politely, then the jump hosts' ones. Waits
    /// (briefly) for each to wind down, so that what was last sent, a signal
    /// to a command say, has reached the server before roadie exits.
    pub async fn close(self) {
        let mut next = Some(self);
        while let Some(session) = next {
            let Session {
                handle, via, proxy, ..
            } = session;
            // The server may already be gone; there is nothing useful to do then.
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            let _ = tokio::time::timeout(CLOSE_GRACE, handle).await;
            drop(proxy);
            // A jump connection other hosts still go through stays.
            next = via.and_then(|via| Arc::try_unwrap(via).ok());
        }
    }
}

/// Whether `e` says the other side closed the connection.
fn is_closed_by_peer(e: &russh::Error) -> bool {
    use std::io::ErrorKind;
    match e {
        russh::Error::HUP | russh::Error::Disconnect => true,
        russh::Error::IO(io) => matches!(
            io.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// Why a forwarding channel was not opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The server refused it; its reason in words.
    #[error("{0}")]
    Refused(String),
    /// The SSH connection did not carry the request: it closed, or did not
    /// answer.
    #[error("{0}")]
    Connection(String),
}

/// Why a server refused to open a channel, in words.
fn refused_channel(reason: &russh::ChannelOpenFailure) -> String {
    match reason {
        russh::ChannelOpenFailure::ConnectFailed => "nothing accepts connections there".to_owned(),
        russh::ChannelOpenFailure::AdministrativelyProhibited => {
            "the server does not allow forwarding (sshd's AllowTcpForwarding)".to_owned()
        }
        russh::ChannelOpenFailure::ResourceShortage => "the server is out of resources".to_owned(),
        russh::ChannelOpenFailure::UnknownChannelType => {
            "the server does not forward this kind of connection".to_owned()
        }
        russh::ChannelOpenFailure::Other { reason, .. } => reason.clone(),
    }
}

/// Client settings for `host`: keepalives, and the host key types known for
/// it asked for first, so the server presents one we can check (as ssh does),
/// with their certificate types ahead of them when known_hosts trusts a CA
/// for the host. `ssh-rsa` (SHA-1 signatures) is offered only where
/// ssh_config's `HostKeyAlgorithms` asks for it.
fn client_config(host: &Host, known: &KnownHosts) -> Arc<client::Config> {
    let mut config = client::Config {
        keepalive_interval: host.keepalive.map(|(interval, _)| interval),
        keepalive_max: host.keepalive.map_or(3, |(_, max)| max as usize),
        nodelay: true,
        preferred: russh::Preferred {
            key: Cow::Owned(host_key_algorithms(known, &host.host_key.name)),
            // Host certificates are asked for (first) only where an
            // @cert-authority line says who may sign them.
            host_key_certificates: if known.has_authority(&host.host_key.name) {
                Cow::Owned(host_key_algorithms(known, &host.host_key.name))
            } else {
                Cow::Borrowed(&[])
            },
            cipher: host
                .ciphers
                .as_ref()
                .map_or(russh::Preferred::DEFAULT.cipher, |names| {
                    Cow::Owned(
                        names
                            .iter()
                            .filter_map(|name| {
                                russh::cipher::ALL_CIPHERS
                                    .iter()
                                    .find(|c| c.as_ref() == name)
                                    .map(|c| **c)
                            })
                            .collect(),
                    )
                }),
            ..russh::Preferred::default()
        },
        ..client::Config::default()
    };
    let recorded = known.algorithms_for(&host.host_key.name);
    algorithms::configure(&mut config.preferred, host, &recorded);
    Arc::new(config)
}

/// The host-key algorithms to offer for `name`, most wanted first.
fn host_key_algorithms(known: &KnownHosts, name: &str) -> Vec<russh::keys::Algorithm> {
    let mut preferred_keys = known.algorithms_for(name);
    for algorithm in russh::Preferred::DEFAULT.key.iter() {
        if !preferred_keys.contains(algorithm) {
            preferred_keys.push(algorithm.clone());
        }
    }
    preferred_keys.retain(known_hosts::is_acceptable);
    preferred_keys
}
/// Reach the jump host (see [`jumps`]) and open a tunnel from it to `host`.
async fn through(
    jump: &Host,
    host: &Host,
) -> Result<(Arc<Session>, russh::ChannelStream<client::Msg>), ConnectError> {
    let hop_error = |source: ConnectError| ConnectError::Jump {
        hop: jump.label.clone(),
        source: Box::new(source),
    };
    let via = jumps::shared(jump).await.map_err(hop_error)?;
    let channel = with_timeout(
        host.connect_timeout,
        "opening a tunnel through the jump host",
        via.answered(via.handle.channel_open_direct_tcpip(
            host.hostname.clone(),
            u32::from(host.port),
            "127.0.0.1",
            0,
        )),
    )
    .await?
    .map_err(|e| {
        hop_error(ConnectError::Tcp {
            addr: format!("{}:{}", host.hostname, host.port),
            source: std::io::Error::other(via.failure(&e)),
        })
    })?;
    Ok((via, channel.into_stream()))
}

pub(crate) fn connect_host<'a>(
    host: &'a Host,
    intent: &'a Intent,
) -> std::pin::Pin<Box<dyn Future<Output = Result<Session, ConnectError>> + Send + 'a>> {
    Box::pin(async move {
        let timeout = host.connect_timeout;
        let known = KnownHosts::load(&host.host_key.files, &host.host_key.name)
            .map_err(ConnectError::KnownHosts)?;
        let config = client_config(host, &known);
        let mut notes = known.warnings().to_vec();
        notes.extend(host.algorithms.warnings.iter().cloned());
        let observed = Arc::new(Mutex::new(Observed::default()));
        let handler = ClientHandler::new(host, intent, known, observed.clone());
        let (via, proxy, handshake, slot, dialed) = if let Some(jump) = &host.via {
            // The slot first: the tunnel is the server's TCP connection, and
            // sshd counts it among its MaxStartups from then on.
            let slot = start_slot(host).await;
            let (via, stream) = through(jump, host).await?;
            notes.extend(via.notes.iter().cloned());
            let dialed = Instant::now();
            let handshake = client::connect_stream(config, stream, handler);
            (
                Some(via),
                None,
                with_timeout(timeout, "exchanging keys", handshake).await?,
                slot,
                dialed,
            )
        } else if let Some(command) = &host.proxy_command {
            let slot = start_slot(host).await;
            let (proxy, stream) = proxy::start(host, command)?;
            let dialed = Instant::now();
            let handshake = client::connect_stream(config, stream, handler);
            let Ok(handshake) = tokio::time::timeout(timeout, handshake).await else {
                return Err(proxy.timed_out(timeout));
            };
            (None, Some(Box::new(proxy)), handshake, slot, dialed)
        } else {
            let slot = start_slot(host).await;
            let stream = tcp_connect(&host.hostname, host.port, timeout).await?;
            let dialed = Instant::now();
            let handshake = client::connect_stream(config, stream, handler);
            (
                None,
                None,
                with_timeout(timeout, "exchanging keys", handshake).await?,
                slot,
                dialed,
            )
        };
        let blame = async |error: ConnectError| match &proxy {
            Some(proxy)
                if !matches!(error, ConnectError::Refused(_) | ConnectError::HostKey(_)) =>
            {
                proxy.blame(error).await
            }
            _ => error,
        };
        let (mut handle, server_key, verified) = match settle(&observed, handshake, &mut notes) {
            Ok(settled) => settled,
            Err(error) => return Err(blame(error).await),
        };
        let exchanged = Instant::now();
        if let Err(error) = auth::authenticate(&mut handle, host, timeout).await {
            return Err(match error {
                ConnectError::Auth(mut failure) => {
                    failure.server_key = Some(known_hosts::describe(&server_key));
                    ConnectError::Auth(failure)
                }
                other => blame(other).await,
            });
        }
        let mut session =
            Session::logged_in(host, (handle, server_key, verified), notes, via, observed);
        session.proxy = proxy;
        session.start_slot = Mutex::new(Some(slot));
        session.timings.kex = exchanged - dialed;
        session.timings.auth = exchanged.elapsed();
        session.checked(intent).await
    })
}

/// A slot to log in to `host`'s server, among `max_starts` at once (see
/// [`starts`]); held until the login fails or the session's first channel
/// open is answered.
async fn start_slot(host: &Host) -> tokio::sync::OwnedSemaphorePermit {
    starts::admit(format!("{}:{}", host.hostname, host.port), host.max_starts).await
}

/// Log in to `host` through the holder of a persistent connection to it
/// (see [`crate::ssh::persist`]), over `stream`. The holder must present
/// its key; the server's key it verified (in its host certificate, if
/// any) and the keys the server announced are judged here, for this
/// invocation, exactly as a key presented on a fresh connection would be.
pub(crate) async fn connect_through_holder(
    host: &Host,
    intent: &Intent,
    stream: tokio::net::UnixStream,
    keys: ThroughHolder,
    announced: Vec<PublicKey>,
) -> Result<Session, ConnectError> {
    let known = KnownHosts::load(&host.host_key.files, &host.host_key.name)
        .map_err(ConnectError::KnownHosts)?;
    let mut notes = known.warnings().to_vec();
    notes.extend(host.algorithms.warnings.iter().cloned());
    let observed = Arc::new(Mutex::new(Observed {
        announced,
        ..Observed::default()
    }));
    let mut handler = ClientHandler::new(host, intent, known, observed.clone());
    handler.through_holder = Some(keys);
    let config = Arc::new(client::Config {
        nodelay: true,
        preferred: local_hop_algorithms(),
        ..client::Config::default()
    });
    let dialed = Instant::now();
    let handshake = with_timeout(
        host.connect_timeout,
        "exchanging keys with the connection holder",
        client::connect_stream(config, stream, handler),
    )
    .await?;
    let (mut handle, server_key, verified) = settle(&observed, handshake, &mut notes)?;
    let exchanged = Instant::now();
    let logged_in = with_timeout(
        host.connect_timeout,
        "logging in to the connection holder",
        handle.authenticate_none(&host.user),
    )
    .await?
    .map_err(ConnectError::Protocol)?;
    if !logged_in.success() {
        return Err(ConnectError::Protocol(russh::Error::NotAuthenticated));
    }
    let mut session =
        Session::logged_in(host, (handle, server_key, verified), notes, None, observed);
    session.announced_known = true;
    session.timings.kex = exchanged - dialed;
    session.timings.auth = exchanged.elapsed();
    session.checked(intent).await
}

/// Judge a jump host's `key`, recorded by the holder of a kept connection,
/// as if `hop` had just presented it (a jump host is reached to read).
/// Returns the warnings to show.
pub(crate) fn judge_recorded_hop(hop: &Host, key: &PublicKey) -> Result<Vec<String>, ConnectError> {
    let known = KnownHosts::load(&hop.host_key.files, &hop.host_key.name)
        .map_err(ConnectError::KnownHosts)?;
    let mut notes = known.warnings().to_vec();
    let observed = Arc::new(Mutex::new(Observed::default()));
    let handler = ClientHandler::new(hop, &Intent::read(), known, observed.clone());
    let mut seen = observed.lock().expect("handler state lock");
    let accepted = handler.judge(key, &mut seen);
    drop(seen);
    let hop_error = |source: ConnectError| ConnectError::Jump {
        hop: hop.label.clone(),
        source: Box::new(source),
    };
    settle(&observed, Ok(()), &mut notes).map_err(hop_error)?;
    debug_assert!(accepted, "settle reports every refusal");
    Ok(notes)
}

/// Algorithms for the hop between an invocation and the holder of a kept
/// connection, both roadie, over a private Unix socket: the quickest key
/// exchange and the quickest cipher where AES instructions exist.
pub(crate) fn local_hop_algorithms() -> russh::Preferred {
    use russh::kex;
    russh::Preferred {
        kex: Cow::Borrowed(&[
            kex::CURVE25519,
            kex::EXTENSION_SUPPORT_AS_CLIENT,
            kex::EXTENSION_SUPPORT_AS_SERVER,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
        ]),
        cipher: Cow::Borrowed(&[russh::cipher::AES_256_GCM]),
        ..russh::Preferred::default()
    }
}

/// What key exchange left behind: the handle, or why the handler refused.
fn settle<H>(
    observed: &Mutex<Observed>,
    handshake: Result<H, russh::Error>,
    notes: &mut Vec<String>,
) -> Result<(H, PublicKey, Verified), ConnectError> {
    let mut observed = observed.lock().expect("handler state lock");
    if let Some(refused) = observed.refused.take() {
        return Err(ConnectError::Refused(refused));
    }
    if let Some(refusal) = observed.refusal.take() {
        return Err(refusal.into());
    }
    notes.extend(observed.note.take());
    let handle = handshake.map_err(|e| {
        if is_closed_by_peer(&e) {
            ConnectError::ClosedDuringKex
        } else {
            ConnectError::Protocol(e)
        }
    })?;
    match (observed.server_key.take(), observed.verified.take()) {
        (Some(key), Some(verified)) => Ok((handle, key, verified)),
        _ => Err(ConnectError::Protocol(russh::Error::UnknownKey)),
    }
}

impl Session {
    fn logged_in(
        host: &Host,
        (handle, server_key, verified): (client::Handle<ClientHandler>, PublicKey, Verified),
        notes: Vec<String>,
        via: Option<Arc<Session>>,
        observed: Arc<Mutex<Observed>>,
    ) -> Session {
        let server_certificate = observed
            .lock()
            .expect("handler state lock")
            .certificate
            .take()
            .map(Box::new);
        Session {
            host: host.clone(),
            handle,
            server_key,
            server_certificate,
            announced: Vec::new(),
            verified,
            notes,
            via,
            proxy: None,
            observed,
            announced_known: false,
            home: tokio::sync::OnceCell::new(),
            timings: Timings::default(),
            start_slot: Mutex::new(None),
        }
    }

    /// The session once the pinned-key lock has seen every key the server
    /// holds; closed if that lock refuses.
    async fn checked(mut self, intent: &Intent) -> Result<Session, ConnectError> {
        match self.check_announced_keys(intent).await {
            Ok(()) => Ok(self),
            Err(refused) => {
                self.close().await;
                Err(refused)
            }
        }
    }

    /// The pinned-key lock for every key the server holds, before anything
    /// runs: only where the inventory pins keys under a protected
    /// environment and the negotiated key did not already say so.
    async fn check_announced_keys(&mut self, intent: &Intent) -> Result<(), ConnectError> {
        let pins_protected = self
            .host
            .safety
            .environments
            .iter()
            .any(|e| e.protected && !e.pins.is_empty());
        if !pins_protected || self.verified.protected_as.is_some() {
            return Ok(());
        }
        if self.announced_known {
            self.announced =
                std::mem::take(&mut self.observed.lock().expect("handler state lock").announced);
        } else {
            self.learn_announced_keys().await?;
        }
        if let Some(env) = guard::on_announced_keys(&self.host, intent, &self.announced)
            .map_err(ConnectError::Refused)?
        {
            self.verified.protected_as = Some(env);
        }
        Ok(())
    }

    /// Wait for the keys the server announces (OpenSSH does as soon as the
    /// user is logged in, so once a channel-open round trip is answered the
    /// handler has them).
    pub(crate) async fn learn_announced_keys(&mut self) -> Result<(), ConnectError> {
        let channel = with_timeout(
            self.host.connect_timeout,
            "waiting for the server after login",
            self.open_session(),
        )
        .await?
        .map_err(ConnectError::Protocol)?;
        let _ = channel.close().await;
        self.announced =
            std::mem::take(&mut self.observed.lock().expect("handler state lock").announced);
        Ok(())
    }

    /// The russh handle, for the holder of a persistent connection to open
    /// channels on.
    pub(crate) fn handle(&self) -> &client::Handle<ClientHandler> {
        &self.handle
    }
}

async fn with_timeout<T>(
    limit: Duration,
    phase: &'static str,
    future: impl Future<Output = T>,
) -> Result<T, ConnectError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| ConnectError::Timeout {
            phase,
            after: limit,
        })
}

async fn tcp_connect(
    hostname: &str,
    port: u16,
    limit: Duration,
) -> Result<TcpStream, ConnectError> {
    let addrs: Vec<_> = with_timeout(
        limit,
        "resolving the host name",
        tokio::net::lookup_host((hostname, port)),
    )
    .await?
    .map_err(|source| ConnectError::Resolve {
        name: hostname.to_owned(),
        source,
    })?
    .collect();
    let mut last = None;
    for addr in addrs {
        match with_timeout(limit, "connecting", TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // Latency matters more than packet count for commands.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(source)) => {
                last = Some(ConnectError::Tcp {
                    addr: addr.to_string(),
                    source,
                });
            }
            Err(timeout) => last = Some(timeout),
        }
    }
    Err(last.unwrap_or_else(|| ConnectError::Resolve {
        name: hostname.to_owned(),
        source: std::io::Error::other("no addresses"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh::keys::{Algorithm, HashAlg};

    #[test]
    fn certificate_host_key_types_are_asked_for_only_where_a_ca_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        let ca = russh::keys::PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
        let line = format!(
            "@cert-authority *.example.org {}\n",
            ca.public_key().to_openssh().unwrap()
        );
        std::fs::write(&file, line).unwrap();
        let asked = |name: &str| {
            let mut host = Host::for_tests(name);
            host.host_key.name = name.to_owned();
            let known = KnownHosts::load(std::slice::from_ref(&file), name).unwrap();
            client_config(&host, &known)
                .preferred
                .host_key_certificates
                .to_vec()
        };
        let certificates = asked("web.example.org");
        assert_eq!(
            certificates.first(),
            Some(&Algorithm::Ed25519),
            "{certificates:?}"
        );
        assert!(!certificates.contains(&Algorithm::Rsa { hash: None }));
        assert!(asked("db.internal").is_empty());
    }

    #[test]
    fn ssh_rsa_is_never_offered() {
        let rsa = |hash| Algorithm::Rsa { hash };
        let offered = host_key_algorithms(&KnownHosts::default(), "h");
        assert!(!offered.contains(&rsa(None)), "{offered:?}");
        assert!(offered.contains(&rsa(Some(HashAlg::Sha512))));
        assert_eq!(offered[0], Algorithm::Ed25519);
    }
}
