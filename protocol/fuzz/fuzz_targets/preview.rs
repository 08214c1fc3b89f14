//! Any bytes as an STL, a 3MF and an OBJ (preview/): no panic, no
//! allocation past the limits; whatever parses renders, at a small size.
#![no_main]
use communs_preview::{Format, Size, parse, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Stl, Format::ThreeMf, Format::Obj] {
        if let Ok(mesh) = parse(format, data) {
            let image = render(&mesh, Size { width: 32, height: 24 }).expect("a valid size renders");
            assert_eq!(image.rgb().len(), 32 * 24 * 3);
        }
    }
});
