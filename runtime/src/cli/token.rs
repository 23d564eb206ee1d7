//! `runbox token create|list|revoke`: API tokens in the store under `<data dir>/store`.
//!
//! Opens only the store (no engine, no repositories). sled locks its directory, so this
//! runs while the server using the same data dir is stopped; the error says so.

use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{Cli, EXIT_OK};
use crate::auth::{Role, issue_token, list_tokens, revoke_token};
use crate::store::SledStore;

/// The audit actor of tokens managed from the command line.
const CLI_ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (it cannot be shown again; only a hash is kept).
    Create(CreateArgs),
    /// List an org's tokens (ids, roles, labels; never secrets).
    List(OrgArgs),
    /// Revoke a token: it stops working at once.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The org the token acts for.
    #[arg(long)]
    org: String,
    /// `admin` (reads and writes) or `read-only`.
    #[arg(long)]
    role: Role,
    /// What the token is for (shown in lists).
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Debug, Args)]
pub struct OrgArgs {
    #[arg(long)]
    org: String,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[arg(long)]
    org: String,
    /// The token id (`tok_...`).
    id: String,
}

fn open_store(data_dir: &Path) -> anyhow::Result<SledStore> {
    let dir = data_dir.join("store");
    SledStore::open(&dir).with_context(|| {
        format!(
            "cannot open the store in {} (is a runbox server running on this data dir?)",
            dir.display()
        )
    })
}

pub async fn execute(cli: &Cli, command: &TokenCommand) -> anyhow::Result<u8> {
    let store = open_store(&cli.server_data_dir())?;
    match command {
        TokenCommand::Create(args) => {
            let token = issue_token(&store, &args.org, args.role, &args.label, CLI_ACTOR).await?;
            // The token alone on stdout, for scripts; the rest on stderr.
            println!("{}", token.secret_text);
            eprintln!(
                "created token {} for org {} with role {}; store it now, it is not shown again",
                token.id, token.org, token.role
            );
        }
        TokenCommand::List(args) => {
            for t in list_tokens(&store, &args.org).await? {
                let revoked = t
                    .revoked_at
                    .map(|at| format!(" revoked {at}"))
                    .unwrap_or_default();
                println!(
                    "{}\t{}\t{}\tcreated {} by {}{revoked}",
                    t.id, t.role, t.label, t.created_at, t.created_by
                );
            }
        }
        TokenCommand::Revoke(args) => {
            let t = revoke_token(&store, &args.org, &args.id, CLI_ACTOR).await?;
            eprintln!("revoked token {}", t.id);
        }
    }
    Ok(EXIT_OK)
}
