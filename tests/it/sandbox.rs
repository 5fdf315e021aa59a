//! `roadie sandbox up|status|down`, as a new user would run it.

use crate::support::World;

/// Stops the sandbox even when an assertion fails half-way.
struct Down<'a>(&'a World);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.roadie().args(["sandbox", "down"]).run();
    }
}

#[test]
fn sandbox_up_run_status_down() {
    let w = World::new();
    // An existing inventory keeps its environments and comments.
    w.write(
        "roadie.yaml",
        "# team inventory\nenvironments:\n    staging:\n        hosts: [staging.example.org]\n",
    );
    let _down = Down(&w);
    let ran = w
        .roadie()
        .args(["sandbox", "up", "--hosts", "2"])
        .run()
        .code(0);
    assert!(ran.stdout.contains("2 sshd server(s) up"), "{}", ran.stdout);
    let inventory = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    assert!(inventory.starts_with("# team inventory\n"), "{inventory}");
    let parsed = roadie::Inventory::load(&w.path("roadie.yaml")).unwrap();
    assert!(parsed.environment("staging").is_some());
    let sandbox = parsed.environment("sandbox").unwrap();
    assert_eq!(sandbox.hosts.len(), 2);

    let ran = w
        .roadie()
        .args(["run", "sandbox", "--", "uname -s"])
        .run()
        .code(0);
    assert_eq!(ran.stdout.matches("] Linux").count(), 2, "{}", ran.stdout);
    w.roadie()
        .args(["sandbox", "status"])
        .run()
        .code(0)
        .stdout_has("up");

    // Up again: same port, same keys, still one managed block.
    w.roadie()
        .args(["sandbox", "up", "--hosts", "2"])
        .run()
        .code(0);
    let again = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    assert_eq!(again, inventory);
    w.roadie()
        .args(["run", "sandbox", "--", "true"])
        .run()
        .code(0);

    w.roadie()
        .args(["sandbox", "down"])
        .run()
        .code(0)
        .stdout_has("stopped 2");
    w.roadie()
        .args(["sandbox", "status"])
        .run()
        .code(1)
        .stdout_has("not running");
    w.roadie()
        .args(["run", "sandbox", "--connect-timeout", "2", "--", "true"])
        .run()
        .code(1)
        .stderr_has("Connection refused");
}

#[test]
fn sandbox_production_host_shows_the_safeguards() {
    let w = World::new();
    let _down = Down(&w);
    w.roadie()
        .args(["sandbox", "up", "--hosts", "1", "--production"])
        .run()
        .code(0)
        .stdout_has("protected environment 'production'");
    let inventory = roadie::Inventory::load(&w.path("roadie.yaml")).unwrap();
    let production = inventory.environment("production").unwrap();
    assert!(production.protected);
    assert_eq!(production.host_keys.len(), 1);
    w.roadie()
        .args(["run", "production", "--destroy", "--", "true"])
        .run()
        .code(3)
        .stderr_has("refused by the protected-environment lock");
    w.roadie()
        .args(["run", "production", "--", "true"])
        .run()
        .code(3)
        .stderr_has("--confirm production");
    w.roadie()
        .args([
            "run",
            "production",
            "--confirm",
            "production",
            "--",
            "echo changed",
        ])
        .run()
        .code(0)
        .stdout_has("changed");
    // The staging key does not open production.
    w.roadie()
        .args([
            "run",
            "production",
            "--confirm",
            "production",
            "--identity",
            ".roadie/sandbox/client_key",
            "--",
            "true",
        ])
        .run()
        .code(4)
        .stderr_has("authentication failed");
    w.roadie()
        .args(["run", "sandbox", "--destroy", "--", "true"])
        .run()
        .code(0);
}
