//! A connected host checked against the guard: the facts only a server can
//! give (its keys, its marker files and `.env`) are gathered here and handed
//! to the pure rules in [`crate::guard`].

use std::collections::BTreeMap;

use crate::error::Error;
use crate::guard::{self, markers};
use crate::host::Host;
use crate::known_hosts::fingerprint;
use crate::safety::{Intent, SafetyClass};
use crate::ssh::Session;

/// May a step of `intent` run on the host `session` already reaches, by
/// every lock but the server's markers? (A session kept for several steps
/// is judged again for each.)
pub(crate) fn check_keys(session: &Session, intent: &Intent) -> Result<(), Error> {
    let host = session.host();
    guard::before_connect(host, intent)
        .and_then(|()| guard::on_host_key(host, intent, session.server_key()).map(|_| ()))
        .and_then(|()| guard::on_announced_keys(host, intent, session.announced_keys()).map(|_| ()))
        .map_err(Error::Refused)
}

/// Before a destroy step: the server-marker lock, from every marker file the
/// inventory names and the server's `.env` files (`applied_env`, the one
/// the step will apply, among them), read by one command.
pub(crate) async fn before_destroy(
    session: &Session,
    intent: &Intent,
    applied_env: Option<&str>,
) -> Result<(), Error> {
    let Some(files) = marker_files(session.host(), intent, applied_env)? else {
        return Ok(());
    };
    let read = session.read_files(&files.every()).await?;
    judge_markers(session, &files, &read)
}

/// The files the server-marker lock judges a step of `intent` by: none
/// unless the step destroys.
pub(crate) fn marker_files(
    host: &Host,
    intent: &Intent,
    applied_env: Option<&str>,
) -> Result<Option<markers::MarkerFiles>, Error> {
    if intent.class != SafetyClass::Destroy {
        return Ok(None);
    }
    markers::files_to_read(host, applied_env).map(Some)
}

/// The server-marker lock's verdict, from `read` (the contents of at least
/// every file in `files`; `None` for a missing one).
pub(crate) fn judge_markers(
    session: &Session,
    files: &markers::MarkerFiles,
    read: &BTreeMap<String, Option<Vec<u8>>>,
) -> Result<(), Error> {
    let host = session.host();
    let fp = fingerprint(session.server_key());
    let found: markers::Found = files
        .every()
        .into_iter()
        .map(|path| {
            let text = read
                .get(&path)
                .and_then(Option::as_deref)
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
            (path, text)
        })
        .collect();
    markers::by_marker_files(host, files, &found, &fp)
        .and_then(|()| markers::by_env_files(host, files, &found, &fp))
        .map_err(Error::Refused)
}

/// Would a destroy step be allowed on the host `session` reaches?
pub(crate) async fn destroy_verdict(session: &Session) -> Result<(), Error> {
    let destroy = Intent {
        class: SafetyClass::Destroy,
        confirm: None,
    };
    check_keys(session, &destroy)?;
    before_destroy(session, &destroy, None).await
}
