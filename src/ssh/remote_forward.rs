//! Remote forwards (`ssh -R`) to a Unix socket on the server
//! (`streamlocal-forward@openssh.com`): the server listens there and sends
//! each connection back as a channel of its own.

use std::collections::HashMap;

use russh::client::Msg;
use tokio::sync::mpsc;

use super::Session;
use crate::error::Error;

/// A connection the server forwarded back.
pub(crate) type Forwarded = russh::Channel<Msg>;

/// Where forwarded connections go, by the socket path asked for.
pub(crate) type Routes = HashMap<String, mpsc::UnboundedSender<Forwarded>>;

impl Session {
    /// Ask the server to listen on the Unix socket `path` (absolute: the
    /// server resolves a relative one from wherever its process is) and
    /// forward its connections back; they arrive on the receiver until
    /// [`Session::stop_listening`].
    pub(crate) async fn listen_unix(
        &self,
        path: &str,
    ) -> Result<mpsc::UnboundedReceiver<Forwarded>, Error> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.handler_state()
            .forwarded
            .insert(path.to_owned(), sender);
        match self.answered(self.handle.streamlocal_forward(path)).await {
            Ok(()) => Ok(receiver),
            Err(e) => {
                self.handler_state().forwarded.remove(path);
                let why = match e {
                    russh::Error::RequestDenied => format!(
                        "the server refused to listen on {path} (AllowStreamLocalForwarding, \
                         the key's restrictions in authorized_keys, or a file already there)"
                    ),
                    other => self.failure(&other),
                };
                Err(Error::Remote {
                    host: self.host.label.clone(),
                    message: why,
                })
            }
        }
    }

    /// Stop the server listening on `path` (what is connected stays).
    pub(crate) async fn stop_listening(&self, path: &str) {
        self.handler_state().forwarded.remove(path);
        let _ = self.handle.cancel_streamlocal_forward(path).await;
    }

    /// The handler's state, where the routes are.
    fn handler_state(&self) -> std::sync::MutexGuard<'_, super::handler::Observed> {
        self.observed.lock().expect("handler state lock")
    }
}
