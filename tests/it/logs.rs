//! `roadie logs`: a log followed on two hosts at once, across a restart.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use crate::support::{Running, World, addr, eventually};

#[test]
fn a_log_followed_on_two_hosts_across_a_restart() {
    let mut w = World::new();
    let first = w.server(&[addr(90)]);
    let second = w.server(&[addr(91)]);
    let entries: Vec<String> = [first, second].iter().flat_map(|s| w.entries(*s)).collect();
    w.inventory("staging", &entries, "");
    let log = w.write("app.log", "old line\nold error line\n");
    let log_path = log.to_str().unwrap();
    let follow = [
        "logs", "staging", "-f", "--grep", "error", "--file", log_path,
    ];
    let mut roadie = Running(w.roadie().args(follow).spawn());
    let (sender, lines) = std::sync::mpsc::channel::<String>();
    let stdout = roadie.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    // Every line up to the last of `wanted`.
    let expect = |wanted: &[String]| {
        let mut missing: Vec<String> = wanted.to_vec();
        let mut said = Vec::new();
        while !missing.is_empty() {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("never saw {missing:?}, after {said:?}"));
            missing.retain(|m| *m != line);
            said.push(line);
        }
        said
    };
    let both = |text: &str| {
        entries
            .iter()
            .map(|e| format!("[{e}] {text}"))
            .collect::<Vec<_>>()
    };
    expect(&both("old error line"));
    let append = |text: &str| {
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(file, "{text}").unwrap();
    };
    append("new error 1");
    append("not shown");
    append("new error 2");
    // Each host's lines come in order: a line shown against --grep would
    // have come before that host's "new error 2".
    let said = expect(&[both("new error 1"), both("new error 2")].concat());
    let unwanted = said.iter().filter(|l| l.contains("not shown")).count();
    assert_eq!(unwanted, 0, "a line --grep leaves out was shown: {said:?}");
    // One host restarts: roadie reconnects and goes on with new lines. Lines
    // written while it reconnects may be missed, so keep writing until both
    // hosts have shown one.
    w.restart(first);
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    eventually(
        "a later line from both hosts after the restart",
        Duration::from_secs(60),
        || {
            append(&format!("later error {n}"));
            n += 1;
            while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
                if let Some(host) = entries
                    .iter()
                    .find(|e| line.starts_with(&format!("[{e}] later error")))
                {
                    seen.insert(host.clone());
                }
            }
            if seen.len() == entries.len() {
                Ok(())
            } else {
                Err(seen.clone())
            }
        },
    );
}
