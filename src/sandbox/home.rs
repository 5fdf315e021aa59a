//! A home of each sandbox host's own. The sandbox logs in as the local user,
//! whose home is the same directory for every sandbox on the machine. As
//! root, each sandbox sshd runs in a mount namespace of its own where a copy
//! of `/etc/passwd` gives that user a home under `.roadie/sandbox/home/`, so
//! `~` (and `{{ home }}`) on a sandbox host is a directory of the sandbox's
//! own, seen at the same path inside and outside, and the real home is never
//! touched. Without root (or as a root that may not make a mount namespace,
//! in a container) there is none: the sandbox's own default `site` (see
//! `vars`) is what keeps projects apart then.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::write_file;
use crate::error::Error;
use crate::ssh_config::LocalUser;

/// The home of the sandbox host at `address`, under the sandbox `dir`.
pub(super) fn host_home(dir: &Path, address: Ipv4Addr) -> PathBuf {
    dir.join("home").join(address.to_string())
}

/// The launcher (see `ServerConfig::launcher`) that gives the sshd of
/// `address` its own home, with the files it needs written into `server`
/// (its directory); empty when not root, or when this root may not make a
/// mount namespace (a container without CAP_SYS_ADMIN).
pub(super) fn launcher(dir: &Path, server: &Path, address: Ipv4Addr) -> Result<Vec<String>, Error> {
    if !nix::unistd::geteuid().is_root() || !may_unshare() {
        return Ok(Vec::new());
    }
    let home = host_home(dir, address);
    std::fs::create_dir_all(&home)
        .map_err(|e| Error::io(format!("cannot create {}", home.display()), e))?;
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| Error::io("cannot read /etc/passwd", e))?;
    let user = LocalUser::current();
    let copy = server.join("passwd");
    write_file(
        &copy,
        with_home(&passwd, &user.name, &home.to_string_lossy()).as_bytes(),
        0o644,
    )?;
    // The namespace's mounts are private (said, not left to unshare's
    // default, which older util-linux did not have): nothing leaks out.
    let script = "mount --bind \"$1\" /etc/passwd && shift && exec \"$@\"";
    Ok(PRIVATE_MOUNTS
        .iter()
        .chain(&["--", "sh", "-c", script, "sh"])
        .map(|s| (*s).to_owned())
        .chain([copy.display().to_string()])
        .collect())
}

/// A mount namespace whose mounts stay inside it.
const PRIVATE_MOUNTS: &[&str] = &["unshare", "--mount", "--propagation", "private"];

/// Whether a private mount namespace can be made here (root in a container
/// often may not).
fn may_unshare() -> bool {
    std::process::Command::new(PRIVATE_MOUNTS[0])
        .args(&PRIVATE_MOUNTS[1..])
        .arg("true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `passwd` (the text of /etc/passwd) with `user`'s home set to `home`.
fn with_home(passwd: &str, user: &str, home: &str) -> String {
    let mut out = String::with_capacity(passwd.len() + home.len());
    for line in passwd.lines() {
        let mut fields: Vec<&str> = line.split(':').collect();
        if fields.len() == 7 && fields[0] == user {
            fields[5] = home;
        }
        out.push_str(&fields.join(":"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_users_home_changes() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nme:x:1000:1000:Me:/home/me:/bin/sh\n#odd\n";
        assert_eq!(
            with_home(passwd, "me", "/p/.roadie/sandbox/home/127.0.0.2"),
            "root:x:0:0:root:/root:/bin/bash\nme:x:1000:1000:Me:/p/.roadie/sandbox/home/127.0.0.2:/bin/sh\n#odd\n"
        );
    }
}
