//! `runbox serve`: the admin API server, and `runbox config print`, which shows the
//! configuration `serve` would run with (secrets hidden).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::args::{parse_duration, parse_size};
use super::{Cli, EXIT_OK};
use crate::config::{self, LogFormat, Overrides, ServerConfig, Sources};
use crate::server::{Server, logging};

/// Where the configuration comes from; shared by `serve` and `config print`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML config file (layered: defaults < file < RUNBOX_* env < flags). With no file
    /// and no org configured anywhere, the demo instance starts.
    #[arg(long, env = "RUNBOX_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Dispatch workers.
    #[arg(long)]
    workers: Option<usize>,
    /// Log lines as `text` or `json` (filter with RUST_LOG).
    #[arg(long, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    /// How long a shutdown waits for in-flight requests and runs, e.g. 30s.
    #[arg(long, value_parser = parse_duration)]
    shutdown_deadline: Option<Duration>,
    /// Largest request body, e.g. 1MiB.
    #[arg(long, value_parser = parse_size)]
    body_limit: Option<u64>,
    /// Start the demo instance: org `demo`, example runbooks in a local git repository,
    /// a `custom` connection.
    #[arg(long)]
    demo: bool,
    /// Built runbooks for the demo (default: the guest build output beside the binary).
    #[arg(long, value_name = "DIR")]
    demo_runbooks: Option<PathBuf>,
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    text.parse()
}

/// `runbox config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML (secrets shown as ***).
    Print(ConfigArgs),
}

impl ConfigArgs {
    /// Every layer merged and validated.
    pub fn load(&self, cli: &Cli) -> Result<ServerConfig, config::ConfigError> {
        let flags = Overrides {
            listen: self.listen,
            data_dir: cli.data_dir.clone(),
            cache_dir: cli.cache_dir.clone(),
            workers: self.workers,
            log_format: self.log_format,
            shutdown_deadline: self.shutdown_deadline,
            body_limit: self.body_limit,
            demo: self.demo,
            demo_runbooks: self.demo_runbooks.clone(),
        };
        config::load(
            &Sources {
                file: self.config.clone(),
                flags,
                ..Sources::default()
            }
            .with_process_env(),
        )
    }
}

pub async fn execute(cli: &Cli, args: &ConfigArgs) -> anyhow::Result<u8> {
    let config = args.load(cli)?;
    logging::init(config.log_format, "info");
    let server = Server::start(&config).await?;
    // The first stdout line is the address: scripts and tests read it from here.
    println!("runbox listening on http://{}", server.local_addr());
    if let Some(demo) = server.demo() {
        println!("demo org: {}", demo.org);
        println!("demo repository: {}", demo.repository);
        for runbook in &demo.runbooks {
            println!("demo runbook: {runbook}");
        }
        println!("demo connection: {} (custom, local agent)", demo.connection);
        println!(
            "demo admin token (shown once; Authorization: Bearer <token>): {}",
            demo.admin_token
        );
    }
    let report = server.run_until(shutdown_signal()).await;
    if report.requests_cut {
        eprintln!("shutdown deadline reached: in-flight requests were cut");
    }
    Ok(EXIT_OK)
}

pub fn execute_config(cli: &Cli, command: &ConfigCommand) -> anyhow::Result<u8> {
    match command {
        ConfigCommand::Print(args) => {
            let config = args.load(cli)?;
            print!("{}", config::print::to_toml(&config)?);
            Ok(EXIT_OK)
        }
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
