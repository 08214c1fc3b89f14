//! Every rule a manifest keeps, whichever way it came in.
//!
//! Text is shown to people on other machines, so every text is bounded,
//! non-empty, free of surrounding whitespace (which would give one value
//! two spellings) and of control characters (which can rewrite a terminal
//! line or hide text); only `function` may span lines. File references
//! must be http(s) URLs or paths that are safe in a checkout. Rules run in
//! field order, so the first error reported is deterministic.

use std::collections::HashSet;

use super::{License, Manifest, ManifestError, Part};
use crate::cbor::DecodeError;
use crate::license::check_expression;
use crate::limits::{
    MAX_DIMENSION_UM, MAX_FUNCTION_BYTES, MAX_KEYWORD_BYTES, MAX_KEYWORDS, MAX_LANGUAGE_TAG_BYTES, MAX_LICENSE_BYTES,
    MAX_MANIFEST_BYTES, MAX_MANIFEST_LINE_BYTES, MAX_MANIFEST_LIST_ITEMS, MAX_MASS_MG, MAX_NAME_BYTES, MAX_PARTS,
    MAX_URL_BYTES,
};
use crate::path::ValidatedPath;

type Rule = Result<(), ManifestError>;

pub(super) fn check(m: &Manifest) -> Rule {
    const LIST: usize = MAX_MANIFEST_LIST_ITEMS;
    line(&m.name, "manifest.name", MAX_NAME_BYTES)?;
    optional(&m.version, |v| line(v, "manifest.version", MAX_MANIFEST_LINE_BYTES))?;
    optional(&m.function, |f| text(f, "manifest.function", MAX_FUNCTION_BYTES, |c| matches!(c, '\n' | '\t')))?;
    license(&m.license)?;
    list(&m.licensors, "manifest.licensor", LIST, |s| line(s, "manifest.licensor", MAX_MANIFEST_LINE_BYTES))?;
    list(&m.organizations, "manifest.organization", LIST, |s| {
        line(s, "manifest.organization", MAX_MANIFEST_LINE_BYTES)
    })?;
    set(&m.keywords, "manifest.keywords", MAX_KEYWORDS, MAX_KEYWORD_BYTES)?;
    references(&m.images, "manifest.image")?;
    references(&m.readme, "manifest.readme")?;
    references(&m.bom, "manifest.bom")?;
    references(&m.manufacturing_instructions, "manifest.manufacturing-instructions")?;
    references(&m.user_manual, "manifest.user-manual")?;
    list(&m.documentation_languages, "manifest.documentation-language", LIST, language_tag)?;
    optional(&m.repo, |url| web_url(url, "manifest.repo"))?;
    optional(&m.release, |r| reference(r, "manifest.release"))?;
    parts(&m.parts)?;
    optional(&m.fork_of, |url| web_url(url, "manifest.fork-of"))?;
    // Last, and only once every field is bounded: the encoding is then cheap.
    let len = m.encode().len();
    if len > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge { len, max: MAX_MANIFEST_BYTES });
    }
    Ok(())
}

fn license(license: &License) -> Rule {
    if license.is_empty() {
        return Err(ManifestError::NoLicense);
    }
    let parts = [
        (&license.hardware, "manifest.license.hardware"),
        (&license.documentation, "manifest.license.documentation"),
        (&license.software, "manifest.license.software"),
    ];
    for (expression, field) in parts {
        optional(expression, |e| {
            bounded(e, field, MAX_LICENSE_BYTES)?;
            check_expression(e).map_err(|source| ManifestError::License { field, source })
        })?;
    }
    Ok(())
}

fn parts(parts: &[Part]) -> Rule {
    count(parts.len(), "manifest.part", MAX_PARTS)?;
    let mut names = HashSet::new();
    for part in parts {
        line(&part.name, "manifest.part.name", MAX_NAME_BYTES)?;
        if !names.insert(part.name.as_str()) {
            return Err(ManifestError::Duplicate { field: "manifest.part.name", item: part.name.clone() });
        }
        references(&part.images, "manifest.part.image")?;
        references(&part.source, "manifest.part.source")?;
        references(&part.export, "manifest.part.export")?;
        references(&part.auxiliary, "manifest.part.auxiliary")?;
        if part.source.is_empty() && part.export.is_empty() {
            return Err(ManifestError::PartWithoutFiles { part: part.name.clone() });
        }
        set(&part.tsdc, "manifest.part.tsdc", MAX_MANIFEST_LIST_ITEMS, MAX_MANIFEST_LINE_BYTES)?;
        optional(&part.material, |m| line(m, "manifest.part.material", MAX_MANIFEST_LINE_BYTES))?;
        at_most(part.mass_mg, "manifest.part.mass", MAX_MASS_MG)?;
        if let Some(d) = part.outer_dimensions {
            at_most(Some(d.width_um), "manifest.part.outer-dimensions.width", MAX_DIMENSION_UM)?;
            at_most(Some(d.depth_um), "manifest.part.outer-dimensions.depth", MAX_DIMENSION_UM)?;
            at_most(Some(d.height_um), "manifest.part.outer-dimensions.height", MAX_DIMENSION_UM)?;
        }
    }
    Ok(())
}

/// An ordered list: bounded, each item valid, no item twice.
fn list(items: &[String], field: &'static str, max: usize, item: impl Fn(&str) -> Rule) -> Rule {
    count(items.len(), field, max)?;
    let mut seen = HashSet::new();
    for s in items {
        item(s)?;
        if !seen.insert(s.as_str()) {
            return Err(ManifestError::Duplicate { field, item: s.clone() });
        }
    }
    Ok(())
}

/// A set of one-line texts: strictly increasing by bytes, so that a set
/// has one encoding.
fn set(items: &[String], field: &'static str, max_items: usize, max_bytes: usize) -> Rule {
    count(items.len(), field, max_items)?;
    items.iter().try_for_each(|s| line(s, field, max_bytes))?;
    if items.windows(2).any(|w| w[0] >= w[1]) {
        return Err(DecodeError::NotSortedUnique { field }.into());
    }
    Ok(())
}

fn references(items: &[String], field: &'static str) -> Rule {
    list(items, field, MAX_MANIFEST_LIST_ITEMS, |r| reference(r, field))
}

/// A file of the design (a path under `spec/paths.md`), or a web page.
fn reference(value: &str, field: &'static str) -> Rule {
    if is_web(value) {
        return web_url(value, field);
    }
    bounded(value, field, MAX_URL_BYTES)?;
    ValidatedPath::new(value).map(drop).map_err(|source| ManifestError::BadReference {
        field,
        value: value.to_owned(),
        source,
    })
}

pub(super) fn is_web(value: &str) -> bool {
    value.starts_with("https://") || value.starts_with("http://")
}

/// An absolute http(s) URL with a host and no whitespace. Deliberately not
/// a full RFC 3986 parser: the URL is displayed and followed by a browser,
/// never fetched by the node.
pub(crate) fn web_url(value: &str, field: &'static str) -> Rule {
    bounded(value, field, MAX_URL_BYTES)?;
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let has_host = rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !has_host || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ManifestError::BadUrl { field, value: value.to_owned() });
    }
    Ok(())
}

/// A well-formed BCP 47 tag, checked by its shape only (subtags of 1 to 8
/// ASCII letters or digits, the first all letters): which languages exist
/// is for the displaying side to know.
fn language_tag(tag: &str) -> Rule {
    bounded(tag, "manifest.documentation-language", MAX_LANGUAGE_TAG_BYTES)?;
    let subtag = |s: &str, letters_only: bool| {
        (1..=8).contains(&s.len())
            && s.bytes().all(|b| if letters_only { b.is_ascii_alphabetic() } else { b.is_ascii_alphanumeric() })
    };
    let mut subtags = tag.split('-');
    let first = subtags.next().is_some_and(|s| subtag(s, true));
    if !first || !subtags.all(|s| subtag(s, false)) {
        return Err(ManifestError::BadLanguageTag { value: tag.to_owned() });
    }
    Ok(())
}

/// One-line text.
fn line(s: &str, field: &'static str, max: usize) -> Rule {
    text(s, field, max, |_| false)
}

/// Bounded, non-empty text without surrounding whitespace, whose only
/// control characters are those `allowed`.
fn text(s: &str, field: &'static str, max: usize, allowed: impl Fn(char) -> bool) -> Rule {
    bounded(s, field, max)?;
    if s.is_empty() {
        return Err(DecodeError::Empty { field }.into());
    }
    if let Some(c) = s.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(ManifestError::ControlCharacter { field, code: c.into() });
    }
    if s.trim() != s {
        return Err(ManifestError::SurroundingWhitespace { field });
    }
    Ok(())
}

fn bounded(s: &str, field: &'static str, max: usize) -> Rule {
    if s.len() > max {
        return Err(DecodeError::TooLong { field, len: s.len(), max }.into());
    }
    Ok(())
}

fn count(len: usize, field: &'static str, max: usize) -> Rule {
    if len > max {
        return Err(DecodeError::TooMany { field, count: len, max }.into());
    }
    Ok(())
}

fn at_most(value: Option<u64>, field: &'static str, max: u64) -> Rule {
    match value {
        Some(value) if value > max => {
            Err(ManifestError::OutOfRange { field, value: value.to_string(), max: max.to_string() })
        }
        _ => Ok(()),
    }
}

fn optional(value: &Option<String>, rule: impl FnOnce(&str) -> Rule) -> Rule {
    value.as_deref().map_or(Ok(()), rule)
}
