//! The real Django site (`demo/site`) installed on a test host: a shared
//! virtualenv with Django and gunicorn (made once, under a lock), the site's
//! files, its `.env`, and gunicorn serving it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use roadie::dotenv::DotEnv;

use super::{eventually, sh};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test virtualenv, created on first use from tests/requirements.txt
/// (Django, gunicorn, pytest, remote-pdb, web-pdb from PyPI; pip's usual
/// settings apply), and made again when that file changes.
pub fn venv() -> PathBuf {
    let dir = repo().join("target/test-venv");
    std::fs::create_dir_all(repo().join("target")).unwrap();
    let lock = std::fs::File::create(repo().join("target/test-venv.lock")).unwrap();
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .expect("lock the test venv");
    let requirements = repo().join("tests/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    if std::fs::read_to_string(dir.join(".ready")).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&dir);
        sh("python3", &["-m", "venv", dir.to_str().unwrap()], &[]);
        let pip = dir.join("bin/pip");
        sh(
            pip.to_str().unwrap(),
            &["install", "-q", "-r", requirements.to_str().unwrap()],
            &[],
        );
        std::fs::write(dir.join(".ready"), wanted).unwrap();
    }
    dir
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
