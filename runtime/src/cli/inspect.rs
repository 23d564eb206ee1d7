//! `runbox inspect`: what a component is, what it imports and what it declares.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use super::report::bytes;
use super::{Cli, EXIT_OK};
use crate::component::DEFAULT_MAX_COMPONENT_BYTES;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The component (`*.wasm`).
    file: PathBuf,
    /// Metadata sidecar for a plain command (default: `<stem>.toml` beside the file).
    #[arg(long)]
    sidecar: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn execute(cli: &Cli, args: &InspectArgs) -> anyhow::Result<u8> {
    let engine = cli.engine()?;
    let wasm = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let sidecar_path = args
        .sidecar
        .clone()
        .unwrap_or_else(|| args.file.with_extension("toml"));
    let sidecar = std::fs::read_to_string(&sidecar_path).ok();
    let component = engine
        .load(
            &args.file.display().to_string(),
            Arc::from(wasm),
            sidecar.as_deref(),
            DEFAULT_MAX_COMPONENT_BYTES,
        )
        .await?;
    let summary = component.summary();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(EXIT_OK);
    }
    println!("component  {}", summary.name);
    println!("kind       {:?}", summary.kind);
    println!("size       {}", bytes(summary.size as u64));
    println!("sha256     {}", summary.sha256);
    println!("imports:");
    for import in &summary.imports {
        println!("  {import}");
    }
    match &summary.info {
        Some(info) => {
            println!("name       {}", info.name);
            println!("about      {}", info.description);
            println!("params:");
            if info.params.is_empty() {
                println!("  (none)");
            }
            let mut params = info.params.clone();
            params.sort_by_key(|p| p.order);
            for p in params {
                let required = if p.required { "required" } else { "optional" };
                let default = p
                    .default
                    .as_deref()
                    .map(|d| format!(" default={d}"))
                    .unwrap_or_default();
                let options = if p.options.is_empty() {
                    String::new()
                } else {
                    format!(" options=[{}]", p.options.join(", "))
                };
                let about = p
                    .description
                    .as_deref()
                    .map(|d| format!("  — {d}"))
                    .unwrap_or_default();
                println!(
                    "  {} ({:?}, {required}{default}{options}){about}",
                    p.name, p.kind
                );
            }
        }
        None => println!("params     (no metadata: plain command without a sidecar)"),
    }
    Ok(EXIT_OK)
}
