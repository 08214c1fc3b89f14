//! Manifests: the vectors of spec/vectors/manifest.json and the OKH files
//! beside them, every rule with the error it gives, and round trips of
//! random manifests through CBOR and okh.toml.

mod support;

use communs_protocol::cbor::{self, Value};
use communs_protocol::limits::{
    MAX_DIMENSION_UM, MAX_KEYWORDS, MAX_MANIFEST_BYTES, MAX_MASS_MG, MAX_NAME_BYTES, MAX_PARTS,
};
use communs_protocol::manifest::{
    Dimensions, DocumentationReadiness, License, Manifest, ManifestError, Part, TechnologyReadiness,
};
use proptest::prelude::*;
use serde_json::json;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A manifest using every field.
fn full_manifest() -> Manifest {
    Manifest {
        name: "Face shield headband".to_owned(),
        version: Some("3.1".to_owned()),
        function: Some("Holds a clear visor in front of the face.\n\nPrints in 40 minutes, no supports.".to_owned()),
        license: License {
            hardware: Some("CERN-OHL-S-2.0".to_owned()),
            documentation: Some("CC-BY-SA-4.0".to_owned()),
            software: None,
        },
        licensors: strings(&["Ada Martin <ada@example.org>"]),
        organizations: strings(&["Fab Lab Nord"]),
        keywords: strings(&["3d printing", "covid-19", "ppe"]),
        images: strings(&["photos/headband.jpg", "https://example.org/shield.png"]),
        readme: strings(&["README.md"]),
        bom: strings(&["bom.csv"]),
        manufacturing_instructions: strings(&["docs/print.md", "docs/assemble.md"]),
        user_manual: strings(&["docs/use.md"]),
        documentation_languages: strings(&["en", "de-CH"]),
        technology_readiness_level: Some(TechnologyReadiness::Otrl4),
        documentation_readiness_level: Some(DocumentationReadiness::Odrl3Audited),
        repo: Some("https://example.org/face-shield".to_owned()),
        release: Some("releases/face-shield-3.1.zip".to_owned()),
        parts: vec![
            Part {
                name: "Headband".to_owned(),
                images: strings(&["photos/headband.jpg"]),
                source: strings(&["cad/headband.scad"]),
                export: strings(&["cad/headband.stl"]),
                auxiliary: strings(&["cad/params.csv"]),
                tsdc: strings(&["3DP"]),
                material: Some("PETG".to_owned()),
                mass_mg: Some(14_500),
                outer_dimensions: Some(Dimensions { width_um: 180_000, depth_um: 95_500, height_um: 20_000 }),
            },
            Part {
                name: "Visor".to_owned(),
                export: strings(&["visor/visor-template.svg"]),
                tsdc: strings(&["LAS"]),
                ..Part::default()
            },
        ],
        fork_of: Some("https://example.org/prusa-shield".to_owned()),
    }
}

// The JSON mirror of a manifest's CBOR value: the same keys and nesting,
// text as strings, unsigned integers as numbers. The spec's vectors show
// manifests this way, so another implementation can build the value.

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Text(s) => json!(s),
        Value::Integer(i) => json!(u64::try_from(*i).expect("manifests hold unsigned integers")),
        Value::Array(items) => items.iter().map(to_json).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| match k {
                Value::Text(k) => (k.clone(), to_json(v)),
                other => panic!("manifest maps have text keys, not {other:?}"),
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => panic!("manifests hold no {other:?}"),
    }
}

fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Number(n) => Value::Integer(n.as_u64().expect("unsigned integer").into()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            cbor::canonical_map(map.iter().map(|(k, v)| (Value::Text(k.clone()), from_json(v))).collect())
        }
        other => panic!("manifest vectors hold no {other}"),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn texts(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| text(s)).collect())
}

/// The canonical encoding of a manifest map with `entries` (replacing
/// those of a minimal valid manifest with the same key).
fn raw(entries: Vec<(&str, Value)>) -> Vec<u8> {
    let mut map = vec![("name", text("Lamp")), ("license", cbor::canonical_map(vec![(text("hardware"), text("MIT"))]))];
    for (key, value) in entries {
        map.retain(|(k, _)| *k != key);
        map.push((key, value));
    }
    cbor::encode(&cbor::canonical_map(map.into_iter().map(|(k, v)| (text(k), v)).collect()))
}

/// A map written in exactly the given order, canonical or not.
fn raw_in_order(entries: Vec<(&str, Value)>) -> Vec<u8> {
    cbor::encode(&Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect()))
}

fn part(entries: Vec<(&str, Value)>) -> Value {
    Value::Array(vec![cbor::canonical_map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())])
}

/// Encodings every decoder must refuse, each with its reason.
fn rejected() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let keywords: Vec<String> = (0..=MAX_KEYWORDS).map(|i| format!("k{i:02}")).collect();
    let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
    let mut minimal = raw(vec![]);
    minimal.push(0);
    vec![
        ("unknown key", raw(vec![("color", text("red"))]), "unknown-key"),
        (
            "name missing",
            raw_in_order(vec![("license", cbor::canonical_map(vec![(text("software"), text("MIT"))]))]),
            "missing-field",
        ),
        ("empty name", raw(vec![("name", text(""))]), "empty-field"),
        ("name not text", raw(vec![("name", Value::Integer(42.into()))]), "shape"),
        ("name of more than MAX_NAME_BYTES", raw(vec![("name", text(&"n".repeat(MAX_NAME_BYTES + 1)))]), "too-long"),
        ("name with a terminal escape", raw(vec![("name", text("Lamp\u{1b}[2J"))]), "control-character"),
        ("name on two lines", raw(vec![("name", text("Lamp\nshade"))]), "control-character"),
        ("name with a trailing space", raw(vec![("name", text("Lamp "))]), "surrounding-whitespace"),
        ("absent field written as null", raw(vec![("version", Value::Null)]), "shape"),
        ("empty list written out", raw(vec![("keywords", Value::Array(vec![]))]), "empty-field"),
        ("keywords out of order", raw(vec![("keywords", texts(&["lamp", "desk"]))]), "not-sorted-unique"),
        ("keyword repeated", raw(vec![("keywords", texts(&["desk", "desk"]))]), "not-sorted-unique"),
        ("more than MAX_KEYWORDS keywords", raw(vec![("keywords", texts(&keywords))]), "too-many"),
        ("image listed twice", raw(vec![("image", texts(&["a.jpg", "a.jpg"]))]), "duplicate"),
        (
            "keys out of canonical order (`license` is longer than `name`)",
            raw_in_order(vec![
                ("license", cbor::canonical_map(vec![(text("hardware"), text("MIT"))])),
                ("name", text("Lamp")),
            ]),
            "unsorted-keys",
        ),
        ("key repeated", raw_in_order(vec![("name", text("Lamp")), ("name", text("Lamp"))]), "duplicate-key"),
        ("trailing byte", minimal, "trailing-bytes"),
        ("a float", raw(vec![("version", Value::Float(1.0))]), "unsupported-item"),
        ("no license", raw(vec![("license", cbor::canonical_map(vec![]))]), "no-license"),
        ("license as a bare string", raw(vec![("license", text("MIT"))]), "shape"),
        (
            "unknown kind of license",
            raw(vec![("license", cbor::canonical_map(vec![(text("firmware"), text("MIT"))]))]),
            "unknown-key",
        ),
        (
            "not an SPDX expression",
            raw(vec![("license", cbor::canonical_map(vec![(text("hardware"), text("CERN-OHL-S-2"))]))]),
            "bad-license",
        ),
        ("path escaping the design", raw(vec![("readme", texts(&["../../.bashrc"]))]), "bad-reference"),
        ("absolute path", raw(vec![("bom", texts(&["/etc/passwd"]))]), "bad-reference"),
        ("path into .git", raw(vec![("user-manual", texts(&[".git/config"]))]), "bad-reference"),
        ("repo that is not an http URL", raw(vec![("repo", text("javascript:alert(1)"))]), "bad-url"),
        ("URL without a host", raw(vec![("fork-of", text("https:///x"))]), "bad-url"),
        (
            "POSIX locale for a language tag",
            raw(vec![("documentation-language", texts(&["en_US"]))]),
            "bad-language-tag",
        ),
        (
            "unknown readiness level",
            raw(vec![("technology-readiness-level", text("OTRL-7"))]),
            "unknown-readiness-level",
        ),
        (
            "part without source or export",
            raw(vec![("part", part(vec![("name", text("Shade"))]))]),
            "part-without-files",
        ),
        ("part without a name", raw(vec![("part", part(vec![("source", texts(&["a.scad"]))]))]), "missing-field"),
        (
            "negative mass",
            raw(vec![(
                "part",
                part(vec![
                    ("name", text("Shade")),
                    ("source", texts(&["a.scad"])),
                    ("mass", Value::Integer((-1).into())),
                ]),
            )]),
            "shape",
        ),
        (
            "mass over MAX_MASS_MG",
            raw(vec![(
                "part",
                part(vec![
                    ("name", text("Shade")),
                    ("source", texts(&["a.scad"])),
                    ("mass", Value::Integer((MAX_MASS_MG + 1).into())),
                ]),
            )]),
            "out-of-range",
        ),
        (
            "outer dimensions without a height",
            raw(vec![(
                "part",
                part(vec![
                    ("name", text("Shade")),
                    ("source", texts(&["a.scad"])),
                    (
                        "outer-dimensions",
                        cbor::canonical_map(vec![
                            (text("width"), Value::Integer(1.into())),
                            (text("depth"), Value::Integer(1.into())),
                        ]),
                    ),
                ]),
            )]),
            "missing-field",
        ),
    ]
}

/// The OKH files under spec/vectors/manifests/, and the reason each bad
/// one is refused with.
const OKH_FILES: &[(&str, Option<&str>)] = &[
    ("okh-losh-full.toml", None),
    ("okh-losh-minimal.toml", None),
    ("okh-losh-license-parts.toml", None),
    ("okh-v1-full.yml", None),
    ("bad-spdx.toml", Some("bad-license")),
    ("no-license.toml", Some("no-license")),
    ("no-name.toml", Some("missing-field")),
    ("syntax-error.toml", Some("bad-toml")),
    ("license-typo.toml", Some("bad-toml")),
    ("path-escape.toml", Some("bad-reference")),
    ("unknown-level.toml", Some("unknown-readiness-level")),
    ("part-without-files.toml", Some("part-without-files")),
    ("negative-mass.toml", Some("out-of-range")),
    ("control-character.toml", Some("control-character")),
    ("v1-no-license.yml", Some("no-license")),
    ("v1-syntax-error.yml", Some("bad-yaml")),
];

fn read_okh_file(file: &str) -> Result<Manifest, ManifestError> {
    let path = support::vectors_dir().join("manifests").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if file.ends_with(".yml") { Manifest::from_okh_v1_yaml(&text) } else { Manifest::from_okh_toml(&text) }
}

fn accepted_vector(name: &str, manifest: &Manifest) -> serde_json::Value {
    json!({ "name": name, "manifest": to_json(&manifest.to_value()), "hex": hex::encode(manifest.encode()) })
}

fn generated() -> serde_json::Value {
    let accepted = vec![
        accepted_vector(
            "minimal: a name and one license for everything",
            &Manifest::minimal("Rope ladder", License::all("CC-BY-SA-4.0")),
        ),
        accepted_vector(
            "a hardware license only, non-ASCII name",
            &Manifest::minimal(
                "Métier à tisser",
                License { hardware: Some("CERN-OHL-P-2.0".to_owned()), ..License::default() },
            ),
        ),
        accepted_vector("every field", &full_manifest()),
    ];
    let rejected: Vec<_> = rejected()
        .into_iter()
        .map(|(name, bytes, reason)| {
            let error = Manifest::decode(&bytes).expect_err(name);
            assert_eq!(error.reason(), reason, "{name}: {error}");
            json!({ "name": name, "hex": hex::encode(bytes), "reason": reason })
        })
        .collect();
    let okh_files: Vec<_> = OKH_FILES
        .iter()
        .map(|&(file, reason)| match (read_okh_file(file), reason) {
            (Ok(m), None) => json!({ "file": format!("manifests/{file}"), "manifest": to_json(&m.to_value()), "hex": hex::encode(m.encode()) }),
            (Err(e), Some(reason)) => {
                assert_eq!(e.reason(), reason, "{file}: {e}");
                json!({ "file": format!("manifests/{file}"), "reason": reason })
            }
            (result, reason) => panic!("{file}: expected {reason:?}, got {result:?}"),
        })
        .collect();
    json!({
        "description": "Manifests (spec/manifest.md). 'accepted': the JSON mirror of a manifest's CBOR map and its canonical bytes. 'rejected': bytes refused with the given reason. 'okh_files': OKH files and the manifest they read as, or the reason they are refused with.",
        "accepted": accepted,
        "rejected": rejected,
        "okh_files": okh_files,
    })
}

#[test]
fn manifest_vectors_match_the_code() {
    support::check_or_bless("manifest.json", &generated());
}

/// Reads the stored vectors back without regenerating them: bytes decode
/// to the stored fields, the stored fields encode to the bytes.
#[test]
fn stored_manifest_vectors_decode_independently() {
    let v = support::load("manifest.json");
    for case in v["accepted"].as_array().expect("accepted").iter().chain(v["okh_files"].as_array().expect("okh files"))
    {
        if case.get("reason").is_some() {
            continue;
        }
        let bytes = support::unhex(support::str_field(case, "hex"));
        let decoded = Manifest::decode(&bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(to_json(&decoded.to_value()), case["manifest"], "{case}");
        let built = Manifest::from_value(&from_json(&case["manifest"])).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(built.encode(), bytes, "{case}");
    }
    for case in v["rejected"].as_array().expect("rejected") {
        let bytes = support::unhex(support::str_field(case, "hex"));
        let error = Manifest::decode(&bytes).expect_err(support::str_field(case, "name"));
        assert_eq!(error.reason(), support::str_field(case, "reason"), "{case}: {error}");
    }
    for case in v["okh_files"].as_array().expect("okh files") {
        let file = support::str_field(case, "file").strip_prefix("manifests/").expect("under manifests/");
        match case.get("reason") {
            Some(reason) => {
                assert_eq!(read_okh_file(file).map_err(|e| e.reason()), Err(reason.as_str().expect("text")))
            }
            None => assert_eq!(read_okh_file(file).map(|m| to_json(&m.to_value())).as_ref(), Ok(&case["manifest"])),
        }
    }
}

#[test]
fn okh_losh_file_reads_every_modelled_field_and_ignores_the_rest() {
    let expected = Manifest {
        name: "Open Bench Power Supply".to_owned(),
        version: Some("2.1.0".to_owned()),
        function: Some(
            "A 0-30 V, 0-3 A bench power supply for electronics workshops.\n\n\
             Built from a salvaged laptop charger and a small PCB; no mains wiring to do yourself."
                .to_owned(),
        ),
        license: License::all("CERN-OHL-S-2.0"),
        licensors: strings(&["Ada Martin <ada@example.org>", "Kofi Mensah <kofi@example.org>"]),
        organizations: strings(&["Repair Café Network"]),
        keywords: strings(&["lab equipment", "power supply", "repair"]),
        images: strings(&["photos/front.jpg", "https://example.org/obps/wiring.png"]),
        readme: strings(&["README.md"]),
        bom: strings(&["bom.csv"]),
        manufacturing_instructions: strings(&["docs/assembly.md", "docs/calibration.md"]),
        user_manual: strings(&["docs/manual"]),
        documentation_languages: strings(&["en", "fr-CA"]),
        technology_readiness_level: Some(TechnologyReadiness::Otrl4),
        documentation_readiness_level: Some(DocumentationReadiness::Odrl3Audited),
        repo: Some("https://example.org/obps/".to_owned()),
        release: Some("https://example.org/obps/releases/2.1.0".to_owned()),
        parts: vec![
            Part {
                name: "Main board".to_owned(),
                images: strings(&["photos/board.jpg"]),
                source: strings(&["pcb/obps.kicad_pro"]),
                export: strings(&["pcb/gerbers.zip", "pcb/obps.pdf"]),
                auxiliary: strings(&["pcb/lib/obps.kicad_sym"]),
                tsdc: strings(&["PCB"]),
                material: None,
                mass_mg: Some(48_500),
                outer_dimensions: Some(Dimensions { width_um: 100_000, depth_um: 80_250, height_um: 1_600 }),
            },
            Part {
                name: "Front panel".to_owned(),
                source: strings(&["panel/front.svg"]),
                tsdc: strings(&["3DP", "LAS"]),
                material: Some("PMMA, 3 mm".to_owned()),
                ..Part::default()
            },
        ],
        fork_of: Some("https://example.org/lab-psu/".to_owned()),
    };
    assert_eq!(read_okh_file("okh-losh-full.toml"), Ok(expected));
}

#[test]
fn single_license_string_applies_to_every_kind_of_work() {
    let m = read_okh_file("okh-losh-minimal.toml").expect("valid");
    assert_eq!(m, Manifest::minimal("Rope ladder", License::all("CC-BY-SA-4.0")));
    assert_eq!(m.license.as_single(), Some("CC-BY-SA-4.0"));
}

#[test]
fn okh_losh_file_with_license_table_and_older_spellings() {
    let expected = Manifest {
        version: Some("3".to_owned()),
        organizations: strings(&["Weavers Guild", "Open Textiles"]),
        images: strings(&["loom.jpg"]),
        documentation_languages: strings(&["de-CH"]),
        ..Manifest::minimal(
            "Pedal loom",
            License {
                hardware: Some("CERN-OHL-P-2.0".to_owned()),
                documentation: Some("CC-BY-4.0".to_owned()),
                software: None,
            },
        )
    };
    assert_eq!(read_okh_file("okh-losh-license-parts.toml"), Ok(expected));
}

#[test]
fn okh_v1_file_maps_onto_okh_losh_fields() {
    let expected = Manifest {
        version: Some("1.0".to_owned()),
        function: Some(
            "A mill for small farms that grinds 5 kg of grain an hour.\n\n\
             Grinding wheat, maize and millet where there is no power.\n\n\
             Keep fingers away from the burrs."
                .to_owned(),
        ),
        licensors: strings(&["Lena Weber <lena@example.org>"]),
        organizations: strings(&["Farm Hack Collective"]),
        keywords: strings(&["agriculture", "low-tech", "mill"]),
        images: strings(&["images/mill.jpg"]),
        bom: strings(&["bom.ods"]),
        manufacturing_instructions: strings(&["docs/making.md", "docs/burrs.md"]),
        user_manual: strings(&["docs/operating.md"]),
        documentation_languages: strings(&["en-GB"]),
        repo: Some("https://example.org/mill/docs".to_owned()),
        release: Some("https://example.org/mill/mill-1.0.zip".to_owned()),
        fork_of: Some("https://example.org/corona-mill".to_owned()),
        ..Manifest::minimal(
            "Hand-cranked grain mill",
            License {
                hardware: Some("CERN-OHL-W-2.0".to_owned()),
                documentation: Some("CC-BY-SA-4.0".to_owned()),
                software: None,
            },
        )
    };
    assert_eq!(read_okh_file("okh-v1-full.yml"), Ok(expected));
}

#[test]
fn written_okh_toml_reads_back_as_the_same_manifest() {
    let mut manifests = vec![full_manifest(), Manifest::minimal("Rope ladder", License::all("MIT"))];
    manifests.extend(
        OKH_FILES.iter().filter(|(_, reason)| reason.is_none()).map(|(file, _)| read_okh_file(file).expect("valid")),
    );
    for m in manifests {
        let written = m.to_okh_toml();
        assert_eq!(Manifest::from_okh_toml(&written).as_ref(), Ok(&m), "{written}");
    }
}

#[test]
fn written_okh_toml_uses_okh_losh_shapes() {
    let written = Manifest::minimal("Rope ladder", License::all("MIT")).to_okh_toml();
    assert!(written.contains("okhv = \"2.4\"\n"), "{written}");
    assert!(written.contains("license = \"MIT\"\n"), "a shared license is one SPDX string: {written}");
    let written = full_manifest().to_okh_toml();
    assert!(written.contains("[license]\nhardware = \"CERN-OHL-S-2.0\"\n"), "{written}");
    assert!(written.contains("mass = 14.5\n"), "mass in grams: {written}");
    assert!(written.contains("[part.outer-dimensions]\nwidth = 180.0\ndepth = 95.5\n"), "millimetres: {written}");
}

/// Each rule, broken once in an otherwise valid manifest built in memory.
#[test]
fn every_rule_gives_its_error() {
    type Breaker = fn(&mut Manifest);
    let cases: &[(&str, Breaker, &str)] = &[
        ("empty name", |m| m.name.clear(), "empty-field"),
        ("name too long", |m| m.name = "n".repeat(MAX_NAME_BYTES + 1), "too-long"),
        ("blank name", |m| m.name = "   ".to_owned(), "surrounding-whitespace"),
        ("tab in a name", |m| m.name = "Face\tshield".to_owned(), "control-character"),
        ("carriage return in the function", |m| m.function = Some("a\r\nb".to_owned()), "control-character"),
        ("empty version", |m| m.version = Some(String::new()), "empty-field"),
        ("no license at all", |m| m.license = License::default(), "no-license"),
        ("misspelled SPDX id", |m| m.license.software = Some("GPL3".to_owned()), "bad-license"),
        ("SPDX expression with spaces around", |m| m.license.hardware = Some(" MIT".to_owned()), "bad-license"),
        ("too many keywords", |m| m.keywords = (0..=MAX_KEYWORDS).map(|i| format!("k{i:02}")).collect(), "too-many"),
        ("unsorted keywords", |m| m.keywords.reverse(), "not-sorted-unique"),
        ("licensor twice", |m| m.licensors.push(m.licensors[0].clone()), "duplicate"),
        ("backslash path", |m| m.readme = strings(&["docs\\readme.md"]), "bad-reference"),
        ("ftp URL", |m| m.images.push("ftp://example.org/a.jpg".to_owned()), "bad-reference"),
        ("repo with a space", |m| m.repo = Some("https://example.org/a b".to_owned()), "bad-url"),
        ("fork-of as a path", |m| m.fork_of = Some("forks/original".to_owned()), "bad-url"),
        (
            "language tag with a long subtag",
            |m| m.documentation_languages = strings(&["en-abcdefghi"]),
            "bad-language-tag",
        ),
        ("two parts with one name", |m| m.parts[1].name = m.parts[0].name.clone(), "duplicate"),
        ("part without files", |m| m.parts[1].export.clear(), "part-without-files"),
        ("part tsdc unsorted", |m| m.parts[0].tsdc = strings(&["PCB", "3DP"]), "not-sorted-unique"),
        ("mass too large", |m| m.parts[0].mass_mg = Some(MAX_MASS_MG + 1), "out-of-range"),
        (
            "dimension too large",
            |m| {
                m.parts[0].outer_dimensions =
                    Some(Dimensions { height_um: MAX_DIMENSION_UM + 1, ..Dimensions::default() })
            },
            "out-of-range",
        ),
        ("too many parts", |m| m.parts = (0..=MAX_PARTS).map(|i| named_part(&i.to_string())).collect(), "too-many"),
        (
            "encoded manifest too large",
            |m| m.parts = (0..MAX_PARTS).map(|i| named_part(&format!("{i:0>200}"))).collect(),
            "too-large",
        ),
    ];
    for (name, breaker, reason) in cases {
        let mut m = full_manifest();
        assert_eq!(m.check(), Ok(()));
        breaker(&mut m);
        let error = m.check().expect_err(name);
        assert_eq!(error.reason(), *reason, "{name}: {error}");
        // A broken manifest never decodes either, whatever way it arrives.
        assert!(Manifest::from_value(&m.to_value()).is_err(), "{name}");
    }
}

fn named_part(name: &str) -> Part {
    Part { name: name.to_owned(), source: strings(&["a.scad"]), ..Part::default() }
}

#[test]
fn errors_name_the_field_and_what_to_do() {
    let mut m = full_manifest();
    m.bom = strings(&["../secret.csv"]);
    let error = m.check().expect_err("escaping path");
    assert!(
        matches!(&error, ManifestError::BadReference { field: "manifest.bom", value, .. } if value == "../secret.csv")
    );
    assert!(ManifestError::NoLicense.to_string().contains("set `license` in okh.toml"));
    assert!(
        matches!(Manifest::from_okh_toml("name = ["), Err(ManifestError::Toml(message)) if message.contains("line 1"))
    );
    let too_big = format!("name = \"{}\"", "x".repeat(256 * 1024));
    assert!(matches!(Manifest::from_okh_toml(&too_big), Err(ManifestError::FileTooLarge { .. })));
}

/// The size limit applies to the bytes, before anything is parsed (the
/// case is not in manifest.json, where it would take 64 KiB of hex).
#[test]
fn oversized_bytes_are_refused_before_parsing() {
    let bytes = raw(vec![("function", text(&"x".repeat(MAX_MANIFEST_BYTES)))]);
    assert_eq!(Manifest::decode(&bytes).map_err(|e| e.reason()), Err("too-large"));
}

// Random valid manifests.

fn line() -> impl Strategy<Value = String> {
    "[A-Za-z0-9éß漢][A-Za-z0-9 éß漢,.'()&<>@-]{0,30}".prop_map(|s| s.trim_end().to_owned())
}

fn paragraph() -> impl Strategy<Value = String> {
    "[A-Za-z0-9é][A-Za-z0-9 é.,\n\t\"\\\\]{0,120}".prop_map(|s| s.trim_end().to_owned())
}

fn path() -> impl Strategy<Value = String> {
    // Segments start with `d`, so that none is a Windows device name.
    "d[a-z0-9_-]{0,7}(/d[a-z0-9_ -]{0,7}[a-z0-9]){0,3}\\.[a-z]{1,4}"
}

fn reference() -> impl Strategy<Value = String> {
    prop_oneof![path(), "https?://example\\.org(/[a-z0-9_%-]{1,8}){0,3}"]
}

fn unique(items: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

fn list(item: impl Strategy<Value = String>, max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(item, 0..=max).prop_map(unique)
}

fn set(item: impl Strategy<Value = String>, max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(item, 0..=max).prop_map(|s| s.into_iter().collect())
}

fn expression() -> impl Strategy<Value = Option<String>> {
    const EXPRESSIONS: &[&str] =
        &["CERN-OHL-S-2.0", "CERN-OHL-W-2.0", "MIT", "CC-BY-SA-4.0", "Apache-2.0 OR MIT", "LicenseRef-Commons-1.0"];
    prop::option::of(prop::sample::select(EXPRESSIONS).prop_map(str::to_owned))
}

fn license() -> impl Strategy<Value = License> {
    (expression(), expression(), expression()).prop_map(|(hardware, documentation, software)| {
        let mut license = License { hardware, documentation, software };
        if license.is_empty() {
            license.hardware = Some("CERN-OHL-S-2.0".to_owned());
        }
        license
    })
}

fn random_part() -> impl Strategy<Value = Part> {
    let dimensions = (0..=MAX_DIMENSION_UM, 0..=MAX_DIMENSION_UM, 0..=MAX_DIMENSION_UM)
        .prop_map(|(width_um, depth_um, height_um)| Dimensions { width_um, depth_um, height_um });
    (
        line(),
        list(reference(), 2),
        prop::collection::vec(reference(), 1..=3).prop_map(unique),
        list(reference(), 2),
        list(reference(), 2),
        set("[A-Z0-9]{3}", 2),
        prop::option::of(line()),
        prop::option::of(0..=MAX_MASS_MG),
        prop::option::of(dimensions),
    )
        .prop_map(|(name, images, source, export, auxiliary, tsdc, material, mass_mg, outer_dimensions)| Part {
            name,
            images,
            source,
            export,
            auxiliary,
            tsdc,
            material,
            mass_mg,
            outer_dimensions,
        })
}

fn random_manifest() -> impl Strategy<Value = Manifest> {
    let levels = (
        prop::option::of(prop::sample::select(&TechnologyReadiness::ALL[..])),
        prop::option::of(prop::sample::select(&DocumentationReadiness::ALL[..])),
    );
    let languages = list(
        prop::sample::select(&["en", "en-GB", "de-CH", "pt-BR", "zh-Hant-TW", "x-klingon"][..]).prop_map(str::to_owned),
        3,
    );
    let urls = (
        prop::option::of("https://example\\.org/[a-z]{1,10}"),
        prop::option::of(reference()),
        prop::option::of("http://example\\.net/[a-z]{1,10}"),
    );
    (
        (line(), prop::option::of(line()), prop::option::of(paragraph()), license()),
        (list(line(), 2), list(line(), 2), set("[a-z0-9][a-z0-9 -]{0,12}[a-z0-9]", 4)),
        (list(reference(), 3), list(reference(), 2), list(reference(), 2), list(reference(), 2), list(reference(), 2)),
        (languages, levels, urls),
        prop::collection::vec(random_part(), 0..=3),
    )
        .prop_map(|(text, people, files, meta, parts)| {
            let (name, version, function, license) = text;
            let (licensors, organizations, keywords) = people;
            let (images, readme, bom, manufacturing_instructions, user_manual) = files;
            let (documentation_languages, (technology_readiness_level, documentation_readiness_level), urls) = meta;
            let (repo, release, fork_of) = urls;
            let mut parts: Vec<Part> = parts;
            let mut names = std::collections::HashSet::new();
            parts.retain(|p| names.insert(p.name.clone()));
            Manifest {
                name,
                version,
                function,
                license,
                licensors,
                organizations,
                keywords,
                images,
                readme,
                bom,
                manufacturing_instructions,
                user_manual,
                documentation_languages,
                technology_readiness_level,
                documentation_readiness_level,
                repo,
                release,
                parts,
                fork_of,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_manifests_round_trip_canonically(m in random_manifest()) {
        prop_assert_eq!(m.check(), Ok(()));
        let bytes = m.encode();
        let decoded = Manifest::decode(&bytes);
        prop_assert_eq!(decoded.as_ref(), Ok(&m));
        prop_assert_eq!(decoded.map(|d| d.encode()), Ok(bytes));
        prop_assert_eq!(Manifest::from_value(&m.to_value()), Ok(m.clone()));
        prop_assert_eq!(Manifest::from_okh_toml(&m.to_okh_toml()), Ok(m));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoding_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Manifest::decode(&bytes);
    }

    #[test]
    fn decoding_a_corrupted_manifest_never_panics(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = full_manifest().encode();
        let i = index.index(bytes.len());
        bytes[i] = byte;
        if let Ok(m) = Manifest::decode(&bytes) {
            // Whatever still decodes is canonical.
            prop_assert_eq!(m.encode(), bytes);
        }
    }

    #[test]
    fn reading_any_okh_text_never_panics(text in "(?s).{0,300}") {
        let _ = Manifest::from_okh_toml(&text);
        let _ = Manifest::from_okh_v1_yaml(&text);
    }
}
