//! Connections to jump hosts, shared: every host behind the same jump host
//! (the same login to the same address, through the same hops) goes through
//! one connection to it, not one each, as a ControlMaster to the bastion
//! would give. So a fleet of 200 hosts behind one bastion costs the bastion
//! one login, and its `MaxStartups` never sees 200 at once. Forwarding
//! channels are not counted against sshd's `MaxSessions`.
//!
//! Hosts that start together share one attempt: if it fails, each of them
//! reports that failure (the first in full) rather than trying again in turn.
//! A connection that has ended, or that nobody uses any more, is made again.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use tokio::sync::OnceCell;

use super::{Session, connect_host};
use crate::error::ConnectError;
use crate::host::Host;
use crate::safety::Intent;

/// One attempt to connect to a jump host: the connection (held by the
/// sessions that go through it), or what went wrong, as words.
type Attempt = Arc<OnceCell<Result<Weak<Session>, (&'static str, String)>>>;

/// The latest attempt for each jump host, by [`key`].
static ATTEMPTS: LazyLock<Mutex<HashMap<String, Attempt>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// What makes two jump hosts the same: the login, the address, the way
/// there (hops, or a ProxyCommand).
fn key(jump: &Host) -> String {
    let mut key = format!("{}@{}:{}", jump.user, jump.hostname, jump.port);
    if let Some(command) = &jump.proxy_command {
        key = format!("{key} proxy {command}");
    }
    if let Some(further) = &jump.via {
        key = format!("{key} via {}", self::key(further));
    }
    key
}

/// The connection to `jump` (reached to read: a jump host only forwards),
/// made now or shared with the hosts already going through it.
pub(crate) async fn shared(jump: &Host) -> Result<Arc<Session>, ConnectError> {
    let key = key(jump);
    loop {
        let attempt = {
            let mut attempts = ATTEMPTS.lock().expect("jump attempts lock");
            let current = attempts.entry(key.clone()).or_default();
            if let Some(Ok(gone)) = current.get()
                && gone.upgrade().is_none_or(|s| s.is_closed())
            {
                *current = Attempt::default();
            }
            if let Some(Err(_)) = current.get() {
                *current = Attempt::default();
            }
            current.clone()
        };
        let mut own_failure = None;
        let mut made = None;
        let outcome = attempt
            .get_or_init(|| async {
                match connect_host(jump, &Intent::read()).await {
                    Ok(session) => {
                        let session = Arc::new(session);
                        let weak = Arc::downgrade(&session);
                        made = Some(session);
                        Ok(weak)
                    }
                    Err(e) => {
                        let said = (e.kind(), e.to_string());
                        own_failure = Some(e);
                        Err(said)
                    }
                }
            })
            .await;
        if let Some(e) = own_failure {
            return Err(e);
        }
        if let Some(session) = made {
            return Ok(session);
        }
        match outcome {
            Ok(weak) => match weak.upgrade() {
                Some(session) if !session.is_closed() => return Ok(session),
                // Ended meanwhile: make it again.
                _ => {}
            },
            Err((kind, message)) => {
                return Err(ConnectError::Relayed {
                    kind: (*kind).to_owned(),
                    message: message.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_hosts_are_the_same_by_login_address_and_hops() {
        let mut a = Host::for_tests("bastion");
        a.user = "deploy".into();
        let mut b = a.clone();
        b.label = "another-alias".into();
        assert_eq!(key(&a), key(&b), "an alias is not another bastion");
        b.user = "other".into();
        assert_ne!(key(&a), key(&b));
        let mut c = a.clone();
        c.via = Some(Box::new(Host::for_tests("outer")));
        assert_ne!(key(&a), key(&c));
        let mut d = a.clone();
        d.proxy_command = Some("nc %h %p".into());
        assert_ne!(key(&a), key(&d));
    }
}
