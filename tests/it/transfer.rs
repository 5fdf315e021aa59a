//! `roadie put` and `roadie get` over SFTP against real sshd: trees with
//! modes and links, several hosts, errors, and interruption.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use crate::support::{World, addr, eventually, is_root, sh, unprivileged_user};

/// A local tree: nested files with their own modes and times, an empty
/// directory, and a relative symlink.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("static/css")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("manage.py"), "print('hi')\n").unwrap();
    std::fs::set_permissions(root.join("manage.py"), PermissionsExt::from_mode(0o751)).unwrap();
    std::fs::write(root.join("static/css/site.css"), "body {}\n".repeat(5000)).unwrap();
    std::fs::write(root.join("static/secret.txt"), "s\n").unwrap();
    std::fs::set_permissions(
        root.join("static/secret.txt"),
        PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(root.join("static/css"), PermissionsExt::from_mode(0o750)).unwrap();
    symlink("static/css/site.css", root.join("style.css")).unwrap();
    sh(
        "touch",
        &[
            "-d",
            "2024-01-02 03:04:05",
            root.join("manage.py").to_str().unwrap(),
        ],
        &[],
    );
}

/// Both trees hold the same names, kinds, contents, modes, link targets and
/// file modification times.
fn assert_same_tree(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut other: Vec<_> = std::fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    other.sort();
    assert_eq!(names, other, "{} vs {}", a.display(), b.display());
    for name in names {
        let (x, y) = (a.join(&name), b.join(&name));
        let (mx, my) = (
            std::fs::symlink_metadata(&x).unwrap(),
            std::fs::symlink_metadata(&y).unwrap(),
        );
        assert_eq!(mx.file_type(), my.file_type(), "{}", y.display());
        if mx.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(&x).unwrap(),
                std::fs::read_link(&y).unwrap()
            );
            continue;
        }
        assert_eq!(
            mx.mode() & 0o7777,
            my.mode() & 0o7777,
            "mode of {}",
            y.display()
        );
        if mx.is_dir() {
            assert_same_tree(&x, &y);
        } else {
            assert_eq!(std::fs::read(&x).unwrap(), std::fs::read(&y).unwrap());
            assert_eq!(mx.mtime(), my.mtime(), "mtime of {}", y.display());
        }
    }
}

#[test]
fn a_tree_goes_up_and_comes_back_the_same() {
    let (w, entry) = World::one_host(80);
    let local = w.path("local/site");
    make_tree(&local);
    let remote_dir = w.path("remote/deploy/here");
    let ran = w
        .roadie()
        .args(["put", "staging"])
        .args([&local, &remote_dir])
        .run()
        .code(0);
    assert_eq!(
        without_speed(&ran.stdout),
        [format!(
            "{entry}: put 3 files, 1 link, 4 directories, 39.08 KiB"
        )]
    );
    assert_same_tree(&local, &remote_dir.join("site"));
    // No temporary file is left anywhere.
    let listing = sh("find", &[remote_dir.to_str().unwrap()], &[]);
    assert!(!listing.contains(".roadie-"), "{listing}");
    // A second put replaces files in place, atomically, keeping the tree.
    std::fs::write(local.join("static/secret.txt"), "changed\n").unwrap();
    w.roadie()
        .args(["put", "staging"])
        .args([&local, &remote_dir])
        .run()
        .code(0);
    assert_same_tree(&local, &remote_dir.join("site"));
    // And back: `get` copies the tree into a local directory.
    let back = w.path("back");
    let ran = w
        .roadie()
        .args([
            "--json",
            "get",
            "staging",
            remote_dir.join("site").to_str().unwrap(),
        ])
        .args([&back])
        .run()
        .code(0);
    let event = &ran.events()[0];
    assert_eq!(event["event"], "transfer");
    assert_eq!(event["direction"], "get");
    assert_eq!(event["files"], 3);
    assert_eq!(event["links"], 1);
    assert_same_tree(&local, &back.join("site"));
    // One file to a `~/` directory (the login user's home).
    let ran = w
        .roadie()
        .args(["get", "staging", "~/.profile-not-there"])
        .args([&back])
        .run()
        .code(1);
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: error: {entry}: cannot get ~/.profile-not-there: no such file or directory\n"
        )
    );
}

/// Each line of a transfer report without its ` in 0.01s (1.2 MiB/s)`
/// end, which varies; a line without one fails the test.
fn without_speed(report: &str) -> Vec<String> {
    let speed = regex::Regex::new(r" in [0-9]+\.[0-9]{2}s \([0-9.]+ [KMG]?i?B/s\)$").unwrap();
    report
        .lines()
        .map(|line| {
            let found = speed
                .find(line)
                .unwrap_or_else(|| panic!("no speed at the end of {line:?}"));
            line[..found.start()].to_owned()
        })
        .collect()
}

#[test]
fn several_hosts_at_once_and_their_copies_apart() {
    let mut w = World::new();
    let s = w.server(&[addr(81), addr(82)]);
    let entries = w.entries(s);
    w.inventory("staging", &entries, "");
    let file = w.write("notes.txt", "hello\n");
    // Both hosts are the same machine here: each puts into its own directory.
    let target = w.path("up");
    for entry in &entries {
        w.roadie()
            .args(["put", &format!("staging/{entry}")])
            .args([&file, &target.join(entry.replace(':', "_"))])
            .run()
            .code(0);
    }
    let ran = w
        .roadie()
        .args(["put", "staging"])
        .args([&file, &target.join("both")])
        .run()
        .code(0);
    let mut lines = without_speed(&ran.stdout);
    lines.sort();
    let mut expected: Vec<String> = entries
        .iter()
        .map(|entry| format!("{entry}: put 1 file, 6 B"))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
    let back = w.path("back");
    w.roadie()
        .args([
            "get",
            "staging",
            target.join("both/notes.txt").to_str().unwrap(),
        ])
        .args([&back])
        .run()
        .code(0);
    for entry in &entries {
        assert_eq!(
            std::fs::read_to_string(back.join(entry).join("notes.txt")).unwrap(),
            "hello\n"
        );
    }
}

#[test]
fn errors_name_the_host_and_the_path() {
    let (w, entry) = World::one_host(83);
    w.log_in_as(&unprivileged_user());
    // A missing local path: said before connecting.
    w.roadie()
        .args(["put", "staging", "/nonexistent/local", "/tmp"])
        .run()
        .code(2)
        .stderr_has("/nonexistent/local");
    // A directory the login user may not write.
    let locked = w.path("locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, PermissionsExt::from_mode(0o755)).unwrap();
    let file = w.write("f.txt", "x\n");
    let ran = w
        .roadie()
        .args(["put", "staging"])
        .args([&file, &locked])
        .run()
        .code(1);
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: error: {entry}: cannot create {}/f.txt: permission denied\n",
            locked.display()
        )
    );
}

/// A remote path under `~/` is named as it was given, not as SFTP sees it.
#[test]
fn a_missing_remote_file_is_named_as_given() {
    let (w, entry) = World::one_host(84);
    let into = w.path("into");
    std::fs::create_dir_all(&into).unwrap();
    let ran = w
        .roadie()
        .args(["get", "staging", "~/no-such-file-here"])
        .args([&into])
        .run()
        .code(1);
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: error: {entry}: cannot get ~/no-such-file-here: no such file or directory\n"
        )
    );
}

/// Needs root, to mount a small tmpfs as the full disk.
#[test]
fn a_full_disk_is_said_plainly() {
    assert!(is_root(), "this test needs root (CI runs as root)");
    let (w, _) = World::one_host(84);
    let small = w.path("small");
    std::fs::create_dir_all(&small).unwrap();
    sh(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "tmpfs",
            small.to_str().unwrap(),
        ],
        &[],
    );
    let big = w.path("big.bin");
    std::fs::write(&big, vec![7u8; 4 * 1024 * 1024]).unwrap();
    let ran = w
        .roadie()
        .args(["put", "staging"])
        .args([&big, &small])
        .run();
    let listing = sh("ls", &["-A", small.to_str().unwrap()], &[]);
    sh("umount", &[small.to_str().unwrap()], &[]);
    ran.code(1).stderr_has("no space left");
    assert_eq!(listing.trim(), "", "a partial file was left");
}

/// Ctrl-C in the middle of a large upload: nothing under the final name,
/// no temporary file left behind, and the message says what became of the
/// files (no command was sent a signal).
#[test]
fn an_interrupted_upload_leaves_nothing_under_its_name_and_says_so() {
    let (w, _) = World::one_host(85);
    let (big, dest) = w.long_upload();
    for signal in ["INT", "KILL"] {
        let child = w
            .roadie()
            .args(["put", "staging"])
            .args([&big, &dest])
            .spawn();
        eventually(
            "the upload to write its temporary file",
            Duration::from_secs(30),
            || {
                std::fs::read_dir(&dest).unwrap().any(|e| {
                    let e = e.unwrap();
                    e.file_name().to_string_lossy().contains(".roadie-")
                        && e.metadata().unwrap().len() > 0
                })
            },
        );
        sh(
            "kill",
            &[&format!("-{signal}"), &child.id().to_string()],
            &[],
        );
        let output = child.wait_with_output().unwrap();
        let status = output.status;
        assert!(!status.success());
        assert!(
            !dest.join("huge.bin").exists(),
            "a partial file is under its name"
        );
        if signal == "INT" {
            assert_eq!(status.code(), Some(130));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("partial ones were removed"), "{stderr}");
            assert!(!stderr.contains("SIGTERM"), "{stderr}");
            let left: Vec<_> = std::fs::read_dir(&dest).unwrap().collect();
            assert!(left.is_empty(), "left behind: {left:?}");
        }
        for e in std::fs::read_dir(&dest).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
    }
}
