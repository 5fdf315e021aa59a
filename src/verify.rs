//! A connected host checked against the guard: the facts only a server can
//! give (its keys, its marker files and `.env`) are gathered here and handed
//! to the pure rules in [`crate::guard`].

use crate::error::Error;
use crate::guard::{self, markers};
use crate::known_hosts::fingerprint;
use crate::safety::{Intent, SafetyClass};
use crate::ssh::Session;

/// May a step of `intent` run on the host `session` already reaches?
/// Checks every lock again, reading the server's markers for destroy
/// (`applied_env`: the `.env` the step will apply, if any).
pub(crate) async fn check_session(
    session: &Session,
    intent: &Intent,
    applied_env: Option<&str>,
) -> Result<(), Error> {
    let host = session.host();
    guard::before_connect(host, intent)
        .and_then(|()| guard::on_host_key(host, intent, session.server_key()).map(|_| ()))
        .and_then(|()| guard::on_announced_keys(host, intent, session.announced_keys()).map(|_| ()))
        .map_err(Error::Refused)?;
    before_destroy(session, intent, applied_env).await
}

/// Before a destroy step: the server-marker lock, from every marker file the
/// inventory names and the server's `.env` files (`applied_env`, the one
/// the step will apply, among them).
pub(crate) async fn before_destroy(
    session: &Session,
    intent: &Intent,
    applied_env: Option<&str>,
) -> Result<(), Error> {
    if intent.class != SafetyClass::Destroy {
        return Ok(());
    }
    let host = session.host();
    let files = markers::files_to_read(host, applied_env)?;
    let fp = fingerprint(session.server_key());
    let mut found = markers::Found::new();
    read_into(session, &files.markers, &mut found).await?;
    markers::by_marker_files(host, &files, &found, &fp).map_err(Error::Refused)?;
    read_into(session, &files.env_files, &mut found).await?;
    markers::by_env_files(host, &files, &found, &fp).map_err(Error::Refused)
}

/// Would a destroy step be allowed on the host `session` reaches?
pub(crate) async fn destroy_verdict(session: &Session) -> Result<(), Error> {
    let destroy = Intent {
        class: SafetyClass::Destroy,
        confirm: None,
    };
    check_session(session, &destroy, None).await
}

/// Each of `paths` not read yet, as text (`None` when the server has no
/// such file).
async fn read_into(
    session: &Session,
    paths: &[String],
    found: &mut markers::Found,
) -> Result<(), Error> {
    for path in paths {
        if found.contains_key(path) {
            continue;
        }
        let text = session
            .read_file(path)
            .await?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        found.insert(path.clone(), text);
    }
    Ok(())
}
