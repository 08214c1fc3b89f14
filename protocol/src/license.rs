//! SPDX license expressions, as designs declare them.
//!
//! A design's license decides what others may do with it, so a typo in it
//! ("CERN-OHL-S-2" for "CERN-OHL-S-2.0") must be caught when publishing,
//! not discovered by a lawyer. Expressions are parsed with the `spdx`
//! crate against the SPDX license list it embeds.

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
    spdx::Expression::parse(expression).map(|_| ()).map_err(|e| error(e.reason.to_string()))
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
