//! A server's `.env`, edited in place: atomically, keeping a backup, and
//! never losing a concurrent edit.

use crate::dotenv::DotEnv;
use crate::error::Error;
use crate::ssh::{Expect, Session, Written};

/// How many times an edit is retried when the file changes under it.
const EDIT_ATTEMPTS: usize = 5;

/// Edit the `.env` at `path` on the server `session` reaches: `apply`
/// changes it and says which keys it changed. The file is replaced
/// atomically (its previous version kept as `PATH.bak`; a new file is made
/// mode 0600, as it holds secrets), and only if it is still what was read:
/// if it changed meanwhile, the edit is made again on the new contents.
/// Returns the keys changed and the file as written.
pub(crate) async fn edit<F>(
    session: &Session,
    path: &str,
    apply: F,
) -> Result<(Vec<String>, DotEnv), Error>
where
    F: Fn(&mut DotEnv) -> Result<Vec<String>, Error>,
{
    for _ in 0..EDIT_ATTEMPTS {
        let before = session.read_file(path).await?;
        let mut env = DotEnv::parse(&String::from_utf8_lossy(
            before.as_deref().unwrap_or_default(),
        ));
        let changed = apply(&mut env)?;
        if changed.is_empty() {
            return Ok((changed, env));
        }
        let expect = before.map_or(Expect::Absent, Expect::Contents);
        match session
            .write_file(path, env.to_string().as_bytes(), &expect, 0o600, true)
            .await?
        {
            Written::Done => return Ok((changed, env)),
            Written::Conflict => {}
        }
    }
    Err(Error::Remote {
        host: session.host().label.clone(),
        message: format!("{path} kept changing while roadie edited it; try again"),
    })
}
