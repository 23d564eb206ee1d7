//! `runbox run`: try a component locally with the limits production uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use runbox_host_api::{
    Capabilities, ConnectionInfo, EgressPolicy, Invocation, Limits, RunOutcome, RunRequest,
    StaticConfig, Trigger,
};
use serde_json::Value;

use super::args::{params_object, parse_duration, parse_key_value, parse_param, parse_size};
use super::report;
use super::{Cli, EXIT_OK, EXIT_RUN_FAILED};
use crate::component::{DEFAULT_MAX_COMPONENT_BYTES, LoadedComponent};
use crate::engine::Engine;
use crate::repo::cli_support::{cli_repo_config, runbook_for_cli};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The component (`*.wasm`). Or use `--repo <url> --file <path>`.
    #[arg(required_unless_present = "repo", conflicts_with = "repo")]
    component: Option<PathBuf>,

    /// Take the runbook from this repository (URL or local path) instead of a file;
    /// credentials come from GIT_USER / GIT_PASSWORD / GIT_SSH_* like `runbox repo list`.
    #[arg(long, requires = "repo_file")]
    repo: Option<String>,
    /// The runbook's path in `--repo`, e.g. `ops/revoke.runbook.wasm`.
    #[arg(long = "file", id = "repo_file", requires = "repo")]
    repo_file: Option<String>,
    /// Branch of `--repo` (default: `master`, then `main`).
    #[arg(long, requires = "repo")]
    branch: Option<String>,

    /// Event or hook payload, a JSON file (`-` for stdin). Default: `{}`.
    #[arg(long)]
    payload: Option<PathBuf>,

    /// A param: `name=value` (string) or `name:=json` (typed, e.g. `count:=3`). Repeatable.
    #[arg(long = "param", short = 'p', value_parser = parse_param)]
    params: Vec<(String, Value)>,

    /// Fuel budget (instructions, roughly; ~1.5e10 per CPU second).
    #[arg(long)]
    fuel: Option<u64>,
    /// Linear-memory cap, e.g. `64MiB`.
    #[arg(long, value_parser = parse_size)]
    memory: Option<u64>,
    /// Wall-clock deadline, e.g. `10s`, `500ms`.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Output cap (console, logs and the returned text), e.g. `64KiB`.
    #[arg(long, value_parser = parse_size)]
    output_cap: Option<u64>,

    /// A config value the runbook may read with `config.get`: `KEY=VALUE`. Repeatable.
    #[arg(long = "config", value_parser = parse_key_value)]
    config: Vec<(String, String)>,
    /// Allow outbound HTTP to this origin, e.g. `https://api.pagerduty.com` or
    /// `https://*.example.com:8443`. Repeatable; everything else is denied.
    #[arg(long = "allow-http")]
    allow_http: Vec<String>,
    /// Allow connecting to addresses in this private/loopback network (CIDR), e.g.
    /// `127.0.0.0/8`. Repeatable; private ranges are denied by default.
    #[arg(long = "allow-network")]
    allow_network: Vec<String>,

    /// Trigger reported to the runbook: `manual`, `event:<type>`, `hook:session-open`,
    /// `hook:session-close`.
    #[arg(long, default_value = "manual")]
    trigger: String,
    /// Dispatch id reported to the runbook (default: a fresh one per run).
    #[arg(long)]
    dispatch_id: Option<String>,
    /// Connection the runbook is bound to, as `name` or `name:type:subtype`.
    #[arg(long)]
    connection: Option<String>,
    /// Metadata sidecar for a plain command (default: `<file>.toml` without `.wasm`, if present).
    #[arg(long)]
    sidecar: Option<PathBuf>,

    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
    /// Run N times (fresh instance each) and print p50/p99 per invocation.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

pub async fn execute(cli: &Cli, args: &RunArgs) -> anyhow::Result<u8> {
    let engine = cli.engine()?;
    let (component, commit) = match (&args.component, &args.repo, &args.repo_file) {
        (Some(file), _, _) => (
            load_file(&engine, file, args.sidecar.as_deref()).await?,
            None,
        ),
        (None, Some(repo), Some(path)) => {
            let config = cli_repo_config(repo, args.branch.as_deref(), |k| std::env::var(k).ok());
            let handle = runbook_for_cli(engine.clone(), &cli.data_dir(), config, path).await?;
            (handle.component.clone(), Some(handle.commit.clone()))
        }
        _ => anyhow::bail!("give a component file, or --repo <url> --file <path>"),
    };

    let limits = limits(args)?;
    let payload = read_payload(args.payload.as_deref())?;
    let params = params_object(&args.params).map_err(anyhow::Error::msg)?;
    let invocation_template = Invocation {
        dispatch_id: String::new(),
        attempt: 1,
        trigger: parse_trigger(&args.trigger)?,
        payload,
        params: Value::Object(params).to_string(),
        connection: args.connection.as_deref().map(parse_connection),
    };
    let capabilities = capabilities(args)?;

    let repeat = args.repeat.max(1);
    let mut timings = Vec::with_capacity(repeat as usize);
    let mut last: Option<RunOutcome> = None;
    for i in 0..repeat {
        let mut invocation = invocation_template.clone();
        invocation.dispatch_id = args
            .dispatch_id
            .clone()
            .unwrap_or_else(|| fresh_dispatch_id(i));
        let request = RunRequest {
            invocation,
            limits: limits.clone(),
            capabilities: capabilities.clone(),
        };
        let started = Instant::now();
        let outcome = engine.run(component.prepared(), request).await;
        timings.push(started.elapsed());
        last = Some(outcome);
    }
    let Some(outcome) = last else {
        anyhow::bail!("no run happened");
    };
    let stats = (repeat > 1).then(|| report::Timings::from(&mut timings));
    if args.json {
        println!(
            "{}",
            report::json(
                &component.summary(),
                commit.as_deref(),
                &outcome,
                stats.as_ref()
            )?
        );
    } else {
        print!(
            "{}",
            report::human(
                &component.summary(),
                commit.as_deref(),
                &outcome,
                stats.as_ref()
            )
        );
    }
    Ok(if outcome.result.is_ok() {
        EXIT_OK
    } else {
        EXIT_RUN_FAILED
    })
}

async fn load_file(
    engine: &Engine,
    file: &Path,
    sidecar: Option<&Path>,
) -> anyhow::Result<LoadedComponent> {
    let wasm = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let sidecar = read_sidecar(file, sidecar)?;
    Ok(engine
        .load(
            &file.display().to_string(),
            Arc::from(wasm),
            sidecar.as_deref(),
            DEFAULT_MAX_COMPONENT_BYTES,
        )
        .await?)
}

fn limits(args: &RunArgs) -> anyhow::Result<Limits> {
    let mut limits = Limits::default();
    if let Some(fuel) = args.fuel {
        limits.fuel = fuel;
    }
    if let Some(memory) = args.memory {
        limits.memory_bytes = memory;
    }
    if let Some(timeout) = args.timeout {
        limits.timeout = timeout;
    }
    if let Some(cap) = args.output_cap {
        limits.output_bytes = usize::try_from(cap).context("--output-cap is too large")?;
    }
    limits.validate()?;
    Ok(limits)
}

fn capabilities(args: &RunArgs) -> anyhow::Result<Capabilities> {
    let egress = EgressPolicy::new(&args.allow_http)?.with_allowed_networks(&args.allow_network)?;
    let config = args
        .config
        .iter()
        .fold(StaticConfig::new(), |config, (k, v)| config.with(k, v));
    Ok(Capabilities {
        config: Arc::new(config),
        egress: Arc::new(egress),
        ..Capabilities::default()
    })
}

fn read_payload(path: Option<&Path>) -> anyhow::Result<String> {
    let text = match path {
        None => return Ok("{}".into()),
        Some(p) if p == Path::new("-") => {
            std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?
        }
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read payload {}", p.display()))?,
    };
    serde_json::from_str::<Value>(&text).with_context(|| "the payload is not valid JSON")?;
    Ok(text)
}

/// An explicit `--sidecar`, else `<stem>.toml` beside `<stem>.wasm` when it exists (the
/// same rule repositories use: `ops/x.runbook.wasm` -> `ops/x.runbook.toml`).
fn read_sidecar(file: &Path, explicit: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(path) = explicit {
        return Ok(Some(std::fs::read_to_string(path).with_context(|| {
            format!("cannot read sidecar {}", path.display())
        })?));
    }
    let candidate = file.with_extension("toml");
    match std::fs::read_to_string(&candidate) {
        Ok(text) => Ok(Some(text)),
        Err(_) => Ok(None),
    }
}

fn parse_trigger(text: &str) -> anyhow::Result<Trigger> {
    use runbox_host_api::HookKind;
    match text {
        "manual" => Ok(Trigger::Manual),
        "hook:session-open" => Ok(Trigger::Hook(HookKind::SessionOpen)),
        "hook:session-close" => Ok(Trigger::Hook(HookKind::SessionClose)),
        other => match other.strip_prefix("event:") {
            Some(event) if !event.is_empty() => Ok(Trigger::Event(event.to_string())),
            _ => anyhow::bail!(
                "--trigger {other:?}: expected manual, event:<type>, hook:session-open or hook:session-close"
            ),
        },
    }
}

fn parse_connection(text: &str) -> ConnectionInfo {
    let mut parts = text.splitn(3, ':');
    let name = parts.next().unwrap_or_default().to_string();
    let kind = parts.next().unwrap_or("custom").to_string();
    let subtype = parts.next().unwrap_or_default().to_string();
    ConnectionInfo {
        name,
        type_: kind,
        subtype,
        tags: Vec::new(),
    }
}

/// A run id for local runs: time-based and unique within the process.
fn fresh_dispatch_id(i: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("local-{nanos:x}-{i}")
}
