//! Thumbnails of 3D parts, rendered on the CPU: the picture a design card
//! shows when its design has no photo.
//!
//! Sans-IO: bytes of an STL, 3MF or OBJ file in, PNG bytes out. No files, no
//! threads, no clock, no GPU or display, so the node can call it on any
//! server and cache the answer by the blob's hash. The same input gives the
//! same bytes.
//!
//! The files come from anyone who publishes a design, so every parser is
//! written for hostile input: it never panics, checks every count against
//! the bytes that back it before allocating, and stops at the limits below
//! (each a `pub const`, so callers and tests can see them).
//!
//! ```
//! use communs_preview::{Format, Size, render_png};
//!
//! let stl = "solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n";
//! let png = render_png(Format::Stl, stl.as_bytes(), Size::CARD)?;
//! assert!(png.starts_with(b"\x89PNG"));
//! # Ok::<(), communs_preview::PreviewError>(())
//! ```
#![forbid(unsafe_code)]

mod obj;
mod render;
mod stl;
mod threemf;

pub use render::{BACKGROUND, Image, PART_COLOUR};

/// The largest input accepted, in bytes. A 5,000,000-triangle binary STL
/// is 250 MB; anything bigger is not a part we can draw in our time budget,
/// and refusing it before reading keeps one upload from holding the server.
pub const MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;

/// The most triangles a mesh may have, over all its objects and instances.
/// Bounds the mesh's memory (36 bytes a triangle, so 180 MB) and the render
/// time (about a second); real printable parts are far below it.
pub const MAX_TRIANGLES: usize = 5_000_000;

/// The most vertices an OBJ or 3MF vertex list may have. Those formats list
/// vertices apart from triangles, so a file of only vertices would
/// otherwise grow without a triangle to count; twice [`MAX_TRIANGLES`]
/// covers any real mesh (a closed mesh has about half as many vertices as
/// triangles).
pub const MAX_VERTICES: usize = 2 * MAX_TRIANGLES;

/// The most bytes the model part of a 3MF may inflate to. A zip of a few
/// kilobytes can inflate to gigabytes (a zip bomb); we stream the XML and
/// stop here. 512 MiB holds the XML of a mesh at [`MAX_TRIANGLES`].
pub const MAX_3MF_MODEL_BYTES: u64 = 512 * 1024 * 1024;

/// The most bytes the 3MF relationships part (`_rels/.rels`) may inflate
/// to: it only names the model part, a few hundred bytes in practice.
pub const MAX_3MF_RELS_BYTES: u64 = 1024 * 1024;

/// How deep 3MF components may nest (an object made of objects made of
/// objects...). Real files use one or two levels; the limit stops a cycle
/// or a deep chain from recursing without end.
pub const MAX_3MF_DEPTH: usize = 16;

/// The widest and tallest image we render, in pixels. Thumbnails are a few
/// hundred pixels; the limit keeps a request from asking for gigabytes of
/// frame buffer.
pub const MAX_SIDE: u32 = 2048;

/// The file formats we draw, in the order a card looks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// STL, binary or ASCII: a list of triangles, the most common format
    /// for printable parts.
    Stl,
    /// 3MF: a zip holding an XML model, what current slicers save.
    ThreeMf,
    /// Wavefront OBJ: text with vertices and polygon faces.
    Obj,
}

impl Format {
    /// The format a file's name says, by its extension (`.stl`, `.3mf`,
    /// `.obj`, in any case), or `None` for a file we do not draw. A design's
    /// files are named by their authors, so the extension is all we have
    /// before parsing.
    pub fn of_path(path: &str) -> Option<Format> {
        let (_, extension) = path.rsplit_once('.')?;
        if extension.eq_ignore_ascii_case("stl") {
            Some(Format::Stl)
        } else if extension.eq_ignore_ascii_case("3mf") {
            Some(Format::ThreeMf)
        } else if extension.eq_ignore_ascii_case("obj") {
            Some(Format::Obj)
        } else {
            None
        }
    }
}

/// The size of a rendered image, in pixels; each side from 1 to
/// [`MAX_SIDE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

impl Size {
    /// A design card's thumbnail: 4:3, sharp on a high-density screen at
    /// 240x180 CSS pixels.
    pub const CARD: Size = Size { width: 480, height: 360 };
}

impl Default for Size {
    fn default() -> Size {
        Size::CARD
    }
}

/// A triangle mesh, as a list of triangles of three corners each (x, y, z;
/// any unit, Z up as in 3D printing). Every coordinate is finite and there
/// is at least one triangle.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    triangles: Vec<[[f32; 3]; 3]>,
}

impl Mesh {
    /// A mesh of these triangles; refuses an empty list, too many triangles
    /// or a coordinate that is not a finite number.
    pub fn new(triangles: Vec<[[f32; 3]; 3]>) -> Result<Mesh, PreviewError> {
        if triangles.len() > MAX_TRIANGLES {
            return Err(PreviewError::TooManyTriangles { max: MAX_TRIANGLES });
        }
        if let Some(index) = triangles.iter().position(|t| t.iter().flatten().any(|c| !c.is_finite())) {
            return Err(PreviewError::NonFinite { triangle: index });
        }
        if triangles.is_empty() {
            return Err(PreviewError::EmptyMesh);
        }
        Ok(Mesh { triangles })
    }

    /// The triangles, in file order.
    pub fn triangles(&self) -> &[[[f32; 3]; 3]] {
        &self.triangles
    }
}

/// Why a file cannot be drawn. Each has a stable [`reason`](Self::reason)
/// for logs and the API; the message is for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreviewError {
    #[error("the file is {len} bytes; previews are made of files up to {max} bytes")]
    InputTooLarge { len: usize, max: usize },
    #[error("an image of {width}x{height} pixels was asked for; each side must be from 1 to {max}")]
    BadSize { width: u32, height: u32, max: u32 },
    #[error("a binary STL has at least 84 bytes (header and triangle count); this file has {len}")]
    StlTruncated { len: usize },
    #[error("binary STL says {claimed} triangles but has bytes for {fits}")]
    StlCountMismatch { claimed: u64, fits: u64 },
    #[error("ASCII STL, line {line}: {what}")]
    StlSyntax { line: usize, what: String },
    #[error("OBJ, line {line}: {what}")]
    ObjSyntax { line: usize, what: String },
    #[error("OBJ, line {line}: face refers to vertex {index}, but the file has {vertices} vertices")]
    ObjBadIndex { line: usize, index: i64, vertices: usize },
    #[error("the 3MF file is not a readable zip archive: {what}")]
    BadZip { what: String },
    #[error("the 3MF archive has no 3D model part (neither named by _rels/.rels nor at 3D/3dmodel.model)")]
    NoModel,
    #[error("the 3MF model inflates to more than {max} bytes (reading part {part})")]
    PartTooLarge { part: String, max: u64 },
    #[error("the 3MF model is not valid: {what}")]
    ThreeMfSyntax { what: String },
    #[error("3MF object {object}: triangle refers to vertex {index}, but the object has {vertices} vertices")]
    ThreeMfBadIndex { object: String, index: u64, vertices: usize },
    #[error("the mesh has more than {max} triangles")]
    TooManyTriangles { max: usize },
    #[error("the mesh has more than {max} vertices")]
    TooManyVertices { max: usize },
    #[error("triangle {triangle} has a coordinate that is not a finite number")]
    NonFinite { triangle: usize },
    #[error("the mesh has no triangle with an area to draw")]
    EmptyMesh,
    #[error("the PNG encoder failed: {what}")]
    Encode { what: String },
}

impl PreviewError {
    /// A short kebab-case name of the error, stable across versions: for
    /// logs, metrics and the API, where the message may change.
    pub fn reason(&self) -> &'static str {
        match self {
            PreviewError::InputTooLarge { .. } => "input-too-large",
            PreviewError::BadSize { .. } => "bad-size",
            PreviewError::StlTruncated { .. } => "stl-truncated",
            PreviewError::StlCountMismatch { .. } => "stl-count-mismatch",
            PreviewError::StlSyntax { .. } => "stl-syntax",
            PreviewError::ObjSyntax { .. } => "obj-syntax",
            PreviewError::ObjBadIndex { .. } => "obj-bad-index",
            PreviewError::BadZip { .. } => "bad-zip",
            PreviewError::NoModel => "3mf-no-model",
            PreviewError::PartTooLarge { .. } => "3mf-too-large",
            PreviewError::ThreeMfSyntax { .. } => "3mf-syntax",
            PreviewError::ThreeMfBadIndex { .. } => "3mf-bad-index",
            PreviewError::TooManyTriangles { .. } => "too-many-triangles",
            PreviewError::TooManyVertices { .. } => "too-many-vertices",
            PreviewError::NonFinite { .. } => "non-finite-coordinate",
            PreviewError::EmptyMesh => "empty-mesh",
            PreviewError::Encode { .. } => "png-encode",
        }
    }
}

/// Reads a mesh from a file's bytes. Refuses input over
/// [`MAX_INPUT_BYTES`] before looking at it.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Mesh, PreviewError> {
    parse_with(format, bytes, &Limits::DEFAULT)
}

/// Draws a mesh: the part seen from the front right, above (Z up), fitted
/// into the image with a margin, flat-shaded in one colour on a light
/// background.
pub fn render(mesh: &Mesh, size: Size) -> Result<Image, PreviewError> {
    check_size(size)?;
    render::render(mesh, size)
}

/// Reads a file and draws it as a PNG: [`parse`], then [`render`], then
/// [`Image::to_png`].
pub fn render_png(format: Format, bytes: &[u8], size: Size) -> Result<Vec<u8>, PreviewError> {
    check_size(size)?;
    let mesh = parse(format, bytes)?;
    render(&mesh, size)?.to_png()
}

fn check_size(size: Size) -> Result<(), PreviewError> {
    if (1..=MAX_SIDE).contains(&size.width) && (1..=MAX_SIDE).contains(&size.height) {
        Ok(())
    } else {
        Err(PreviewError::BadSize { width: size.width, height: size.height, max: MAX_SIDE })
    }
}

/// The limits the parsers apply: the public constants, or smaller ones in
/// this crate's tests (a zip bomb past 512 MiB is slow to build).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) input_bytes: usize,
    pub(crate) triangles: usize,
    pub(crate) vertices: usize,
    pub(crate) model_bytes: u64,
    pub(crate) rels_bytes: u64,
    pub(crate) depth: usize,
}

impl Limits {
    pub(crate) const DEFAULT: Limits = Limits {
        input_bytes: MAX_INPUT_BYTES,
        triangles: MAX_TRIANGLES,
        vertices: MAX_VERTICES,
        model_bytes: MAX_3MF_MODEL_BYTES,
        rels_bytes: MAX_3MF_RELS_BYTES,
        depth: MAX_3MF_DEPTH,
    };
}

pub(crate) fn parse_with(format: Format, bytes: &[u8], limits: &Limits) -> Result<Mesh, PreviewError> {
    if bytes.len() > limits.input_bytes {
        return Err(PreviewError::InputTooLarge { len: bytes.len(), max: limits.input_bytes });
    }
    let triangles = match format {
        Format::Stl => stl::parse(bytes, limits)?,
        Format::ThreeMf => threemf::parse(bytes, limits)?,
        Format::Obj => obj::parse(bytes, limits)?,
    };
    let mesh = Mesh::new(triangles)?;
    if !render::has_area(&mesh) {
        return Err(PreviewError::EmptyMesh);
    }
    Ok(mesh)
}
