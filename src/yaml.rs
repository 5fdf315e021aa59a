//! YAML read with serde-saphyr: where an error is, and what it says without
//! the location the library writes into its text (roadie prints the place
//! itself, as FILE:LINE:COLUMN).

/// The 1-based line and column of `error`, when known, and its message.
pub(crate) fn error_parts(error: &serde_saphyr::Error) -> (Option<(u64, u64)>, String) {
    let place = error.location().map(|l| (l.line(), l.column()));
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
