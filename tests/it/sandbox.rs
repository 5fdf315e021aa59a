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

#[test]
fn two_sandboxes_never_share_a_site() {
    // Both log in as the same local user on 127.0.0.2: only a site of each
    // sandbox's own keeps one project's files out of the other's.
    let (a, b) = (World::new(), World::new());
    let (_down_a, _down_b) = (Down(&a), Down(&b));
    for (w, who) in [(&a, "a"), (&b, "b")] {
        w.roadie()
            .args(["sandbox", "up", "--hosts", "1"])
            .run()
            .code(0);
        w.roadie()
            .args(["env", "sandbox", "--set", &format!("WHO={who}")])
            .run()
            .code(0);
    }
    for (w, who) in [(&a, "a"), (&b, "b")] {
        let env = w.path(".roadie/sandbox/sites/127.0.0.2/.env");
        let text = std::fs::read_to_string(&env).unwrap();
        assert!(
            text.contains(&format!("WHO={who}")),
            "{}: {text}",
            env.display()
        );
        let ran = w
            .roadie()
            .args(["env", "sandbox", "WHO", "--reveal"])
            .run()
            .code(0);
        let other = if who == "a" { "b" } else { "a" };
        assert!(
            ran.stdout.contains(who) && !ran.stdout.contains(&format!("WHO={other}")),
            "{}",
            ran.stdout
        );
    }
}

#[test]
fn sandbox_up_keeps_the_users_own_vars() {
    let w = World::new();
    let _down = Down(&w);
    w.roadie()
        .args(["sandbox", "up", "--hosts", "1", "--var", "team=web"])
        .run()
        .code(0);
    // The user adds a var inside the managed block and one at the top level.
    let written = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    let edited = format!(
        "vars: {{shared: everywhere}}\n{}",
        written.replacen("    vars:\n", "    vars:\n      wsgi: mine.wsgi:app\n", 1)
    );
    w.write("roadie.yaml", &edited);
    w.roadie().args(["sandbox", "down"]).run().code(0);
    w.roadie()
        .args(["sandbox", "up", "--hosts", "1", "--var", "debug=1"])
        .run()
        .code(0);
    let text = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
    assert!(text.starts_with("vars: {shared: everywhere}\n"), "{text}");
    assert_eq!(text.matches("shared").count(), 1, "{text}");
    let parsed = roadie::Inventory::load(&w.path("roadie.yaml")).unwrap();
    let vars = &parsed.environment("sandbox").unwrap().vars;
    assert_eq!(vars["team"], "web", "{text}");
    assert_eq!(vars["wsgi"], "mine.wsgi:app", "{text}");
    assert_eq!(vars["debug"], "1", "{text}");
    assert_eq!(vars["shared"], "everywhere", "{text}");
    let site = w.path(".roadie/sandbox/sites");
    assert_eq!(
        vars["site"],
        format!("{}/{{{{ host }}}}", site.display()),
        "{text}"
    );
}

#[test]
fn two_production_sandboxes_never_share_a_site_and_keep_the_users_vars() {
    // Both production hosts are 127.0.0.3 and log in as the same local user.
    let (a, b) = (World::new(), World::new());
    let (_down_a, _down_b) = (Down(&a), Down(&b));
    let up = |w: &World| {
        w.roadie()
            .args(["sandbox", "up", "--hosts", "1", "--production"])
            .run()
            .code(0);
    };
    for (w, who) in [(&a, "a"), (&b, "b")] {
        up(w);
        // The user adds a var to the production block, then runs `up` again.
        let written = std::fs::read_to_string(w.path("roadie.yaml")).unwrap();
        let at = written.find("  production:").unwrap();
        let (head, tail) = written.split_at(at);
        let tail = tail.replacen("    vars:\n", &format!("    vars:\n      team: {who}\n"), 1);
        w.write("roadie.yaml", &format!("{head}{tail}"));
        up(w);
        w.roadie()
            .args([
                "env",
                "production",
                "--confirm",
                "production",
                "--set",
                &format!("WHO={who}"),
            ])
            .run()
            .code(0);
    }
    for (w, who) in [(&a, "a"), (&b, "b")] {
        let parsed = roadie::Inventory::load(&w.path("roadie.yaml")).unwrap();
        let vars = &parsed.environment("production").unwrap().vars;
        assert_eq!(vars["team"], who, "{vars:?}");
        let site = w.path(".roadie/sandbox/sites");
        assert_eq!(vars["site"], format!("{}/{{{{ host }}}}", site.display()));
        let env = site.join("127.0.0.3/.env");
        let text = std::fs::read_to_string(&env).unwrap();
        let other = if who == "a" { "b" } else { "a" };
        assert!(
            text.contains(&format!("WHO={who}")) && !text.contains(&format!("WHO={other}")),
            "{}: {text}",
            env.display()
        );
    }
}

#[test]
fn as_root_each_sandbox_host_has_a_home_of_its_own() {
    assert!(
        crate::support::is_root(),
        "this test needs root, for a mount namespace (CI runs as root)"
    );
    let real_home = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .expect("the current user")
        .dir;
    let (a, b) = (World::new(), World::new());
    let (_down_a, _down_b) = (Down(&a), Down(&b));
    let marker = format!(".roadie-home-test-{}", std::process::id());
    let task = format!(
        "tasks:\n  where:\n    class: read\n    steps:\n      - run: \"echo {{{{ home }}}}; echo ~; touch ~/{marker}\"\n"
    );
    for w in [&a, &b] {
        w.roadie()
            .args(["sandbox", "up", "--hosts", "1"])
            .run()
            .code(0);
        w.write("playbooks/home.yaml", &task);
        let home = w.path(".roadie/sandbox/home/127.0.0.2");
        let ran = w.roadie().args(["task", "sandbox", "where"]).run().code(0);
        assert_eq!(
            ran.stdout,
            format!("{0}\n{0}\n", home.display()),
            "{}",
            ran.stderr
        );
        assert!(home.join(&marker).exists());
    }
    assert!(
        !real_home.join(&marker).exists(),
        "a sandbox wrote into the real home"
    );
}
