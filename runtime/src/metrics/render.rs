//! The Prometheus text exposition format (version 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::registry::{Labelled, Metrics, RUN_DURATION_BUCKETS};
use crate::repo::RepoStatus;

/// Every metric as Prometheus text. `repos` is the status of every configured repository
/// (read at scrape time).
pub fn render(m: &Metrics, repos: &[RepoStatus]) -> String {
    let mut out = String::new();
    labelled(
        &mut out,
        "runbox_events_published_total",
        "Events stored (duplicates excluded), by event type.",
        "event_type",
        &m.events_published,
    );
    single(
        &mut out,
        "runbox_events_duplicate_total",
        "counter",
        "Publishes whose producer_event_id was already seen (nothing created).",
        m.events_duplicate.load(Ordering::Relaxed) as i64,
    );
    labelled(
        &mut out,
        "runbox_dispatches_total",
        "Dispatch transitions by status entered: pending (created or replayed), processing (claimed), delivered, failed, retry_scheduled.",
        "status",
        &m.dispatches,
    );
    labelled(
        &mut out,
        "runbox_dispatch_failures_total",
        "Failed dispatches by error code.",
        "code",
        &m.failures,
    );
    labelled(
        &mut out,
        "runbox_limit_hits_total",
        "Runs stopped by a sandbox limit, by error code.",
        "code",
        &m.limit_hits,
    );
    histogram(&mut out, m);
    single(
        &mut out,
        "runbox_fuel_consumed_total",
        "counter",
        "Fuel consumed by finished runs (dispatches and manual runs).",
        m.fuel.load(Ordering::Relaxed) as i64,
    );
    labelled(
        &mut out,
        "runbox_manual_runs_total",
        "Manual runs (POST /runbooks/exec) by outcome.",
        "outcome",
        &m.manual_runs,
    );
    single(
        &mut out,
        "runbox_runs_in_flight",
        "gauge",
        "Manual runs going on now.",
        m.runs_in_flight.load(Ordering::Relaxed),
    );
    labelled(
        &mut out,
        "runbox_repository_fetch_errors_total",
        "Failed repository refreshes started by the server (periodic or API), by org/repository.",
        "repository",
        &m.repo_fetch_errors,
    );
    repositories(&mut out, repos);
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: i64) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn labelled(out: &mut String, name: &str, help: &str, label: &str, values: &Labelled) {
    header(out, name, "counter", help);
    for (value, n) in values.snapshot() {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(&value));
    }
}

fn histogram(out: &mut String, m: &Metrics) {
    let name = "runbox_run_duration_seconds";
    header(
        out,
        name,
        "histogram",
        "Wall-clock duration of dispatch runs that reached the sandbox.",
    );
    let h = &m.run_duration;
    let mut cumulative = 0;
    for (i, bound) in RUN_DURATION_BUCKETS.iter().enumerate() {
        cumulative += h.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let count = h.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

fn repositories(out: &mut String, repos: &[RepoStatus]) {
    let labels = |r: &RepoStatus| {
        format!(
            "org=\"{}\",repository=\"{}\"",
            escape(&r.org),
            escape(r.repository.as_str())
        )
    };
    header(
        out,
        "runbox_repository_fetches_total",
        "counter",
        "Fetches started per repository (any cause).",
    );
    for r in repos {
        let _ = writeln!(
            out,
            "runbox_repository_fetches_total{{{}}} {}",
            labels(r),
            r.fetches
        );
    }
    header(
        out,
        "runbox_repository_last_fetch_failed",
        "gauge",
        "1 when the last refresh of the repository failed (an older snapshot is served).",
    );
    for r in repos {
        let _ = writeln!(
            out,
            "runbox_repository_last_fetch_failed{{{}}} {}",
            labels(r),
            u8::from(r.last_error.is_some())
        );
    }
    header(
        out,
        "runbox_repository_runbooks",
        "gauge",
        "Runbook files of the served snapshot, by state (loaded or failed).",
    );
    for r in repos {
        let l = labels(r);
        let _ = writeln!(
            out,
            "runbox_repository_runbooks{{{l},state=\"loaded\"}} {}",
            r.loaded
        );
        let _ = writeln!(
            out,
            "runbox_repository_runbooks{{{l},state=\"failed\"}} {}",
            r.failed
        );
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_prometheus_text() {
        let m = Metrics::new();
        m.events_published.add("session.closed", 2);
        m.dispatches.add("delivered", 3);
        m.record_failure_code("fuel_exhausted");
        m.run_duration.observe_ms(3);
        m.run_duration.observe_ms(2000);
        let text = render(&m, &[]);
        assert!(text.contains("runbox_events_published_total{event_type=\"session.closed\"} 2"));
        assert!(text.contains("runbox_dispatches_total{status=\"delivered\"} 3"));
        assert!(text.contains("runbox_limit_hits_total{code=\"fuel_exhausted\"} 1"));
        assert!(text.contains("runbox_run_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("runbox_run_duration_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("runbox_run_duration_seconds_count 2"));
        assert!(text.contains("# TYPE runbox_run_duration_seconds histogram"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
