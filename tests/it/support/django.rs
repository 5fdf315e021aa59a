//! The real Django site (`demo/site`) installed on a test host: a shared
//! virtualenv with Django and gunicorn (made once, under a lock), the site's
//! files, its `.env`, and gunicorn serving it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use roadie::dotenv::DotEnv;

use super::{World, addr, eventually, sh};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test virtualenv, created on first use from tests/requirements.txt
/// (Django, gunicorn, pytest, remote-pdb, web-pdb from PyPI; pip's usual
/// settings apply), and made again when that file changes.
pub fn venv() -> PathBuf {
    venv_of("test-venv", "tests/requirements.txt")
}

/// The virtualenv `target/NAME` with the packages of `requirements` (a
/// path in the repository), made under a lock on first use and again when
/// that file changes.
pub fn venv_of(name: &str, requirements: &str) -> PathBuf {
    let dir = repo().join("target").join(name);
    let requirements = repo().join(requirements);
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    locked(name, || {
        if std::fs::read_to_string(dir.join(".ready")).ok().as_deref() != Some(wanted.as_str()) {
            make_venv(&dir, &["-r", requirements.to_str().unwrap()]);
            std::fs::write(dir.join(".ready"), &wanted).unwrap();
        }
    });
    dir
}

/// `what()` done while holding the lock `target/NAME.lock`, which every
/// test process takes to make or change `target/NAME`.
pub fn locked<T>(name: &str, what: impl FnOnce() -> T) -> T {
    std::fs::create_dir_all(repo().join("target")).unwrap();
    let lock = std::fs::File::create(repo().join(format!("target/{name}.lock"))).unwrap();
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .expect("lock a virtualenv of the tests");
    what()
}

/// A new virtualenv in `dir` (what was there removed), `pip install`ed
/// with `install` (arguments to pip install).
pub fn make_venv(dir: &Path, install: &[&str]) {
    let _ = std::fs::remove_dir_all(dir);
    sh("python3", &["-m", "venv", dir.to_str().unwrap()], &[]);
    let pip = dir.join("bin/pip");
    let mut args = vec!["install", "-q"];
    args.extend_from_slice(install);
    sh(pip.to_str().unwrap(), &args, &[]);
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == "db.sqlite3" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Install the demo site in `dir` with `env` as its `.env`, its virtualenv
/// a link to the shared test one.
pub fn install(dir: &Path, env: &str) {
    copy_dir(&repo().join("demo/site"), dir);
    std::os::unix::fs::symlink(venv(), dir.join("virtualenv")).unwrap();
    std::fs::write(dir.join(".env"), env).unwrap();
}

/// gunicorn serving the site in `dir` on `address`, with the site's `.env`
/// in its environment, as a process manager would; stopped on drop.
pub struct Gunicorn {
    child: Child,
    pub address: Ipv4Addr,
    pub port: u16,
}

impl Gunicorn {
    pub fn start(dir: &Path, address: Ipv4Addr) -> Gunicorn {
        let port = roadie::sandbox::free_port(&[address]).unwrap();
        let env = DotEnv::parse(&std::fs::read_to_string(dir.join(".env")).unwrap());
        let mut command = Command::new(dir.join("virtualenv/bin/gunicorn"));
        command
            .args([
                "--bind",
                &format!("{address}:{port}"),
                "--workers",
                "1",
                "superlists.wsgi:application",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env.entries() {
            command.env(key, value);
        }
        let child = command.spawn().expect("gunicorn from the test venv");
        eventually("gunicorn to listen", Duration::from_secs(30), || {
            TcpStream::connect((address, port))
        });
        Gunicorn {
            child,
            address,
            port,
        }
    }

    /// The body of `GET /`, with a session cookie if given.
    pub fn get(&self, session_key: Option<&str>) -> String {
        let mut stream = TcpStream::connect((self.address, self.port)).unwrap();
        let cookie = session_key
            .map(|k| format!("Cookie: sessionid={k}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET / HTTP/1.0\r\nHost: {}\r\n{cookie}\r\n",
            self.address
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{head}"
        );
        body.to_owned()
    }
}

impl Drop for Gunicorn {
    fn drop(&mut self) {
        // TERM lets the master stop its worker too.
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// The `.env` of the demo site in tests (`@HOST@` is the host).
pub const ENV: &str = "# the site's settings\nDJANGO_DEBUG_FALSE=y\nDJANGO_SECRET_KEY=s3cret-key-value\nSITENAME=@HOST@\n";

/// A staging host (127.0.0.`last`) with the demo site installed (and
/// migrated) under the world's directory, `staging` in its inventory.
pub struct Staging {
    pub w: World,
    pub site: PathBuf,
    pub host: std::net::Ipv4Addr,
}

impl Staging {
    pub fn new(last: u8) -> Staging {
        let mut w = World::new();
        let host = addr(last);
        let s = w.server(&[host]);
        let entry = w.entries(s)[0].clone();
        let sites = w.path("sites");
        w.inventory(
            "staging",
            std::slice::from_ref(&entry),
            &format!(
                "    vars: {{site: \"{}/{{{{ host }}}}\"}}\n",
                sites.display()
            ),
        );
        let site = sites.join(host.to_string());
        install(&site, &ENV.replace("@HOST@", &host.to_string()));
        w.roadie()
            .args(["task", "staging", "migrate"])
            .run()
            .code(0);
        Staging { w, site, host }
    }

    /// A session key for `email` (`roadie --json task staging create_session`).
    pub fn create_session(&self, email: &str) -> String {
        let ran = self
            .w
            .roadie()
            .args([
                "--json",
                "task",
                "staging",
                "create_session",
                "--param",
                &format!("email={email}"),
            ])
            .run()
            .code(0);
        let events = ran.events();
        let host = events.iter().find(|e| e["event"] == "host").unwrap();
        assert_eq!(host["task"], "create_session");
        host["captured"]["session_key"].as_str().unwrap().to_owned()
    }
}
