//! License expressions: which are valid in a signed event (a genesis
//! `license`, a manifest's licenses), as spec/vectors/license.json lists
//! them, against the SPDX list version the spec names.

mod support;

use communs_protocol::license::{SPDX_LIST_VERSION, check_expression};
use communs_protocol::limits::MAX_LICENSE_BYTES;
use communs_protocol::manifest::License;
use communs_protocol::{Body, Genesis, Manifest, SignedEvent, UnsignedEvent};
use serde_json::json;
use support::{TIME, key};

const ACCEPTED: &[(&str, &str)] = &[
    ("CERN-OHL-S-2.0", "one identifier of the list"),
    ("MIT OR Apache-2.0", "OR"),
    ("MIT or Apache-2.0", "operators all lowercase"),
    ("CERN-OHL-P-2.0 and CC-BY-4.0", "AND, lowercase"),
    ("(CERN-OHL-W-2.0 OR CC-BY-SA-4.0) AND MIT", "parentheses; AND binds tighter than OR"),
    ("((MIT))", "redundant parentheses"),
    ("MIT OR(Apache-2.0)", "no space needed next to a parenthesis"),
    ("MIT  OR   Apache-2.0", "several spaces between terms"),
    ("Apache-2.0+", "`+` (or later) after a license that is not GNU"),
    ("GPL-3.0-or-later", "GNU licenses say -only or -or-later instead of `+`"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", "an exception of the list"),
    ("Apache-2.0+ with LLVM-exception", "`+` then WITH, lowercase"),
    ("MIT WITH LLVM-exception", "any exception after any license: pairs are not checked"),
    ("LicenseRef-my-license.1", "a license outside the list"),
    ("DocumentRef-spdx-doc:LicenseRef-custom", "a license of another SPDX document"),
    ("LicenseRef-a WITH AdditionRef-b", "an exception outside the list"),
];

const REJECTED: &[(&str, &str)] = &[
    ("", "empty"),
    (" MIT", "leading space"),
    ("MIT ", "trailing space"),
    ("MIT\tOR Apache-2.0", "a tab between terms"),
    ("MIT\nOR Apache-2.0", "a line feed between terms"),
    ("MIT\u{a0}OR Apache-2.0", "a no-break space between terms"),
    ("mit", "identifiers are case-sensitive"),
    ("cern-ohl-s-2.0", "identifiers are case-sensitive"),
    ("MIT Or Apache-2.0", "operators are all uppercase or all lowercase"),
    ("CERN-OHL-S-2", "not an identifier of the list"),
    ("Apache2", "imprecise names are not mapped to identifiers"),
    ("GPL-3.0", "deprecated identifier"),
    ("GPL-2.0+", "deprecated identifier, with `+`"),
    ("GPL-3.0-only+", "`+` after a GNU license"),
    ("GPL-3.0-or-later+", "`+` after a GNU license"),
    ("MIT +", "a space before `+`"),
    ("LicenseRef-mine+", "`+` after a LicenseRef"),
    ("MIT WITH Apache-2.0", "a license after WITH"),
    ("MIT WITH my-exception", "an unknown exception"),
    ("GPL-2.0-only WITH Nokia-Qt-exception-1.1", "deprecated exception"),
    ("LLVM-exception", "an exception alone"),
    ("MIT/Apache-2.0", "`/` for OR"),
    ("MIT Apache-2.0", "two licenses without an operator"),
    ("MIT OR", "an operator without its right-hand side"),
    ("(MIT", "unclosed parenthesis"),
    ("MIT)", "unopened parenthesis"),
    ("()", "empty parentheses"),
    ("LicenseRef-", "an empty LicenseRef name"),
    ("DocumentRef-:LicenseRef-x", "an empty DocumentRef name"),
    ("MIT WITH AdditionRef-", "an empty AdditionRef name"),
    ("LicenseRef-ü", "a character outside ASCII"),
];

/// Over `MAX_LICENSE_BYTES`, though valid SPDX: refused by its length first.
fn too_long() -> String {
    format!("LicenseRef-{}", "a".repeat(MAX_LICENSE_BYTES + 1 - "LicenseRef-".len()))
}

fn genesis_with(license: &str) -> Result<SignedEvent, communs_protocol::EventError> {
    UnsignedEvent {
        design: None,
        author: key(1).author(),
        parents: vec![],
        clock: 0,
        time: TIME,
        body: Body::Genesis(Genesis {
            name: "Face shield headband".to_owned(),
            maintainers: vec![key(1).author()],
            threshold: 1,
            license: license.to_owned(),
            fork_of: None,
            nonce: [7; 16],
        }),
    }
    .sign(&key(1))
}

fn manifest_with(license: &str) -> Result<(), communs_protocol::manifest::ManifestError> {
    Manifest::minimal("Face shield headband", License::all(license)).check()
}

/// Why each path in refuses an expression: the reason of a genesis, and
/// of a manifest.
fn reasons(expression: &str) -> (&'static str, &'static str) {
    let event = genesis_with(expression).expect_err(expression).reason();
    let manifest = manifest_with(expression).expect_err(expression).reason();
    (event, manifest)
}

fn generated() -> serde_json::Value {
    let too_long = too_long();
    let rejected = REJECTED.iter().map(|(e, why)| (*e, *why)).chain([(too_long.as_str(), "over MAX_LICENSE_BYTES")]);
    json!({
        "description": "License expressions (spec/events.md, License expressions). Each 'accepted' expression is valid as a genesis license and in a manifest; each 'rejected' one is refused, with 'event_reason' in a genesis and 'manifest_reason' in a manifest.",
        "spdx_list_version": SPDX_LIST_VERSION,
        "accepted": ACCEPTED.iter().map(|(e, why)| json!({ "expression": e, "why": why })).collect::<Vec<_>>(),
        "rejected": rejected.map(|(e, why)| {
            let (event, manifest) = reasons(e);
            json!({ "expression": e, "why": why, "event_reason": event, "manifest_reason": manifest })
        }).collect::<Vec<_>>(),
    })
}

#[test]
fn spec_vectors_match_the_code() {
    support::check_or_bless("license.json", &generated());
}

#[test]
fn stored_vectors_are_accepted_or_refused_for_their_reason() {
    let v = support::load("license.json");
    assert_eq!(v["spdx_list_version"], SPDX_LIST_VERSION);
    for case in v["accepted"].as_array().expect("accepted") {
        let expression = support::str_field(case, "expression");
        check_expression(expression).unwrap_or_else(|e| panic!("{e}"));
        let genesis = genesis_with(expression).unwrap_or_else(|e| panic!("{expression:?}: {e}"));
        SignedEvent::decode(genesis.bytes()).unwrap_or_else(|e| panic!("{expression:?}: {e}"));
        manifest_with(expression).unwrap_or_else(|e| panic!("{expression:?}: {e}"));
    }
    for case in v["rejected"].as_array().expect("rejected") {
        let expression = support::str_field(case, "expression");
        let (event, manifest) = reasons(expression);
        assert_eq!(event, support::str_field(case, "event_reason"), "{expression:?}");
        assert_eq!(manifest, support::str_field(case, "manifest_reason"), "{expression:?}");
    }
}

#[test]
fn the_spdx_list_is_the_version_the_spec_names() {
    // A dependency update that brings another list changes which events
    // are valid: it must come with a spec change, not silently.
    assert_eq!(spdx::license_version(), SPDX_LIST_VERSION);
}
