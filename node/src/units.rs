//! Quantities of bytes as a person writes them in config.toml and on the
//! command line: `10MB`, `500KiB`, `1.5 GB`, or plain bytes. One grammar
//! for the storage limit ([`Size`]) and the bandwidth limits ([`Rate`],
//! which may end in `/s`), spelled out in spec/storage.md ("Sizes and
//! rates") with vectors in spec/vectors/config.json.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("no number in {text:?} ({hint})")]
    NoNumber { text: String, hint: &'static str },
    #[error("unknown unit {unit:?} in {text:?} (B, kB, MB, GB, KiB, MiB, GiB)")]
    Unit { text: String, unit: String },
    #[error("{0}")]
    Zero(&'static str),
    #[error("{0:?} is more bytes than a node counts")]
    TooLarge(String),
}

impl UnitError {
    /// A stable name for the vectors (spec/vectors/config.json).
    pub fn reason(&self) -> &'static str {
        match self {
            UnitError::NoNumber { .. } => "no-number",
            UnitError::Unit { .. } => "unit",
            UnitError::Zero(_) => "zero",
            UnitError::TooLarge(_) => "too-large",
        }
    }
}

/// Each unit and its bytes, matched without regard to case.
const UNITS: [(&str, u64); 14] = [
    ("", 1),
    ("b", 1),
    ("k", 1_000),
    ("kb", 1_000),
    ("m", 1_000_000),
    ("mb", 1_000_000),
    ("g", 1_000_000_000),
    ("gb", 1_000_000_000),
    ("ki", 1 << 10),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("mi", 1 << 20),
    ("gi", 1 << 30),
];

/// The bytes `text` says (`hint` names the quantity in errors): a decimal
/// number, then a unit, spaces around them ignored; exact decimal
/// arithmetic, rounded down to a whole byte ("1.5MB" is 1,500,000 bytes,
/// not a float's nearest).
fn parse_bytes(text: &str, hint: &'static str) -> Result<u64, UnitError> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim_start().to_ascii_lowercase();
    let &(_, scale) = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(|| UnitError::Unit { text: text.to_owned(), unit: unit.clone() })?;
    let no_number = || UnitError::NoNumber { text: text.to_owned(), hint };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(no_number());
    }
    let too_large = || UnitError::TooLarge(text.to_owned());
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_large())? };
    let digits = fraction.len().min(18);
    let fraction: u128 = if digits == 0 { 0 } else { fraction[..digits].parse().map_err(|_| too_large())? };
    let bytes = whole
        .checked_mul(u128::from(scale))
        .and_then(|b| b.checked_add(fraction * u128::from(scale) / 10u128.pow(digits as u32)))
        .ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
}

/// In config.toml, a number of bytes or a string with a unit.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Written {
    Bytes(u64),
    Text(String),
}

/// Bytes per second, never 0 (no limit is the absence of a rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(u64);

impl Rate {
    const HINT: &str = "a rate is bytes per second: 10MB, 500KiB, 1.5MB/s, 250000";

    pub fn new(bytes_per_second: u64) -> Result<Rate, UnitError> {
        if bytes_per_second == 0 {
            Err(UnitError::Zero("a rate of 0 would stop every transfer: leave the limit out for no limit"))
        } else {
            Ok(Rate(bytes_per_second))
        }
    }

    pub fn bytes_per_second(self) -> u64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Rate, UnitError> {
        let trimmed = text.trim();
        let quantity = trimmed.strip_suffix("/s").unwrap_or(trimmed);
        let bytes = parse_bytes(quantity, Rate::HINT).map_err(|e| match e {
            // Name what was written, "/s" and all.
            UnitError::NoNumber { hint, .. } => UnitError::NoNumber { text: text.to_owned(), hint },
            UnitError::Unit { unit, .. } => UnitError::Unit { text: text.to_owned(), unit },
            other => other,
        })?;
        Rate::new(bytes)
    }
}

/// A number of bytes the storage limit holds, never 0 (no limit is its
/// absence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(u64);

impl Size {
    const HINT: &str = "a size is bytes: 200MB, 10GiB, 1.5GB, 250000";

    pub fn new(bytes: u64) -> Result<Size, UnitError> {
        if bytes == 0 {
            Err(UnitError::Zero("a storage limit of 0 would hold nothing: leave it out for no limit"))
        } else {
            Ok(Size(bytes))
        }
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl FromStr for Size {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Size, UnitError> {
        Size::new(parse_bytes(text, Size::HINT)?)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// Written back as a number of bytes, which reads back the same.
impl serde::Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        match Written::deserialize(deserializer)? {
            Written::Bytes(bytes) => Size::new(bytes),
            Written::Text(text) => text.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B/s", self.0)
    }
}

impl serde::Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

/// In config.toml, a number of bytes per second or a string with a unit.
impl<'de> serde::Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        match Written::deserialize(deserializer)? {
            Written::Bytes(bytes) => Rate::new(bytes),
            Written::Text(text) => text.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// spec/vectors/config.json: every size and rate, accepted with its
    /// bytes or refused with its reason, as a string and (accepted) as
    /// what config.toml reads.
    #[test]
    fn the_spec_vectors_of_sizes_and_rates() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../spec/vectors/config.json")).expect("valid JSON");
        let text = |v: &serde_json::Value| v["input"].as_str().expect("input").to_owned();
        for v in vectors["sizes"]["accepted"].as_array().expect("sizes") {
            let bytes = v["bytes"].as_u64().expect("bytes");
            assert_eq!(text(v).parse::<Size>().map(Size::as_u64), Ok(bytes), "{v}");
            #[derive(serde::Deserialize)]
            struct Storage {
                max_bytes: Size,
            }
            let read: Storage = toml::from_str(&format!("max_bytes = {:?}", text(v))).expect("config reads it");
            assert_eq!(read.max_bytes.as_u64(), bytes);
            let number: Storage = toml::from_str(&format!("max_bytes = {bytes}")).expect("a number of bytes");
            assert_eq!(number.max_bytes.as_u64(), bytes);
        }
        for v in vectors["sizes"]["rejected"].as_array().expect("sizes") {
            let error = text(v).parse::<Size>().expect_err(&v.to_string());
            assert_eq!(error.reason(), v["reason"].as_str().expect("reason"), "{v}: {error}");
        }
        for v in vectors["rates"]["accepted"].as_array().expect("rates") {
            let bytes = v["bytes_per_second"].as_u64().expect("bytes");
            assert_eq!(text(v).parse::<Rate>().map(Rate::bytes_per_second), Ok(bytes), "{v}");
        }
        for v in vectors["rates"]["rejected"].as_array().expect("rates") {
            let error = text(v).parse::<Rate>().expect_err(&v.to_string());
            assert_eq!(error.reason(), v["reason"].as_str().expect("reason"), "{v}: {error}");
        }
    }

    fn rate(text: &str) -> Result<u64, UnitError> {
        text.parse::<Rate>().map(Rate::bytes_per_second)
    }

    #[test]
    fn rates_read_with_decimal_and_binary_units() {
        assert_eq!(rate("250000"), Ok(250_000));
        assert_eq!(rate("10MB"), Ok(10_000_000));
        assert_eq!(rate("10 MB/s"), Ok(10_000_000));
        assert_eq!(rate("500KiB"), Ok(512_000));
        assert_eq!(rate("500kib"), Ok(512_000));
        assert_eq!(rate("1.5MB"), Ok(1_500_000));
        assert_eq!(rate("0.5 GiB"), Ok(1 << 29));
        assert_eq!(rate("2k"), Ok(2_000));
        assert_eq!(rate("3M"), Ok(3_000_000));
        assert_eq!(rate("1G"), Ok(1_000_000_000));
        assert_eq!(rate("7B"), Ok(7));
        assert_eq!(rate(".25MB"), Ok(250_000));
    }

    #[test]
    fn what_is_not_a_rate_is_refused_with_the_reason() {
        assert!(matches!(rate("0"), Err(UnitError::Zero(_))));
        assert!(matches!(rate("0.1B"), Err(UnitError::Zero(_))));
        assert!(matches!(rate("MB"), Err(UnitError::NoNumber { .. })));
        assert!(matches!(rate(""), Err(UnitError::NoNumber { .. })));
        assert!(matches!(rate("1.2.3MB"), Err(UnitError::NoNumber { .. })));
        assert!(matches!(rate("10 mbit"), Err(UnitError::Unit { unit, .. }) if unit == "mbit"));
        assert!(matches!(rate("-5MB"), Err(UnitError::Unit { .. })));
        assert!(matches!(rate("99999999999GB"), Err(UnitError::TooLarge(_))));
        assert!(rate("10 mbit").unwrap_err().to_string().contains("KiB"));
    }

    #[test]
    fn config_takes_a_number_or_a_string() {
        #[derive(serde::Deserialize)]
        struct Limits {
            up: Rate,
            down: Rate,
        }
        let limits: Limits = toml::from_str("up = 1000\ndown = \"2MiB\"").expect("valid");
        assert_eq!((limits.up.bytes_per_second(), limits.down.bytes_per_second()), (1000, 2 << 20));
        let zero = toml::from_str::<Limits>("up = 0\ndown = 1");
        assert!(zero.err().expect("refused").to_string().contains("0 would stop"));
        let bad = toml::from_str::<Limits>("up = \"fast\"\ndown = 1");
        assert!(bad.is_err());
    }
}
