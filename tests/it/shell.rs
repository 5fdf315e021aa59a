//! `roadie shell`: one host's interactive login shell, as `ssh HOST`.

use std::process::Command;

use crate::support::{Ran, World, addr};

/// `roadie ARGS` on a pseudo-terminal driven by `support/pty_driver.py`
/// (40x120, resized to 50x100, then `exit 3`).
fn at_a_terminal(w: &World, args: &[&str]) -> Ran {
    let mut driver = Command::new("python3");
    driver
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/support/pty_driver.py"
        ))
        .arg(env!("CARGO_BIN_EXE_roadie"));
    w.roadie_via(driver).args(args).run()
}

/// What the driver saw: the terminal's size at first and after the resize
/// reached the remote shell, its exit code, and the terminal given back.
fn behaves_as_a_terminal(ran: &Ran) {
    assert_eq!(
        ran.code, 3,
        "the shell's exit code:\n{}\n{}",
        ran.stdout, ran.stderr
    );
    for seen in ["40 120", "50 100", "\nRESIZED\n", "\nRESTORED\n"] {
        assert!(
            ran.stdout.contains(seen),
            "no {seen:?} on the terminal:\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
    }
}

#[test]
fn a_shell_gets_a_terminal_that_follows_its_size_and_passes_its_exit_code_on() {
    let mut w = World::new();
    let s = w.server(&[addr(99)]);
    w.inventory("staging", &w.entries(s), "");
    behaves_as_a_terminal(&at_a_terminal(&w, &["shell", "staging"]));
    // The same through a kept connection (its holder relays the terminal).
    behaves_as_a_terminal(&at_a_terminal(&w, &["--persist", "5m", "shell", "staging"]));
    w.roadie().args(["persist", "stop"]).run().code(0);
}

#[test]
fn a_shell_without_a_terminal_reads_its_commands_from_stdin() {
    use std::io::Write as _;
    let mut w = World::new();
    let s = w.server(&[addr(100)]);
    w.inventory("staging", &w.entries(s), "");
    let mut child = w.roadie().args(["shell", "staging"]).spawn();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo \"hello from $0\"; exit 4\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("hello from "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_shell_on_a_protected_environment_needs_confirm_and_one_host() {
    let mut w = World::new();
    let s = w.server(&[addr(101), addr(102)]);
    let entries = w.entries(s);
    w.inventory("production", &entries[..1], "    protected: true\n");
    w.roadie()
        .args(["shell", "production"])
        .run()
        .code(3)
        .stderr_has("--confirm production");
    let mut child = w
        .roadie()
        .args(["--confirm", "production", "shell", "production"])
        .spawn();
    drop(child.stdin.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let log = std::fs::read_to_string(w.home.join(".local/state/roadie/audit.jsonl")).unwrap();
    let outcomes: Vec<(String, String)> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("shell".to_owned(), "refused".to_owned()),
            ("shell".into(), "ok".into())
        ],
        "{log}"
    );

    w.inventory("staging", &entries, "");
    w.roadie()
        .args(["shell", "staging"])
        .run()
        .code(2)
        .stderr_has("name one as ENV/HOST");
}
