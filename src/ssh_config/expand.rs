//! Expansion of `~`, `%` tokens and `${VAR}` in `ssh_config` values, following
//! the TOKENS and ENVIRONMENT VARIABLES sections of ssh_config(5).

use std::path::{Path, PathBuf};

/// The local account roadie runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// The login name.
    pub name: String,
    /// The home directory.
    pub home: PathBuf,
    /// The user id.
    pub uid: u32,
}

impl LocalUser {
    /// The current user, from the password database (falling back to `$USER`
    /// and `$HOME` when the database has no entry).
    pub fn current() -> LocalUser {
        let uid = nix::unistd::getuid();
        let entry = nix::unistd::User::from_uid(uid).ok().flatten();
        let name = entry
            .as_ref()
            .map(|u| u.name.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| uid.to_string());
        // $HOME wins, as it does for OpenSSH's `~`, so that tests and users can
        // point roadie at another home.
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| entry.map(|u| u.dir))
            .unwrap_or_else(|| PathBuf::from("/"));
        LocalUser {
            name,
            home,
            uid: uid.as_raw(),
        }
    }
}

/// Values that `%` tokens stand for.
#[derive(Debug, Clone)]
pub(crate) struct Tokens<'a> {
    /// `%n`: the host name as given (alias).
    pub original_host: &'a str,
    /// `%h`: the remote host name after `HostName`.
    pub host: &'a str,
    /// `%p`
    pub port: u16,
    /// `%r`
    pub remote_user: &'a str,
    /// `%k`: `HostKeyAlias`, or the host name.
    pub host_key_alias: &'a str,
    /// `%j`: the `ProxyJump` value, or empty.
    pub jump: &'a str,
    /// `%u`, `%d`, `%i`
    pub local: &'a LocalUser,
}

impl Tokens<'_> {
    fn value(&self, token: char) -> Option<String> {
        Some(match token {
            '%' => "%".to_owned(),
            'n' => self.original_host.to_owned(),
            'h' => self.host.to_owned(),
            'p' => self.port.to_string(),
            'r' => self.remote_user.to_owned(),
            'k' => self.host_key_alias.to_owned(),
            'j' => self.jump.to_owned(),
            'u' => self.local.name.clone(),
            'd' => self.local.home.display().to_string(),
            'i' => self.local.uid.to_string(),
            'l' => local_hostname(),
            'L' => local_hostname()
                .split('.')
                .next()
                .unwrap_or_default()
                .to_owned(),
            _ => return None,
        })
    }
}

fn local_hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Replace each `%x` with `value(x)`; a token without a value is an error,
/// and so is one whose value `value` refuses.
fn substitute(
    s: &str,
    what: &str,
    value: impl Fn(char) -> Result<Option<String>, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let token = chars
            .next()
            .ok_or_else(|| format!("{what} '{s}' ends with a lone '%'"))?;
        let replacement =
            value(token)?.ok_or_else(|| format!("unknown token %{token} in {what} '{s}'"))?;
        out.push_str(&replacement);
    }
    Ok(out)
}

/// Replace `%x` tokens. An unknown token is an error, as in OpenSSH.
pub(super) fn percent(s: &str, tokens: &Tokens<'_>) -> Result<String, String> {
    substitute(s, "value", |token| Ok(tokens.value(token)))
}

/// Tokens whose values come from roadie.yaml, the command line or
/// ssh_config (the remote side) rather than from the local account.
const REMOTE_TOKENS: &[char] = &['h', 'n', 'r', 'k', 'j'];

/// Replace `%x` tokens in a `Match exec` command, which `/bin/sh` runs.
///
/// A value naming the remote side is put in as it is (as ssh does) only when
/// the shell would read it as plain text; any other is refused, so that a
/// host or user name can never run a command of its own (CVE-2023-51385).
/// Refused rather than quoted: quotes would change the meaning of a token
/// that the command already quotes (`test "%h" = web1`).
pub(super) fn percent_shell(s: &str, tokens: &Tokens<'_>) -> Result<String, String> {
    substitute(s, "Match exec command", |token| {
        let Some(value) = tokens.value(token) else {
            return Ok(None);
        };
        if REMOTE_TOKENS.contains(&token) && !is_shell_inert(&value) {
            return Err(format!(
                "Match exec: %{token} is '{}', which the shell would not read as plain text; \
                 refusing to run '{s}' with it",
                value.escape_debug()
            ));
        }
        Ok(Some(value))
    })
}

/// Does the shell read `value` as literal text wherever it stands in a
/// command (unquoted, in double quotes, next to other text)?
fn is_shell_inert(value: &str) -> bool {
    value.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || "._-+:@/,%".contains(c)
            || (!c.is_ascii() && c.is_alphanumeric())
    })
}

/// Replace the `%` tokens of a `ProxyCommand` (`%h %p %r %n %k %%`, the
/// ones ssh expands there; `value` gives the first five), which a shell runs. A value is put in as it is
/// (as ssh does) when the shell reads it as plain text; otherwise it is
/// quoted with `quote` where it stands outside quotes, and refused inside
/// them, where no quoting could keep the shell from reading it.
pub(super) fn percent_proxy(
    s: &str,
    value: impl Fn(char) -> String,
    quote: impl Fn(&str) -> String,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut quoted: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (_, '%') => {
                let token = chars
                    .next()
                    .ok_or_else(|| format!("ProxyCommand '{s}' ends with a lone '%'"))?;
                let text = match token {
                    '%' => "%".to_owned(),
                    'h' | 'p' | 'r' | 'n' | 'k' => value(token),
                    _ => {
                        return Err(format!(
                            "unknown token %{token} in ProxyCommand '{s}' \
                             (ssh expands %h, %p, %r, %n, %k and %% there)"
                        ));
                    }
                };
                if token == '%' || is_shell_inert(&text) {
                    out.push_str(&text);
                } else if quoted.is_none() {
                    out.push_str(&quote(&text));
                } else {
                    return Err(format!(
                        "ProxyCommand: %{token} is '{}', which the shell would not read as \
                         plain text inside the quotes around it; remove those quotes \
                         (roadie then quotes the value)",
                        text.escape_debug()
                    ));
                }
                continue;
            }
            (None, '\'' | '"') => quoted = Some(c),
            (Some(q), c) if c == q => quoted = None,
            (None | Some('"'), '\\') => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Ok(out)
}

/// Only `%h` and `%%` are allowed in `HostName`.
pub(super) fn percent_hostname(s: &str, original_host: &str) -> Result<String, String> {
    substitute(s, "HostName", |token| {
        Ok(match token {
            '%' => Some("%".to_owned()),
            'h' => Some(original_host.to_owned()),
            _ => None,
        })
    })
}

/// Replace `${VAR}` with the variable's value; an unset variable is an error.
pub(super) fn env_vars(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in '{s}'"))?;
        let name = &after[..end];
        let value = std::env::var(name)
            .map_err(|_| format!("environment variable {name} used in '{s}' is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expand a leading `~` or `~user`.
pub(super) fn tilde(s: &str, home: &Path) -> Result<String, String> {
    let Some(rest) = s.strip_prefix('~') else {
        return Ok(s.to_owned());
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if user.is_empty() {
        return Ok(format!("{}{tail}", home.display()));
    }
    let entry = nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| format!("no such user '{user}' in '{s}'"))?;
    Ok(format!("{}{tail}", entry.dir.display()))
}

/// `~`, then `%` tokens, then `${VAR}`: the order ssh uses for file names.
pub(super) fn path(s: &str, tokens: &Tokens<'_>) -> Result<PathBuf, String> {
    let s = tilde(s, &tokens.local.home)?;
    let s = percent(&s, tokens)?;
    Ok(PathBuf::from(env_vars(&s)?))
}

/// A made-up local user for unit tests.
#[cfg(test)]
pub(crate) fn test_user() -> LocalUser {
    LocalUser {
        name: "alice".into(),
        home: "/home/alice".into(),
        uid: 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalUser {
        test_user()
    }

    #[test]
    fn tokens_expand() {
        let local = local();
        let t = Tokens {
            original_host: "web",
            host: "10.0.0.5",
            port: 2222,
            remote_user: "deploy",
            host_key_alias: "10.0.0.5",
            jump: "",
            local: &local,
        };
        assert_eq!(
            percent("%d/.ssh/%r@%h:%p-%n-%u-%i-%%", &t).unwrap(),
            "/home/alice/.ssh/deploy@10.0.0.5:2222-web-alice-1000-%"
        );
        assert!(percent("%Z", &t).unwrap_err().contains("%Z"));
        assert_eq!(
            path("~/.ssh/id_%h", &t).unwrap(),
            PathBuf::from("/home/alice/.ssh/id_10.0.0.5")
        );
        assert_eq!(
            percent_hostname("%h.example.org", "web").unwrap(),
            "web.example.org"
        );
        assert!(percent_hostname("%p", "web").is_err());
    }

    #[test]
    fn match_exec_takes_only_plain_text_from_the_remote_side() {
        let local = LocalUser {
            home: "/home/Alice Smith".into(),
            ..local()
        };
        let tokens = |host: &'static str, user: &'static str| Tokens {
            original_host: "web",
            host,
            port: 22,
            remote_user: user,
            host_key_alias: host,
            jump: "",
            local: &local,
        };
        let t = tokens("fe80::1%eth0", "deploy");
        assert_eq!(
            percent_shell("test \"%h\" = x -a %r%% -a '%d' -a %j", &t).unwrap(),
            "test \"fe80::1%eth0\" = x -a deploy% -a '/home/Alice Smith' -a "
        );
        for (host, user) in [
            ("a$(touch${IFS}pwned)", "u"),
            ("a`id`", "u"),
            ("a;id", "u"),
            ("a b", "u"),
            ("a\nid", "u"),
            ("*", "u"),
            ("~root", "u"),
            ("h", "x'y"),
            ("h", "a\"b"),
        ] {
            let e = percent_shell("test %h = %r", &tokens(host, user)).unwrap_err();
            assert!(e.contains("refusing to run"), "{host} {user}: {e}");
        }
        // Other values are not shell commands: nothing to refuse there.
        assert_eq!(percent("~/%h", &tokens("a b", "u")).unwrap(), "~/a b");
    }

    #[test]
    fn proxy_command_tokens_as_ssh_expands_them() {
        let value = |host: &'static str| {
            move |token| {
                match token {
                    'h' => host,
                    'p' => "2222",
                    'r' => "deploy",
                    'n' => "web",
                    _ => "key.alias",
                }
                .to_owned()
            }
        };
        let quote = |s: &str| format!("<{s}>");
        for (template, host, expanded) in [
            (
                "nc %h %p # %r %n %k %%",
                "10.0.0.5",
                "nc 10.0.0.5 2222 # deploy web key.alias %",
            ),
            // Plain values stay as they are inside quotes too, as in ssh.
            (
                "sh -c \"nc '%h' %p\"",
                "10.0.0.5",
                "sh -c \"nc '10.0.0.5' 2222\"",
            ),
            // Other values are quoted where they stand outside quotes...
            ("nc %h %p", "a$(id)", "nc <a$(id)> 2222"),
            ("nc \\\"%h", "a b", "nc \\\"<a b>"),
        ] {
            assert_eq!(
                percent_proxy(template, value(host), quote).unwrap(),
                expanded,
                "{template}"
            );
        }
        // ...and refused inside them.
        for template in ["nc \"%h\" %p", "nc '%h'", "sh -c \"x 'y' %h\""] {
            let e = percent_proxy(template, value("a`id`"), quote).unwrap_err();
            assert!(e.contains("%h is 'a`id`'"), "{template}: {e}");
        }
        for (template, wanted) in [("nc %d", "unknown token %d"), ("nc %", "lone '%'")] {
            let e = percent_proxy(template, value("h"), quote).unwrap_err();
            assert!(e.contains(wanted), "{template}: {e}");
        }
    }

    #[test]
    fn env_and_tilde() {
        assert_eq!(
            env_vars("/x/${PATH}/y").unwrap(),
            format!("/x/{}/y", std::env::var("PATH").unwrap())
        );
        assert!(env_vars("${ROADIE_SURELY_UNSET_VAR}").is_err());
        assert_eq!(tilde("~/a", Path::new("/h")).unwrap(), "/h/a");
        assert_eq!(tilde("~root/a", Path::new("/h")).unwrap(), "/root/a");
        assert_eq!(tilde("/abs", Path::new("/h")).unwrap(), "/abs");
    }
}
