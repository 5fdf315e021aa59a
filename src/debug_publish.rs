//! Publishing the debugger sessions that wait on a host nobody can reach (a
//! CI runner) to a rendezvous host it can reach: for each session, the
//! rendezvous host's sshd listens on a Unix socket in the login user's
//! `~/.roadie/debug/` (`streamlocal-forward@openssh.com`) whose connections
//! come back over the runner's own SSH connection to the session's local
//! port, and a record beside the socket says what waits there. Nothing is
//! installed on the rendezvous host and nothing listens on the runner.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde::Deserialize;

use crate::error::Error;
pub(crate) use crate::event::Record;
use crate::host::Host;
use crate::safety::Intent;
use crate::ssh::sftp::{Sftp, Stamp};
use crate::ssh::{Forwarded, Session};

/// Where published sessions are, under the login user's home.
pub(crate) const PUBLISHED_DIR: &str = ".roadie/debug";

impl Record {
    /// Seconds left of its wait at `now` (seconds since the epoch); `None`
    /// when it waits forever.
    pub(crate) fn left(&self, now: u64) -> Option<u64> {
        (self.timeout > 0).then(|| (self.started + self.timeout).saturating_sub(now))
    }

    /// `run 123 job test` or `job 77`, from what the CI said.
    pub(crate) fn job(&self) -> Option<String> {
        match (&self.ci_run, &self.ci_job) {
            (Some(run), Some(job)) => Some(format!("run {run} job {job}")),
            (Some(run), None) => Some(format!("run {run}")),
            (None, Some(job)) => Some(format!("job {job}")),
            (None, None) => None,
        }
    }
}

/// Seconds since the Unix epoch now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The CI run and job this process belongs to, from the variables GitHub
/// Actions (`GITHUB_RUN_ID`, `GITHUB_JOB`) and GitLab CI (`CI_PIPELINE_ID`,
/// `CI_JOB_ID`) set; `lookup` reads a variable.
pub(crate) fn ci_ids(lookup: impl Fn(&str) -> Option<String>) -> (Option<String>, Option<String>) {
    let first = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|name| lookup(name).filter(|v| !v.is_empty()))
    };
    (
        first(["GITHUB_RUN_ID", "CI_PIPELINE_ID"]),
        first(["GITHUB_JOB", "CI_JOB_ID"]),
    )
}

/// A note the pytest shim leaves while its session lives
/// (`roadie-pdb-PID-PORT.json`, see `python/roadie/remote_pdb.py`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Note {
    pub pid: u32,
    #[serde(default = "loopback")]
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub test: String,
    #[serde(default)]
    pub worker: String,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub timeout: u64,
    /// `waiting`, `attached` or `ended`.
    pub state: String,
    /// How it ended (`continue`, `quit`, `timeout`).
    #[serde(default)]
    pub ended: Option<String>,
}

fn loopback() -> String {
    "127.0.0.1".to_owned()
}

impl Note {
    /// The session it is about: its process and port.
    pub(crate) fn key(&self) -> (u32, u16) {
        (self.pid, self.port)
    }

    /// Its session is over: it says so, or its process is gone.
    pub(crate) fn over(&self) -> bool {
        self.state == "ended" || !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// The notes the shim left in `dir` (those being written are skipped).
pub(crate) fn read_notes(dir: &Path) -> Vec<Note> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut notes: Vec<Note> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("roadie-pdb-") && name.ends_with(".json")
        })
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    notes.sort_by_key(Note::key);
    notes
}

/// One session published on the rendezvous host.
struct Published {
    record: Record,
    /// The record's path there.
    path: String,
    /// Carries the socket's connections to the session.
    task: tokio::task::JoinHandle<()>,
}

/// The connection to the rendezvous host (made when the first session
/// waits) and the sessions published there.
pub(crate) struct Publisher {
    host: Host,
    intent: Intent,
    runner: String,
    ci: (Option<String>, Option<String>),
    connection: Option<(Arc<Session>, Sftp, String)>,
    published: HashMap<(u32, u16), Published>,
}

impl Publisher {
    /// A publisher to `host`, for `intent`; nothing is connected yet.
    pub(crate) fn new(mut host: Host, intent: Intent) -> Publisher {
        // The remote forwards are this connection's own: never one kept
        // for others (--persist).
        host.persist = None;
        let runner = nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "runner".to_owned());
        Publisher {
            host,
            intent,
            runner,
            ci: ci_ids(|name| std::env::var(name).ok()),
            connection: None,
            published: HashMap::new(),
        }
    }

    /// The rendezvous host's label.
    pub(crate) fn label(&self) -> &str {
        &self.host.label
    }

    /// Whether the session `key` (pid, port) is published.
    pub(crate) fn has(&self, key: (u32, u16)) -> bool {
        self.published.contains_key(&key)
    }

    /// The sessions published, by their key.
    pub(crate) fn keys(&self) -> Vec<(u32, u16)> {
        self.published.keys().copied().collect()
    }

    /// Whether the connection was lost (the network, the server): then
    /// what was published through it is gone with it (its listeners were
    /// its own), and the next [`Publisher::publish`] connects again.
    pub(crate) fn lost(&mut self) -> bool {
        let lost = self
            .connection
            .as_ref()
            .is_some_and(|(session, ..)| session.is_closed());
        if lost {
            self.connection = None;
            for (_, published) in self.published.drain() {
                published.task.abort();
            }
        }
        lost
    }

    /// The connection, its SFTP channel and the published sessions'
    /// directory (absolute), connecting the first time.
    async fn connection(&mut self) -> Result<&(Arc<Session>, Sftp, String), Error> {
        if self.connection.is_none() {
            let session = Session::connect_for(&self.host, &self.intent).await?;
            let sftp = session.sftp().await?;
            let home = sftp.real_path(".").await?;
            let dir = crate::ssh::sftp::join(&home, PUBLISHED_DIR);
            sftp.create_dir_all(&dir).await?;
            // Only the login user reaches the sessions (sshd makes the
            // sockets 0600 with its default StreamLocalBindMask).
            sftp.set_stamp(
                &dir,
                Stamp {
                    mode: 0o700,
                    mtime: None,
                },
            )
            .await?;
            self.connection = Some((Arc::new(session), sftp, dir));
        }
        Ok(self.connection.as_ref().expect("connected above"))
    }

    /// Publish the session `note` tells of; its record.
    pub(crate) async fn publish(&mut self, note: &Note) -> Result<Record, Error> {
        let (runner, ci) = (self.runner.clone(), self.ci.clone());
        let (session, sftp, dir) = self.connection().await?;
        let name = format!("{}-{}-{}", file_safe(&runner), note.pid, note.port);
        let socket = crate::ssh::sftp::join(dir, &format!("{name}.sock"));
        let path = crate::ssh::sftp::join(dir, &format!("{name}.json"));
        // A socket left by an earlier run of the same name is in the way.
        sftp.remove(&socket).await?;
        let forwarded = session.listen_unix(&socket).await?;
        let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        let record = Record {
            socket: socket.clone(),
            runner,
            pid: note.pid,
            test: given(&note.test),
            worker: given(&note.worker),
            ci_run: ci.0,
            ci_job: ci.1,
            started: if note.started > 0 {
                note.started
            } else {
                now()
            },
            timeout: note.timeout,
            attached: note.state == "attached",
        };
        if let Err(e) = write_record(sftp, &path, &record).await {
            session.stop_listening(&socket).await;
            return Err(e);
        }
        let target = format!("{}:{}", note.host, note.port);
        let task = tokio::spawn(carry(forwarded, target));
        self.published.insert(
            note.key(),
            Published {
                record: record.clone(),
                path,
                task,
            },
        );
        Ok(record)
    }

    /// Say in its record that the session `key` has a client (or not).
    pub(crate) async fn set_attached(&mut self, key: (u32, u16), attached: bool) {
        let Some((_, sftp, _)) = &self.connection else {
            return;
        };
        if let Some(published) = self.published.get_mut(&key)
            && published.record.attached != attached
        {
            published.record.attached = attached;
            let _ = write_record(sftp, &published.path, &published.record).await;
        }
    }

    /// Take the session `key` off the rendezvous host: its socket and its
    /// record; what it was.
    pub(crate) async fn unpublish(&mut self, key: (u32, u16)) -> Option<Record> {
        let published = self.published.remove(&key)?;
        if let Some((session, sftp, _)) = &self.connection {
            session.stop_listening(&published.record.socket).await;
            let _ = sftp.remove(&published.path).await;
            let _ = sftp.remove(&published.record.socket).await;
        }
        published.task.abort();
        Some(published.record)
    }

    /// Take every session off, and close the connection.
    pub(crate) async fn close(mut self) {
        for key in self.keys() {
            self.unpublish(key).await;
        }
        if let Some((session, sftp, _)) = self.connection.take() {
            drop(sftp);
            if let Ok(session) = Arc::try_unwrap(session) {
                session.close().await;
            }
        }
    }
}

/// `name` with only letters, digits, `.`, `_` and `-` (a hostname as part
/// of a file name).
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write `record` to `path` (replacing it in one step, readable by the
/// login user only).
async fn write_record(sftp: &Sftp, path: &str, record: &Record) -> Result<(), Error> {
    let text = serde_json::to_vec(record).expect("a record always serialises");
    let stamp = Stamp {
        mode: 0o600,
        mtime: None,
    };
    sftp.write_file(&mut text.as_slice(), path, stamp, &AtomicU64::new(0))
        .await
        .map(|_| ())
}

/// Each connection the rendezvous host forwards, joined to the session's
/// local port `target`.
async fn carry(mut forwarded: tokio::sync::mpsc::UnboundedReceiver<Forwarded>, target: String) {
    while let Some(channel) = forwarded.recv().await {
        let target = target.clone();
        tokio::spawn(async move {
            // A session gone already: the channel closes, the client sees EOF.
            if let Ok(mut local) = tokio::net::TcpStream::connect(&target).await {
                let mut stream = channel.into_stream();
                let _ = tokio::io::copy_bidirectional(&mut stream, &mut local).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_ids_from_github_and_gitlab() {
        let github = |name: &str| match name {
            "GITHUB_RUN_ID" => Some("9001".to_owned()),
            "GITHUB_JOB" => Some("test".to_owned()),
            _ => None,
        };
        assert_eq!(
            ci_ids(github),
            (Some("9001".to_owned()), Some("test".to_owned()))
        );
        let gitlab = |name: &str| match name {
            "CI_PIPELINE_ID" => Some("77".to_owned()),
            "CI_JOB_ID" => Some("1234".to_owned()),
            "GITHUB_RUN_ID" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            ci_ids(gitlab),
            (Some("77".to_owned()), Some("1234".to_owned()))
        );
        assert_eq!(ci_ids(|_| None), (None, None));
    }

    #[test]
    fn time_left_and_job() {
        let record = Record {
            socket: "/home/ci/.roadie/debug/r-1-2.sock".into(),
            runner: "r".into(),
            pid: 1,
            test: None,
            worker: None,
            ci_run: Some("9001".into()),
            ci_job: None,
            started: 1000,
            timeout: 600,
            attached: false,
        };
        assert_eq!(record.left(1100), Some(500));
        assert_eq!(record.left(2000), Some(0));
        assert_eq!(record.job().as_deref(), Some("run 9001"));
        let forever = Record {
            timeout: 0,
            ci_run: None,
            ..record
        };
        assert_eq!(forever.left(5000), None);
        assert_eq!(forever.job(), None);
    }

    #[test]
    fn shim_notes_are_read() {
        let dir = std::env::temp_dir().join(format!("roadie-notes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id();
        std::fs::write(
            dir.join(format!("roadie-pdb-{me}-7200.json")),
            format!(
                r#"{{"pid": {me}, "host": "127.0.0.1", "port": 7200, "started": 5, "timeout": 60, "test": "t.py::test_a (call)", "worker": "gw1", "state": "waiting"}}"#
            ),
        )
        .unwrap();
        std::fs::write(dir.join("roadie-pdb-1-2.json.part"), "{").unwrap();
        std::fs::write(dir.join("other.json"), "{}").unwrap();
        let notes = read_notes(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].key(), (me, 7200));
        assert_eq!(notes[0].worker, "gw1");
        assert!(!notes[0].over());
        let ended = Note {
            state: "ended".into(),
            ..notes[0].clone()
        };
        assert!(ended.over());
        assert_eq!(file_safe("ci runner/1"), "ci_runner_1");
    }
}
