//! Where `communs node run` logs: stderr, as plain lines for a terminal or
//! a file, or, when stderr is journald's stream (systemd sets
//! `JOURNAL_STREAM` to its device and inode), as sd-daemon(3) lines: a
//! `<N>` priority prefix that journald turns into the entry's level, and
//! no timestamp, since journald stamps each entry itself.

use std::fmt::Write as _;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The levels shown unless `RUST_LOG` says otherwise: gossipsub and
/// Kademlia report every routine hiccup at info, and Kademlia's automatic
/// bootstrap warns "No known peers" on every start of a node alone (an
/// operator's journal then opens with a warning about nothing; `node
/// status` says "no peer ever connected").
const DEFAULT_FILTER: &str = "info,libp2p_gossipsub=warn,libp2p_kad=warn,libp2p_kad::behaviour=error";

/// Installs the process's subscriber (a second call does nothing).
pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if stderr_is_journal() {
        let _ = builder.with_ansi(false).event_format(Journald).try_init();
    } else {
        // Colours only for a person at a terminal, and never with NO_COLOR.
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let _ = builder.with_ansi(colour).try_init();
    }
}

/// Whether stderr is the stream systemd connected to journald. Only the
/// same device and inode count: a service that redirects its stderr
/// elsewhere inherits `JOURNAL_STREAM` all the same.
fn stderr_is_journal() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Some(value) = std::env::var_os("JOURNAL_STREAM") else { return false };
        let stderr = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned().map(std::fs::File::from);
        match stderr.and_then(|file| file.metadata()) {
            Ok(meta) => names_stream(&value.to_string_lossy(), meta.dev(), meta.ino()),
            Err(_) => false,
        }
    }
    #[cfg(not(unix))]
    false
}

/// `JOURNAL_STREAM` is `DEVICE:INODE`, both in decimal.
fn names_stream(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.split_once(':') else { return false };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

/// sd-daemon(3)'s priority of a level (syslog's numbers).
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// One event as `<N>target: message fields`. journald makes an entry of
/// each line, so every line of a message carries the prefix.
struct Journald;

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let metadata = event.metadata();
        let mut text = String::new();
        write!(text, "{}: ", metadata.target())?;
        ctx.field_format().format_fields(Writer::new(&mut text), event)?;
        let prefix = priority(*metadata.level());
        for line in text.lines() {
            writeln!(writer, "<{prefix}>{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{Journald, names_stream};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn journald_lines_carry_the_level_as_a_priority_prefix_and_no_timestamp() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .event_format(Journald)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!("the store is damaged");
            tracing::warn!(peer = 7, "a peer sent garbage");
            tracing::info!("listening");
            tracing::debug!("a detail");
            tracing::trace!("a finer detail");
            tracing::info!("first line\nsecond line");
        });
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        let target = module_path!();
        let expected = [
            format!("<3>{target}: the store is damaged"),
            format!("<4>{target}: a peer sent garbage peer=7"),
            format!("<6>{target}: listening"),
            format!("<7>{target}: a detail"),
            format!("<7>{target}: a finer detail"),
            format!("<6>{target}: first line"),
            "<6>second line".to_owned(),
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn the_journal_stream_is_recognised_by_device_and_inode_only() {
        assert!(names_stream("8:1234", 8, 1234));
        assert!(!names_stream("8:1234", 8, 1235), "another inode");
        assert!(!names_stream("9:1234", 8, 1234), "another device");
        assert!(!names_stream("8", 8, 1234));
        assert!(!names_stream("", 8, 1234));
        assert!(!names_stream("x:y", 8, 1234));
    }
}
