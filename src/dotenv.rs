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
        /// The variable's name.
        key: String,
        /// Its value, unquoted.
        value: String,
        /// The line as it stands in the file.
        raw: String,
        /// Its 1-based line number.
        line: usize,
    },
    /// Blank lines and comments.
    Other(String),
    /// A line that is not `KEY=VALUE`: kept as it is, reported.
    Malformed {
        /// The line as it stands in the file.
        raw: String,
        /// Its 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed `.env` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DotEnv {
    /// Every line of the file, in order.
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
pub(crate) fn is_secret_key(key: &str) -> bool {
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
pub(crate) fn mask(key: &str, value: &str) -> String {
    if is_secret_key(key) && !value.is_empty() {
        return "********".to_owned();
    }
    if let Some((scheme, rest)) = value.split_once("://") {
        // The authority ends at the path, query or fragment (as URL parsers,
        // and so the app, read it); its user part at the authority's last `@`,
        // since a password may hold an `@` of its own.
        let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
        if let Some(at) = authority.rfind('@')
            && let Some((user, _password)) = rest[..at].split_once(':')
        {
            return format!("{scheme}://{user}:********{}", &rest[at..]);
        }
    }
    value.to_owned()
}

/// A value that no quoting writes so that python-dotenv and `sh` (`set -a;
/// . .env`) read it back the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this value cannot be written to a .env file so that python-dotenv and sh both read it back unchanged: it {0}"
)]
pub struct Unportable(String);

/// `value` as written after `KEY=`, so that python-dotenv, `sh` and
/// [`DotEnv::parse`] all read it back unchanged; or why it cannot be.
///
/// Inside single quotes sh takes every character as it stands, and so does
/// python-dotenv but for `\\` and `\'`. Inside double quotes sh expands `$`
/// and `` ` ``, and both take `\` as an escape, each its own way. So: single
/// quotes if the value has no `'` (nor `\\`, nor a final `\`), else double
/// quotes (`"` as `\"`, which both read alike) if it has none of `` $`\ ``,
/// else nothing works. And python-dotenv expands `${NAME}` wherever it
/// stands, so no quoting keeps that either.
pub(crate) fn quote_value(value: &str) -> Result<String, Unportable> {
    let refuse = |reason: &str| Err(Unportable(reason.to_owned()));
    if value.contains('\0') {
        return refuse("contains a NUL character, which a shell variable cannot hold");
    }
    if value.contains('\r') {
        return refuse("contains a carriage return, which python-dotenv reads as a line break");
    }
    if value
        .find("${")
        .is_some_and(|start| value[start..].contains('}'))
    {
        return refuse(
            "has `${...}`, which python-dotenv expands, even inside single quotes, and sh there does not",
        );
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,:/@%+=".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return Ok(value.to_owned());
    }
    if !value.contains('\'') {
        if value.contains("\\\\") || value.ends_with('\\') {
            return refuse(
                "has `\\\\` or ends with `\\`, which python-dotenv takes as an escape inside quotes and sh does not",
            );
        }
        return Ok(format!("'{value}'"));
    }
    if let Some(c) = value.chars().find(|c| matches!(c, '$' | '`' | '\\')) {
        return refuse(&format!(
            "has a `'`, so it needs double quotes, and a `{c}`, which sh and python-dotenv read differently inside double quotes"
        ));
    }
    Ok(format!("\"{}\"", value.replace('"', "\\\"")))
}

/// `KEY=VALUE` as a line (see [`quote_value`]).
fn entry_text(key: &str, value: &str, export: bool) -> Result<String, Unportable> {
    let value = quote_value(value)?;
    Ok(format!(
        "{}{key}={value}\n",
        if export { "export " } else { "" }
    ))
}

impl DotEnv {
    /// Set `key` to `value`, in place if it is there (keeping `export`),
    /// else at the end. Returns whether the file changed, or, changing
    /// nothing, why the value cannot be written.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, Unportable> {
        if self.get(key) == Some(value) {
            return Ok(false);
        }
        let text = |export| entry_text(key, value, export);
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
                raw: text(export)?,
                line: *line,
            };
            return Ok(true);
        }
        let raw = text(false)?;
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
            raw,
            line: 0,
        });
        Ok(true)
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
            .expect("letters and digits are written unquoted")
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

/// Is `name` usable as a shell variable name?
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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
    let after_equals = rest;
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
    let line = after_equals.trim_end_matches(['\n', '\r']);
    // An unquoted value ends at a `#` after whitespace (a comment, as in
    // `KEY= # note`) or at the line's end; `KEY=#abc` is the value `#abc`.
    let end = line
        .char_indices()
        .find(|&(i, c)| c == '#' && line[..i].ends_with([' ', '\t']))
        .map_or(line.len(), |(i, _)| i);
    entry(
        line[..end]
            .trim_start_matches([' ', '\t'])
            .trim_end()
            .to_owned(),
        1,
    )
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
        assert_eq!(env.set("A", "it's home"), Ok(true));
        assert_eq!(env.set("A", "it's home"), Ok(false));
        assert_eq!(env.set("D", "new value"), Ok(true));
        assert!(env.unset("C"));
        assert!(!env.unset("C"));
        assert!(env.ensure_secret("SECRET_KEY"));
        let secret = env.get("SECRET_KEY").unwrap().to_owned();
        assert_eq!(secret.len(), 50);
        assert!(!env.ensure_secret("SECRET_KEY"));
        let written = env.to_string();
        assert!(
            written.starts_with("# top\nexport A=\"it's home\"\nB=two # note\n\n"),
            "{written}"
        );
        let again = DotEnv::parse(&written);
        assert_eq!(again.get("A"), Some("it's home"));
        assert_eq!(again.get("D"), Some("new value"));
        assert_eq!(again.get("SECRET_KEY"), Some(secret.as_str()));
        assert_eq!(again.get("C"), None);
        // And a shell reads the same values back.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{written}\nprintf '%s|%s' \"$A\" \"$D\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's home|new value");
    }

    /// Values and how they are written, each read back unchanged by
    /// python-dotenv 1.2.4 (`dotenv_values`), dash and `bash --posix` (`set -a;
    /// . ./.env; printf %s "$K"`).
    const WRITTEN: &[(&str, &str)] = &[
        ("plain", "K=plain\n"),
        ("", "K=''\n"),
        ("x=y", "K=x=y\n"),
        ("p@ss:w/rd%+", "K=p@ss:w/rd%+\n"),
        ("-dash", "K=-dash\n"),
        ("a b", "K='a b'\n"),
        ("$HOME", "K='$HOME'\n"),
        ("$(id)", "K='$(id)'\n"),
        ("`date`", "K='`date`'\n"),
        ("#abc$def", "K='#abc$def'\n"),
        ("a #b", "K='a #b'\n"),
        (" lead", "K=' lead'\n"),
        ("trail ", "K='trail '\n"),
        ("tab\there", "K='tab\there'\n"),
        ("line1\nline2", "K='line1\nline2'\n"),
        ("trailing nl\n", "K='trailing nl\n'\n"),
        ("a\\b", "K='a\\b'\n"),
        ("a\\nb", "K='a\\nb'\n"),
        ("C:\\path\\to", "K='C:\\path\\to'\n"),
        ("^\\d+$", "K='^\\d+$'\n"),
        ("say \"hi\"", "K='say \"hi\"'\n"),
        ("\"", "K='\"'\n"),
        ("é ünïcode", "K='é ünïcode'\n"),
        ("!bang", "K='!bang'\n"),
        ("a;b&c|d", "K='a;b&c|d'\n"),
        ("~user", "K='~user'\n"),
        ("*glob?", "K='*glob?'\n"),
        ("${", "K='${'\n"),
        ("a}${b", "K='a}${b'\n"),
        ("it's", "K=\"it's\"\n"),
        ("'", "K=\"'\"\n"),
        ("'quoted'", "K=\"'quoted'\"\n"),
        ("it's !", "K=\"it's !\"\n"),
        ("it's\nmulti", "K=\"it's\nmulti\"\n"),
        ("it's \"q\"", "K=\"it's \\\"q\\\"\"\n"),
        ("\"'\"", "K=\"\\\"'\\\"\"\n"),
    ];

    /// Values no quoting writes so that python-dotenv and sh agree.
    const UNPORTABLE: &[&str] = &[
        "it's $HOME `x`",
        "it's `x`",
        "a'b\\c",
        "it's\\",
        "a\\\\b",
        "a\\",
        "\\",
        "${A}-$HOME",
        "${a:b}",
        "cr\rhere",
        "nul\0here",
    ];

    #[test]
    fn written_values_read_back_the_same_everywhere() {
        for &(value, written) in WRITTEN {
            let mut env = DotEnv::default();
            assert_eq!(env.set("K", value), Ok(true), "{value:?}");
            assert_eq!(env.to_string(), written, "{value:?}");
            assert_eq!(DotEnv::parse(written).get("K"), Some(value), "{value:?}");
            // In place, after `export`, between other lines.
            let mut env = DotEnv::parse("# a\nexport K=old # note\nB=1\n");
            assert_eq!(env.set("K", value), Ok(true), "{value:?}");
            let again = DotEnv::parse(&env.to_string());
            assert_eq!(again.get("K"), Some(value), "{value:?}");
            assert_eq!(again.get("B"), Some("1"), "{value:?}");
        }
        for &value in UNPORTABLE {
            let mut env = DotEnv::parse("K=old\n");
            let error = env.set("K", value).unwrap_err().to_string();
            assert!(error.contains("cannot be written"), "{value:?}: {error}");
            assert_eq!(env.to_string(), "K=old\n", "{value:?}");
            assert_eq!(env.get("K"), Some("old"), "{value:?}");
        }
    }

    #[test]
    fn a_hash_starts_a_comment_only_after_whitespace() {
        let env = DotEnv::parse(
            "SECRET_KEY=#abc$def\nLONE=#\nIN=a#b #c\nNOTE= # just a note\nTAB=x\t#c\n",
        );
        assert_eq!(env.get("SECRET_KEY"), Some("#abc$def"));
        assert_eq!(env.get("LONE"), Some("#"));
        assert_eq!(env.get("IN"), Some("a#b"));
        assert_eq!(env.get("NOTE"), Some(""));
        assert_eq!(env.get("TAB"), Some("x"));
        // So a real secret that starts with `#` is never replaced.
        let mut env = DotEnv::parse("SECRET_KEY=#abc$def\n");
        assert!(!env.ensure_secret("SECRET_KEY"));
        assert_eq!(env.to_string(), "SECRET_KEY=#abc$def\n");
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
        assert_eq!(
            mask("DATABASE_URL", "postgres://u:p@ss@h/db"),
            "postgres://u:********@h/db"
        );
        assert_eq!(
            mask(
                "DATABASE_URL",
                "postgres://u:p@ss:w@rd@h:5432/db?user=a@b#x@y"
            ),
            "postgres://u:********@h:5432/db?user=a@b#x@y"
        );
        assert_eq!(
            mask("CACHE_URL", "redis://h:6379/0?x=a:b@c"),
            "redis://h:6379/0?x=a:b@c"
        );
        assert_eq!(mask("URL", "https://u@h/"), "https://u@h/");
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
