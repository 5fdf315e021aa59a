//! roadie's own lines on stderr. Each goes out in one write, so that output
//! on stdout sharing the file (`2>&1`, a CI log) never lands inside one.

use std::io::Write as _;

/// Write `text` and a newline to stderr in one write (errors ignored, as
/// there is nowhere left to report them).
pub(crate) fn write_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Whether stdout and stderr are one file (as after `2>&1`).
pub(crate) fn shares_stdout() -> bool {
    use nix::sys::stat::fstat;
    match (fstat(std::io::stdout()), fstat(std::io::stderr())) {
        (Ok(out), Ok(err)) => out.st_dev == err.st_dev && out.st_ino == err.st_ino,
        _ => false,
    }
}
