//! A server's `.env` file, read raw: `KEY=VALUE`, `export KEY=VALUE`, single
//! and double quotes (which may span lines), comments and blank lines. Values
//! are never interpolated, least of all with this machine's environment:
//! `$HOME` in a remote `.env` stays `$HOME`. (That is why this is not dotenvy,
//! whose `${VAR}` substitution reads the local environment first.)
//!
//! Every line is kept, so that an edited file keeps its comments and order.

use std::fmt;

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
