//! `spec/limits.md` lists every constant of `src/limits.rs` with its value.
//!
//! The source is read as text so that a constant added to the code without
//! being documented fails this test.

use std::collections::BTreeMap;

/// `pub const NAME: TYPE = EXPR;` with EXPR a product of integers and of
/// constants defined earlier.
fn constants_in_source() -> BTreeMap<String, u64> {
    let source = include_str!("../src/limits.rs");
    let mut constants = BTreeMap::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("pub const ") else { continue };
        let (name, rest) = rest.split_once(':').expect("pub const NAME: TYPE = EXPR;");
        let (_, expr) = rest.split_once('=').expect("a value");
        let value = expr
            .trim()
            .trim_end_matches(';')
            .split('*')
            .map(|factor| {
                let factor = factor.trim().replace('_', "");
                factor
                    .parse::<u64>()
                    .ok()
                    .or_else(|| constants.get(&factor).copied())
                    .unwrap_or_else(|| panic!("cannot evaluate {factor:?} in the value of {name}"))
            })
            .product();
        constants.insert(name.trim().to_owned(), value);
    }
    constants
}

/// Rows of the form "| `NAME` | VALUE | ..." with VALUE digits, possibly
/// with thousands separators.
fn constants_in_spec() -> BTreeMap<String, u64> {
    let spec = include_str!("../../spec/limits.md");
    spec.lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            let value: String = cells.next()?.chars().filter(|c| c.is_ascii_digit()).collect();
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn every_limit_is_in_the_spec_with_its_value() {
    let source = constants_in_source();
    assert!(source.len() > 10, "parsed too few constants: {source:?}");
    assert_eq!(constants_in_spec(), source, "spec/limits.md and src/limits.rs disagree");
}

#[test]
fn parsed_values_match_the_compiled_constants() {
    use communs_protocol::limits::*;
    let source = constants_in_source();
    assert_eq!(source["MAX_EVENT_BYTES"], MAX_EVENT_BYTES as u64);
    assert_eq!(source["MAX_BLOB_BYTES"], MAX_BLOB_BYTES);
    assert_eq!(source["MAX_TREE_BYTES"], MAX_TREE_BYTES as u64);
}
