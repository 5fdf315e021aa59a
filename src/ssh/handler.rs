//! The russh client handler: where the server's host key is checked, while
//! the connection is being set up and before anything else is sent.

use std::sync::{Arc, Mutex};

use russh::keys::PublicKeyOrCertificate;
use russh::keys::ssh_key::{Certificate, PublicKey};

use crate::certificate;
use crate::error::HostKeyError;
use crate::guard;
use crate::host::{Host, HostKeyConfig, HostKeyPolicy};
use crate::known_hosts::{self, CertVerdict, KnownHosts, Verdict, describe};
use crate::safety::{Intent, Refusal, Verified};

/// What the handler learned during key exchange.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// The key the server presented.
    pub server_key: Option<PublicKey>,
    /// The host certificate it presented the key in, if it did.
    pub certificate: Option<Certificate>,
    /// Why known_hosts refused the key, if it did.
    pub refusal: Option<HostKeyError>,
    /// Why the safeguards refused the host, if they did.
    pub refused: Option<Box<Refusal>>,
    /// What the safeguards learned from the key.
    pub verified: Option<Verified>,
    /// Set when the key was accepted without being known (printed as a warning).
    pub note: Option<String>,
    /// Every host key the server says it holds (OpenSSH announces them all
    /// after login), not just the one negotiated.
    pub announced: Vec<PublicKey>,
    /// Set when the connection ended because keepalives went unanswered.
    pub keepalive_timed_out: bool,
    /// Where the connections the server forwards back go, by the socket
    /// path they were asked for (see [`super::remote_forward`]).
    pub forwarded: super::remote_forward::Routes,
    /// Turns true when the connection has ended (the handler is dropped
    /// then), however it ended.
    pub ended: Ended,
}

/// Whether a connection has ended, to be waited for.
#[derive(Debug)]
pub(crate) struct Ended(pub tokio::sync::watch::Sender<bool>);

impl Default for Ended {
    fn default() -> Ended {
        Ended(tokio::sync::watch::Sender::new(false))
    }
}

/// The safeguards' verdict on a presented key (see [`crate::guard::on_host_key`]).
pub(super) type KeyGuard = Box<dyn Fn(&PublicKey) -> Result<Verified, Box<Refusal>> + Send + Sync>;

/// The keys of a connection through the holder of a persistent connection.
pub(crate) struct ThroughHolder {
    /// The key the holder itself must present.
    pub holder_key: PublicKey,
    /// The server's key the holder recorded, judged as if the server had
    /// just presented it.
    pub server_key: PublicKey,
    /// The host certificate the server presented that key in, if it did.
    pub certificate: Option<Box<Certificate>>,
}

/// The russh handler for one connection.
pub(crate) struct ClientHandler {
    pub config: HostKeyConfig,
    pub known: KnownHosts,
    /// `port` and `hostname` for the ssh-keyscan hint.
    pub keyscan: String,
    pub guard: KeyGuard,
    pub observed: Arc<Mutex<Observed>>,
    /// When connecting through the holder of a persistent connection: what
    /// the holder must present and what it recorded.
    pub through_holder: Option<ThroughHolder>,
    /// The local agent socket the server may reach (`ForwardAgent`); the
    /// server's agent channels are refused without one.
    pub forward_agent: Option<std::path::PathBuf>,
}

impl Drop for ClientHandler {
    /// The connection's task is over: whatever waits on it can stop.
    fn drop(&mut self) {
        if let Ok(observed) = self.observed.lock() {
            observed.ended.0.send_replace(true);
        }
    }
}

impl ClientHandler {
    pub(crate) fn new(
        host: &Host,
        intent: &Intent,
        known: KnownHosts,
        observed: Arc<Mutex<Observed>>,
    ) -> ClientHandler {
        ClientHandler {
            config: host.host_key.clone(),
            known,
            keyscan: if host.port == 22 {
                host.hostname.clone()
            } else {
                format!("-p {} {}", host.port, host.hostname)
            },
            guard: {
                let (host, intent) = (host.clone(), intent.clone());
                Box::new(move |key| guard::on_host_key(&host, &intent, key))
            },
            observed,
            through_holder: None,
            forward_agent: host.forward_agent.clone(),
        }
    }

    fn verify(&self, key: &PublicKey) -> Result<Option<String>, HostKeyError> {
        let name = self.config.name.clone();
        let presented = describe(key);
        match self.known.check(&name, key) {
            Verdict::Known(_) => Ok(None),
            Verdict::Revoked(place) => Err(HostKeyError::Revoked {
                name,
                presented,
                place,
            }),
            Verdict::Changed { place, recorded } if self.config.policy != HostKeyPolicy::Ignore => {
                Err(HostKeyError::Changed {
                    name,
                    presented,
                    recorded,
                    place,
                })
            }
            Verdict::OtherTypes { place, recorded }
                if self.config.policy != HostKeyPolicy::Ignore =>
            {
                Err(HostKeyError::OtherTypes {
                    name,
                    presented,
                    recorded,
                    place,
                })
            }
            Verdict::Unknown => match self.config.policy {
                HostKeyPolicy::Strict => Err(HostKeyError::Unknown {
                    name,
                    presented,
                    files: self.files(),
                    add: format!(
                        "ssh-keyscan {} >> {}",
                        self.keyscan,
                        self.config
                            .record_to
                            .as_ref()
                            .or(self.config.files.first())
                            .map_or_else(
                                || "~/.ssh/known_hosts".to_owned(),
                                |file| crate::command::quote(&file.to_string_lossy()),
                            )
                    ),
                }),
                HostKeyPolicy::AcceptNew => {
                    let Some(file) = self.config.record_to.clone() else {
                        return Ok(Some(format!(
                            "accepted new host key {presented} for {name} (not recorded: no known_hosts file)"
                        )));
                    };
                    known_hosts::append(&file, &name, key, self.config.hash).map_err(|source| {
                        HostKeyError::Record {
                            name: name.clone(),
                            file: file.clone(),
                            source,
                        }
                    })?;
                    Ok(Some(format!(
                        "recorded new host key {presented} for {name} in {}",
                        file.display()
                    )))
                }
                HostKeyPolicy::Ignore => Ok(Some(ignored(&name, &presented))),
            },
            Verdict::Changed { .. } | Verdict::OtherTypes { .. } => {
                Ok(Some(ignored(&name, &presented)))
            }
        }
    }
}

fn ignored(name: &str, presented: &str) -> String {
    format!("NOT CHECKING the host key of {name} ({presented}): --insecure-ignore-host-key is set")
}

impl ClientHandler {
    /// Judge the server's `key`: the safeguards, then known_hosts. What was
    /// learned, or why it was refused, goes into `observed`; true if the
    /// key is accepted.
    pub(crate) fn judge(&self, key: &PublicKey, observed: &mut Observed) -> bool {
        self.judge_as(key, None, observed)
    }

    /// [`ClientHandler::judge`] for `key`, presented bare or inside the host
    /// certificate `cert`: the safeguards judge the key itself either way,
    /// so a pinned key cannot hide behind a certificate.
    fn judge_as(
        &self,
        key: &PublicKey,
        cert: Option<&Certificate>,
        observed: &mut Observed,
    ) -> bool {
        observed.server_key = Some(key.clone());
        observed.certificate = cert.cloned();
        // The safeguards first: a key pinned under a protected environment
        // says what the server is, whatever known_hosts remembers for the
        // name used to reach it. Either way nothing is sent before this.
        match (self.guard)(key) {
            Ok(verified) => observed.verified = Some(verified),
            Err(refused) => {
                observed.refused = Some(refused);
                return false;
            }
        }
        let verdict = match cert {
            None => self.verify(key),
            Some(cert) => self.verify_certificate(key, cert),
        };
        match verdict {
            Ok(note) => {
                observed.note = note;
                true
            }
            Err(refusal) => {
                observed.refusal = Some(refusal);
                false
            }
        }
    }

    /// known_hosts on a host certificate whose key is `key`: trusted through
    /// an `@cert-authority` line, or else (unless revoked) through `key`
    /// recorded as a plain key, as ssh falls back to it.
    fn verify_certificate(
        &self,
        key: &PublicKey,
        cert: &Certificate,
    ) -> Result<Option<String>, HostKeyError> {
        let name = &self.config.name;
        let why = match self.known.check_certificate(name, cert, certificate::now()) {
            CertVerdict::Trusted(_) => return Ok(None),
            CertVerdict::Revoked(why) => return Err(self.untrusted_certificate(why)),
            CertVerdict::Untrusted(why) => why,
        };
        match self.known.check(name, key) {
            Verdict::Known(_) => Ok(None),
            _ if self.config.policy == HostKeyPolicy::Ignore => {
                Ok(Some(ignored(name, &describe(key))))
            }
            _ => Err(self.untrusted_certificate(why)),
        }
    }

    fn untrusted_certificate(&self, why: String) -> HostKeyError {
        HostKeyError::Certificate {
            name: self.config.name.clone(),
            why,
            files: self.files(),
        }
    }

    /// The known_hosts files consulted, for messages.
    fn files(&self) -> String {
        self.config
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl russh::client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let mut observed = self.observed.lock().expect("handler state lock");
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            // A holder of a kept connection presents its own plain key.
            PublicKeyOrCertificate::Certificate(cert) if self.through_holder.is_none() => {
                let key = PublicKey::from(cert.public_key().clone());
                return Ok(self.judge_as(&key, Some(cert), &mut observed));
            }
            PublicKeyOrCertificate::Certificate(cert) => {
                observed.refusal = Some(HostKeyError::Holder {
                    name: self.config.name.clone(),
                    presented: format!("a certificate ({})", certificate::describe(cert)),
                });
                return Ok(false);
            }
        };
        match &self.through_holder {
            None => Ok(self.judge(key, &mut observed)),
            Some(holder) if &holder.holder_key != key => {
                observed.refusal = Some(HostKeyError::Holder {
                    name: self.config.name.clone(),
                    presented: describe(key),
                });
                Ok(false)
            }
            Some(holder) => Ok(self.judge_as(
                &holder.server_key,
                holder.certificate.as_deref(),
                &mut observed,
            )),
        }
    }

    async fn openssh_ext_host_keys_announced(
        &mut self,
        keys: Vec<PublicKey>,
        _session: &mut russh::client::Session,
    ) -> Result<(), Self::Error> {
        self.observed.lock().expect("handler state lock").announced = keys;
        Ok(())
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: russh::Channel<russh::client::Msg>,
        reply: russh::client::ChannelOpenHandle,
        _session: &mut russh::client::Session,
    ) -> Result<(), Self::Error> {
        let Some(socket) = self.forward_agent.clone() else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            // An agent that is gone ends the channel: the server's client
            // sees it as an agent that does not answer.
            if let Ok(mut agent) = tokio::net::UnixStream::connect(&socket).await {
                let mut stream = channel.into_stream();
                let _ = tokio::io::copy_bidirectional(&mut stream, &mut agent).await;
            }
        });
        Ok(())
    }

    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        channel: russh::Channel<russh::client::Msg>,
        socket_path: &str,
        reply: russh::client::ChannelOpenHandle,
        _session: &mut russh::client::Session,
    ) -> Result<(), Self::Error> {
        let route = self
            .observed
            .lock()
            .expect("handler state lock")
            .forwarded
            .get(socket_path)
            .cloned();
        match route {
            // Accepted only if someone still takes it.
            Some(route) if !route.is_closed() => {
                reply.accept().await;
                let _ = route.send(channel);
            }
            _ => {
                reply
                    .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
            }
        }
        Ok(())
    }

    async fn disconnected(
        &mut self,
        reason: russh::client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        match reason {
            russh::client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            russh::client::DisconnectReason::Error(e) => {
                if matches!(e, russh::Error::KeepaliveTimeout) {
                    self.observed
                        .lock()
                        .expect("handler state lock")
                        .keepalive_timed_out = true;
                }
                Err(e)
            }
        }
    }
}
