//! HTTP health checks made from the server's side: a GET through the SSH
//! connection (to a Unix socket, as gunicorn binds, or a loopback port),
//! retried until the expected status comes or time runs out. Nothing needs
//! to be installed on the server and no port needs to be open to it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::command::{RemoteCommand, quote_path};
use crate::playbook::HttpVia;
use crate::ssh::Session;

/// Pause between attempts.
const RETRY_EVERY: Duration = Duration::from_millis(300);
/// The most one attempt may take.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(10);
/// The most of a response read (the status line is all that is needed).
const HEAD_LIMIT: usize = 16 * 1024;

/// How many lines of a log a failed check shows.
const LOG_TAIL: u32 = 20;

/// A check that did not pass: the last answer (or lack of one), for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub attempts: u32,
    pub last: String,
}

/// GET `path` with `Host: host_header` via `via` on the server until the
/// status is `expect`, trying for `within`.
pub(crate) async fn check(
    session: &Session,
    via: &HttpVia,
    path: &str,
    host_header: &str,
    expect: u16,
    within: Duration,
) -> Result<(), Failed> {
    let deadline = tokio::time::Instant::now() + within;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let last = match tokio::time::timeout(
            left.min(ATTEMPT_LIMIT),
            attempt(session, via, path, host_header),
        )
        .await
        {
            Ok(Ok(status)) if status == expect => return Ok(()),
            Ok(Ok(status)) => format!("answered {status}, not {expect}"),
            Ok(Err(why)) => why,
            Err(_) => "no answer in time".to_owned(),
        };
        if tokio::time::Instant::now() + RETRY_EVERY >= deadline {
            return Err(Failed { attempts, last });
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// Returns when the process `pid_file` names has exited (or the file is
/// missing), saying so; it is watched from the server (`/proc`, a zombie
/// counted as gone), over a channel of its own. Never returns if the
/// watch itself cannot run: the check then ends as it would without it.
pub(crate) async fn exited(session: &Session, pid_file: &str) -> String {
    let file = quote_path(pid_file);
    let script = format!(
        "pid=$(cat -- {file} 2>/dev/null) && [ -n \"$pid\" ] || {{ echo \"there is no pid in $1\"; exit; }}\n\
         while grep -qs '^State:[[:space:]]*[^Z]' /proc/\"$pid\"/status; do sleep 0.2; done\n\
         echo \"the process it checks (pid $pid, from $1) exited\""
    );
    let command = RemoteCommand::shell(format!("set -- {file}\n{script}"));
    match session.run(&command).await {
        Ok(output) if output.status.success() => output.stdout_text(),
        _ => std::future::pending().await,
    }
}

/// The last lines of the server's `log`, indented, or `None` if it has none.
pub(crate) async fn log_tail(session: &Session, log: &str) -> Option<String> {
    let command = RemoteCommand::shell(format!(
        "tail -n {LOG_TAIL} -- {} 2>/dev/null",
        quote_path(log)
    ));
    let output = session.run(&command).await.ok()?;
    let text = output.stdout_text();
    (output.status.success() && !text.trim().is_empty()).then(|| {
        text.lines()
            .map(|line| format!("  {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// One request; the response's status code.
async fn attempt(
    session: &Session,
    via: &HttpVia,
    path: &str,
    host_header: &str,
) -> Result<u16, String> {
    let mut stream = send(session, via, path, host_header, &[]).await?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < HEAD_LIMIT {
        let n = stream
            .read(&mut buffer)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    status_of(&head)
}

/// A response: its status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
}

/// GET `path` via `via` on the server with `Host: host_header` and
/// `headers`; the whole response (up to 1 MiB).
pub(crate) async fn get(
    session: &Session,
    via: &HttpVia,
    path: &str,
    host_header: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let stream = send(session, via, path, host_header, headers).await?;
    let mut response = Vec::new();
    stream
        .take(1024 * 1024)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok(Response {
        status: status_of(head.as_bytes())?,
        body: body.to_owned(),
    })
}

/// A connection to `via` with the request sent.
async fn send(
    session: &Session,
    via: &HttpVia,
    path: &str,
    host_header: &str,
    headers: &[(&str, &str)],
) -> Result<russh::ChannelStream<russh::client::Msg>, String> {
    let channel = match via {
        HttpVia::Socket(socket) => session.open_unix_forward(socket).await,
        HttpVia::Port(port) => {
            let from = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            session.open_forward("127.0.0.1", *port, &from).await
        }
    }
    .map_err(|e| e.to_string())?;
    let mut stream = channel.into_stream();
    let mut request =
        format!("GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: roadie\r\n");
    for (name, value) in headers {
        request.extend([name, ": ", value, "\r\n"]);
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    Ok(stream)
}

/// The code of an HTTP status line (`HTTP/1.1 200 OK`).
fn status_of(head: &[u8]) -> Result<u16, String> {
    let text = String::from_utf8_lossy(head);
    let line = text.lines().next().unwrap_or_default();
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code
            .parse()
            .map_err(|_| format!("a malformed status line: {line:?}")),
        _ if text.is_empty() => Err("the connection closed without an answer".to_owned()),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), Ok(200));
        assert_eq!(status_of(b"HTTP/1.0 502 Bad Gateway\r\n"), Ok(502));
        assert!(status_of(b"").unwrap_err().contains("closed"));
        assert!(
            status_of(b"SSH-2.0-OpenSSH\r\n")
                .unwrap_err()
                .contains("not an HTTP")
        );
    }
}
