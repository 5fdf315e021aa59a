//! `roadie demo`: the main job on a built-in default. It brings up sandbox
//! hosts (a staging one and a protected production one), deploys the small
//! Django site that ships with roadie to the staging host with the `deploy`
//! task, and walks through what a functional test suite does with it: the
//! site's `.env` (masked), `create_session` giving a session key, a request
//! with that cookie showing who is logged in, `flush` logging them out, a
//! failing test debugged through a tunnel, a new release and a rollback,
//! and the safeguards refusing production. Then it cleans up.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use console::style;

use crate::command::{RemoteCommand, quote_path};
use crate::dotenv::{DotEnv, mask};
use crate::error::Error;
use crate::playbook::HttpVia;
use crate::project::Project;
use crate::sandbox::environment::{Options, Sandbox};
use crate::ssh::Session;

/// The demo site's files: (path in the site, contents).
const SITE: &[(&str, &str)] = &[
    ("manage.py", include_str!("../demo/site/manage.py")),
    (
        "requirements.txt",
        include_str!("../demo/site/requirements.txt"),
    ),
    ("superlists/__init__.py", ""),
    (
        "superlists/settings.py",
        include_str!("../demo/site/superlists/settings.py"),
    ),
    (
        "superlists/urls.py",
        include_str!("../demo/site/superlists/urls.py"),
    ),
    (
        "superlists/wsgi.py",
        include_str!("../demo/site/superlists/wsgi.py"),
    ),
    ("accounts/__init__.py", ""),
    (
        "accounts/apps.py",
        include_str!("../demo/site/accounts/apps.py"),
    ),
    (
        "accounts/models.py",
        include_str!("../demo/site/accounts/models.py"),
    ),
    ("accounts/migrations/__init__.py", ""),
    (
        "accounts/migrations/0001_initial.py",
        include_str!("../demo/site/accounts/migrations/0001_initial.py"),
    ),
    ("accounts/management/__init__.py", ""),
    ("accounts/management/commands/__init__.py", ""),
    (
        "functional_tests/test_basket.py",
        include_str!("../demo/site/functional_tests/test_basket.py"),
    ),
    ("roadie_pdb.py", crate::debug::SHIM),
    (
        "accounts/management/commands/create_session.py",
        include_str!("../demo/site/accounts/management/commands/create_session.py"),
    ),
];

const EMAIL: &str = "edith@example.com";

fn say(text: &str) {
    println!("\n{} {text}", style("==>").cyan().bold());
}

fn show(command: &str) {
    println!("{}", style(format!("$ {command}")).dim());
}

/// A directory of its own for the demo, removed at the end.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run the demo; `keep` leaves everything running for a look around.
pub(crate) async fn run(keep: bool) -> Result<(), Error> {
    crate::sandbox::sshd_path()?;
    let dir = std::env::temp_dir().join(format!("roadie-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let work = WorkDir(dir.clone());
    let sandbox = Sandbox::new(dir.join("roadie.yaml"));
    say("Starting a sandbox: a staging host and a protected production host (real sshd servers)");
    show("roadie sandbox up --hosts 1 --production");
    let state = sandbox.up(&Options {
        hosts: 1,
        production: true,
        vars: vec![("wsgi".into(), "superlists.wsgi:application".into())],
    })?;
    // Boxed: the walk holds sessions and hosts across many steps.
    let result = Box::pin(walk_through(
        &dir,
        state.hosts[0].address,
        state.production.as_ref().map(|p| p.address),
    ))
    .await;
    if keep && result.is_ok() {
        println!(
            "\nLeft running in {} (roadie sandbox down there to stop it).",
            dir.display()
        );
        std::mem::forget(work);
        return Ok(());
    }
    say("Cleaning up");
    let _ = sandbox.down();
    drop(work);
    result
}

async fn walk_through(
    dir: &Path,
    address: Ipv4Addr,
    production: Option<Ipv4Addr>,
) -> Result<(), Error> {
    let project = Project::load(&dir.join("roadie.yaml"))?;
    let staging = project.connect("sandbox").await?;
    let session = staging.session();
    let site = crate::template::render_host("{{ site }}", session.host())?;
    println!("staging host {} (site in {site})", session.host().label);

    say("Deploying the demo Django site (a local git repository) to the staging host");
    let repo = dir.join("demo-site");
    write_repository(&repo)?;
    show(&format!(
        "roadie task sandbox deploy --param repo={}",
        repo.display()
    ));
    deploy(&staging, &repo).await?;

    say("The site's .env on the server (secrets masked)");
    show("roadie env sandbox");
    let env_text = session
        .read_file(&format!("{site}/.env"))
        .await?
        .unwrap_or_default();
    for (key, value) in DotEnv::parse(&String::from_utf8_lossy(&env_text)).entries() {
        println!("{key}={}", mask(key, value));
    }

    let web = Web {
        session,
        socket: HttpVia::Socket(format!("{site}/shared/gunicorn.sock")),
        host: address.to_string(),
    };
    say(&format!("Creating a logged-in session for {EMAIL}"));
    show(&format!(
        "roadie task sandbox create_session --param email={EMAIL}"
    ));
    let created = staging
        .task("create_session")
        .param("email", EMAIL)
        .run()
        .await?;
    let key = created.captured("session_key")?.to_owned();
    println!("session_key = {key}");
    println!(
        "GET / with Cookie: sessionid={key}  ->  {}",
        web.get(Some(&key)).await?
    );

    say("Resetting the database between tests");
    show("roadie task sandbox flush");
    staging.task("flush").run().await?;
    println!(
        "GET / with the same cookie  ->  {}",
        web.get(Some(&key)).await?
    );

    debug_a_failing_test(&project, session, &format!("{site}/current")).await?;

    say("A new release, then a rollback");
    let urls = repo.join("superlists/urls.py");
    let text = std::fs::read_to_string(&urls)
        .map_err(|e| Error::io(format!("cannot read {}", urls.display()), e))?;
    std::fs::write(
        &urls,
        text.replace("Not logged in", "Not logged in (release 2)"),
    )
    .map_err(|e| Error::io(format!("cannot write {}", urls.display()), e))?;
    git(&repo, &["commit", "-q", "-a", "-m", "release 2"])?;
    show("roadie task sandbox deploy");
    deploy(&staging, &repo).await?;
    println!("GET /  ->  {}", web.get(None).await?);
    show("roadie task sandbox rollback");
    let before = live_release(&staging).await?;
    staging.task("rollback").run().await?.ok()?;
    println!("live: {} (was {before})", live_release(&staging).await?);
    println!("GET /  ->  {}", web.get(None).await?);

    if let Some(production) = production {
        say(&format!(
            "The same on production ({production}) is refused before anything is sent"
        ));
        show("roadie task production flush");
        // A fixture connection is refused before logging in.
        match project.connect("production").await {
            Err(Error::Refused(refusal)) => {
                println!("{} {refusal}", style("refused:").red().bold());
            }
            Err(other) => return Err(other),
            Ok(prod) => {
                prod.close().await;
                return Err(Error::Sandbox(
                    "production was not refused: this is a bug".into(),
                ));
            }
        }
    }
    session
        .run(&RemoteCommand::shell(format!(
            "kill $(cat {}) 2>/dev/null; true",
            quote_path(&format!("{site}/shared/gunicorn.pid"))
        )))
        .await?;
    staging.close().await;
    Ok(())
}

/// The demo site as a git repository at `repo`, one commit.
fn write_repository(repo: &Path) -> Result<(), Error> {
    for (path, contents) in SITE {
        let file = repo.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        std::fs::write(&file, contents)
            .map_err(|e| Error::io(format!("cannot write {}", file.display()), e))?;
    }
    git(repo, &["init", "-q"])?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "the demo site"])
}

fn git(repo: &Path, args: &[&str]) -> Result<(), Error> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=roadie demo",
            "-c",
            "user.email=demo@example.com",
        ])
        .args(args)
        .output()
        .map_err(|e| Error::io("roadie demo deploys with git: install it", e))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Sandbox(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// The `deploy` task, saying where the release went.
async fn deploy(staging: &crate::project::Staging, repo: &Path) -> Result<(), Error> {
    let started = Instant::now();
    let result = staging
        .task("deploy")
        .param("repo", repo.display().to_string())
        .run()
        .await?;
    result.ok()?;
    println!(
        "live: {} (deployed in {:.1}s)",
        live_release(staging).await?,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The release `current` points to: `releases/NAME`.
async fn live_release(staging: &crate::project::Staging) -> Result<String, Error> {
    let live = staging
        .session()
        .run(&RemoteCommand::shell(format!(
            "readlink {}/current",
            quote_path(&crate::template::render_host("{{ site }}", staging.host())?)
        )))
        .await?;
    Ok(live.stdout_text())
}

/// The site, as a browser would see it, through the SSH connection.
struct Web<'a> {
    session: &'a Session,
    socket: HttpVia,
    host: String,
}

impl Web<'_> {
    /// `GET /`, with a session cookie if given: the page's text.
    async fn get(&self, session_key: Option<&str>) -> Result<String, Error> {
        let cookie = session_key.map(|k| format!("sessionid={k}"));
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", c.as_str())).collect();
        let response = crate::health::get(self.session, &self.socket, "/", &self.host, &headers)
            .await
            .map_err(|why| Error::Sandbox(format!("GET / on the site: {why}")))?;
        Ok(response.body.trim().to_owned())
    }
}

/// A failing test stops in a remote debugger on the staging host; roadie
/// finds the waiting session, tunnels to it, evaluates an expression and
/// lets the test run carry on.
async fn debug_a_failing_test(
    project: &Project,
    session: &Session,
    site: &str,
) -> Result<(), Error> {
    say("A test fails on the staging host and waits in a remote debugger; roadie finds it");
    show("roadie debug sandbox --attach -- virtualenv/bin/pytest functional_tests");
    let runner = project.connect("sandbox").await?;
    let script = format!(
        "cd {} && PYTHONPATH=. REMOTE_PDB_PORT=0 ROADIE_PDB_TIMEOUT=60 \
         virtualenv/bin/pytest -q -p no:cacheprovider functional_tests --pdb --pdbcls=roadie_pdb:RemotePdb",
        quote_path(site)
    );
    let tests = tokio::spawn(async move {
        let output = runner.session().run(&RemoteCommand::shell(script)).await;
        runner.close().await;
        output
    });
    let started = Instant::now();
    let waiting = loop {
        // Ours: other debuggers may be waiting on this machine too.
        let ours = crate::debug::discover(session)
            .await?
            .waiting
            .into_iter()
            .find(|w| w.test.as_deref().is_some_and(|t| t.contains("test_basket")));
        if let Some(found) = ours {
            break found;
        }
        if started.elapsed() > Duration::from_secs(60) || tests.is_finished() {
            return Err(Error::Sandbox(
                "the failing test never waited for a debugger".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "{} waiting: pid {}, port {}, test {}",
        waiting.kind,
        waiting.pid,
        waiting.port,
        waiting.test.as_deref().unwrap_or("?")
    );
    let (events, _ignored) = tokio::sync::mpsc::unbounded_channel();
    let intent = crate::safety::Intent::default();
    let link = crate::tunnel::Link::connect(session.host(), &intent, events).await?;
    let remote = crate::tunnel_spec::Remote {
        host: waiting.reach(),
        port: waiting.port,
    };
    let (local, forward) =
        crate::tunnel::forward(link, ([127, 0, 0, 1], 0).into(), remote, None).await?;
    show(&format!("nc {} {}", local.ip(), local.port()));
    let io = |e| Error::io(format!("the debugger at {local}"), e);
    let mut pdb = tokio::net::TcpStream::connect(local).await.map_err(io)?;
    let context = read_until(&mut pdb, "(Pdb) ").await.map_err(io)?;
    print!("{context}");
    println!("p total");
    tokio::io::AsyncWriteExt::write_all(&mut pdb, b"p total\n")
        .await
        .map_err(io)?;
    print!("{}", read_until(&mut pdb, "(Pdb) ").await.map_err(io)?);
    println!("c");
    tokio::io::AsyncWriteExt::write_all(&mut pdb, b"c\n")
        .await
        .map_err(io)?;
    let output = tests
        .await
        .map_err(|e| Error::Sandbox(format!("the test run: {e}")))??;
    forward.abort();
    let summary = String::from_utf8_lossy(&output.stdout);
    println!(
        "pytest carried on: {}",
        summary.lines().last().unwrap_or_default().trim()
    );
    Ok(())
}

async fn read_until(stream: &mut tokio::net::TcpStream, marker: &str) -> std::io::Result<String> {
    let mut text = String::new();
    let mut buffer = [0u8; 4096];
    while !text.ends_with(marker) {
        let n = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncReadExt::read(stream, &mut buffer),
        )
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    Ok(text)
}
