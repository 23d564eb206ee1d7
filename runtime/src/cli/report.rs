//! How `runbox run` and `runbox inspect` present results, for people and for machines.

use std::fmt::Write as _;
use std::time::Duration;

use runbox_host_api::RunOutcome;
use serde::Serialize;
use serde_json::json;

use crate::component::ComponentSummary;
use crate::serde_duration::format_human;

/// Per-invocation timing over a `--repeat` series.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub runs: usize,
    #[serde(serialize_with = "crate::serde_duration::millis::serialize")]
    pub p50: Duration,
    #[serde(serialize_with = "crate::serde_duration::millis::serialize")]
    pub p99: Duration,
    #[serde(serialize_with = "crate::serde_duration::millis::serialize")]
    pub min: Duration,
    #[serde(serialize_with = "crate::serde_duration::millis::serialize")]
    pub mean: Duration,
}

impl From<&mut Vec<Duration>> for Timings {
    fn from(samples: &mut Vec<Duration>) -> Self {
        samples.sort_unstable();
        let n = samples.len().max(1);
        let pick = |q: f64| {
            samples
                .get(((n as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        let total: Duration = samples.iter().sum();
        Timings {
            runs: samples.len(),
            p50: pick(0.50),
            p99: pick(0.99),
            min: samples.first().copied().unwrap_or_default(),
            mean: total / n as u32,
        }
    }
}

/// Bytes in binary units, `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The outcome as the terminal shows it.
pub fn human(
    component: &ComponentSummary,
    commit: Option<&str>,
    outcome: &RunOutcome,
    timings: Option<&Timings>,
) -> String {
    let mut out = String::new();
    let usage = &outcome.usage;
    let _ = writeln!(
        out,
        "component  {} ({:?}, {})",
        component.name,
        component.kind,
        bytes(component.size as u64)
    );
    if let Some(commit) = commit {
        let _ = writeln!(out, "commit     {commit}");
    }
    match &outcome.result {
        Ok(_) => {
            let _ = writeln!(out, "outcome    success");
        }
        Err(failure) => {
            let _ = writeln!(out, "outcome    failed");
            let _ = writeln!(out, "code       {}", failure.code);
            let _ = writeln!(out, "message    {}", failure.message);
            if failure.retryable {
                let _ = writeln!(out, "retryable  yes");
            }
        }
    }
    if let Some(code) = outcome.exit_code {
        let _ = writeln!(out, "exit code  {code}");
    }
    let _ = writeln!(
        out,
        "fuel       {} used of {}",
        usage.fuel_used, usage.fuel_budget
    );
    let _ = writeln!(
        out,
        "memory     {} peak (cap {})",
        bytes(usage.peak_memory_bytes),
        bytes(usage.memory_cap)
    );
    let _ = writeln!(out, "duration   {}", format_human(usage.duration));
    if let Some(t) = timings {
        let _ = writeln!(
            out,
            "repeat     {} runs: p50 {}  p99 {}  min {}  mean {}",
            t.runs,
            format_human(t.p50),
            format_human(t.p99),
            format_human(t.min),
            format_human(t.mean)
        );
    }
    if !outcome.logs.is_empty() {
        let _ = writeln!(out, "logs:");
        for line in &outcome.logs {
            let _ = writeln!(
                out,
                "  {:<5} {}",
                format!("{:?}", line.level).to_lowercase(),
                line.message
            );
        }
    }
    if !outcome.console.is_empty() {
        let _ = writeln!(out, "console:");
        for line in outcome.console.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Ok(text) = &outcome.result {
        let _ = writeln!(out, "output:\n{text}");
    }
    out
}

/// The outcome as `--json` prints it.
pub fn json(
    component: &ComponentSummary,
    commit: Option<&str>,
    outcome: &RunOutcome,
    timings: Option<&Timings>,
) -> serde_json::Result<String> {
    let (status, output, error) = match &outcome.result {
        Ok(text) => ("success", Some(text.as_str()), None),
        Err(failure) => ("failed", None, Some(failure)),
    };
    serde_json::to_string_pretty(&json!({
        "component": component,
        "commit": commit,
        "status": status,
        "output": output,
        "error": error,
        "exit_code": outcome.exit_code,
        "console": outcome.console,
        "truncated_bytes": outcome.truncated_bytes,
        "logs": outcome.logs,
        "denials": outcome.denials,
        "usage": outcome.usage,
        "timings": timings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_pick_percentiles() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        samples.reverse();
        let t = Timings::from(&mut samples);
        assert_eq!(t.runs, 100);
        assert_eq!(t.min, Duration::from_micros(1));
        assert_eq!(t.p50, Duration::from_micros(51));
        assert_eq!(t.p99, Duration::from_micros(99));
    }

    #[test]
    fn byte_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
    }
}
