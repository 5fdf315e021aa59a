//! The shipped Django playbook's `deploy` and `rollback` against real sshd:
//! the real demo site from a local git repository, its real gunicorn on the
//! site's socket, the fixture tasks on the release layout.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::django::{copy_dir, venv};
use crate::support::{Ran, World, addr, eventually, reached_within, sh};

/// A local git repository holding the demo site.
fn demo_repository(w: &World) -> PathBuf {
    let repo = w.path("repo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/site"),
        &repo,
    );
    git(&repo, &["init", "-q"]);
    commit(&repo, "the demo site");
    repo
}

fn git(repo: &Path, args: &[&str]) {
    let mut all = vec![
        "-C",
        repo.to_str().unwrap(),
        "-c",
        "user.name=roadie test",
        "-c",
        "user.email=test@example.com",
    ];
    all.extend_from_slice(args);
    sh("git", &all, &[]);
}

fn commit(repo: &Path, message: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
}

/// Replace `from` by `to` in the repository's `file`, and commit.
fn change(repo: &Path, file: &str, from: &str, to: &str) {
    let path = repo.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    commit(repo, &format!("{file}: {to}"));
}

/// The site's gunicorn (started by the playbook's restart command): stopped
/// when the test ends, however it ends.
struct Served(PathBuf);

impl Drop for Served {
    fn drop(&mut self) {
        let pidfile = self.0.join("shared/gunicorn.pid");
        let Ok(pid) = std::fs::read_to_string(pidfile) else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(pid.trim().parse().unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = reached_within(Duration::from_secs(10), || {
            nix::sys::signal::kill(pid, None).is_err()
        });
    }
}

/// One host, the demo repository, and an inventory whose sites live under
/// the world's directory, reusing the test virtualenv.
struct Deployment {
    w: World,
    repo: PathBuf,
    roots: Vec<PathBuf>,
    served: Vec<Served>,
}

impl Deployment {
    fn new(addresses: &[u8]) -> Deployment {
        Deployment::with_vars(addresses, "")
    }

    /// With `vars` (flow-style YAML entries) added to the inventory's.
    fn with_vars(addresses: &[u8], vars: &str) -> Deployment {
        Deployment::build(addresses, vars, false)
    }

    /// With the default site, `~/sites/{{ host }}` (vars.site left out):
    /// the server's `~/sites` is a directory of the test's, mounted over
    /// the login user's in sshd's own mount namespace.
    fn at_default_site(addresses: &[u8], vars: &str) -> Deployment {
        Deployment::build(addresses, vars, true)
    }

    fn build(addresses: &[u8], vars: &str, default_site: bool) -> Deployment {
        let mut w = World::new();
        let ips: Vec<_> = addresses.iter().map(|a| addr(*a)).collect();
        let mut vars_entries = Vec::new();
        let (s, sites) = if default_site {
            let sites = w.path("sites");
            (w.server_with_sites(&ips, &sites), sites)
        } else {
            let sites = w.path("sites");
            vars_entries.push(format!("site: \"{}/{{{{ host }}}}\"", sites.display()));
            (w.server(&ips), sites)
        };
        // The demo site's WSGI application, and checks that give up soon,
        // unless the test says otherwise.
        if !vars.contains("wsgi:") {
            vars_entries.push("wsgi: \"superlists.wsgi:application\"".to_owned());
        }
        if !vars.contains("health_within") {
            vars_entries.push("health_within: 5s".to_owned());
        }
        let more = vars.trim_start_matches(", ");
        if !more.is_empty() {
            vars_entries.push(more.to_owned());
        }
        let entries = w.entries(s);
        w.inventory(
            "staging",
            &entries,
            &format!("    vars: {{{}}}\n", vars_entries.join(", ")),
        );
        let roots: Vec<PathBuf> = ips.iter().map(|ip| sites.join(ip.to_string())).collect();
        for root in &roots {
            // An existing virtualenv is reused (and its requirements met).
            std::fs::create_dir_all(root.join("shared")).unwrap();
            std::os::unix::fs::symlink(venv(), root.join("shared/virtualenv")).unwrap();
        }
        let repo = demo_repository(&w);
        let served = roots.iter().map(|r| Served(r.clone())).collect();
        Deployment {
            w,
            repo,
            roots,
            served,
        }
    }

    fn task(&self, args: &[&str]) -> Ran {
        self.w.roadie().args(["task", "staging"]).args(args).run()
    }

    fn deploy(&self) -> Ran {
        let repo = format!("repo={}", self.repo.display());
        self.task(&["deploy", "--param", &repo])
    }

    /// Commit a change to the repository and deploy it as a release of its
    /// own.
    fn deploy_change(&self, file: &str, from: &str, to: &str) -> Ran {
        change(&self.repo, file, from, to);
        self.until_a_new_release_name();
        self.deploy()
    }

    /// Wait until a deploy would get a release name of its own: names are
    /// the job's start, `YYYYMMDDHHMMSS` in UTC, so the clock must be past
    /// the newest release's second.
    fn until_a_new_release_name(&self) {
        let newest = self.releases().pop().expect("a release to follow");
        eventually(
            &format!("a release name after {newest}"),
            Duration::from_secs(5),
            || {
                let next = sh("date", &["-u", "+%Y%m%d%H%M%S"], &[]);
                let next = next.trim();
                if next > newest.as_str() {
                    Ok(())
                } else {
                    Err(next.to_owned())
                }
            },
        );
    }

    fn root(&self) -> &Path {
        &self.roots[0]
    }

    fn releases(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The live release: `releases/NAME`.
fn current(root: &Path) -> String {
    std::fs::read_link(root.join("current"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// `GET /` on the site's socket, as nginx would ask it; the status line and
/// the body.
fn get(root: &Path, host: &str, session_key: Option<&str>) -> (String, String) {
    let mut stream = UnixStream::connect(root.join("shared/gunicorn.sock")).unwrap();
    let cookie = session_key
        .map(|k| format!("Cookie: sessionid={k}\r\n"))
        .unwrap_or_default();
    write!(stream, "GET / HTTP/1.0\r\nHost: {host}\r\n{cookie}\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

fn page(root: &Path, host: &str, session_key: Option<&str>) -> String {
    let (status, body) = get(root, host, session_key);
    assert!(status.contains(" 200 "), "{status}: {body}");
    body
}

fn secret_of(root: &Path) -> String {
    let env = std::fs::read_to_string(root.join("shared/.env")).unwrap();
    roadie::dotenv::DotEnv::parse(&env)
        .get("DJANGO_SECRET_KEY")
        .unwrap()
        .to_owned()
}

#[test]
fn deploy_again_keeps_sessions_and_rollback_goes_back() {
    let d = Deployment::new(&[90]);
    let host = addr(90).to_string();
    d.deploy().code(0);
    let first = d.releases();
    assert_eq!(first.len(), 1);
    assert_eq!(current(d.root()), format!("releases/{}", first[0]));
    assert_eq!(page(d.root(), &host, None), "Not logged in\n");
    // The .env was made from deploy/env, with a generated secret.
    let env = std::fs::read_to_string(d.root().join("shared/.env")).unwrap();
    assert!(
        env.contains(&format!("DJANGO_ALLOWED_HOST={host}")),
        "{env}"
    );
    let secret = secret_of(d.root());
    assert!(secret.len() >= 40, "{secret}");
    // The server's configuration, rendered into the release.
    let unit = std::fs::read_to_string(
        d.root()
            .join("current/deploy")
            .join(format!("gunicorn-{host}.service")),
    )
    .unwrap();
    assert!(
        unit.contains(&format!("WorkingDirectory={}/current", d.root().display())),
        "{unit}"
    );

    // The fixture tasks work on the release layout as they did before.
    let ran = d
        .task(&[
            "--json",
            "create_session",
            "--param",
            "email=edith@example.com",
        ])
        .code(0);
    let events = ran.events();
    let key = events.iter().find(|e| e["event"] == "host").unwrap()["captured"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        page(d.root(), &host, Some(&key)),
        "Logged in as edith@example.com\n"
    );

    // A second deploy: a new release, the data and the secret kept.
    d.deploy_change("superlists/urls.py", "Not logged in", "Nobody logged in")
        .code(0);
    let both = d.releases();
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(current(d.root()), format!("releases/{}", both[1]));
    assert_eq!(page(d.root(), &host, None), "Nobody logged in\n");
    assert_eq!(
        page(d.root(), &host, Some(&key)),
        "Logged in as edith@example.com\n"
    );
    assert_eq!(secret_of(d.root()), secret);

    // Rollback: the previous release is live again.
    d.task(&["rollback"])
        .code(0)
        .stdout_has("back to releases/");
    assert_eq!(current(d.root()), format!("releases/{}", both[0]));
    assert_eq!(page(d.root(), &host, None), "Not logged in\n");
    drop(d.served);
}

#[test]
fn a_deploy_that_fails_its_health_check_changes_nothing_live() {
    let d = Deployment::new(&[91]);
    let host = addr(91).to_string();
    d.deploy().code(0);
    let live = current(d.root());
    // --check shows every step, resolved, and touches nothing.
    let repo = format!("repo={}", d.repo.display());
    let ran = d.task(&["deploy", "--param", &repo, "--check"]).code(0);
    for shown in [
        "archive HEAD of",
        "dotenv ",
        "template built-in:deploy/gunicorn.service",
        "http GET / via unix:",
    ] {
        assert!(
            ran.stdout.contains(shown),
            "{shown:?} not in:\n{}",
            ran.stdout
        );
    }
    assert_eq!(d.releases().len(), 1);
    // A release whose pages fail: its trial run answers 500.
    let ran = d
        .deploy_change(
            "superlists/urls.py",
            "    if request.user.is_authenticated:",
            "    raise RuntimeError(\"broken\")\n    if request.user.is_authenticated:",
        )
        .code(1);
    assert!(
        ran.stderr.contains("did not answer 200") && ran.stderr.contains("answered 500"),
        "{}",
        ran.stderr
    );
    // The live site is untouched, and the trial was stopped.
    assert_eq!(current(d.root()), live);
    assert_eq!(page(d.root(), &host, None), "Not logged in\n");
    let failed = d.releases().into_iter().last().unwrap();
    let trial = d.root().join("releases").join(&failed);
    assert!(!trial.join(".trial.pid").exists(), "the trial still runs");
    assert!(!trial.join(".roadie-ok").exists());
    assert!(
        !d.root().join("shared/.deploy.lock").exists(),
        "the lock was kept"
    );
    // The next good release: the failed one is cleared away, and a rollback
    // goes back past it, to the last release that passed its trial.
    d.deploy_change(
        "superlists/urls.py",
        "raise RuntimeError(\"broken\")",
        "pass",
    )
    .code(0);
    assert!(!d.releases().contains(&failed), "{:?}", d.releases());
    d.task(&["rollback"]).code(0);
    assert_eq!(current(d.root()), live);
    drop(d.served);
}

/// One deploy at a time: a lock held by another leaves both alone; a deploy
/// stopped midway (here by --timeout) still cleans up after itself.
#[test]
fn deploys_take_turns_and_clean_up_when_stopped() {
    let d = Deployment::with_vars(&[96], ", health_within: 120s");
    let lock = d.root().join("shared/.deploy.lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(lock.join("owner"), "run someone-else by ci since then\n").unwrap();
    d.deploy()
        .code(1)
        .stderr_has("another deploy or rollback holds");
    assert!(
        lock.join("owner").exists(),
        "another run's lock was taken away"
    );
    std::fs::remove_dir_all(&lock).unwrap();
    // A release whose trial never answers (its WSGI module hangs on
    // import), stopped by --timeout while roadie waits for it.
    std::fs::write(
        d.repo.join("superlists/hang.py"),
        "import time\ntime.sleep(3600)\n",
    )
    .unwrap();
    commit(&d.repo, "a module that never loads");
    let inventory = std::fs::read_to_string(d.w.path("roadie.yaml")).unwrap();
    d.w.write(
        "roadie.yaml",
        &inventory.replace("superlists.wsgi:application", "superlists.hang:application"),
    );
    let repo = format!("repo={}", d.repo.display());
    d.task(&["deploy", "--param", &repo, "--timeout", "40"])
        .code(124);
    assert!(!lock.exists(), "the lock outlived a stopped deploy");
    let release = d.root().join("releases").join(&d.releases()[0]);
    assert!(
        !release.join(".trial.pid").exists(),
        "the trial outlived a stopped deploy"
    );
    drop(d.served);
}

#[test]
fn two_hosts_deployed_at_once() {
    let d = Deployment::with_vars(&[92, 93], ", keep_releases: 1");
    d.deploy().code(0);
    for (root, host) in d.roots.iter().zip([addr(92), addr(93)]) {
        assert!(current(root).starts_with("releases/"));
        assert_eq!(page(root, &host.to_string(), None), "Not logged in\n");
    }
    // One release name for the whole run.
    assert_eq!(current(&d.roots[0]), current(&d.roots[1]));
    // Again: only the live release is kept (keep_releases: 1).
    d.deploy_change("superlists/urls.py", "Not logged in", "Nobody logged in")
        .code(0);
    assert_eq!(
        d.releases(),
        [current(d.root()).trim_start_matches("releases/")]
    );
    drop(d.served);
}

/// With `repo_url`, the server clones the repository itself.
#[test]
fn a_release_cloned_on_the_server() {
    let d = Deployment::new(&[95]);
    change(
        &d.repo,
        "superlists/urls.py",
        "Not logged in",
        "Cloned, not logged in",
    );
    let repo_url = format!("repo_url={}", d.repo.display());
    // repo_url is a var: given here as an inventory override would be.
    let inventory = std::fs::read_to_string(d.w.path("roadie.yaml")).unwrap();
    d.w.write(
        "roadie.yaml",
        &inventory.replace(
            "health_within: 5s",
            &format!("health_within: 5s, {}", repo_url.replacen('=', ": ", 1)),
        ),
    );
    let ran = d.task(&["deploy", "--check"]).code(0);
    assert!(
        ran.stdout.contains("git clone") && !ran.stdout.contains("archive HEAD"),
        "{}",
        ran.stdout
    );
    d.deploy().code(0);
    assert_eq!(
        page(d.root(), &addr(95).to_string(), None),
        "Cloned, not logged in\n"
    );
    assert!(!d.root().join("current/.git").exists());
    drop(d.served);
}

/// The new release passes its trial but the live site does not come up (its
/// restart leaves nothing serving): the previous release is put back and
/// restarted, and the deploy fails saying so.
#[test]
fn the_previous_release_comes_back_when_the_live_site_fails() {
    // The default restart, except that a release holding NO_START is
    // stopped and never started, and one holding FAIL_RESTART fails it.
    let restart = "[ ! -e FAIL_RESTART ] || exit 7; pid=$(cat {{ site_root }}/shared/gunicorn.pid 2>/dev/null) && kill $pid && while kill -0 $pid 2>/dev/null; do sleep 0.1; done; [ -e NO_START ] || virtualenv/bin/gunicorn --daemon --pid {{ site_root }}/shared/gunicorn.pid --bind unix:{{ site_root }}/shared/gunicorn.sock --chdir {{ site_root }}/current {{ wsgi }}";
    let d = Deployment::with_vars(&[94], &format!(", restart: '{restart}'"));
    let host = addr(94).to_string();
    d.deploy().code(0);
    let live = current(d.root());
    for (marker, failing_step, code, text) in [
        ("NO_START", "the live site answers", 1, "Nobody logged in"),
        ("FAIL_RESTART", "restart the site", 7, "No one logged in"),
    ] {
        std::fs::write(d.repo.join(marker), "").unwrap();
        let ran = d
            .deploy_change("superlists/urls.py", "Not logged in", text)
            .code(code);
        assert!(
            ran.stderr.contains(failing_step) && ran.stdout.contains("back to releases/"),
            "stdout:\n{}\nstderr:\n{}",
            ran.stdout,
            ran.stderr
        );
        assert_eq!(current(d.root()), live);
        assert_eq!(page(d.root(), &host, None), "Not logged in\n");
        std::fs::remove_file(d.repo.join(marker)).unwrap();
        change(&d.repo, "superlists/urls.py", text, "Not logged in");
    }
    drop(d.served);
}

/// The shipped rollback with the default site (`~/sites/{{ host }}`): its
/// task vars need the server's home, which is fetched because a template
/// asks for it (it used to fail: "undefined value").
#[test]
fn rollback_works_with_the_default_site() {
    let d = Deployment::at_default_site(&[97], "");
    let host = addr(97).to_string();
    d.deploy().code(0).stdout_has("live: releases/");
    d.deploy_change("superlists/urls.py", "Not logged in", "Nobody logged in")
        .code(0);
    let both = d.releases();
    assert_eq!(both.len(), 2, "{both:?}");
    let ran = d.task(&["rollback", "--check"]).code(0);
    assert!(
        ran.stdout.contains("/sites/127.0.0.97/shared"),
        "{}",
        ran.stdout
    );
    assert_eq!(current(d.root()), format!("releases/{}", both[1]));
    d.task(&["rollback"]).code(0).stdout_has(&format!(
        "back to releases/{} (live was releases/{})",
        both[0], both[1]
    ));
    assert_eq!(current(d.root()), format!("releases/{}", both[0]));
    assert_eq!(page(d.root(), &host, None), "Not logged in\n");
    drop(d.served);
}

/// A project as `django-admin startproject` makes it: its settings keep
/// `db.sqlite3` in `BASE_DIR`, the release. The database is a link into
/// `shared/`, so what the site holds outlives the release; a repository
/// holding a database of its own is refused, loudly.
#[test]
fn a_startproject_site_keeps_its_database_across_deploys() {
    // DEBUG is on in startproject's settings: it answers Host: localhost.
    let d = Deployment::at_default_site(
        &[98],
        ", wsgi: \"mysite.wsgi:application\", health_host: localhost",
    );
    let repo = d.w.path("startproject");
    let admin = venv().join("bin/django-admin");
    std::fs::create_dir_all(&repo).unwrap();
    sh(
        admin.to_str().unwrap(),
        &["startproject", "mysite", repo.to_str().unwrap()],
        &[],
    );
    let settings = repo.join("mysite/settings.py");
    let text = std::fs::read_to_string(&settings).unwrap();
    assert!(text.contains("BASE_DIR / 'db.sqlite3'") || text.contains("BASE_DIR / \"db.sqlite3\""));
    // collectstatic needs somewhere to collect to (the book sets it too).
    std::fs::write(
        &settings,
        format!("{text}\nSTATIC_ROOT = BASE_DIR / 'static'\n"),
    )
    .unwrap();
    std::fs::write(repo.join("requirements.txt"), "Django\ngunicorn\n").unwrap();
    git(&repo, &["init", "-q"]);
    commit(&repo, "django-admin startproject mysite");
    let deploy = || {
        let repo = format!("repo={}", repo.display());
        d.task(&["deploy", "--param", &repo])
    };
    deploy()
        .code(0)
        .stdout_has("database default: db.sqlite3 -> shared/db.sqlite3");
    d.task(&[
        "manage",
        "--param",
        "args=createsuperuser --noinput --username edith --email edith@example.com",
    ])
    .code(0);
    d.until_a_new_release_name();
    deploy().code(0);
    assert_eq!(d.releases().len(), 2);
    let users = "args=shell -c 'from django.contrib.auth.models import User; print(list(User.objects.values_list(\"username\", flat=True)))'";
    d.task(&["manage", "--param", users])
        .code(0)
        .stdout_has("['edith']");
    assert!(d.root().join("shared/db.sqlite3").is_file());
    assert!(d.root().join("current/db.sqlite3").is_symlink());

    // A release that brings a database of its own would replace the site's.
    std::fs::write(repo.join("db.sqlite3"), "").unwrap();
    commit(&repo, "a database, committed by mistake");
    d.until_a_new_release_name();
    deploy()
        .code(1)
        .stderr_has("the release has a database of its own, db.sqlite3");
    d.task(&["manage", "--param", users])
        .code(0)
        .stdout_has("['edith']");
    drop(d.served);
}

/// A trial gunicorn that dies at once (here its worker cannot import the
/// app, so the master exits) fails the deploy at once, with its own words
/// (it used to cost the whole `health_within` and show nothing of why).
#[test]
fn a_trial_that_dies_at_once_fails_the_deploy_with_its_log() {
    let d = Deployment::with_vars(&[99], ", health_within: 60s");
    change(
        &d.repo,
        "superlists/wsgi.py",
        "import os",
        "raise RuntimeError(\"this release cannot start\")\nimport os",
    );
    let started = Instant::now();
    let ran = d.deploy().code(1);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        ran.stderr.contains("the process it checks (pid ")
            && ran.stderr.contains(".trial.log:")
            && ran
                .stderr
                .contains("RuntimeError: this release cannot start"),
        "{}",
        ran.stderr
    );
    assert!(d.root().join("current").symlink_metadata().is_err());
    drop(d.served);
}

/// Without systemd, the live site's gunicorn logs to shared/gunicorn.log,
/// and `roadie logs` shows it by default; the `restart` task restarts it.
#[test]
fn the_live_site_logs_to_shared_and_roadie_logs_shows_it() {
    let d = Deployment::new(&[88]);
    d.deploy().code(0).stdout_has("live: releases/");
    let logs_show = |wanted: &str, times: usize| {
        eventually(
            &format!("{wanted:?} {times} times in the log"),
            Duration::from_secs(20),
            || {
                let ran =
                    d.w.roadie()
                        .args(["logs", "staging", "-n", "200"])
                        .run()
                        .code(0);
                if ran.stdout.matches(wanted).count() >= times {
                    Ok(())
                } else {
                    Err(ran.stdout)
                }
            },
        );
    };
    // The health check's own request, and the daemon starting.
    logs_show("\"GET / HTTP/1.0\" 200", 1);
    logs_show("Starting gunicorn", 1);
    let pid = std::fs::read_to_string(d.root().join("shared/gunicorn.pid")).unwrap();
    d.task(&["restart"]).code(0);
    assert_ne!(
        std::fs::read_to_string(d.root().join("shared/gunicorn.pid")).unwrap(),
        pid
    );
    logs_show("Starting gunicorn", 2);
    drop(d.served);
}

/// A changed `vars.python3` makes the virtualenv again (it used to keep the
/// old one): here from the shared test virtualenv (a link) to a new one
/// made by /usr/bin/python3, with the requirements installed from PyPI.
#[test]
fn a_changed_python3_makes_the_virtualenv_again() {
    let d = Deployment::new(&[87]);
    // A virtualenv made by hand is kept, and noted as made by vars.python3.
    let ran = d.deploy().code(0);
    assert!(
        !ran.stdout.contains("vars.python3 changed"),
        "{}",
        ran.stdout
    );
    let venv_link = d.root().join("shared/virtualenv");
    assert!(venv_link.is_symlink());
    // The same value again: the virtualenv is kept.
    d.until_a_new_release_name();
    let ran = d.deploy().code(0);
    assert!(
        !ran.stdout.contains("vars.python3 changed"),
        "{}",
        ran.stdout
    );
    assert!(venv_link.is_symlink());
    let inventory = std::fs::read_to_string(d.w.path("roadie.yaml")).unwrap();
    d.w.write(
        "roadie.yaml",
        &inventory.replace(
            "health_within: 5s",
            "health_within: 5s, python3: /usr/bin/python3",
        ),
    );
    d.until_a_new_release_name();
    d.deploy()
        .code(0)
        .stdout_has("vars.python3 changed (the virtualenv was made by python3 ");
    assert!(!venv_link.is_symlink() && venv_link.join("bin/gunicorn").exists());
    assert_eq!(
        page(d.root(), &addr(87).to_string(), None),
        "Not logged in\n"
    );
    drop(d.served);
}
