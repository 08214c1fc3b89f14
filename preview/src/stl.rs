//! STL, binary and ASCII. Read by hand rather than with a crate: the binary
//! form is 84 bytes and 50 a triangle, and its count is checked against the
//! bytes before anything is allocated.

use crate::{Limits, PreviewError};

const HEADER: usize = 80;
const TRIANGLE: usize = 50;

pub(crate) fn parse(bytes: &[u8], limits: &Limits) -> Result<Vec<[[f32; 3]; 3]>, PreviewError> {
    if is_ascii(bytes) { parse_ascii(bytes, limits) } else { parse_binary(bytes, limits) }
}

/// ASCII STL starts with `solid`, but so do the headers of many binary
/// files; a binary file is known by its length matching its count, or by
/// bytes that are not text.
fn is_ascii(bytes: &[u8]) -> bool {
    if let Some(count) = binary_count(bytes)
        && (bytes.len() - HEADER - 4) as u64 == count.saturating_mul(TRIANGLE as u64)
    {
        return false;
    }
    // Binary triangles are floats, and the count's high byte is zero below
    // 16 million triangles: control bytes tell a binary file from text
    // (which may have UTF-8 in its names).
    let text = |b: &u8| !b.is_ascii_control() || b.is_ascii_whitespace();
    bytes.trim_ascii_start().starts_with(b"solid") && bytes.iter().take(1024).all(text)
}

fn binary_count(bytes: &[u8]) -> Option<u64> {
    let count: [u8; 4] = bytes.get(HEADER..HEADER + 4)?.try_into().ok()?;
    Some(u64::from(u32::from_le_bytes(count)))
}

fn parse_binary(bytes: &[u8], limits: &Limits) -> Result<Vec<[[f32; 3]; 3]>, PreviewError> {
    let claimed = binary_count(bytes).ok_or(PreviewError::StlTruncated { len: bytes.len() })?;
    let body = &bytes[HEADER + 4..];
    let fits = (body.len() / TRIANGLE) as u64;
    if claimed > fits {
        return Err(PreviewError::StlCountMismatch { claimed, fits });
    }
    // Bytes past the claimed triangles (some exporters pad) are ignored.
    if claimed > limits.triangles as u64 {
        return Err(PreviewError::TooManyTriangles { max: limits.triangles });
    }
    let f = |b: &[u8], at: usize| f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let triangles = body
        .chunks_exact(TRIANGLE)
        .take(claimed as usize)
        // The stored normal (first 12 bytes) is ignored: many exporters get it wrong.
        .map(|t| {
            let v = |i: usize| [f(t, 12 + 12 * i), f(t, 16 + 12 * i), f(t, 20 + 12 * i)];
            [v(0), v(1), v(2)]
        })
        .collect();
    Ok(triangles)
}

fn parse_ascii(bytes: &[u8], limits: &Limits) -> Result<Vec<[[f32; 3]; 3]>, PreviewError> {
    let mut triangles = Vec::new();
    let mut corners: Vec<[f32; 3]> = Vec::with_capacity(3);
    for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = number + 1;
        let syntax = |what: &str| PreviewError::StlSyntax { line: line_no, what: what.to_owned() };
        let mut words = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
        let Some(keyword) = words.next() else { continue };
        match keyword {
            b"solid" | b"endsolid" | b"facet" | b"outer" => {}
            b"vertex" => {
                if corners.len() == 3 {
                    return Err(syntax("a facet has more than three vertices"));
                }
                let mut corner = [0.0f32; 3];
                for c in &mut corner {
                    let word = words.next().ok_or_else(|| syntax("a vertex has fewer than three coordinates"))?;
                    *c = std::str::from_utf8(word)
                        .ok()
                        .and_then(|w| w.parse().ok())
                        .ok_or_else(|| syntax("a vertex coordinate is not a number"))?;
                }
                corners.push(corner);
            }
            b"endloop" => {}
            b"endfacet" => {
                let [a, b, c] = corners[..] else {
                    return Err(syntax("a facet does not have three vertices"));
                };
                if triangles.len() == limits.triangles {
                    return Err(PreviewError::TooManyTriangles { max: limits.triangles });
                }
                triangles.push([a, b, c]);
                corners.clear();
            }
            _ => return Err(syntax("expected solid, facet, outer loop, vertex, endloop, endfacet or endsolid")),
        }
    }
    if !corners.is_empty() {
        return Err(PreviewError::StlSyntax {
            line: bytes.split(|&b| b == b'\n').count(),
            what: "the file ends inside a facet".to_owned(),
        });
    }
    Ok(triangles)
}

#[cfg(test)]
pub(crate) mod tests {
    /// A binary STL of `count` copies of one triangle.
    pub(crate) fn binary(count: u32) -> Vec<u8> {
        let mut out = vec![0u8; 80];
        out.extend(count.to_le_bytes());
        for _ in 0..count {
            out.extend([0u8; 12]);
            for c in [0.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0] {
                out.extend(c.to_le_bytes());
            }
            out.extend([0u8; 2]);
        }
        out
    }
}
