//! Local forwards through a host (`ssh -L`), kept alive across reconnects.
//!
//! A [`Link`] holds the SSH connection to one host and replaces it, with
//! backoff, when it drops; local listeners stay where they are, so a client
//! that reconnects to the same local port reaches the host again. Each local
//! connection gets a channel of its own: a stalled client never blocks the
//! others (what arrives for it is buffered up to a limit, then its
//! connection alone is cut), and half-closes pass through both ways.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use russh::ChannelMsg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};

use crate::error::Error;
use crate::event::TunnelEvent;
use crate::host::Host;
use crate::safety::Intent;
use crate::ssh::{OpenError, Session};
use crate::tunnel_spec::Remote;

/// How much may wait for a local client that does not read before its
/// connection is cut (the SSH connection cannot hold back one channel alone).
const CLIENT_BUFFER: usize = 16 * 1024 * 1024;
/// How long a new local connection waits for a dropped link to come back.
const WAIT_FOR_LINK: Duration = Duration::from_secs(10);
/// How often a link checks that its connection is alive.
const LINK_CHECK: Duration = Duration::from_millis(250);

impl TunnelEvent {
    /// For people.
    pub(crate) fn describe(&self) -> String {
        match self {
            TunnelEvent::Listening {
                host,
                local,
                remote,
                name,
            } => {
                let name = name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                // `127.0.0.1:5432` on the server is the host's own port 5432.
                match remote.strip_prefix("127.0.0.1:") {
                    Some(port) => format!("{local} -> {host} port {port}{name}"),
                    None => format!("{local} -> {host} -> {remote}{name}"),
                }
            }
            TunnelEvent::Disconnected { host, reason } => {
                format!("{host}: connection lost ({reason}); reconnecting, local ports stay open")
            }
            TunnelEvent::Reconnected { host } => format!("{host}: reconnected"),
            TunnelEvent::RetryFailed {
                host,
                reason,
                next_in_ms,
            } => {
                format!(
                    "{host}: reconnecting failed ({reason}); next try in {}",
                    humantime::format_duration(Duration::from_millis(*next_in_ms))
                )
            }
            TunnelEvent::ConnectFailed {
                host,
                remote,
                reason,
            } => {
                format!(
                    "{host}: cannot reach {remote} from the server ({reason}); the local client was closed"
                )
            }
            TunnelEvent::ClientTooSlow { host, remote } => {
                format!(
                    "{host}: a local client of {remote} stopped reading; its connection was cut"
                )
            }
            TunnelEvent::LinkDown {
                host,
                remote,
                reason,
            } => {
                format!(
                    "{host}: the SSH connection is down ({reason}); a local client of {remote} was closed"
                )
            }
        }
    }
}

/// Where a forward goes, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum To {
    /// A host and port (`direct-tcpip`).
    Port(Remote),
    /// A Unix socket (`direct-streamlocal@openssh.com`).
    Socket(String),
}

impl From<Remote> for To {
    fn from(remote: Remote) -> To {
        To::Port(remote)
    }
}

impl std::fmt::Display for To {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            To::Port(remote) => remote.fmt(f),
            To::Socket(path) => f.write_str(path),
        }
    }
}

/// An SSH connection to one host that reconnects itself.
pub(crate) struct Link {
    host: Host,
    intent: Intent,
    current: watch::Sender<Option<Arc<Session>>>,
    events: mpsc::UnboundedSender<TunnelEvent>,
    broken: Notify,
}

impl Link {
    /// Connect (the first time failing is an error) and keep connected.
    pub(crate) async fn connect(
        host: &Host,
        intent: &Intent,
        events: mpsc::UnboundedSender<TunnelEvent>,
    ) -> Result<Arc<Link>, Error> {
        let session = Session::connect_for(host, intent).await?;
        let link = Arc::new(Link {
            host: host.clone(),
            intent: intent.clone(),
            current: watch::Sender::new(Some(Arc::new(session))),
            events,
            broken: Notify::new(),
        });
        tokio::spawn(link.clone().keep_alive());
        Ok(link)
    }

    /// The host's label.
    pub(crate) fn label(&self) -> &str {
        &self.host.label
    }

    /// The connection, waiting up to `wait` while it is being re-made.
    pub(crate) async fn session(&self, wait: Duration) -> Option<Arc<Session>> {
        let mut receiver = self.current.subscribe();
        let found = tokio::time::timeout(
            wait,
            receiver.wait_for(|s| s.as_ref().is_some_and(|s| !s.is_closed())),
        )
        .await;
        match found {
            Ok(Ok(session)) => session.clone(),
            _ => None,
        }
    }

    /// Say that the connection seems gone (a channel could not be opened).
    pub(crate) fn report_broken(&self) {
        self.broken.notify_one();
    }

    async fn keep_alive(self: Arc<Self>) {
        loop {
            // Wait until the connection is gone.
            loop {
                let closed = self.current.borrow().as_ref().is_none_or(|s| s.is_closed());
                if closed {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(LINK_CHECK) => {}
                    () = self.broken.notified() => {}
                }
            }
            self.current.send_replace(None);
            let _ = self.events.send(TunnelEvent::Disconnected {
                host: self.host.label.clone(),
                reason: "the server or the network closed it".into(),
            });
            let mut delay = Duration::from_millis(250);
            let session = loop {
                match Session::connect_for(&self.host, &self.intent).await {
                    Ok(session) => break session,
                    Err(e) => {
                        let _ = self.events.send(TunnelEvent::RetryFailed {
                            host: self.host.label.clone(),
                            reason: crate::error::report(&e)
                                .lines()
                                .next()
                                .unwrap_or_default()
                                .to_owned(),
                            next_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        });
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            };
            self.current.send_replace(Some(Arc::new(session)));
            let _ = self.events.send(TunnelEvent::Reconnected {
                host: self.host.label.clone(),
            });
        }
    }
}

/// Listen on `bind` and forward every connection to `remote` through `link`.
/// Returns the bound local address; the forward runs until the task is
/// aborted.
pub(crate) async fn forward(
    link: Arc<Link>,
    bind: SocketAddr,
    remote: impl Into<To>,
    name: Option<String>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
    let remote = remote.into();
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {bind}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the local address", e))?;
    let _ = link.events.send(TunnelEvent::Listening {
        host: link.label().to_owned(),
        local: local.to_string(),
        remote: remote.to_string(),
        name,
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, peer)) = listener.accept().await else {
                continue;
            };
            let _ = client.set_nodelay(true);
            tokio::spawn(connect_client(link.clone(), client, peer, remote.clone()));
        }
    });
    Ok((local, task))
}

async fn connect_client(link: Arc<Link>, client: TcpStream, peer: SocketAddr, remote: To) {
    // Dropping the client closes it.
    let Some(session) = link.session(WAIT_FOR_LINK).await else {
        let _ = link.events.send(TunnelEvent::LinkDown {
            host: link.label().to_owned(),
            remote: remote.to_string(),
            reason: format!("not back after {}s", WAIT_FOR_LINK.as_secs()),
        });
        return;
    };
    let opened = match &remote {
        To::Port(to) => session.open_forward(&to.host, to.port, &peer).await,
        To::Socket(path) => session.open_unix_forward(path).await,
    };
    match opened {
        Ok(channel) => pipe(&link, channel, client, &remote).await,
        Err(OpenError::Connection(reason)) => {
            link.report_broken();
            let _ = link.events.send(TunnelEvent::LinkDown {
                host: link.label().to_owned(),
                remote: remote.to_string(),
                reason,
            });
        }
        Err(OpenError::Refused(reason)) => {
            let _ = link.events.send(TunnelEvent::ConnectFailed {
                host: link.label().to_owned(),
                remote: remote.to_string(),
                reason,
            });
        }
    }
}

/// Copy both ways between a channel and a local client, passing half-closes.
async fn pipe(
    link: &Link,
    channel: russh::Channel<russh::client::Msg>,
    client: TcpStream,
    remote: &To,
) {
    let (from_server, to_server) = channel.split();
    let (client_read, client_write) = client.into_split();
    let download = download(from_server, client_write);
    let upload = upload(client_read, &to_server);
    tokio::pin!(download, upload);
    tokio::select! {
        downloaded = &mut download => match downloaded {
            // The server only half-closed: the client may still send.
            Download::Eof => upload.await,
            Download::Closed => {}
            Download::TooSlow => {
                let _ = link.events.send(TunnelEvent::ClientTooSlow {
                    host: link.label().to_owned(),
                    remote: remote.to_string(),
                });
            }
        },
        () = &mut upload => {
            download.await;
        }
    }
    let _ = to_server.close().await;
}

#[derive(Debug, PartialEq, Eq)]
enum Download {
    /// The server sent all it will (EOF), and the client has it.
    Eof,
    /// The channel or the client is gone.
    Closed,
    /// The client fell too far behind.
    TooSlow,
}

/// Server to client. The channel is always read at once (so that the
/// connection's other channels never wait behind this one); what the client
/// has not taken yet waits here, up to [`CLIENT_BUFFER`].
async fn download(
    mut from_server: russh::ChannelReadHalf,
    mut client: tokio::net::tcp::OwnedWriteHalf,
) -> Download {
    let mut waiting: VecDeque<Bytes> = VecDeque::new();
    let mut waiting_bytes = 0usize;
    // The chunk being written, and how much of it is written.
    let mut current: Option<(Bytes, usize)> = None;
    let mut server_done: Option<Download> = None;
    loop {
        if current.is_none() {
            current = waiting.pop_front().map(|chunk| {
                waiting_bytes -= chunk.len();
                (chunk, 0)
            });
        }
        if current.is_none()
            && let Some(how) = server_done.take()
        {
            let _ = client.shutdown().await;
            return how;
        }
        tokio::select! {
            biased;
            written = async { client.write(&current.as_ref().expect("guarded").0[current.as_ref().expect("guarded").1..]).await }, if current.is_some() => {
                let Ok(n) = written else { return Download::Closed };
                let (chunk, offset) = current.as_mut().expect("guarded");
                *offset += n;
                if *offset == chunk.len() {
                    current = None;
                }
            }
            message = from_server.wait(), if server_done.is_none() => match message {
                Some(ChannelMsg::Data { data }) => {
                    waiting_bytes += data.len();
                    waiting.push_back(data);
                    if waiting_bytes > CLIENT_BUFFER {
                        return Download::TooSlow;
                    }
                }
                Some(ChannelMsg::Eof) => server_done = Some(Download::Eof),
                Some(ChannelMsg::Close) | None => server_done = Some(Download::Closed),
                Some(_) => {}
            },
        }
    }
}

/// Client to server, then EOF when the client half-closes.
async fn upload(
    mut client: tokio::net::tcp::OwnedReadHalf,
    to_server: &russh::ChannelWriteHalf<russh::client::Msg>,
) {
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        match client.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // Whole packets at once (`data` would copy through an 8 KiB
                // buffer, in smaller packets).
                let chunk = Bytes::copy_from_slice(&buffer[..n]);
                if to_server.data_bytes(chunk).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = to_server.eof().await;
}
