//! SFTP on a session: the file operations transfers are made of, with many
//! requests in flight at once (as OpenSSH's own sftp and scp do) so that a
//! transfer is bound by bandwidth, not by round trips.
//!
//! Files are written under a temporary name in their directory and renamed
//! over the real one (`posix-rename@openssh.com`), so a half-written file is
//! never seen under its name.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use super::Session;
use crate::error::Error;

/// Bytes the server is asked to write or read at once, unless it says less.
const CHUNK: u64 = 255 * 1024;
/// Bytes in flight per file: enough to keep the channel's window full.
const IN_FLIGHT: u64 = 8 * 1024 * 1024;
/// Bytes in flight on one SFTP channel, all files together: requests wait
/// in roadie, not in a queue where their time limit runs (a slow link), and
/// memory stays bounded.
const IN_FLIGHT_IN_ALL: u64 = 16 * 1024 * 1024;
/// How long one request may take (a busy disk, a slow link).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// An SFTP channel on a session.
pub struct Sftp {
    raw: Arc<RawSftpSession>,
    host: String,
    chunk: u64,
    posix_rename: bool,
    statvfs: bool,
    /// A permit per request in flight, see [`IN_FLIGHT_IN_ALL`].
    budget: Arc<tokio::sync::Semaphore>,
    /// Temporary names being written, removed by [`Sftp::clean_up`] if the
    /// transfer is abandoned.
    pending: Mutex<Vec<String>>,
}

/// What is at a remote path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    Other,
}

/// A remote path's type, size, mode and modification time.
#[derive(Debug, Clone)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub mtime: Option<u32>,
}

impl From<&FileAttributes> for Meta {
    fn from(attrs: &FileAttributes) -> Meta {
        let kind = if attrs.is_dir() {
            Kind::Dir
        } else if attrs.is_symlink() {
            Kind::Link
        } else if attrs.is_regular() {
            Kind::File
        } else {
            Kind::Other
        };
        Meta {
            kind,
            size: attrs.size.unwrap_or(0),
            mode: attrs.permissions.unwrap_or(0o644) & 0o7777,
            mtime: attrs.mtime,
        }
    }
}

/// The mode and times a file or directory is given.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub mode: u32,
    pub mtime: Option<u32>,
}

impl Stamp {
    fn attrs(self) -> FileAttributes {
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(self.mode & 0o7777);
        if let Some(mtime) = self.mtime {
            attrs.atime = Some(mtime);
            attrs.mtime = Some(mtime);
        }
        attrs
    }
}

/// A path as SFTP takes it: relative paths are relative to the login
/// user's home, so `~/x` is `x` and `~` is `.`.
pub(crate) fn sftp_path(path: &str) -> String {
    if path == "~" || path == "~/" {
        ".".to_owned()
    } else if let Some(rest) = path.strip_prefix("~/") {
        rest.to_owned()
    } else {
        path.to_owned()
    }
}

/// `dir/name`, without doubling a slash.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A sibling of `path` to write before renaming over it.
fn temporary_name(path: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
    let tag: u32 = rand::random();
    format!("{dir}/.{name}.roadie-{tag:08x}")
}

fn ssh_string(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn status_code(error: &SftpError) -> Option<StatusCode> {
    match error {
        SftpError::Status(status) => Some(status.status_code),
        _ => None,
    }
}

impl Session {
    /// Open an SFTP channel.
    pub async fn sftp(&self) -> Result<Sftp, Error> {
        let host = self.host.label.clone();
        let lost = |e: russh::Error| Error::ConnectionLost {
            host: host.clone(),
            reason: self.failure(&e),
        };
        let channel = self.open_session().await.map_err(lost)?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(lost)?;
        let config = russh_sftp::client::Config {
            request_timeout_secs: REQUEST_TIMEOUT_SECS,
            ..russh_sftp::client::Config::default()
        };
        let mut raw = RawSftpSession::new_with_config(channel.into_stream(), config);
        let unavailable = |e: SftpError| Error::Remote {
            host: host.clone(),
            message: format!("the server's SFTP subsystem is not available: {e}"),
        };
        let version = raw.init().await.map_err(unavailable)?;
        let has = |name: &str| version.extensions.contains_key(name);
        let (posix_rename, statvfs) = (has("posix-rename@openssh.com"), has("statvfs@openssh.com"));
        let mut chunk = CHUNK;
        if has("limits@openssh.com") {
            let limits = raw.limits().await.map_err(unavailable)?;
            for limit in [limits.max_write_len, limits.max_read_len] {
                if limit > 0 {
                    chunk = chunk.min(limit);
                }
            }
            raw.set_limits(limits.into());
        } else {
            // What every server takes (draft-ietf-secsh-filexfer: 32768).
            chunk = 32 * 1024;
        }
        let permits = usize::try_from((IN_FLIGHT_IN_ALL / chunk).max(4)).unwrap_or(4);
        Ok(Sftp {
            raw: Arc::new(raw),
            host,
            chunk,
            posix_rename,
            statvfs,
            budget: Arc::new(tokio::sync::Semaphore::new(permits)),
            pending: Mutex::new(Vec::new()),
        })
    }
}

impl Sftp {
    /// The host, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// An error about `path` on this host, in words.
    pub fn error(&self, doing: &str, path: &str, error: &SftpError) -> Error {
        let why = match status_code(error) {
            Some(StatusCode::NoSuchFile) => "no such file or directory".to_owned(),
            Some(StatusCode::PermissionDenied) => "permission denied".to_owned(),
            _ => match error {
                SftpError::Status(status) if !status.error_message.is_empty() => {
                    status.error_message.clone()
                }
                other => other.to_string(),
            },
        };
        Error::Remote {
            host: self.host.clone(),
            message: format!("cannot {doing} {path}: {why}"),
        }
    }

    /// What is at `path` (a link itself, not what it points to).
    pub async fn lstat(&self, path: &str) -> Result<Option<Meta>, Error> {
        match self.raw.lstat(path).await {
            Ok(attrs) => Ok(Some(Meta::from(&attrs.attrs))),
            Err(e) if status_code(&e) == Some(StatusCode::NoSuchFile) => Ok(None),
            Err(e) => Err(self.error("look at", path, &e)),
        }
    }

    /// Create `path` and its missing parents, as directories.
    pub async fn create_dir_all(&self, path: &str) -> Result<(), Error> {
        let mut prefixes = Vec::new();
        let mut at = path.trim_end_matches('/');
        while !at.is_empty() && at != "." {
            if let Some(meta) = self.lstat(at).await? {
                if meta.kind == Kind::Dir || meta.kind == Kind::Link {
                    break;
                }
                return Err(Error::Remote {
                    host: self.host.clone(),
                    message: format!("cannot create the directory {at}: a file is in the way"),
                });
            }
            prefixes.push(at.to_owned());
            match at.rsplit_once('/') {
                Some((parent, _)) => at = parent,
                None => break,
            }
        }
        for dir in prefixes.iter().rev() {
            self.create_dir(dir, None).await?;
        }
        Ok(())
    }

    /// Create the directory `path` (fine if it is one already), with `stamp`.
    pub async fn create_dir(&self, path: &str, stamp: Option<Stamp>) -> Result<(), Error> {
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(0o755);
        if let Err(e) = self.raw.mkdir(path, attrs).await {
            match self.lstat(path).await? {
                Some(meta) if meta.kind == Kind::Dir => {}
                _ => return Err(self.error("create the directory", path, &e)),
            }
        }
        if let Some(stamp) = stamp {
            self.set_stamp(path, stamp).await?;
        }
        Ok(())
    }

    /// Give `path` a mode and modification time.
    pub async fn set_stamp(&self, path: &str, stamp: Stamp) -> Result<(), Error> {
        self.raw
            .setstat(path, stamp.attrs())
            .await
            .map(|_| ())
            .map_err(|e| self.error("set the mode of", path, &e))
    }

    /// Move `from` over `to`, replacing it in one step.
    async fn rename_over(&self, from: &str, to: &str) -> Result<(), Error> {
        let result = if self.posix_rename {
            let mut data = Vec::new();
            ssh_string(&mut data, from);
            ssh_string(&mut data, to);
            match self.raw.extended("posix-rename@openssh.com", data).await {
                Ok(Packet::Status(status)) if status.status_code == StatusCode::Ok => Ok(()),
                Ok(Packet::Status(status)) => Err(SftpError::Status(status)),
                Ok(_) => Err(SftpError::UnexpectedPacket),
                Err(e) => Err(e),
            }
        } else {
            // Plain SFTP cannot replace a file: the old one goes first.
            let _ = self.raw.remove(to).await;
            self.raw.rename(from, to).await.map(|_| ())
        };
        result.map_err(|e| self.error("rename into place", to, &e))
    }

    /// Room for one more request in flight on this channel.
    async fn permit(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.budget
            .clone()
            .acquire_owned()
            .await
            .expect("the budget is never closed")
    }

    fn track(&self, temporary: &str) {
        self.pending
            .lock()
            .expect("pending lock")
            .push(temporary.to_owned());
    }

    fn untrack(&self, temporary: &str) {
        self.pending
            .lock()
            .expect("pending lock")
            .retain(|t| t != temporary);
    }

    /// Remove the temporary files of writes that were abandoned (an
    /// interrupted transfer).
    pub async fn clean_up(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        for temporary in pending {
            let _ = self.raw.remove(temporary).await;
        }
    }

    /// Make `path` a symlink to `target`, replacing whatever is there.
    pub async fn symlink(&self, target: &str, path: &str) -> Result<(), Error> {
        let temporary = temporary_name(path);
        self.track(&temporary);
        // OpenSSH's server takes the target first (the reverse of the
        // draft's order, which it documents as a known deviation).
        if let Err(e) = self.raw.symlink(target, temporary.as_str()).await {
            self.untrack(&temporary);
            return Err(self.error("create the link", path, &e));
        }
        let renamed = self.rename_over(&temporary, path).await;
        if renamed.is_err() {
            let _ = self.raw.remove(temporary.as_str()).await;
        }
        self.untrack(&temporary);
        renamed
    }

    /// Write what `source` reads (a local file, a rendered template) to
    /// `path`: under a temporary name, with many writes in flight, then given
    /// `stamp` and renamed over `path`. `done` counts the bytes written.
    pub async fn write_file<R: AsyncRead + Unpin>(
        &self,
        source: &mut R,
        path: &str,
        stamp: Stamp,
        done: &AtomicU64,
    ) -> Result<u64, Error> {
        let temporary = temporary_name(path);
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(0o600);
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE | OpenFlags::EXCLUDE;
        // Tracked before it is asked for: were the transfer abandoned while
        // the server creates it, the removal would still come after.
        self.track(&temporary);
        let handle = match self.raw.open(temporary.as_str(), flags, attrs).await {
            Ok(handle) => handle.handle,
            Err(e) => {
                self.untrack(&temporary);
                return Err(self.error("create", path, &e));
            }
        };
        let written = self.write_all(&handle, source, path, done).await;
        // Sent together (and so answered in one round trip): the mode and
        // time are set after the last write, then the file is closed.
        let (stamped, closed) = tokio::join!(
            self.raw.fsetstat(handle.as_str(), stamp.attrs()),
            self.raw.close(handle.as_str())
        );
        let result = match (written, stamped, closed) {
            (Err(e), _, _) => Err(e),
            (Ok(_), Err(e), _) => Err(self.error("set the mode of", path, &e)),
            (Ok(_), _, Err(e)) => Err(self.error("write", path, &e)),
            (Ok(size), Ok(_), Ok(_)) => self.rename_over(&temporary, path).await.map(|()| size),
        };
        if result.is_err() {
            let _ = self.raw.remove(temporary.as_str()).await;
        }
        self.untrack(&temporary);
        result
    }

    async fn write_all<R: AsyncRead + Unpin>(
        &self,
        handle: &str,
        source: &mut R,
        path: &str,
        done: &AtomicU64,
    ) -> Result<u64, Error> {
        let window = usize::try_from((IN_FLIGHT / self.chunk).max(4)).unwrap_or(4);
        let chunk = usize::try_from(self.chunk).unwrap_or(32 * 1024);
        let mut in_flight: JoinSet<Result<u64, SftpError>> = JoinSet::new();
        let mut offset = 0u64;
        loop {
            while in_flight.len() >= window {
                self.written(in_flight.join_next().await, path, done)
                    .await?;
            }
            let mut data = vec![0; chunk];
            let mut filled = 0;
            while filled < chunk {
                let n = source
                    .read(&mut data[filled..])
                    .await
                    .map_err(|e| Error::io(format!("cannot read what goes to {path}"), e))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            data.truncate(filled);
            let permit = self.permit().await;
            let (raw, handle, at) = (self.raw.clone(), handle.to_owned(), offset);
            let len = filled as u64;
            in_flight.spawn(async move {
                let written = raw.write(handle, at, data).await.map(|_| len);
                drop(permit);
                written
            });
            offset += len;
        }
        while !in_flight.is_empty() {
            self.written(in_flight.join_next().await, path, done)
                .await?;
        }
        Ok(offset)
    }

    /// One write's answer: counted, or why the file could not be written
    /// (checking for a full disk, which servers report only as "failure").
    async fn written(
        &self,
        joined: Option<Result<Result<u64, SftpError>, tokio::task::JoinError>>,
        path: &str,
        done: &AtomicU64,
    ) -> Result<(), Error> {
        let error = match joined {
            Some(Ok(Ok(len))) => {
                done.fetch_add(len, Ordering::Relaxed);
                return Ok(());
            }
            Some(Ok(Err(e))) => e,
            Some(Err(e)) => SftpError::UnexpectedBehavior(e.to_string()),
            None => return Ok(()),
        };
        if status_code(&error) == Some(StatusCode::Failure)
            && self.statvfs
            && let Some(dir) = path.rsplit_once('/').map(|(d, _)| d).or(Some("."))
            && let Ok(fs) = self.raw.statvfs(dir).await
            && fs.blocks_avail.saturating_mul(fs.fragment_size) < self.chunk
        {
            return Err(Error::Remote {
                host: self.host.clone(),
                message: format!(
                    "cannot write {path}: no space left on the server's disk ({} bytes free there)",
                    fs.blocks_avail.saturating_mul(fs.fragment_size)
                ),
            });
        }
        Err(self.error("write", path, &error))
    }

    /// The target of the link `path`.
    pub async fn read_link(&self, path: &str) -> Result<String, Error> {
        let name = self.raw.readlink(path).await;
        self.one_name(name, "read the link", path)
    }

    /// `path` made absolute by the server (`.` is the login user's home).
    pub async fn real_path(&self, path: &str) -> Result<String, Error> {
        let name = self.raw.realpath(path).await;
        self.one_name(name, "resolve", path)
    }

    /// The one name the server answered `doing` with.
    fn one_name(
        &self,
        answer: Result<russh_sftp::protocol::Name, SftpError>,
        doing: &str,
        path: &str,
    ) -> Result<String, Error> {
        let name = answer.map_err(|e| self.error(doing, path, &e))?;
        name.files
            .into_iter()
            .next()
            .map(|f| f.filename)
            .ok_or_else(|| Error::Remote {
                host: self.host.clone(),
                message: format!("cannot {doing} {path}: the server sent no name"),
            })
    }

    /// Remove the file (or socket) `path`; fine if it is gone already.
    pub async fn remove(&self, path: &str) -> Result<(), Error> {
        match self.raw.remove(path).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(StatusCode::NoSuchFile) => Ok(()),
            Err(e) => Err(self.error("remove", path, &e)),
        }
    }

    /// The entries of the directory `path` (without `.` and `..`).
    pub async fn read_dir(&self, path: &str) -> Result<Vec<(String, Meta)>, Error> {
        let handle = self
            .raw
            .opendir(path)
            .await
            .map_err(|e| self.error("list", path, &e))?
            .handle;
        let mut entries = Vec::new();
        let listed = loop {
            match self.raw.readdir(handle.as_str()).await {
                Ok(name) => entries.extend(
                    name.files
                        .into_iter()
                        .filter(|f| f.filename != "." && f.filename != "..")
                        .map(|f| {
                            let meta = Meta::from(&f.attrs);
                            (f.filename, meta)
                        }),
                ),
                Err(e) if status_code(&e) == Some(StatusCode::Eof) => break Ok(()),
                Err(e) => break Err(self.error("list", path, &e)),
            }
        };
        let _ = self.raw.close(handle).await;
        listed.map(|()| entries)
    }

    /// Read the remote file `path` (of `size` bytes, as listed) into the
    /// local `file`, with many reads in flight. `done` counts the bytes.
    pub async fn read_file(
        &self,
        path: &str,
        size: u64,
        file: &std::fs::File,
        done: &AtomicU64,
    ) -> Result<u64, Error> {
        use std::os::unix::fs::FileExt;
        let handle = self
            .raw
            .open(path, OpenFlags::READ, FileAttributes::empty())
            .await
            .map_err(|e| self.error("open", path, &e))?
            .handle;
        let window = usize::try_from((IN_FLIGHT / self.chunk).max(4)).unwrap_or(4);
        let chunk = u32::try_from(self.chunk).unwrap_or(32 * 1024);
        let mut in_flight: JoinSet<(u64, u32, Result<Vec<u8>, SftpError>)> = JoinSet::new();
        // Ranges still to ask for: (offset, length). A short answer puts
        // the rest back; the end of the file ends its range.
        let mut wanted: Vec<(u64, u32)> = Vec::new();
        let mut next = 0u64;
        let mut total = 0u64;
        let result = loop {
            while in_flight.len() < window {
                let range = wanted.pop().or_else(|| {
                    (next < size).then(|| {
                        let len =
                            u32::try_from((size - next).min(u64::from(chunk))).unwrap_or(chunk);
                        let range = (next, len);
                        next += u64::from(len);
                        range
                    })
                });
                let Some((at, len)) = range else { break };
                let permit = self.permit().await;
                let (raw, handle) = (self.raw.clone(), handle.clone());
                in_flight.spawn(async move {
                    let data = raw.read(handle, at, len).await.map(|d| d.data);
                    drop(permit);
                    (at, len, data)
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                break Ok(total);
            };
            let (at, len, data) = match joined {
                Ok(answer) => answer,
                Err(e) => break Err(self.error("read", path, &SftpError::IO(e.to_string()))),
            };
            match data {
                Ok(data) => {
                    if let Err(e) = file.write_at(&data, at) {
                        break Err(Error::io(
                            format!("cannot write the local copy of {path}"),
                            e,
                        ));
                    }
                    let got = data.len() as u64;
                    total += got;
                    done.fetch_add(got, Ordering::Relaxed);
                    let got = u32::try_from(got).unwrap_or(len);
                    if got > 0 && got < len {
                        wanted.push((at + u64::from(got), len - got));
                    }
                }
                // The file shrank while it was read: what there was is copied.
                Err(e) if status_code(&e) == Some(StatusCode::Eof) => {}
                Err(e) => break Err(self.error("read", path, &e)),
            }
        };
        in_flight.abort_all();
        let _ = self.raw.close(handle).await;
        result
    }
}
