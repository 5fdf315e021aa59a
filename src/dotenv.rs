//! A server's `.env` file, read raw: `KEY=VALUE`, `export KEY=VALUE`, single
//! and double quotes (which may span lines), comments and blank lines. Values
//! are never interpolated, least of all with this machine's environment:
//! `$HOME` in a remote `.env` stays `$HOME`. (That is why this is not dotenvy,
//! whose `${VAR}` substitution reads the local environment first.)
//!
//! Every line is kept, so that an edited file keeps its comments and order.

use std::fmt;

use rand::distr::Distribution;

/// One logical line (an entry may span several physical lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `KEY=VALUE`; `raw` is the text as it stands in the file.
    Entry {
        key: String,
        value: String,
        raw: String,
        line: usize,
    },
    /// Blank lines and comments.
    Other(String),
    /// A line that is not `KEY=VALUE`: kept as it is, reported.
    Malformed {
        raw: String,
        line: usize,
        reason: String,
    },
}

/// A parsed `.env` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DotEnv {
    pub lines: Vec<Line>,
}

impl DotEnv {
    /// Parse the text of a `.env` file. Never fails: bad lines are kept as
    /// [`Line::Malformed`].
    pub fn parse(text: &str) -> DotEnv {
        let physical: Vec<&str> = text.split_inclusive('\n').collect();
        let mut lines = Vec::new();
        let mut index = 0;
        while index < physical.len() {
            let number = index + 1;
            let (line, used) = parse_entry(&physical[index..], number);
            lines.push(line);
            index += used;
        }
        DotEnv { lines }
    }

    /// The value of `key` (the last one wins, as when the file is sourced).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }

    /// Every `(key, value)` in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry { key, value, .. } => Some((key.as_str(), value.as_str())),
            _ => None,
        })
    }

    /// The malformed lines, with their numbers and what is wrong.
    pub fn malformed(&self) -> impl Iterator<Item = (usize, &str)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Malformed { line, reason, .. } => Some((*line, reason.as_str())),
            _ => None,
        })
    }
}

/// How long a generated secret is, in characters (about 300 bits).
const SECRET_LENGTH: usize = 50;

/// Is this key's value secret (to be masked)?
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    [
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "TOKEN",
        "KEY",
        "PRIVATE",
        "CREDENTIAL",
        "AUTH",
        "SALT",
        "DSN",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `value` for display: secret keys masked entirely, and the password part
/// of a URL (`scheme://user:password@host`) masked in any value.
pub fn mask(key: &str, value: &str) -> String {
    if is_secret_key(key) && !value.is_empty() {
        return "********".to_owned();
    }
    if let Some((scheme, rest)) = value.split_once("://")
        && let Some((credentials, host)) = rest.split_once('@')
        && let Some((user, _password)) = credentials.split_once(':')
    {
        return format!("{scheme}://{user}:********@{host}");
    }
    value.to_owned()
}

/// `KEY=VALUE` as a line that both a shell and a dotenv reader take back as
/// the same value.
fn entry_text(key: &str, value: &str, export: bool) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,:/@%+=".contains(c);
    let value = if !value.is_empty() && value.chars().all(plain) {
        value.to_owned()
    } else if !value.contains('\'') {
        format!("'{value}'")
    } else {
        let mut quoted = String::from("\"");
        for c in value.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    };
    format!("{}{key}={value}\n", if export { "export " } else { "" })
}

impl DotEnv {
    /// Set `key` to `value`, in place if it is there (keeping `export`),
    /// else at the end. Returns whether the file changed.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        if self.get(key) == Some(value) {
            return false;
        }
        let last = self
            .lines
            .iter()
            .rposition(|l| matches!(l, Line::Entry { key: k, .. } if k == key));
        if let Some(index) = last {
            let Line::Entry { raw, line, .. } = &self.lines[index] else {
                unreachable!("found an entry")
            };
            let export = raw.trim_start().starts_with("export ");
            self.lines[index] = Line::Entry {
                key: key.to_owned(),
                value: value.to_owned(),
                raw: entry_text(key, value, export),
                line: *line,
            };
            return true;
        }
        if let Some(last) = self.lines.last_mut() {
            let raw = match last {
                Line::Entry { raw, .. } | Line::Other(raw) | Line::Malformed { raw, .. } => raw,
            };
            if !raw.ends_with('\n') {
                raw.push('\n');
            }
        }
        self.lines.push(Line::Entry {
            key: key.to_owned(),
            value: value.to_owned(),
            raw: entry_text(key, value, false),
            line: 0,
        });
        true
    }

    /// Remove every entry for `key`. Returns whether the file changed.
    pub fn unset(&mut self, key: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry { key: k, .. } if k == key));
        self.lines.len() != before
    }

    /// Give `key` a strong random value, only if it has none (as a first
    /// deploy does). Returns whether the file changed.
    pub fn ensure_secret(&mut self, key: &str) -> bool {
        if self.get(key).is_some_and(|v| !v.is_empty()) {
            return false;
        }
        let secret: String = (0..SECRET_LENGTH)
            .map(|_| char::from(rand::distr::Alphanumeric.sample(&mut rand::rng())))
            .collect();
        self.set(key, &secret)
    }
}

impl fmt::Display for DotEnv {
    /// The file's text, every line as it was (or as edited).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            match line {
                Line::Entry { raw, .. } | Line::Other(raw) | Line::Malformed { raw, .. } => {
                    f.write_str(raw)?;
                }
            }
        }
        Ok(())
    }
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Parse the entry starting at `lines[0]`; returns it and how many physical
/// lines it used (more than one for a quoted value spanning lines).
fn parse_entry(lines: &[&str], number: usize) -> (Line, usize) {
    let first = lines[0];
    let content = first.trim_start();
    if content.trim().is_empty() || content.starts_with('#') {
        return (Line::Other(first.to_owned()), 1);
    }
    let malformed = |reason: &str| {
        (
            Line::Malformed {
                raw: first.to_owned(),
                line: number,
                reason: reason.to_owned(),
            },
            1,
        )
    };
    let body = content
        .strip_prefix("export ")
        .map_or(content, str::trim_start);
    let Some((key, rest)) = body.split_once('=') else {
        return malformed("expected KEY=VALUE");
    };
    let key = key.trim_end();
    if !is_key(key) {
        return malformed("the name must be letters, digits, _ or ., not starting with a digit");
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let entry = |value: String, used: usize| {
        (
            Line::Entry {
                key: key.to_owned(),
                value,
                raw: lines[..used].concat(),
                line: number,
            },
            used,
        )
    };
    if let Some(quote @ ('\'' | '"')) = rest.chars().next() {
        // The value may run on over the following lines.
        let mut text = rest[1..].to_owned();
        let mut used = 1;
        loop {
            if let Some((value, after)) = close_quote(&text, quote) {
                let after = after.trim();
                if !after.is_empty() && !after.starts_with('#') {
                    return malformed("unexpected text after the closing quote");
                }
                return entry(value, used);
            }
            if used == lines.len() {
                return malformed("the quote is never closed");
            }
            text.push_str(lines[used]);
            used += 1;
        }
    }
    let line = rest.trim_end_matches(['\n', '\r']);
    // An unquoted value ends at ` #` (a comment) or the line's end.
    let end = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
        .map_or(line.len(), |(i, _)| i);
    entry(line[..end].trim_end().to_owned(), 1)
}

/// The value up to the closing `quote` and the text after it, or `None` if
/// `text` has no closing quote yet. Double quotes take backslash escapes.
fn close_quote(text: &str, quote: char) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((value, &text[i + 1..]));
        }
        if c == '\\' && quote == '"' {
            match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, escaped @ ('"' | '\\' | '$' | '\''))) => value.push(escaped),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            }
        } else {
            value.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_entries() {
        let text = "# settings\n\nDJANGO_DEBUG_FALSE=y\nexport SITENAME=staging.example.org\nSECRET='a b $HOME #x'\nQUOTED=\"line\\none \\\"q\\\"\" # note\nPLAIN=value # comment\nHASH=a#b\nEMPTY=\nSPACED = x\n";
        let env = DotEnv::parse(text);
        assert_eq!(env.get("DJANGO_DEBUG_FALSE"), Some("y"));
        assert_eq!(env.get("SITENAME"), Some("staging.example.org"));
        assert_eq!(env.get("SECRET"), Some("a b $HOME #x"));
        assert_eq!(env.get("QUOTED"), Some("line\none \"q\""));
        assert_eq!(env.get("PLAIN"), Some("value"));
        assert_eq!(env.get("HASH"), Some("a#b"));
        assert_eq!(env.get("EMPTY"), Some(""));
        assert_eq!(env.get("SPACED"), Some("x"));
        assert_eq!(env.to_string(), text);
        assert_eq!(env.malformed().count(), 0);
    }

    #[test]
    fn edits_keep_comments_order_and_quoting() {
        let text = "# top\nexport A=1\nB=two # note\n\nC='x'";
        let mut env = DotEnv::parse(text);
        assert!(env.set("A", "it's $HOME"));
        assert!(!env.set("A", "it's $HOME"));
        assert!(env.set("D", "new value"));
        assert!(env.unset("C"));
        assert!(!env.unset("C"));
        assert!(env.ensure_secret("SECRET_KEY"));
        let secret = env.get("SECRET_KEY").unwrap().to_owned();
        assert_eq!(secret.len(), 50);
        assert!(!env.ensure_secret("SECRET_KEY"));
        let written = env.to_string();
        assert!(
            written.starts_with("# top\nexport A=\"it's \\$HOME\"\nB=two # note\n\n"),
            "{written}"
        );
        let again = DotEnv::parse(&written);
        assert_eq!(again.get("A"), Some("it's $HOME"));
        assert_eq!(again.get("D"), Some("new value"));
        assert_eq!(again.get("SECRET_KEY"), Some(secret.as_str()));
        assert_eq!(again.get("C"), None);
        // And a shell reads the same values back.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{written}\nprintf '%s|%s' \"$A\" \"$D\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $HOME|new value");
    }

    #[test]
    fn masking() {
        assert_eq!(mask("DJANGO_SECRET_KEY", "abc"), "********");
        assert_eq!(mask("db_password", "abc"), "********");
        assert_eq!(
            mask("SITENAME", "staging.example.org"),
            "staging.example.org"
        );
        assert_eq!(
            mask("DATABASE_URL", "postgres://app:pw@db:5432/app"),
            "postgres://app:********@db:5432/app"
        );
        assert_eq!(mask("API_TOKEN", ""), "");
    }

    #[test]
    fn no_interpolation_ever() {
        let env = DotEnv::parse("A=1\nB=${A}-$HOME\nC=\"${PATH}\"\n");
        assert_eq!(env.get("B"), Some("${A}-$HOME"));
        assert_eq!(env.get("C"), Some("${PATH}"));
    }

    #[test]
    fn multiline_and_malformed_lines_are_kept() {
        let text =
            "KEY=\"-----BEGIN\nabc\n-----END\"\nnot an entry\n1BAD=x\nOPEN='never closed\nLAST=1\n";
        let env = DotEnv::parse(text);
        assert_eq!(env.get("KEY"), Some("-----BEGIN\nabc\n-----END"));
        let bad: Vec<usize> = env.malformed().map(|(line, _)| line).collect();
        assert_eq!(bad, [4, 5, 6]);
        assert_eq!(env.get("LAST"), Some("1"));
        assert_eq!(env.to_string(), text);
        let last = DotEnv::parse("A=1\nA=2\n");
        assert_eq!(last.get("A"), Some("2"));
    }
}
