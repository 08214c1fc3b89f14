//! File paths inside a design, safe to check out on every OS.
//!
//! A tree arrives from strangers and is written to a maker's disk, so a
//! path must never escape the checkout folder, never plant a `.git` folder,
//! and never mean two different files on Windows, macOS and Linux. The only
//! way to get a [`ValidatedPath`] is through these rules.

use std::fmt;

use unicode_normalization::{UnicodeNormalization, is_nfc};

use crate::limits::{MAX_PATH_BYTES, MAX_PATH_DEPTH, MAX_SEGMENT_BYTES};

/// The Unicode version of the NFC tables paths are checked and normalised
/// with (those of the `unicode-normalization` crate). Whether a path is
/// NFC, and so whether a tree is valid, may depend on it for characters
/// assigned in later versions: spec/paths.md names it, and a test holds
/// the crate to it.
pub const NFC_UNICODE_VERSION: (u8, u8, u8) = (18, 0, 0);

/// The Unicode version of the lowercase mapping of case keys: Rust's
/// standard library's (`char::UNICODE_VERSION`), which moves with the
/// compiler; a test holds the compiler to it.
pub const LOWERCASE_UNICODE_VERSION: (u8, u8, u8) = (17, 0, 0);

/// Why a path cannot be part of a design.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is {len} bytes, over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("the path has {depth} segments, over the limit of {max}")]
    TooDeep { depth: usize, max: usize },
    #[error("the path is absolute (starts with `/`)")]
    Absolute,
    #[error("the path has an empty segment (`//`, or a `/` at the end)")]
    EmptySegment,
    #[error("the path has a `.` or `..` segment")]
    DotSegment,
    #[error("the segment {segment:?} is {len} bytes, over the limit of {max}")]
    SegmentTooLong { segment: String, len: usize, max: usize },
    #[error("the path holds the control character U+{code:04X}")]
    ControlCharacter { code: u32 },
    #[error("the path holds {character:?}, which Windows does not allow in file names")]
    ForbiddenCharacter { character: char },
    #[error("the segment {segment:?} ends with a dot or a space, which Windows drops")]
    TrailingDotOrSpace { segment: String },
    #[error("the segment {segment:?} is a device name reserved on Windows")]
    ReservedName { segment: String },
    #[error("the segment {segment:?} is reserved for version control and communs' own files")]
    ReservedControlFolder { segment: String },
    #[error("the path is not in Unicode NFC form")]
    NotNfc,
}

impl PathError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            PathError::Empty => "empty",
            PathError::TooLong { .. } => "too-long",
            PathError::TooDeep { .. } => "too-deep",
            PathError::Absolute => "absolute",
            PathError::EmptySegment => "empty-segment",
            PathError::DotSegment => "dot-segment",
            PathError::SegmentTooLong { .. } => "segment-too-long",
            PathError::ControlCharacter { .. } => "control-character",
            PathError::ForbiddenCharacter { .. } => "forbidden-character",
            PathError::TrailingDotOrSpace { .. } => "trailing-dot-or-space",
            PathError::ReservedName { .. } => "reserved-name",
            PathError::ReservedControlFolder { .. } => "reserved-control-folder",
            PathError::NotNfc => "not-nfc",
        }
    }
}

/// A relative, `/`-separated, NFC path that passed every rule of
/// `spec/paths.md`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatedPath(String);

/// Characters that Windows refuses in names (besides controls). `\` is also
/// its separator: allowing it would let `a\..\..\x` escape on Windows.
const FORBIDDEN: &[char] = &['<', '>', ':', '"', '\\', '|', '?', '*'];

/// Device names Windows reserves with or without an extension.
const WINDOWS_DEVICES: &[&str] = &["con", "prn", "aux", "nul", "conin$", "conout$"];

/// Names that a checkout must never create: a `.git` folder would let a
/// design plant hooks that git then runs; `.communs` holds the checkout's
/// own marker.
const CONTROL_NAMES: &[&str] = &[".git", ".communs"];

impl ValidatedPath {
    /// Validates a path that must already be in NFC form (as in a tree read
    /// from the wire, where one path has one encoding).
    pub fn new(path: &str) -> Result<Self, PathError> {
        if !is_nfc(path) {
            return Err(PathError::NotNfc);
        }
        validate(path)?;
        Ok(ValidatedPath(path.to_owned()))
    }

    /// Normalises a name read from a local folder to NFC (macOS stores names
    /// decomposed), then validates it.
    pub fn normalize(path: &str) -> Result<Self, PathError> {
        let nfc: String = path.nfc().collect();
        validate(&nfc)?;
        Ok(ValidatedPath(nfc))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// The key under which two paths collide on a case-insensitive file
/// system: Unicode default full lowercase mapping (with the final sigma
/// rule, as `str::to_lowercase` applies it), then NFC.
pub(crate) fn fold_case(s: &str) -> String {
    s.to_lowercase().nfc().collect()
}

impl fmt::Display for ValidatedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ValidatedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn validate(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong { len: path.len(), max: MAX_PATH_BYTES });
    }
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(PathError::ControlCharacter { code: c as u32 });
    }
    if let Some(c) = path.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(PathError::ForbiddenCharacter { character: c });
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    let depth = path.split('/').count();
    if depth > MAX_PATH_DEPTH {
        return Err(PathError::TooDeep { depth, max: MAX_PATH_DEPTH });
    }
    path.split('/').try_for_each(validate_segment)
}

fn validate_segment(segment: &str) -> Result<(), PathError> {
    match segment {
        "" => return Err(PathError::EmptySegment),
        "." | ".." => return Err(PathError::DotSegment),
        _ => {}
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Err(PathError::SegmentTooLong {
            segment: segment.to_owned(),
            len: segment.len(),
            max: MAX_SEGMENT_BYTES,
        });
    }
    if segment.ends_with('.') || segment.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace { segment: segment.to_owned() });
    }
    let lower = segment.to_lowercase();
    if CONTROL_NAMES.contains(&lower.as_str()) {
        return Err(PathError::ReservedControlFolder { segment: segment.to_owned() });
    }
    // Windows ignores everything from the first dot, and trailing spaces
    // before it: `con.txt` and `nul .tar.gz` are devices too.
    let stem = lower.split('.').next().unwrap_or_default().trim_end();
    if is_windows_device(stem) {
        return Err(PathError::ReservedName { segment: segment.to_owned() });
    }
    Ok(())
}

fn is_windows_device(stem: &str) -> bool {
    if WINDOWS_DEVICES.contains(&stem) {
        return true;
    }
    // COM0-9 and LPT0-9, including the superscript digits Windows also
    // treats as ports.
    let mut chars = stem.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest: Vec<char> = chars.collect();
    (prefix == "com" || prefix == "lpt")
        && rest.len() == 1
        && (rest[0].is_ascii_digit() || matches!(rest[0], '¹' | '²' | '³'))
}
