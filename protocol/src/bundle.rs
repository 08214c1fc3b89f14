//! The framing of a bundle file (spec/bundle.md, "Layout"), read as a
//! state machine fed bytes in chunks of any size: the node reads the file
//! and does the rest of an import (signatures, parents, trees, storing);
//! this decides what the bytes say, alone, so that it can be fuzzed and
//! checked against the spec's vectors without a file.
//!
//! Blob contents are handed out as they pass, not kept: a blob may be as
//! large as `MAX_BLOB_BYTES`, and the caller hashes it (on every core) and
//! knows where it lies in the file by [`Record::BlobStart::offset`].

use crate::hash::BlobHash;
use crate::limits::{MAX_BLOB_BYTES, MAX_EVENT_BYTES};

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 17] = b"communs-bundle/1\n";

/// Record kinds.
pub mod kind {
    pub const END: u8 = 0;
    pub const EVENT: u8 = 1;
    pub const BLOB: u8 = 2;
}

/// Bytes of a record's head: its kind, then its length (8 bytes, big-endian).
pub const HEAD_BYTES: usize = 9;

/// Why bytes are not a bundle, or not an intact one. `reason()` is the
/// stable name that spec/vectors/bundle.json uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("it does not start with the bundle magic")]
    NotABundle,
    #[error("it ends before its end record")]
    Truncated,
    #[error("an event record is over the event size limit")]
    EventTooLarge,
    #[error("a blob record has an impossible length")]
    BlobLength,
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("the end record does not match the contents")]
    EndMismatch,
    #[error("bytes after the end record")]
    TrailingBytes,
}

impl FramingError {
    pub fn reason(&self) -> &'static str {
        match self {
            FramingError::NotABundle => "not-a-bundle",
            FramingError::Truncated => "truncated",
            FramingError::EventTooLarge => "event-too-large",
            FramingError::BlobLength => "blob-length",
            FramingError::UnknownKind(_) => "unknown-kind",
            FramingError::EndMismatch => "end-mismatch",
            FramingError::TrailingBytes => "trailing-bytes",
        }
    }
}

/// One thing the bytes fed so far complete.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'i> {
    /// An event record's payload: the signed encoding, not yet decoded or
    /// verified.
    Event(Vec<u8>),
    /// A blob record begins: its stated hash, its length, and the offset
    /// in the file of its first byte.
    BlobStart {
        hash: BlobHash,
        size: u64,
        offset: u64,
    },
    /// The next bytes of the blob being read (all of them, chunk by chunk,
    /// before [`Record::BlobEnd`]).
    BlobBytes(&'i [u8]),
    BlobEnd,
    /// The end record, checked: nothing may follow.
    End,
}

#[derive(Debug)]
enum State {
    Magic,
    Head,
    EventPayload { len: usize },
    BlobHash { size: u64 },
    BlobData { left: u64 },
    EndDigest,
    Ended,
}

/// Reads a bundle's framing. Feed it with [`Reader::next`] until it
/// returns `Ok(None)` (it needs more bytes), then [`Reader::finish`] once
/// the file has no more.
#[derive(Debug)]
pub struct Reader {
    state: State,
    /// Bytes of a head, an event, a hash or the end digest, gathered across
    /// chunks (never more than `MAX_EVENT_BYTES`).
    partial: Vec<u8>,
    /// BLAKE3 of every byte before the end record.
    hasher: blake3::Hasher,
    /// Bytes consumed so far.
    offset: u64,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new()
    }
}

impl Reader {
    pub fn new() -> Reader {
        Reader { state: State::Magic, partial: Vec::new(), hasher: blake3::Hasher::new(), offset: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record that `input` completes, consuming what it reads
    /// from the front of `input`; `Ok(None)` once `input` is used up
    /// without completing one.
    pub fn next<'i>(&mut self, input: &mut &'i [u8]) -> Result<Option<Record<'i>>, FramingError> {
        loop {
            if input.is_empty() {
                return Ok(None);
            }
            match self.state {
                State::Magic => {
                    if !self.gather(input, MAGIC.len(), Hashed::Yes) {
                        // A prefix that already differs is not a bundle,
                        // whatever follows.
                        if !MAGIC.starts_with(&self.partial) {
                            return Err(FramingError::NotABundle);
                        }
                        continue;
                    }
                    if self.partial != MAGIC {
                        return Err(FramingError::NotABundle);
                    }
                    self.partial.clear();
                    self.state = State::Head;
                }
                State::Head => {
                    // Hashed only once known not to be the end record's.
                    if !self.gather(input, HEAD_BYTES, Hashed::No) {
                        continue;
                    }
                    let kind = self.partial[0];
                    let len = u64::from_be_bytes(self.partial[1..].try_into().expect("a head is 9 bytes"));
                    self.state = match kind {
                        kind::END if len == 32 => State::EndDigest,
                        kind::END => return Err(FramingError::EndMismatch),
                        kind::EVENT if len > MAX_EVENT_BYTES as u64 => return Err(FramingError::EventTooLarge),
                        kind::EVENT => State::EventPayload { len: len as usize },
                        kind::BLOB if !(32..=32 + MAX_BLOB_BYTES).contains(&len) => {
                            return Err(FramingError::BlobLength);
                        }
                        kind::BLOB => State::BlobHash { size: len - 32 },
                        other => return Err(FramingError::UnknownKind(other)),
                    };
                    if kind != kind::END {
                        self.hasher.update(&self.partial);
                    }
                    self.partial.clear();
                }
                State::EventPayload { len } => {
                    if !self.gather(input, len, Hashed::Yes) {
                        continue;
                    }
                    self.state = State::Head;
                    return Ok(Some(Record::Event(std::mem::take(&mut self.partial))));
                }
                State::BlobHash { size } => {
                    if !self.gather(input, 32, Hashed::Yes) {
                        continue;
                    }
                    let hash = BlobHash(crate::Hash::from_bytes(self.partial[..].try_into().expect("32 bytes")));
                    self.partial.clear();
                    self.state = State::BlobData { left: size };
                    return Ok(Some(Record::BlobStart { hash, size, offset: self.offset }));
                }
                State::BlobData { left: 0 } => {
                    self.state = State::Head;
                    return Ok(Some(Record::BlobEnd));
                }
                State::BlobData { left } => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (bytes, rest) = input.split_at(n);
                    *input = rest;
                    self.hasher.update(bytes);
                    self.offset += n as u64;
                    self.state = State::BlobData { left: left - n as u64 };
                    return Ok(Some(Record::BlobBytes(bytes)));
                }
                State::EndDigest => {
                    if !self.gather(input, 32, Hashed::No) {
                        continue;
                    }
                    if self.partial[..] != self.hasher.finalize().as_bytes()[..] {
                        return Err(FramingError::EndMismatch);
                    }
                    self.partial.clear();
                    self.state = State::Ended;
                    return Ok(Some(Record::End));
                }
                State::Ended => return Err(FramingError::TrailingBytes),
            }
        }
    }

    /// Says whether the bytes fed were a whole bundle: an error if they
    /// stopped before the end record was read.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.state {
            State::Ended => Ok(()),
            State::Magic => Err(FramingError::NotABundle),
            _ => Err(FramingError::Truncated),
        }
    }

    /// Moves bytes from `input` into `partial` until it holds `want`;
    /// whether it does.
    fn gather(&mut self, input: &mut &[u8], want: usize, hashed: Hashed) -> bool {
        let n = (want - self.partial.len()).min(input.len());
        let (bytes, rest) = input.split_at(n);
        *input = rest;
        if let Hashed::Yes = hashed {
            self.hasher.update(bytes);
        }
        self.partial.extend_from_slice(bytes);
        self.offset += n as u64;
        self.partial.len() == want
    }
}

#[derive(Clone, Copy)]
enum Hashed {
    Yes,
    No,
}

/// Writes a record's head.
pub fn head(kind: u8, len: u64) -> [u8; HEAD_BYTES] {
    let mut out = [0u8; HEAD_BYTES];
    out[0] = kind;
    out[1..].copy_from_slice(&len.to_be_bytes());
    out
}

/// A whole bundle in memory (tests, vectors, small exports): the magic,
/// the events, the blobs, the end record.
pub fn encode(events: &[&[u8]], blobs: &[(BlobHash, &[u8])]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for event in events {
        out.extend_from_slice(&head(kind::EVENT, event.len() as u64));
        out.extend_from_slice(event);
    }
    for (hash, bytes) in blobs {
        out.extend_from_slice(&head(kind::BLOB, 32 + bytes.len() as u64));
        out.extend_from_slice(hash.as_bytes());
        out.extend_from_slice(bytes);
    }
    let digest = blake3::hash(&out);
    out.extend_from_slice(&head(kind::END, 32));
    out.extend_from_slice(digest.as_bytes());
    out
}

/// What a whole bundle's framing holds, read in chunks of `chunk` bytes:
/// its events and its blobs (hash, bytes), as the records said (blob
/// hashes unchecked: that is the caller's part).
pub type Contents = (Vec<Vec<u8>>, Vec<(BlobHash, Vec<u8>)>);

pub fn read_all(bytes: &[u8], chunk: usize) -> Result<Contents, FramingError> {
    let mut reader = Reader::new();
    let (mut events, mut blobs) = (Vec::new(), Vec::<(BlobHash, Vec<u8>)>::new());
    for mut piece in bytes.chunks(chunk.max(1)) {
        while let Some(record) = reader.next(&mut piece)? {
            match record {
                Record::Event(bytes) => events.push(bytes),
                Record::BlobStart { hash, .. } => blobs.push((hash, Vec::new())),
                Record::BlobBytes(bytes) => blobs.last_mut().expect("after its start").1.extend_from_slice(bytes),
                Record::BlobEnd | Record::End => {}
            }
        }
    }
    reader.finish()?;
    Ok((events, blobs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(bytes: &[u8]) -> (BlobHash, &[u8]) {
        (BlobHash(crate::Hash::from_bytes(*blake3::hash(bytes).as_bytes())), bytes)
    }

    #[test]
    fn any_chunking_reads_the_same_records() {
        let events: [&[u8]; 2] = [b"first event", b""];
        let blobs = [blob(b"a file"), blob(b""), blob(&[7u8; 5000])];
        let bundle = encode(&events, &blobs);
        let expected = (
            events.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
            blobs.iter().map(|(h, b)| (*h, b.to_vec())).collect::<Vec<_>>(),
        );
        for chunk in [1, 2, 9, 17, 31, 4096, bundle.len()] {
            assert_eq!(read_all(&bundle, chunk), Ok(expected.clone()), "chunks of {chunk}");
        }
    }
}
