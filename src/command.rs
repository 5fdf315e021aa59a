//! Building the command line sent to the remote shell. Every value roadie puts
//! into it (environment values, the working directory, argv words) is quoted.

use secrecy::{ExposeSecret, SecretString};

use crate::dotenv::is_env_name;
use crate::error::Error;

/// Characters that never need quoting in a POSIX shell word.
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
}

/// Quote `s` as one POSIX shell word.
pub(crate) fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(is_safe) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A remote path as one shell word: quoted, except that a leading `~` still
/// means the remote home directory.
pub(crate) fn quote_path(path: &str) -> String {
    if path == "~" {
        "\"$HOME\"".to_owned()
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("\"$HOME\"/{}", quote(rest))
    } else {
        quote(path)
    }
}

/// How to elevate with sudo.
#[derive(Debug, Clone)]
pub struct Sudo {
    /// Fed to `sudo -S` on stdin; without it sudo runs non-interactively (`-n`).
    pub password: Option<SecretString>,
}

/// A command to run on a host.
#[derive(Debug, Clone, Default)]
pub struct RemoteCommand {
    /// Shell text, run by the remote user's shell.
    pub script: String,
    /// Variables set for the command, as `NAME=VALUE` (quoted).
    pub env: Vec<(String, String)>,
    /// Variables whose values must not appear in the command line (where
    /// other users of the server could see them in `ps`), such as a
    /// server's `.env`: with these, the script travels on stdin.
    pub secret_env: Vec<(String, SecretString)>,
    /// The directory to run in (a leading `~/` is the login user's home).
    pub cwd: Option<String>,
    /// Run with sudo, and how.
    pub sudo: Option<Sudo>,
    /// Exported as `ROADIE_RUN` to the command (inside sudo too), so that
    /// its processes can be found to stop it where sshd will not signal
    /// them (see `Execution::stop`).
    pub marker: Option<String>,
}

/// The variable that marks the processes of one run.
pub(crate) const MARKER_VAR: &str = "ROADIE_RUN";

impl RemoteCommand {
    /// A shell command line, sent as it is (like `ssh HOST 'text'`).
    pub fn shell(script: impl Into<String>) -> RemoteCommand {
        RemoteCommand {
            script: script.into(),
            ..RemoteCommand::default()
        }
    }

    /// A program and its arguments, each quoted: `["printf", "%s", "a b"]`.
    pub fn argv<S: AsRef<str>>(words: &[S]) -> RemoteCommand {
        RemoteCommand::shell(
            words
                .iter()
                .map(|w| quote(w.as_ref()))
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// Set an environment variable for the command.
    pub fn env(mut self, name: &str, value: &str) -> Result<RemoteCommand, Error> {
        if !is_env_name(name) {
            return Err(Error::Usage(format!(
                "'{name}' is not a valid environment variable name (letters, digits and _, not starting with a digit)"
            )));
        }
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// Set variables whose values stay out of the command line and out of
    /// every description of the command. Names that are not valid shell
    /// names are skipped (a shell could not hold them either).
    #[must_use]
    pub fn secret_env<'a>(
        mut self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> RemoteCommand {
        for (name, value) in vars {
            if is_env_name(name) {
                self.secret_env.retain(|(n, _)| n != name);
                self.secret_env.push((name.to_owned(), value.into()));
            }
        }
        self
    }

    /// Run in `dir` (a leading `~/` is the remote home).
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<String>) -> RemoteCommand {
        self.cwd = Some(dir.into());
        self
    }

    /// Run with sudo.
    #[must_use]
    pub fn sudo(mut self, sudo: Sudo) -> RemoteCommand {
        self.sudo = Some(sudo);
        self
    }

    /// The script with its variables (secret ones included).
    fn script_with_env(&self, secrets: bool) -> String {
        let plain = self.env.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let secret = self
            .secret_env
            .iter()
            .filter(|_| secrets)
            .map(|(n, v)| (n.as_str(), v.expose_secret()));
        let marker = self.marker.as_deref().map(|m| (MARKER_VAR, m));
        let assignments: Vec<String> = plain
            .chain(secret)
            .chain(marker)
            .map(|(n, v)| format!("{n}={}", quote(v)))
            .collect();
        if assignments.is_empty() {
            self.script.clone()
        } else {
            format!("export {}\n{}", assignments.join(" "), self.script)
        }
    }

    /// The exact command line sent to the server. With secret variables the
    /// script is only `eval "$(cat)"`: the script itself comes on stdin.
    ///
    /// The directory is entered before sudo (which keeps it), so that `~`
    /// is the login user's home, not root's.
    pub fn render(&self) -> String {
        let mut lines = Vec::new();
        if let Some(dir) = &self.cwd {
            lines.push(format!("cd -- {} || exit 1", quote_path(dir)));
        }
        let script = if self.secret_env.is_empty() {
            self.script_with_env(false)
        } else {
            "eval \"$(cat)\"".to_owned()
        };
        lines.push(match &self.sudo {
            None => script,
            Some(Sudo { password: None }) => format!("sudo -n -- sh -c {}", quote(&script)),
            // The password is all there is on stdin and sudo alone reads it;
            // the command gets /dev/null, so it can never see what sudo
            // left unread (sudo does not ask when a rule says NOPASSWD).
            Some(Sudo { password: Some(_) }) if self.secret_env.is_empty() => {
                format!(
                    "sudo -S -p '' -- sh -c {}",
                    quote(&format!("exec </dev/null\n{script}"))
                )
            }
            // Both the password and the script come on stdin. The login
            // shell splits them: sudo's stdin holds the password alone (a
            // wrong one never makes sudo read the script as more attempts,
            // an unneeded one never reaches the script), and the script
            // reaches root's shell through a private fifo, never argv.
            Some(Sudo { password: Some(_) }) => format!(
                "IFS= read -r roadie_pw || exit 1\n\
                 roadie_script=$(cat)\n\
                 roadie_dir=$(mktemp -d) && mkfifo -m 600 \"$roadie_dir/script\" || exit 1\n\
                 printf '%s\\n' \"$roadie_script\" >\"$roadie_dir/script\" &\n\
                 unset roadie_script\n\
                 printf '%s\\n' \"$roadie_pw\" | sudo -S -p '' -- sh -c {} sh \"$roadie_dir/script\"\n\
                 roadie_status=$?\n\
                 kill $! 2>/dev/null\n\
                 rm -rf \"$roadie_dir\"\n\
                 exit $roadie_status",
                quote("exec </dev/null\neval \"$(cat \"$1\")\"")
            ),
        });
        lines.join("\n")
    }

    /// The command line for people (`--check`): secret values replaced.
    pub fn render_for_display(&self) -> String {
        if self.secret_env.is_empty() {
            return self.render();
        }
        let names: Vec<&str> = self.secret_env.iter().map(|(n, _)| n.as_str()).collect();
        format!(
            "# with {} set from the server's .env (values not shown)\n{}",
            names.join(", "),
            {
                let shown = RemoteCommand {
                    secret_env: Vec::new(),
                    ..self.clone()
                };
                shown.render()
            }
        )
    }

    /// The command for logs and the audit: the script, the names (never the
    /// values) of its variables, the directory, and whether sudo is used.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.sudo.is_some() {
            parts.push("sudo".to_owned());
        }
        if let Some(dir) = &self.cwd {
            parts.push(format!("cd {dir}:"));
        }
        let names = self.env.iter().map(|(n, _)| n);
        for name in names.chain(self.secret_env.iter().map(|(n, _)| n)) {
            parts.push(format!("{name}=..."));
        }
        parts.push(self.script.clone());
        parts.join(" ")
    }

    /// Bytes to send on the command's stdin: sudo's password, then the
    /// script when it carries secret variables.
    pub fn stdin(&self) -> Option<Vec<u8>> {
        let mut input = self
            .sudo
            .as_ref()
            .and_then(|s| s.password.as_ref())
            .map(|p| format!("{}\n", p.expose_secret()).into_bytes())
            .unwrap_or_default();
        if !self.secret_env.is_empty() {
            input.extend_from_slice(self.script_with_env(true).as_bytes());
            input.push(b'\n');
        }
        (!input.is_empty()).then_some(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("plain-word_1.txt"), "plain-word_1.txt");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's; rm -rf /"), r"'it'\''s; rm -rf /'");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn rendering() {
        assert_eq!(RemoteCommand::shell("true").render(), "true");
        assert_eq!(
            RemoteCommand::argv(&["printf", "%s", "a b"]).render(),
            "printf %s 'a b'"
        );
        let c = RemoteCommand::shell("echo \"$X\"")
            .env("X", "it's")
            .unwrap()
            .cwd("~/sites/my site");
        assert_eq!(
            c.render(),
            "cd -- \"$HOME\"/'sites/my site' || exit 1\nexport X='it'\\''s'\necho \"$X\""
        );
        assert!(RemoteCommand::shell("x").env("1X", "v").is_err());
        assert!(RemoteCommand::shell("x").env("A-B", "v").is_err());
        let s = RemoteCommand::shell("id -u").sudo(Sudo { password: None });
        assert_eq!(s.render(), "sudo -n -- sh -c 'id -u'");
        assert_eq!(s.stdin(), None);
        let s = RemoteCommand::shell("id -u").sudo(Sudo {
            password: Some("pw".into()),
        });
        assert!(s.render().starts_with("sudo -S -p '' -- sh -c "));
        assert_eq!(s.stdin(), Some(b"pw\n".to_vec()));
        // `~` is the login user's home: the directory is entered before sudo.
        let s = RemoteCommand::shell("pwd")
            .cwd("~/site")
            .sudo(Sudo { password: None });
        assert_eq!(
            s.render(),
            "cd -- \"$HOME\"/site || exit 1\nsudo -n -- sh -c pwd"
        );
    }

    #[test]
    fn secrets_never_print() {
        let command = RemoteCommand::shell("true")
            .secret_env([("DB_PASSWORD", "hunter2-env")])
            .sudo(Sudo {
                password: Some("hunter2-sudo".into()),
            });
        let shown = format!(
            "{command:?} {} {}",
            command.describe(),
            command.render_for_display()
        );
        assert!(
            !shown.contains("hunter2"),
            "a secret reached what is printed: {shown}"
        );
        let sent = String::from_utf8(command.stdin().unwrap()).unwrap();
        assert!(sent.contains("hunter2-sudo\n") && sent.contains("hunter2-env"));
    }

    #[test]
    fn secrets_with_a_sudo_password_travel_apart() {
        let c = RemoteCommand::shell("id -u")
            .secret_env([("TOKEN", "t0k'en")])
            .sudo(Sudo {
                password: Some("pw".into()),
            });
        let line = c.render();
        assert!(!line.contains("t0k"), "{line}");
        // The password line is handed to sudo alone; the script after it.
        assert!(
            line.starts_with("IFS= read -r roadie_pw || exit 1\n"),
            "{line}"
        );
        assert!(
            line.contains("printf '%s\\n' \"$roadie_pw\" | sudo -S -p '' -- sh -c "),
            "{line}"
        );
        assert_eq!(
            String::from_utf8(c.stdin().unwrap()).unwrap(),
            "pw\nexport TOKEN='t0k'\\''en'\nid -u\n"
        );
    }
}
