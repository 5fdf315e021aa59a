//! `roadie completions SHELL` and `roadie man`: shell completions and the
//! man page, generated from the command-line definitions themselves.

use std::io::Write;

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::{Error, exit_code};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Completions for `args.shell` on stdout.
pub(super) fn completions(args: &CompletionsArgs) -> Result<i32, Error> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "roadie", &mut out);
    write_out(&out)
}

/// The man page (roff, section 1) on stdout.
pub(super) fn man() -> Result<i32, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Error::io("cannot render the man page", e))?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> Result<i32, Error> {
    super::output_result(std::io::stdout().lock().write_all(bytes))?;
    Ok(exit_code::SUCCESS)
}
