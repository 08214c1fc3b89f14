//! How results and errors reach a person or a script.
//!
//! Only this module knows whether we print text or JSON, and whether the
//! command runs in this process or in a running node on behalf of a CLI
//! (then what would be printed is captured and sent back to it).

use std::sync::Mutex;

use serde_json::{Value, json};

pub(crate) struct Output {
    json: bool,
    captured: Option<Mutex<Captured>>,
}

/// What a command run inside a node would have printed.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Captured {
    pub stdout: String,
    pub warnings: Vec<String>,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Output { json, captured: None }
    }

    /// An output that keeps what it is given, for [`Output::into_captured`].
    pub(crate) fn capture(json: bool) -> Self {
        Output { json, captured: Some(Mutex::new(Captured::default())) }
    }

    pub(crate) fn into_captured(self) -> Captured {
        self.captured.and_then(|c| c.into_inner().ok()).unwrap_or_default()
    }

    /// Prints `value` as JSON, or the text `human` builds.
    pub(crate) fn print(&self, value: Value, human: impl FnOnce() -> String) {
        let line = if self.json { value.to_string() } else { human() };
        match &self.captured {
            Some(captured) => {
                if let Ok(mut captured) = captured.lock() {
                    captured.stdout.push_str(&line);
                    captured.stdout.push('\n');
                }
            }
            None => println!("{line}"),
        }
    }

    /// Prints what a node captured for us.
    pub(crate) fn replay(&self, captured: Captured) {
        for warning in &captured.warnings {
            self.warn(warning);
        }
        print!("{}", captured.stdout);
    }

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// No progress bars: the output is for a script, or for another process.
    pub(crate) fn quiet(&self) -> bool {
        self.json || self.captured.is_some()
    }

    /// A warning on stderr (in JSON mode, results also carry them).
    pub(crate) fn warn(&self, warning: &str) {
        match &self.captured {
            Some(captured) => {
                if let Ok(mut captured) = captured.lock() {
                    captured.warnings.push(warning.to_owned());
                }
            }
            None if !self.json => eprintln!("warning: {warning}"),
            None => {}
        }
    }

    /// Reports an error on stderr, with its chain of causes, each once.
    pub(crate) fn error(&self, error: &anyhow::Error) {
        let messages = messages(error);
        if self.json {
            eprintln!("{}", json!({ "error": messages[0], "causes": messages[1..] }));
        } else {
            eprintln!("error: {}", messages.join(": "));
        }
    }
}

/// The message of an error, then those of its causes that it does not
/// already say. Many errors end their message with their cause's (a
/// `{source}` in a thiserror message) and also return it as their
/// `source()`: printed whole, the chain would say it twice or more. Never
/// empty.
pub(crate) fn messages(error: &anyhow::Error) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if messages.last().is_some_and(|previous| previous.ends_with(&text)) {
            continue;
        }
        messages.push(text);
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::messages;

    #[derive(Debug, thiserror::Error)]
    enum Inner {
        #[error("nesting deeper than 16 at byte 16")]
        Deep,
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("event 3 is invalid: {source}")]
        Says { source: Inner },
        #[error("event 3 is invalid")]
        Hides(#[source] Inner),
    }

    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        let says = anyhow::Error::new(Outer::Says { source: Inner::Deep }).context("b.communs");
        assert_eq!(messages(&says), ["b.communs", "event 3 is invalid: nesting deeper than 16 at byte 16"]);
        let hides = anyhow::Error::new(Outer::Hides(Inner::Deep));
        assert_eq!(messages(&hides), ["event 3 is invalid", "nesting deeper than 16 at byte 16"]);
    }
}
