//! PLACEHOLDER being replaced by the manifest work in progress.
use crate::cbor::{DecodeError, Value, canonical_map, text, text_value};
use crate::limits::MAX_NAME_BYTES;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl ManifestError {
    pub fn reason(&self) -> &'static str {
        match self {
            ManifestError::Decode(e) => e.reason(),
        }
    }
}

impl Manifest {
    pub fn from_okh_toml(_text: &str) -> Result<Manifest, ManifestError> {
        Ok(Manifest { name: "placeholder".into() })
    }

    pub fn check(&self) -> Result<(), ManifestError> {
        Ok(())
    }

    pub fn to_value(&self) -> Value {
        canonical_map(vec![(text_value("name"), text_value(&self.name))])
    }

    pub fn from_value(value: &Value) -> Result<Manifest, ManifestError> {
        let Value::Map(entries) = value else {
            return Err(DecodeError::Shape { field: "manifest", expected: "a map" }.into());
        };
        let name =
            entries.first().map(|(_, v)| text(v, "manifest.name", MAX_NAME_BYTES)).transpose()?.unwrap_or_default();
        Ok(Manifest { name: name.to_owned() })
    }
}
