//! 3MF: a zip whose model part (named by `_rels/.rels`, usually
//! `3D/3dmodel.model`) is XML listing objects, each a mesh (`<vertex x y
//! z>`, `<triangle v1 v2 v3>`) or made of other objects (`<component
//! objectid transform>`, possibly in another model part, as slicers of the
//! production extension write it), and a `<build>` of items placing
//! objects with a transform.
//!
//! Parts are inflated as a stream into the XML reader, never whole, and
//! all the parts read together stop at [`Limits::model_bytes`] however small
//! the zip was.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Cursor, Read};

use quick_xml::events::{BytesStart, Event};

use crate::{Limits, PreviewError};

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// An affine transform, as 3MF writes it: m00 m01 m02 m10 m11 m12 m20 m21
/// m22 m30 m31 m32, applied to a row vector (x y z 1).
type Transform = [f64; 12];

const IDENTITY: Transform = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];

/// An object's key: the part it is defined in, and its id there.
type Key = (String, String);

#[derive(Default)]
struct Object {
    vertices: Vec<[f32; 3]>,
    triangles: Vec<[u64; 3]>,
    components: Vec<(Key, Transform)>,
}

#[derive(Default)]
struct Model {
    objects: HashMap<Key, Object>,
    /// Build items of the root model part; other parts' builds are ignored.
    build: Vec<(Key, Transform)>,
    /// Counts over all parts, against the limits.
    vertices: usize,
    triangles: usize,
    /// Inflated bytes still allowed, over all parts.
    budget: u64,
}

pub(crate) fn parse(bytes: &[u8], limits: &Limits) -> Result<Vec<[[f32; 3]; 3]>, PreviewError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(bad_zip)?;
    let root = model_part(&mut archive, limits)?;
    let mut model = Model { budget: limits.model_bytes, ..Model::default() };
    let mut parsed = HashSet::new();
    let mut pending = vec![root.clone()];
    while let Some(part) = pending.pop() {
        if !parsed.insert(part.clone()) {
            continue;
        }
        let referenced = read_part(&mut archive, &part, part == root, &mut model, limits)?;
        pending.extend(referenced.into_iter().filter(|p| !parsed.contains(p)));
    }
    let mut items = std::mem::take(&mut model.build);
    if items.is_empty() {
        // No build: draw every object that is not a component of another.
        let used: HashSet<&Key> = model.objects.values().flat_map(|o| o.components.iter().map(|(k, _)| k)).collect();
        let mut keys: Vec<&Key> = model.objects.keys().filter(|k| !used.contains(k)).collect();
        keys.sort();
        items = keys.into_iter().map(|k| (k.clone(), IDENTITY)).collect();
    }
    let mut out = Vec::new();
    let mut visits = 0;
    for (key, transform) in &items {
        instantiate(&model.objects, key, transform, 0, &mut visits, &mut out, limits)?;
    }
    Ok(out)
}

fn bad_zip(error: zip::result::ZipError) -> PreviewError {
    PreviewError::BadZip { what: error.to_string() }
}

fn syntax(what: impl Into<String>) -> PreviewError {
    PreviewError::ThreeMfSyntax { what: what.into() }
}

/// The archive's name for a part, matched without regard to case (zip
/// tools disagree on it) and without the leading slash 3MF references have.
fn entry_name(archive: &Archive<'_>, reference: &str) -> Option<String> {
    let wanted = reference.trim_start_matches('/');
    archive
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.eq_ignore_ascii_case(wanted))
        .map(|name| name.into_owned())
}

/// The root model part: the target of the `3dmodel` relationship in
/// `_rels/.rels`, or `3D/3dmodel.model` where that says nothing.
fn model_part(archive: &mut Archive<'_>, limits: &Limits) -> Result<String, PreviewError> {
    if let Some(rels) = entry_name(archive, "_rels/.rels") {
        let file = archive.by_name(&rels).map_err(bad_zip)?;
        let mut reader = quick_xml::Reader::from_reader(BufReader::new(Limited::new(file, limits.rels_bytes)));
        let mut buf = Vec::new();
        let mut targets = Vec::new();
        loop {
            buf.clear();
            let event = reader.read_event_into(&mut buf);
            match event {
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                    let kind = attribute(&e, "Type")?;
                    let target = attribute(&e, "Target")?;
                    if let (Some(kind), Some(target)) = (kind, target)
                        && kind.ends_with("/3dmodel")
                        && targets.len() < 16
                    {
                        targets.push(target);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(error) => {
                    return Err(xml_error(error, "_rels/.rels", reader.get_ref().get_ref(), limits.rels_bytes));
                }
            }
        }
        drop(reader);
        if let Some(name) = targets.iter().find_map(|target| entry_name(archive, target)) {
            return Ok(name);
        }
    }
    entry_name(archive, "3D/3dmodel.model").ok_or(PreviewError::NoModel)
}

/// Reads one model part into `model`; returns the other parts its
/// components refer to.
fn read_part(
    archive: &mut Archive<'_>,
    part: &str,
    is_root: bool,
    model: &mut Model,
    limits: &Limits,
) -> Result<Vec<String>, PreviewError> {
    let Some(name) = entry_name(archive, part) else {
        return Err(syntax(format!("a component refers to part {part}, which the archive does not have")));
    };
    let file = archive.by_name(&name).map_err(bad_zip)?;
    let limited = Limited::new(file, model.budget);
    let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(64 * 1024, limited));
    let mut referenced = Vec::new();
    let mut current: Option<(String, Object)> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(error) => {
                let limited = reader.get_ref().get_ref();
                return Err(xml_error(error, &name, limited, limits.model_bytes));
            }
        };
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if e.local_name().as_ref() == "object"
                    && let Some((id, object)) = current.take()
                {
                    model.objects.insert((name.clone(), id), object);
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.local_name().as_ref() {
            "object" => {
                let id = attribute(&e, "id")?.ok_or_else(|| syntax("an object has no id"))?;
                if empty {
                    model.objects.insert((name.clone(), id), Object::default());
                } else {
                    current = Some((id, Object::default()));
                }
            }
            "vertex" => {
                let Some((_, object)) = &mut current else { continue };
                if model.vertices == limits.vertices {
                    return Err(PreviewError::TooManyVertices { max: limits.vertices });
                }
                model.vertices += 1;
                let mut position = [0.0f32; 3];
                for (c, key) in position.iter_mut().zip(["x", "y", "z"]) {
                    *c = number(&e, key)?.ok_or_else(|| syntax("a vertex lacks a coordinate"))?;
                }
                object.vertices.push(position);
            }
            "triangle" => {
                let Some((_, object)) = &mut current else { continue };
                if model.triangles == limits.triangles {
                    return Err(PreviewError::TooManyTriangles { max: limits.triangles });
                }
                model.triangles += 1;
                let mut corners = [0u64; 3];
                for (c, key) in corners.iter_mut().zip(["v1", "v2", "v3"]) {
                    *c = number(&e, key)?.ok_or_else(|| syntax("a triangle lacks a vertex index"))?;
                }
                object.triangles.push(corners);
            }
            "component" => {
                let Some((_, object)) = &mut current else { continue };
                let key = placed_object(&e, &name, &mut referenced)?;
                // Each component costs one visit when drawn; counting it
                // here too bounds the memory of component lists.
                if model.triangles == limits.triangles {
                    return Err(PreviewError::TooManyTriangles { max: limits.triangles });
                }
                model.triangles += 1;
                object.components.push((key, transform(&e)?));
            }
            "item" if is_root => {
                let key = placed_object(&e, &name, &mut referenced)?;
                if model.build.len() == limits.triangles {
                    return Err(PreviewError::TooManyTriangles { max: limits.triangles });
                }
                model.build.push((key, transform(&e)?));
            }
            _ => {}
        }
    }
    model.budget = reader.get_ref().get_ref().left;
    Ok(referenced)
}

/// The object an `<item>` or `<component>` places: its `objectid`, in the
/// part named by its `path` (production extension) or else this one.
fn placed_object(e: &BytesStart<'_>, part: &str, referenced: &mut Vec<String>) -> Result<Key, PreviewError> {
    let id = attribute(e, "objectid")?.ok_or_else(|| syntax("an item or component has no objectid"))?;
    let part = match attribute(e, "path")? {
        Some(path) => {
            let path = path.trim_start_matches('/').to_owned();
            if !referenced.contains(&path) {
                referenced.push(path.clone());
            }
            path
        }
        None => part.to_owned(),
    };
    Ok((part, id))
}

fn transform(e: &BytesStart<'_>) -> Result<Transform, PreviewError> {
    let Some(text) = attribute(e, "transform")? else { return Ok(IDENTITY) };
    let mut m = [0.0f64; 12];
    let mut words = text.split_ascii_whitespace();
    for value in &mut m {
        *value = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| syntax(format!("a transform is not 12 numbers: {text:.80}")))?;
    }
    if words.next().is_some() {
        return Err(syntax(format!("a transform is not 12 numbers: {text:.80}")));
    }
    Ok(m)
}

/// `first`, then `then`.
fn compose(first: &Transform, then: &Transform) -> Transform {
    let mut out = [0.0; 12];
    for row in 0..4 {
        for col in 0..3 {
            let mut sum: f64 = (0..3).map(|k| first[row * 3 + k] * then[k * 3 + col]).sum();
            if row == 3 {
                sum += then[9 + col];
            }
            out[row * 3 + col] = sum;
        }
    }
    out
}

fn apply(m: &Transform, [x, y, z]: [f32; 3]) -> [f32; 3] {
    let (x, y, z) = (f64::from(x), f64::from(y), f64::from(z));
    let c = |j: usize| (x * m[j] + y * m[3 + j] + z * m[6 + j] + m[9 + j]) as f32;
    [c(0), c(1), c(2)]
}

fn instantiate(
    objects: &HashMap<Key, Object>,
    key: &Key,
    placement: &Transform,
    depth: usize,
    visits: &mut usize,
    out: &mut Vec<[[f32; 3]; 3]>,
    limits: &Limits,
) -> Result<(), PreviewError> {
    if depth > limits.depth {
        return Err(syntax(format!("components nest deeper than {} levels", limits.depth)));
    }
    *visits += 1;
    if *visits > limits.triangles {
        return Err(PreviewError::TooManyTriangles { max: limits.triangles });
    }
    let Some(object) = objects.get(key) else {
        return Err(syntax(format!("object {} of part {} is placed but not defined", key.1, key.0)));
    };
    if out.len() + object.triangles.len() > limits.triangles {
        return Err(PreviewError::TooManyTriangles { max: limits.triangles });
    }
    out.reserve(object.triangles.len());
    for corners in &object.triangles {
        let mut triangle = [[0.0; 3]; 3];
        for (corner, &index) in triangle.iter_mut().zip(corners) {
            let position = usize::try_from(index).ok().and_then(|i| object.vertices.get(i)).ok_or_else(|| {
                PreviewError::ThreeMfBadIndex { object: key.1.clone(), index, vertices: object.vertices.len() }
            })?;
            *corner = apply(placement, *position);
        }
        out.push(triangle);
    }
    for (child, transform) in &object.components {
        instantiate(objects, child, &compose(transform, placement), depth + 1, visits, out, limits)?;
    }
    Ok(())
}

/// An attribute's value by local name, or `None` where absent.
fn attribute(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, PreviewError> {
    for attribute in e.attributes() {
        let attribute = attribute.map_err(|error| syntax(error.to_string()))?;
        if attribute.key.local_name().as_ref() == name {
            return Ok(Some(attribute.value.into_owned()));
        }
    }
    Ok(None)
}

fn number<T: std::str::FromStr>(e: &BytesStart<'_>, name: &str) -> Result<Option<T>, PreviewError> {
    let Some(text) = attribute(e, name)? else { return Ok(None) };
    match text.trim().parse() {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(syntax(format!("attribute {} is not a number: {text:.40}", name))),
    }
}

fn xml_error(error: quick_xml::Error, part: &str, limited: &Limited<impl Read>, max: u64) -> PreviewError {
    if limited.exceeded {
        PreviewError::PartTooLarge { part: part.to_owned(), max }
    } else {
        syntax(format!("{part}: {error}"))
    }
}

/// A reader that fails once more than `left` bytes come through, so an
/// inflating zip entry stops at the limit however far it would go.
struct Limited<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R> Limited<R> {
    fn new(inner: R, left: u64) -> Limited<R> {
        Limited { inner, left, exceeded: false }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the limit: the part is fine if it ends here.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.exceeded = true;
            return Err(io::Error::other("part inflates past the limit"));
        }
        let most = usize::try_from(self.left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..most])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{Format, parse_with};

    fn zip(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in parts {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    const MODEL: &str = r#"<model><resources><object id="1"><mesh><vertices>
<vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/>
</vertices><triangles><triangle v1="0" v2="1" v3="2"/></triangles></mesh></object></resources></model>"#;

    #[test]
    fn a_model_inflating_past_the_limit_is_refused() {
        let limits = Limits { model_bytes: 64 * 1024, ..Limits::DEFAULT };
        // A valid model padded with a comment of 1 MiB: a few kilobytes zipped.
        let padded = format!("{}<!--{}-->", MODEL, " ".repeat(1024 * 1024));
        let bomb = zip(&[("3D/3dmodel.model", padded.as_bytes())]);
        assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
        let error = parse_with(Format::ThreeMf, &bomb, &limits).unwrap_err();
        assert_eq!(error.reason(), "3mf-too-large", "{error}");
        // At the limit exactly, it is read.
        let exact = Limits { model_bytes: padded.len() as u64, ..Limits::DEFAULT };
        assert!(parse_with(Format::ThreeMf, &bomb, &exact).is_ok());
        // The relationships part has its own, smaller limit.
        let rels = format!("<Relationships>{}</Relationships>", " ".repeat(1024 * 1024));
        let bomb = zip(&[("_rels/.rels", rels.as_bytes()), ("3D/3dmodel.model", MODEL.as_bytes())]);
        let limits = Limits { rels_bytes: 1024, ..Limits::DEFAULT };
        assert_eq!(parse_with(Format::ThreeMf, &bomb, &limits).unwrap_err().reason(), "3mf-too-large");
    }

    #[test]
    fn counts_past_the_limits_are_refused() {
        let model = zip(&[("3D/3dmodel.model", MODEL.as_bytes())]);
        let limits = Limits { vertices: 2, ..Limits::DEFAULT };
        assert_eq!(parse_with(Format::ThreeMf, &model, &limits).unwrap_err().reason(), "too-many-vertices");
        let limits = Limits { triangles: 0, ..Limits::DEFAULT };
        assert_eq!(parse_with(Format::ThreeMf, &model, &limits).unwrap_err().reason(), "too-many-triangles");
        let stl = crate::stl::tests::binary(3);
        let limits = Limits { triangles: 2, ..Limits::DEFAULT };
        assert_eq!(parse_with(Format::Stl, &stl, &limits).unwrap_err().reason(), "too-many-triangles");
        let obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3 4 1\n";
        assert_eq!(parse_with(Format::Obj, obj, &limits).unwrap_err().reason(), "too-many-triangles");
        let limits = Limits { vertices: 3, ..Limits::DEFAULT };
        assert_eq!(parse_with(Format::Obj, obj, &limits).unwrap_err().reason(), "too-many-vertices");
    }
}
