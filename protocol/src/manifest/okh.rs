//! What `okh.toml` and `okh.yml` have in common: the loose shapes people
//! write (one value or a list, a person as text or as a table, a version
//! as a number), and the tidying that turns what they wrote into the one
//! form a manifest keeps.
//!
//! Tidying only removes what cannot carry meaning (surrounding whitespace,
//! a `/` or `./` before a path, a repeated list item, Windows line ends);
//! everything else is kept as written and judged by `Manifest::check`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::{License, ManifestError, rules};
use crate::limits::{MAX_DIMENSION_UM, MAX_MASS_MG, MAX_OKH_FILE_BYTES};

/// A field that OKH lets people write as one value or as a list.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged, expecting = "one value or a list of values")]
pub(super) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub(super) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(item) => vec![item],
            OneOrMany::Many(items) => items,
        }
    }

    /// The shortest way to write `items`: nothing, one value, or a list.
    pub(super) fn from_vec(mut items: Vec<T>) -> Option<Self> {
        match items.len() {
            0 => None,
            1 => items.pop().map(OneOrMany::One),
            _ => Some(OneOrMany::Many(items)),
        }
    }
}

/// All items of an optional one-or-many field, in order.
pub(super) fn all<T>(field: Option<OneOrMany<T>>) -> Vec<T> {
    field.map(OneOrMany::into_vec).unwrap_or_default()
}

/// OKH allows `version = 61` as well as `version = "1.2.0"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged, expecting = "a version as text or as a number")]
pub(super) enum Version {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl Version {
    /// A number keeps its shortest decimal form (`1.0` stays `1.0`); a
    /// version that must keep trailing zeros (`1.10`) has to be quoted.
    pub(super) fn into_text(self) -> String {
        match self {
            Version::Text(text) => line(text),
            Version::Integer(n) => n.to_string(),
            Version::Float(x) => format!("{x:?}"),
        }
    }
}

/// A licensor or organization: text (`Jane Doe <jane@example.org>`), or
/// a table as OKH-LOSH v2.4 and OKH v1 also allow.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged, expecting = "a name as text, or a table with `name` and `email`")]
pub(super) enum Agent {
    Text(String),
    Table {
        name: Option<String>,
        email: Option<String>,
        /// OKH v1 `affiliation`; OKH-LOSH calls it `memberOf`.
        #[serde(alias = "memberOf")]
        affiliation: Option<String>,
    },
}

impl Agent {
    /// `Name <email>`, the form OKH-LOSH's own examples use.
    pub(super) fn into_text(self) -> String {
        match self {
            Agent::Text(text) => line(text),
            Agent::Table { name, email, .. } => {
                let name = name.map(line).filter(|n| !n.is_empty());
                let email = email.map(line).filter(|e| !e.is_empty());
                match (name, email) {
                    (Some(name), Some(email)) => format!("{name} <{email}>"),
                    (name, email) => name.or(email).unwrap_or_default(),
                }
            }
        }
    }
}

/// `license` in `okh.toml`: one SPDX expression for everything, or one per
/// kind of work (the OKH v1 shape, which communs also writes when the
/// expressions differ).
#[derive(Debug, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "an SPDX expression, or a table with `hardware`, `documentation` and `software` SPDX expressions"
)]
pub(super) enum LicenseField {
    All(String),
    Parts(LicenseParts),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LicenseParts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) hardware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) documentation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) software: Option<String>,
}

impl LicenseField {
    pub(super) fn into_license(self) -> License {
        match self {
            LicenseField::All(expression) => License::all(expression.trim()),
            LicenseField::Parts(p) => License {
                hardware: p.hardware.map(line),
                documentation: p.documentation.map(line),
                software: p.software.map(line),
            },
        }
    }

    pub(super) fn from_license(license: &License) -> Option<Self> {
        if license.is_empty() {
            return None;
        }
        Some(match license.as_single() {
            Some(expression) => LicenseField::All(expression.to_owned()),
            None => LicenseField::Parts(LicenseParts {
                hardware: license.hardware.clone(),
                documentation: license.documentation.clone(),
                software: license.software.clone(),
            }),
        })
    }
}

/// Refuses an oversized file before parsing it, and drops a byte order mark.
pub(super) fn prepare(text: &str) -> Result<&str, ManifestError> {
    if text.len() > MAX_OKH_FILE_BYTES {
        return Err(ManifestError::FileTooLarge { len: text.len(), max: MAX_OKH_FILE_BYTES });
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// One-line text, as written minus surrounding whitespace.
pub(super) fn line(text: String) -> String {
    let trimmed = text.trim();
    if trimmed.len() == text.len() { text } else { trimmed.to_owned() }
}

/// Several lines of text: Windows line ends become `\n`, and the newline
/// that TOML and YAML block strings leave at the end goes.
pub(super) fn long_text(text: String) -> String {
    line(text.replace("\r\n", "\n"))
}

/// A file reference as OKH writes it, in the form communs keeps: a URL as
/// is; a path relative to the design root in NFC, without the leading `/`
/// (OKH-LOSH's "absolute path", from the repository root) or `./`, and
/// without a trailing `/` (a folder).
pub(super) fn reference(text: String) -> String {
    let text = line(text);
    if rules::is_web(&text) {
        return text;
    }
    let path = text.strip_prefix("./").or_else(|| text.strip_prefix('/')).unwrap_or(&text);
    path.trim_end_matches('/').nfc().collect()
}

pub(super) fn references(items: Vec<String>) -> Vec<String> {
    unique(items.into_iter().map(reference))
}

/// BCP 47 tags use `-`; `en_US` (a POSIX locale) is a common slip.
pub(super) fn language(text: String) -> String {
    line(text).replace('_', "-")
}

/// Items in their first-seen order, each once. Linear: a file within
/// `MAX_OKH_FILE_BYTES` can still list tens of thousands of items, which
/// `Manifest::check` refuses only after this runs.
pub(super) fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|item| seen.insert(item.clone())).collect()
}

/// Items sorted by bytes, each once: the form of a set.
pub(super) fn set(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().collect();
    items.sort();
    items.dedup();
    items
}

/// A mass in grams, as OKH writes it, in whole milligrams.
pub(super) fn milligrams(grams: f64, field: &'static str) -> Result<u64, ManifestError> {
    thousandths(grams, field, MAX_MASS_MG)
}

/// A length in millimetres, as OKH writes it, in whole micrometres.
pub(super) fn micrometres(millimetres: f64, field: &'static str) -> Result<u64, ManifestError> {
    thousandths(millimetres, field, MAX_DIMENSION_UM)
}

fn thousandths(value: f64, field: &'static str, max: u64) -> Result<u64, ManifestError> {
    let scaled = (value * 1000.0).round();
    // `max` is far below 2^53, so the comparison and the cast are exact;
    // NaN fails the range test.
    if !(0.0..=max as f64).contains(&scaled) {
        return Err(ManifestError::OutOfRange {
            field,
            value: value.to_string(),
            max: (max as f64 / 1000.0).to_string(),
        });
    }
    Ok(scaled as u64)
}

/// The inverse of [`milligrams`] and [`micrometres`]: exact for every value
/// within the limits, so that `okh.toml` round-trips.
pub(super) fn units(thousandths: u64) -> f64 {
    thousandths as f64 / 1000.0
}
