//! Wavefront OBJ: only `v` (positions) and `f` (faces) lines matter for a
//! picture; everything else (normals, texture coordinates, groups,
//! materials, curves) is skipped. Faces are polygons, cut into a fan of
//! triangles; an index is 1-based, or negative to count back from the last
//! vertex read so far.

use crate::{Limits, PreviewError};

pub(crate) fn parse(bytes: &[u8], limits: &Limits) -> Result<Vec<[[f32; 3]; 3]>, PreviewError> {
    let mut vertices: Vec<[f32; 3]> = Vec::new();
    // Corners as 0-based indices and the line they came from, resolved
    // against the whole vertex list at the end (a positive index may name a
    // vertex listed after the face).
    let mut faces: Vec<([u32; 3], usize)> = Vec::new();
    let mut polygon: Vec<u32> = Vec::new();
    for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = number + 1;
        let syntax = |what: &str| PreviewError::ObjSyntax { line: line_no, what: what.to_owned() };
        let mut words = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
        match words.next() {
            Some(b"v") => {
                if vertices.len() == limits.vertices {
                    return Err(PreviewError::TooManyVertices { max: limits.vertices });
                }
                let mut position = [0.0f32; 3];
                for c in &mut position {
                    let word = words.next().ok_or_else(|| syntax("a vertex has fewer than three coordinates"))?;
                    *c = number_of(word).ok_or_else(|| syntax("a vertex coordinate is not a number"))?;
                }
                vertices.push(position);
            }
            Some(b"f") => {
                polygon.clear();
                for word in words {
                    // `v`, `v/vt`, `v//vn` or `v/vt/vn`: the position is first.
                    let position = word.split(|&b| b == b'/').next().unwrap_or(word);
                    let index: i64 = std::str::from_utf8(position)
                        .ok()
                        .and_then(|w| w.parse().ok())
                        .ok_or_else(|| syntax("a face index is not an integer"))?;
                    let bad = || PreviewError::ObjBadIndex { line: line_no, index, vertices: vertices.len() };
                    let resolved = match index {
                        0 => return Err(bad()),
                        1.. => index - 1,
                        _ => i64::try_from(vertices.len()).map_err(|_| bad())? + index,
                    };
                    polygon.push(u32::try_from(resolved).map_err(|_| bad())?);
                }
                let [first, rest @ ..] = &polygon[..] else {
                    return Err(syntax("a face has no vertex"));
                };
                if rest.len() < 2 {
                    return Err(syntax("a face has fewer than three vertices"));
                }
                for pair in rest.windows(2) {
                    if faces.len() == limits.triangles {
                        return Err(PreviewError::TooManyTriangles { max: limits.triangles });
                    }
                    faces.push(([*first, pair[0], pair[1]], line_no));
                }
            }
            _ => {}
        }
    }
    let mut triangles = Vec::with_capacity(faces.len());
    for ([a, b, c], line) in faces {
        let corner = |i: u32| {
            vertices.get(i as usize).copied().ok_or(PreviewError::ObjBadIndex {
                line,
                index: i64::from(i) + 1,
                vertices: vertices.len(),
            })
        };
        triangles.push([corner(a)?, corner(b)?, corner(c)?]);
    }
    Ok(triangles)
}

fn number_of(word: &[u8]) -> Option<f32> {
    std::str::from_utf8(word).ok()?.parse().ok()
}
