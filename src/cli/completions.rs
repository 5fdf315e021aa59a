//! `roadie completions SHELL` and `roadie man`: shell completions and the
//! man pages, generated from the command-line definitions themselves.

use std::io::Write;
use std::path::PathBuf;

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

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page (roadie.1, and roadie-SUBCOMMAND.1 for each
    /// subcommand) into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The man page (roff, section 1) on stdout, or every page into a directory.
pub(super) fn man(args: &ManArgs) -> Result<i32, Error> {
    // As generate_to shapes it, so that roadie.1 is the same either way.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    if let Some(dir) = &args.dir {
        clap_mangen::generate_to(command, dir).map_err(|e| {
            Error::io(
                format!("cannot write the man pages into {}", dir.display()),
                e,
            )
        })?;
        return Ok(exit_code::SUCCESS);
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(|e| Error::io("cannot render the man page", e))?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> Result<i32, Error> {
    super::output_result(std::io::stdout().lock().write_all(bytes))?;
    Ok(exit_code::SUCCESS)
}
