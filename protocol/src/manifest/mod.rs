//! A design's metadata, aligned with Open Know-How.
//!
//! Makers find a design by its manifest: its name, what it does, how it is
//! licensed, where its bill of materials and instructions are. The fields
//! and their names follow OKH-LOSH (`okh.toml`, spec v2.4), so that a folder
//! that already carries an `okh.toml`, or an OKH v1 `okh.yml`, publishes
//! with its metadata intact, and so that `communs` can write an `okh.toml`
//! back for every other OKH tool.
//!
//! A manifest travels inside a signed `Revision`, so it has exactly one
//! CBOR encoding (`spec/manifest.md`): a map keyed by the OKH field names,
//! empty fields absent, every text and list bounded. Reading `okh.toml` and
//! `okh.yml` is lenient wherever the meaning is unambiguous (fields we do
//! not model are ignored, a list may be written as a single value, a path
//! may start with `/`); the CBOR form is strict.
//!
//! [`Manifest`] has public fields so that callers can build one freely;
//! [`Manifest::check`] holds every rule, and every way in (CBOR, `okh.toml`,
//! `okh.yml`) runs it.

mod okh;
mod okh_toml;
mod okh_v1;
mod rules;
mod value;

pub use okh_v1::DerivativeOf;

pub(crate) use rules::web_url as check_web_url;

use crate::cbor::{self, DecodeError, Value};
use crate::license::LicenseError;
use crate::limits::{MAX_MANIFEST_BYTES, MAX_MANIFEST_LINE_BYTES};
use crate::path::PathError;

/// The metadata of one revision of a design.
///
/// File references (`images`, `readme`, `bom`, `manufacturing_instructions`,
/// `user_manual`, `release` and the files of a [`Part`]) are either a path
/// inside the design (`docs/assembly.md`, following `spec/paths.md`) or an
/// `http(s)://` URL. Lists keep the order they were written in, except
/// `keywords` (and a part's `tsdc`), which are sets: sorted and unique.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Working title (OKH-LOSH `name`, OKH v1 `title`). Required.
    pub name: String,
    /// Version of the design as its authors name it (`1.2.0`, `v3`, a hash).
    pub version: Option<String>,
    /// What the design does, for whom, under which conditions (OKH v1
    /// `description`). The only text that may span several lines.
    pub function: Option<String>,
    /// At least one of its parts is required.
    pub license: License,
    /// Who grants the license (OKH-LOSH `licensor`), usually `Name <email>`.
    pub licensors: Vec<String>,
    /// Organizations behind the design (OKH-LOSH `organization`).
    pub organizations: Vec<String>,
    /// Search terms; a set (sorted, unique).
    pub keywords: Vec<String>,
    /// Pictures of the design, the most representative first (`image`).
    pub images: Vec<String>,
    pub readme: Vec<String>,
    /// Bill of materials.
    pub bom: Vec<String>,
    /// How to make it (OKH v1 `making-instructions`).
    pub manufacturing_instructions: Vec<String>,
    /// How to use it (OKH v1 `operating-instructions`).
    pub user_manual: Vec<String>,
    /// BCP 47 tags of the languages the documentation is written in.
    pub documentation_languages: Vec<String>,
    pub technology_readiness_level: Option<TechnologyReadiness>,
    pub documentation_readiness_level: Option<DocumentationReadiness>,
    /// Where development happens outside communs: an `http(s)` URL.
    pub repo: Option<String>,
    /// The release package of this version: a file reference.
    pub release: Option<String>,
    /// Physical components with design files of their own (OKH-LOSH `part`).
    pub parts: Vec<Part>,
    /// The project this design was forked from, as an `http(s)` URL
    /// (OKH v1 `derivative-of` / `variant-of`). A fork *within* communs is
    /// recorded structurally by the genesis event; this field is for
    /// ancestry outside it.
    pub fork_of: Option<String>,
}

/// The licenses of a design, one SPDX expression per kind of work, as
/// OKH v1 splits them: hardware designs, documentation and software are
/// often licensed differently (CERN-OHL-S-2.0, CC-BY-SA-4.0, GPL-3.0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct License {
    pub hardware: Option<String>,
    pub documentation: Option<String>,
    pub software: Option<String>,
}

impl License {
    /// One expression for every kind of work: what a single
    /// `license = "…"` means in `okh.toml`.
    pub fn all(expression: &str) -> License {
        let part = Some(expression.to_owned());
        License { hardware: part.clone(), documentation: part.clone(), software: part }
    }

    /// The expression that covers every kind of work, if there is one.
    pub fn as_single(&self) -> Option<&str> {
        match (&self.hardware, &self.documentation, &self.software) {
            (Some(h), Some(d), Some(s)) if h == d && d == s => Some(h),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hardware.is_none() && self.documentation.is_none() && self.software.is_none()
    }
}

/// A physical component of the design with its own files (OKH-LOSH `part`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Part {
    /// Required, and unique among the parts of a manifest.
    pub name: String,
    pub images: Vec<String>,
    /// Editable design files (native CAD, KiCad project…).
    pub source: Vec<String>,
    /// Files exported from the sources (STEP, STL, PDF…).
    pub export: Vec<String>,
    /// Other useful files (libraries, configuration).
    pub auxiliary: Vec<String>,
    /// Technology-specific documentation criteria (DIN SPEC 3105-1) this
    /// part is made by: `3DP`, `CNC`, `LAS`, `PCB`… OKH-LOSH's way of naming
    /// the manufacturing process. A set (sorted, unique).
    pub tsdc: Vec<String>,
    pub material: Option<String>,
    /// In milligrams. `okh.toml` writes grams, as a float; the CBOR profile
    /// has no floats, and a whole number of milligrams has one encoding.
    pub mass_mg: Option<u64>,
    pub outer_dimensions: Option<Dimensions>,
}

/// The bounding box of a part, in micrometres (`okh.toml` writes
/// millimetres, as floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dimensions {
    pub width_um: u64,
    pub depth_um: u64,
    pub height_um: u64,
}

/// Open Technology Readiness Level: how far the hardware itself has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TechnologyReadiness {
    /// `OTRL-1`: ideation.
    Otrl1,
    /// `OTRL-2`: conception.
    Otrl2,
    /// `OTRL-3`: development.
    Otrl3,
    /// `OTRL-4`: prototyping and testing.
    Otrl4,
    /// `OTRL-5`: manufacturing development.
    Otrl5,
    /// `OTRL-6`: product qualification.
    Otrl6,
}

impl TechnologyReadiness {
    pub const ALL: [TechnologyReadiness; 6] =
        [Self::Otrl1, Self::Otrl2, Self::Otrl3, Self::Otrl4, Self::Otrl5, Self::Otrl6];

    /// The OKH identifier, as written in `okh.toml` and in the CBOR form.
    pub fn id(self) -> &'static str {
        match self {
            Self::Otrl1 => "OTRL-1",
            Self::Otrl2 => "OTRL-2",
            Self::Otrl3 => "OTRL-3",
            Self::Otrl4 => "OTRL-4",
            Self::Otrl5 => "OTRL-5",
            Self::Otrl6 => "OTRL-6",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.id() == id)
    }

    fn parse(id: &str) -> Result<Self, ManifestError> {
        parse_level(id, "manifest.technology-readiness-level", Self::from_id, "OTRL-1 to OTRL-6")
    }
}

/// Open Documentation Readiness Level: how complete the documentation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentationReadiness {
    /// `ODRL-1`: documentation process commenced.
    Odrl1,
    /// `ODRL-2`: collaborative documentation in progress.
    Odrl2,
    /// `ODRL-3`: full documentation published.
    Odrl3,
    /// `ODRL-3*`: full documentation published and audited.
    Odrl3Audited,
    /// `ODRL-4`: full documentation for product qualification.
    Odrl4,
}

impl DocumentationReadiness {
    pub const ALL: [DocumentationReadiness; 5] =
        [Self::Odrl1, Self::Odrl2, Self::Odrl3, Self::Odrl3Audited, Self::Odrl4];

    /// The OKH identifier, as written in `okh.toml` and in the CBOR form.
    pub fn id(self) -> &'static str {
        match self {
            Self::Odrl1 => "ODRL-1",
            Self::Odrl2 => "ODRL-2",
            Self::Odrl3 => "ODRL-3",
            Self::Odrl3Audited => "ODRL-3*",
            Self::Odrl4 => "ODRL-4",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.id() == id)
    }

    fn parse(id: &str) -> Result<Self, ManifestError> {
        let expected = "ODRL-1, ODRL-2, ODRL-3, ODRL-3*, ODRL-4";
        parse_level(id, "manifest.documentation-readiness-level", Self::from_id, expected)
    }
}

fn parse_level<T>(
    id: &str,
    field: &'static str,
    from_id: fn(&str) -> Option<T>,
    expected: &'static str,
) -> Result<T, ManifestError> {
    if id.len() > MAX_MANIFEST_LINE_BYTES {
        return Err(DecodeError::TooLong { field, len: id.len(), max: MAX_MANIFEST_LINE_BYTES }.into());
    }
    from_id(id).ok_or_else(|| ManifestError::UnknownReadinessLevel { field, value: id.to_owned(), expected })
}

/// Why a manifest, its CBOR form or an OKH file was refused.
///
/// `field` names where the problem is, as `manifest.<OKH field>`
/// (`manifest.part.source`), so that a message points into the `okh.toml`
/// the user wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{field} is missing")]
    Missing { field: &'static str },
    #[error("{field}: map keys are not in canonical order, or one is repeated")]
    UnsortedKeys { field: &'static str },
    #[error("{field}: starts or ends with whitespace")]
    SurroundingWhitespace { field: &'static str },
    #[error("{field}: holds the control character U+{code:04X} (only `function` may hold newlines and tabs)")]
    ControlCharacter { field: &'static str, code: u32 },
    #[error("{field}: {item:?} is listed twice")]
    Duplicate { field: &'static str, item: String },
    #[error(
        "the design has no license: set `license` in okh.toml to an SPDX expression \
         (for example CERN-OHL-S-2.0), or to a table of hardware, documentation and software licenses"
    )]
    NoLicense,
    #[error("{field}: {source}")]
    License { field: &'static str, source: LicenseError },
    #[error("{field}: {value:?} is neither an http(s) URL nor a valid path in the design: {source}")]
    BadReference { field: &'static str, value: String, source: PathError },
    #[error("{field}: {value:?} is not an http:// or https:// URL")]
    BadUrl { field: &'static str, value: String },
    #[error("manifest.documentation-language: {value:?} is not a BCP 47 language tag (like `en`, `de-CH`, `pt-BR`)")]
    BadLanguageTag { value: String },
    #[error("{field}: unknown readiness level {value:?} (expected one of {expected})")]
    UnknownReadinessLevel { field: &'static str, value: String, expected: &'static str },
    #[error("part {part:?} has neither `source` nor `export` files")]
    PartWithoutFiles { part: String },
    #[error("{field}: {value} is out of range (0 to {max})")]
    OutOfRange { field: &'static str, value: String, max: String },
    #[error("the encoded manifest would be {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the OKH file is {len} bytes, over the limit of {max}")]
    FileTooLarge { len: usize, max: usize },
    #[error("okh.toml: {0}")]
    Toml(String),
    #[error("okh.yml: {0}")]
    Yaml(String),
}

impl ManifestError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            ManifestError::Decode(e) => e.reason(),
            ManifestError::Missing { .. } => "missing-field",
            ManifestError::UnsortedKeys { .. } => "unsorted-keys",
            ManifestError::SurroundingWhitespace { .. } => "surrounding-whitespace",
            ManifestError::ControlCharacter { .. } => "control-character",
            ManifestError::Duplicate { .. } => "duplicate",
            ManifestError::NoLicense => "no-license",
            ManifestError::License { .. } => "bad-license",
            ManifestError::BadReference { .. } => "bad-reference",
            ManifestError::BadUrl { .. } => "bad-url",
            ManifestError::BadLanguageTag { .. } => "bad-language-tag",
            ManifestError::UnknownReadinessLevel { .. } => "unknown-readiness-level",
            ManifestError::PartWithoutFiles { .. } => "part-without-files",
            ManifestError::OutOfRange { .. } => "out-of-range",
            ManifestError::TooLarge { .. } => "too-large",
            ManifestError::FileTooLarge { .. } => "file-too-large",
            ManifestError::Toml(_) => "bad-toml",
            ManifestError::Yaml(_) => "bad-yaml",
        }
    }
}

impl Manifest {
    /// The manifest of a folder without an OKH file: a name and a license.
    /// The caller fills the rest it knows (`function` from the README) and
    /// [`check`](Self::check)s the result.
    pub fn minimal(name: &str, license: License) -> Manifest {
        Manifest { name: name.to_owned(), license, ..Manifest::default() }
    }

    /// Checks every rule of `spec/manifest.md`. Run on every way in, and
    /// before an event carrying the manifest is signed.
    pub fn check(&self) -> Result<(), ManifestError> {
        rules::check(self)
    }

    /// The canonical CBOR value: a map keyed by OKH-LOSH field names, in
    /// canonical order, empty fields left out.
    pub fn to_value(&self) -> Value {
        value::to_value(self)
    }

    /// Reads the CBOR value, refusing unknown keys, empty fields written
    /// out, and anything [`check`](Self::check) refuses.
    pub fn from_value(value: &Value) -> Result<Manifest, ManifestError> {
        let manifest = value::from_value(value)?;
        manifest.check()?;
        Ok(manifest)
    }

    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&self.to_value())
    }

    /// Decodes a manifest of at most [`MAX_MANIFEST_BYTES`], refusing any
    /// encoding but the canonical one.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let value = cbor::decode(bytes, MAX_MANIFEST_BYTES).map_err(DecodeError::from)?;
        Manifest::from_value(&value)
    }

    /// Reads an OKH-LOSH `okh.toml` (spec v2.4 field names).
    pub fn from_okh_toml(text: &str) -> Result<Manifest, ManifestError> {
        okh_toml::read(text)
    }

    /// Reads an OKH v1 `okh.yml`.
    pub fn from_okh_v1_yaml(text: &str) -> Result<Manifest, ManifestError> {
        okh_v1::read(text)
    }

    /// Writes an OKH-LOSH `okh.toml` that reads back as this manifest.
    pub fn to_okh_toml(&self) -> String {
        okh_toml::write(self)
    }

    /// Writes an OKH v1 `okh.yml`: every field OKH v1 has reads back as
    /// in this manifest (spec/manifest.md, "Writing OKH files").
    /// `derivative_of` names the source of a remix within communs.
    pub fn to_okh_v1_yaml(&self, derivative_of: Option<&DerivativeOf>) -> String {
        okh_v1::write(self, derivative_of)
    }
}
