//! `POST /events` -> `delivered` over real HTTP on loopback: the admin API
//! (`runbox::api::router`) served by axum on `127.0.0.1:0` in front of the real `Runtime`
//! (sled store in a temp data dir, the noop runbook from a real git repository over
//! `file://`, 10 active subscriptions per event on one connection whose agent is online).
//!
//! `cargo bench -p runbox --bench http_events` (release). Prints figures; asserts nothing
//! about speed. The load generator runs on its own thread and tokio runtime (a gateway in
//! another process, as far as one process allows) and holds N keep-alive HTTP/1.1
//! connections (hyper's client), each posting `{event_type, payload, producer_event_id}`
//! with a unique producer id, one request at a time, with an admin bearer token:
//! - throughput, 8 and 32 connections: as fast as the server answers, bounded by a count
//!   and a time; events/s acknowledged and p50/p99/max acknowledgement latency (a 202 is
//!   only sent once the event and its dispatches are durable), then the time until every
//!   dispatch is `delivered` (dispatches/s delivered, counted from the first request);
//! - paced: 500 and 1,000 events/s offered for 5 s over 16 connections, workers
//!   delivering meanwhile (the latency is measured from the send; how far behind its
//!   schedule a request went out is printed too).
//!
//! Every request must be answered 202 with one dispatch per subscription; anything else
//! (another status, a transport error, a timeout, a short receipt) is counted and printed
//! as an error. Delivery is counted through the per-subscription stats (hourly counters),
//! so polling does not scan dispatches. Every wait is bounded; a bound that is hit is said.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod routing_world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use routing_world::*;
use runbox::api::{ApiState, router};
use runbox::dispatch::WorkerSettings;
use runbox::{Role, Runtime};
use tokio::net::{TcpListener, TcpStream};

/// See the `mimalloc` feature in `runtime/Cargo.toml` for why.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Subscriptions per event (fan-out): `RUNBOX_BENCH_SUBSCRIPTIONS`, default 10 (as the
/// routing benchmark). With 1 the figure is the HTTP ingestion path itself.
fn subscriptions() -> usize {
    std::env::var("RUNBOX_BENCH_SUBSCRIPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10)
}
/// Dispatch workers of the runtime (the machine has 2 cores).
const WORKERS: usize = 2;
/// Connection counts of the throughput runs.
const THROUGHPUT_CONNECTIONS: [usize; 2] = [8, 32];
/// A throughput run stops after this many requests...
const THROUGHPUT_EVENTS: usize = 10_000;
/// ...or once this much time has passed, whichever comes first.
const THROUGHPUT_TIME: Duration = Duration::from_secs(20);
/// Offered rates of the paced runs (events/s), each for [`PACED_TIME`].
const PACED_RATES: [u64; 2] = [500, 1_000];
const PACED_TIME: Duration = Duration::from_secs(5);
const PACED_CONNECTIONS: usize = 16;
/// Longest wait for one request's answer (counted as an error when hit).
const REQUEST_BOUND: Duration = Duration::from_secs(30);
/// Longest wait for a run's dispatches to be delivered (reported, not required).
const DELIVERY_BOUND: Duration = Duration::from_secs(60);

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap();
    let n_subs = subscriptions();
    println!(
        "http_events: {cores} cores; server: axum on 127.0.0.1 over {cores} tokio worker threads, {WORKERS} dispatch workers, {n_subs} active subscriptions per event, noop runbook, sled store (202 only after the durable write); load generator: keep-alive HTTP/1.1 (hyper client) on its own thread; load average at start {}",
        load_average()
    );
    runtime.block_on(bench());
}

/// The 1-minute load average (the machine is shared with other builds).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The admin API served on `127.0.0.1:0` until `stop` fires.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(rt: Arc<Runtime>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(ApiState::new(rt));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Server { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops within 10 s")
            .unwrap();
    }
}

/// What one load run sends: requests numbered from `first`, at most `events` of them and
/// none started after `time`; paced to `rate` requests/s overall when set.
#[derive(Debug, Clone, Copy)]
struct Plan {
    connections: usize,
    first: usize,
    events: usize,
    time: Duration,
    rate: Option<u64>,
}

/// What one load run saw.
#[derive(Debug, Default)]
struct Outcome {
    /// Latency of every request answered 202 with a full receipt.
    acked: Vec<Duration>,
    /// Requests sent (acknowledged or not).
    sent: usize,
    /// Non-202 answers and failures, by kind.
    errors: BTreeMap<String, usize>,
    /// Dispatches the receipts named.
    dispatches: usize,
    /// From the first request to the last answer.
    wall: Duration,
    /// Paced runs: how far behind its schedule a request was sent, at worst (the latencies
    /// are measured from the send, so a server that falls behind shows here).
    max_late: Duration,
}

impl Outcome {
    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    fn merge(&mut self, other: Outcome) {
        self.acked.extend(other.acked);
        self.sent += other.sent;
        self.dispatches += other.dispatches;
        self.max_late = self.max_late.max(other.max_late);
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }

    fn error_count(&self) -> usize {
        self.errors.values().sum()
    }
}

/// Runs `plan` against `addr` on a thread and tokio runtime of its own, so the load
/// generator does not run on the server's worker threads.
async fn load(addr: SocketAddr, token: &str, plan: Plan) -> Outcome {
    let bearer = format!("Bearer {token}");
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(generate(addr, bearer, plan))
    })
    .await
    .unwrap()
}

async fn generate(addr: SocketAddr, bearer: String, plan: Plan) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let bearer = Arc::new(bearer);
    let started = Instant::now();
    let deadline = started + plan.time;
    let mut tasks = Vec::new();
    for _ in 0..plan.connections {
        let (next, bearer) = (Arc::clone(&next), Arc::clone(&bearer));
        tasks.push(tokio::spawn(async move {
            connection(addr, &bearer, plan, &next, started, deadline).await
        }));
    }
    let mut outcome = Outcome::default();
    for task in tasks {
        outcome.merge(task.await.unwrap());
    }
    outcome.wall = started.elapsed();
    outcome
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One connection's share of `plan`: takes request numbers from `next` until the count or
/// the deadline is reached; reconnects after a transport error.
async fn connection(
    addr: SocketAddr,
    bearer: &str,
    plan: Plan,
    next: &AtomicUsize,
    started: Instant,
    deadline: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut sender: Option<Sender> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= plan.events || Instant::now() >= deadline {
            return outcome;
        }
        if let Some(rate) = plan.rate {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            if due >= deadline {
                return outcome;
            }
            tokio::time::sleep_until(due.into()).await;
            outcome.max_late = outcome.max_late.max(due.elapsed());
        }
        let n = plan.first + i;
        let body = serde_json::to_vec(&serde_json::json!({
            "event_type": EVENT,
            "payload": payload(n),
            "producer_event_id": format!("ses_{n:08}:{EVENT}"),
        }))
        .unwrap();
        outcome.sent += 1;
        let sent = Instant::now();
        let answer = match sender.take() {
            Some(s) => Ok(s),
            None => connect(addr).await,
        };
        let answer = match answer {
            Ok(mut s) => {
                let result = tokio::time::timeout(REQUEST_BOUND, post(&mut s, addr, bearer, body))
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_BOUND:?}")));
                if result.is_ok() {
                    sender = Some(s);
                }
                result
            }
            Err(e) => Err(e),
        };
        let latency = sent.elapsed();
        match answer {
            Ok((StatusCode::ACCEPTED, receipt)) => {
                let dispatches = receipt["dispatch_ids"].as_array().map_or(0, Vec::len);
                if dispatches == subscriptions() {
                    outcome.acked.push(latency);
                    outcome.dispatches += dispatches;
                } else {
                    outcome.error(format!("202 with {dispatches} dispatch ids: {receipt}"));
                }
            }
            Ok((status, body)) => outcome.error(format!("{status}: {body}")),
            Err(e) => outcome.error(e),
        }
    }
}

/// One `POST /events` on `sender`: the status and the JSON body.
async fn post(
    sender: &mut Sender,
    addr: SocketAddr,
    bearer: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, serde_json::Value), String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/events")
        .header(HOST, addr.to_string())
        .header(AUTHORIZATION, bearer)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok((status, json))
}

/// A fresh world, runtime and server, an admin token, and one warm-up event over HTTP
/// (fetches the repository, compiles the component, opens a connection's worth of state).
struct Run {
    _world: World,
    rt: Arc<Runtime>,
    subs: Vec<String>,
    server: Server,
    token: String,
    /// Dispatches finished before the measured load (the warm-up's).
    base: u64,
}

impl Run {
    async fn start() -> Run {
        let world = World::new();
        let workers = WorkerSettings {
            workers: WORKERS,
            ..WorkerSettings::default()
        };
        let (rt, subs) = world.runtime(workers, subscriptions()).await;
        let rt = Arc::new(rt);
        let token = rt
            .create_token(ORG, Role::Admin, "http_events bench", "bench")
            .await
            .unwrap()
            .secret_text;
        let server = Server::start(Arc::clone(&rt)).await;
        let started = Instant::now();
        let warm = load(
            server.addr,
            &token,
            Plan {
                connections: 1,
                first: 1 << 30,
                events: 1,
                time: REQUEST_BOUND,
                rate: None,
            },
        )
        .await;
        assert_eq!(
            warm.errors,
            BTreeMap::new(),
            "the warm-up event is accepted"
        );
        let n_subs = subscriptions();
        let (d, f) = wait_finished(&rt, &subs, n_subs as u64, DELIVERY_BOUND).await;
        assert_eq!(
            (d, f),
            (n_subs as u64, 0),
            "warm-up dispatches must be delivered"
        );
        println!(
            "  warm-up: 1 event over HTTP, {n_subs} dispatches delivered in {:.1} ms (load average {})",
            ms(started.elapsed()),
            load_average()
        );
        Run {
            _world: world,
            rt,
            subs,
            server,
            token,
            base: d,
        }
    }

    /// Prints the acknowledgement figures and the errors of `outcome` (`planned` requests).
    fn report_acks(&self, outcome: &mut Outcome, planned: usize) {
        let acked = outcome.acked.len();
        let secs = outcome.wall.as_secs_f64();
        let (p50, p99, max) = percentiles(std::mem::take(&mut outcome.acked));
        println!(
            "  {} requests in {secs:.2} s: {acked} acknowledged (202) = {:.0} events/s ({:.0} dispatches/s created); ack p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; {} errors",
            outcome.sent,
            acked as f64 / secs,
            outcome.dispatches as f64 / secs,
            outcome.error_count(),
        );
        if outcome.sent < planned {
            println!(
                "  TIME BOUND HIT: {} of {planned} planned requests sent",
                outcome.sent
            );
        }
        for (kind, n) in &outcome.errors {
            println!("    error x{n}: {kind}");
        }
    }

    /// Waits for the run's dispatches and prints the delivery figures; `since` is the first
    /// request of the measured load.
    async fn report_delivery(&self, outcome: &Outcome, since: Instant) {
        let (at_ack, _) = finished(&self.rt, &self.subs).await;
        let target = self.base + outcome.dispatches as u64;
        let (d, f) = wait_finished(&self.rt, &self.subs, target, DELIVERY_BOUND).await;
        let wall = since.elapsed();
        let (d, at_ack) = (d - self.base, at_ack - self.base);
        let complete = if d + f >= outcome.dispatches as u64 {
            "all"
        } else {
            "BOUND HIT, only"
        };
        println!(
            "  {at_ack} delivered when the last answer came; {complete} {d} of {} delivered ({f} failed) {:.2} s after the first request: {:.0} dispatches/s delivered",
            outcome.dispatches,
            wall.as_secs_f64(),
            d as f64 / wall.as_secs_f64(),
        );
    }

    async fn stop(self) {
        self.server.stop().await;
        self.rt.shutdown(Duration::from_secs(5)).await;
    }
}

async fn throughput(connections: usize) {
    println!(
        "throughput, {connections} keep-alive connections, up to {THROUGHPUT_EVENTS} events or {} s:",
        THROUGHPUT_TIME.as_secs()
    );
    let run = Run::start().await;
    let since = Instant::now();
    let plan = Plan {
        connections,
        first: 0,
        events: THROUGHPUT_EVENTS,
        time: THROUGHPUT_TIME,
        rate: None,
    };
    let mut outcome = load(run.server.addr, &run.token, plan).await;
    run.report_acks(&mut outcome, THROUGHPUT_EVENTS);
    run.report_delivery(&outcome, since).await;
    run.stop().await;
}

async fn paced(rate: u64) {
    let time = PACED_TIME;
    let events = (rate * time.as_secs()) as usize;
    println!(
        "paced {rate} events/s ({} dispatches/s) for {} s over {PACED_CONNECTIONS} keep-alive connections:",
        rate as usize * subscriptions(),
        time.as_secs()
    );
    let run = Run::start().await;
    let since = Instant::now();
    let plan = Plan {
        connections: PACED_CONNECTIONS,
        first: 0,
        events,
        // One interval of slack so the last paced request is still sent.
        time: time + Duration::from_secs(1),
        rate: Some(rate),
    };
    let mut outcome = load(run.server.addr, &run.token, plan).await;
    println!(
        "  sent at worst {:.2} ms behind schedule",
        ms(outcome.max_late)
    );
    run.report_acks(&mut outcome, events);
    run.report_delivery(&outcome, since).await;
    run.stop().await;
}

async fn bench() {
    for connections in THROUGHPUT_CONNECTIONS {
        throughput(connections).await;
    }
    for rate in PACED_RATES {
        paced(rate).await;
    }
}
