//! The previewer as the node uses it: a cube in each format draws in the
//! middle with its faces shaded apart, the same bytes every time; every
//! malformed file is refused with its reason, never a panic.

use std::io::{Cursor, Write};

use communs_preview::{
    BACKGROUND, Format, Image, MAX_INPUT_BYTES, MAX_SIDE, Mesh, PreviewError, Size, parse, render, render_png,
};
use proptest::prelude::*;

type Triangle = [[f32; 3]; 3];

/// Corner `i` of a 10 mm cube: bit 0 is x, bit 1 y, bit 2 z.
fn corner(i: u8) -> [f32; 3] {
    [f32::from(i & 1) * 10.0, f32::from((i >> 1) & 1) * 10.0, f32::from((i >> 2) & 1) * 10.0]
}

/// The cube's faces as quads of corners, counter-clockwise from outside:
/// bottom, top, front (-y), back, left (-x), right.
const QUADS: [[u8; 4]; 6] = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]];

fn cube() -> Vec<Triangle> {
    QUADS
        .iter()
        .flat_map(|&[a, b, c, d]| [[corner(a), corner(b), corner(c)], [corner(a), corner(c), corner(d)]])
        .collect()
}

fn binary_stl(triangles: &[Triangle]) -> Vec<u8> {
    let mut out = b"solid but binary: many exporters start the header so".to_vec();
    out.resize(80, b' ');
    out.extend((triangles.len() as u32).to_le_bytes());
    for triangle in triangles {
        // A wrong stored normal, which must be ignored.
        out.extend([0.0f32, 0.0, 1.0].iter().flat_map(|c| c.to_le_bytes()));
        out.extend(triangle.iter().flatten().flat_map(|c| c.to_le_bytes()));
        out.extend([0u8; 2]);
    }
    out
}

fn ascii_stl(triangles: &[Triangle]) -> String {
    let mut out = String::from("solid cube\n");
    for triangle in triangles {
        out.push_str("  facet normal 0 0 0\n    outer loop\n");
        for [x, y, z] in triangle {
            out.push_str(&format!("      vertex {x:e} {y:e} {z:e}\n"));
        }
        out.push_str("    endloop\n  endfacet\n");
    }
    out.push_str("endsolid cube\n");
    out
}

/// The cube as OBJ: quads, half of them by negative indices, with texture
/// and normal references.
fn cube_obj() -> String {
    let mut out = String::from("# a cube\nmtllib cube.mtl\no cube\n");
    for i in 0..8 {
        let [x, y, z] = corner(i);
        out.push_str(&format!("v {x} {y} {z}\n"));
    }
    out.push_str("vt 0 0\nvn 0 0 1\ns off\n");
    for (n, quad) in QUADS.iter().enumerate() {
        let refs: Vec<String> = match n % 3 {
            0 => quad.iter().map(|&i| format!("{}", i + 1)).collect(),
            1 => quad.iter().map(|&i| format!("{}/1/1", i as i32 - 8)).collect(),
            _ => quad.iter().map(|&i| format!("{}//1", i + 1)).collect(),
        };
        out.push_str(&format!("f {}\n", refs.join(" ")));
    }
    out
}

fn zip(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in parts {
        writer.start_file(*name, options).expect("a zip in memory takes a file");
        writer.write_all(data).expect("a zip in memory takes bytes");
    }
    writer.finish().expect("a zip in memory finishes").into_inner()
}

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
 <Relationship Target="/3D/part.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>"#;

/// An object of a 3MF model: id, vertices, triangles.
type ObjectXml = (u32, Vec<[f32; 3]>, Vec<[usize; 3]>);

/// A model part: objects (id, vertices, triangles) and build items
/// (object id, transform).
fn model_xml(objects: &[ObjectXml], items: &[(u32, &str)]) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<model unit="millimeter" xml:lang="en-US" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">
 <resources>
"#,
    );
    for (id, vertices, triangles) in objects {
        out.push_str(&format!("  <object id=\"{id}\" type=\"model\"><mesh><vertices>\n"));
        for [x, y, z] in vertices {
            out.push_str(&format!("   <vertex x=\"{x}\" y=\"{y}\" z=\"{z}\" />\n"));
        }
        out.push_str("  </vertices><triangles>\n");
        for [a, b, c] in triangles {
            out.push_str(&format!("   <triangle v1=\"{a}\" v2=\"{b}\" v3=\"{c}\" />\n"));
        }
        out.push_str("  </triangles></mesh></object>\n");
    }
    out.push_str(" </resources>\n <build>\n");
    for (id, transform) in items {
        out.push_str(&format!("  <item objectid=\"{id}\" transform=\"{transform}\" />\n"));
    }
    out.push_str(" </build>\n</model>\n");
    out
}

fn cube_indexed() -> (Vec<[f32; 3]>, Vec<[usize; 3]>) {
    let vertices = (0..8).map(corner).collect();
    let triangles = QUADS.iter().flat_map(|&[a, b, c, d]| [[a, b, c], [a, c, d]].map(|t| t.map(usize::from))).collect();
    (vertices, triangles)
}

fn cube_3mf() -> Vec<u8> {
    let (vertices, triangles) = cube_indexed();
    // Placed 100 mm away and doubled: the picture fits whatever the place.
    let model = model_xml(&[(7, vertices, triangles)], &[(7, "2 0 0 0 2 0 0 0 2 100 100 0")]);
    zip(&[("_rels/.rels", RELS.as_bytes()), ("3D/part.model", model.as_bytes())])
}

fn image(format: Format, bytes: &[u8]) -> Image {
    let mesh = parse(format, bytes).expect("the test part parses");
    render(&mesh, Size::CARD).expect("the card size is valid")
}

fn reason(result: Result<impl std::fmt::Debug, PreviewError>) -> &'static str {
    let error = result.expect_err("the input is malformed");
    // Every error has a message for people.
    assert!(!error.to_string().is_empty());
    error.reason()
}

/// The part is in the middle, the corners are background, and the three
/// faces seen (top, front, right) have three different shades.
fn assert_cube_picture(image: &Image) {
    let (w, h) = (image.width(), image.height());
    let pixel = |x, y| image.pixel(x, y).expect("inside the image");
    assert_ne!(pixel(w / 2, h / 2), BACKGROUND, "the centre shows the part");
    for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
        assert_eq!(pixel(x, y), BACKGROUND, "corner ({x}, {y}) is background");
    }
    let top = pixel(w / 2, h * 3 / 10);
    let front = pixel(w * 4 / 10, h * 6 / 10);
    let right = pixel(w * 6 / 10, h * 6 / 10);
    for face in [top, front, right] {
        assert_ne!(face, BACKGROUND);
    }
    assert!(top != front && front != right && top != right, "faces shaded apart: {top:?} {front:?} {right:?}");
}

#[test]
fn a_cube_in_each_format_draws_in_the_middle_with_faces_shaded_apart() {
    let binary = image(Format::Stl, &binary_stl(&cube()));
    assert_cube_picture(&binary);
    let ascii = image(Format::Stl, ascii_stl(&cube()).as_bytes());
    assert_eq!(ascii, binary, "ASCII and binary STL of one cube draw the same picture");
    let obj = image(Format::Obj, cube_obj().as_bytes());
    assert_eq!(obj, binary, "OBJ quads with negative indices cut into the same triangles");
    let three_mf = image(Format::ThreeMf, &cube_3mf());
    assert_cube_picture(&three_mf);
}

#[test]
fn a_cube_wound_inside_out_draws_the_same() {
    let inverted: Vec<Triangle> = cube().into_iter().map(|[a, b, c]| [a, c, b]).collect();
    assert_eq!(image(Format::Stl, &binary_stl(&inverted)), image(Format::Stl, &binary_stl(&cube())));
}

#[test]
fn the_same_file_gives_the_same_png() {
    let stl = binary_stl(&cube());
    let png = render_png(Format::Stl, &stl, Size::CARD).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(render_png(Format::Stl, &stl, Size::CARD).unwrap(), png);
    let small = render_png(Format::ThreeMf, &cube_3mf(), Size { width: 64, height: 48 }).unwrap();
    assert_eq!(render_png(Format::ThreeMf, &cube_3mf(), Size { width: 64, height: 48 }).unwrap(), small);
    // A sample to look at: target/preview-cube.png (left there by the test).
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from);
    if let Some(dir) = dir {
        std::fs::write(dir.join("preview-cube.png"), &png).unwrap();
        let torus_like = render_png(Format::ThreeMf, &cube_3mf(), Size::CARD).unwrap();
        std::fs::write(dir.join("preview-cube-3mf.png"), torus_like).unwrap();
    }
}

#[test]
fn formats_are_known_by_extension_in_any_case() {
    assert_eq!(Format::of_path("parts/Bracket.STL"), Some(Format::Stl));
    assert_eq!(Format::of_path("a.b/plate.3mf"), Some(Format::ThreeMf));
    assert_eq!(Format::of_path("x.Obj"), Some(Format::Obj));
    assert_eq!(Format::of_path("README.md"), None);
    assert_eq!(Format::of_path("stl"), None);
    assert_eq!(Format::of_path("model.stl.zip"), None);
}

#[test]
fn sizes_outside_one_to_the_max_are_refused() {
    let stl = binary_stl(&cube());
    for size in [
        Size { width: 0, height: 10 },
        Size { width: 10, height: 0 },
        Size { width: MAX_SIDE + 1, height: 10 },
        Size { width: 10, height: u32::MAX },
    ] {
        assert_eq!(reason(render_png(Format::Stl, &stl, size)), "bad-size");
    }
    let tiny = render(&parse(Format::Stl, &stl).unwrap(), Size { width: 1, height: 1 }).unwrap();
    assert_eq!(tiny.rgb().len(), 3);
}

#[test]
fn input_past_the_limit_is_refused_unread() {
    let huge = vec![0u8; MAX_INPUT_BYTES + 1];
    for format in [Format::Stl, Format::ThreeMf, Format::Obj] {
        assert_eq!(reason(parse(format, &huge)), "input-too-large");
    }
}

#[test]
fn malformed_stl_is_refused() {
    let mut stl = binary_stl(&cube());
    assert_eq!(reason(parse(Format::Stl, &stl[..stl.len() - 1])), "stl-count-mismatch");
    // Only text all along is taken for ASCII.
    assert_eq!(reason(parse(Format::Stl, &stl[..50])), "empty-mesh");
    stl[..5].copy_from_slice(b"plain");
    assert_eq!(reason(parse(Format::Stl, &stl[..50])), "stl-truncated");
    assert_eq!(reason(parse(Format::Stl, &stl[..stl.len() - 1])), "stl-count-mismatch");
    let mut lying = stl.clone();
    lying[80..84].copy_from_slice(&5_000_000u32.to_le_bytes());
    let error = parse(Format::Stl, &lying).unwrap_err();
    assert_eq!(error.reason(), "stl-count-mismatch");
    assert_eq!(error.to_string(), "binary STL says 5000000 triangles but has bytes for 12");
    lying[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(reason(parse(Format::Stl, &lying)), "stl-count-mismatch");
    let mut empty = stl[..84].to_vec();
    empty[80..84].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(reason(parse(Format::Stl, &empty)), "empty-mesh");

    assert_eq!(
        reason(parse(Format::Stl, b"solid x\nfacet normal 0 0 1\n  outer loop\n  vertex 1 2 pear\n")),
        "stl-syntax"
    );
    assert_eq!(reason(parse(Format::Stl, b"solid x\nthis is not an STL at all\n")), "stl-syntax");
    assert_eq!(
        reason(parse(Format::Stl, b"solid x\nfacet\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\n")),
        "stl-syntax"
    );
    assert_eq!(reason(parse(Format::Stl, b"solid x\nfacet\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n")), "stl-syntax");
    assert_eq!(reason(parse(Format::Stl, b"solid empty\nendsolid empty\n")), "empty-mesh");
    assert_eq!(reason(parse(Format::Stl, b"")), "stl-truncated");
    // ASCII names may be UTF-8.
    let named = ascii_stl(&cube()).replace("solid cube", "solid pièce été");
    assert_eq!(image(Format::Stl, named.as_bytes()), image(Format::Stl, &binary_stl(&cube())));
}

#[test]
fn non_finite_and_degenerate_coordinates_are_refused() {
    let mut triangles = cube();
    triangles[5][1][2] = f32::NAN;
    assert_eq!(reason(parse(Format::Stl, &binary_stl(&triangles))), "non-finite-coordinate");
    triangles[5][1][2] = f32::INFINITY;
    assert_eq!(reason(parse(Format::Stl, &binary_stl(&triangles))), "non-finite-coordinate");
    assert_eq!(reason(parse(Format::Stl, ascii_stl(&triangles).as_bytes())), "non-finite-coordinate");
    assert_eq!(reason(parse(Format::Obj, b"v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")), "non-finite-coordinate");
    assert_eq!(reason(parse(Format::Obj, b"v 0 0 1e999\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")), "non-finite-coordinate");
    // All corners on one line: no area to draw.
    let flat = [[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]; 4];
    assert_eq!(reason(parse(Format::Stl, &binary_stl(&flat))), "empty-mesh");
    // Huge but finite coordinates still draw.
    let far: Vec<Triangle> = cube().into_iter().map(|t| t.map(|v| v.map(|c| c * 3e37 - 1e38))).collect();
    let picture = image(Format::Stl, &binary_stl(&far));
    assert_cube_picture(&picture);
    assert_eq!(Mesh::new(Vec::new()).unwrap_err().reason(), "empty-mesh");
}

#[test]
fn malformed_obj_is_refused() {
    let base = "v 0 0 0\nv 1 0 0\nv 0 1 0\n";
    for (faces, expected) in [
        ("f 1 2 4\n", "obj-bad-index"),
        ("f 0 1 2\n", "obj-bad-index"),
        ("f -1 -2 -4\n", "obj-bad-index"),
        ("f 1 2 99999999999\n", "obj-bad-index"),
        ("f 1 2\n", "obj-syntax"),
        ("f\n", "obj-syntax"),
        ("f 1 2 x\n", "obj-syntax"),
        ("f 1.5 2 3\n", "obj-syntax"),
        ("", "empty-mesh"),
    ] {
        assert_eq!(reason(parse(Format::Obj, format!("{base}{faces}").as_bytes())), expected, "{faces:?}");
    }
    assert_eq!(reason(parse(Format::Obj, b"v 1 2\n")), "obj-syntax");
    assert_eq!(reason(parse(Format::Obj, b"\xff\xfe garbage \x00\x01")), "empty-mesh");
    // A face may name a vertex listed after it.
    assert!(parse(Format::Obj, b"f 1 2 3\nv 0 0 0\nv 1 0 0\nv 0 1 0\n").is_ok());
}

#[test]
fn malformed_3mf_is_refused() {
    assert_eq!(reason(parse(Format::ThreeMf, b"PK\x03\x04 not really a zip")), "bad-zip");
    assert_eq!(reason(parse(Format::ThreeMf, &binary_stl(&cube()))), "bad-zip");
    assert_eq!(reason(parse(Format::ThreeMf, &zip(&[("readme.txt", b"hello")]))), "3mf-no-model");
    // The relationships name a part that is not there, and the usual name is absent too.
    assert_eq!(reason(parse(Format::ThreeMf, &zip(&[("_rels/.rels", RELS.as_bytes())]))), "3mf-no-model");

    let (vertices, mut triangles) = cube_indexed();
    triangles[3] = [0, 1, 8];
    let model = model_xml(&[(1, vertices.clone(), triangles)], &[(1, "1 0 0 0 1 0 0 0 1 0 0 0")]);
    assert_eq!(reason(parse(Format::ThreeMf, &zip(&[("3D/3dmodel.model", model.as_bytes())]))), "3mf-bad-index");

    let (_, triangles) = cube_indexed();
    for broken in [
        model_xml(&[(1, vertices.clone(), triangles.clone())], &[(2, "1 0 0 0 1 0 0 0 1 0 0 0")]),
        model_xml(&[(1, vertices.clone(), triangles.clone())], &[(1, "1 0 0")]),
        model_xml(&[(1, vertices.clone(), triangles.clone())], &[]).replace("x=\"10\"", "x=\"ten\""),
        model_xml(&[(1, vertices.clone(), triangles.clone())], &[]).replace("</mesh>", ""),
    ] {
        assert_eq!(reason(parse(Format::ThreeMf, &zip(&[("3D/3dmodel.model", broken.as_bytes())]))), "3mf-syntax");
    }
    let nan = model_xml(&[(1, vertices.clone(), triangles.clone())], &[]).replace("x=\"10\"", "x=\"NaN\"");
    assert_eq!(reason(parse(Format::ThreeMf, &zip(&[("3D/3dmodel.model", nan.as_bytes())]))), "non-finite-coordinate");
    let empty = model_xml(&[(1, vertices, Vec::new())], &[]);
    assert_eq!(reason(parse(Format::ThreeMf, &zip(&[("3D/3dmodel.model", empty.as_bytes())]))), "empty-mesh");
}

#[test]
fn a_3mf_without_build_or_rels_draws_its_objects_and_components_are_placed() {
    let (vertices, triangles) = cube_indexed();
    // No relationships part, no build: the object is drawn where it is.
    let bare = model_xml(&[(1, vertices.clone(), triangles.clone())], &[]);
    let bare_image = image(Format::ThreeMf, &zip(&[("3D/3dmodel.model", bare.as_bytes())]));
    assert_eq!(bare_image, image(Format::Stl, &binary_stl(&cube())));
    // An assembly in another part, as slicers write it (production extension).
    let part = model_xml(&[(1, vertices, triangles)], &[]);
    let root = r#"<model xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02" xmlns:p="http://schemas.microsoft.com/3dmanufacturing/production/2015/06">
 <resources><object id="5" type="model"><components>
  <component p:path="/3D/Objects/cube.model" objectid="1" transform="1 0 0 0 1 0 0 0 1 0 0 0"/>
 </components></object></resources>
 <build><item objectid="5" transform="1 0 0 0 1 0 0 0 1 50 0 0"/></build></model>"#;
    let assembly = zip(&[
        ("_rels/.rels", RELS.as_bytes()),
        ("3D/part.model", root.as_bytes()),
        ("3D/Objects/cube.model", part.as_bytes()),
    ]);
    assert_eq!(image(Format::ThreeMf, &assembly), bare_image);
    // A component cycle ends at the depth limit.
    let cycle = r#"<model><resources><object id="1"><components><component objectid="1"/></components></object></resources><build><item objectid="1"/></build></model>"#;
    let cycle = zip(&[("3D/3dmodel.model", cycle.as_bytes())]);
    assert_eq!(reason(parse(Format::ThreeMf, &cycle)), "3mf-syntax");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for format in [Format::Stl, Format::ThreeMf, Format::Obj] {
            if let Ok(mesh) = parse(format, &bytes) {
                render(&mesh, Size { width: 16, height: 12 }).unwrap();
            }
        }
    }

    #[test]
    fn mangled_cubes_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (format, mut bytes) = match which {
            0 => (Format::Stl, binary_stl(&cube())),
            1 => (Format::Obj, cube_obj().into_bytes()),
            _ => (Format::Stl, ascii_stl(&cube()).into_bytes()),
        };
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(mesh) = parse(format, &bytes) {
            render(&mesh, Size { width: 16, height: 12 }).unwrap();
        }
    }
}
