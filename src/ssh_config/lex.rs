//! Splitting one `ssh_config` line into a keyword and its arguments, the way
//! OpenSSH does: `Keyword arg...`, `Keyword=arg`, double or single quotes,
//! backslash escapes, and a `#` at the start of a word ending the line.

/// One line of the file as text (without a trailing `\r`), or where it is
/// not UTF-8.
pub(super) fn text(line: &[u8]) -> Result<&str, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|e| {
        format!(
            "column {}: not UTF-8 text (byte 0x{:02x}); ssh_config must be UTF-8 or ASCII",
            e.valid_up_to() + 1,
            line[e.valid_up_to()]
        )
    })
}

/// A keyword (lowercased) and its arguments; `None` for blank and comment lines.
pub(super) fn split_line(line: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start();
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start();
    }
    let args = split_words(rest)?;
    Ok(Some((keyword, args)))
}

/// What follows the keyword (and the `=` or blanks after it), as written:
/// the whole command of a `ProxyCommand` line, as ssh reads it (quotes and
/// `#` included; trailing blanks dropped).
pub(super) fn rest_of_line(line: &str) -> &str {
    let line = line.trim();
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let rest = line[end..].trim_start();
    rest.strip_prefix('=').map_or(rest, str::trim_start)
}

/// Split arguments on whitespace, honouring quotes and escapes.
pub(super) fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => match chars.peek() {
                    Some(&next) if next == '\\' || next == '"' || next == '\'' || next == ' ' => {
                        word.push(next);
                        chars.next();
                    }
                    _ => word.push('\\'),
                },
                (_, c) => word.push(c),
            }
        }
        if let Some(q) = quote {
            return Err(format!("unterminated quote ({q})"));
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> (String, Vec<String>) {
        split_line(line).unwrap().unwrap()
    }

    #[test]
    fn keyword_forms() {
        assert_eq!(split("Port 22"), ("port".into(), vec!["22".into()]));
        assert_eq!(split("  Port=22"), ("port".into(), vec!["22".into()]));
        assert_eq!(split("Port = 22"), ("port".into(), vec!["22".into()]));
        assert_eq!(
            split("HostName\t10.0.0.1"),
            ("hostname".into(), vec!["10.0.0.1".into()])
        );
        assert_eq!(split_line("   # comment").unwrap(), None);
        assert_eq!(split_line("").unwrap(), None);
    }

    #[test]
    fn lines_must_be_utf8() {
        assert_eq!(text(b"Port 22\r").unwrap(), "Port 22");
        let e = text(b"User caf\xe9").unwrap_err();
        assert!(e.starts_with("column 9: not UTF-8 text (byte 0xe9)"), "{e}");
    }

    #[test]
    fn quotes_escapes_and_trailing_comments() {
        assert_eq!(
            split(r#"IdentityFile "/path with space/key" other"#).1,
            ["/path with space/key", "other"]
        );
        assert_eq!(split("Host a b # trailing").1, ["a", "b"]);
        assert_eq!(split(r"IdentityFile /a\ b").1, ["/a b"]);
        assert_eq!(split("Match exec 'test -f /x'").1, ["exec", "test -f /x"]);
        assert!(split_line("IdentityFile \"/unterminated").is_err());
    }

    #[test]
    fn a_proxy_command_is_the_rest_of_the_line_as_written() {
        assert_eq!(
            rest_of_line("  ProxyCommand   sh -c \"nc %h %p\" # note  "),
            "sh -c \"nc %h %p\" # note"
        );
        assert_eq!(rest_of_line("ProxyCommand=nc 'a  b'"), "nc 'a  b'");
        assert_eq!(rest_of_line("ProxyCommand = nc %h"), "nc %h");
        assert_eq!(rest_of_line("ProxyCommand"), "");
    }
}
