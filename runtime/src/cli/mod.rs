//! The `runbox` command line.
//!
//! This module is the only place in the crate that writes to stdout: it is the program's
//! user interface. Libraries log through `tracing`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod inspect;
mod repo;
mod report;
mod run;
mod serve;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cache::ArtifactCache;
use crate::engine::{Engine, EngineSettings};

/// runbox: sandboxed runbooks and session hooks for an access gateway.
#[derive(Debug, Parser)]
#[command(name = "runbox", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Where repository mirrors, compiled components and the store live. Default for
    /// `run`, `inspect`, `repo`: $XDG_CACHE_HOME/runbox (~/.cache/runbox); for `serve` and
    /// `token`: $XDG_DATA_HOME/runbox (~/.local/share/runbox).
    #[arg(long, global = true, env = "RUNBOX_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Where compiled components are cached (default: `<data dir>/compiled`).
    #[arg(long, global = true, env = "RUNBOX_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile every time instead of using the compiled cache.
    #[arg(long, global = true)]
    no_cache: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a component once (or --repeat times) with production limits and print the
    /// outcome, error code, output, fuel, peak memory and duration.
    Run(Box<run::RunArgs>),
    /// Show a component's kind, world, imports and declared params.
    Inspect(inspect::InspectArgs),
    /// Runbook repositories: `runbox repo list <url-or-path> [--branch B]`.
    #[command(subcommand)]
    Repo(repo::RepoCommand),
    /// Serve the admin API (event routing, runbooks, health, metrics) until SIGINT/SIGTERM.
    Serve(serve::ConfigArgs),
    /// The server configuration: `runbox config print`.
    #[command(subcommand)]
    Config(serve::ConfigCommand),
    /// Admin API tokens: `runbox token create --org ORG --role admin|read-only`.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

/// Exit code: the run succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: the runbook ran and failed (any error code).
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code: bad input (arguments, files, a component that does not load).
pub const EXIT_USAGE: u8 = 2;

impl Cli {
    /// Runs the command and returns the process exit code.
    pub async fn execute(self) -> ExitCode {
        if !matches!(self.command, Command::Serve(_)) {
            // `serve` sets logging up from its configuration (format, default level).
            crate::server::logging::init(crate::config::LogFormat::Text, "warn");
        }
        let result = match &self.command {
            Command::Run(args) => run::execute(&self, args).await,
            Command::Inspect(args) => inspect::execute(&self, args).await,
            Command::Repo(command) => repo::execute(&self, command).await,
            Command::Serve(args) => serve::execute(&self, args).await,
            Command::Config(command) => serve::execute_config(&self, command),
            Command::Token(command) => token::execute(&self, command).await,
        };
        match result {
            Ok(code) => ExitCode::from(code),
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(EXIT_USAGE)
            }
        }
    }

    /// The engine for one-shot CLI use: a small pool, the on-disk cache unless disabled.
    fn engine(&self) -> anyhow::Result<Engine> {
        let cache = if self.no_cache {
            ArtifactCache::disabled()
        } else {
            ArtifactCache::at(
                self.cache_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir().join("compiled")),
            )
        };
        let settings = EngineSettings {
            max_instances: 16,
            ..EngineSettings::default()
        };
        Ok(Engine::new(&settings, cache)?)
    }

    /// The server's data directory (`runbox serve`, `runbox token`): `--data-dir`, else
    /// the server's default (`$XDG_DATA_HOME/runbox`), so a token created without
    /// `--data-dir` lands in the store a default `runbox serve` opens.
    fn server_data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(crate::config::default_data_dir)
    }

    /// The data directory: `--data-dir`, else the per-user default.
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(crate::repo::cli_support::default_cli_data_dir)
    }
}
