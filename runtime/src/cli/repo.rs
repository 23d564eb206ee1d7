//! `runbox repo ...`: look at a runbook repository the way runbox loads it.

use clap::{Args, Subcommand};

use super::{Cli, EXIT_OK, EXIT_RUN_FAILED};
use crate::repo::cli_support::{cli_repo_config, list_for_cli};

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Fetch a repository and list its runbooks and hooks with their params, or the error
    /// each file failed to load with. Credentials come from GIT_USER / GIT_PASSWORD /
    /// GIT_SSH_KEY / GIT_SSH_USER / GIT_SSH_KEYPASS / GIT_SSH_KNOWN_HOSTS.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Repository URL (https, ssh, `git@host:o/r.git`, `file://`) or local path.
    url: String,
    /// Branch (default: `master`, then `main`).
    #[arg(long)]
    branch: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn execute(cli: &Cli, command: &RepoCommand) -> anyhow::Result<u8> {
    match command {
        RepoCommand::List(args) => {
            let config =
                cli_repo_config(&args.url, args.branch.as_deref(), |k| std::env::var(k).ok());
            let listing = list_for_cli(cli.engine()?, &cli.data_dir(), config).await?;
            if args.json {
                println!("{}", listing.to_json());
            } else {
                print!("{}", listing.to_human());
            }
            Ok(if listing.has_errors() {
                EXIT_RUN_FAILED
            } else {
                EXIT_OK
            })
        }
    }
}
