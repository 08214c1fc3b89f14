//! The rasterizer: orthographic projection from a fixed angle, a depth
//! buffer, flat Lambert shading, drawn at twice the size and averaged down
//! for smooth edges. Deterministic: no threads, no randomness, and the same
//! floating-point operations in the same order for the same input.

use crate::{Mesh, PreviewError, Size};

/// The light neutral grey behind the part.
pub const BACKGROUND: [u8; 3] = [238, 239, 241];

/// The part's colour where fully lit: a calm blue that reads as "a part" on
/// the grey background and shows the shading well.
pub const PART_COLOUR: [u8; 3] = [86, 150, 214];

/// Samples per pixel along each side: 2x2 supersampling smooths the edges
/// for about four times the fill cost, which thumbnails of small triangles
/// barely notice.
const SUPERSAMPLE: u32 = 2;

/// The empty space around the part, as a fraction of each side.
const MARGIN: f64 = 0.08;

/// The light that reaches faces turned away from it, so no face is black.
const AMBIENT: f64 = 0.35;

/// Where we look from, in degrees: 3D-printing files are Z up, and a view
/// from the front right, above, shows three sides of a box.
const AZIMUTH: f64 = 45.0;
const ELEVATION: f64 = 30.0;

/// An RGB image, 8 bits a channel, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    /// Pixels across.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Pixels down.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The colour at (x, y) from the top left, or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]])
    }

    /// The pixels, three bytes each, row by row.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// The image as a PNG, compressed fast rather than small: a thumbnail
    /// of flat colours compresses well anyway, and encoding time counts
    /// against the render budget.
    pub fn to_png(&self) -> Result<Vec<u8>, PreviewError> {
        let encode = |e: png::EncodingError| PreviewError::Encode { what: e.to_string() };
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(encode)?;
        writer.write_image_data(&self.rgb).map_err(encode)?;
        writer.finish().map_err(encode)?;
        Ok(out)
    }
}

/// Whether some triangle has an area: a mesh of only points and lines
/// draws nothing.
pub(crate) fn has_area(mesh: &Mesh) -> bool {
    mesh.triangles().iter().any(|t| {
        let [a, b, c] = t.map(|v| v.map(f64::from));
        let n = cross(sub(b, a), sub(c, a));
        dot(n, n) > 0.0
    })
}

struct Camera {
    /// Screen right, screen up, and towards the viewer, in model space.
    right: [f64; 3],
    up: [f64; 3],
    towards: [f64; 3],
    /// The light's direction (towards it): from the viewer's upper left.
    light: [f64; 3],
}

fn camera() -> Camera {
    let (azimuth, elevation) = (AZIMUTH.to_radians(), ELEVATION.to_radians());
    // The front is -Y, the right +X: the viewer stands at +X -Y, above.
    let towards = [elevation.cos() * azimuth.sin(), -elevation.cos() * azimuth.cos(), elevation.sin()];
    let forward = towards.map(|c| -c);
    let right = normalize(cross(forward, [0.0, 0.0, 1.0]));
    let up = cross(right, forward);
    let light = normalize(add(add(scale(right, -0.5), scale(up, 0.7)), scale(towards, 0.6)));
    Camera { right, up, towards, light }
}

pub(crate) fn render(mesh: &Mesh, size: Size) -> Result<Image, PreviewError> {
    let camera = camera();
    let (width, height) = (size.width * SUPERSAMPLE, size.height * SUPERSAMPLE);

    // Fit the projected part into the image.
    let (mut min, mut max) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for v in mesh.triangles().iter().flatten() {
        let v = v.map(f64::from);
        let p = [dot(v, camera.right), dot(v, camera.up), dot(v, camera.towards)];
        for i in 0..3 {
            min[i] = min[i].min(p[i]);
            max[i] = max[i].max(p[i]);
        }
    }
    let centre: [f64; 3] = std::array::from_fn(|i| (min[i] + max[i]) / 2.0);
    let (extent_x, extent_y) = (max[0] - min[0], max[1] - min[1]);
    let (room_x, room_y) = (f64::from(width) * (1.0 - 2.0 * MARGIN), f64::from(height) * (1.0 - 2.0 * MARGIN));
    let fit = |room: f64, extent: f64| if extent > 0.0 { room / extent } else { f64::INFINITY };
    let mut zoom = fit(room_x, extent_x).min(fit(room_y, extent_y));
    if !zoom.is_finite() {
        // A part seen as a point: nothing to draw but the background.
        zoom = 0.0;
    }
    let (half_w, half_h) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
    // Depth from -0.5 (farthest) to 0.5 (nearest) whatever the part's size,
    // for the precision of f32.
    let extent_z = max[2] - min[2];
    let depth_scale = if extent_z > 0.0 { 1.0 / extent_z } else { 0.0 };

    let samples = width as usize * height as usize;
    let mut depth = vec![f32::NEG_INFINITY; samples];
    // 0 is the background, 1 to 255 the part's brightness.
    let mut level = vec![0u8; samples];
    let mut raster = Raster { width, height, depth: &mut depth, level: &mut level };

    for triangle in mesh.triangles() {
        let world = triangle.map(|v| v.map(f64::from));
        let normal = cross(sub(world[1], world[0]), sub(world[2], world[0]));
        let length = dot(normal, normal).sqrt();
        if !(length > 0.0 && length.is_finite()) {
            continue;
        }
        // Two-sided: a face wound the wrong way is lit like its other side.
        let lambert = (dot(normal, camera.light) / length).abs();
        let brightness = AMBIENT + (1.0 - AMBIENT) * lambert;
        let shade = (brightness * 255.0).round().clamp(1.0, 255.0) as u8;
        let screen = world.map(|v| {
            [
                (half_w + (dot(v, camera.right) - centre[0]) * zoom) as f32,
                (half_h - (dot(v, camera.up) - centre[1]) * zoom) as f32,
                ((dot(v, camera.towards) - centre[2]) * depth_scale) as f32,
            ]
        });
        raster.triangle(screen, shade);
    }

    Ok(downsample(size, &level))
}

struct Raster<'a> {
    width: u32,
    height: u32,
    depth: &'a mut [f32],
    level: &'a mut [u8],
}

impl Raster<'_> {
    /// Fills the samples whose centres fall inside the triangle (edges
    /// included) where it is nearer than what is there.
    fn triangle(&mut self, [a, mut b, mut c]: [[f32; 3]; 3], shade: u8) {
        let mut area = edge(a, b, c);
        if area < 0.0 {
            std::mem::swap(&mut b, &mut c);
            area = -area;
        }
        if !(area > 0.0 && area.is_finite()) {
            return;
        }
        let min_x = a[0].min(b[0]).min(c[0]);
        let max_x = a[0].max(b[0]).max(c[0]);
        let min_y = a[1].min(b[1]).min(c[1]);
        let max_y = a[1].max(b[1]).max(c[1]);
        // Sample centres are at i + 0.5; `as` saturates, and the bounds are clamped.
        let x0 = (min_x - 0.5).ceil().max(0.0) as u32;
        let y0 = (min_y - 0.5).ceil().max(0.0) as u32;
        let x1 = ((max_x - 0.5).floor() as i64).min(i64::from(self.width) - 1);
        let y1 = ((max_y - 0.5).floor() as i64).min(i64::from(self.height) - 1);
        if x1 < i64::from(x0) || y1 < i64::from(y0) {
            return;
        }
        let (x1, y1) = (x1 as u32, y1 as u32);
        let inverse = 1.0 / area;
        // Each weight changes by a constant per step in x.
        let step = [b[1] - c[1], c[1] - a[1], a[1] - b[1]];
        for y in y0..=y1 {
            let p = [x0 as f32 + 0.5, y as f32 + 0.5, 0.0];
            let mut w = [edge(b, c, p), edge(c, a, p), edge(a, b, p)];
            let row = y as usize * self.width as usize;
            for x in x0..=x1 {
                if w[0] >= 0.0 && w[1] >= 0.0 && w[2] >= 0.0 {
                    let z = (w[0] * a[2] + w[1] * b[2] + w[2] * c[2]) * inverse;
                    let at = row + x as usize;
                    if z > self.depth[at] {
                        self.depth[at] = z;
                        self.level[at] = shade;
                    }
                }
                for i in 0..3 {
                    w[i] += step[i];
                }
            }
        }
    }
}

/// Twice the signed area of (a, b, p): positive when p is on the left of
/// a to b (on screen, y down).
fn edge(a: [f32; 3], b: [f32; 3], p: [f32; 3]) -> f32 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

/// Averages each SUPERSAMPLE x SUPERSAMPLE block of samples into a pixel.
fn downsample(size: Size, level: &[u8]) -> Image {
    let colours: Vec<[u32; 3]> = (0..=255u32)
        .map(|l| if l == 0 { BACKGROUND.map(u32::from) } else { PART_COLOUR.map(|c| (u32::from(c) * l + 127) / 255) })
        .collect();
    let n = SUPERSAMPLE as usize;
    let wide = size.width as usize * n;
    let mut rgb = Vec::with_capacity(size.width as usize * size.height as usize * 3);
    for y in 0..size.height as usize {
        for x in 0..size.width as usize {
            let mut sum = [0u32; 3];
            for sy in 0..n {
                let row = (y * n + sy) * wide + x * n;
                for &l in &level[row..row + n] {
                    let colour = colours[usize::from(l)];
                    for i in 0..3 {
                        sum[i] += colour[i];
                    }
                }
            }
            let count = (n * n) as u32;
            rgb.extend(sum.map(|s| ((s + count / 2) / count) as u8));
        }
    }
    Image { width: size.width, height: size.height, rgb }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    a.map(|c| c * s)
}

fn normalize(a: [f64; 3]) -> [f64; 3] {
    scale(a, 1.0 / dot(a, a).sqrt())
}
