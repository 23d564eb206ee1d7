//! The `runbox` command line.
//!
//! This module is the only place in the crate that writes to stdout: it is the program's
//! user interface. Libraries log through `tracing`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod inspect;
mod report;
mod run;

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

    /// Where compiled components are cached (default: $XDG_CACHE_HOME/runbox/compiled or
    /// ~/.cache/runbox/compiled).
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
        let result = match &self.command {
            Command::Run(args) => run::execute(&self, args).await,
            Command::Inspect(args) => inspect::execute(&self, args).await,
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
            ArtifactCache::at(self.cache_dir.clone().unwrap_or_else(default_cache_dir))
        };
        let settings = EngineSettings {
            max_instances: 16,
            ..EngineSettings::default()
        };
        Ok(Engine::new(&settings, cache)?)
    }
}

fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("runbox").join("compiled")
}
