//! How many connections to one server are being set up at once. sshd's
//! `MaxStartups` (default `10:30:100`) drops unauthenticated connections past
//! 10 at random, so logins to one server (or one jump host) wait here for a
//! slot, held from the TCP connect until the login fails or the server has
//! answered the first channel open after it (sshd stops counting a login a
//! little after the client sees it succeed). A bound on concurrent logins,
//! not a rate: sshd counts concurrent ones.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One semaphore per server address (`host:port`) in this process.
static SERVERS: LazyLock<Mutex<HashMap<String, Arc<Semaphore>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Wait for a slot to start a login to `address`, of `limit` per server (the
/// first login to a server sets its limit). Dropping the permit frees it.
pub(crate) async fn admit(address: String, limit: usize) -> OwnedSemaphorePermit {
    let semaphore = SERVERS
        .lock()
        .expect("start slots lock")
        .entry(address)
        .or_insert_with(|| Arc::new(Semaphore::new(limit.max(1))))
        .clone();
    semaphore
        .acquire_owned()
        .await
        .expect("a start semaphore is never closed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;

    #[tokio::test]
    async fn a_server_admits_only_its_limit_at_once() {
        let first = admit("a:22".into(), 1).await;
        let _other_server = admit("b:22".into(), 1).await;
        let mut second = std::pin::pin!(admit("a:22".into(), 1));
        let waits = std::future::poll_fn(|cx| Poll::Ready(second.as_mut().poll(cx).is_pending()));
        assert!(
            waits.await,
            "a second login to a:22 must wait for the first"
        );
        drop(first);
        let _second = second.await;
    }
}
