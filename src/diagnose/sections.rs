//! The script's output cut into its items: each between markers carrying
//! the run's token, on stdout and stderr alike, with its exit status.

use std::collections::BTreeMap;

/// One item's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Section {
    pub stdout: String,
    pub stderr: String,
    /// The exit status; `None` if the script stopped before the end.
    pub rc: Option<i32>,
}

impl Section {
    pub(crate) fn ok(&self) -> bool {
        self.rc == Some(0)
    }

    /// Why the item failed, in the tool's own words.
    pub(crate) fn reason(&self) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        let mut reason = if lines.is_empty() {
            match self.rc {
                Some(rc) => format!("failed with exit status {rc}"),
                None => "the script stopped before this item".to_owned(),
            }
        } else {
            lines.join("; ")
        };
        if reason.len() > 400 {
            let mut end = 400;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push_str("...");
        }
        reason
    }
}

/// The script's output cut into its sections.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sections(BTreeMap<String, Section>);

impl Sections {
    pub(crate) fn split(stdout: &str, stderr: &str, token: &str) -> Sections {
        let marker = format!("==roadie:{token}:");
        let mut sections: BTreeMap<String, Section> = BTreeMap::new();
        for (name, body) in cut(stdout, &marker) {
            let (name, rc) = match name.split_once(" rc=") {
                Some((name, rc)) => (name.to_owned(), rc.parse().ok()),
                None => (name, None),
            };
            // A pipeline's own status, passed along its output.
            let mut rc = rc;
            let mut lines = Vec::new();
            for line in body.lines() {
                if let Some(inner) = line
                    .strip_prefix(&marker)
                    .and_then(|l| l.strip_prefix("rc "))
                    .and_then(|l| l.strip_suffix("=="))
                {
                    // The command's own failure, else the filter's.
                    let own: Option<i32> = inner.parse().ok();
                    if own != Some(0) {
                        rc = own.or(rc);
                    }
                } else {
                    lines.push(line);
                }
            }
            let section = sections.entry(name).or_default();
            section.stdout = join_lines(&lines);
            section.rc = rc;
        }
        for (name, body) in cut(stderr, &marker) {
            sections.entry(name).or_default().stderr = body;
        }
        Sections(sections)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Section> {
        self.0.get(name)
    }

    /// The section's output, or why there is none.
    pub(super) fn output(&self, name: &str) -> Result<&str, String> {
        match self.get(name) {
            Some(section) if section.ok() => Ok(&section.stdout),
            Some(section) => Err(section.reason()),
            None => Err("the script stopped before this item".to_owned()),
        }
    }
}

fn join_lines(lines: &[&str]) -> String {
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// `(name, body)` of each `begin NAME` ... `end NAME...` block; the name
/// is the end marker's (it carries the status). A block never ended is
/// kept, without a status.
fn cut(text: &str, marker: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        let inner = line.strip_prefix(marker).and_then(|l| l.strip_suffix("=="));
        match inner {
            Some(rest) if rest.starts_with("begin ") => {
                if let Some((name, body)) = open.take() {
                    blocks.push((name, join_lines(&body)));
                }
                open = Some((rest["begin ".len()..].to_owned(), Vec::new()));
            }
            Some(rest) if rest.starts_with("end ") => {
                if let Some((_, mut body)) = open.take() {
                    // The end marker starts with a newline of its own.
                    if body.last() == Some(&"") {
                        body.pop();
                    }
                    blocks.push((rest["end ".len()..].to_owned(), join_lines(&body)));
                }
            }
            _ => {
                if let Some((_, body)) = open.as_mut() {
                    body.push(line);
                }
            }
        }
    }
    if let Some((name, body)) = open {
        blocks.push((name, join_lines(&body)));
    }
    blocks
}
