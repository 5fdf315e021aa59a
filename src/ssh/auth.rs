//! Public-key authentication: ssh-agent keys, key files and their OpenSSH
//! certificates, in ssh's order, with encrypted keys unlocked from
//! `ROADIE_PASSPHRASE` or a terminal prompt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use russh::MethodSet;
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::{Certificate, HashAlg, PrivateKey, PublicKey};
use russh::keys::{PrivateKeyWithHashAlg, decode_secret_key};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::algorithms;
use super::handler::ClientHandler;
use crate::certificate;
use crate::error::{AuthFailure, ConnectError};
use crate::host::Host;
use crate::known_hosts::describe;

/// The environment variable holding the passphrase of encrypted keys.
pub(crate) const PASSPHRASE_VAR: &str = "ROADIE_PASSPHRASE";

/// Decrypted keys, shared by every connection of the process so that a
/// passphrase is asked for at most once per key.
type KeyCache = Mutex<HashMap<PathBuf, Result<Arc<PrivateKey>, String>>>;

fn key_cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The public half of a key file, without decrypting it: from `FILE.pub`, or
/// from the unencrypted header of an OpenSSH-format private key.
fn public_half(path: &Path) -> Option<PublicKey> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(text) = std::fs::read_to_string(PathBuf::from(pub_path))
        && let Ok(key) = PublicKey::from_openssh(text.trim())
    {
        return Some(key);
    }
    let text = std::fs::read_to_string(path).ok()?;
    PrivateKey::from_openssh(text.trim())
        .ok()
        .map(|k| k.public_key().clone())
}

/// Load (and if needed decrypt) a private key, once per process.
async fn load_private(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let mut cache = key_cache().lock().await;
    if let Some(result) = cache.get(path) {
        return result.clone();
    }
    let owned = path.to_path_buf();
    let result = tokio::task::spawn_blocking(move || decrypt(&owned))
        .await
        .unwrap_or_else(|e| Err(format!("key loading failed: {e}")));
    cache.insert(path.to_path_buf(), result.clone());
    result
}

fn decrypt(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    match decode_secret_key(&text, None) {
        Ok(key) => return Ok(Arc::new(key)),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => return Err(format!("not a usable private key: {e}")),
    }
    if let Ok(passphrase) = std::env::var(PASSPHRASE_VAR).map(SecretString::from) {
        return decode_secret_key(&text, Some(passphrase.expose_secret()))
            .map(Arc::new)
            .map_err(|_| format!("encrypted, and {PASSPHRASE_VAR} does not unlock it"));
    }
    let term = console::Term::stderr();
    if !term.is_term() {
        return Err(format!(
            "encrypted, and no passphrase: set {PASSPHRASE_VAR}, add the key to ssh-agent, or run in a terminal to be asked"
        ));
    }
    term.write_str(&format!("Enter passphrase for key {}: ", path.display()))
        .map_err(|e| e.to_string())?;
    let passphrase = SecretString::from(
        term.read_secure_line()
            .map_err(|e| format!("cannot read passphrase: {e}"))?,
    );
    decode_secret_key(&text, Some(passphrase.expose_secret()))
        .map(Arc::new)
        .map_err(|_| "encrypted, and the passphrase given does not unlock it".to_owned())
}

/// A way to log in that is tried in turn: a key, or a certificate of one.
enum Candidate {
    Agent {
        key: PublicKey,
        comment: String,
    },
    File {
        path: PathBuf,
    },
    /// A certificate (from a file, or held by the agent) whose key the
    /// agent or a key file signs with.
    Certificate {
        cert: Box<Certificate>,
        origin: String,
        signer: Signer,
    },
}

/// Who signs for a certificate's key.
#[derive(Clone)]
enum Signer {
    Agent,
    File(PathBuf),
}

impl Candidate {
    /// The key this candidate signs with, when known without decrypting.
    fn key(&self, files: &[(PathBuf, Option<PublicKey>)]) -> Option<PublicKey> {
        match self {
            Candidate::Agent { key, .. } => Some(key.clone()),
            Candidate::File { path } => files
                .iter()
                .find(|(p, _)| p == path)
                .and_then(|(_, public)| public.clone()),
            Candidate::Certificate { cert, .. } => Some(PublicKey::from(cert.public_key().clone())),
        }
    }

    fn signer(&self) -> Signer {
        match self {
            Candidate::File { path } => Signer::File(path.clone()),
            Candidate::Agent { .. } => Signer::Agent,
            Candidate::Certificate { signer, .. } => signer.clone(),
        }
    }
}

type AgentKeys = Vec<(PublicKey, String)>;

/// What the agent holds: plain keys, and certificates.
#[derive(Default)]
struct AgentHolds {
    keys: AgentKeys,
    certificates: Vec<(Certificate, String)>,
}

/// Connect to the agent and list its keys and certificates. A broken agent
/// is noted in `tried`, not fatal: key files may still work.
async fn open_agent(
    host: &Host,
    tried: &mut Vec<String>,
) -> Option<(AgentClient<tokio::net::UnixStream>, AgentHolds)> {
    let socket = host.auth.agent.as_ref()?;
    let mut client = match AgentClient::connect_uds(socket).await {
        Ok(client) => client,
        Err(e) => {
            tried.push(format!(
                "ssh-agent at {}: cannot connect ({e})",
                socket.display()
            ));
            return None;
        }
    };
    match client.request_identities().await {
        Ok(ids) => {
            let mut holds = AgentHolds::default();
            for id in ids {
                match id {
                    AgentIdentity::PublicKey { key, comment } => holds.keys.push((key, comment)),
                    AgentIdentity::Certificate {
                        certificate,
                        comment,
                    } => holds.certificates.push((certificate, comment)),
                }
            }
            Some((client, holds))
        }
        Err(e) => {
            tried.push(format!(
                "ssh-agent at {}: cannot list keys ({e})",
                socket.display()
            ));
            None
        }
    }
}

fn same(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

/// ssh's order: agent keys that are also configured files, then the rest of
/// the agent's keys (unless IdentitiesOnly), then files not in the agent.
fn order_candidates(
    files: &[(PathBuf, Option<PublicKey>)],
    agent_keys: &AgentKeys,
    identities_only: bool,
) -> Vec<Candidate> {
    let agent = |(key, comment): &(PublicKey, String)| Candidate::Agent {
        key: key.clone(),
        comment: comment.clone(),
    };
    let mut candidates: Vec<Candidate> = files
        .iter()
        .filter_map(|(_, public)| public.as_ref())
        .filter_map(|public| agent_keys.iter().find(|(k, _)| same(k, public)))
        .map(agent)
        .collect();
    if !identities_only {
        let configured = |key: &PublicKey| {
            files
                .iter()
                .any(|(_, p)| p.as_ref().is_some_and(|p| same(p, key)))
        };
        candidates.extend(agent_keys.iter().filter(|(k, _)| !configured(k)).map(agent));
    }
    let in_agent = |key: &PublicKey| agent_keys.iter().any(|(k, _)| same(k, key));
    candidates.extend(
        files
            .iter()
            .filter(|(_, public)| !public.as_ref().is_some_and(in_agent))
            .map(|(path, _)| Candidate::File { path: path.clone() }),
    );
    candidates
}

/// The certificate files, read; those that cannot be are noted in `tried`.
fn read_certificates(host: &Host, tried: &mut Vec<String>) -> Vec<(Certificate, String)> {
    let mut certificates = Vec::new();
    for path in &host.auth.certificate_files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tried.push(format!("certificate {}: no such file", path.display()));
                continue;
            }
            Err(e) => {
                tried.push(format!("certificate {}: cannot read ({e})", path.display()));
                continue;
            }
        };
        match Certificate::from_openssh(text.trim()) {
            Ok(cert) => certificates.push((cert, format!("certificate {}", path.display()))),
            Err(e) => tried.push(format!(
                "certificate {}: not an OpenSSH certificate ({e})",
                path.display()
            )),
        }
    }
    certificates
}

/// Each key's certificates just before it (ssh offers a certificate before
/// its plain key): certificate files signed with the key's own signer,
/// certificates held by the agent signed by the agent. Certificates whose
/// key is offered nowhere are noted in `tried` (files) or offered last
/// (the agent's, unless IdentitiesOnly).
fn with_certificates(
    keys: Vec<Candidate>,
    files: &[(PathBuf, Option<PublicKey>)],
    mut certificates: Vec<(Certificate, String)>,
    mut agent_certificates: Vec<(Certificate, String)>,
    identities_only: bool,
    tried: &mut Vec<String>,
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for candidate in keys {
        if let Some(key) = candidate.key(files) {
            let of_key = |(cert, _): &(Certificate, String)| cert.public_key() == key.key_data();
            for (cert, origin) in certificates.extract_if(.., |c| of_key(c)) {
                candidates.push(Candidate::Certificate {
                    cert: Box::new(cert),
                    origin,
                    signer: candidate.signer(),
                });
            }
            for (cert, comment) in agent_certificates.extract_if(.., |c| of_key(c)) {
                candidates.push(Candidate::Certificate {
                    cert: Box::new(cert),
                    origin: format!("agent certificate ({comment})"),
                    signer: Signer::Agent,
                });
            }
        }
        candidates.push(candidate);
    }
    for (cert, origin) in certificates {
        tried.push(format!(
            "{origin}: no private key for it: its key {} is neither an identity file's nor in ssh-agent",
            describe(&PublicKey::from(cert.public_key().clone()))
        ));
    }
    if !identities_only {
        candidates.extend(agent_certificates.into_iter().map(|(cert, comment)| {
            Candidate::Certificate {
                cert: Box::new(cert),
                origin: format!("agent certificate ({comment})"),
                signer: Signer::Agent,
            }
        }));
    }
    candidates
}

/// Signs with the agent's plain key whatever identity russh names: a
/// certificate file's key may be in the agent without the certificate.
struct AgentKey<'a> {
    client: &'a mut AgentClient<tokio::net::UnixStream>,
    key: PublicKey,
}

impl russh::Signer for AgentKey<'_> {
    type Error = russh::AgentAuthError;

    fn auth_sign(
        &mut self,
        _certificate: &AgentIdentity,
        hash_alg: Option<HashAlg>,
        to_sign: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send {
        let key = AgentIdentity::from(self.key.clone());
        async move { self.client.auth_sign(&key, hash_alg, to_sign).await }
    }
}

/// What a FIDO key gets, in `tried`.
const FIDO: &str =
    "not supported: roadie cannot sign with FIDO security keys (sk-); use another key";

/// Authenticate on `handle` as `host.user`.
pub(super) async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    host: &Host,
    step_timeout: Duration,
) -> Result<(), ConnectError> {
    let mut tried = Vec::new();
    let files: Vec<(PathBuf, Option<PublicKey>)> = host
        .auth
        .identity_files
        .iter()
        .map(|p| (p.clone(), public_half(p)))
        .collect();
    let (mut agent, holds) = match open_agent(host, &mut tried).await {
        Some((client, holds)) => (Some(client), holds),
        None => (None, AgentHolds::default()),
    };
    let keys = order_candidates(&files, &holds.keys, host.auth.identities_only);
    let certificates = read_certificates(host, &mut tried);
    let candidates = with_certificates(
        keys,
        &files,
        certificates,
        holds.certificates,
        host.auth.identities_only,
        &mut tried,
    );

    let rsa_hash = timed(step_timeout, handle.best_supported_rsa_hash())
        .await?
        .map_err(|e| failed(handle, e))?
        .flatten();
    let mut login = Login {
        handle,
        user: &host.user,
        step_timeout,
        tried,
    };
    for candidate in candidates {
        let key = candidate.key(&files);
        if key
            .as_ref()
            .is_some_and(|k| certificate::is_fido(&k.algorithm()))
        {
            login
                .tried
                .push(format!("{}: {FIDO}", label(&candidate, key.as_ref())));
            continue;
        }
        let accepted = match candidate {
            Candidate::Agent { key, comment } => {
                let Some(client) = agent.as_mut() else {
                    continue;
                };
                login
                    .agent_key(host, (key, &comment), client, rsa_hash)
                    .await?
            }
            Candidate::File { path } => login.key_file(host, &path, rsa_hash).await?,
            Candidate::Certificate {
                cert,
                origin,
                signer,
            } => {
                let offer = certificate_label(&cert, &origin, &host.user);
                let signer = match signer {
                    Signer::Agent => match agent.as_mut() {
                        Some(client) => CertSigner::Agent(client),
                        None => continue,
                    },
                    Signer::File(path) => match login.private(&path).await {
                        Some(key) => CertSigner::File(key),
                        None => continue,
                    },
                };
                login.certificate(offer, *cert, signer, rsa_hash).await?
            }
        };
        if accepted {
            return Ok(());
        }
    }
    Err(ConnectError::Auth(AuthFailure {
        user: host.user.clone(),
        tried: login.tried,
        server_key: None,
        environment: host.auth.environment_identity.clone(),
    }))
}

/// A user certificate named for `tried`: where it is from, its key, what it
/// says, and what is visibly wrong with it for logging in as `user` now
/// (the server's reasons stay in its log).
fn certificate_label(cert: &Certificate, origin: &str, user: &str) -> Offer {
    Offer {
        label: format!(
            "{origin} ({}, {})",
            describe(&PublicKey::from(cert.public_key().clone())),
            certificate::describe(cert)
        ),
        visible: certificate::problems(cert, CertType::User, user, certificate::now()),
    }
}

/// What is offered, for `tried`: its label, and what roadie sees wrong with
/// it.
struct Offer {
    label: String,
    visible: Vec<String>,
}

impl From<String> for Offer {
    fn from(label: String) -> Offer {
        Offer {
            label,
            visible: Vec::new(),
        }
    }
}

/// A candidate named for `tried` before it is used.
fn label(candidate: &Candidate, key: Option<&PublicKey>) -> String {
    let key = key.map(describe).unwrap_or_default();
    match candidate {
        Candidate::Agent { comment, .. } => format!("agent key {key} ({comment})"),
        Candidate::File { path } => format!("{} ({key})", path.display()),
        Candidate::Certificate { origin, .. } => format!("{origin} ({key})"),
    }
}

/// What signs for a certificate, ready.
enum CertSigner<'a> {
    Agent(&'a mut AgentClient<tokio::net::UnixStream>),
    File(Arc<PrivateKey>),
}

/// A key that ssh_config's algorithm lists keep from being offered.
struct NotOffered;

/// One login in progress, and the attempts made so far, in words.
struct Login<'a> {
    handle: &'a mut Handle<ClientHandler>,
    user: &'a str,
    step_timeout: Duration,
    tried: Vec<String>,
}

impl Login<'_> {
    /// How `key` signs for `host` (see [`algorithms::signature_hash`]); when
    /// it may not be offered there, that is noted under `label`.
    fn signing(
        &mut self,
        host: &Host,
        key: &PublicKey,
        rsa_hash: Option<HashAlg>,
        label: &str,
    ) -> Result<Option<HashAlg>, NotOffered> {
        algorithms::signature_hash(host, key, rsa_hash).map_err(|why| {
            self.tried.push(format!("{label}: {why}"));
            NotOffered
        })
    }

    /// Offer the agent's `key` (signed as `host` allows: see
    /// [`algorithms::signature_hash`]): true if accepted; false, noted, when
    /// it is not offered there.
    async fn agent_key(
        &mut self,
        host: &Host,
        (key, comment): (PublicKey, &str),
        client: &mut AgentClient<tokio::net::UnixStream>,
        rsa_hash: Option<HashAlg>,
    ) -> Result<bool, ConnectError> {
        let label = format!("agent key {} ({comment})", describe(&key));
        let Ok(hash) = self.signing(host, &key, rsa_hash, &label) else {
            return Ok(false);
        };
        let attempt = self
            .handle
            .authenticate_publickey_with(self.user, key, hash, client);
        let result = timed(self.step_timeout, attempt).await?;
        self.signed(label, result).await
    }

    /// Offer the key in `path`, as [`Login::agent_key`] does the agent's.
    async fn key_file(
        &mut self,
        host: &Host,
        path: &Path,
        rsa_hash: Option<HashAlg>,
    ) -> Result<bool, ConnectError> {
        let Some(key) = self.private(path).await else {
            return Ok(false);
        };
        let label = format!("{} ({})", path.display(), describe(key.public_key()));
        let Ok(hash) = self.signing(host, key.public_key(), rsa_hash, &label) else {
            return Ok(false);
        };
        let attempt = self
            .handle
            .authenticate_publickey(self.user, PrivateKeyWithHashAlg::new(key, hash));
        let result = timed(self.step_timeout, attempt).await?;
        self.offered(label, result).await
    }

    /// Offer `cert`, signed by `signer`: true if accepted.
    async fn certificate(
        &mut self,
        offer: Offer,
        cert: Certificate,
        signer: CertSigner<'_>,
        rsa_hash: Option<HashAlg>,
    ) -> Result<bool, ConnectError> {
        match signer {
            CertSigner::Agent(client) => {
                let key = PublicKey::from(cert.public_key().clone());
                // The certificate's key signs as a plain key of its type
                // would (PubkeyAcceptedAlgorithms names plain keys here).
                let hash = matches!(key.algorithm(), russh::keys::Algorithm::Rsa { .. })
                    .then_some(rsa_hash)
                    .flatten();
                let mut signer = AgentKey { client, key };
                let attempt =
                    self.handle
                        .authenticate_certificate_with(self.user, cert, hash, &mut signer);
                let result = timed(self.step_timeout, attempt).await?;
                self.signed(offer, result).await
            }
            CertSigner::File(key) => {
                let attempt = self.handle.authenticate_openssh_cert(self.user, key, cert);
                let result = timed(self.step_timeout, attempt).await?;
                self.offered(offer, result).await
            }
        }
    }

    /// The private key in `path`, or why not (noted).
    async fn private(&mut self, path: &Path) -> Option<Arc<PrivateKey>> {
        if !path.exists() {
            self.tried.push(format!("{}: no such file", path.display()));
            return None;
        }
        match load_private(path).await {
            Ok(key) => Some(key),
            Err(why) => {
                self.tried.push(format!("{}: {why}", path.display()));
                None
            }
        }
    }

    /// The server's answer to an offer of a key roadie holds: true if
    /// accepted; a refusal is noted under `label`.
    async fn offered(
        &mut self,
        offer: impl Into<Offer>,
        result: Result<AuthResult, russh::Error>,
    ) -> Result<bool, ConnectError> {
        let result = result.map_err(|e| failed(self.handle, e))?;
        self.answered(offer.into(), result).await
    }

    /// The server's answer to an offer the agent signs.
    async fn signed(
        &mut self,
        offer: impl Into<Offer>,
        result: Result<AuthResult, russh::AgentAuthError>,
    ) -> Result<bool, ConnectError> {
        let offer = offer.into();
        match result {
            Ok(result) => self.answered(offer, result).await,
            Err(_) if self.handle.is_closed() => Err(ConnectError::ClosedDuringAuth),
            Err(e) => {
                self.tried
                    .push(format!("{}: agent could not sign ({e})", offer.label));
                Ok(false)
            }
        }
    }

    async fn answered(&mut self, offer: Offer, result: AuthResult) -> Result<bool, ConnectError> {
        match result {
            AuthResult::Success => Ok(true),
            AuthResult::Failure {
                remaining_methods, ..
            } => {
                refused_or_closed(self.handle, &remaining_methods).await?;
                self.tried.push(match offer.visible.as_slice() {
                    [] => format!("{}: not accepted", offer.label),
                    visible => format!("{}: not accepted: {}", offer.label, visible.join("; ")),
                });
                Ok(false)
            }
        }
    }
}

/// How long a login refused with no methods left waits to see whether the
/// server closed the connection.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A refused key, or a connection the server closed mid-login (russh reports
/// that as a refusal with no methods left), which is no key's fault.
async fn refused_or_closed(
    handle: &mut Handle<ClientHandler>,
    remaining: &MethodSet,
) -> Result<(), ConnectError> {
    let closed = handle.is_closed()
        || (remaining.is_empty() && tokio::time::timeout(CLOSE_WAIT, &mut *handle).await.is_ok());
    if closed {
        Err(ConnectError::ClosedDuringAuth)
    } else {
        Ok(())
    }
}

/// A protocol error during login, or the connection closed under it.
fn failed(handle: &Handle<ClientHandler>, e: russh::Error) -> ConnectError {
    if handle.is_closed() {
        ConnectError::ClosedDuringAuth
    } else {
        ConnectError::protocol(e)
    }
}

async fn timed<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, ConnectError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| ConnectError::Timeout {
            phase: "authenticating",
            after: limit,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::tests::{ca, signed};
    use russh::keys::ssh_key::Algorithm;

    fn names(candidates: &[Candidate]) -> Vec<String> {
        candidates
            .iter()
            .map(|c| match c {
                Candidate::Agent { comment, .. } => format!("agent {comment}"),
                Candidate::File { path } => format!("file {}", path.display()),
                Candidate::Certificate { origin, signer, .. } => match signer {
                    Signer::Agent => format!("{origin} by agent"),
                    Signer::File(path) => format!("{origin} by {}", path.display()),
                },
            })
            .collect()
    }

    #[test]
    fn a_certificate_goes_just_before_its_key_and_one_without_a_key_is_noted() {
        let ca = ca();
        let cert = signed(&ca, CertType::User, &["root"], (0, u64::MAX));
        let key = PublicKey::from(cert.public_key().clone());
        let in_agent = signed(&ca, CertType::User, &["root"], (0, u64::MAX));
        let agent_key = PublicKey::from(in_agent.public_key().clone());
        let orphan = signed(&ca, CertType::User, &["root"], (0, u64::MAX));
        let other = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .clone();
        let files = vec![
            (PathBuf::from("other"), Some(other)),
            (PathBuf::from("k"), Some(key)),
        ];
        let agent_keys = vec![(agent_key, "a".to_owned())];
        for identities_only in [false, true] {
            let mut tried = Vec::new();
            let keys = order_candidates(&files, &agent_keys, identities_only);
            let candidates = with_certificates(
                keys,
                &files,
                vec![
                    (cert.clone(), "k-cert".into()),
                    (orphan.clone(), "orphan".into()),
                ],
                vec![(in_agent.clone(), "a".into())],
                identities_only,
                &mut tried,
            );
            let expected: &[&str] = if identities_only {
                &["file other", "k-cert by k", "file k"]
            } else {
                &[
                    "agent certificate (a) by agent",
                    "agent a",
                    "file other",
                    "k-cert by k",
                    "file k",
                ]
            };
            assert_eq!(names(&candidates), expected);
            assert_eq!(tried.len(), 1, "{tried:?}");
            assert!(
                tried[0].starts_with("orphan: no private key for it"),
                "{tried:?}"
            );
        }
    }
}
