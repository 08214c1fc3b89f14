//! SPDX license expressions, as designs declare them.
//!
//! A design's license decides what others may do with it, so a typo in it
//! ("CERN-OHL-S-2" for "CERN-OHL-S-2.0") must be caught when publishing,
//! not discovered by a lawyer. Expressions are parsed with the `spdx`
//! crate against the SPDX license list it embeds.
//!
//! Whether an expression is valid decides whether a signed event is, so
//! every node must answer alike: the list version is part of the protocol
//! ([`SPDX_LIST_VERSION`], which a test holds the crate to), and the
//! characters allowed do not depend on any Unicode table.

/// The SPDX license list that decides which identifiers exist and which
/// are deprecated (spec/events.md). Another version accepts other events:
/// changing it is a protocol change.
pub const SPDX_LIST_VERSION: &str = "3.29.0";

/// Why a string is not an SPDX license expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{expression:?} is not a valid SPDX license expression: {detail}")]
pub struct LicenseError {
    pub expression: String,
    pub detail: String,
}

/// Checks an SPDX expression (`CERN-OHL-S-2.0`, `MIT OR Apache-2.0`,
/// `LicenseRef-…` for licenses outside the list).
pub fn check_expression(expression: &str) -> Result<(), LicenseError> {
    let error = |detail: String| LicenseError { expression: expression.to_owned(), detail };
    if expression.trim() != expression || expression.is_empty() {
        return Err(error("empty, or surrounded by spaces".to_owned()));
    }
    // SPDX terms and operators are ASCII. The parser would also take tabs,
    // line breaks and every other Unicode space between them: control
    // characters in a text shown on one line, and a validity that depends
    // on the Unicode tables of whoever checks.
    if let Some(c) = expression.chars().find(|c| !matches!(c, ' '..='~')) {
        return Err(error(format!("holds {c:?}: only printable ASCII and spaces are allowed")));
    }
    let parsed = spdx::Expression::parse(expression).map_err(|e| error(e.reason.to_string()))?;
    // The parser refuses deprecated license ids but lets deprecated
    // exceptions and empty `LicenseRef-` / `AdditionRef-` names through;
    // SPDX allows neither.
    for requirement in parsed.requirements() {
        if let spdx::LicenseItem::Other(r) = &requirement.req.license
            && (r.lic_ref.is_empty() || r.doc_ref.as_deref() == Some(""))
        {
            return Err(error("a LicenseRef- or DocumentRef- with an empty name".to_owned()));
        }
        match &requirement.req.addition {
            Some(spdx::AdditionItem::Spdx(exception)) if exception.is_deprecated() => {
                return Err(error(format!("the exception {} is deprecated", exception.name)));
            }
            Some(spdx::AdditionItem::Other(r)) if r.add_ref.is_empty() || r.doc_ref.as_deref() == Some("") => {
                return Err(error("an AdditionRef- or DocumentRef- with an empty name".to_owned()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Hardware licenses that require derivatives to stay under the same
/// terms, which the SPDX list does not flag as copyleft.
const RECIPROCAL_HARDWARE: &[&str] =
    &["CERN-OHL-S-2.0", "CERN-OHL-W-2.0", "CERN-OHL-1.1", "CERN-OHL-1.2", "TAPR-OHL-1.0"];

/// The share-alike (copyleft, reciprocal) licenses an expression names:
/// CERN-OHL-S, CC-BY-SA, GPL… A remix of a design under any of them must
/// keep the design's license. Empty if the expression does not parse.
pub fn share_alike_licenses(expression: &str) -> Vec<String> {
    let Ok(parsed) = spdx::Expression::parse(expression) else { return Vec::new() };
    let mut found: Vec<String> = parsed
        .requirements()
        .filter_map(|r| match &r.req.license {
            spdx::LicenseItem::Spdx { id, .. } if id.is_copyleft() || RECIPROCAL_HARDWARE.contains(&id.name) => {
                Some(id.name.to_owned())
            }
            _ => None,
        })
        .collect();
    found.sort();
    found.dedup();
    found
}
