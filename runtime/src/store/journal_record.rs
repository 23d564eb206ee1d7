//! The journal's record format: one record per committed transaction.
//!
//! `[body length u32 LE][crc32 of body u32 LE][body]`; a body is `[lsn u64 LE]` followed by
//! the transaction's writes in order: `[tree u8][0 = put, 1 = remove][key length u32 LE]
//! [key]` and, for a put, `[value length u32 LE][value]`. The checksum is what tells a
//! record a crash cut short from a whole one.

use crate::error::StoreError;

/// Header of a record: body length and checksum.
const HEADER: usize = 8;
/// A record body larger than this is not one the store wrote: the length is torn.
const MAX_BODY: usize = 256 << 20;

const PUT: u8 = 0;
const REMOVE: u8 = 1;

/// One transaction's writes, encoded as they happen (the journal body minus the LSN).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    body: Vec<u8>,
}

impl Recorder {
    pub(crate) fn put(&mut self, tree: usize, key: &[u8], value: &[u8]) {
        self.op(tree, PUT, key);
        self.bytes(value);
    }

    pub(crate) fn remove(&mut self, tree: usize, key: &[u8]) {
        self.op(tree, REMOVE, key);
    }

    /// Appends the whole record (header, LSN, writes) for transaction `lsn` to `out`.
    pub(crate) fn encode_record(&self, lsn: u64, out: &mut Vec<u8>) {
        let body_len = 8 + self.body.len();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&lsn.to_le_bytes());
        crc.update(&self.body);
        out.reserve(HEADER + body_len);
        // A body over 4 GiB cannot happen (see `Recorder::bytes`).
        out.extend_from_slice(&(body_len as u32).to_le_bytes());
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&lsn.to_le_bytes());
        out.extend_from_slice(&self.body);
    }

    fn op(&mut self, tree: usize, kind: u8, key: &[u8]) {
        // Tree indexes are below 256 (`t::NAMES` has 17); `as` cannot lose one.
        self.body.push(tree as u8);
        self.body.push(kind);
        self.bytes(key);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        // Keys and values are far below 4 GiB (payloads are capped in megabytes).
        self.body
            .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.body.extend_from_slice(bytes);
    }
}

/// A write (put or remove) decoded from a record, for replay.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    Put {
        tree: usize,
        key: &'a [u8],
        value: &'a [u8],
    },
    Remove {
        tree: usize,
        key: &'a [u8],
    },
}

/// A record read back from a segment.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) lsn: u64,
    writes: Vec<u8>,
}

impl Record {
    /// The record's writes, in the order the transaction made them.
    pub(crate) fn writes(&self) -> Result<Vec<Op<'_>>, StoreError> {
        let mut out = Vec::new();
        let mut rest = &self.writes[..];
        while !rest.is_empty() {
            let (&tree, after) = rest.split_first().ok_or_else(|| torn("tree"))?;
            let (&kind, after) = after.split_first().ok_or_else(|| torn("kind"))?;
            let (key, after) = take_bytes(after)?;
            rest = after;
            match kind {
                PUT => {
                    let (value, after) = take_bytes(rest)?;
                    rest = after;
                    out.push(Op::Put {
                        tree: usize::from(tree),
                        key,
                        value,
                    });
                }
                REMOVE => out.push(Op::Remove {
                    tree: usize::from(tree),
                    key,
                }),
                other => {
                    return Err(corrupt(format!(
                        "record {} has a write of unknown kind {other}",
                        self.lsn
                    )));
                }
            }
        }
        Ok(out)
    }
}

fn take_bytes(buf: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let (len, rest) = buf.split_at_checked(4).ok_or_else(|| torn("length"))?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    rest.split_at_checked(len).ok_or_else(|| torn("bytes"))
}

fn torn(what: &str) -> StoreError {
    corrupt(format!("a checksummed record ends inside a write's {what}"))
}

pub(super) fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt {
        what: "journal",
        reason,
    }
}

pub(super) fn next_record(buf: &[u8]) -> Option<(Record, &[u8])> {
    let (header, rest) = buf.split_at_checked(HEADER)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(8..=MAX_BODY).contains(&len) {
        return None;
    }
    let (body, rest) = rest.split_at_checked(len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let (lsn, writes) = body.split_at(8);
    let lsn = u64::from_le_bytes(lsn.try_into().ok()?);
    Some((
        Record {
            lsn,
            writes: writes.to_vec(),
        },
        rest,
    ))
}
