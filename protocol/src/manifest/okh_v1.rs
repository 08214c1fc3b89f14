//! OKH v1 `okh.yml` (Open Know-How Manifest Specification 1.0), read and
//! written.
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

/// The project a design derives from, as OKH v1 `derivative-of` names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DerivativeOf {
    /// Its title (for a remix within communs, the source's name and
    /// `design1…@event1…`).
    pub title: Option<String>,
    /// Its web presence.
    pub web: Option<String>,
    /// Its manifest.
    pub manifest: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct OkhV1Out {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keywords: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    image: Vec<String>,
    license: okh::LicenseParts,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licensor: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    documentation_home: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive_download: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    documentation_language: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bom: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    making_instructions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    operating_instructions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    derivative_of: Option<DerivativeOut>,
}

#[derive(Debug, serde::Serialize)]
struct DerivativeOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<String>,
}

/// Writes `m` as an OKH v1 `okh.yml` that reads back as the same manifest
/// for every field OKH v1 has (spec/manifest.md, "Writing OKH files").
/// `derivative_of` names the source of a remix; without it, the
/// manifest's own `fork-of` is written as `derivative-of.web`.
pub(super) fn write(m: &Manifest, derivative_of: Option<&DerivativeOf>) -> String {
    let derivative_of = match derivative_of {
        Some(d) => Some(DerivativeOut {
            title: d.title.clone(),
            web: d.web.clone().or_else(|| m.fork_of.clone()),
            manifest: d.manifest.clone(),
        }),
        None => m.fork_of.clone().map(|web| DerivativeOut { title: None, web: Some(web), manifest: None }),
    };
    let doc = OkhV1Out {
        title: m.name.clone(),
        version: m.version.clone(),
        description: m.function.clone(),
        keywords: m.keywords.clone(),
        image: m.images.clone(),
        license: okh::LicenseParts {
            hardware: m.license.hardware.clone(),
            documentation: m.license.documentation.clone(),
            software: m.license.software.clone(),
        },
        licensor: m.licensors.clone(),
        documentation_home: m.repo.clone(),
        archive_download: m.release.clone(),
        documentation_language: m.documentation_languages.clone(),
        bom: m.bom.clone(),
        making_instructions: m.manufacturing_instructions.clone(),
        operating_instructions: m.user_manual.clone(),
        derivative_of,
    };
    // Strings, lists of strings and maps of them: always expressible.
    let body = serde_norway::to_string(&doc).expect("a manifest is always expressible in YAML");
    format!("# Open Know-How Manifest 1.0, written by communs.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::DerivativeOf;
    use crate::Manifest;

    /// The example designs' manifests, and one with every field OKH v1 has.
    fn manifests() -> Vec<Manifest> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/designs");
        let mut all: Vec<Manifest> = std::fs::read_dir(root)
            .expect("examples/designs")
            .map(|entry| {
                let path = entry.expect("an entry").path().join("okh.toml");
                let text = std::fs::read_to_string(&path).expect("okh.toml");
                Manifest::from_okh_toml(&text).expect("an example reads")
            })
            .collect();
        let mut full = Manifest::minimal("Bike trailer", crate::manifest::License::all("CERN-OHL-S-2.0"));
        full.license.software = Some("GPL-3.0-or-later".to_owned());
        full.version = Some("2.1".to_owned());
        full.function = Some("Carries 40 kg behind a bicycle.\n\nFolds flat.".to_owned());
        full.keywords = vec!["bicycle".to_owned(), "cargo".to_owned()];
        full.images = vec!["images/trailer.jpg".to_owned(), "https://example.org/side.jpg".to_owned()];
        full.licensors = vec!["Ada <ada@example.org>".to_owned()];
        full.repo = Some("https://example.org/trailer".to_owned());
        full.release = Some("https://example.org/trailer-2.1.zip".to_owned());
        full.documentation_languages = vec!["en".to_owned(), "fr-CA".to_owned()];
        full.bom = vec!["bom.csv".to_owned()];
        full.manufacturing_instructions = vec!["docs/build.md".to_owned()];
        full.user_manual = vec!["docs/use.md".to_owned()];
        full.fork_of = Some("https://example.org/older-trailer".to_owned());
        full.check().expect("a valid manifest");
        all.push(full);
        all
    }

    /// What OKH v1 cannot say: no readme list, readiness levels, parts or
    /// organizations of their own.
    fn expressible_in_v1(m: &Manifest) -> Manifest {
        let mut m = m.clone();
        m.readme.clear();
        m.technology_readiness_level = None;
        m.documentation_readiness_level = None;
        m.parts.clear();
        m.organizations.clear();
        m
    }

    #[test]
    fn okh_yml_reads_back_as_the_manifest_where_okh_v1_can_say_it() {
        for m in manifests() {
            let text = m.to_okh_v1_yaml(None);
            let back = Manifest::from_okh_v1_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, expressible_in_v1(&m), "{text}");
        }
    }

    #[test]
    fn okh_toml_reads_back_as_the_manifest() {
        for m in manifests() {
            let text = m.to_okh_toml();
            assert_eq!(Manifest::from_okh_toml(&text).expect("reads back"), m, "{text}");
        }
    }

    #[test]
    fn a_remix_names_its_source_as_derivative_of() {
        let m = Manifest::minimal("Remixed shield", crate::manifest::License::all("CC-BY-SA-4.0"));
        let source =
            DerivativeOf { title: Some("Face shield (design1abc@event1def)".to_owned()), ..Default::default() };
        let text = m.to_okh_v1_yaml(Some(&source));
        assert!(text.contains("derivative-of:\n  title: Face shield (design1abc@event1def)\n"), "{text}");
        // A title alone is no URL: the manifest read back has no fork-of.
        assert_eq!(Manifest::from_okh_v1_yaml(&text).expect("reads back"), m);
    }
}
