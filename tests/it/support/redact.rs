//! What a snapshot of roadie's human output may not pin: the tokens that
//! vary from run to run (ports, temp paths, durations, fingerprints, pids,
//! dates, sizes), each replaced by a fixed placeholder such as `[PORT]`.

use std::sync::LazyLock;

use regex::Regex;

use super::Ran;

/// Token rules, applied in order after the exact texts a test names.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // Before ports: a date's `01:02:03` is not an address.
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            "[DATE]",
        ),
        (r"SHA256:[A-Za-z0-9+/]{43}", "[SHA256]"),
        (r"\b(\d{1,3}(?:\.\d{1,3}){3}):\d+\b", "$1:[PORT]"),
        // `[127.0.0.2]:2222` as known_hosts has it, `ssh-keyscan -p 2222`.
        (r"\]:\d+\b", "]:[PORT]"),
        (r"\bport \d+", "port [PORT]"),
        (r"(^|\s)-p \d+\b", "$1-p [PORT]"),
        (r"\bpid \d+([),])", "pid [PID]$1"),
        // A right-aligned column's padding varies with the duration's width.
        (r" {2,}\d+(?:\.\d+)? ?(?:ms|µs|s)\b", "  [DURATION]"),
        (r"\b\d+(?:\.\d+)? ?(?:ms|µs|s)\b", "[DURATION]"),
        (r"\b\d+(?:\.\d+)? (?:B|KiB|MiB|GiB|TiB)\b", "[SIZE]"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
    ]
    .into_iter()
    .map(|(pattern, placeholder)| (Regex::new(pattern).expect("valid rule"), placeholder))
    .collect()
});

/// A redactor: the test's own varying texts (a temp dir, a user name) and
/// then the token rules.
pub struct Redactor {
    exact: Vec<(String, String)>,
    rules: Vec<(Regex, String)>,
    sorted: Vec<Regex>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor {
            exact: Vec::new(),
            rules: Vec::new(),
            sorted: Vec::new(),
        }
    }

    /// Replace `text` wherever it appears by `placeholder`, before the
    /// token rules (a temp dir's path by `[TMP]`, say).
    pub fn exact(mut self, text: impl Into<String>, placeholder: &str) -> Redactor {
        self.exact.push((text.into(), placeholder.to_owned()));
        self
    }

    /// A rule of the test's own (a regex and its replacement), applied
    /// after the exact texts and before the token rules.
    pub fn rule(mut self, pattern: &str, replacement: &str) -> Redactor {
        let regex = Regex::new(pattern).unwrap_or_else(|e| panic!("rule {pattern}: {e}"));
        self.rules.push((regex, replacement.to_owned()));
        self
    }

    /// Sort each run of consecutive lines that match `pattern` once
    /// redacted: for lists whose order is not the product's promise (the
    /// top processes of a host, ordered by a resident size that varies).
    pub fn sort_lines(mut self, pattern: &str) -> Redactor {
        let regex = Regex::new(pattern).unwrap_or_else(|e| panic!("sort {pattern}: {e}"));
        self.sorted.push(regex);
        self
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.exact {
            text = text.replace(from.as_str(), to);
        }
        let own = self.rules.iter().map(|(r, to)| (r, to.as_str()));
        let common = RULES.iter().map(|(r, to)| (r, *to));
        for (regex, to) in own.chain(common) {
            text = regex.replace_all(&text, to).into_owned();
        }
        self.sorted
            .iter()
            .fold(text, |text, pattern| sort_runs(&text, pattern))
    }

    /// What a user saw of a finished run, redacted: the exit code, stdout
    /// and stderr.
    pub fn screen(&self, ran: &Ran) -> String {
        format!(
            "exit code: {}\n--- stdout\n{}--- stderr\n{}",
            ran.code,
            self.redact(&ran.stdout),
            self.redact(&ran.stderr)
        )
    }
}

/// `text` with each run of consecutive lines matching `pattern` sorted.
fn sort_runs(text: &str, pattern: &Regex) -> String {
    let mut out = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in text.split_inclusive('\n') {
        if pattern.is_match(line) {
            run.push(line);
            continue;
        }
        run.sort_unstable();
        out.append(&mut run);
        out.push(line);
    }
    run.sort_unstable();
    out.append(&mut run);
    out.concat()
}

#[cfg(test)]
mod tests {
    use super::Redactor;

    #[test]
    fn redactor_replaces_each_varying_token_and_keeps_the_rest() {
        let fp = format!("SHA256:{}", "a".repeat(43));
        let text = format!(
            "at 2026-12-02T01:39:42Z [127.0.0.2]:40315 127.0.0.3:2222 \
             ssh-keyscan -p 40315 port 7200 (pid 4242) {fp}\n\
             exit 7   web1     41ms  then 1.2s, 64.0 MiB of 512 KiB in /tmp/.tmpAb12Cd/x\n\
             cat gunicorn.pid 2>/dev/null; step 12; 7 times\n"
        );
        assert_eq!(
            Redactor::new().redact(&text),
            "at [DATE] [127.0.0.2]:[PORT] 127.0.0.3:[PORT] \
             ssh-keyscan -p [PORT] port [PORT] (pid [PID]) [SHA256]\n\
             exit 7   web1  [DURATION]  then [DURATION], [SIZE] of [SIZE] in [TMP]/x\n\
             cat gunicorn.pid 2>/dev/null; step 12; 7 times\n"
        );
    }

    #[test]
    fn redactor_applies_exact_texts_and_own_rules_first_and_sorts_runs() {
        let redactor = Redactor::new()
            .exact("/home/edith", "[HOME]")
            .rule(r"release \d+", "release [N]")
            .sort_lines(r"^  - ");
        assert_eq!(
            redactor.redact("/home/edith release 2026\n  - b\n  - a\nend\n  - d\n  - c\n"),
            "[HOME] release [N]\n  - a\n  - b\nend\n  - c\n  - d\n"
        );
    }
}
