//! The world the event-routing benchmarks share: a bare git repository holding the noop
//! runbook, a runtime with routing on, one `custom` connection and N active subscriptions
//! of the noop runbook, a sample payload, delivery counts from the per-subscription stats,
//! and latency figures.
#![allow(
    dead_code,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use runbox::dispatch::WorkerSettings;
use runbox::model::{
    AccessMode, ConnectionSpec, ConnectionType, Secrets, SubscriptionSpec, SubscriptionStatus,
};
use runbox::{EngineSettings, RepoConfig, Runtime};

pub const ORG: &str = "acme";
pub const EVENT: &str = "alert.sensitive_data_detected";
pub const RUNBOOK: &str = "noop.runbook.wasm";
pub const CONNECTION: &str = "bash-ops";

/// A temp dir with a bare git repository holding the noop runbook, and a data dir.
pub struct World {
    tmp: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(tmp.path().join("source.git")).unwrap();
        let wasm = std::fs::read(runbox_fixtures::fixtures::NOOP).unwrap();
        let blob = repo.blob(&wasm).unwrap();
        let mut tree = repo.treebuilder(None).unwrap();
        tree.insert(RUNBOOK, blob, 0o100644).unwrap();
        let tree = repo.find_tree(tree.write().unwrap()).unwrap();
        let sig = Signature::now("Alex Morgan", "alex.morgan@acme.com").unwrap();
        let id = repo
            .commit(None, &sig, &sig, "runbooks", &tree, &[])
            .unwrap();
        repo.reference("refs/heads/main", id, true, "bench")
            .unwrap();
        repo.set_head("refs/heads/main").unwrap();
        World { tmp }
    }

    /// The disk's own floor under an acknowledgement, measured next to where the store
    /// lives: `n` overwrites of 2 KiB in a preallocated file, each followed by `fdatasync`
    /// (what a journal sync does), one at a time, started every `1/rate` s. A publish at
    /// that rate waits for at least one such sync, so when this probe's p99 is above a
    /// target, no store could meet it on this disk at that moment. Paced, not back to back:
    /// a VM's host stalls its flushes now and then (10-40 ms here), and a probe as long as
    /// a phase at the phase's rate meets those stalls as often as the phase does.
    /// Returns p50, p99 and max in ms.
    pub fn disk_sync_floor(&self, n: usize, rate: u64) -> (f64, f64, f64) {
        use std::os::unix::fs::FileExt as _;
        let path = self.tmp.path().join("disk-probe");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .unwrap();
        let record = [0x5au8; 2048];
        file.write_all_at(&vec![0u8; record.len() * n], 0).unwrap();
        file.sync_all().unwrap();
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            if let Some(wait) =
                (started + interval * i as u32).checked_duration_since(Instant::now())
            {
                std::thread::sleep(wait);
            }
            let began = Instant::now();
            file.write_all_at(&record, (i * record.len()) as u64)
                .unwrap();
            file.sync_data().unwrap();
            latencies.push(began.elapsed());
        }
        drop(file);
        std::fs::remove_file(&path).unwrap();
        percentiles(latencies)
    }

    pub fn repo_url(&self) -> String {
        format!("file://{}", self.tmp.path().join("source.git").display())
    }

    /// A runtime with `workers`, routing on, the connection and `subscriptions` active
    /// subscriptions of the noop runbook (their ids returned).
    pub async fn runtime(
        &self,
        workers: WorkerSettings,
        subscriptions: usize,
    ) -> (Runtime, Vec<String>) {
        let rt = Runtime::builder()
            .data_dir(self.tmp.path().join("data"))
            .repository(ORG, RepoConfig::new(self.repo_url()))
            .engine_settings(EngineSettings {
                max_instances: 8,
                ..EngineSettings::default()
            })
            .worker_settings(workers)
            .build()
            .await
            .expect("runtime builds");
        rt.set_event_routing(ORG, true, "admin").await.unwrap();
        rt.create_connection(ORG, connection_spec(), "admin")
            .await
            .unwrap();
        let mut subs = Vec::new();
        for i in 0..subscriptions {
            let spec = SubscriptionSpec {
                name: format!("noop-{i}"),
                description: "bench".into(),
                event_types: vec![EVENT.to_string()],
                runbook_repository: self.repo_url(),
                runbook_file: RUNBOOK.to_string(),
                connection_name: CONNECTION.to_string(),
                parameter_mapping: BTreeMap::new(),
                status: SubscriptionStatus::Active,
                retry_policy: None,
            };
            subs.push(rt.create_subscription(ORG, spec, "admin").await.unwrap().id);
        }
        (rt, subs)
    }
}

pub fn connection_spec() -> ConnectionSpec {
    ConnectionSpec {
        name: CONNECTION.to_string(),
        kind: ConnectionType::Custom,
        subtype: String::new(),
        tags: vec![],
        agent_id: Some("agent-1".into()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Disabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".into()],
        secrets: Secrets::default(),
        command: vec!["bash".into()],
    }
}

pub fn payload(n: usize) -> serde_json::Value {
    serde_json::json!({"session_id": format!("ses_{n:08}"), "user": "alex.morgan@acme.com",
        "connection": "conn-prod-pg", "types_detected": ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"],
        "total_detections": 12, "occurred_at": "2026-05-04T14:30:00Z"})
}

/// Delivered and failed dispatches over all subscriptions (hourly counters: cheap).
pub async fn finished(rt: &Runtime, subs: &[String]) -> (u64, u64) {
    let (mut delivered, mut failed) = (0, 0);
    for id in subs {
        let stats = rt.get_subscription(ORG, id).await.unwrap().stats;
        delivered += stats.delivered_count_7d;
        failed += stats.failed_count_7d;
    }
    (delivered, failed)
}

/// Polls until `target` dispatches finished or `bound` passed; returns the last counts.
pub async fn wait_finished(
    rt: &Runtime,
    subs: &[String],
    target: u64,
    bound: Duration,
) -> (u64, u64) {
    let start = Instant::now();
    loop {
        let (d, f) = finished(rt, subs).await;
        if d + f >= target || start.elapsed() > bound {
            return (d, f);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p99 and max of `latencies`, in ms (zeros when there are none).
pub fn percentiles(mut latencies: Vec<Duration>) -> (f64, f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    latencies.sort();
    let n = latencies.len();
    let pct = |p: f64| ms(latencies[((n as f64 * p) as usize).min(n - 1)]);
    (pct(0.50), pct(0.99), ms(latencies[n - 1]))
}
