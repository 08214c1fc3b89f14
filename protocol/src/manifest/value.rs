//! The CBOR form of a manifest: maps keyed by OKH-LOSH field names.
//!
//! An empty field is left out rather than written as `null`, `""` or `[]`:
//! a value has one encoding, so the decoder refuses the other spellings.
//! Decoding only checks shapes and sizes; the rules on the decoded values
//! live in `rules`, shared with manifests built in memory.

use super::{Dimensions, DocumentationReadiness, License, Manifest, ManifestError, Part, TechnologyReadiness};
use crate::cbor::{self, DecodeError, Value, canonical_map, text, text_value, uint, uint_value};
use crate::limits::{
    MAX_FUNCTION_BYTES, MAX_KEYWORD_BYTES, MAX_KEYWORDS, MAX_LANGUAGE_TAG_BYTES, MAX_LICENSE_BYTES,
    MAX_MANIFEST_LINE_BYTES, MAX_MANIFEST_LIST_ITEMS, MAX_NAME_BYTES, MAX_PARTS, MAX_URL_BYTES,
};

pub(super) fn to_value(m: &Manifest) -> Value {
    let mut map = Entries::default();
    map.text("name", Some(&m.name));
    map.text("version", m.version.as_deref());
    map.text("function", m.function.as_deref());
    map.put("license", license_value(&m.license));
    map.texts("licensor", &m.licensors);
    map.texts("organization", &m.organizations);
    map.texts("keywords", &m.keywords);
    map.texts("image", &m.images);
    map.texts("readme", &m.readme);
    map.texts("bom", &m.bom);
    map.texts("manufacturing-instructions", &m.manufacturing_instructions);
    map.texts("user-manual", &m.user_manual);
    map.texts("documentation-language", &m.documentation_languages);
    map.text("technology-readiness-level", m.technology_readiness_level.map(TechnologyReadiness::id));
    map.text("documentation-readiness-level", m.documentation_readiness_level.map(DocumentationReadiness::id));
    map.text("repo", m.repo.as_deref());
    map.text("release", m.release.as_deref());
    if !m.parts.is_empty() {
        map.put("part", Value::Array(m.parts.iter().map(part_value).collect()));
    }
    map.text("fork-of", m.fork_of.as_deref());
    map.into_map()
}

fn license_value(license: &License) -> Value {
    let mut map = Entries::default();
    map.text("hardware", license.hardware.as_deref());
    map.text("documentation", license.documentation.as_deref());
    map.text("software", license.software.as_deref());
    map.into_map()
}

fn part_value(part: &Part) -> Value {
    let mut map = Entries::default();
    map.text("name", Some(&part.name));
    map.texts("image", &part.images);
    map.texts("source", &part.source);
    map.texts("export", &part.export);
    map.texts("auxiliary", &part.auxiliary);
    map.texts("tsdc", &part.tsdc);
    map.text("material", part.material.as_deref());
    if let Some(mass) = part.mass_mg {
        map.put("mass", uint_value(mass));
    }
    if let Some(d) = part.outer_dimensions {
        let mut dimensions = Entries::default();
        dimensions.put("width", uint_value(d.width_um));
        dimensions.put("depth", uint_value(d.depth_um));
        dimensions.put("height", uint_value(d.height_um));
        map.put("outer-dimensions", dimensions.into_map());
    }
    map.into_map()
}

/// The entries of a map under construction; empty fields are never added.
#[derive(Default)]
struct Entries(Vec<(Value, Value)>);

impl Entries {
    fn put(&mut self, key: &str, value: Value) {
        self.0.push((text_value(key), value));
    }

    fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.put(key, text_value(value));
        }
    }

    fn texts(&mut self, key: &str, items: &[String]) {
        if !items.is_empty() {
            self.put(key, Value::Array(items.iter().map(|s| text_value(s)).collect()));
        }
    }

    fn into_map(self) -> Value {
        canonical_map(self.0)
    }
}

pub(super) fn from_value(value: &Value) -> Result<Manifest, ManifestError> {
    const LIST: usize = MAX_MANIFEST_LIST_ITEMS;
    let mut m = Manifest::default();
    let mut has_name = false;
    for (key, v) in fields(value, "manifest")? {
        match key {
            "name" => {
                m.name = owned(v, "manifest.name", MAX_NAME_BYTES)?;
                has_name = true;
            }
            "version" => m.version = Some(owned(v, "manifest.version", MAX_MANIFEST_LINE_BYTES)?),
            "function" => m.function = Some(owned(v, "manifest.function", MAX_FUNCTION_BYTES)?),
            "license" => m.license = license(v)?,
            "licensor" => m.licensors = texts(v, "manifest.licensor", LIST, MAX_MANIFEST_LINE_BYTES)?,
            "organization" => m.organizations = texts(v, "manifest.organization", LIST, MAX_MANIFEST_LINE_BYTES)?,
            "keywords" => m.keywords = texts(v, "manifest.keywords", MAX_KEYWORDS, MAX_KEYWORD_BYTES)?,
            "image" => m.images = texts(v, "manifest.image", LIST, MAX_URL_BYTES)?,
            "readme" => m.readme = texts(v, "manifest.readme", LIST, MAX_URL_BYTES)?,
            "bom" => m.bom = texts(v, "manifest.bom", LIST, MAX_URL_BYTES)?,
            "manufacturing-instructions" => {
                m.manufacturing_instructions = texts(v, "manifest.manufacturing-instructions", LIST, MAX_URL_BYTES)?;
            }
            "user-manual" => m.user_manual = texts(v, "manifest.user-manual", LIST, MAX_URL_BYTES)?,
            "documentation-language" => {
                m.documentation_languages = texts(v, "manifest.documentation-language", LIST, MAX_LANGUAGE_TAG_BYTES)?;
            }
            "technology-readiness-level" => {
                let id = text(v, "manifest.technology-readiness-level", MAX_MANIFEST_LINE_BYTES)?;
                m.technology_readiness_level = Some(TechnologyReadiness::parse(id)?);
            }
            "documentation-readiness-level" => {
                let id = text(v, "manifest.documentation-readiness-level", MAX_MANIFEST_LINE_BYTES)?;
                m.documentation_readiness_level = Some(DocumentationReadiness::parse(id)?);
            }
            "repo" => m.repo = Some(owned(v, "manifest.repo", MAX_URL_BYTES)?),
            "release" => m.release = Some(owned(v, "manifest.release", MAX_URL_BYTES)?),
            "part" => m.parts = array(v, "manifest.part", MAX_PARTS)?.iter().map(part).collect::<Result<_, _>>()?,
            "fork-of" => m.fork_of = Some(owned(v, "manifest.fork-of", MAX_URL_BYTES)?),
            other => return Err(unknown_key("manifest", other)),
        }
    }
    if !has_name {
        return Err(ManifestError::Missing { field: "manifest.name" });
    }
    Ok(m)
}

fn license(value: &Value) -> Result<License, ManifestError> {
    let mut license = License::default();
    for (key, v) in fields(value, "manifest.license")? {
        let (slot, field) = match key {
            "hardware" => (&mut license.hardware, "manifest.license.hardware"),
            "documentation" => (&mut license.documentation, "manifest.license.documentation"),
            "software" => (&mut license.software, "manifest.license.software"),
            other => return Err(unknown_key("manifest.license", other)),
        };
        *slot = Some(owned(v, field, MAX_LICENSE_BYTES)?);
    }
    Ok(license)
}

fn part(value: &Value) -> Result<Part, ManifestError> {
    const LIST: usize = MAX_MANIFEST_LIST_ITEMS;
    let mut part = Part::default();
    let mut has_name = false;
    for (key, v) in fields(value, "manifest.part")? {
        match key {
            "name" => {
                part.name = owned(v, "manifest.part.name", MAX_NAME_BYTES)?;
                has_name = true;
            }
            "image" => part.images = texts(v, "manifest.part.image", LIST, MAX_URL_BYTES)?,
            "source" => part.source = texts(v, "manifest.part.source", LIST, MAX_URL_BYTES)?,
            "export" => part.export = texts(v, "manifest.part.export", LIST, MAX_URL_BYTES)?,
            "auxiliary" => part.auxiliary = texts(v, "manifest.part.auxiliary", LIST, MAX_URL_BYTES)?,
            "tsdc" => part.tsdc = texts(v, "manifest.part.tsdc", LIST, MAX_MANIFEST_LINE_BYTES)?,
            "material" => part.material = Some(owned(v, "manifest.part.material", MAX_MANIFEST_LINE_BYTES)?),
            "mass" => part.mass_mg = Some(uint(v, "manifest.part.mass")?),
            "outer-dimensions" => part.outer_dimensions = Some(dimensions(v)?),
            other => return Err(unknown_key("manifest.part", other)),
        }
    }
    if !has_name {
        return Err(ManifestError::Missing { field: "manifest.part.name" });
    }
    Ok(part)
}

fn dimensions(value: &Value) -> Result<Dimensions, ManifestError> {
    let (mut width, mut depth, mut height) = (None, None, None);
    for (key, v) in fields(value, "manifest.part.outer-dimensions")? {
        let (slot, field) = match key {
            "width" => (&mut width, "manifest.part.outer-dimensions.width"),
            "depth" => (&mut depth, "manifest.part.outer-dimensions.depth"),
            "height" => (&mut height, "manifest.part.outer-dimensions.height"),
            other => return Err(unknown_key("manifest.part.outer-dimensions", other)),
        };
        *slot = Some(uint(v, field)?);
    }
    let required = |slot: Option<u64>, field| slot.ok_or(ManifestError::Missing { field });
    Ok(Dimensions {
        width_um: required(width, "manifest.part.outer-dimensions.width")?,
        depth_um: required(depth, "manifest.part.outer-dimensions.depth")?,
        height_um: required(height, "manifest.part.outer-dimensions.height")?,
    })
}

/// The entries of a map with text keys in canonical order. Bytes from the
/// wire were already held to that by the strict decoder; this also holds a
/// `Value` built in memory to it, so that a repeated key cannot silently
/// override another.
fn fields<'a>(value: &'a Value, field: &'static str) -> Result<Vec<(&'a str, &'a Value)>, ManifestError> {
    let Value::Map(entries) = value else {
        return Err(DecodeError::Shape { field, expected: "a map" }.into());
    };
    let mut previous: Option<Vec<u8>> = None;
    let mut fields = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Value::Text(name) = key else {
            return Err(DecodeError::Shape { field, expected: "a map with text keys" }.into());
        };
        let encoded = cbor::encode(key);
        if previous.as_ref().is_some_and(|previous| *previous >= encoded) {
            return Err(ManifestError::UnsortedKeys { field });
        }
        previous = Some(encoded);
        fields.push((name.as_str(), value));
    }
    Ok(fields)
}

/// A non-empty array of at most `max` items: an empty list is written by
/// leaving the field out.
fn array<'a>(value: &'a Value, field: &'static str, max: usize) -> Result<&'a [Value], DecodeError> {
    match value {
        Value::Array(items) if items.is_empty() => Err(DecodeError::Empty { field }),
        Value::Array(items) if items.len() > max => Err(DecodeError::TooMany { field, count: items.len(), max }),
        Value::Array(items) => Ok(items),
        _ => Err(DecodeError::Shape { field, expected: "an array" }),
    }
}

fn texts(value: &Value, field: &'static str, max_items: usize, max_bytes: usize) -> Result<Vec<String>, DecodeError> {
    array(value, field, max_items)?.iter().map(|item| owned(item, field, max_bytes)).collect()
}

fn owned(value: &Value, field: &'static str, max: usize) -> Result<String, DecodeError> {
    text(value, field, max).map(str::to_owned)
}

fn unknown_key(field: &'static str, key: &str) -> ManifestError {
    DecodeError::UnknownKey { field, key: key.to_owned() }.into()
}
