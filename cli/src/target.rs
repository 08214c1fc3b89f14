//! `DESIGN[@REVISION]` arguments.

use std::str::FromStr;

use communs_protocol::{DesignId, EventId};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub(crate) design: DesignId,
    pub(crate) revision: Option<EventId>,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (design, revision) = match s.split_once('@') {
            Some((d, r)) => (d, Some(r)),
            None => (s, None),
        };
        Ok(Target {
            design: design.parse().map_err(|e| format!("{e}"))?,
            revision: revision.map(str::parse).transpose().map_err(|e| format!("after @: {e}"))?,
        })
    }
}
