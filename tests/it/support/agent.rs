//! A real ssh-agent for a test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{World, eventually, sh};

/// A real ssh-agent, killed on drop.
pub struct Agent {
    child: Child,
    pub socket: PathBuf,
}

impl Agent {
    pub fn start(w: &World) -> Agent {
        let socket = w.path("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client)");
        eventually("ssh-agent's socket", Duration::from_secs(10), || {
            socket.exists()
        });
        Agent { child, socket }
    }

    pub fn add(&self, key: &std::path::Path) {
        sh(
            "ssh-add",
            &[key.to_str().unwrap()],
            &[("SSH_AUTH_SOCK", &self.socket)],
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
