//! How results and errors reach a person or a script.
//!
//! Only this module knows whether we print text or JSON.

use serde::Serialize;
use serde_json::json;

pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Output { json }
    }

    /// Prints `value` as one line of JSON (keys sorted), or the text
    /// `human` builds.
    pub(crate) fn show<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
        let line = if self.json { serde_json::to_value(value)?.to_string() } else { human() };
        println!("{line}");
        Ok(())
    }

    /// No progress bars: the output is for a script.
    pub(crate) fn quiet(&self) -> bool {
        self.json
    }

    /// A warning on stderr (in JSON mode, results also carry them).
    pub(crate) fn warn(&self, warning: &str) {
        if !self.json {
            eprintln!("warning: {warning}");
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
/// already say (`communs_node::service::messages`). Never empty.
pub(crate) fn messages(error: &anyhow::Error) -> Vec<String> {
    communs_node::service::messages(error.as_ref())
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
