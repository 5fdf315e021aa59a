//! YAML read with serde-saphyr: where an error is, and what it says without
//! the location the library writes into its text (roadie prints the place
//! itself, as FILE:LINE:COLUMN).

/// The 1-based line and column of `error`, when known, and its message.
pub(crate) fn error_parts(error: &serde_saphyr::Error) -> (Option<(u64, u64)>, String) {
    let place = error.location().map(|l| (l.line(), l.column()));
    if let Some(limit) = limit_reached(error) {
        return (place, limit);
    }
    let text = error.to_string();
    let mut message = text.lines().next().unwrap_or_default().trim();
    message = message
        .strip_prefix("error:")
        .unwrap_or(message)
        .trim_start();
    if let Some((line, column)) = place {
        for prefix in [
            format!("line {line} column {column}:"),
            format!("line {line} column {column},"),
        ] {
            message = message
                .strip_prefix(&prefix)
                .unwrap_or(message)
                .trim_start();
        }
        for suffix in [
            format!(" at line {line} column {column}"),
            format!(" (line {line} column {column})"),
        ] {
            message = message.strip_suffix(&suffix).unwrap_or(message);
        }
    }
    (place, message.to_owned())
}

/// `bytes` as text, or where the first byte that is not UTF-8 is (1-based
/// line and column) and a message saying that `what` must be UTF-8.
pub(crate) fn utf8_text(bytes: Vec<u8>, what: &str) -> Result<String, ((u64, u64), String)> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let lines: Vec<&[u8]> = bytes[..offset].split(|b| *b == b'\n').collect();
        let column = lines.last().map_or(0, |l| l.len()) + 1;
        (
            (lines.len() as u64, column as u64),
            format!(
                "not UTF-8 text (byte 0x{:02x}); {what} must be UTF-8",
                bytes[offset]
            ),
        )
    })
}

/// A safety limit of the parser reached, in roadie's words (the parser's
/// own text is its counters).
fn limit_reached(error: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = error;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    let serde_saphyr::Error::Budget { breach, .. } = inner else {
        return None;
    };
    let what = match breach {
        BudgetBreach::Aliases { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::MergeKeys { .. } => "too many aliases (*name) or merges (<<)",
        BudgetBreach::Depth { .. } => "nested too deeply",
        _ => "too large",
    };
    Some(format!(
        "{what}: roadie refuses YAML that would expand this far (a \"billion laughs\" \
         file); write the values out instead"
    ))
}

#[cfg(test)]
mod tests {
    use super::error_parts;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Schema {
        tasks: std::collections::BTreeMap<String, Task>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Task {
        steps: Vec<String>,
    }

    #[test]
    fn messages_carry_no_location_of_their_own() {
        for (text, line) in [
            ("tasks:\n  wipe:\n    stpes: []\n", 3),
            ("tasks:\n  wipe: [\n", 2),
            ("tasks:\n  wipe:\n    steps: {a: 1}\n", 3),
        ] {
            let error = serde_saphyr::from_str::<Schema>(text).unwrap_err();
            let (place, message) = error_parts(&error);
            assert_eq!(place.map(|p| p.0), Some(line), "{text}: {error}");
            assert!(
                !message.contains("line ") && !message.starts_with("error"),
                "{text}: {message}"
            );
            assert!(!message.is_empty());
        }
    }
}
