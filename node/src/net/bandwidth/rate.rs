//! A rate in bytes per second, as a person writes it: `10MB`, `500KiB`,
//! `1.5 MB/s`, or plain bytes.

use std::fmt;
use std::str::FromStr;

/// Bytes per second, never 0 (no limit is the absence of a rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("no number in {0:?} (a rate is bytes per second: 10MB, 500KiB, 1.5MB/s, 250000)")]
    NoNumber(String),
    #[error("unknown unit {unit:?} in {text:?} (B, kB, MB, GB, KiB, MiB, GiB)")]
    Unit { text: String, unit: String },
    #[error("a rate of 0 would stop every transfer: leave the limit out for no limit")]
    Zero,
    #[error("{0:?} is more bytes per second than a node counts")]
    TooLarge(String),
}

/// Each unit and its bytes, matched without regard to case.
const UNITS: [(&str, u64); 13] = [
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
];

impl Rate {
    pub fn new(bytes_per_second: u64) -> Result<Rate, RateError> {
        if bytes_per_second == 0 { Err(RateError::Zero) } else { Ok(Rate(bytes_per_second)) }
    }

    pub fn bytes_per_second(self) -> u64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Rate, RateError> {
        let trimmed = text.trim();
        let trimmed = trimmed.strip_suffix("/s").unwrap_or(trimmed).trim_end();
        let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let unit = unit.trim_start().to_ascii_lowercase();
        let &(_, scale) = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(|| RateError::Unit { text: text.to_owned(), unit: unit.clone() })?;
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(RateError::NoNumber(text.to_owned()));
        }
        if fraction.contains('.') {
            return Err(RateError::NoNumber(text.to_owned()));
        }
        let too_large = || RateError::TooLarge(text.to_owned());
        // Exact decimal arithmetic: "1.5MB" is 1,500,000 bytes, not a float's
        // nearest.
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_large())? };
        let digits = fraction.len().min(18);
        let fraction: u128 = if digits == 0 { 0 } else { fraction[..digits].parse().map_err(|_| too_large())? };
        let bytes = whole
            .checked_mul(u128::from(scale))
            .and_then(|b| b.checked_add(fraction * u128::from(scale) / 10u128.pow(digits as u32)))
            .ok_or_else(too_large)?;
        Rate::new(u64::try_from(bytes).map_err(|_| too_large())?)
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
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Written {
            Bytes(u64),
            Text(String),
        }
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

    fn rate(text: &str) -> Result<u64, RateError> {
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
        assert_eq!(rate("0"), Err(RateError::Zero));
        assert_eq!(rate("0.1B"), Err(RateError::Zero));
        assert!(matches!(rate("MB"), Err(RateError::NoNumber(_))));
        assert!(matches!(rate(""), Err(RateError::NoNumber(_))));
        assert!(matches!(rate("1.2.3MB"), Err(RateError::NoNumber(_))));
        assert!(matches!(rate("10 mbit"), Err(RateError::Unit { unit, .. }) if unit == "mbit"));
        assert!(matches!(rate("-5MB"), Err(RateError::Unit { .. })));
        assert!(matches!(rate("99999999999GB"), Err(RateError::TooLarge(_))));
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
