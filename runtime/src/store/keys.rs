//! Composite keys: big-endian integers and length-prefixed strings, so byte order is the
//! order we scan in (time-ordered ids, due times) and no string can run into the next part.
//!
//! Every per-org key starts with the org, so a prefix scan of one org cannot reach another.

/// Builder for a composite key.
#[derive(Debug, Default, Clone)]
pub(crate) struct Key(Vec<u8>);

impl Key {
    pub(crate) fn new() -> Self {
        Key(Vec::with_capacity(64))
    }

    /// A key (or prefix) that starts with the org.
    pub(crate) fn org(org: &str) -> Self {
        Key::new().s(org)
    }

    pub(crate) fn s(mut self, part: &str) -> Self {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(&part.as_bytes()[..len as usize]);
        self
    }

    pub(crate) fn n(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn done(self) -> Vec<u8> {
        self.0
    }
}

/// Reads a key back part by part; `None` on a malformed key.
#[derive(Debug)]
pub(crate) struct KeyReader<'a>(&'a [u8]);

impl<'a> KeyReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        KeyReader(bytes)
    }

    pub(crate) fn s(&mut self) -> Option<&'a str> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let part = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        std::str::from_utf8(part).ok()
    }

    pub(crate) fn n(&mut self) -> Option<u64> {
        let v = u64::from_be_bytes(self.0.get(..8)?.try_into().ok()?);
        self.0 = &self.0[8..];
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_prefixes_do_not_overlap() {
        let a = Key::org("a").done();
        let ab_key = Key::org("ab").s("x").done();
        assert!(!ab_key.starts_with(&a));
    }

    #[test]
    fn numbers_sort_big_endian_and_read_back() {
        let k1 = Key::new().n(5).s("org").s("id").done();
        let k2 = Key::new().n(256).s("org").s("id").done();
        assert!(k1 < k2);
        let mut r = KeyReader::new(&k2);
        assert_eq!((r.n(), r.s(), r.s()), (Some(256), Some("org"), Some("id")));
        assert_eq!(r.s(), None);
    }
}
