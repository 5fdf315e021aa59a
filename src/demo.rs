//! `roadie demo`: the main job on a built-in default. It brings up sandbox
//! hosts (a staging one and a protected production one), installs the small
//! Django site that ships with roadie on the staging host, serves it, and
//! walks through the fixture flow a functional test uses: the site's `.env`
//! (masked), `create_session` giving a session key, a request with that
//! cookie showing who is logged in, `flush` logging them out, and the
//! safeguards refusing the same on production. Then it cleans up.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use console::style;

use crate::command::{RemoteCommand, quote_path};
use crate::dotenv::{DotEnv, mask};
use crate::error::Error;
use crate::project::Project;
use crate::sandbox::environment::{Options, Sandbox};
use crate::ssh::{Expect, Session};

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
pub async fn run(keep: bool) -> Result<(), Error> {
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
        vars: vec![(
            "site".into(),
            format!("\"{}/sites/{{{{ host }}}}\"", dir.display()),
        )],
    })?;
    let result = walk_through(
        &dir,
        state.hosts[0].address,
        state.production.as_ref().map(|p| p.address),
    )
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

    say("Installing the demo Django site on the staging host");
    install_site(session, &site, address).await?;

    say("The site's .env on the server (secrets masked)");
    show("roadie env sandbox");
    let env_text = session
        .read_file(&format!("{site}/.env"))
        .await?
        .unwrap_or_default();
    for (key, value) in DotEnv::parse(&String::from_utf8_lossy(&env_text)).entries() {
        println!("{key}={}", mask(key, value));
    }

    say("Migrating and serving it (gunicorn)");
    show("roadie task sandbox migrate");
    staging.task("migrate").run().await?;
    let port = serve(session, &site, address).await?;
    println!("http://{address}:{port}/");

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
        get(address, port, Some(&key))?.trim()
    );

    say("Resetting the database between tests");
    show("roadie task sandbox flush");
    staging.task("flush").run().await?;
    println!(
        "GET / with the same cookie  ->  {}",
        get(address, port, Some(&key))?.trim()
    );

    debug_a_failing_test(&project, session, &site).await?;

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
            quote_path(&format!("{site}/gunicorn.pid"))
        )))
        .await?;
    staging.close().await;
    Ok(())
}

async fn install_site(session: &Session, site: &str, address: Ipv4Addr) -> Result<(), Error> {
    for (path, contents) in SITE {
        let remote = format!("{site}/{path}");
        let parent = remote
            .rsplit_once('/')
            .map_or(".", |(dir, _)| dir)
            .to_owned();
        check(session, &format!("mkdir -p -- {}", quote_path(&parent))).await?;
        session
            .write_file(
                &remote,
                contents.as_bytes(),
                &Expect::Anything,
                0o644,
                false,
            )
            .await?;
    }
    println!("uploaded {} files", SITE.len());
    show(
        "python3 -m venv virtualenv && virtualenv/bin/pip install -r requirements.txt   (on the server)",
    );
    check(
        session,
        &format!(
            "cd {} && python3 -m venv virtualenv && \
             virtualenv/bin/pip install -q --disable-pip-version-check -r requirements.txt pytest",
            quote_path(site)
        ),
    )
    .await?;
    // A first deploy's .env: a generated secret key, the site's name.
    let mut env = DotEnv::default();
    for (key, value) in [
        ("DJANGO_DEBUG_FALSE", "y".to_owned()),
        ("SITENAME", address.to_string()),
    ] {
        env.set(key, &value)
            .map_err(|e| Error::Usage(format!("{key}: {e}")))?;
    }
    env.ensure_secret("DJANGO_SECRET_KEY");
    session
        .write_file(
            &format!("{site}/.env"),
            env.to_string().as_bytes(),
            &Expect::Anything,
            0o600,
            false,
        )
        .await?;
    Ok(())
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
    let intent = crate::guard::Intent::default();
    let link = crate::tunnel::Link::connect(session.host(), &intent, events).await?;
    let remote = crate::tunnel::Remote {
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

/// Run `script` and insist that it works.
async fn check(session: &Session, script: &str) -> Result<(), Error> {
    let output = session.run(&RemoteCommand::shell(script)).await?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::Remote {
        host: session.host().label.clone(),
        message: format!(
            "`{script}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

/// Start gunicorn on the server with the site's .env, as a process manager
/// would; the port it listens on.
async fn serve(session: &Session, site: &str, address: Ipv4Addr) -> Result<u16, Error> {
    let port = crate::sandbox::free_port(&[address])?;
    check(
        session,
        &format!(
            "cd {} && set -a && . ./.env && set +a && virtualenv/bin/gunicorn --daemon --pid gunicorn.pid \
             --bind {address}:{port} --workers 1 superlists.wsgi:application",
            quote_path(site)
        ),
    )
    .await?;
    let started = Instant::now();
    while TcpStream::connect((address, port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(Error::Sandbox(format!(
                "the site did not start on {address}:{port}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(port)
}

/// `GET /` on the site; the response body.
fn get(address: Ipv4Addr, port: u16, session_key: Option<&str>) -> Result<String, Error> {
    let io = |e| Error::io(format!("http://{address}:{port}/"), e);
    let mut stream = TcpStream::connect((address, port)).map_err(io)?;
    let cookie = session_key
        .map(|k| format!("Cookie: sessionid={k}\r\n"))
        .unwrap_or_default();
    write!(stream, "GET / HTTP/1.0\r\nHost: {address}\r\n{cookie}\r\n").map_err(io)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(io)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(_, body)| body.to_owned()))
}
