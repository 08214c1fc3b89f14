//! A single pass over raw bytes that accepts only canonical CBOR.
//!
//! It allocates nothing, bounds recursion, and checks every declared length
//! against the bytes that remain before anything trusts it.

use crate::limits::MAX_CBOR_DEPTH;

/// Why some bytes are not the canonical CBOR encoding of a value.
///
/// Offsets are byte positions in the input, for the person debugging
/// another implementation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    #[error("input is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("input is empty")]
    Empty,
    #[error("input ends early: an item at byte {offset} needs more bytes")]
    Truncated { offset: usize },
    #[error("{count} trailing byte(s) after the value, from byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
    #[error("non-minimal integer or length at byte {offset}")]
    NonMinimal { offset: usize },
    #[error("indefinite length at byte {offset}")]
    IndefiniteLength { offset: usize },
    #[error("map keys out of canonical order at byte {offset}")]
    UnsortedKeys { offset: usize },
    #[error("duplicate map key at byte {offset}")]
    DuplicateKey { offset: usize },
    #[error("nesting deeper than {max} at byte {offset}")]
    TooDeep { offset: usize, max: usize },
    #[error(
        "unsupported item at byte {offset} (tags, floats and simple values other than false, true, null are not used)"
    )]
    Unsupported { offset: usize },
    #[error("reserved additional information at byte {offset}")]
    Reserved { offset: usize },
    #[error("text string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    #[error("the CBOR decoder rejected input the strict checker accepted")]
    Rejected,
}

impl CborError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            CborError::TooLarge { .. } => "too-large",
            CborError::Empty => "empty",
            CborError::Truncated { .. } => "truncated",
            CborError::TrailingBytes { .. } => "trailing-bytes",
            CborError::NonMinimal { .. } => "non-minimal",
            CborError::IndefiniteLength { .. } => "indefinite-length",
            CborError::UnsortedKeys { .. } => "unsorted-keys",
            CborError::DuplicateKey { .. } => "duplicate-key",
            CborError::TooDeep { .. } => "too-deep",
            CborError::Unsupported { .. } => "unsupported-item",
            CborError::Reserved { .. } => "reserved",
            CborError::InvalidUtf8 { .. } => "invalid-utf8",
            CborError::Rejected => "rejected",
        }
    }
}

/// Checks that `bytes` hold exactly one canonical CBOR item.
pub(super) fn check(bytes: &[u8], max_bytes: usize) -> Result<(), CborError> {
    if bytes.len() > max_bytes {
        return Err(CborError::TooLarge { len: bytes.len(), max: max_bytes });
    }
    if bytes.is_empty() {
        return Err(CborError::Empty);
    }
    let end = Checker { bytes }.item(0, 0)?;
    if end != bytes.len() {
        return Err(CborError::TrailingBytes { offset: end, count: bytes.len() - end });
    }
    Ok(())
}

struct Checker<'a> {
    bytes: &'a [u8],
}

/// The decoded head of an item: major type, argument, and where the item's
/// content starts.
struct Head {
    major: u8,
    info: u8,
    arg: u64,
    content: usize,
}

impl Checker<'_> {
    fn head(&self, offset: usize) -> Result<Head, CborError> {
        let initial = *self.bytes.get(offset).ok_or(CborError::Truncated { offset })?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let (arg, width) = match info {
            0..=23 => (u64::from(info), 0),
            24..=27 => {
                let width = 1usize << (info - 24);
                let raw = self.bytes.get(offset + 1..offset + 1 + width).ok_or(CborError::Truncated { offset })?;
                let arg = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                let minimal = match width {
                    1 => arg >= 24,
                    2 => arg > 0xff,
                    4 => arg > 0xffff,
                    _ => arg > 0xffff_ffff,
                };
                // Major type 7 with info 24..27 are simple values and floats,
                // refused below whatever their width.
                if !minimal && major != 7 {
                    return Err(CborError::NonMinimal { offset });
                }
                (arg, width)
            }
            28..=30 => return Err(CborError::Reserved { offset }),
            _ => return Err(CborError::IndefiniteLength { offset }),
        };
        Ok(Head { major, info, arg, content: offset + 1 + width })
    }

    /// Returns the offset just past the item starting at `offset`.
    fn item(&self, offset: usize, depth: usize) -> Result<usize, CborError> {
        let head = self.head(offset)?;
        match head.major {
            0 | 1 => Ok(head.content),
            2 | 3 => {
                let end = self.span(offset, head.content, head.arg)?;
                if head.major == 3 && std::str::from_utf8(&self.bytes[head.content..end]).is_err() {
                    return Err(CborError::InvalidUtf8 { offset });
                }
                Ok(end)
            }
            4 | 5 => {
                if depth >= MAX_CBOR_DEPTH {
                    return Err(CborError::TooDeep { offset, max: MAX_CBOR_DEPTH });
                }
                // Each element takes at least one byte: a count larger than
                // what remains is refused before looping over it.
                let per_entry = if head.major == 4 { 1 } else { 2 };
                let remaining = (self.bytes.len() - head.content) as u64;
                if head.arg > remaining / per_entry {
                    return Err(CborError::Truncated { offset });
                }
                let mut at = head.content;
                let mut previous_key: Option<(usize, usize)> = None;
                for _ in 0..head.arg {
                    if head.major == 4 {
                        at = self.item(at, depth + 1)?;
                        continue;
                    }
                    let key_start = at;
                    let key_end = self.item(at, depth + 1)?;
                    if let Some((start, end)) = previous_key {
                        let previous = &self.bytes[start..end];
                        let key = &self.bytes[key_start..key_end];
                        match previous.cmp(key) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => {
                                return Err(CborError::DuplicateKey { offset: key_start });
                            }
                            std::cmp::Ordering::Greater => {
                                return Err(CborError::UnsortedKeys { offset: key_start });
                            }
                        }
                    }
                    previous_key = Some((key_start, key_end));
                    at = self.item(key_end, depth + 1)?;
                }
                Ok(at)
            }
            6 => Err(CborError::Unsupported { offset }),
            _ => match head.info {
                20..=22 => Ok(head.content),
                _ => Err(CborError::Unsupported { offset }),
            },
        }
    }

    fn span(&self, offset: usize, start: usize, len: u64) -> Result<usize, CborError> {
        let remaining = (self.bytes.len() - start) as u64;
        if len > remaining {
            return Err(CborError::Truncated { offset });
        }
        Ok(start + len as usize)
    }
}
