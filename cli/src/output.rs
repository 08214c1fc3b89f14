//! How results and errors reach a person or a script.
//!
//! Only this module knows whether we print text or JSON.

use serde_json::{Value, json};

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    /// Prints `value` as JSON, or the text `human` builds.
    pub fn print(&self, value: Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// A warning on stderr (in JSON mode, results also carry them).
    pub fn warn(&self, warning: &str) {
        if !self.json {
            eprintln!("warning: {warning}");
        }
    }

    /// Reports an error on stderr, with its chain of causes.
    pub fn error(&self, error: &anyhow::Error) {
        if self.json {
            let causes: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
            eprintln!("{}", json!({ "error": error.to_string(), "causes": causes }));
        } else {
            eprintln!("error: {error:#}");
        }
    }
}
