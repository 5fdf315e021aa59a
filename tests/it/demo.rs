//! `roadie demo`, as a newcomer runs it.

use crate::support::World;

#[test]
fn demo_walks_through_the_fixture_flow_and_cleans_up() {
    let w = World::new();
    let ran = w.roadie().args(["demo"]).run().code(0);
    let out = &ran.stdout;
    assert!(out.contains("DJANGO_SECRET_KEY=********"), "{out}");
    assert!(out.contains("session_key = "), "{out}");
    assert!(out.contains("->  Logged in as edith@example.com"), "{out}");
    assert!(out.contains("->  Not logged in"), "{out}");
    // Deployed as releases, a new one, then the previous one back, the
    // rollback showing which release was live before and after.
    assert!(out.matches("live: releases/").count() == 3, "{out}");
    let rolled = out
        .lines()
        .find(|l| l.contains("(was releases/"))
        .expect("the rollback shows the live release before and after");
    let (now, was) = rolled.split_once(" (was ").unwrap();
    assert_ne!(
        now.trim_start_matches("live: "),
        was.trim_end_matches(')'),
        "{out}"
    );
    assert!(
        out.contains("GET /  ->  Not logged in (release 2)"),
        "{out}"
    );
    let after_rollback = out.split("rollback").last().unwrap();
    assert!(
        after_rollback.contains("GET /  ->  Not logged in\n"),
        "{out}"
    );
    assert!(
        out.contains("refused by the protected-environment lock"),
        "{out}"
    );
    // Nothing is left behind.
    let dir = out
        .split("(site in ")
        .nth(1)
        .and_then(|rest| rest.split("/sites/").next())
        .expect("the demo names its directory");
    assert!(!std::path::Path::new(dir).exists(), "{dir} was left behind");
}
