//! Paths and trees: the table of spec/vectors/paths.json, the tree vectors,
//! and round trips of random trees.

mod support;

use communs_protocol::path::{LOWERCASE_UNICODE_VERSION, NFC_UNICODE_VERSION};
use communs_protocol::tree::TREE_VERSION;
use communs_protocol::{Tree, TreeEntry, ValidatedPath, cbor, cbor::Value, hash::BlobHash};
use proptest::prelude::*;
use serde_json::json;

#[test]
fn path_table_from_the_spec() {
    let v = support::load("paths.json");
    for case in v["valid"].as_array().expect("valid") {
        let path = support::str_field(case, "path");
        let normalized = ValidatedPath::normalize(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(normalized.as_str(), support::str_field(case, "normalized"));
        assert_eq!(ValidatedPath::new(normalized.as_str()).as_ref(), Ok(&normalized));
    }
    for case in v["invalid"].as_array().expect("invalid") {
        let path = support::str_field(case, "path");
        let reason = support::str_field(case, "reason");
        let strict = ValidatedPath::new(path).expect_err(path);
        assert_eq!(strict.reason(), reason, "{path:?}: {strict}");
        if case["strict"].as_bool() != Some(true) {
            let normalizing = ValidatedPath::normalize(path).expect_err(path);
            assert_eq!(normalizing.reason(), reason, "{path:?}: {normalizing}");
        }
    }
}

fn entry(path: &str, content: &[u8], executable: bool) -> TreeEntry {
    TreeEntry {
        path: ValidatedPath::new(path).expect("valid path"),
        blob: BlobHash::of(content),
        size: content.len() as u64,
        executable,
    }
}

fn sample_tree() -> Tree {
    Tree::new(vec![
        entry("visor/visor-template.svg", b"<svg/>", false),
        entry("README.md", b"# Face shield\n", false),
        entry("cad/headband.scad", b"cube(10);\n", false),
        entry("tools/export.sh", b"#!/bin/sh\n", true),
    ])
    .expect("valid tree")
}

/// Canonical encodings of entry lists that break a tree rule.
fn raw_tree(paths: &[&str]) -> Vec<u8> {
    let entries = paths
        .iter()
        .map(|p| {
            Value::Array(vec![
                Value::Text((*p).to_owned()),
                Value::Bytes(vec![0; 32]),
                Value::Integer(1.into()),
                Value::Bool(false),
            ])
        })
        .collect();
    cbor::encode(&Value::Array(vec![Value::Integer(TREE_VERSION.into()), Value::Array(entries)]))
}

fn generated() -> serde_json::Value {
    let tree = sample_tree();
    let rejected = [
        ("path escaping the checkout", raw_tree(&["../../.bashrc"]), "dot-segment"),
        ("absolute path", raw_tree(&["/etc/cron.d/x"]), "absolute"),
        ("entries out of order", raw_tree(&["b", "a"]), "not-sorted"),
        ("the same path twice", raw_tree(&["a", "a"]), "not-sorted"),
        ("two files differing only by case", raw_tree(&["README.md", "readme.md"]), "case-collision"),
        ("two folders differing only by case", raw_tree(&["Docs/a", "docs/b"]), "case-collision"),
        ("a file that is also a folder", raw_tree(&["cad", "cad/x.scad"]), "file-folder-conflict"),
        ("a git hook", raw_tree(&[".git/hooks/pre-commit"]), "reserved-control-folder"),
        ("two files differing only by case outside ASCII", raw_tree(&["Ä.txt", "ä.txt"]), "case-collision"),
        (
            "full lowercase mapping: U+0130 lowercases to i and U+0307",
            raw_tree(&["i\u{307}.txt", "\u{130}.txt"]),
            "case-collision",
        ),
        ("final sigma: ΟΔΟΣ lowercases to οδος", raw_tree(&["ΟΔΟΣ", "οδος"]), "case-collision"),
        ("final sigma in a folder name", raw_tree(&["ΟΔΟΣ/a", "οδος/b"]), "case-collision"),
        (
            "unknown tree version",
            {
                let mut b = raw_tree(&["a"]);
                b[1] = 0x02;
                b
            },
            "unknown-version",
        ),
    ];
    json!({
        "description": "Trees (spec/trees.md). 'hex' is the canonical encoding of 'entries'; 'blob' is its BLAKE3 hash, under which the tree is stored.",
        "accepted": [{
            "entries": tree.entries().iter().map(|e| json!({
                "path": e.path.as_str(), "blob": e.blob.to_string(), "size": e.size, "executable": e.executable,
            })).collect::<Vec<_>>(),
            "hex": hex::encode(tree.encode()),
            "blob": tree.hash().to_string(),
        }],
        "rejected": rejected.iter().map(|(name, bytes, reason)| json!({
            "name": name, "hex": hex::encode(bytes), "reason": reason,
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn spec_vectors_match_the_code() {
    support::check_or_bless("tree.json", &generated());
}

#[test]
fn the_unicode_versions_are_those_the_spec_names() {
    // Another version may judge a path with a newly assigned character
    // otherwise: a crate or compiler update that changes them must come
    // with a spec change.
    let version = |(a, b, c): (u8, u8, u8)| format!("{a}.{b}.{c}");
    let v = support::load("paths.json");
    assert_eq!(unicode_normalization::UNICODE_VERSION, NFC_UNICODE_VERSION, "NFC tables");
    assert_eq!(char::UNICODE_VERSION, LOWERCASE_UNICODE_VERSION, "the standard library's lowercase mapping");
    assert_eq!(v["unicode"]["nfc"], version(NFC_UNICODE_VERSION));
    assert_eq!(v["unicode"]["lowercase"], version(LOWERCASE_UNICODE_VERSION));
}

#[test]
fn stored_tree_vectors_decode_or_fail_for_their_reason() {
    let v = support::load("tree.json");
    for case in v["accepted"].as_array().expect("accepted") {
        let bytes = support::unhex(support::str_field(case, "hex"));
        let tree = Tree::decode(&bytes).expect("accepted tree decodes");
        assert_eq!(tree.hash().to_string(), support::str_field(case, "blob"));
        assert_eq!(tree.encode(), bytes);
    }
    for case in v["rejected"].as_array().expect("rejected") {
        let bytes = support::unhex(support::str_field(case, "hex"));
        let err = Tree::decode(&bytes).expect_err(support::str_field(case, "name"));
        assert_eq!(err.reason(), support::str_field(case, "reason"), "{}: {err}", case["name"]);
    }
}

#[test]
fn building_a_tree_sorts_entries_and_refuses_collisions() {
    let tree = sample_tree();
    let paths: Vec<_> = tree.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["README.md", "cad/headband.scad", "tools/export.sh", "visor/visor-template.svg"]);
    let err = Tree::new(vec![entry("Cad/a.scad", b"", false), entry("cad/b.scad", b"", false)]).unwrap_err();
    assert_eq!(err.reason(), "case-collision", "{err}");
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let mut big = entry("scan.ply", b"", false);
    big.size = communs_protocol::limits::MAX_BLOB_BYTES + 1;
    assert_eq!(Tree::new(vec![big]).unwrap_err().reason(), "file-too-large");
}

fn segment() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,8}(\\.[a-z]{1,3})?"
}

fn arbitrary_tree() -> impl Strategy<Value = Tree> {
    proptest::collection::btree_map(
        proptest::collection::vec(segment(), 1..4).prop_map(|s| s.join("/")),
        (any::<[u8; 4]>(), any::<u32>(), any::<bool>()),
        0..20,
    )
    .prop_filter_map("no file/folder or case conflicts", |files| {
        let entries = files
            .into_iter()
            .filter_map(|(path, (content, size, executable))| {
                Some(TreeEntry {
                    path: ValidatedPath::new(&path).ok()?,
                    blob: BlobHash::of(&content),
                    size: size.into(),
                    executable,
                })
            })
            .collect();
        Tree::new(entries).ok()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn trees_round_trip_and_encode_canonically(tree in arbitrary_tree()) {
        let bytes = tree.encode();
        let decoded = Tree::decode(&bytes).expect("a built tree decodes");
        prop_assert_eq!(&decoded, &tree);
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn arbitrary_strings_never_panic_path_validation(s in "\\PC{0,40}") {
        if let Ok(p) = ValidatedPath::normalize(&s) {
            prop_assert!(!p.segments().any(|seg| seg == ".." || seg.is_empty()));
        }
    }
}
