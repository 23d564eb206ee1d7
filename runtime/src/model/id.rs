//! Sortable unique ids: `<prefix>_<26 Crockford base32 chars>` over 48 bits of
//! milliseconds and 80 bits that are random per millisecond and incremented within it
//! (the ULID layout, monotonic within a process).
//!
//! Why: ids ordered by creation time make "newest first" a reverse key scan, with no
//! secondary time index. No `ulid`/`rand` dependency: std's `RandomState` is seeded from
//! the OS per process, which is enough for uniqueness (not for secrecy; ids are not secrets).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// What an id names; the prefix tells a reader (and a log grep) what kind of object it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Event,
    Dispatch,
    Subscription,
    Connection,
    /// An API token (the id is public; the secret is not part of it).
    Token,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::Event => "evt",
            IdKind::Dispatch => "dsp",
            IdKind::Subscription => "sub",
            IdKind::Connection => "con",
            IdKind::Token => "tok",
        }
    }
}

const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1u128 << RANDOM_BITS) - 1;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Last (millisecond, random part) handed out, so ids never go backwards in one process
/// even when the wall clock does.
static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new id of `kind`, greater than every id this process made before.
pub fn new_id(kind: IdKind) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let value = {
        // A poisoned lock only means another thread panicked mid-update of two integers;
        // the pair is still usable.
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let (ms, rand) = if now > last.0 {
            // Top random bit clear leaves 2^79 increments of room within the millisecond.
            (now, fresh_random() & (RANDOM_MASK >> 1))
        } else {
            let next = (last.1 + 1) & RANDOM_MASK;
            if next == 0 {
                (last.0 + 1, 0) // overflow: borrow the next millisecond
            } else {
                (last.0, next)
            }
        };
        *last = (ms, rand);
        (u128::from(ms) << RANDOM_BITS) | rand
    };
    let mut out = String::with_capacity(4 + 26);
    out.push_str(kind.prefix());
    out.push('_');
    for i in (0..26).rev() {
        let digit = ((value >> (i * 5)) & 0x1f) as usize;
        out.push(char::from(ALPHABET[digit]));
    }
    out
}

fn fresh_random() -> u128 {
    let state = RandomState::new();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut a = state.build_hasher();
    a.write_u128(nanos);
    let mut b = state.build_hasher();
    b.write_u64(a.finish());
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_fixed_length_and_increasing() {
        let mut previous = new_id(IdKind::Dispatch);
        assert!(previous.starts_with("dsp_"));
        assert_eq!(previous.len(), 30);
        for _ in 0..10_000 {
            let next = new_id(IdKind::Dispatch);
            assert!(next > previous, "{next} <= {previous}");
            previous = next;
        }
    }

    #[test]
    fn ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..2000).map(|_| new_id(IdKind::Event)).collect::<Vec<_>>())
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for h in handles {
            for id in h.join().unwrap_or_default() {
                assert!(all.insert(id));
            }
        }
        assert_eq!(all.len(), 8000);
    }
}
