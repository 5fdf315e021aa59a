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
