//! A malformed playbook, or a task asked for wrongly: where and what.

use std::fmt;

/// A problem with a playbook or with how a task was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookError {
    /// The file, and the line when known.
    pub place: Option<(String, Option<u64>)>,
    /// The column on that line, when known.
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PlaybookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some((file, Some(line))) => match self.column {
                Some(column) => write!(f, "{file}:{line}:{column}: {}", self.message),
                None => write!(f, "{file}:{line}: {}", self.message),
            },
            Some((file, None)) => write!(f, "{file}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PlaybookError {}

impl PlaybookError {
    pub(crate) fn new(message: impl Into<String>) -> PlaybookError {
        PlaybookError {
            place: None,
            column: None,
            message: message.into(),
        }
    }

    /// The same error, placed in `file` if it has no place yet.
    #[must_use]
    pub fn in_file(self, file: &str) -> PlaybookError {
        PlaybookError {
            place: self.place.or_else(|| Some((file.to_owned(), None))),
            column: self.column,
            message: self.message,
        }
    }
}
