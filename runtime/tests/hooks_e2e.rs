//! Session hooks end to end through `Runtime::session_opened` / `session_closed`: real
//! hook components from a real git repository (`hoop-hooks/`), the siem-forward example
//! posting to a real HTTP receiver on loopback (body and headers asserted), the fixtures
//! that spin or allocate without end, secrets, the TTL on a manual clock, and egress
//! denials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hooks_common;

use std::time::Duration;

use hooks_common::*;
use runbox::HookRun;
use runbox::hooks::result::HOOK_OUTPUT_BYTES;
use runbox::hooks::{OrgHookSettings, hook_id};
use runbox::host::{ConfigSource, ConfigSourceError, HookKind, Limits};

/// hoop's open payload for [`session`] on `pg-prod`, `HOST` shown as `host_value`.
fn expected_open(sid: &str, host_value: &str) -> String {
    let id = hook_id(HookKind::SessionOpen, sid);
    format!(
        r#"{{"id":"{id}","sid":"{sid}","command":["python3"],"input_file":"","event_session_open":{{"verb":"exec","connection_name":"pg-prod","connection_type":"database","connection_subtype":"postgres","connection_envs":{{"envvar:HOST":"{host_value}"}},"connection_reviewers":["dba-team"],"input":"SELECT 1","user_email":"alex.morgan@acme.com"}},"event_session_close":null}}"#
    )
}

fn assert_forwarded(run: &HookRun, body_len: usize) {
    assert_eq!(run.error, None, "{run:#?}");
    assert_eq!(run.exit_code, 0);
    assert_eq!(
        run.output,
        format!("forwarded {body_len} bytes: status 202")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_and_close_hooks_deliver_hoops_exact_payload() {
    let (port, mut rx) = receiver().await;
    let (world, commit) = HookWorld::siem();
    let rt = world.siem_runtime(port).await;

    let open = rt
        .session_opened(ORG, session(SID))
        .wait()
        .await
        .expect("open hook ran");
    let got = next(&mut rx).await;
    // Secret values are hidden by default: the key is there, the value is "".
    let body = expected_open(SID, "");
    assert_eq!(got.body_text(), body);
    assert!(
        got.request_line.starts_with("POST /ingest HTTP/1.1"),
        "{got:?}"
    );
    assert_eq!(got.header("x-runbox-event"), Some("session-open"));
    let open_id = hook_id(HookKind::SessionOpen, SID);
    assert_eq!(got.header("x-runbox-hook-id"), Some(open_id.as_str()));
    assert!(
        got.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(got.header("authorization"), None);
    assert_forwarded(&open, body.len());
    assert_eq!(open.id, open_id);
    assert_eq!(open.hook, "session-open");
    assert_eq!(open.commit.as_deref(), Some(commit.as_str()));

    let close = rt
        .session_closed(ORG, SID, Some(0), None)
        .wait()
        .await
        .expect("close hook ran");
    let got = next(&mut rx).await;
    let close_id = hook_id(HookKind::SessionClose, SID);
    // `command` and `input_file` come from the session's open.
    let body = format!(
        r#"{{"id":"{close_id}","sid":"{SID}","command":["python3"],"input_file":"","event_session_open":null,"event_session_close":{{"exit_code":0,"output":null}}}}"#
    );
    assert_eq!(got.body_text(), body);
    assert_eq!(got.header("x-runbox-event"), Some("session-close"));
    assert_eq!(got.header("x-runbox-hook-id"), Some(close_id.as_str()));
    assert_forwarded(&close, body.len());

    // Recorded durably and queryable per session, oldest first.
    let runs = rt.hook_runs(ORG, SID).unwrap();
    assert_eq!(runs, vec![open, close]);
    assert!(rt.hook_runs(ORG, "another-session").unwrap().is_empty());
    assert!(rx.try_recv().is_err(), "exactly two requests");
    rt.shutdown(Duration::from_secs(5)).await;
    drop(rt);

    // A restart reads the same runs back.
    let rt = world.siem_runtime(port).await;
    assert_eq!(rt.hook_runs(ORG, SID).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_hook_fires_twice_for_one_session() {
    let (port, mut rx) = receiver().await;
    let (world, _) = HookWorld::siem();
    let rt = world.siem_runtime(port).await;
    // A review re-opens the session: the same event, the same hook id.
    let first = rt.session_opened(ORG, session(SID)).wait().await.unwrap();
    let second = rt.session_opened(ORG, session(SID)).wait().await.unwrap();
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!(a.body, b.body);
    assert_eq!(a.body_text(), expected_open(SID, ""));
    assert_eq!(a.header("x-runbox-hook-id"), b.header("x-runbox-hook-id"));
    assert_eq!(first.id, second.id);
    let runs = rt.hook_runs(ORG, SID).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r.hook == "session-open" && r.error.is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_are_shown_only_when_the_org_allows() {
    let (port, mut rx) = receiver().await;
    let (world, _) = HookWorld::siem();
    let rt = world.siem_runtime(port).await;
    assert_eq!(
        rt.hook_org_settings(ORG).unwrap(),
        OrgHookSettings::default()
    );

    rt.session_opened(ORG, session("s-hidden"))
        .wait()
        .await
        .unwrap();
    let hidden = next(&mut rx).await;
    assert!(
        hidden
            .body_text()
            .contains(r#""connection_envs":{"envvar:HOST":""}"#)
    );
    assert!(!hidden.body_text().contains("ZGIuaW50ZXJuYWw="));

    rt.set_hook_org_settings(
        ORG,
        OrgHookSettings {
            show_secret_values: true,
        },
    )
    .await
    .unwrap();
    rt.session_opened(ORG, session("s-shown"))
        .wait()
        .await
        .unwrap();
    let shown = next(&mut rx).await;
    // base64("db.internal"), as hoop sends it.
    assert_eq!(
        shown.body_text(),
        expected_open("s-shown", "ZGIuaW50ZXJuYWw=")
    );
    // Another org keeps the default.
    assert!(
        !rt.hook_org_settings("other-org")
            .unwrap()
            .show_secret_values
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_exec_sessions_run_no_hooks() {
    let (port, mut rx) = receiver().await;
    let (world, _) = HookWorld::siem();
    let rt = world.siem_runtime(port).await;
    let mut plain = session("s-plain");
    plain.verb = "plain-exec".into();
    assert!(rt.session_opened(ORG, plain).wait().await.is_none());
    assert!(
        rt.session_closed(ORG, "s-plain", Some(0), None)
            .wait()
            .await
            .is_none()
    );
    assert!(rt.hook_runs(ORG, "s-plain").unwrap().is_empty());
    // A normal session afterwards is the first thing the receiver sees.
    rt.session_opened(ORG, session("s-normal"))
        .wait()
        .await
        .unwrap();
    let got = next(&mut rx).await;
    assert_eq!(got.body_text(), expected_open("s-normal", ""));
    assert!(rx.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_that_spin_or_allocate_forever_are_stopped_by_the_limits() {
    let spin = fixture(runbox_fixtures::fixtures::INFINITE_LOOP);
    let alloc = fixture(runbox_fixtures::fixtures::UNBOUNDED_ALLOC);
    let (world, _) = HookWorld::new(&[(OPEN_HOOK, &spin), (CLOSE_HOOK, &alloc)]);
    let limits = Limits {
        // Fuel would stop the loop too; make the wall bound the limit that hits.
        fuel: u64::MAX / 2,
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let bound = Duration::from_secs(1);
    let rt = world
        .runtime(
            siem_config("http://127.0.0.1:9/x"),
            loopback_egress(9),
            limits,
            bound,
        )
        .await;
    // Load (compile) the hooks first, so the bound goes to the guests, not to the first
    // fetch of a debug build.
    rt.repositories().hooks(ORG).await.unwrap();

    // Both calls return a ticket without waiting for the guest; the session goes on.
    let open = rt.session_opened(ORG, session(SID));
    let close = rt.session_closed(ORG, SID, Some(1), Some("bye".into()));
    let open = open.wait().await.unwrap();
    let close = close.wait().await.unwrap();
    assert_eq!(
        open.error.as_ref().unwrap().code,
        "deadline_exceeded",
        "{open:#?}"
    );
    assert_eq!(open.exit_code, -1);
    assert_eq!(
        close.error.as_ref().unwrap().code,
        "memory_limit",
        "{close:#?}"
    );
    assert!(close.peak_memory_bytes.unwrap() <= 32 << 20);
    assert!(close.output.len() <= HOOK_OUTPUT_BYTES + 40);
    assert_eq!(rt.hook_runs(ORG, SID).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_repository_is_not_refetched_inside_the_ttl() {
    let (port, mut rx) = receiver().await;
    let (world, c1) = HookWorld::siem();
    let rt = world.siem_runtime(port).await;
    let fetches = |rt: &runbox::Runtime| rt.repositories().status(ORG)[0].fetches;

    let run = rt.session_opened(ORG, session("s1")).wait().await.unwrap();
    assert_eq!(run.commit.as_deref(), Some(c1.as_str()));
    next(&mut rx).await;
    assert_eq!(fetches(&rt), 1);

    // The repository drops the open hook; inside the TTL the old snapshot still serves.
    let siem = fixture(runbox_fixtures::examples::SIEM_FORWARD);
    let c2 = world
        .source
        .commit("main", &[(CLOSE_HOOK, &siem)], "close hook only");
    world.clock.advance(Duration::from_secs(TTL - 1));
    let run = rt.session_opened(ORG, session("s2")).wait().await.unwrap();
    assert_eq!(run.commit.as_deref(), Some(c1.as_str()));
    next(&mut rx).await;
    assert_eq!(fetches(&rt), 1, "no refetch inside the TTL");

    // Past the TTL the next refresh picks up the new commit: no open hook any more.
    world.clock.advance(Duration::from_secs(1));
    let url = world.source.file_url();
    rt.repositories().refresh_if_stale(ORG, &url).await.unwrap();
    assert_eq!(fetches(&rt), 2);
    assert!(rt.session_opened(ORG, session("s3")).wait().await.is_none());
    let close = rt
        .session_closed(ORG, "s3", None, None)
        .wait()
        .await
        .unwrap();
    assert_eq!(close.commit.as_deref(), Some(c2.as_str()));
    next(&mut rx).await;
    assert_eq!(fetches(&rt), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_posting_to_a_host_off_the_allow_list_is_policy_denied() {
    let (port, mut rx) = receiver().await;
    let (world, _) = HookWorld::siem();
    let denied = "siem.not-allowed.invalid";
    let rt = world
        .runtime(
            siem_config(&format!("http://{denied}:{port}/ingest")),
            loopback_egress(port),
            Limits::default(),
            Duration::from_secs(15),
        )
        .await;
    let run = rt
        .session_closed(ORG, SID, Some(0), None)
        .wait()
        .await
        .unwrap();
    let error = run.error.clone().expect("the hook failed");
    assert_eq!(error.code, "policy_denied", "{run:#?}");
    assert!(error.message.contains(denied), "{error:?}");
    assert_eq!(run.exit_code, 1, "a runbook that returned an error");
    assert_eq!(rt.hook_runs(ORG, SID).unwrap(), vec![run]);
    assert!(rx.try_recv().is_err(), "nothing reached the receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_command_hook_reads_the_payload_from_its_environment() {
    let plain = fixture(runbox_fixtures::fixtures::PLAIN_EXIT);
    let sidecar = fixture(runbox_fixtures::fixtures::PLAIN_EXIT_SIDECAR);
    let (world, _) = HookWorld::new(&[
        (OPEN_HOOK, &plain),
        ("hoop-hooks/session-open.runbook.toml", &sidecar),
    ]);
    let rt = world.offline_runtime().await;
    let run = rt.session_opened(ORG, session(SID)).wait().await.unwrap();
    assert_eq!(run.error, None, "{run:#?}");
    assert_eq!(run.exit_code, 0);
    // The bytes of HOOP_RUNBOOK_HOOK_PAYLOAD are hoop's open payload, exactly.
    let len = expected_open(SID, "").len();
    assert!(
        run.output
            .starts_with(&format!("payload_len={len}\ntarget=\n")),
        "{run:#?}"
    );
    // No close hook in this repository: nothing runs, nothing is recorded.
    assert!(
        rt.session_closed(ORG, SID, None, None)
            .wait()
            .await
            .is_none()
    );
    assert_eq!(rt.hook_runs(ORG, SID).unwrap().len(), 1);
}

/// A runbook-world (SDK) hook gets hoop's payload in `HOOP_RUNBOOK_HOOK_PAYLOAD` too, the
/// same bytes as its typed invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_hook_sees_the_payload_in_its_environment_and_its_invocation() {
    let sdk = fixture(runbox_fixtures::fixtures::SDK_HOOK_ENV);
    let (world, _) = HookWorld::new(&[(OPEN_HOOK, &sdk)]);
    let rt = world.offline_runtime().await;
    let run = rt.session_opened(ORG, session(SID)).wait().await.unwrap();
    assert_eq!(run.error, None, "{run:#?}");
    let expected = expected_open(SID, "");
    assert_eq!(run.output, format!("{expected}\n{expected}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_without_a_hook_repository_runs_and_records_nothing() {
    let (world, _) = HookWorld::siem();
    // The same repository, configured without `hook_config_ttl`: hooks are off (hoop's rule).
    let rt = runbox::Runtime::builder()
        .data_dir(world.tmp.path().join("data"))
        .repository(ORG, runbox::RepoConfig::new(world.source.file_url()))
        .workers(0)
        .build()
        .await
        .unwrap();
    assert!(rt.session_opened(ORG, session(SID)).wait().await.is_none());
    assert!(
        rt.session_closed(ORG, SID, Some(0), None)
            .wait()
            .await
            .is_none()
    );
    // An org the runtime does not know at all.
    assert!(
        rt.session_opened("nobody-org", session(SID))
            .wait()
            .await
            .is_none()
    );
    assert!(rt.hook_runs(ORG, SID).unwrap().is_empty());
    assert_eq!(
        rt.repositories().status(ORG)[0].fetches,
        0,
        "nothing fetched for hooks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_output_is_capped_at_4096_bytes_with_hoops_suffix() {
    // output-flood returns 4 MiB (its default) after flooding stdout and the log.
    let flood = fixture(runbox_fixtures::fixtures::OUTPUT_FLOOD);
    let (world, _) = HookWorld::new(&[(CLOSE_HOOK, &flood)]);
    let rt = world.offline_runtime().await;
    let run = rt
        .session_closed(ORG, SID, Some(0), None)
        .wait()
        .await
        .unwrap();
    assert_eq!(run.error, None, "{:?}", run.error);
    let suffix = format!(" [truncated {} byte(s)]", (4u64 << 20) - 4096);
    assert!(run.output.ends_with(&suffix), "{}", &run.output[4000..]);
    assert_eq!(run.output.len(), HOOK_OUTPUT_BYTES + suffix.len());
    assert_eq!(rt.hook_runs(ORG, SID).unwrap(), vec![run]);
}

/// A clean shutdown waits (within its deadline) for a hook still running, so its result is
/// recorded before `shutdown` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_a_running_hook_to_be_recorded() {
    let spin = fixture(runbox_fixtures::fixtures::INFINITE_LOOP);
    let (world, _) = HookWorld::new(&[(OPEN_HOOK, &spin)]);
    let limits = Limits {
        fuel: u64::MAX / 2,
        ..Limits::default()
    };
    let rt = world
        .runtime(
            siem_config("http://127.0.0.1:9/x"),
            loopback_egress(9),
            limits,
            Duration::from_secs(1),
        )
        .await;
    rt.repositories().hooks(ORG).await.unwrap();
    let _ticket = rt.session_opened(ORG, session(SID));
    rt.shutdown(Duration::from_secs(60)).await;
    let runs = rt.hook_runs(ORG, SID).unwrap();
    assert_eq!(
        runs.len(),
        1,
        "recorded before shutdown returned: {runs:#?}"
    );
    assert_eq!(runs[0].error.as_ref().unwrap().code, "deadline_exceeded");
}

/// An embedder's config source with a bug: it panics when asked for a key.
struct PanickingConfig;

impl ConfigSource for PanickingConfig {
    fn get(&self, _key: &str) -> Result<Option<String>, ConfigSourceError> {
        panic!("config backend: index out of range");
    }
}

/// A panic in the host during a hook run (here the embedder's config source, called when
/// the siem-forward hook reads `siem_url`) ends that run as failed with code `internal`,
/// recorded like any other, the panic's own words kept to the log; the next session's hook
/// runs too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_run_that_panics_in_the_host_is_recorded_as_failed_internal() {
    let (world, _) = HookWorld::siem();
    let rt = world
        .runtime(
            PanickingConfig,
            loopback_egress(9),
            Limits::default(),
            Duration::from_secs(15),
        )
        .await;
    let run = rt
        .session_opened(ORG, session(SID))
        .wait()
        .await
        .expect("the open hook's run is reported");
    let error = run.error.clone().expect("the run failed");
    assert_eq!(error.code, "internal", "{run:#?}");
    assert!(error.message.contains("panic"), "{error:?}");
    assert!(
        !error.message.contains("index out of range"),
        "the panic's own words stay in the log: {error:?}"
    );
    assert_eq!(run.hook, "session-open");
    let recorded = rt.hook_runs(ORG, SID).unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(
        recorded[0].error.as_ref().map(|e| e.code.as_str()),
        Some("internal")
    );

    // The runtime goes on: the close hook of the session runs and is recorded as well.
    let close = rt
        .session_closed(ORG, SID, Some(0), None)
        .wait()
        .await
        .expect("the close hook's run is reported");
    assert_eq!(close.error.map(|e| e.code), Some("internal".to_owned()));
    assert_eq!(rt.hook_runs(ORG, SID).unwrap().len(), 2);
    rt.shutdown(Duration::from_secs(5)).await;
}
