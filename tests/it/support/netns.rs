//! Hosts with addresses of their own: network namespaces on a private bridge,
//! each running its own sshd with its own host key, hostname and data (a
//! per-host directory bind-mounted over a common path). Needs root, as CI has.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use roadie::sandbox::{Server, ServerConfig};

use super::is_root;

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2)")
        .status
        .success()
}

fn ip_ok(args: &[&str]) {
    assert!(ip(args), "ip {args:?} failed");
}

/// A private /24 on a bridge in the root namespace (x.x.x.1), removed on drop.
pub struct Lan {
    pub subnet: u8,
    bridge: String,
    namespaces: Vec<String>,
}

/// One namespace host on a [`Lan`].
#[derive(Debug, Clone)]
pub struct NetHost {
    pub namespace: String,
    pub address: Ipv4Addr,
    /// The namespace's end of its veth pair.
    link: String,
}

impl Lan {
    pub fn new() -> Lan {
        assert!(is_root(), "network namespaces need root (CI runs as root)");
        for _ in 0..100 {
            let subnet: u8 = rand::random_range(10..=250);
            let bridge = format!("rdbr{subnet}");
            if ip(&["link", "add", &bridge, "type", "bridge"]) {
                ip_ok(&[
                    "addr",
                    "add",
                    &format!("10.231.{subnet}.1/24"),
                    "dev",
                    &bridge,
                ]);
                ip_ok(&["link", "set", &bridge, "up"]);
                return Lan {
                    subnet,
                    bridge,
                    namespaces: Vec::new(),
                };
            }
        }
        panic!("no free bridge name for a test network");
    }

    /// A new namespace with an address on the LAN and no default route.
    pub fn host(&mut self) -> NetHost {
        let index = u8::try_from(self.namespaces.len() + 2).unwrap();
        let namespace = format!("rd{}n{index}", self.subnet);
        let (outside, inside) = (
            format!("rdv{}x{index}", self.subnet),
            format!("rdp{}x{index}", self.subnet),
        );
        let address = Ipv4Addr::new(10, 231, self.subnet, index);
        // This LAN owns the subnet (its bridge was made): a namespace or veth
        // of these names is left over from an earlier owner whose test was
        // killed, or still being torn down by the kernel. Ours now.
        ip(&["netns", "del", &namespace]);
        ip(&["link", "del", &outside]);
        ip_ok(&["netns", "add", &namespace]);
        self.namespaces.push(namespace.clone());
        ip_ok(&[
            "link", "add", &outside, "type", "veth", "peer", "name", &inside,
        ]);
        ip_ok(&["link", "set", &outside, "master", &self.bridge]);
        ip_ok(&["link", "set", &outside, "up"]);
        ip_ok(&["link", "set", &inside, "netns", &namespace]);
        ip_ok(&[
            "-n",
            &namespace,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            &inside,
        ]);
        ip_ok(&["-n", &namespace, "link", "set", &inside, "up"]);
        ip_ok(&["-n", &namespace, "link", "set", "lo", "up"]);
        NetHost {
            namespace,
            address,
            link: inside,
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for namespace in &self.namespaces {
            ip(&["netns", "del", namespace]);
        }
        ip(&["link", "del", &self.bridge]);
    }
}

impl NetHost {
    /// Pull the host's network cable: its link goes down, so nothing it
    /// sends or is sent arrives (no reset, no FIN).
    pub fn unplug(&self) {
        ip_ok(&["-n", &self.namespace, "link", "set", &self.link, "down"]);
    }

    /// Start sshd on port 22 inside the namespace, with its own hostname and
    /// `data` mounted over `site` (so each host has its own files there).
    pub fn sshd(
        &self,
        dir: &Path,
        authorized_keys: &Path,
        hostname: &str,
        data: &Path,
        site: &Path,
    ) -> Server {
        let script = "mount --bind \"$1\" \"$2\" && hostname \"$3\" && shift 3 && exec \"$@\"";
        let launcher = [
            "ip",
            "netns",
            "exec",
            &self.namespace,
            "unshare",
            "--mount",
            "--uts",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            data.to_str().unwrap(),
            site.to_str().unwrap(),
            hostname,
        ];
        Server::start(&ServerConfig {
            dir: dir.to_path_buf(),
            addresses: vec![self.address],
            port: 22,
            authorized_keys: authorized_keys.to_path_buf(),
            detached: false,
            extra: Vec::new(),
            launcher: launcher.iter().map(|s| (*s).to_owned()).collect(),
        })
        .expect("sshd in a network namespace")
    }
}

/// Write `text` to `path`, creating its directory.
pub fn put(path: &PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
