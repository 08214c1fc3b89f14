//! OKH v1 `okh.yml` (Open Know-How Manifest Specification 1.0), read only.
//!
//! The mapping follows OKH-LOSH's own "OKHv1 → OKH-LOSH" data mapping where
//! it is exact: `title` is the name, `description`, `intended-use` and
//! `health-safety-notice` together the function, `documentation-home` the
//! repo, `archive-download` the release, `making-instructions` and
//! `operating-instructions` the manufacturing instructions and user
//! manual, `derivative-of` / `variant-of` the project forked. Fields with
//! no exact counterpart (`development-stage`, `made`, `design-files`,
//! `sub`, `contributors`…) are ignored, like any field communs does not
//! model.

use serde::Deserialize;

use super::okh::{self, Agent, LicenseField, OneOrMany, Version, all};
use super::{Manifest, ManifestError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct OkhV1 {
    title: Option<String>,
    description: Option<String>,
    intended_use: Option<String>,
    health_safety_notice: Option<String>,
    keywords: Option<OneOrMany<String>>,
    image: Option<OneOrMany<String>>,
    version: Option<Version>,
    license: Option<LicenseField>,
    licensor: Option<OneOrMany<Agent>>,
    documentation_home: Option<String>,
    project_link: Option<String>,
    archive_download: Option<String>,
    /// The specification's text spells it with an underscore, its template
    /// with a hyphen; files in the wild use both.
    #[serde(alias = "documentation_language")]
    documentation_language: Option<OneOrMany<String>>,
    bom: Option<OneOrMany<Document>>,
    making_instructions: Option<OneOrMany<Document>>,
    operating_instructions: Option<OneOrMany<Document>>,
    derivative_of: Option<OtherProject>,
    variant_of: Option<OtherProject>,
}

/// A link to documentation: `{path, title}` in the specification, a bare
/// path in many files.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a path or URL, or a table with a `path`")]
enum Document {
    Path(String),
    Entry { path: Option<String> },
}

impl Document {
    fn into_path(self) -> Option<String> {
        match self {
            Document::Path(path) => Some(path),
            Document::Entry { path } => path,
        }
    }
}

/// Another thing this one derives from: its web presence or its manifest.
#[derive(Debug, Deserialize)]
struct OtherProject {
    web: Option<String>,
    manifest: Option<String>,
}

pub(super) fn read(text: &str) -> Result<Manifest, ManifestError> {
    let text = without_declaration(okh::prepare(text)?);
    let doc: OkhV1 = serde_norway::from_str(&text).map_err(|e| ManifestError::Yaml(e.to_string()))?;
    let documents = |field: Option<OneOrMany<Document>>| {
        okh::references(all(field).into_iter().filter_map(Document::into_path).collect())
    };
    // OKH v1 licensors are people with an affiliation; OKH-LOSH keeps the
    // organization apart.
    let licensors = all(doc.licensor);
    let organizations = licensors
        .iter()
        .filter_map(|agent| match agent {
            Agent::Table { affiliation: Some(affiliation), .. } => Some(okh::line(affiliation.clone())),
            _ => None,
        })
        .collect::<Vec<_>>();
    let function = [doc.description, doc.intended_use, doc.health_safety_notice]
        .into_iter()
        .flatten()
        .map(okh::long_text)
        .filter(|paragraph| !paragraph.is_empty())
        .collect::<Vec<_>>();
    let fork_of = [doc.derivative_of, doc.variant_of].into_iter().flatten().find_map(|p| p.web.or(p.manifest));

    let manifest = Manifest {
        name: okh::line(doc.title.ok_or(ManifestError::Missing { field: "manifest.name" })?),
        version: doc.version.map(Version::into_text),
        function: (!function.is_empty()).then(|| function.join("\n\n")),
        license: doc.license.map(LicenseField::into_license).unwrap_or_default(),
        licensors: okh::unique(licensors.into_iter().map(Agent::into_text)),
        organizations: okh::unique(organizations),
        keywords: okh::set(all(doc.keywords).into_iter().map(okh::line)),
        images: okh::references(all(doc.image)),
        readme: Vec::new(),
        bom: documents(doc.bom),
        manufacturing_instructions: documents(doc.making_instructions),
        user_manual: documents(doc.operating_instructions),
        documentation_languages: okh::unique(all(doc.documentation_language).into_iter().map(okh::language)),
        technology_readiness_level: None,
        documentation_readiness_level: None,
        repo: doc.documentation_home.or(doc.project_link).map(okh::line),
        release: doc.archive_download.map(okh::reference),
        parts: Vec::new(),
        fork_of: fork_of.map(okh::line),
    };
    manifest.check()?;
    Ok(manifest)
}

/// OKH v1 files open with `%Open Know-How Manifest 1.0`, which YAML parsers
/// refuse as an unknown directive. Leading `%` lines are blanked rather
/// than removed, so that parser errors keep their line numbers.
fn without_declaration(text: &str) -> String {
    let mut header = true;
    text.split_inclusive('\n')
        .map(|line| {
            header &= line.starts_with('%');
            if header { if line.ends_with('\n') { "\n" } else { "" } } else { line }
        })
        .collect()
}
