//! Progress bars on stderr for long work, only when a person watches.

use std::io::IsTerminal;

use communs_node::progress::{NoProgress, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// Below this much work a bar would only flicker.
const MIN_BYTES: u64 = 32 * 1024 * 1024;
const MIN_FILES: usize = 500;

/// A bar that appears once the work is known to be large, on a terminal,
/// outside `--json` mode.
pub(crate) struct Bar {
    bar: std::sync::OnceLock<ProgressBar>,
    verb: &'static str,
}

impl Bar {
    pub(crate) fn new(verb: &'static str) -> Bar {
        Bar { bar: std::sync::OnceLock::new(), verb }
    }
}

impl Progress for Bar {
    fn start(&self, bytes: u64, items: usize) {
        // More work found (a sync reads its designs' trees a batch at a time).
        if let Some(bar) = self.bar.get() {
            bar.set_length(bytes);
            return;
        }
        if bytes < MIN_BYTES && items < MIN_FILES {
            return;
        }
        let bar = ProgressBar::new(bytes);
        let template = format!("{} {{bar:40}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}", self.verb);
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        let _ = self.bar.set(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.bar.get() {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

/// A bar for `verb` when one may be shown, else nothing.
pub(crate) fn for_work(verb: &'static str, json: bool) -> Box<dyn Progress> {
    if json || !std::io::stderr().is_terminal() { Box::new(NoProgress) } else { Box::new(Bar::new(verb)) }
}
