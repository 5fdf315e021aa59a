//! Reading and writing files on the server through commands: a file roadie
//! writes lands atomically (a temporary file in the same directory, then a
//! rename), keeps the mode and owner of the file it replaces (or is not
//! written at all), writes through a symlink to its target, can keep a
//! backup, and is only replaced if it still is what roadie read.
//! (These use POSIX sh with GNU coreutils, as Debian and Ubuntu servers have.)

use sha2::{Digest, Sha256};

use super::Session;
use crate::command::{RemoteCommand, quote, quote_path};
use crate::error::Error;
use crate::stage::Stage;

/// Exit status of the write script when the file changed under us.
const CONFLICT: u32 = 75;

/// Exit status of the write script when the lock could not be taken.
const UNLOCKED: u32 = 76;
/// How long a writer waits for another one to finish, in seconds.
const LOCK_WAIT_SECS: u32 = 30;

/// Takes the lock on the target's directory on descriptor 9 (held until the
/// script exits), or exits with [`UNLOCKED`] saying why.
fn lock_script() -> String {
    format!(
        "command -v flock >/dev/null 2>&1 || {{ echo \"flock (util-linux) is needed on the server \
         to edit files safely\" >&2; exit {UNLOCKED}; }}\n\
         exec 9< \"$(dirname -- \"$f\")\"\n\
         flock -w {LOCK_WAIT_SECS} 9 || {{ echo \"another writer held $f for {LOCK_WAIT_SECS}s\" >&2; \
         exit {UNLOCKED}; }}\n"
    )
}

/// What the file must be before it is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Replace whatever is there.
    Anything,
    /// The file must not exist yet.
    Absent,
    /// The file must still have these contents (as read before).
    Contents(Vec<u8>),
}

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file was written.
    Done,
    /// The file changed since it was read; nothing was written.
    Conflict,
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

impl Session {
    /// The contents of `path` (a leading `~/` is the remote home), or
    /// `None` when there is no such file.
    pub async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut read = self.read_files(&[path.to_owned()]).await?;
        Ok(read.remove(path).flatten())
    }

    /// The contents of each of `paths` (`None` for a missing file), read
    /// by one command.
    pub(crate) async fn read_files(
        &self,
        paths: &[String],
    ) -> Result<std::collections::BTreeMap<String, Option<Vec<u8>>>, Error> {
        let staged = self.stage(&Stage::new(paths.to_vec())).await?;
        let files = staged.facts.files.clone();
        staged.abandon().await;
        Ok(files)
    }

    /// The login user's home directory on the server (asked once, unless
    /// a stage has said it already).
    pub async fn home(&self) -> Result<String, Error> {
        if self.home.get().is_none() {
            self.read_files(&[]).await?;
        }
        self.home.get().cloned().ok_or_else(|| Error::Remote {
            host: self.host.label.clone(),
            message: "cannot tell the login user's home directory ($HOME is not an absolute path)"
                .into(),
        })
    }

    /// Write `contents` to `path` atomically. A new file gets `mode`; a
    /// replaced one keeps its mode and owner, and with `backup` its previous
    /// version is kept as `PATH.bak` (same mode).
    pub async fn write_file(
        &self,
        path: &str,
        contents: &[u8],
        expect: &Expect,
        mode: u32,
        backup: bool,
    ) -> Result<Written, Error> {
        let check = match expect {
            Expect::Anything => String::new(),
            Expect::Absent => format!("[ ! -e \"$f\" ] || exit {CONFLICT}\n"),
            Expect::Contents(before) => format!(
                "[ -e \"$f\" ] && [ \"$(sha256sum < \"$f\" | cut -d' ' -f1)\" = {} ] || exit {CONFLICT}\n",
                sha256_hex(before)
            ),
        };
        let backup = if backup {
            "cp -p -- \"$f\" \"$f.bak\"\n"
        } else {
            ""
        };
        // A symlink (`current/.env -> ../shared/.env`) stays one: its target
        // is what gets replaced. An owner the new file cannot be given stops
        // the write, leaving the file as it was. The check, the backup and
        // the rename happen under a lock on the file's directory (flock(2),
        // which every roadie writer takes), so two writers that read the
        // same version cannot both pass the check: the second one sees the
        // first one's file and reports a conflict.
        let script = format!(
            "set -e\nf={}\n[ ! -L \"$f\" ] || f=$(readlink -f -- \"$f\")\n\
             {lock}{check}tmp=$(mktemp \"$(dirname -- \"$f\")/.roadie.XXXXXX\")\n\
             trap 'rm -f -- \"$tmp\"' EXIT\ncat > \"$tmp\"\nsync -- \"$tmp\" 2>/dev/null || true\n\
             if [ -e \"$f\" ]; then\nchmod --reference=\"$f\" -- \"$tmp\"\n\
             if [ \"$(stat -c %u:%g -- \"$f\")\" != \"$(stat -c %u:%g -- \"$tmp\")\" ]; then\n\
             chown --reference=\"$f\" -- \"$tmp\" || {{ echo \"cannot keep the owner of $f \
             ($(stat -c %U:%G -- \"$f\")); it is unchanged\" >&2; exit 1; }}\nfi\n{backup}\
             else\nchmod {} -- \"$tmp\"\nfi\nmv -f -- \"$tmp\" \"$f\"\ntrap - EXIT\n",
            quote_path(path),
            quote(&format!("{mode:o}")),
            lock = lock_script(),
        );
        let mut execution = self
            .start_with_input(&RemoteCommand::shell(script), contents)
            .await?;
        let mut stderr = Vec::new();
        let mut status = None;
        while let Some(chunk) = execution.next().await? {
            match chunk {
                super::Chunk::Stderr(data) => stderr.extend_from_slice(&data),
                super::Chunk::Exit(exit) => status = Some(exit),
                super::Chunk::Stdout(_) => {}
            }
        }
        match status.and_then(|s| s.code) {
            Some(0) => Ok(Written::Done),
            Some(CONFLICT) => Ok(Written::Conflict),
            _ => Err(Error::Remote {
                host: self.host.label.clone(),
                message: format!(
                    "cannot write {path}: {}",
                    String::from_utf8_lossy(&stderr).trim()
                ),
            }),
        }
    }
}
