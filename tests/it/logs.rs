//! `roadie logs`: a log followed on two hosts at once, across a restart.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use crate::support::{Running, World, addr};

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
    let expect = |wanted: &[String]| {
        let mut missing: Vec<String> = wanted.to_vec();
        while !missing.is_empty() {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("never saw {missing:?}"));
            missing.retain(|m| *m != line);
        }
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
    expect(&both("new error 1"));
    // One host restarts: roadie reconnects and goes on with new lines. Lines
    // written while it reconnects may be missed, so keep writing until both
    // hosts have shown one.
    w.restart(first);
    let mut seen = std::collections::HashSet::new();
    for n in 0.. {
        assert!(n < 60, "after the restart, lines showed only from {seen:?}");
        append(&format!("later error {n}"));
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            if let Some(host) = entries
                .iter()
                .find(|e| line.starts_with(&format!("[{e}] later error")))
            {
                seen.insert(host.clone());
            }
        }
        if seen.len() == entries.len() {
            break;
        }
    }
}
