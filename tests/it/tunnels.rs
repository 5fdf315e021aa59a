//! `roadie tunnel` against a real sshd: many connections at once with one
//! stalled, half-close, nothing listening, a restarted sshd, and --exec
//! against a real PostgreSQL on a namespace host (psql, and the Django site's
//! `manage.py migrate` run locally).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use crate::support::netns::Lan;
use crate::support::postgres::{Postgres, bin};
use crate::support::{World, django, eventually};

/// A running `roadie tunnel`: its child process and JSON events.
struct Tunnel {
    child: Child,
    events: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl Tunnel {
    fn start(w: &World, args: &[&str]) -> Tunnel {
        let mut child = w
            .roadie()
            .args(["--json", "tunnel", "staging"])
            .args(args)
            .spawn();
        let events = crate::support::json_events(child.stdout.take().unwrap());
        Tunnel { child, events }
    }

    /// The next event of this kind (waiting up to 30 s; a hang fails the test).
    fn next(&self, kind: &str) -> serde_json::Value {
        loop {
            let event = self
                .events
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {kind} event"));
            if event["event"] == kind {
                return event;
            }
        }
    }

    fn local(&self) -> String {
        self.next("listening")["local"].as_str().unwrap().to_owned()
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server on the host's side: answers each connection with `serve`.
fn server(serve: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

/// Echo lines; `BIG` asks for 12 MiB at once.
fn echo(stream: TcpStream) {
    let mut writer = stream.try_clone().unwrap();
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if line == "BIG" {
            let _ = writer.write_all(&vec![b'x'; 12 * 1024 * 1024]);
        } else if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn twenty_connections_at_once_and_a_stalled_one_blocks_nobody() {
    let (w, _) = World::one_host(70);
    twenty_and_a_stalled_one(&w, &[]);
}

#[test]
fn the_same_through_a_kept_connection() {
    let (w, _) = World::one_host(72);
    twenty_and_a_stalled_one(&w, &["--persist", "60s"]);
    let kept = w
        .roadie()
        .args(["--json", "persist", "stop"])
        .run()
        .code(0)
        .events();
    assert_eq!(kept.len(), 1, "the tunnel went through a holder: {kept:?}");
    assert_eq!(kept[0]["stopped"], true, "{kept:?}");
}

/// Through a tunnel (started with `extra` arguments): one client asks for
/// 12 MiB and does not read it, twenty others echo 50 lines each meanwhile,
/// then the first gets all of it.
fn twenty_and_a_stalled_one(w: &World, extra: &[&str]) {
    let port = server(echo);
    let port = port.to_string();
    let mut args = vec![port.as_str()];
    args.extend_from_slice(extra);
    let tunnel = Tunnel::start(w, &args);
    let local = tunnel.local();
    // One client asks for a lot and does not read it.
    let mut stalled = TcpStream::connect(&local).unwrap();
    stalled.write_all(b"BIG\n").unwrap();
    stalled.set_nonblocking(true).unwrap();
    eventually(
        "the big answer to reach the stalled client",
        Duration::from_secs(30),
        || match stalled.peek(&mut [0u8; 1]) {
            Ok(n) if n > 0 => Ok(()),
            other => Err(other),
        },
    );
    stalled.set_nonblocking(false).unwrap();
    let clients: Vec<_> = (0..20)
        .map(|n| {
            let local = local.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&local).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                for i in 0..50 {
                    writeln!(writer, "client {n} message {i}").unwrap();
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    assert_eq!(line, format!("client {n} message {i}\n"));
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    // The stalled client gets all of it once it reads.
    let mut got = Vec::new();
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buffer = vec![0u8; 1 << 16];
    while got.len() < 12 * 1024 * 1024 {
        let n = stalled.read(&mut buffer).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buffer[..n]);
    }
    assert!(got.iter().all(|b| *b == b'x'));
}

#[test]
fn half_close_passes_both_ways() {
    let (w, _) = World::one_host(71);
    let port = server(|mut stream| {
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        write!(stream, "got {} bytes", all.len()).unwrap();
    });
    let tunnel = Tunnel::start(&w, &[&port.to_string()]);
    let mut client = TcpStream::connect(tunnel.local()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    client.write_all(&vec![7u8; 100_000]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "got 100000 bytes");
}

#[test]
fn a_port_with_nothing_listening_is_closed_promptly_and_reported() {
    let (w, _) = World::one_host(72);
    let nothing = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = nothing.local_addr().unwrap().port();
    drop(nothing);
    let tunnel = Tunnel::start(&w, &[&port.to_string()]);
    let mut client = TcpStream::connect(tunnel.local()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buffer = [0u8; 16];
    let n = client.read(&mut buffer).unwrap_or(0);
    assert_eq!(n, 0, "the client was not closed");
    let failed = tunnel.next("connect_failed");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("nothing accepts connections"),
        "{failed}"
    );
}

#[test]
fn the_tunnel_survives_sshd_restarting() {
    let (mut w, _) = World::one_host(73);
    let port = server(echo);
    let tunnel = Tunnel::start(&w, &[&port.to_string()]);
    let local = tunnel.local();
    let round_trip = |text: &str| {
        let stream = TcpStream::connect(&local).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        writeln!(writer, "{text}").unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line
    };
    assert_eq!(round_trip("before"), "before\n");
    w.restart(0);
    tunnel.next("disconnected");
    tunnel.next("reconnected");
    assert_eq!(round_trip("after"), "after\n");
}

/// The staging database as the server's `.env` names it (the server's own
/// PostgreSQL on 127.0.0.1).
const DATABASE_URL: &str = "postgres://app:tunnel-pw@127.0.0.1:5432/app";

/// A namespace host running a real PostgreSQL whose database `app` holds a
/// marker row only it has, and a `staging` environment whose `.env` points
/// at it.
struct StagingDatabase {
    postgres: Postgres,
    _lan: Lan,
}

fn staging_database(w: &mut World) -> StagingDatabase {
    let (lan, host) = w.netns_host();
    let postgres = Postgres::start(&host, &w.path("postgres"), "app", "tunnel-pw");
    postgres.sql(
        "app",
        "create table marker (word text); insert into marker values ('on staging')",
    );
    let env_file = w.write(
        ".env",
        &format!("DATABASE_URL={DATABASE_URL}\nSECRET_KEY=x\n"),
    );
    w.inventory(
        "staging",
        &[host.address.to_string()],
        &format!("    vars: {{env_file: \"{}\"}}\n", env_file.display()),
    );
    StagingDatabase {
        postgres,
        _lan: lan,
    }
}

#[test]
fn exec_reaches_the_staging_postgres_through_the_rewritten_database_url() {
    let mut w = World::new();
    let _database = staging_database(&mut w);
    let script = format!(
        "{}/psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -tAc 'select 40+2, word from marker' \
         && echo \"$DATABASE_URL\" && test -z \"$SECRET_KEY\" && exit 7",
        bin().display()
    );
    let ran = w
        .roadie()
        .args([
            "tunnel", "staging", "5432", "--exec", "--", "sh", "-c", &script,
        ])
        .run_within(Duration::from_secs(60))
        .code(7);
    // The query was answered by the staging server's own database.
    assert!(ran.stdout.contains("42|on staging\n"), "{}", ran.stdout);
    let url = ran.stdout.lines().last().unwrap_or_default();
    assert!(
        url.starts_with("postgres://app:tunnel-pw@127.0.0.1:") && url.ends_with("/app"),
        "{}",
        ran.stdout
    );
}

/// The demo site's settings with the database taken from DATABASE_URL.
const STAGING_DB_SETTINGS: &str = r#"import os
from urllib.parse import urlparse

from superlists.settings import *  # noqa: F403

url = urlparse(os.environ["DATABASE_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username,
        "PASSWORD": url.password,
        "HOST": url.hostname,
        "PORT": url.port,
    }
}
"#;

#[test]
fn local_manage_py_migrates_the_staging_database_through_the_tunnel() {
    let mut w = World::new();
    let database = staging_database(&mut w);
    let site = w.path("site");
    django::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/site"),
        &site,
    );
    std::fs::write(site.join("staging_db.py"), STAGING_DB_SETTINGS).unwrap();
    let (python, manage) = (django::venv().join("bin/python"), site.join("manage.py"));
    w.roadie()
        .env("DJANGO_SETTINGS_MODULE", "staging_db")
        .args(["tunnel", "staging", "5432", "--exec", "--"])
        .args([&python, &manage])
        .args(["migrate", "--noinput"])
        .run_within(Duration::from_secs(120))
        .code(0);
    // Asked on the server itself: the site's tables are in its database.
    assert_eq!(
        database.postgres.sql(
            "app",
            "select count(*) > 0 from django_migrations where app = 'accounts'"
        ),
        "t"
    );
    assert_eq!(
        database
            .postgres
            .sql("app", "select count(*) from accounts_user"),
        "0"
    );
}

#[test]
fn a_client_while_the_connection_is_down_is_told_so_not_that_the_port_is_unreachable() {
    let mut w = World::new();
    let (_lan, host) = w.netns_host();
    // Keepalives that would take a minute to give up, so the connection
    // still looks open when the client comes; channel opens wait 1 s.
    std::fs::write(
        w.home.join(".ssh/config"),
        "Host *\n    ServerAliveInterval 2\n    ServerAliveCountMax 30\n    ConnectTimeout 1\n",
    )
    .unwrap();
    let tunnel = Tunnel::start(&w, &["5432"]);
    let local = tunnel.local();
    host.unplug();
    let mut client = TcpStream::connect(&local).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(
        client.read(&mut buffer).unwrap_or(0),
        0,
        "the client was not closed"
    );
    let down = tunnel.next("link_down");
    assert_eq!(down["remote"], "127.0.0.1:5432", "{down}");
    assert!(
        down["reason"]
            .as_str()
            .unwrap()
            .contains("the SSH connection did not answer within 1s"),
        "{down}"
    );
}
