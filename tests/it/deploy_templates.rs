//! The server templates in deploy/, rendered with sample values, are accepted
//! by what reads them on the server: `nginx -t` for the nginx site,
//! `systemd-analyze verify` for the gunicorn unit, roadie's own parser for
//! the .env skeleton. A missing tool fails the test, naming its package.

use std::collections::BTreeSet;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use roadie::dotenv::{DotEnv, Line};
use serde_json::{Map, Value};

use crate::support::current_user;

const HOST: &str = "staging.example.org";
const WSGI: &str = "superlists.wsgi:application";
/// The name the unit is installed under, which systemd-analyze reports by.
const UNIT: &str = "gunicorn-staging.example.org.service";

/// Each template and the variables it may use.
const TEMPLATES: [(&str, &[&str]); 3] = [
    ("gunicorn.service", &["host", "site_root", "user", "wsgi"]),
    ("nginx.conf", &["host", "site_root"]),
    ("env", &["host", "site_root"]),
];

/// The sample values, for a site in `site_root`.
fn sample(site_root: &Path) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("host".into(), HOST.into());
    context.insert(
        "site_root".into(),
        site_root.to_str().expect("a UTF-8 temp dir").into(),
    );
    context.insert("user".into(), current_user().into());
    context.insert("wsgi".into(), WSGI.into());
    context
}

/// Where the sample site lives inside `dir`.
fn site_root(dir: &Path) -> PathBuf {
    dir.join("sites").join(HOST)
}

/// The text of deploy/`name`.
fn template(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// deploy/`name` rendered as the deploy playbook renders it.
fn render(name: &str, context: &Map<String, Value>) -> String {
    roadie::template::render(&template(name), context)
        .unwrap_or_else(|e| panic!("deploy/{name} does not render: {e:#}"))
}

/// Where `program` is: on PATH, or in /usr/sbin or /sbin (where nginx is,
/// and PATH may not look). A missing one fails the test, naming the Debian
/// package to install.
fn tool(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed: install the Debian package `{package}` \
                 (apt-get install {package}; ./test does)"
            )
        })
}

/// The variables a template's header documents, each with its description
/// (continuation lines included): the header's lines `#   NAME  WHAT`.
fn documented(text: &str) -> Vec<(String, String)> {
    let mut variables: Vec<(String, String)> = Vec::new();
    let mut in_entry = false;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some(rest) = line.strip_prefix("#   ") else {
            in_entry = false;
            continue;
        };
        if rest.starts_with(char::is_whitespace) {
            if in_entry && let Some((_, what)) = variables.last_mut() {
                what.push(' ');
                what.push_str(rest.trim());
            }
        } else if let Some((name, what)) = rest.split_once("  ") {
            variables.push((name.to_owned(), what.trim().to_owned()));
            in_entry = true;
        }
    }
    variables
}

#[test]
fn each_template_uses_and_documents_exactly_its_variables() {
    for (name, allowed) in TEMPLATES {
        let text = template(name);
        let allowed: BTreeSet<String> = allowed.iter().map(|v| (*v).to_owned()).collect();
        let used: BTreeSet<String> = roadie::template::environment()
            .template_from_str(&text)
            .unwrap_or_else(|e| panic!("deploy/{name}: {e:#}"))
            .undeclared_variables(false)
            .into_iter()
            .collect();
        assert_eq!(used, allowed, "the variables deploy/{name} uses");
        let documented = documented(&text);
        let names: BTreeSet<String> = documented.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, allowed, "the variables deploy/{name}'s header names");
        for (variable, what) in &documented {
            assert!(
                what.contains("e.g. "),
                "deploy/{name}: `{variable}` has no example: {what}"
            );
        }
    }
}

/// What `nginx -t` made of a main config including `site` (all of it in
/// `dir`): whether it passed, and what it said.
fn nginx_check(dir: &Path, site: &str) -> (bool, String) {
    let nginx = tool("nginx", "nginx");
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::write(prefix.join("site.conf"), site).unwrap();
    let p = prefix.display();
    let main = format!(
        "pid {p}/nginx.pid;\n\
         error_log {p}/error.log;\n\
         events {{}}\n\
         http {{\n\
         \x20   access_log {p}/access.log;\n\
         \x20   client_body_temp_path {p}/client_body;\n\
         \x20   proxy_temp_path {p}/proxy;\n\
         \x20   fastcgi_temp_path {p}/fastcgi;\n\
         \x20   uwsgi_temp_path {p}/uwsgi;\n\
         \x20   scgi_temp_path {p}/scgi;\n\
         \x20   include site.conf;\n\
         }}\n"
    );
    let conf = prefix.join("nginx.conf");
    std::fs::write(&conf, main).unwrap();
    // -e: the log nginx opens before it has read the config, here too.
    let output = Command::new(&nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .arg("-e")
        .arg(prefix.join("error.log"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", nginx.display()));
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), said)
}

#[test]
fn nginx_accepts_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let site = render("nginx.conf", &sample(&site_root(dir.path())));
    let (passed, said) = nginx_check(dir.path(), &site);
    assert!(passed, "nginx -t refused the site:\n{said}\nsite:\n{site}");
    assert!(said.contains("test is successful"), "{said}");
}

#[test]
fn nginx_refuses_a_broken_site() {
    let dir = tempfile::tempdir().unwrap();
    let context = sample(&site_root(dir.path()));
    let site = render("nginx.conf", &context);
    let broken = site.replacen("listen 80;", "listen 80", 1);
    assert_ne!(broken, site, "the site has no `listen 80;` to break");
    let (passed, said) = nginx_check(dir.path(), &broken);
    assert!(
        !passed,
        "nginx -t took a directive missing its `;`:\n{broken}"
    );
    assert!(said.contains("site.conf"), "{said}");

    // Values go in unquoted: a site_root with a space breaks the site.
    let mut context = context;
    context.insert("site_root".into(), "/srv/my site".into());
    let (passed, said) = nginx_check(dir.path(), &render("nginx.conf", &context));
    assert!(!passed, "nginx -t took a path with a space:\n{said}");
}

/// What `systemd-analyze verify` made of `unit`, installed in `dir` as
/// [`UNIT`].
struct Verified {
    passed: bool,
    /// Its lines about this unit (it may talk about the host's own units too).
    about_unit: Vec<String>,
    output: String,
}

impl Verified {
    fn clean(&self) -> bool {
        self.passed && self.about_unit.is_empty()
    }
}

fn systemd_check(dir: &Path, unit: &str) -> Verified {
    let analyze = tool("systemd-analyze", "systemd");
    let units = dir.join("units");
    std::fs::create_dir_all(&units).unwrap();
    let path = units.join(UNIT);
    std::fs::write(&path, unit).unwrap();
    // No systemd needs to be running (in a container it is not): verify
    // loads the unit into a manager of its own. The environment makes sure
    // its warnings come out on stderr, whatever the caller's says.
    let output = Command::new(&analyze)
        .args([
            "verify",
            "--man=no",
            "--generators=no",
            "--recursive-errors=no",
        ])
        .arg(&path)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .env("SYSTEMD_LOG_TARGET", "console")
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", analyze.display()));
    let output_text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Verified {
        passed: output.status.success(),
        about_unit: output_text
            .lines()
            .filter(|l| l.contains(UNIT))
            .map(str::to_owned)
            .collect(),
        output: output_text,
    }
}

/// The site as a deploy leaves it, as far as the unit looks: `current` a
/// release whose `virtualenv` links to the shared one, which has a
/// `gunicorn` (a stand-in: verify only checks that it can be run), and
/// the shared `.env`.
fn deployed_site(site_root: &Path) {
    let shared = site_root.join("shared");
    let bin = shared.join("virtualenv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gunicorn = bin.join("gunicorn");
    std::fs::write(&gunicorn, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&gunicorn, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(shared.join(".env"), "DJANGO_DEBUG_FALSE=y\n").unwrap();
    let release = site_root.join("releases/20250101120000");
    std::fs::create_dir_all(&release).unwrap();
    symlink(shared.join("virtualenv"), release.join("virtualenv")).unwrap();
    symlink(shared.join(".env"), release.join(".env")).unwrap();
    symlink("releases/20250101120000", site_root.join("current")).unwrap();
}

#[test]
fn systemd_accepts_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let root = site_root(dir.path());
    deployed_site(&root);
    let unit = render("gunicorn.service", &sample(&root));
    let verified = systemd_check(dir.path(), &unit);
    assert!(
        verified.clean(),
        "systemd-analyze verify: exit {}, about {UNIT}: {:#?}\nall it said:\n{}\nunit:\n{unit}",
        if verified.passed { "0" } else { "non-zero" },
        verified.about_unit,
        verified.output
    );
}

#[test]
fn systemd_refuses_a_broken_unit() {
    let dir = tempfile::tempdir().unwrap();
    let root = site_root(dir.path());
    deployed_site(&root);
    let unit = render("gunicorn.service", &sample(&root));

    // A value systemd does not know: it says so, and ignores the setting.
    let broken = unit.replacen("Restart=on-failure", "Restart=sometimes", 1);
    assert_ne!(
        broken, unit,
        "the unit has no `Restart=on-failure` to break"
    );
    let verified = systemd_check(dir.path(), &broken);
    assert!(!verified.clean(), "no warning:\n{}", verified.output);
    assert!(
        verified.about_unit.iter().any(|l| l.contains("sometimes")),
        "{}",
        verified.output
    );

    // gunicorn missing from the virtualenv: verify fails.
    std::fs::remove_file(root.join("shared/virtualenv/bin/gunicorn")).unwrap();
    let verified = systemd_check(dir.path(), &unit);
    assert!(!verified.passed, "{}", verified.output);
    assert!(!verified.clean());
}

#[test]
fn env_skeleton_has_the_three_settings_as_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = site_root(dir.path());
    let text = render("env", &sample(&root));
    let env = DotEnv::parse(&text);
    let malformed: Vec<(usize, &str)> = env.malformed().collect();
    assert!(
        malformed.is_empty(),
        "malformed lines {malformed:?} in:\n{text}"
    );
    let db_path = format!("{}/shared/db.sqlite3", root.display());
    assert_eq!(
        env.entries().collect::<Vec<_>>(),
        [
            ("DJANGO_DEBUG_FALSE", "y"),
            ("DJANGO_ALLOWED_HOST", HOST),
            ("DJANGO_DB_PATH", db_path.as_str()),
        ]
    );
    // systemd's EnvironmentFile= reads the file too: each entry a bare
    // KEY=VALUE (no `export`, quotes or trailing comment), so both read the
    // same values.
    for line in &env.lines {
        if let Line::Entry {
            key, value, raw, ..
        } = line
        {
            assert_eq!(raw.trim_end(), format!("{key}={value}"));
        }
    }
}
