//! Persistent connections: a verified, logged-in SSH connection kept by a
//! background holder process, so that later invocations (a test suite calls
//! roadie once per test) open channels on it instead of logging in again.
//!
//! The first invocation for a host with `--persist TIME` (or `persist:` in
//! roadie.yaml) starts `roadie persist hold`, which connects as roadie always
//! does and then serves SSH on a private Unix socket in the user's runtime
//! directory (`$XDG_RUNTIME_DIR/roadie`, else `/tmp/roadie-UID`; the
//! directory 0700 and the socket 0600, both checked). Later invocations log
//! in to the holder over that socket; the holder forwards their channels to
//! the server. The holder serves only its own user (checked by the socket's
//! peer credentials), presents a key of its own that the record beside the
//! socket names, and records the server's key it verified: every invocation
//! judges that key itself (known_hosts and every safeguard lock), exactly as
//! it would a key presented on a fresh connection, before anything is sent.
//!
//! A holder exits once nothing has used it for its idle time, when the
//! server's connection ends, or on `roadie persist stop`. A dead or stale one
//! (socket without listener, record that does not match, server connection
//! gone) is set aside and replaced without the user noticing.

pub(crate) mod holder;

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use russh::keys::ssh_key::{Certificate, PublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::{ConnectError, HostKeyError};
use crate::host::{Algorithms, AuthConfig, Host, HostKeyConfig};
use crate::safety::{Intent, Refusal};
use crate::ssh::{self, Session};

/// Longest socket path used (`sun_path` holds 108 bytes on Linux).
const MAX_SOCKET_PATH: usize = 100;

/// What a holder writes beside its socket (`ID.json`, 0600), rewritten
/// atomically whenever its number of clients changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The roadie version that started it; another version's holder is
    /// not used.
    pub version: String,
    pub pid: u32,
    pub label: String,
    pub address: String,
    pub environment: Option<String>,
    /// How long it stays after its last client leaves.
    pub keep: Duration,
    pub started: String,
    /// The key the holder itself presents on its socket (OpenSSH format).
    pub holder_key: String,
    /// The server's key, as verified when the holder connected.
    pub server_key: String,
    /// The host certificate the server presented that key in, if it did
    /// (OpenSSH format).
    pub server_certificate: Option<String>,
    /// Every host key the server announced after login.
    pub announced: Vec<String>,
    /// The keys of the jump hosts, as verified, the nearest to the server
    /// first.
    pub hops: Vec<String>,
    /// Invocations connected right now.
    pub clients: usize,
    /// Unix time the last client left (when there are none).
    pub idle_since: Option<u64>,
}

/// Where one holder lives: `DIR/ID.sock`, `ID.json`, `ID.lock`, `ID.log`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Place {
    pub dir: PathBuf,
    pub id: String,
}

impl Place {
    /// The place of the holder for `host`, in the user's runtime directory.
    pub(crate) fn for_host(host: &Host) -> Result<Place, String> {
        Ok(Place {
            dir: runtime_dir()?,
            id: holder_id(host),
        })
    }

    fn file(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}.{suffix}", self.id))
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.file("sock")
    }

    pub(crate) fn record(&self) -> PathBuf {
        self.file("json")
    }

    fn lock(&self) -> PathBuf {
        self.file("lock")
    }

    fn log(&self) -> PathBuf {
        self.file("log")
    }

    pub(crate) fn read_record(&self) -> Option<Record> {
        let text = std::fs::read_to_string(self.record()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Forget a holder that cannot be used, if the record still names the
    /// process `pid` (or is gone): its socket and record go (it exits on its
    /// own once idle, or already has). A holder started since is left alone.
    pub(crate) fn discard(&self, pid: Option<u32>) {
        if self.read_record().map(|r| r.pid) == pid {
            let _ = std::fs::remove_file(self.socket());
            let _ = std::fs::remove_file(self.record());
        }
    }

    /// Every holder place in the runtime directory, with its record.
    pub(crate) fn all() -> Result<Vec<(Place, Option<Record>)>, String> {
        let dir = runtime_dir()?;
        let mut found = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                let place = Place {
                    dir: dir.clone(),
                    id: id.to_owned(),
                };
                let record = place.read_record();
                found.push((place, record));
            }
        }
        found.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(found)
    }
}

/// `$XDG_RUNTIME_DIR/roadie` when that is set and short enough, else
/// `/tmp/roadie-UID`; created 0700 and refused unless it is a directory of
/// this user that nobody else can enter.
pub(crate) fn runtime_dir() -> Result<PathBuf, String> {
    let uid = nix::unistd::getuid();
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| p.join("roadie"))
        .into_iter()
        .chain([std::env::temp_dir().join(format!("roadie-{uid}"))]);
    let mut why = String::from("no runtime directory");
    for dir in candidates {
        // ID (16) + ".sock" + '/', and room for the holder's temporary name.
        if dir.as_os_str().len() + 40 > MAX_SOCKET_PATH {
            why = format!("{}: too long a path for a socket", dir.display());
            continue;
        }
        match ensure_private_dir(&dir, uid.as_raw()) {
            Ok(()) => return Ok(dir),
            Err(e) => why = e,
        }
    }
    Err(why)
}

fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), String> {
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != uid {
        return Err(format!(
            "{} belongs to uid {}, not to this user",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to other users (mode {:o}); it must be 0700",
            dir.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Which holder serves `host`: the same server, port, user, keys,
/// environment, host key settings, algorithms, keepalives and ProxyCommand (the
/// same for its jump hosts), and the same roadie version. Each invocation still judges
/// the recorded keys with its own known_hosts and safeguards.
pub(crate) fn holder_id(host: &Host) -> String {
    #[derive(Serialize)]
    struct Identity<'a> {
        version: &'a str,
        user: &'a str,
        hostname: &'a str,
        port: u16,
        auth: &'a AuthConfig,
        environment: Option<&'a str>,
        host_key: &'a HostKeyConfig,
        ciphers: Option<&'a [String]>,
        algorithms: &'a Algorithms,
        keepalive: Option<(Duration, u32)>,
        via: Option<String>,
        proxy_command: Option<&'a str>,
    }
    let identity = Identity {
        version: env!("CARGO_PKG_VERSION"),
        user: &host.user,
        hostname: &host.hostname,
        port: host.port,
        auth: &host.auth,
        environment: host.environment.as_deref(),
        host_key: &host.host_key,
        ciphers: host.ciphers.as_deref(),
        algorithms: &host.algorithms,
        keepalive: host.keepalive,
        via: host.via.as_deref().map(holder_id),
        proxy_command: host.proxy_command.as_deref(),
    };
    let json = serde_json::to_vec(&identity).expect("plain data serializes");
    let digest = Sha256::digest(&json);
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// Connect to `host` through its holder, starting one if there is none. If
/// no holder can be used, connect directly and say why in the session's
/// notes; what the safeguards or known_hosts refuse is an error either way.
pub(crate) async fn connect(
    host: &Host,
    intent: &Intent,
    keep: Duration,
) -> Result<Session, ConnectError> {
    match through_holder(host, intent, keep).await {
        Ok(session) => Ok(session),
        Err(Failure::Report(error)) => Err(error),
        Err(Failure::Fallback(why)) => {
            let mut session = ssh::connect_host(host, intent).await?;
            session.note(format!(
                "connection not kept for reuse ({why}); connected directly"
            ));
            Ok(session)
        }
    }
}

enum Failure {
    /// The answer for this invocation: refused, or the host cannot be reached.
    Report(ConnectError),
    /// The holder could not be used; a direct connection may still work.
    Fallback(String),
}

/// Why an existing holder was not used.
enum Attach {
    Absent,
    /// Dead or not what its record says: the holder (named by its record's
    /// pid) is set aside.
    Stale(String, Option<u32>),
    /// Fine, but not for this invocation (it knows the server by another
    /// key type): connect directly, leave the holder be.
    Bypass(String),
    Report(ConnectError),
}

async fn through_holder(host: &Host, intent: &Intent, keep: Duration) -> Result<Session, Failure> {
    if host.forward_agent.is_some() {
        // The agent to forward is this invocation's, not the holder's.
        return Err(Failure::Fallback(
            "the agent is forwarded (ForwardAgent), which needs a connection of its own".into(),
        ));
    }
    let place = Place::for_host(host).map_err(Failure::Fallback)?;
    match attach(host, intent, &place).await {
        Ok(session) => return Ok(session),
        Err(Attach::Report(e)) => return Err(Failure::Report(e)),
        Err(Attach::Bypass(why)) => return Err(Failure::Fallback(why)),
        Err(Attach::Absent | Attach::Stale(..)) => {}
    }
    // One invocation starts the holder; others arriving meanwhile wait for
    // it rather than starting their own. Holders are set aside only under
    // the lock, so never one that was just started.
    let deadline = host
        .connect_timeout
        .saturating_mul(3)
        .saturating_add(Duration::from_secs(5));
    let _lock = lock(&place, deadline).await.map_err(Failure::Fallback)?;
    match attach(host, intent, &place).await {
        Ok(session) => return Ok(session),
        Err(Attach::Report(e)) => return Err(Failure::Report(e)),
        Err(Attach::Bypass(why)) => return Err(Failure::Fallback(why)),
        Err(Attach::Absent) => {}
        Err(Attach::Stale(_, pid)) => place.discard(pid),
    }
    start_holder(host, intent, keep, &place, deadline).await?;
    match attach(host, intent, &place).await {
        Ok(session) => Ok(session),
        Err(Attach::Report(e)) => Err(Failure::Report(e)),
        Err(Attach::Absent) => Err(Failure::Fallback(
            "the new connection holder left no socket".into(),
        )),
        Err(Attach::Bypass(why)) => Err(Failure::Fallback(why)),
        Err(Attach::Stale(why, pid)) => {
            place.discard(pid);
            Err(Failure::Fallback(why))
        }
    }
}

/// Log in through the holder at `place`, if one is there and answers.
async fn attach(host: &Host, intent: &Intent, place: &Place) -> Result<Session, Attach> {
    let stream = match UnixStream::connect(place.socket()).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Attach::Absent),
        Err(e) => {
            let pid = place.read_record().map(|r| r.pid);
            return Err(Attach::Stale(format!("holder socket: {e}"), pid));
        }
    };
    let record = place.read_record().ok_or_else(|| {
        Attach::Stale("the holder's record is missing or unreadable".into(), None)
    })?;
    let stale = |why: String| Attach::Stale(why, Some(record.pid));
    let peer = stream
        .peer_cred()
        .map_err(|e| stale(format!("holder socket: {e}")))?;
    if peer.uid() != nix::unistd::getuid().as_raw() {
        return Err(stale(format!(
            "the holder socket is served by uid {}, not this user",
            peer.uid()
        )));
    }
    // A pid of 0 is what a process in another pid namespace reads as.
    if record.pid == 0
        || peer.pid().and_then(|p| u32::try_from(p).ok()) != Some(record.pid)
        || record.version != env!("CARGO_PKG_VERSION")
    {
        return Err(stale("the holder does not match its record".into()));
    }
    let key = |text: &str| {
        PublicKey::from_openssh(text).map_err(|e| stale(format!("holder record: {e}")))
    };
    let announced = record
        .announced
        .iter()
        .map(|k| key(k))
        .collect::<Result<Vec<_>, _>>()?;
    // The jump hosts' keys, judged as this invocation would judge them.
    let mut notes = Vec::new();
    let mut hop = host.via.as_deref();
    for recorded in &record.hops {
        let Some(jump) = hop else {
            return Err(stale("the holder went through other jump hosts".into()));
        };
        notes.extend(ssh::judge_recorded_hop(jump, &key(recorded)?).map_err(judged)?);
        hop = jump.via.as_deref();
    }
    if hop.is_some() {
        return Err(stale("the holder went through other jump hosts".into()));
    }
    let certificate = record
        .server_certificate
        .as_deref()
        .map(|text| {
            Certificate::from_openssh(text)
                .map(Box::new)
                .map_err(|e| stale(format!("holder record: {e}")))
        })
        .transpose()?;
    let keys = ssh::ThroughHolder {
        holder_key: key(&record.holder_key)?,
        server_key: key(&record.server_key)?,
        certificate,
    };
    let mut session = ssh::connect_through_holder(host, intent, stream, keys, announced)
        .await
        .map_err(|e| {
            if is_verdict(&e) {
                judged(e)
            } else {
                stale(e.to_string())
            }
        })?;
    for note in notes {
        session.note(note);
    }
    Ok(session)
}

/// What a verdict on a recorded key means for this invocation: reported as
/// it would be on a fresh connection, except a key of another type than
/// known_hosts records, which a fresh connection would have avoided by
/// asking for the recorded type.
fn judged(e: ConnectError) -> Attach {
    match e {
        ConnectError::HostKey(HostKeyError::OtherTypes { .. }) => Attach::Bypass(e.to_string()),
        ConnectError::Jump { ref source, .. }
            if matches!(
                **source,
                ConnectError::HostKey(HostKeyError::OtherTypes { .. })
            ) =>
        {
            Attach::Bypass(e.to_string())
        }
        e => Attach::Report(e),
    }
}

/// A refusal by the safeguards or known_hosts (as opposed to a holder that
/// failed).
fn is_verdict(e: &ConnectError) -> bool {
    match e {
        ConnectError::Refused(_) | ConnectError::HostKey(_) | ConnectError::KnownHosts(_) => true,
        ConnectError::Jump { source, .. } => is_verdict(source),
        _ => false,
    }
}

/// An exclusive lock on `place`'s lock file, released when dropped; given
/// up after `limit` (a stopped process holding it holds up nobody for long).
pub(crate) async fn lock(
    place: &Place,
    limit: Duration,
) -> Result<nix::fcntl::Flock<std::fs::File>, String> {
    let path = place.lock();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let started = std::time::Instant::now();
    loop {
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((back, nix::errno::Errno::EWOULDBLOCK)) if started.elapsed() < limit => {
                file = back;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err((_, e)) => return Err(format!("{}: {e}", path.display())),
        }
    }
}

/// What `roadie persist hold` reads on its standard input.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HoldRequest {
    pub host: Host,
    pub intent: Intent,
    pub keep: Duration,
    pub place: Place,
}

/// What it answers, one line on its standard output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HoldAnswer {
    Ready,
    Refused(Box<Refusal>),
    Failed { kind: String, message: String },
}

/// Start the holder for `host` and wait until it is connected and
/// listening, or says why it could not.
async fn start_holder(
    host: &Host,
    intent: &Intent,
    keep: Duration,
    place: &Place,
    limit: Duration,
) -> Result<(), Failure> {
    let program = holder_program().map_err(Failure::Fallback)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(place.log())
        .map_err(|e| Failure::Fallback(format!("{}: {e}", place.log().display())))?;
    let mut child = tokio::process::Command::new(&program)
        .args(["persist", "hold"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| Failure::Fallback(format!("cannot start {}: {e}", program.display())))?;
    let request = HoldRequest {
        host: host.clone(),
        intent: intent.clone(),
        keep,
        place: place.clone(),
    };
    let mut stdin = child.stdin.take().expect("piped");
    let mut line = serde_json::to_vec(&request).expect("plain data serializes");
    line.push(b'\n');
    stdin
        .write_all(&line)
        .await
        .map_err(|e| Failure::Fallback(format!("connection holder: {e}")))?;
    drop(stdin);
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut answer = String::new();
    // The holder connects with the host's own timeouts (a jump host may add
    // another connect); beyond `limit` something is wrong with it.
    match tokio::time::timeout(limit, stdout.read_line(&mut answer)).await {
        Ok(Ok(n)) if n > 0 => {}
        Ok(_) => {
            return Err(Failure::Fallback(format!(
                "the connection holder ended without answering (see {})",
                place.log().display()
            )));
        }
        Err(_) => {
            let _ = child.start_kill();
            return Err(Failure::Fallback(
                "the connection holder did not answer in time".into(),
            ));
        }
    }
    match serde_json::from_str::<HoldAnswer>(&answer) {
        Ok(HoldAnswer::Ready) => Ok(()),
        // Refused before logging in: the answer for this invocation too.
        Ok(HoldAnswer::Refused(refusal)) => Err(Failure::Report(ConnectError::Refused(refusal))),
        // The host is down or does not answer: a direct attempt would wait
        // just as long again.
        Ok(HoldAnswer::Failed { kind, message })
            if kind == "connect" || kind == "connect_timeout" =>
        {
            Err(Failure::Report(ConnectError::Relayed { kind, message }))
        }
        // Anything else (a key needing a passphrase, say) may work directly,
        // where roadie can ask for it; a refusal is made again there.
        Ok(HoldAnswer::Failed { message, .. }) => Err(Failure::Fallback(message)),
        Err(e) => Err(Failure::Fallback(format!(
            "the connection holder answered {answer:?}: {e}"
        ))),
    }
}

/// The roadie program to run as holder: `ROADIE_BIN`, else this program if
/// it is roadie, else `roadie` on the PATH (a test binary using the library
/// is not roadie).
fn holder_program() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("ROADIE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find roadie: {e}"))?;
    if exe.file_stem().is_some_and(|s| s == "roadie") {
        return Ok(exe);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("roadie"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| "the roadie program was not found (set ROADIE_BIN)".into())
}
