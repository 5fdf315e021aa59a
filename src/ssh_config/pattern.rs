//! OpenSSH wildcard patterns (`*`, `?`) and pattern lists (`a,b,!c`), as used by
//! `Host`, `Match` and `known_hosts`.

/// Does `text` match the wildcard `pattern`? `*` matches any run of characters,
/// `?` exactly one. Comparison is exact; callers lowercase host names first.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with single-star backtracking: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Outcome of matching a value against a list of patterns, some negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMatch {
    /// A positive pattern matched and no negated one did.
    Yes,
    /// Nothing matched.
    No,
    /// A negated pattern matched: this vetoes the whole list.
    Negated,
}

impl ListMatch {
    /// Did the list match (and no negated pattern)?
    pub(crate) fn matched(self) -> bool {
        self == ListMatch::Yes
    }
}

/// Match `text` against patterns such as `["web*", "!web3"]`. A matching
/// negated pattern wins over any positive match, as in OpenSSH.
pub(crate) fn match_list<'a>(patterns: impl IntoIterator<Item = &'a str>, text: &str) -> ListMatch {
    let mut result = ListMatch::No;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(negated, text) {
                return ListMatch::Negated;
            }
        } else if wildcard_match(pattern, text) {
            result = ListMatch::Yes;
        }
    }
    result
}

/// Host names compare case-insensitively: both sides are lowercased.
pub(crate) fn match_host_list<'a>(
    patterns: impl IntoIterator<Item = &'a str>,
    host: &str,
) -> ListMatch {
    let host = host.to_ascii_lowercase();
    let lowered: Vec<String> = patterns.into_iter().map(str::to_ascii_lowercase).collect();
    match_list(lowered.iter().map(String::as_str), &host)
}

/// Split a comma-separated pattern list (`a,b,!c`).
pub(crate) fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("web*", "web1"));
        assert!(wildcard_match("*.example.org", "a.b.example.org"));
        assert!(!wildcard_match("*.example.org", "example.org"));
        assert!(wildcard_match("10.0.?.1", "10.0.5.1"));
        assert!(!wildcard_match("10.0.?.1", "10.0.55.1"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
    }

    #[test]
    fn negation_vetoes() {
        assert_eq!(match_list(["web*", "!web3"], "web1"), ListMatch::Yes);
        assert_eq!(match_list(["web*", "!web3"], "web3"), ListMatch::Negated);
        assert_eq!(match_list(["!web3"], "db1"), ListMatch::No);
        assert_eq!(match_host_list(["WEB*"], "web1"), ListMatch::Yes);
        assert_eq!(split_list("a,,b,!c").collect::<Vec<_>>(), ["a", "b", "!c"]);
    }
}
