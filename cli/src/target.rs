//! `DESIGN[@REVISION]` arguments.

use std::str::FromStr;

use communs_protocol::{DesignId, EventId};

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Target {
    pub design: DesignId,
    pub revision: Option<EventId>,
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

impl From<Target> for String {
    fn from(target: Target) -> String {
        match target.revision {
            Some(revision) => format!("{}@{revision}", target.design),
            None => target.design.to_string(),
        }
    }
}

impl TryFrom<String> for Target {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}
