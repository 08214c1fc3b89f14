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
        use std::io::Write;
        match writeln!(std::io::stdout().lock(), "{line}") {
            // The reader went away (`communs log | head`): what it did not
            // read, nobody wants. Not a failure of the command.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            written => Ok(written?),
        }
    }

    /// A file's text as it is (no line added), or, for a script,
    /// `{"file": NAME, "text": TEXT}`.
    pub(crate) fn file(&self, name: &str, text: &str) -> anyhow::Result<()> {
        if self.json {
            println!("{}", json!({ "file": name, "text": text }));
        } else {
            print!("{text}");
        }
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

    #[test]
    fn a_context_that_already_says_its_cause_is_printed_once() {
        let says = anyhow::anyhow!("nesting deeper than 16").context("event 3 is invalid: nesting deeper than 16");
        assert_eq!(messages(&says), ["event 3 is invalid: nesting deeper than 16"]);
        let hides = anyhow::anyhow!("nesting deeper than 16").context("event 3 is invalid").context("b.communs");
        assert_eq!(messages(&hides), ["b.communs", "event 3 is invalid", "nesting deeper than 16"]);
    }
}
