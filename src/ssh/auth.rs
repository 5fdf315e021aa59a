//! Public-key authentication: ssh-agent keys and key files, in ssh's order,
//! with encrypted keys unlocked from `ROADIE_PASSPHRASE` or a terminal prompt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use russh::MethodSet;
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::{PrivateKey, PublicKey};
use russh::keys::{PrivateKeyWithHashAlg, decode_secret_key};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::algorithms;
use super::handler::ClientHandler;
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

enum Candidate {
    Agent { key: PublicKey, comment: String },
    File { path: PathBuf },
}

type AgentKeys = Vec<(PublicKey, String)>;

/// Connect to the agent and list its plain keys (certificates are skipped).
/// A broken agent is noted in `tried`, not fatal: key files may still work.
async fn open_agent(
    host: &Host,
    tried: &mut Vec<String>,
) -> Option<(AgentClient<tokio::net::UnixStream>, AgentKeys)> {
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
            let keys = ids
                .into_iter()
                .filter_map(|id| match id {
                    AgentIdentity::PublicKey { key, comment } => Some((key, comment)),
                    AgentIdentity::Certificate { .. } => None,
                })
                .collect();
            Some((client, keys))
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

/// ssh's order: agent keys that are also configured files, then the rest of
/// the agent's keys (unless IdentitiesOnly), then files not in the agent.
fn order_candidates(
    files: &[(PathBuf, Option<PublicKey>)],
    agent_keys: &AgentKeys,
    identities_only: bool,
) -> Vec<Candidate> {
    let same = |a: &PublicKey, b: &PublicKey| a.key_data() == b.key_data();
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
    let (mut agent, agent_keys) = match open_agent(host, &mut tried).await {
        Some((client, keys)) => (Some(client), keys),
        None => (None, Vec::new()),
    };
    let candidates = order_candidates(&files, &agent_keys, host.auth.identities_only);

    let rsa_hash = timed(step_timeout, handle.best_supported_rsa_hash())
        .await?
        .map_err(|e| failed(handle, e))?
        .flatten();
    for candidate in candidates {
        match candidate {
            Candidate::Agent { key, comment } => {
                let Some(client) = agent.as_mut() else {
                    continue;
                };
                let label = format!("agent key {} ({comment})", describe(&key));
                let Ok(hash) = algorithms::signature_hash(host, &key, rsa_hash)
                    .map_err(|why| tried.push(format!("{label}: {why}")))
                else {
                    continue;
                };
                match timed(
                    step_timeout,
                    handle.authenticate_publickey_with(&host.user, key, hash, client),
                )
                .await?
                {
                    Ok(AuthResult::Success) => return Ok(()),
                    Ok(AuthResult::Failure {
                        remaining_methods, ..
                    }) => {
                        refused_or_closed(handle, &remaining_methods).await?;
                        tried.push(format!("{label}: not accepted"));
                    }
                    Err(_) if handle.is_closed() => return Err(ConnectError::ClosedDuringAuth),
                    Err(e) => tried.push(format!("{label}: agent could not sign ({e})")),
                }
            }
            Candidate::File { path } => {
                if !path.exists() {
                    tried.push(format!("{}: no such file", path.display()));
                    continue;
                }
                let key = match load_private(&path).await {
                    Ok(key) => key,
                    Err(why) => {
                        tried.push(format!("{}: {why}", path.display()));
                        continue;
                    }
                };
                let label = format!("{} ({})", path.display(), describe(key.public_key()));
                let Ok(hash) = algorithms::signature_hash(host, key.public_key(), rsa_hash)
                    .map_err(|why| tried.push(format!("{label}: {why}")))
                else {
                    continue;
                };
                let attempt = handle
                    .authenticate_publickey(&host.user, PrivateKeyWithHashAlg::new(key, hash));
                match timed(step_timeout, attempt)
                    .await?
                    .map_err(|e| failed(handle, e))?
                {
                    AuthResult::Success => return Ok(()),
                    AuthResult::Failure {
                        remaining_methods, ..
                    } => {
                        refused_or_closed(handle, &remaining_methods).await?;
                        tried.push(format!("{label}: not accepted"));
                    }
                }
            }
        }
    }
    Err(ConnectError::Auth(AuthFailure {
        user: host.user.clone(),
        tried,
        server_key: None,
        environment: host.auth.environment_identity.clone(),
    }))
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
