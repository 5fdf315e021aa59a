//! The shape of each kind of `--json` line, and that it reads back.

use serde_json::json;

use super::*;

/// Each kind of JSON line, as README's "JSON output" documents it.
#[test]
fn json_lines_have_their_documented_shape() {
    let cases = [
        (
            Event::Output {
                host: "web1".into(),
                stream: Stream::Stderr,
                line: "boom".into(),
            },
            json!({"event": "output", "host": "web1", "stream": "stderr", "line": "boom"}),
        ),
        (
            Event::Warning {
                host: "web1".into(),
                message: "careful".into(),
            },
            json!({"event": "warning", "host": "web1", "message": "careful"}),
        ),
        (
            Event::Summary {
                hosts: 3,
                ok: 1,
                failed: 1,
                errors: 1,
                refused: 0,
                exit_code: 1,
            },
            json!({"event": "summary", "hosts": 3, "ok": 1, "failed": 1, "errors": 1, "refused": 0, "exit_code": 1}),
        ),
        (
            Event::Error {
                host: None,
                kind: "usage".into(),
                message: "bad".into(),
                exit_code: Some(2),
                lock: None,
            },
            json!({"event": "error", "kind": "usage", "message": "bad", "exit_code": 2}),
        ),
        (
            Event::Error {
                host: None,
                kind: "refused".into(),
                message: "no".into(),
                exit_code: Some(3),
                lock: Some(Lock::ProtectedEnvironment),
            },
            json!({"event": "error", "kind": "refused", "message": "no", "exit_code": 3,
                   "lock": "protected_environment"}),
        ),
        (
            Event::Transfer {
                host: "web1".into(),
                direction: "put".into(),
                status: "ok".into(),
                totals: Some(TransferTotals {
                    files: 2,
                    dirs: 1,
                    links: 0,
                    bytes: 10,
                    duration_ms: 5,
                }),
                error: None,
                error_kind: None,
                exit_code: None,
            },
            json!({"event": "transfer", "host": "web1", "direction": "put", "status": "ok",
                   "files": 2, "dirs": 1, "links": 0, "bytes": 10, "duration_ms": 5}),
        ),
        (
            Event::SandboxDown { stopped: 2 },
            json!({"event": "sandbox_down", "stopped": 2}),
        ),
        (
            Event::Task {
                playbook: "django".into(),
                task: "flush".into(),
                class: SafetyClass::Destroy,
                params: Vec::new(),
                description: None,
                origin: "playbooks/django.yaml".into(),
            },
            json!({"event": "task", "playbook": "django", "task": "flush", "class": "destroy",
                   "params": [], "description": null, "origin": "playbooks/django.yaml"}),
        ),
    ];
    for (event, expected) in cases {
        assert_round_trip(&event, &expected);
    }
}

/// `event` serialises as `expected`, and `expected` reads back as an
/// event that serialises the same.
fn assert_round_trip(event: &Event, expected: &serde_json::Value) {
    assert_eq!(&serde_json::to_value(event).unwrap(), expected);
    let read: Event = serde_json::from_value(expected.clone())
        .unwrap_or_else(|e| panic!("{expected} does not read back: {e}"));
    assert_eq!(&serde_json::to_value(&read).unwrap(), expected, "{read:?}");
}

#[test]
fn a_host_line_carries_its_result_and_raw_chunks_are_no_line() {
    let finished = Event::Finished(Box::new(HostResult {
        host: "web1".into(),
        status: "refused".into(),
        exit_code: Some(3),
        signal: None,
        error: Some("refused".into()),
        error_kind: Some("refused".into()),
        lock: Some(Lock::ProtectedEnvironment),
        host_key: None,
        task: None,
        captured: None,
        failed_step: None,
        would_run: None,
        duration_ms: 7,
        memory: None,
    }));
    assert_eq!(
        serde_json::to_value(&finished).unwrap(),
        json!({"event": "host", "host": "web1", "status": "refused", "exit_code": 3,
               "error": "refused", "error_kind": "refused", "lock": "protected_environment",
               "duration_ms": 7})
    );
    // Raw chunks are never a line of their own.
    let data = Event::Data {
        host: "web1".into(),
        stream: Stream::Stdout,
        data: Bytes::from_static(b"x"),
    };
    assert!(serde_json::to_value(&data).is_err());
}

#[test]
fn a_line_of_no_kind_is_no_event_and_started_is_none_of_its_own() {
    for line in [
        json!({"event": "started", "host": "web1"}),
        json!({"event": "data", "host": "web1", "stream": "stdout", "data": "x"}),
        json!({"event": "nonsense", "host": "web1"}),
        json!({"host": "web1"}),
        // A host result without its status is neither a result nor a
        // `roadie hosts` line.
        json!({"event": "host", "host": "web1", "duration_ms": 3}),
    ] {
        assert!(
            serde_json::from_value::<Event>(line.clone()).is_err(),
            "{line} read as an event"
        );
    }
    let started = Event::Started {
        host: "web1".into(),
    };
    assert!(serde_json::to_value(&started).is_err());
}

#[test]
fn a_host_result_reads_back() {
    let line = json!({"event": "host", "host": "web1", "status": "failed", "exit_code": 1,
                      "signal": "KILL", "duration_ms": 7,
                      "failed_step": {"index": 2, "name": "migrate", "stderr": "boom"}});
    let read: Event = serde_json::from_value(line.clone()).unwrap();
    assert!(matches!(&read, Event::Finished(result) if result.status == "failed"));
    assert_eq!(serde_json::to_value(&read).unwrap(), line);
}

#[test]
fn kept_connections_and_the_sandbox_have_their_documented_shape() {
    let cases = [
        (
            Event::KeptConnection {
                host: "web1".into(),
                address: "elspeth@10.0.0.2:22".into(),
                environment: Some("staging".into()),
                pid: 42,
                running: true,
                clients: 1,
                keep_secs: 600.0,
                exits_in_secs: None,
                started: "2026-12-02T10:00:00Z".into(),
                socket: "/run/roadie/web1.sock".into(),
            },
            json!({"event": "kept_connection", "host": "web1", "address": "elspeth@10.0.0.2:22",
                   "environment": "staging", "pid": 42, "running": true, "clients": 1,
                   "keep_secs": 600.0, "exits_in_secs": null,
                   "started": "2026-12-02T10:00:00Z", "socket": "/run/roadie/web1.sock"}),
        ),
        (
            Event::KeptConnectionStopped {
                host: "web1".into(),
                stopped: false,
            },
            json!({"event": "kept_connection_stopped", "host": "web1", "stopped": false}),
        ),
        (
            Event::SandboxUp {
                environment: "sandbox".into(),
                hosts: vec!["127.0.0.2:2222".into()],
                production: None,
                inventory: "roadie.yaml".into(),
            },
            json!({"event": "sandbox_up", "environment": "sandbox", "hosts": ["127.0.0.2:2222"],
                   "production": null, "inventory": "roadie.yaml"}),
        ),
        (
            Event::SandboxStatus {
                running: false,
                hosts: vec![SandboxHost {
                    host: "127.0.0.2:2222".into(),
                    pid: 7,
                    up: false,
                }],
            },
            json!({"event": "sandbox_status", "running": false,
                   "hosts": [{"host": "127.0.0.2:2222", "pid": 7, "up": false}]}),
        ),
    ];
    for (event, expected) in cases {
        assert_round_trip(&event, &expected);
    }
}

fn record() -> Record {
    Record {
        socket: "/home/elspeth/.roadie/debug/runner-3-41.sock".into(),
        runner: "runner-3".into(),
        pid: 41,
        test: Some("test_login".into()),
        worker: None,
        ci_run: Some("9001".into()),
        ci_job: None,
        started: 1_700_000_000,
        timeout: 600,
        attached: false,
    }
}

fn record_json() -> serde_json::Value {
    json!({"socket": "/home/elspeth/.roadie/debug/runner-3-41.sock", "runner": "runner-3",
           "pid": 41, "test": "test_login", "ci_run": "9001", "started": 1_700_000_000,
           "timeout": 600, "attached": false})
}

fn waiting() -> Waiting {
    Waiting {
        pid: 40,
        kind: Kind::RemotePdb,
        address: std::net::IpAddr::from([127, 0, 0, 1]),
        port: 7200,
        test: None,
        worker: Some("gw1".into()),
        cwd: None,
        command: "python -m pytest".into(),
    }
}

/// The fields of [`waiting`], as each `debug_session` line has them.
fn waiting_fields() -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(fields) = json!({"pid": 40, "kind": "remote-pdb",
        "address": "127.0.0.1", "port": 7200, "test": null, "worker": "gw1",
        "command": "python -m pytest"})
    else {
        unreachable!()
    };
    fields
}

/// `value` with `fields` added.
fn with(mut value: serde_json::Value, fields: &serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(more) = fields else {
        unreachable!()
    };
    value
        .as_object_mut()
        .unwrap()
        .extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    value
}

#[test]
fn debug_session_lines_have_their_documented_shape() {
    let published = PublishedSession {
        published: true,
        record: record(),
        left_s: Some(598),
    };
    let published_json = with(json!({"published": true, "left_s": 598}), &record_json());
    let waiting_json = serde_json::Value::Object(waiting_fields());
    let cases = [
        (
            DebugEvent::Session(DebugSession::Found {
                number: 1,
                host: "web1".into(),
                session: waiting(),
            }),
            json!({"event": "debug_session", "number": 1, "host": "web1",
                   "session": waiting_json.clone()}),
        ),
        (
            DebugEvent::Session(DebugSession::FoundPublished {
                number: 2,
                host: "web1".into(),
                session: published.clone(),
            }),
            json!({"event": "debug_session", "number": 2, "host": "web1",
                   "session": published_json.clone()}),
        ),
        (
            DebugEvent::Session(DebugSession::Waiting {
                host: "web1".into(),
                waiting: waiting(),
                local: "127.0.0.1:40000".into(),
                connect: "nc 127.0.0.1 40000".into(),
                exposed: false,
            }),
            with(
                json!({"event": "debug_session", "host": "web1", "local": "127.0.0.1:40000",
                       "connect": "nc 127.0.0.1 40000", "exposed": false}),
                &waiting_json,
            ),
        ),
        (
            DebugEvent::Session(DebugSession::Published {
                host: "web1".into(),
                session: published,
                local: "127.0.0.1:40001".into(),
                connect: "nc 127.0.0.1 40001".into(),
            }),
            with(
                json!({"event": "debug_session", "host": "web1", "local": "127.0.0.1:40001",
                       "connect": "nc 127.0.0.1 40001"}),
                &published_json,
            ),
        ),
    ];
    assert_debug_lines(cases);
}

#[test]
fn debug_attached_and_ended_lines_have_their_documented_shape() {
    let cases = [
        (
            DebugEvent::Attached(Attached::Local {
                host: "web1".into(),
                pid: 40,
                port: 7200,
            }),
            json!({"event": "debug_session_attached", "host": "web1", "pid": 40, "port": 7200}),
        ),
        (
            DebugEvent::Attached(Attached::Published {
                host: "web1".into(),
                socket: "/s.sock".into(),
                pid: 41,
            }),
            json!({"event": "debug_session_attached", "host": "web1", "socket": "/s.sock",
                   "pid": 41}),
        ),
        (
            DebugEvent::Ended(Ended::Local {
                host: "web1".into(),
                pid: 40,
                port: 7200,
                how: Some("continue".into()),
            }),
            json!({"event": "debug_session_ended", "host": "web1", "pid": 40, "port": 7200,
                   "how": "continue"}),
        ),
        (
            DebugEvent::Ended(Ended::Published {
                host: "web1".into(),
                socket: "/s.sock".into(),
                pid: 41,
                test: Some("test_login".into()),
                how: None,
            }),
            json!({"event": "debug_session_ended", "host": "web1", "socket": "/s.sock",
                   "pid": 41, "test": "test_login"}),
        ),
    ];
    assert_debug_lines(cases);
}

fn assert_debug_lines<const N: usize>(cases: [(DebugEvent, serde_json::Value); N]) {
    for (event, expected) in cases {
        let event = Event::Debug(event);
        assert_round_trip(&event, &expected);
        let read: Event = serde_json::from_value(expected).unwrap();
        assert!(
            matches!((&read, &event), (Event::Debug(a), Event::Debug(b)) if a == b),
            "{read:?} is not {event:?}"
        );
    }
}

#[test]
fn publish_lines_have_their_documented_shape() {
    let cases = [
        (
            PublishEvent::DebugPublished {
                host: "rendezvous".into(),
                record: record(),
            },
            with(
                json!({"event": "debug_published", "host": "rendezvous"}),
                &record_json(),
            ),
        ),
        (
            PublishEvent::DebugUnpublished {
                host: "rendezvous".into(),
                record: record(),
                how: Some("quit".into()),
            },
            with(
                json!({"event": "debug_unpublished", "host": "rendezvous", "how": "quit"}),
                &record_json(),
            ),
        ),
    ];
    for (event, expected) in cases {
        assert_round_trip(&Event::Publish(event), &expected);
    }
}

#[test]
fn tunnel_lines_have_their_documented_shape() {
    let cases = [
        (
            TunnelEvent::Listening {
                host: "web1".into(),
                local: "127.0.0.1:5433".into(),
                remote: "127.0.0.1:5432".into(),
                name: Some("db".into()),
            },
            json!({"event": "listening", "host": "web1", "local": "127.0.0.1:5433",
                   "remote": "127.0.0.1:5432", "name": "db"}),
        ),
        (
            TunnelEvent::Disconnected {
                host: "web1".into(),
                reason: "reset".into(),
            },
            json!({"event": "disconnected", "host": "web1", "reason": "reset"}),
        ),
        (
            TunnelEvent::Reconnected {
                host: "web1".into(),
            },
            json!({"event": "reconnected", "host": "web1"}),
        ),
        (
            TunnelEvent::RetryFailed {
                host: "web1".into(),
                reason: "refused".into(),
                next_in_ms: 500,
            },
            json!({"event": "retry_failed", "host": "web1", "reason": "refused",
                   "next_in_ms": 500}),
        ),
        (
            TunnelEvent::ConnectFailed {
                host: "web1".into(),
                remote: "127.0.0.1:9".into(),
                reason: "refused".into(),
            },
            json!({"event": "connect_failed", "host": "web1", "remote": "127.0.0.1:9",
                   "reason": "refused"}),
        ),
        (
            TunnelEvent::ClientTooSlow {
                host: "web1".into(),
                remote: "127.0.0.1:9".into(),
            },
            json!({"event": "client_too_slow", "host": "web1", "remote": "127.0.0.1:9"}),
        ),
        (
            TunnelEvent::LinkDown {
                host: "web1".into(),
                remote: "127.0.0.1:9".into(),
                reason: "down".into(),
            },
            json!({"event": "link_down", "host": "web1", "remote": "127.0.0.1:9",
                   "reason": "down"}),
        ),
    ];
    for (event, expected) in cases {
        assert_round_trip(&Event::Tunnel(event), &expected);
    }
}

#[test]
fn stacks_lines_have_their_documented_shape() {
    let stacks = Stacks {
        pid: 40,
        ppid: 1,
        command: "pytest".into(),
        test: Some("tests/test_x.py::test_y".into()),
        threads: vec![Thread {
            id: 7,
            name: None,
            active: true,
            frames: vec![Frame {
                function: "test_y".into(),
                file: "tests/test_x.py".into(),
                line: 3,
                locals: Some(vec![("n".into(), "1".into())]),
            }],
        }],
    };
    let cases = [
        (
            Event::Stacks {
                host: "web1".into(),
                stacks,
            },
            json!({"event": "stacks", "host": "web1", "pid": 40, "ppid": 1, "command": "pytest",
                   "test": "tests/test_x.py::test_y",
                   "threads": [{"id": 7, "name": null, "active": true,
                                "frames": [{"function": "test_y", "file": "tests/test_x.py",
                                            "line": 3, "locals": [["n", "1"]]}]}]}),
        ),
        (
            Event::StacksUnavailable {
                host: "web1".into(),
                pid: 40,
                command: "pytest".into(),
                reason: "py-spy is not installed".into(),
            },
            json!({"event": "stacks_unavailable", "host": "web1", "pid": 40,
                   "command": "pytest", "reason": "py-spy is not installed"}),
        ),
        (
            Event::TestRunning {
                host: "web1".into(),
                running: TestProcess {
                    pid: 40,
                    ppid: 1,
                    command: "pytest".into(),
                    worker: Some("gw0".into()),
                    test: Some("tests/test_x.py::test_y".into()),
                    in_test_for: Some(2.5),
                    running_for: Some(9.0),
                    source: "note".into(),
                    reason: None,
                },
                slow: true,
            },
            json!({"event": "test_running", "host": "web1", "pid": 40, "ppid": 1,
                   "command": "pytest", "worker": "gw0", "test": "tests/test_x.py::test_y",
                   "in_test_for": 2.5, "running_for": 9.0, "source": "note", "slow": true}),
        ),
    ];
    for (event, expected) in cases {
        assert_round_trip(&event, &expected);
    }
}

#[test]
fn env_and_diagnose_lines_have_their_documented_shape() {
    let mut report = serde_json::Map::new();
    report.insert("uptime_s".into(), json!(12));
    report.insert("disks".into(), json!([]));
    let cases = [
        (
            Event::Env(HostEnv {
                host: "web1".into(),
                file: "~/sites/web1/.env".into(),
                values: Some([("DEBUG".to_owned(), "y".to_owned())].into()),
                changed: None,
                malformed: vec![Malformed {
                    line: 3,
                    reason: "no '='".into(),
                }],
                missing: vec!["SECRET_KEY".into()],
            }),
            json!({"event": "env", "host": "web1", "file": "~/sites/web1/.env",
                   "values": {"DEBUG": "y"}, "malformed": [{"line": 3, "reason": "no '='"}],
                   "missing": ["SECRET_KEY"]}),
        ),
        (
            Event::EnvEdit(HostEnv {
                host: "web1".into(),
                file: "~/sites/web1/.env".into(),
                values: None,
                changed: Some(vec!["DEBUG".into()]),
                malformed: Vec::new(),
                missing: Vec::new(),
            }),
            json!({"event": "env_edit", "host": "web1", "file": "~/sites/web1/.env",
                   "changed": ["DEBUG"], "malformed": []}),
        ),
        (
            Event::Diagnose {
                host: "web1".into(),
                report,
            },
            json!({"event": "diagnose", "host": "web1", "uptime_s": 12, "disks": []}),
        ),
    ];
    for (event, expected) in cases {
        assert_round_trip(&event, &expected);
    }
}

#[test]
fn hosts_lines_have_their_documented_shape() {
    let offered = Offered {
        ciphers: vec!["aes256-gcm@openssh.com".into()],
        kex_algorithms: vec!["curve25519-sha256".into()],
        host_key_algorithms: vec!["ssh-ed25519".into()],
        macs: vec!["hmac-sha2-256".into()],
        pubkey_accepted_algorithms: vec!["ssh-ed25519".into()],
    };
    let cases = [(
        Event::Listing(HostListing::Host(Box::new(HostLine {
            host: "web1".into(),
            environment: Some("staging".into()),
            protected: false,
            hostname: "10.0.0.2".into(),
            port: 22,
            user: "elspeth".into(),
            address: "elspeth@10.0.0.2:22".into(),
            identities: vec!["/root/.ssh/id_ed25519".into()],
            certificates: Vec::new(),
            via: Vec::new(),
            proxy_command: None,
            forward_agent: None,
            algorithms: offered,
            algorithm_warnings: Vec::new(),
            host_key: None,
            login: Some("ok".into()),
            error_kind: None,
            locks: vec!["environment staging is not protected".into()],
            destroy: Some("allowed".into()),
            destroy_lock: None,
        }))),
        json!({"event": "host", "host": "web1", "environment": "staging",
                   "protected": false, "hostname": "10.0.0.2", "port": 22, "user": "elspeth",
                   "address": "elspeth@10.0.0.2:22", "identities": ["/root/.ssh/id_ed25519"],
                   "certificates": [], "via": [], "proxy_command": null, "forward_agent": null,
                   "algorithms": {"ciphers": ["aes256-gcm@openssh.com"],
                                  "kex_algorithms": ["curve25519-sha256"],
                                  "host_key_algorithms": ["ssh-ed25519"],
                                  "macs": ["hmac-sha2-256"],
                                  "pubkey_accepted_algorithms": ["ssh-ed25519"]},
                   "login": "ok", "locks": ["environment staging is not protected"],
                   "destroy": "allowed"}),
    )];
    for (event, expected) in cases {
        assert_round_trip(&event, &expected);
    }
    // A `roadie hosts` line reads back as one, not as a host result.
    let line = cases_last_is_a_listing();
    assert!(matches!(line, Event::Listing(_)), "{line:?}");
}

fn cases_last_is_a_listing() -> Event {
    serde_json::from_value(json!({"event": "host", "host": "web1", "environment": null,
        "protected": false, "hostname": "h", "port": 22, "user": "u", "address": "u@h:22",
        "identities": [], "certificates": [], "via": [], "proxy_command": null,
        "forward_agent": null, "algorithms": {"ciphers": [], "kex_algorithms": [],
        "host_key_algorithms": [], "macs": [], "pubkey_accepted_algorithms": []},
        "locks": []}))
    .unwrap()
}
