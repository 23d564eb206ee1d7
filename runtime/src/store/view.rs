//! [`View`]: a sled tree as readers outside a transaction see it, with the overlay's
//! pending writes (see `overlay.rs`) laid over it. It has the few read methods of
//! `sled::Tree` the store uses, with the same item types, so the read code does not know
//! where a value is.

use std::ops::{Bound, RangeBounds};

use sled::IVec;

use super::overlay::{Lookup, Overlay};

type Entry = sled::Result<(IVec, IVec)>;

/// One tree, overlay first.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    tree: &'a sled::Tree,
    index: usize,
    overlay: Option<&'a Overlay>,
}

impl<'a> View<'a> {
    pub(crate) fn new(tree: &'a sled::Tree, index: usize, overlay: Option<&'a Overlay>) -> Self {
        View {
            tree,
            index,
            overlay,
        }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        let key = key.as_ref();
        match self.overlay.map(|o| o.get(self.index, key)) {
            Some(Lookup::Written(value)) => Ok(value),
            Some(Lookup::Absent) | None => self.tree.get(key),
        }
    }

    /// Entries whose key is at least `start`, or below `end`, as `sled::Tree::range`.
    pub(crate) fn range<R: RangeBounds<Vec<u8>>>(&self, range: R) -> Scan {
        let lower = range.start_bound().cloned();
        let upper = range.end_bound().cloned();
        self.scan(lower, upper, None)
    }

    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        let prefix = prefix.as_ref().to_vec();
        self.scan(
            Bound::Included(prefix.clone()),
            Bound::Unbounded,
            Some(prefix),
        )
    }

    pub(crate) fn iter(&self) -> Scan {
        self.scan(Bound::Unbounded, Bound::Unbounded, None)
    }

    /// Entries in the tree (walks it: tests only).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.iter().filter(Result::is_ok).count()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>, prefix: Option<Vec<u8>>) -> Scan {
        let pending = self
            .overlay
            .map(|o| {
                // A prefix scan copies only the prefix's range of the overlay.
                let upper = match &prefix {
                    Some(p) => prefix_end(p),
                    None => upper.clone(),
                };
                o.range(self.index, as_slice(&lower), as_slice(&upper))
            })
            .unwrap_or_default();
        let sled = match &prefix {
            Some(p) => self.tree.scan_prefix(p),
            None => self.tree.range((lower, upper)),
        };
        Scan {
            pending: pending.into_iter(),
            sled,
            front: Heads::default(),
            back: Heads::default(),
        }
    }
}

/// The first key after every key that starts with `prefix` (unbounded for an empty prefix
/// or one of 0xff bytes only).
fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The next entry of each side, taken but not yet returned.
#[derive(Default)]
struct Heads {
    pending: Option<(IVec, Option<IVec>)>,
    sled: Option<(IVec, IVec)>,
    /// sled's side has ended in this direction. A sled iterator is not fused: asked again
    /// after it ended, it returns keys written since, and the applier writes the overlay's
    /// entries to sled while scans run, so an entry this scan already took from the
    /// overlay's copy would come back a second time (a publish listed one subscription
    /// twice and gave it two dispatches).
    sled_done: bool,
}

/// Which side's head comes next in the scan's direction.
enum Next {
    Pending,
    Sled,
    /// Same key: the pending write wins and sled's entry is dropped.
    Both,
}

/// A merged scan: sled's entries with the overlay's pending writes applied. Iterate it in
/// one direction (forward, or `rev()`), as every caller does; mixing both ends of one scan
/// could return an entry twice.
pub(crate) struct Scan {
    pending: std::vec::IntoIter<(IVec, Option<IVec>)>,
    sled: sled::Iter,
    front: Heads,
    back: Heads,
}

impl Scan {
    pub(crate) fn keys(self) -> impl DoubleEndedIterator<Item = sled::Result<IVec>> {
        self.map(|entry| entry.map(|(k, _)| k))
    }

    fn step(&mut self, forward: bool) -> Option<Entry> {
        loop {
            let heads = if forward {
                &mut self.front
            } else {
                &mut self.back
            };
            if heads.pending.is_none() {
                heads.pending = if forward {
                    self.pending.next()
                } else {
                    self.pending.next_back()
                };
            }
            if heads.sled.is_none() && !heads.sled_done {
                let next = if forward {
                    self.sled.next()
                } else {
                    self.sled.next_back()
                };
                match next {
                    Some(Ok(entry)) => heads.sled = Some(entry),
                    Some(Err(e)) => return Some(Err(e)),
                    None => heads.sled_done = true,
                }
            }
            let next = match (&heads.pending, &heads.sled) {
                (None, None) => return None,
                (Some(_), None) => Next::Pending,
                (None, Some(_)) => Next::Sled,
                (Some((p, _)), Some((s, _))) => match (p.cmp(s), forward) {
                    (std::cmp::Ordering::Equal, _) => Next::Both,
                    (std::cmp::Ordering::Less, true) | (std::cmp::Ordering::Greater, false) => {
                        Next::Pending
                    }
                    _ => Next::Sled,
                },
            };
            match next {
                Next::Sled => return heads.sled.take().map(Ok),
                Next::Pending | Next::Both => {
                    if matches!(next, Next::Both) {
                        heads.sled = None;
                    }
                    if let Some((key, Some(value))) = heads.pending.take() {
                        return Some(Ok((key, value)));
                    }
                    // A pending removal hides sled's entry; look further.
                }
            }
        }
    }
}

impl Iterator for Scan {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        self.step(true)
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Entry> {
        self.step(false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A sled tree with `base`, and an overlay with `pending` over it.
    fn world(base: &[(&str, &str)], pending: &[(&str, Option<&str>)]) -> (sled::Db, Overlay) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        for (k, v) in base {
            db.insert(k, *v).unwrap();
        }
        let overlay = Overlay::new(1);
        overlay.commit(
            1,
            pending.iter().map(|(k, v)| {
                (
                    0,
                    k.as_bytes().to_vec(),
                    v.map(|v| IVec::from(v.as_bytes())),
                )
            }),
        );
        (db, overlay)
    }

    fn strings(scan: impl Iterator<Item = Entry>) -> Vec<String> {
        scan.map(|e| {
            let (k, v) = e.unwrap();
            format!(
                "{}={}",
                String::from_utf8_lossy(&k),
                String::from_utf8_lossy(&v)
            )
        })
        .collect()
    }

    const BASE: &[(&str, &str)] = &[("a", "1"), ("c", "1"), ("e", "1"), ("g", "1")];
    const PENDING: &[(&str, Option<&str>)] = &[
        ("b", Some("2")),
        ("c", Some("2")),
        ("e", None),
        ("h", Some("2")),
        ("x", None),
    ];

    #[test]
    fn a_scan_shows_pending_writes_over_sled_in_either_direction() {
        let (db, overlay) = world(BASE, PENDING);
        let view = View::new(&db, 0, Some(&overlay));
        let forward = strings(view.iter());
        assert_eq!(forward, ["a=1", "b=2", "c=2", "g=1", "h=2"]);
        let mut backward = strings(view.iter().rev());
        backward.reverse();
        assert_eq!(backward, forward);
    }

    #[test]
    fn bounds_and_prefixes_apply_to_both_sides() {
        let (db, overlay) = world(&[("pa", "1"), ("pc", "1"), ("q", "1")], PENDING);
        overlay.commit(2, [(0, b"pb".to_vec(), Some(IVec::from(&b"2"[..])))]);
        let view = View::new(&db, 0, Some(&overlay));
        assert_eq!(strings(view.scan_prefix("p")), ["pa=1", "pb=2", "pc=1"]);
        assert_eq!(
            strings(view.range(b"c".to_vec()..)),
            ["c=2", "h=2", "pa=1", "pb=2", "pc=1", "q=1"]
        );
        assert_eq!(strings(view.range(..b"c".to_vec())), ["b=2"]);
    }

    #[test]
    fn a_prefix_ends_just_after_its_last_key() {
        assert_eq!(prefix_end(b"ab"), Bound::Excluded(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Bound::Excluded(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), Bound::Unbounded);
        let (db, overlay) = world(&[], &[("b", Some("2"))]);
        db.insert(b"a\xff1", b"1".as_slice()).unwrap();
        overlay.commit(2, [(0, b"a\xff2".to_vec(), Some(IVec::from(&b"2"[..])))]);
        let view = View::new(&db, 0, Some(&overlay));
        assert_eq!(view.scan_prefix(b"a\xff").count(), 2);
    }

    /// What the applier does while a scan runs: it writes an entry the scan already took
    /// from the overlay into sled, after sled's side of the scan ended.
    #[test]
    fn an_entry_applied_to_sled_after_its_side_ended_is_not_returned_twice() {
        for forward in [true, false] {
            let (db, overlay) = world(&[("b", "1")], &[("a", Some("2")), ("c", Some("2"))]);
            let view = View::new(&db, 0, Some(&overlay));
            let mut scan = view.iter();
            let step = |scan: &mut Scan| {
                let entry = if forward {
                    scan.next()
                } else {
                    scan.next_back()
                };
                entry.map(|e| String::from_utf8_lossy(&e.unwrap().0).into_owned())
            };
            let (first, second, last) = if forward {
                ("a", "b", "c")
            } else {
                ("c", "b", "a")
            };
            assert_eq!(step(&mut scan).as_deref(), Some(first));
            assert_eq!(step(&mut scan).as_deref(), Some(second));
            // sled's side is now ended; the applier then writes both pending entries.
            assert_eq!(step(&mut scan).as_deref(), Some(last));
            db.insert("a", "2").unwrap();
            db.insert("c", "2").unwrap();
            assert_eq!(step(&mut scan), None, "forward: {forward}");
        }
    }

    #[test]
    fn a_point_read_prefers_the_overlay_and_falls_back_to_sled() {
        let (db, overlay) = world(BASE, PENDING);
        let view = View::new(&db, 0, Some(&overlay));
        assert_eq!(view.get("c").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(view.get("e").unwrap(), None);
        assert_eq!(view.get("g").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(view.len(), 5);
        let plain = View::new(&db, 0, None);
        assert_eq!(plain.get("e").unwrap().as_deref(), Some(&b"1"[..]));
    }
}
