//! A real PostgreSQL server (Debian's `postgresql`, the version installed) on a
//! namespace host: a cluster of its own in the test's temp dir, run by the
//! postgres account, listening on 127.0.0.1 port 5432 inside the namespace
//! only (and on a Unix socket in its data directory); stopped on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::netns::NetHost;
use super::sh;

/// Where Debian puts each PostgreSQL version's programs (`VERSION/bin`).
const VERSIONS: &str = "/usr/lib/postgresql";

/// The programs of the highest PostgreSQL version installed.
pub fn bin() -> PathBuf {
    let highest = std::fs::read_dir(VERSIONS)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match highest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed (no {VERSIONS}/VERSION/bin/postgres): apt-get install postgresql"
        ),
    }
}

pub const PORT: u16 = 5432;

pub struct Postgres {
    namespace: String,
    data: PathBuf,
    user: String,
    /// The programs of the version it runs.
    bin: PathBuf,
}

impl Postgres {
    /// A new cluster in `dir` whose superuser `user` logs in over TCP with
    /// `password`, with a database named after the user, started on `host`.
    pub fn start(host: &NetHost, dir: &Path, user: &str, password: &str) -> Postgres {
        let bin = bin();
        let account = nix::unistd::User::from_name("postgres")
            .unwrap()
            .expect("the postgres account (package postgresql)");
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let password_file = dir.join("pgpassword");
        std::fs::write(&password_file, password).unwrap();
        for path in [&data, &password_file] {
            nix::unistd::chown(path, Some(account.uid), Some(account.gid)).unwrap();
        }
        let server = Postgres {
            namespace: host.namespace.clone(),
            data,
            user: user.to_owned(),
            bin,
        };
        let data = server.data.to_str().unwrap();
        server.run(
            "initdb",
            &[
                "-D",
                data,
                "-U",
                user,
                &format!("--pwfile={}", password_file.display()),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={PORT} -c unix_socket_directories='{data}'"
        );
        let log = format!("{data}/server.log");
        // -w: returns once the server accepts connections.
        server.run(
            "pg_ctl",
            &[
                "-D", data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        );
        server.sql("postgres", &format!("create database \"{user}\""));
        server
    }

    /// A PostgreSQL program run as postgres inside the host's namespace.
    fn run(&self, program: &str, args: &[&str]) -> String {
        let program = self.bin.join(program).display().to_string();
        let mut all = vec![
            "netns",
            "exec",
            &self.namespace,
            "runuser",
            "-u",
            "postgres",
            "--",
            &program,
        ];
        all.extend_from_slice(args);
        sh("ip", &all, &[])
    }

    /// The rows `query` gives in `database`, as `psql -tA` prints them, asked
    /// on the server itself (its Unix socket), not through any tunnel.
    pub fn sql(&self, database: &str, query: &str) -> String {
        let data = self.data.to_str().unwrap();
        self.run(
            "psql",
            &[
                "-h",
                data,
                "-p",
                &PORT.to_string(),
                "-U",
                &self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                query,
            ],
        )
        .trim()
        .to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Signals only: works even if the namespace went first.
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
