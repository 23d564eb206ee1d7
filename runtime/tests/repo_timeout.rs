//! Every fetch is bounded: a server that accepts and then says nothing cannot hold a
//! refresh past the fetch timeout. (One test in this binary: libgit2's socket timeouts are
//! process-wide and set by the first registry.)
#![allow(clippy::unwrap_used)]

mod repo_common;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use repo_common::*;
use runbox::repo::{RepoConfig, RepoSettings, Repositories};

/// Accepts connections and never answers; closes them all when dropped.
struct BlackHole {
    port: u16,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (stop2, held2) = (stop.clone(), held.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held2.lock().unwrap().push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        BlackHole { port, stop, held }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for stream in self.held.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_within_the_fetch_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let hole = BlackHole::start();
    let settings = RepoSettings {
        fetch_timeout: Duration::from_millis(500),
        // libgit2's own socket timeout is far longer: the outer bound must act.
        io_timeout: Duration::from_secs(120),
        ..RepoSettings::new(tmp.path().join("data"))
    };
    let repos = Repositories::new(engine(&tmp.path().join("compiled")), settings).unwrap();
    let url = format!("git://127.0.0.1:{}/acme/runbooks.git", hole.port);
    let key = repos.add(ORG, RepoConfig::new(url)).unwrap();

    let started = Instant::now();
    let err = repos.refresh(ORG, key.as_str()).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), "fetch_timeout", "{err}");
    assert!(err.to_string().contains("127.0.0.1/acme/runbooks"), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // The abandoned fetch still sits on the mirror: the next one says so at once instead
    // of queueing behind it.
    let started = Instant::now();
    let err = repos.refresh(ORG, key.as_str()).await.unwrap_err();
    assert!(err.to_string().contains("still running"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let status = repos.status_of(ORG, key.as_str()).unwrap();
    assert!(status.last_error.is_some());
    // Dropping the black hole closes the connection, so the stuck thread ends too.
    drop(hole);
}
