//! Bounded capture of a run's console (stdout + stderr) and logs.
//!
//! The console and the log lines each get the output cap: a guest flooding stdout must
//! not erase the log lines that explain what went wrong.
//!
//! The guest must never fail because its output is large: once the cap is reached writes
//! still succeed, but the bytes are dropped and counted, and the final text ends with
//! hoop's marker ` [truncated N byte(s)]`. A separate tail of stderr (the last
//! [`STDERR_TAIL_BYTES`]) is always kept, whatever the cap, because that is where a Rust
//! guest prints its panic message and classification needs it.

use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much of stderr is kept for panic messages, independent of the output cap.
pub const STDERR_TAIL_BYTES: usize = 2048;

/// The permit a console stream grants per write; output is buffered in memory so it is
/// always writable.
const WRITE_PERMIT: usize = 64 * 1024;

/// hoop's marker for cut output: ` [truncated N byte(s)]`.
pub fn truncation_marker(dropped: u64) -> String {
    format!(" [truncated {dropped} byte(s)]")
}

/// Caps `text` to `cap` bytes (cut on a character boundary) and appends the truncation
/// marker if anything was cut. Returns the text and the number of bytes dropped.
pub fn cap_text(mut text: String, cap: usize) -> (String, u64) {
    if text.len() <= cap {
        return (text, 0);
    }
    let mut cut = cap;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = (text.len() - cut) as u64;
    text.truncate(cut);
    text.push_str(&truncation_marker(dropped));
    (text, dropped)
}

/// Which console stream a write came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    /// Log bytes kept so far.
    log_used: usize,
    console: Vec<u8>,
    console_dropped: u64,
    log_dropped: u64,
    stderr_tail: VecDeque<u8>,
}

/// The shared output buffer of one run: console (in write order) and the log budget, each
/// bounded by the cap.
#[derive(Debug, Clone)]
pub struct OutputCapture {
    inner: Arc<Mutex<Inner>>,
}

impl OutputCapture {
    /// A capture keeping at most `cap` bytes of console and `cap` bytes of log text.
    pub fn new(cap: usize) -> Self {
        OutputCapture {
            inner: Arc::new(Mutex::new(Inner {
                cap,
                log_used: 0,
                console: Vec::new(),
                console_dropped: 0,
                log_dropped: 0,
                stderr_tail: VecDeque::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another writer panicked mid-append; the buffer is
        // still a valid byte vector.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A WASI stdout stream writing into this capture.
    pub fn stdout(&self) -> ConsoleStream {
        ConsoleStream {
            capture: self.clone(),
            which: Console::Stdout,
        }
    }

    /// A WASI stderr stream writing into this capture.
    pub fn stderr(&self) -> ConsoleStream {
        ConsoleStream {
            capture: self.clone(),
            which: Console::Stderr,
        }
    }

    /// Appends console bytes, keeping what fits under the cap.
    pub fn write(&self, which: Console, bytes: &[u8]) {
        let mut inner = self.lock();
        if which == Console::Stderr {
            let tail = &mut inner.stderr_tail;
            tail.extend(bytes.iter().rev().take(STDERR_TAIL_BYTES).rev());
            let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
            tail.drain(..excess);
        }
        let room = inner.cap.saturating_sub(inner.console.len());
        let keep = room.min(bytes.len());
        inner.console.extend_from_slice(&bytes[..keep]);
        inner.console_dropped += (bytes.len() - keep) as u64;
    }

    /// Fits a log message into the remaining log budget: the message as is, a cut message with
    /// the truncation marker, or `None` if there is no room left at all. Dropped bytes
    /// are counted either way.
    pub fn admit_log(&self, message: String) -> Option<String> {
        let mut inner = self.lock();
        let room = inner.cap.saturating_sub(inner.log_used);
        if room == 0 {
            inner.log_dropped += message.len() as u64;
            return None;
        }
        let original = message.len();
        let (text, dropped) = cap_text(message, room);
        inner.log_used += original - dropped as usize;
        inner.log_dropped += dropped;
        Some(text)
    }

    /// The console text so far, lossily decoded, with the truncation marker if bytes were
    /// dropped.
    pub fn console_text(&self) -> String {
        let inner = self.lock();
        let mut text = String::from_utf8_lossy(&inner.console).into_owned();
        if inner.console_dropped > 0 {
            text.push_str(&truncation_marker(inner.console_dropped));
        }
        text
    }

    /// The last [`STDERR_TAIL_BYTES`] of stderr, lossily decoded.
    pub fn stderr_tail(&self) -> String {
        let inner = self.lock();
        let (a, b) = inner.stderr_tail.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Console and log bytes dropped because of the cap.
    pub fn dropped_bytes(&self) -> u64 {
        let inner = self.lock();
        inner.console_dropped + inner.log_dropped
    }
}

/// A guest stdout or stderr backed by an [`OutputCapture`].
#[derive(Debug, Clone)]
pub struct ConsoleStream {
    capture: OutputCapture,
    which: Console,
}

impl IsTerminal for ConsoleStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ConsoleStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for ConsoleStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.capture.write(self.which, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for ConsoleStream {
    async fn ready(&mut self) {}
}

impl AsyncWrite for ConsoleStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.capture.write(self.which, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_keeps_write_order_and_marks_truncation() {
        let cap = OutputCapture::new(10);
        let mut out = cap.stdout();
        let mut err = cap.stderr();
        OutputStream::write(&mut out, Bytes::from_static(b"abc")).unwrap();
        OutputStream::write(&mut err, Bytes::from_static(b"DEF")).unwrap();
        OutputStream::write(&mut out, Bytes::from_static(b"ghijkl")).unwrap();
        // Writes past the cap still succeed.
        OutputStream::write(&mut out, Bytes::from_static(b"more")).unwrap();
        assert_eq!(
            cap.console_text(),
            "abcDEFghij [truncated 6 byte(s)]".to_string()
        );
        assert_eq!(cap.dropped_bytes(), 6);
        assert_eq!(cap.stderr_tail(), "DEF");
    }

    #[test]
    fn no_marker_without_truncation() {
        let cap = OutputCapture::new(100);
        cap.write(Console::Stdout, b"hello\n");
        assert_eq!(cap.console_text(), "hello\n");
        assert_eq!(cap.dropped_bytes(), 0);
    }

    #[test]
    fn stderr_tail_is_kept_past_the_cap() {
        let cap = OutputCapture::new(4);
        cap.write(Console::Stdout, b"xxxx");
        let long = "e".repeat(3000) + "thread 'main' panicked at src/lib.rs:1:1:\nboom";
        cap.write(Console::Stderr, long.as_bytes());
        let tail = cap.stderr_tail();
        assert_eq!(tail.len(), STDERR_TAIL_BYTES);
        assert!(tail.ends_with("panicked at src/lib.rs:1:1:\nboom"));
    }

    #[test]
    fn logs_have_their_own_budget() {
        let cap = OutputCapture::new(12);
        cap.write(Console::Stdout, &[b'x'; 20]);
        assert_eq!(cap.admit_log("hello".into()).as_deref(), Some("hello"));
        let cut = cap.admit_log("world, again".into()).unwrap();
        assert_eq!(cut, "world,  [truncated 5 byte(s)]");
        assert_eq!(cap.admit_log("dropped".into()), None);
        assert_eq!(
            cap.console_text(),
            "xxxxxxxxxxxx [truncated 8 byte(s)]".to_string()
        );
        assert_eq!(cap.dropped_bytes(), 8 + 5 + 7);
    }

    #[test]
    fn cap_text_cuts_on_char_boundary() {
        let (t, n) = cap_text("héllo".into(), 2);
        assert_eq!(t, "h [truncated 5 byte(s)]");
        assert_eq!(n, 5);
        let (t, n) = cap_text("short".into(), 10);
        assert_eq!((t.as_str(), n), ("short", 0));
    }

    #[tokio::test]
    async fn async_writes_are_captured() {
        use tokio::io::AsyncWriteExt;
        let cap = OutputCapture::new(100);
        let mut w = Pin::from(cap.stderr().async_stream());
        w.write_all(b"via tokio").await.unwrap();
        assert_eq!(cap.console_text(), "via tokio");
        assert!(!cap.stderr().is_terminal());
    }
}
