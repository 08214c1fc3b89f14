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
