//! Time of a card thumbnail on one core: parse a binary STL, render at the
//! card size, encode the PNG. The budget is 200 ms for 200,000 triangles.
//!
//!     cargo bench -p communs-preview --bench render
//!
//! Parts: a cube (12 triangles), and finely tessellated tori of 200,000 and
//! 1,000,000 triangles, all made in memory. With PREVIEW_SAMPLE=<file.png>,
//! the 200,000-triangle torus's picture is also written there, to look at.

use std::f32::consts::TAU;
use std::hint::black_box;
use std::time::{Duration, Instant};

use communs_preview::{Format, Size, render_png};

const ROUNDS: usize = 15;

fn main() {
    let cube = binary_stl(&cube());
    let torus_200k = binary_stl(&torus(500, 200));
    let torus_1m = binary_stl(&torus(1000, 500));
    if let Some(path) = std::env::var_os("PREVIEW_SAMPLE") {
        let png = render_png(Format::Stl, &torus_200k, Size::CARD).expect("the torus renders");
        std::fs::write(&path, png).expect("the sample is written");
    }
    println!("parse + render {}x{} + PNG, one thread, {ROUNDS} rounds", Size::CARD.width, Size::CARD.height);
    for (name, stl) in [
        ("cube, 12 triangles", &cube),
        ("torus, 200,000 triangles", &torus_200k),
        ("torus, 1,000,000 triangles", &torus_1m),
    ] {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                let png = render_png(Format::Stl, black_box(stl), Size::CARD).expect("the part renders");
                black_box(png);
                start.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p90 = times[(ROUNDS * 9).div_ceil(10) - 1];
        println!(
            "{name:>28}: median {:8.2} ms, p90 {:8.2} ms ({} bytes of STL)",
            ms(times[ROUNDS / 2]),
            ms(p90),
            stl.len()
        );
    }
}

type Triangle = [[f32; 3]; 3];

fn cube() -> Vec<Triangle> {
    let v = |i: u8| [f32::from(i & 1) * 10.0, f32::from((i >> 1) & 1) * 10.0, f32::from((i >> 2) & 1) * 10.0];
    [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]]
        .iter()
        .flat_map(|&[a, b, c, d]| [[v(a), v(b), v(c)], [v(a), v(c), v(d)]])
        .collect()
}

/// A torus lying on the bed (Z up), of `around` x `across` quads, two
/// triangles each.
fn torus(around: u32, across: u32) -> Vec<Triangle> {
    let point = |i: u32, j: u32| {
        let (u, v) = (TAU * i as f32 / around as f32, TAU * j as f32 / across as f32);
        let r = 30.0 + 12.0 * v.cos();
        [r * u.cos(), r * u.sin(), 12.0 + 12.0 * v.sin()]
    };
    let mut out = Vec::with_capacity((2 * around * across) as usize);
    for i in 0..around {
        for j in 0..across {
            let (a, b, c, d) = (point(i, j), point(i + 1, j), point(i + 1, j + 1), point(i, j + 1));
            out.push([a, b, c]);
            out.push([a, c, d]);
        }
    }
    out
}

fn binary_stl(triangles: &[Triangle]) -> Vec<u8> {
    let mut out = vec![0u8; 80];
    out.extend((triangles.len() as u32).to_le_bytes());
    for triangle in triangles {
        out.extend([0u8; 12]);
        for c in triangle.iter().flatten() {
            out.extend(c.to_le_bytes());
        }
        out.extend([0u8; 2]);
    }
    out
}
