//! `roadie demo`: the fixture flow on sandbox hosts, start to finish.

use clap::Args;

use crate::error::{Error, exit_code};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the sandbox and the site running afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub(super) async fn demo(args: &DemoArgs) -> Result<i32, Error> {
    Box::pin(crate::demo::run(args.keep)).await?;
    Ok(exit_code::SUCCESS)
}
