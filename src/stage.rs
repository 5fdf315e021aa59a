//! One exec for a step that depends on what is on the server: the login
//! shell first sends back the user's home and the files the step depends on
//! (marker files and `.env` files, for the guard and for the step's
//! variables), then waits on stdin. Only when roadie has judged what was
//! read and planned the step does the step's command line arrive there, on
//! stdin (never in the command line), and run. So such a step pays one
//! login shell and one SSH session, and nothing that changes the server
//! runs before the guard has given its verdict. This module writes the
//! script and reads its answer; the exchange itself is the SSH layer's.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::command::{RemoteCommand, quote_path};

/// The most a stage's answer may hold: a server's `.env` and marker files
/// are small, anything larger is not one.
pub(crate) const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// The files to read before a step, and the script that reads them.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    /// Random, so no file's text can end a record by chance.
    boundary: String,
    paths: Vec<String>,
}

/// What a stage read on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// What the login shell printed before the stage's answer (a chatty
    /// `.bashrc`): the step's output, as it would be without a stage.
    pub preamble: Vec<u8>,
    /// The login user's home directory.
    pub home: String,
    /// Each path asked for: its bytes, or `None` when there is no such file.
    pub files: BTreeMap<String, Option<Vec<u8>>>,
}

/// Why a stage's answer could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Garbled {
    /// A file exists but could not be read (its path).
    Unreadable(String),
    /// The answer is not the one the script writes.
    Malformed,
}

impl Stage {
    /// A stage that reads `paths` (a leading `~/` is the login user's home).
    pub(crate) fn new(paths: Vec<String>) -> Stage {
        Stage {
            boundary: format!("roadie-stage-{:032x}", rand::random::<u128>()),
            paths,
        }
    }

    /// The files it reads.
    pub(crate) fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The command line: write the answer, wait for the step's command line
    /// (a line count, then its lines) and run it in this same shell, its
    /// stdin the rest of the input. Input that ends first runs nothing.
    pub(crate) fn script(&self) -> String {
        let mut script = format!(
            "roadie_b={}\n\
             printf '%s home %s\\n' \"$roadie_b\" \"$HOME\"\n\
             roadie_f() {{\n\
             \tif [ ! -e \"$1\" ]; then printf '%s missing\\n' \"$roadie_b\"\n\
             \telif cat -- \"$1\"; then printf '\\n%s ok\\n' \"$roadie_b\"\n\
             \telse printf '\\n%s unreadable\\n' \"$roadie_b\"; fi\n\
             }}\n",
            self.boundary
        );
        for path in &self.paths {
            let _ = writeln!(script, "roadie_f {}", quote_path(path));
        }
        script.push_str(
            "printf '%s ready\\n' \"$roadie_b\"\n\
             unset -f roadie_f\n\
             unset roadie_b\n\
             IFS= read -r roadie_n || exit 0\n\
             case $roadie_n in ''|*[!0-9]*) exit 0;; esac\n\
             roadie_c=\n\
             while [ \"$roadie_n\" -gt 0 ]; do\n\
             \tIFS= read -r roadie_l || exit 0\n\
             \troadie_c=\"$roadie_c$roadie_l\n\"\n\
             \troadie_n=$((roadie_n - 1))\n\
             done\n\
             unset roadie_n roadie_l\n\
             eval \"unset roadie_c; $roadie_c\"",
        );
        script
    }

    /// Has `answer` (stdout so far) come to its end?
    pub(crate) fn is_complete(&self, answer: &[u8]) -> bool {
        answer.ends_with(format!("{} ready\n", self.boundary).as_bytes())
    }

    /// The facts in a complete answer.
    pub(crate) fn facts(&self, answer: &[u8]) -> Result<Facts, Garbled> {
        let boundary = self.boundary.as_bytes();
        let home_record = [boundary, b" home "].concat();
        let start = find(answer, &home_record, 0).ok_or(Garbled::Malformed)?;
        let mut at = start + home_record.len();
        let home = line_from(answer, &mut at).ok_or(Garbled::Malformed)?;
        let mut facts = Facts {
            preamble: answer[..start].to_vec(),
            home: String::from_utf8_lossy(home).into_owned(),
            files: BTreeMap::new(),
        };
        for path in &self.paths {
            let found = find(answer, boundary, at).ok_or(Garbled::Malformed)?;
            let content_end = found;
            let mut after = found + boundary.len();
            let state = line_from(answer, &mut after).ok_or(Garbled::Malformed)?;
            let content = match state {
                b" missing" if content_end == at => None,
                b" ok" | b" unreadable" if content_end > at && answer[content_end - 1] == b'\n' => {
                    if state == b" unreadable" {
                        return Err(Garbled::Unreadable(path.clone()));
                    }
                    Some(answer[at..content_end - 1].to_vec())
                }
                _ => return Err(Garbled::Malformed),
            };
            facts.files.insert(path.clone(), content);
            at = after;
        }
        if answer[at..] == *format!("{} ready\n", self.boundary).as_bytes() {
            Ok(facts)
        } else {
            Err(Garbled::Malformed)
        }
    }
}

/// The input that runs `command` once a stage has answered: its command
/// line's line count, its lines, then what the command reads on stdin
/// (sudo's password, a script carrying secrets).
pub(crate) fn go(command: &RemoteCommand) -> Vec<u8> {
    let line = command.render();
    let mut input = format!("{}\n{line}\n", line.split('\n').count()).into_bytes();
    if let Some(own) = command.stdin() {
        input.extend_from_slice(&own);
    }
    input
}

/// The first place at or after `from` where `needle` starts.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The line starting at `*at`, without its newline; `*at` moves past it.
fn line_from<'a>(text: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let end = find(text, b"\n", *at)?;
    let line = &text[*at..end];
    *at = end + 1;
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Run the stage's script in a local `sh` in `dir`, with `input`.
    fn run_locally(stage: &Stage, dir: &std::path::Path, input: &[u8]) -> (Vec<u8>, i32) {
        use std::io::Write as _;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(stage.script())
            .current_dir(dir)
            .env("HOME", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.stdout, out.status.code().unwrap())
    }

    fn stage_in(dir: &std::path::Path) -> Stage {
        std::fs::write(dir.join(".env"), "A=1\nB='two words'\n").unwrap();
        std::fs::write(dir.join("empty"), "").unwrap();
        std::fs::write(dir.join("no-newline"), "X=1").unwrap();
        Stage::new(vec![
            "~/.env".into(),
            "~/missing".into(),
            "~/empty".into(),
            "~/no-newline".into(),
        ])
    }

    #[test]
    fn the_answer_carries_each_file_exactly_and_the_home() {
        let dir = tempfile::tempdir().unwrap();
        let stage = stage_in(dir.path());
        let (out, code) = run_locally(&stage, dir.path(), b"");
        assert_eq!(code, 0, "input that ends runs nothing");
        assert!(stage.is_complete(&out));
        let facts = stage.facts(&out).unwrap();
        assert_eq!(facts.home, dir.path().to_str().unwrap());
        assert!(facts.preamble.is_empty());
        let file = |p: &str| facts.files[p].as_deref().map(<[u8]>::to_vec);
        assert_eq!(file("~/.env"), Some(b"A=1\nB='two words'\n".to_vec()));
        assert_eq!(file("~/missing"), None);
        assert_eq!(file("~/empty"), Some(Vec::new()));
        assert_eq!(file("~/no-newline"), Some(b"X=1".to_vec()));
    }

    #[test]
    fn the_command_arrives_on_stdin_and_runs_in_the_same_shell() {
        let dir = tempfile::tempdir().unwrap();
        let stage = stage_in(dir.path());
        let command = RemoteCommand::shell("printf '%s|%s\\n' \"$TOKEN\" \"$PLAIN\"\nexit 3")
            .env("PLAIN", "a\nb 'c'")
            .unwrap()
            .secret_env([("TOKEN", "s3cr'et\nline")]);
        let (out, code) = run_locally(&stage, dir.path(), &go(&command));
        assert_eq!(code, 3);
        let ready = format!("{} ready\n", stage.boundary);
        let after = &out[find(&out, ready.as_bytes(), 0).unwrap() + ready.len()..];
        assert_eq!(after, b"s3cr'et\nline|a\nb 'c'\n");
        assert!(
            !String::from_utf8_lossy(&go(&command)[..]).starts_with("s3cr"),
            "secrets travel after the command line"
        );
    }

    #[test]
    fn a_count_that_is_not_a_number_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let stage = stage_in(dir.path());
        for input in [
            &b"$(touch pwned)\ntouch pwned\n"[..],
            b"1+1\ntouch pwned\n",
            b"\n",
        ] {
            let (_, code) = run_locally(&stage, dir.path(), input);
            assert_eq!(code, 0);
            assert!(!dir.path().join("pwned").exists(), "{input:?} ran");
        }
    }

    #[test]
    fn chatter_before_the_answer_is_kept_and_garbage_is_refused() {
        let stage = Stage::new(vec!["/x".into()]);
        let b = &stage.boundary;
        let answer = format!("welcome!\n{b} home /home/u\nA=1\n\n{b} ok\n{b} ready\n");
        let facts = stage.facts(answer.as_bytes()).unwrap();
        assert_eq!(facts.preamble, b"welcome!\n");
        assert_eq!(facts.files["/x"].as_deref(), Some(&b"A=1\n"[..]));
        let unreadable = format!("{b} home /h\n\n{b} unreadable\n{b} ready\n");
        assert_eq!(
            stage.facts(unreadable.as_bytes()),
            Err(Garbled::Unreadable("/x".into()))
        );
        for bad in [
            format!("{b} home /h\n{b} ready\n"),
            format!("{b} home /h\nA=1{b} ok\n{b} ready\n"),
            format!("{b} home /h\n{b} missing\n{b} ready\nmore"),
        ] {
            assert_eq!(
                stage.facts(bad.as_bytes()),
                Err(Garbled::Malformed),
                "{bad}"
            );
        }
    }
}
