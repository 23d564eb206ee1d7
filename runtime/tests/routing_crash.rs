//! The crash test: a child process running the runtime is killed with SIGKILL in the
//! middle of a burst of publishes (with workers running). After a restart, every event
//! whose publish was acknowledged exists with exactly its dispatches (one per active
//! subscription), publishing it again is a duplicate, and no dispatch is `processing`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod routing_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use routing_common::*;
use runbox::model::DispatchStatus;

const CHILD_ENV: &str = "RUNBOX_CRASH_CHILD";
const ACKS_BEFORE_KILL: usize = 300;
const PUBLISHERS: usize = 4;

/// Runs only in the child: publishes until killed, printing `ACK <producer> <event>
/// <dispatch ids...>` after each acknowledged publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (data_dir, url) = spec.split_once('|').unwrap();
    let rt = Arc::new(
        start(
            std::path::Path::new(data_dir),
            url,
            2,
            runbox::host::Limits::default(),
            Arc::new(RecordingAgent::default()),
        )
        .await,
    );
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let rt = Arc::clone(&rt);
            tokio::spawn(async move {
                for i in 0.. {
                    let producer = format!("p{p}-{i}");
                    let r = rt
                        .publish(ORG, EVENT, sample_payload(), Some(&producer))
                        .await
                        .unwrap();
                    let line = format!(
                        "ACK {producer} {} {}\n",
                        r.event_id.unwrap(),
                        r.dispatch_ids.join(" ")
                    );
                    let mut out = std::io::stdout().lock();
                    out.write_all(line.as_bytes()).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_burst_loses_no_acknowledged_event_and_leaves_nothing_processing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let world = World::new();
    // Setup in this process, then release the store for the child.
    let subs = {
        let rt = world.ready(0).await;
        let a = rt
            .create_subscription(ORG, world.subscription("a", REVOKE), "admin")
            .await
            .unwrap();
        let b = rt
            .create_subscription(ORG, world.subscription("b", REVOKE), "admin")
            .await
            .unwrap();
        rt.shutdown(Duration::from_secs(1)).await;
        vec![a.id, b.id]
    };

    let spec = format!("{}|{}", world.data_dir().display(), world.repo_url());
    let acks = tokio::task::spawn_blocking(move || {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acks: Vec<(String, String, Vec<String>)> = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(rest) = line.strip_prefix("ACK ") else {
                continue;
            };
            let mut parts = rest.split(' ');
            let producer = parts.next().unwrap().to_string();
            let event = parts.next().unwrap().to_string();
            let dispatches = parts.map(str::to_string).collect();
            acks.push((producer, event, dispatches));
            if acks.len() == ACKS_BEFORE_KILL {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the child must have been killed: {status}"
        );
        acks
    })
    .await
    .unwrap();
    assert_eq!(acks.len(), ACKS_BEFORE_KILL, "the child stopped early");
    // The burst is far shorter than a journal checkpoint interval, so what the child
    // acknowledged is in its journal and the restart below recovers by replaying it.
    let journal = world.data_dir().join("store").join("journal");
    let journaled: u64 = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(journaled > 0, "the killed child left no journal records");

    let rt = world.runtime(0).await;
    // Every dispatch of the subscriptions, grouped by event.
    let mut by_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut processing = 0;
    for sub in &subs {
        let mut page = 1;
        loop {
            let p = rt.list_dispatches(ORG, sub, page, 100).await.unwrap();
            for d in &p.items {
                if d.status == DispatchStatus::Processing {
                    processing += 1;
                }
                by_event
                    .entry(d.event_id.clone())
                    .or_default()
                    .push(d.id.clone());
            }
            if page * 100 >= p.total {
                break;
            }
            page += 1;
        }
    }
    assert_eq!(processing, 0, "nothing may be left processing");
    for (producer, event, dispatches) in &acks {
        assert_eq!(dispatches.len(), subs.len(), "{producer}");
        let stored: BTreeSet<&String> = by_event
            .get(event)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let acked: BTreeSet<&String> = dispatches.iter().collect();
        assert_eq!(stored, acked, "event {event} of {producer}");
        let again = rt
            .publish(ORG, EVENT, sample_payload(), Some(producer))
            .await
            .unwrap();
        assert!(again.duplicate, "{producer}");
        assert_eq!(again.event_id.as_deref(), Some(event.as_str()));
    }
    eprintln!(
        "crash test: {} acknowledged, {} events stored, {} recovered at start",
        acks.len(),
        by_event.len(),
        rt.recovered_at_start()
    );
    rt.shutdown(Duration::from_secs(1)).await;
}
