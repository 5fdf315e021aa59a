//! Copying files and directories to and from a host over SFTP (`roadie
//! put`, `roadie get`, playbook `put:`/`get:` steps): whole trees, modes and
//! modification times kept, symlinks kept as links, many files in flight at
//! once, each landing under a temporary name and renamed into place.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::ssh::sftp::{Kind, Sftp, Stamp, join, sftp_path};

/// Files transferred at once (each with its own writes in flight).
const FILES_AT_ONCE: usize = 32;

/// One thing to create at the destination.
#[derive(Debug, Clone)]
enum Item {
    Dir {
        to: String,
        stamp: Stamp,
    },
    File {
        from: String,
        to: String,
        stamp: Stamp,
        size: u64,
    },
    Link {
        to: String,
        target: String,
    },
}

/// What a transfer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Totals {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
}

impl Totals {
    fn of(items: &[Item]) -> Totals {
        let mut totals = Totals::default();
        for item in items {
            match item {
                Item::Dir { .. } => totals.dirs += 1,
                Item::File { size, .. } => {
                    totals.files += 1;
                    totals.bytes += size;
                }
                Item::Link { .. } => totals.links += 1,
            }
        }
        totals
    }

    /// `3 files, 1 link, 2 directories, 12.0 KiB`.
    pub(crate) fn describe(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![plural(self.files, "file", "files")];
        if self.links > 0 {
            parts.push(plural(self.links, "link", "links"));
        }
        if self.dirs > 0 {
            parts.push(plural(self.dirs, "directory", "directories"));
        }
        parts.push(indicatif::HumanBytes(self.bytes).to_string());
        parts.join(", ")
    }
}

/// Bytes done so far and in all, for a progress bar.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    pub done: Arc<AtomicU64>,
    pub total: Arc<AtomicU64>,
}

/// What `roadie put` will copy: local files, directories and links, checked
/// before any host is contacted.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    items: Vec<Item>,
    remote_dir: String,
}

fn mtime_of(meta: &std::fs::Metadata) -> Option<u32> {
    u32::try_from(meta.mtime()).ok()
}

fn utf8(path: &Path) -> Result<&str, Error> {
    path.to_str().ok_or_else(|| {
        Error::Usage(format!(
            "{}: only UTF-8 file names can be transferred (SFTP paths are text)",
            path.display()
        ))
    })
}

impl Upload {
    /// `sources` into `remote_dir`, each under its own name (as `scp -r`
    /// does): a missing or unreadable source is an error here.
    pub(crate) fn plan(sources: &[PathBuf], remote_dir: &str) -> Result<Upload, Error> {
        let remote_dir = sftp_path(remote_dir);
        let mut items = Vec::new();
        for source in sources {
            // `.` or `dir/..` are named by what they are.
            let name = source
                .file_name()
                .map(ToOwned::to_owned)
                .or_else(|| {
                    source
                        .canonicalize()
                        .ok()?
                        .file_name()
                        .map(ToOwned::to_owned)
                })
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "{}: has no name to copy it under",
                        source.display()
                    ))
                })?;
            let to = join(&remote_dir, utf8(Path::new(&name))?);
            walk_local(source, to, &mut items)?;
        }
        Ok(Upload { items, remote_dir })
    }

    /// One local file to exactly `remote` (a playbook step's `to:`).
    pub(crate) fn file_to(local: &Path, remote: &str) -> Result<Upload, Error> {
        let remote = sftp_path(remote);
        let remote_dir = remote
            .rsplit_once('/')
            .map_or(".", |(dir, _)| dir)
            .to_owned();
        let mut items = Vec::new();
        walk_local(local, remote, &mut items)?;
        Ok(Upload { items, remote_dir })
    }

    pub(crate) fn totals(&self) -> Totals {
        Totals::of(&self.items)
    }

    /// Copy everything: the destination directory is created if missing.
    pub(crate) async fn run(&self, sftp: &Arc<Sftp>, progress: &Progress) -> Result<Totals, Error> {
        progress.total.store(self.totals().bytes, Ordering::Relaxed);
        sftp.create_dir_all(&self.remote_dir).await?;
        for item in &self.items {
            if let Item::Dir { to, .. } = item {
                sftp.create_dir(to, None).await?;
            }
        }
        let sftp_for_items = sftp.clone();
        let done = progress.done.clone();
        in_parallel(&self.items, move |item| {
            let (sftp, done) = (sftp_for_items.clone(), done.clone());
            async move { put_item(&sftp, &item, &done).await }
        })
        .await?;
        // Directories last, deepest first: writing into one changes its time.
        for item in self.items.iter().rev() {
            if let Item::Dir { to, stamp, .. } = item {
                sftp.set_stamp(to, *stamp).await?;
            }
        }
        Ok(self.totals())
    }
}

fn walk_local(source: &Path, to: String, items: &mut Vec<Item>) -> Result<(), Error> {
    let unreadable = |e| Error::io(format!("cannot read {}", source.display()), e);
    let meta = std::fs::symlink_metadata(source).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Usage(format!("{}: no such file or directory", source.display()))
        } else {
            unreadable(e)
        }
    })?;
    let from = utf8(source)?.to_owned();
    let stamp = Stamp {
        mode: meta.permissions().mode() & 0o7777,
        mtime: mtime_of(&meta),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = std::fs::read_link(source).map_err(unreadable)?;
        let target = utf8(&target)?.to_owned();
        items.push(Item::Link { to, target });
    } else if kind.is_dir() {
        items.push(Item::Dir {
            to: to.clone(),
            stamp,
        });
        let mut children: Vec<PathBuf> = std::fs::read_dir(source)
            .map_err(unreadable)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(unreadable)?;
        children.sort();
        for child in children {
            let name = child.file_name().unwrap_or_default();
            let child_to = join(&to, utf8(Path::new(name))?);
            walk_local(&child, child_to, items)?;
        }
    } else if kind.is_file() {
        items.push(Item::File {
            from,
            to,
            stamp,
            size: meta.len(),
        });
    } else {
        return Err(Error::Usage(format!(
            "{}: not a file, directory or link (a socket, fifo or device cannot be copied)",
            source.display()
        )));
    }
    Ok(())
}

/// Do `work` for every file and link of `items`, [`FILES_AT_ONCE`] at a
/// time; the first error stops the rest.
async fn in_parallel<F, Fut>(items: &[Item], work: F) -> Result<(), Error>
where
    F: Fn(Item) -> Fut,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let mut running = JoinSet::new();
    let mut first_error = None;
    for item in items.iter().filter(|i| !matches!(i, Item::Dir { .. })) {
        while running.len() >= FILES_AT_ONCE {
            if let Some(Err(e)) = joined(running.join_next().await) {
                first_error = Some(e);
                break;
            }
        }
        if first_error.is_some() {
            break;
        }
        running.spawn(work(item.clone()));
    }
    while let Some(result) = running.join_next().await {
        if let Some(Err(e)) = joined(Some(result)) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn joined(
    result: Option<Result<Result<(), Error>, tokio::task::JoinError>>,
) -> Option<Result<(), Error>> {
    match result? {
        Ok(done) => Some(done),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}

async fn put_item(sftp: &Sftp, item: &Item, done: &AtomicU64) -> Result<(), Error> {
    match item {
        Item::File {
            from, to, stamp, ..
        } => {
            let mut file = tokio::fs::File::open(from)
                .await
                .map_err(|e| Error::io(format!("cannot read {from}"), e))?;
            sftp.write_file(&mut file, to, *stamp, done).await?;
            Ok(())
        }
        Item::Link { to, target } => sftp.symlink(target, to).await,
        Item::Dir { .. } => Ok(()),
    }
}

/// What `roadie get` copies from one host: found by listing the host.
pub(crate) struct Download {
    items: Vec<Item>,
}

impl Download {
    /// `remote` (a file, directory or link) into `local_dir`, under its own
    /// name.
    pub(crate) async fn plan(
        sftp: &Sftp,
        remote: &str,
        local_dir: &Path,
    ) -> Result<Download, Error> {
        let name = sftp_path(remote)
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .map(str::to_owned)
            .ok_or_else(|| Error::Usage(format!("{remote}: name a file or directory to get")))?;
        Download::plan_to(sftp, remote, &local_dir.join(name)).await
    }

    /// `remote` to exactly `local` (a playbook step's `to:`).
    pub(crate) async fn plan_to(
        sftp: &Sftp,
        remote: &str,
        local: &Path,
    ) -> Result<Download, Error> {
        let given = remote;
        let remote = sftp_path(given);
        let Some(meta) = sftp.lstat(&remote).await? else {
            // Named as the user gave it (`~/x`, not the SFTP path `x`).
            return Err(Error::Remote {
                host: sftp.host().to_owned(),
                message: format!("cannot get {given}: no such file or directory"),
            });
        };
        let mut items = Vec::new();
        let mut stack = vec![(remote, utf8(local)?.to_owned(), meta)];
        while let Some((from, to, meta)) = stack.pop() {
            let stamp = Stamp {
                mode: meta.mode,
                mtime: meta.mtime,
            };
            match meta.kind {
                Kind::File => items.push(Item::File {
                    from,
                    to,
                    stamp,
                    size: meta.size,
                }),
                Kind::Link => {
                    let target = sftp.read_link(&from).await?;
                    items.push(Item::Link { to, target });
                }
                Kind::Dir => {
                    let mut entries = sftp.read_dir(&from).await?;
                    entries.sort_by(|a, b| b.0.cmp(&a.0));
                    if let Some((bad, _)) = entries.iter().find(|(name, _)| !plain_name(name)) {
                        return Err(Error::Remote {
                            host: sftp.host().to_owned(),
                            message: format!(
                                "the server listed {bad:?} in {from}, which is not a file name: refusing to copy it"
                            ),
                        });
                    }
                    for (name, child) in entries {
                        stack.push((join(&from, &name), join(&to, &name), child));
                    }
                    items.push(Item::Dir { to, stamp });
                }
                Kind::Other => {
                    return Err(Error::Remote {
                        host: sftp.host().to_owned(),
                        message: format!(
                            "cannot get {from}: not a file, directory or link (a socket, fifo or device)"
                        ),
                    });
                }
            }
        }
        Ok(Download { items })
    }

    pub(crate) fn totals(&self) -> Totals {
        Totals::of(&self.items)
    }

    /// Copy everything: local directories are created as needed.
    pub(crate) async fn run(&self, sftp: &Arc<Sftp>, progress: &Progress) -> Result<Totals, Error> {
        progress.total.store(self.totals().bytes, Ordering::Relaxed);
        for item in &self.items {
            let (Item::Dir { to, .. } | Item::File { to, .. } | Item::Link { to, .. }) = item;
            let dir = match item {
                Item::Dir { .. } => Path::new(to),
                _ => Path::new(to).parent().unwrap_or(Path::new(".")),
            };
            // A link where the copy's directories go (left by an earlier
            // copy, say) would take the files somewhere else.
            if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink())
                && matches!(item, Item::Dir { .. })
            {
                return Err(Error::Usage(format!(
                    "{} is a symlink here: roadie does not copy a directory through it",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let sftp_for_items = sftp.clone();
        let done = progress.done.clone();
        in_parallel(&self.items, move |item| {
            let (sftp, done) = (sftp_for_items.clone(), done.clone());
            async move { get_item(&sftp, &item, &done).await }
        })
        .await?;
        for item in self.items.iter().rev() {
            if let Item::Dir { to, stamp, .. } = item {
                stamp_local(Path::new(to), *stamp)?;
            }
        }
        Ok(self.totals())
    }
}

/// Whether a name the server listed is a plain file name (no path in it).
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// A sibling of `path` to write before renaming over it.
fn local_temporary(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tag: u32 = rand::random();
    path.with_file_name(format!(".{name}.roadie-{tag:08x}"))
}

fn stamp_local(path: &Path, stamp: Stamp) -> Result<(), Error> {
    let failed = |e| Error::io(format!("cannot set the mode of {}", path.display()), e);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(stamp.mode)).map_err(failed)?;
    if let Some(mtime) = stamp.mtime {
        let time = UNIX_EPOCH + Duration::from_secs(u64::from(mtime));
        let file = std::fs::File::open(path).map_err(failed)?;
        file.set_times(
            std::fs::FileTimes::new()
                .set_modified(time)
                .set_accessed(SystemTime::now()),
        )
        .map_err(failed)?;
    }
    Ok(())
}

/// A local file being written under a temporary name: removed unless it
/// was moved into place (also when the copy is abandoned midway).
struct Temporary(Option<PathBuf>);

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn get_item(sftp: &Sftp, item: &Item, done: &AtomicU64) -> Result<(), Error> {
    let (to, temporary) = match item {
        Item::Dir { .. } => return Ok(()),
        Item::File { to, .. } | Item::Link { to, .. } => {
            (Path::new(to), local_temporary(Path::new(to)))
        }
    };
    let mut guard = Temporary(Some(temporary.clone()));
    match item {
        Item::File {
            from, stamp, size, ..
        } => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)
                .map_err(|e| Error::io(format!("cannot create {}", temporary.display()), e))?;
            sftp.read_file(from, *size, &file, done).await?;
            drop(file);
            stamp_local(&temporary, *stamp)?;
        }
        Item::Link { target, .. } => std::os::unix::fs::symlink(target, &temporary)
            .map_err(|e| Error::io(format!("cannot create the link {}", to.display()), e))?,
        Item::Dir { .. } => {}
    }
    std::fs::rename(&temporary, to)
        .map_err(|e| Error::io(format!("cannot move {} into place", to.display()), e))?;
    guard.0 = None;
    Ok(())
}

/// `git archive REF` of the local repository `repo`, unpacked into the
/// server directory `remote` (created if missing): the archive streams over
/// SFTP into a temporary file beside it, which `tar` unpacks, then removes.
pub(crate) async fn archive(
    session: &crate::ssh::Session,
    sftp: &Sftp,
    repo: &Path,
    git_ref: &str,
    remote: &str,
) -> Result<(), Error> {
    let mut git = tokio::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["archive", "--format=tar", git_ref])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io("cannot run git (is it installed?)", e))?;
    let dir = sftp_path(remote).trim_end_matches('/').to_owned();
    let parent = dir.rsplit_once('/').map_or(".", |(parent, _)| parent);
    sftp.create_dir_all(parent).await?;
    let tar = format!("{dir}.roadie-archive.tar");
    let mut stdout = git.stdout.take().expect("stdout is piped");
    let mut stderr = git.stderr.take().expect("stderr is piped");
    // Read as it comes, so that a chatty git never stalls on a full pipe.
    let complaints = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut text).await;
        text
    });
    let stamp = Stamp {
        mode: 0o600,
        mtime: None,
    };
    let written = sftp
        .write_file(&mut stdout, &tar, stamp, &AtomicU64::new(0))
        .await;
    drop(stdout);
    // A write that failed (a full disk, say) is the news: git then only
    // died of the closed pipe.
    written?;
    let status = git
        .wait()
        .await
        .map_err(|e| Error::io("cannot run git", e))?;
    if !status.success() {
        let complaint = complaints.await.unwrap_or_default();
        let cleanup = crate::command::RemoteCommand::argv(&["rm", "-f", "--", &tar]);
        let _ = session.run(&cleanup).await;
        return Err(Error::Usage(format!(
            "git archive {git_ref} of {} failed: {}",
            repo.display(),
            String::from_utf8_lossy(&complaint).trim()
        )));
    }
    let (dir, tar) = (crate::command::quote(&dir), crate::command::quote(&tar));
    let unpack = crate::command::RemoteCommand::shell(format!(
        "mkdir -p -- {dir} && tar -xf {tar} -C {dir}; status=$?; rm -f -- {tar}; exit $status"
    ));
    let output = session.run(&unpack).await?;
    if !output.status.success() {
        return Err(Error::Remote {
            host: sftp.host().to_owned(),
            message: format!(
                "cannot unpack the archive into {remote}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_read_well() {
        let totals = Totals {
            files: 3,
            dirs: 2,
            links: 1,
            bytes: 12 * 1024,
        };
        assert_eq!(
            totals.describe(),
            "3 files, 1 link, 2 directories, 12.00 KiB"
        );
        assert_eq!(
            Totals {
                files: 1,
                ..Totals::default()
            }
            .describe(),
            "1 file, 0 B"
        );
    }

    #[test]
    fn only_plain_names_from_the_server() {
        for good in ["a", ".env", "..hidden", "x y"] {
            assert!(plain_name(good), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "nul\0"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_source_is_named_before_connecting() {
        let e = Upload::plan(&[PathBuf::from("/nonexistent/thing")], "~/x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/thing"), "{e}");
    }
}
