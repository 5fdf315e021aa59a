//! Staging fixtures end to end: a real sshd, the real Django demo site served
//! by gunicorn, the shipped Django playbook, `roadie env` and `roadie task`.

use std::path::PathBuf;

use crate::support::World;
use crate::support::django::{ENV, Gunicorn, Staging};

#[test]
fn create_session_logs_in_and_flush_logs_out() {
    let s = Staging::new(60);
    let web = Gunicorn::start(&s.site, s.host);
    let key = s.create_session("edith@example.com");
    assert_eq!(key.len(), 32);
    assert_eq!(web.get(Some(&key)), "Logged in as edith@example.com\n");
    assert_eq!(web.get(None), "Not logged in\n");
    // --check shows the commands and touches nothing.
    let ran =
        s.w.roadie()
            .args(["task", "staging", "flush", "--check"])
            .run()
            .code(0);
    let site = s.site.display();
    assert_eq!(
        ran.stdout,
        format!(
            "[{}] would run: # with the server's {site}/.env applied\n    \
             cd -- {site} || exit 1\n    \
             virtualenv/bin/python manage.py flush --noinput\n",
            s.w.entries(0)[0]
        )
    );
    assert!(
        !ran.stdout.contains("s3cret-key-value"),
        "a secret was printed:\n{}",
        ran.stdout
    );
    assert_eq!(web.get(Some(&key)), "Logged in as edith@example.com\n");
    s.w.roadie()
        .args(["task", "staging", "flush"])
        .run()
        .code(0);
    assert_eq!(web.get(Some(&key)), "Not logged in\n");
}

/// The sessions sshd has started so far (it logs one line for each at
/// LogLevel VERBOSE).
fn sessions_started(w: &World) -> usize {
    std::fs::read_to_string(&w.servers[0].log)
        .unwrap()
        .matches("Starting session:")
        .count()
}

/// A fixture's task reads the server's `.env` (for the guard and for its
/// variables), learns the home directory and runs its command in one SSH
/// session: one login shell, not three.
#[test]
fn a_single_step_task_runs_in_one_ssh_session() {
    let s = Staging::new(69);
    let web = Gunicorn::start(&s.site, s.host);
    let before = sessions_started(&s.w);
    let key = s.create_session("edith@example.com");
    assert_eq!(sessions_started(&s.w) - before, 1, "create_session");
    assert_eq!(web.get(Some(&key)), "Logged in as edith@example.com\n");
    let before = sessions_started(&s.w);
    s.w.roadie()
        .args(["task", "staging", "flush"])
        .run()
        .code(0);
    assert_eq!(sessions_started(&s.w) - before, 1, "flush");
    assert_eq!(web.get(Some(&key)), "Not logged in\n");
}

#[test]
fn an_email_with_quotes_and_semicolons_arrives_intact_and_runs_nothing() {
    let s = Staging::new(61);
    let web = Gunicorn::start(&s.site, s.host);
    let marker = s.w.path("pwned");
    let email = format!("o'brien\";touch {} #@example.com", marker.display());
    let key = s.create_session(&email);
    assert_eq!(web.get(Some(&key)), format!("Logged in as {email}\n"));
    assert!(!marker.exists(), "the email ran as a command");
    // Nor is an "email" ever an option to manage.py.
    let email = "--settings=nowhere";
    let key = s.create_session(email);
    assert_eq!(web.get(Some(&key)), format!("Logged in as {email}\n"));
}

#[test]
fn dotenv_is_read_masked_revealed_and_edited_in_place() {
    let s = Staging::new(62);
    let env_file = s.site.join(".env");
    let ran = s.w.roadie().args(["env", "staging"]).run().code(0);
    assert_eq!(
        ran.stdout,
        format!(
            "DJANGO_DEBUG_FALSE=y\nDJANGO_SECRET_KEY=********\nSITENAME={}\n",
            s.host
        )
    );
    let ran =
        s.w.roadie()
            .args(["--json", "env", "staging", "DJANGO_SECRET_KEY", "--reveal"])
            .run()
            .code(0);
    assert_eq!(
        ran.events()[0]["values"]["DJANGO_SECRET_KEY"],
        "s3cret-key-value"
    );

    std::fs::set_permissions(
        &env_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let edit = [
        "env",
        "staging",
        "--set",
        "SITENAME=staging.example.org",
        "--ensure-secret",
        "EMAIL_PASSWORD",
    ];
    let ran = s.w.roadie().args(edit).run().code(0);
    assert_eq!(
        ran.stdout,
        format!("{}: changed SITENAME, EMAIL_PASSWORD\n", env_file.display())
    );
    let after = std::fs::read_to_string(&env_file).unwrap();
    // SITENAME changed in its place, the new secret added at the end.
    let (kept, added) = after.rsplit_once("EMAIL_PASSWORD=").unwrap();
    assert_eq!(
        kept,
        "# the site's settings\nDJANGO_DEBUG_FALSE=y\nDJANGO_SECRET_KEY=s3cret-key-value\nSITENAME=staging.example.org\n"
    );
    assert!(
        added.ends_with('\n') && added.lines().count() == 1,
        "{after}"
    );
    let password = roadie::dotenv::DotEnv::parse(&after)
        .get("EMAIL_PASSWORD")
        .unwrap()
        .to_owned();
    assert_eq!(password.len(), 50);
    let mode = |p: &PathBuf| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&env_file), 0o640, "the mode was not kept");
    let backup = s.site.join(".env.bak");
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        ENV.replace("@HOST@", &s.host.to_string())
    );
    assert_eq!(mode(&backup), 0o640);
    // Again: nothing to do, nothing written.
    let ran = s.w.roadie().args(edit).run().code(0);
    assert_eq!(ran.stdout, format!("{}: unchanged\n", env_file.display()));
    assert_eq!(std::fs::read_to_string(&env_file).unwrap(), after);
    s.w.roadie()
        .args(["env", "staging", "--unset", "SITENAME"])
        .run()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        after.replace("SITENAME=staging.example.org\n", "")
    );
}

#[test]
fn malformed_dotenv_lines_are_reported_and_kept() {
    let s = Staging::new(63);
    let env_file = s.site.join(".env");
    let text = format!(
        "{}this is not an entry\n2BAD=x\n",
        std::fs::read_to_string(&env_file).unwrap()
    );
    std::fs::write(&env_file, &text).unwrap();
    let ran =
        s.w.roadie()
            .args(["env", "staging", "--set", "NEW=1"])
            .run()
            .code(0);
    let entry = &s.w.entries(0)[0];
    let file = env_file.display();
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: warning: {entry}: {file}:5: expected KEY=VALUE (line left as it is)\n\
             roadie: warning: {entry}: {file}:6: the name must be letters, digits, _ or ., not starting with a digit (line left as it is)\n"
        )
    );
    let after = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(after, format!("{text}NEW=1\n"));
}

#[test]
fn a_concurrent_reader_never_sees_a_half_written_dotenv() {
    let s = Staging::new(64);
    let env_file = s.site.join(".env");
    // A large file makes a torn write likely, if writes could tear.
    let big = "x".repeat(200_000);
    std::fs::write(&env_file, format!("BIG={big}\nEND=1\n")).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (done, env_file) = (done.clone(), env_file.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&env_file).unwrap();
                assert!(
                    text.ends_with("END=1\n") || text.contains("END=1\nN="),
                    "a torn read: {} bytes",
                    text.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for n in 0..5 {
        s.w.roadie()
            .args(["env", "staging", "--set", &format!("N={n}")])
            .run()
            .code(0);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[test]
fn loaddata_uploads_a_local_fixture_and_manage_runs_any_command() {
    let s = Staging::new(65);
    let fixture = s.w.write(
        "users.json",
        r#"[{"model": "accounts.user", "pk": "loaded@example.com", "fields": {"password": "", "last_login": null}}]"#,
    );
    s.w.roadie()
        .args([
            "task",
            "staging",
            "loaddata",
            "--param",
            &format!("fixture={}", fixture.display()),
        ])
        .run()
        .code(0);
    let ran =
        s.w.roadie()
            .args([
                "task",
                "staging",
                "manage",
                "--param",
                "args=dumpdata accounts",
            ])
            .run()
            .code(0);
    assert_eq!(ran.stdout, std::fs::read_to_string(&fixture).unwrap());
    // The uploaded copy is cleaned up after loading.
    let leftovers: Vec<_> = std::fs::read_dir(&s.site)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".roadie"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn template_param_and_step_errors_are_reported_precisely() {
    let s = Staging::new(66);
    std::fs::create_dir_all(s.w.path("playbooks")).unwrap();
    s.w.write(
        "playbooks/ours.yaml",
        "tasks:\n  greet:\n    class: read\n    params: {name: {}}\n    steps:\n      - run: echo hello {{ nmae }}\n  fail:\n    class: change\n    steps:\n      - name: the first\n        run: echo fine\n      - name: the second\n        run: echo boom >&2; exit 3\n      - run: echo never\n",
    );
    let ours = s.w.path("playbooks/ours.yaml");
    let ran =
        s.w.roadie()
            .args(["task", "staging", "greet"])
            .run()
            .code(2);
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: error: {}: task greet: needs --param name=VALUE\n",
            ours.display()
        )
    );
    let ran =
        s.w.roadie()
            .args(["task", "staging", "greet", "--param", "nmae=x"])
            .run()
            .code(2);
    assert_eq!(
        ran.stderr,
        format!(
            "roadie: error: {}: task greet: no parameter 'nmae' (it takes: name)\n",
            ours.display()
        )
    );
    let ran =
        s.w.roadie()
            .args(["task", "staging", "greet", "--param", "name=x"])
            .run()
            .code(2);
    assert!(
        ran.stderr.contains("playbooks/ours.yaml:6:"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("nmae"), "{}", ran.stderr);
    let ran =
        s.w.roadie()
            .args(["--json", "task", "staging", "fail"])
            .run()
            .code(3);
    let events = ran.events();
    let host = events.iter().find(|e| e["event"] == "host").unwrap();
    assert_eq!(host["failed_step"]["index"], 2);
    assert_eq!(host["failed_step"]["name"], "the second");
    assert_eq!(host["failed_step"]["exit_code"], 3);
    assert_eq!(host["failed_step"]["stderr"], "boom\n");
    assert!(!ran.stdout.contains("never"));
    s.w.roadie()
        .args(["task", "staging", "nope"])
        .run()
        .code(2)
        .stderr_has("known tasks")
        .stderr_has("ours:greet");
}

#[test]
fn rust_api_from_synchronous_test_code() {
    let s = Staging::new(67);
    let web = Gunicorn::start(&s.site, s.host);
    let project = roadie::blocking::Project::load(&s.w.path("roadie.yaml")).unwrap();
    let staging = project.connect("staging").unwrap();
    let result = staging
        .task("create_session")
        .param("email", "rust@example.com")
        .run()
        .unwrap();
    let key = result.captured("session_key").unwrap();
    assert_eq!(web.get(Some(key)), "Logged in as rust@example.com\n");
    staging.task("flush").run().unwrap();
    assert_eq!(web.get(Some(key)), "Not logged in\n");
    let missing = staging.task("create_session").run().unwrap_err();
    assert!(
        missing.to_string().contains("needs --param email"),
        "{missing}"
    );
}
