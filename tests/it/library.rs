//! The Rust API, as a test suite's setup would use it.

use roadie::{Inventory, Overrides, RemoteCommand, Resolver, Session};

use crate::support::{World, addr};

#[tokio::test]
async fn connect_run_and_read_stdout_stderr_status() {
    let mut w = World::new();
    let s = w.server(&[addr(40)]);
    let entry = w.entries(s)[0].clone();
    w.inventory(
        "staging",
        std::slice::from_ref(&entry),
        "    vars: {site: demo}\n",
    );
    let inventory = Inventory::load(&w.path("roadie.yaml")).unwrap();
    let overrides = Overrides {
        ssh_config: Some("none".into()),
        ..Overrides::default()
    };
    let hosts = Resolver::new(&inventory, &overrides)
        .resolve("staging")
        .unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].vars["site"], "demo");
    let session = Session::connect(&hosts[0]).await.unwrap();
    assert_eq!(
        session.server_key().key_data(),
        w.servers[s].host_key.key_data()
    );

    let command = RemoteCommand::shell("echo \"$GREETING\"; echo oops >&2; exit 4")
        .env("GREETING", "hello 'world'")
        .unwrap();
    let output = session.run(&command).await.unwrap();
    assert_eq!(output.stdout_text(), "hello 'world'");
    assert_eq!(output.stderr, b"oops\n");
    assert_eq!(output.status.code, Some(4));
    assert!(!output.status.success());

    // Several commands share one connection, one after another or at once.
    let (echo_a, echo_b) = (
        RemoteCommand::argv(&["echo", "a"]),
        RemoteCommand::argv(&["echo", "b"]),
    );
    let (a, b) = tokio::join!(session.run(&echo_a), session.run(&echo_b));
    assert_eq!(
        (a.unwrap().stdout_text(), b.unwrap().stdout_text()),
        ("a".into(), "b".into())
    );
    let killed = session
        .run(&RemoteCommand::shell("kill -TERM $$"))
        .await
        .unwrap();
    assert_eq!(killed.status.signal.as_deref(), Some("TERM"));
    assert_eq!(killed.status.as_exit_code(), 143);
    session.close().await;
}

#[tokio::test]
async fn connection_errors_are_typed() {
    let w = World::new();
    w.inventory("staging", &[format!("{}:1", addr(41))], "");
    let inventory = Inventory::load(&w.path("roadie.yaml")).unwrap();
    let overrides = Overrides::default();
    let hosts = Resolver::new(&inventory, &overrides)
        .resolve("staging")
        .unwrap();
    let error = Session::connect(&hosts[0]).await.unwrap_err();
    assert_eq!(error.exit_code(), roadie::error::exit_code::CONNECTION);
    assert_eq!(error.kind(), "connect");
}

/// An atomic write replaces a symlink's target, not the link, and refuses
/// (changing nothing) when it could not give the new file the old one's owner.
#[tokio::test]
async fn atomic_write_through_a_symlink_and_keeping_the_owner() {
    use roadie::{Expect, Written};
    use std::os::unix::fs::PermissionsExt;

    let mut w = World::new();
    let s = w.server(&[addr(41)]);
    let entry = w.entries(s)[0].clone();
    w.inventory("staging", std::slice::from_ref(&entry), "");
    let user = crate::support::unprivileged_user();
    w.log_in_as(&user);
    let inventory = Inventory::load(&w.path("roadie.yaml")).unwrap();
    let overrides = Overrides {
        ssh_config: Some("none".into()),
        ..Overrides::default()
    };
    let host = Resolver::new(&inventory, &overrides)
        .resolve("staging")
        .unwrap()
        .remove(0);
    let dir = w.shared_dir();
    let shared = dir.join("shared.env");
    let link = dir.join("current.env");
    std::fs::write(&shared, "A=1\n").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::symlink("shared.env", &link).unwrap();
    crate::support::sh(
        "chown",
        &[&format!("{user}:"), shared.to_str().unwrap()],
        &[],
    );
    let session = Session::connect(&host).await.unwrap();
    let link_path = link.to_str().unwrap();
    let written = session
        .write_file(
            link_path,
            b"A=2\n",
            &Expect::Contents(b"A=1\n".to_vec()),
            0o600,
            false,
        )
        .await
        .unwrap();
    assert_eq!(written, Written::Done);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), "A=2\n");
    // Owned by root, written by another user who may write the file and its
    // directory: the owner cannot be kept, so nothing changes.
    assert!(
        crate::support::is_root(),
        "this test needs root (CI runs as root)"
    );
    crate::support::sh("chown", &["root", shared.to_str().unwrap()], &[]);
    let error = session
        .write_file(link_path, b"A=3\n", &Expect::Anything, 0o600, true)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("cannot keep the owner"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), "A=2\n");
    assert!(!dir.join("shared.env.bak").exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        2,
        "a temporary file was left"
    );
    session.close().await;
}
