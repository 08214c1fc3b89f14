//! OKH-LOSH `okh.toml` (spec v2.4 field names), read and written.
//!
//! One document type serves both directions, so the fields read are the
//! fields written. Fields communs does not model (`cpc-patent-class`,
//! `tsdc` of the module, `software`, `[rdf]`…) are ignored when reading:
//! real files carry many. Writing picks the shortest form OKH allows (one
//! value rather than a one-item list) and reads back as the same manifest.

use serde::{Deserialize, Serialize};

use super::okh::{self, Agent, LicenseField, OneOrMany, Version, all};
use super::{Dimensions, DocumentationReadiness, Manifest, ManifestError, Part, TechnologyReadiness};

/// The OKH-LOSH version whose field names these are.
const OKH_VERSION: &str = "2.4";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct OkhToml {
    okhv: Option<String>,
    name: Option<String>,
    version: Option<Version>,
    function: Option<String>,
    license: Option<LicenseField>,
    licensor: Option<OneOrMany<Agent>>,
    /// OKH-LOSH before v2 spelled it `organisation`.
    #[serde(alias = "organisation")]
    organization: Option<OneOrMany<Agent>>,
    /// Not an OKH-LOSH field (OKH v1 has it); OKH-LOSH readers ignore it.
    keywords: Option<OneOrMany<String>>,
    image: Option<OneOrMany<Image>>,
    readme: Option<OneOrMany<String>>,
    bom: Option<OneOrMany<String>>,
    manufacturing_instructions: Option<OneOrMany<String>>,
    user_manual: Option<OneOrMany<String>>,
    documentation_language: Option<OneOrMany<String>>,
    technology_readiness_level: Option<String>,
    documentation_readiness_level: Option<String>,
    repo: Option<String>,
    release: Option<String>,
    fork_of: Option<String>,
    part: Option<Vec<PartToml>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PartToml {
    name: Option<String>,
    image: Option<OneOrMany<Image>>,
    source: Option<OneOrMany<String>>,
    export: Option<OneOrMany<String>>,
    auxiliary: Option<OneOrMany<String>>,
    tsdc: Option<OneOrMany<String>>,
    material: Option<String>,
    /// Grams.
    mass: Option<f64>,
    outer_dimensions: Option<DimensionsToml>,
}

/// Millimetres.
#[derive(Debug, Serialize, Deserialize)]
struct DimensionsToml {
    width: f64,
    depth: f64,
    height: f64,
}

/// OKH-LOSH v2.4 describes images as `[[image]]` tables (`location`,
/// `depicts`, `slots`, `tags`); earlier versions as plain paths. communs
/// keeps the location.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged, expecting = "an image path or URL, or an [[image]] table with a `location`")]
enum Image {
    Location(String),
    Table { location: String },
}

impl Image {
    fn into_location(self) -> String {
        match self {
            Image::Location(location) | Image::Table { location } => location,
        }
    }
}

pub(super) fn read(text: &str) -> Result<Manifest, ManifestError> {
    let doc: OkhToml = toml::from_str(okh::prepare(text)?).map_err(|e| ManifestError::Toml(e.to_string()))?;
    let manifest = Manifest {
        name: okh::line(doc.name.ok_or(ManifestError::Missing { field: "manifest.name" })?),
        version: doc.version.map(Version::into_text),
        function: doc.function.map(okh::long_text),
        license: doc.license.map(LicenseField::into_license).unwrap_or_default(),
        licensors: okh::unique(all(doc.licensor).into_iter().map(Agent::into_text)),
        organizations: okh::unique(all(doc.organization).into_iter().map(Agent::into_text)),
        keywords: okh::set(all(doc.keywords).into_iter().map(okh::line)),
        images: okh::references(all(doc.image).into_iter().map(Image::into_location).collect()),
        readme: okh::references(all(doc.readme)),
        bom: okh::references(all(doc.bom)),
        manufacturing_instructions: okh::references(all(doc.manufacturing_instructions)),
        user_manual: okh::references(all(doc.user_manual)),
        documentation_languages: okh::unique(all(doc.documentation_language).into_iter().map(okh::language)),
        technology_readiness_level: doc
            .technology_readiness_level
            .map(|id| TechnologyReadiness::parse(id.trim()))
            .transpose()?,
        documentation_readiness_level: doc
            .documentation_readiness_level
            .map(|id| DocumentationReadiness::parse(id.trim()))
            .transpose()?,
        repo: doc.repo.map(okh::line),
        release: doc.release.map(okh::reference),
        parts: doc.part.unwrap_or_default().into_iter().map(read_part).collect::<Result<_, _>>()?,
        fork_of: doc.fork_of.map(okh::line),
    };
    manifest.check()?;
    Ok(manifest)
}

fn read_part(part: PartToml) -> Result<Part, ManifestError> {
    let dimension = |mm, field| okh::micrometres(mm, field);
    Ok(Part {
        name: okh::line(part.name.ok_or(ManifestError::Missing { field: "manifest.part.name" })?),
        images: okh::references(all(part.image).into_iter().map(Image::into_location).collect()),
        source: okh::references(all(part.source)),
        export: okh::references(all(part.export)),
        auxiliary: okh::references(all(part.auxiliary)),
        tsdc: okh::set(all(part.tsdc).into_iter().map(okh::line)),
        material: part.material.map(okh::line),
        mass_mg: part.mass.map(|grams| okh::milligrams(grams, "manifest.part.mass")).transpose()?,
        outer_dimensions: match part.outer_dimensions {
            Some(d) => Some(Dimensions {
                width_um: dimension(d.width, "manifest.part.outer-dimensions.width")?,
                depth_um: dimension(d.depth, "manifest.part.outer-dimensions.depth")?,
                height_um: dimension(d.height, "manifest.part.outer-dimensions.height")?,
            }),
            None => None,
        },
    })
}

pub(super) fn write(m: &Manifest) -> String {
    let strings = |items: &[String]| OneOrMany::from_vec(items.to_vec());
    let images = |items: &[String]| OneOrMany::from_vec(items.iter().cloned().map(Image::Location).collect());
    let agents = |items: &[String]| OneOrMany::from_vec(items.iter().cloned().map(Agent::Text).collect());
    let doc = OkhToml {
        okhv: Some(OKH_VERSION.to_owned()),
        name: Some(m.name.clone()),
        version: m.version.clone().map(Version::Text),
        function: m.function.clone(),
        license: LicenseField::from_license(&m.license),
        licensor: agents(&m.licensors),
        organization: agents(&m.organizations),
        keywords: strings(&m.keywords),
        image: images(&m.images),
        readme: strings(&m.readme),
        bom: strings(&m.bom),
        manufacturing_instructions: strings(&m.manufacturing_instructions),
        user_manual: strings(&m.user_manual),
        documentation_language: strings(&m.documentation_languages),
        technology_readiness_level: m.technology_readiness_level.map(|level| level.id().to_owned()),
        documentation_readiness_level: m.documentation_readiness_level.map(|level| level.id().to_owned()),
        repo: m.repo.clone(),
        release: m.release.clone(),
        fork_of: m.fork_of.clone(),
        part: (!m.parts.is_empty()).then(|| {
            m.parts
                .iter()
                .map(|p| PartToml {
                    name: Some(p.name.clone()),
                    image: images(&p.images),
                    source: strings(&p.source),
                    export: strings(&p.export),
                    auxiliary: strings(&p.auxiliary),
                    tsdc: strings(&p.tsdc),
                    material: p.material.clone(),
                    mass: p.mass_mg.map(okh::units),
                    outer_dimensions: p.outer_dimensions.map(|d| DimensionsToml {
                        width: okh::units(d.width_um),
                        depth: okh::units(d.depth_um),
                        height: okh::units(d.height_um),
                    }),
                })
                .collect()
        }),
    };
    // The document holds only strings, floats, and tables and arrays of
    // them, all of which TOML can express: an error here is a bug in this
    // module, not a property of the manifest.
    let body = toml::to_string(&doc).expect("a manifest is always expressible in TOML");
    format!("# Open Know-How manifest (OKH-LOSH {OKH_VERSION}), written by communs.\n{body}")
}
