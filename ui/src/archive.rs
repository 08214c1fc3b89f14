//! Zip archives: a revision's files as one download, and a folder uploaded
//! as one archive to publish. An archive from the browser is untrusted:
//! names that climb out or are absolute, links, too many entries or too
//! many bytes (counted as they inflate, not as declared) are refused.

use std::io::{Read, Seek, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;

/// Entries of an uploaded archive.
pub(crate) const MAX_ARCHIVE_ENTRIES: usize = 100_000;
/// Bytes an uploaded archive inflates to.
pub(crate) const MAX_ARCHIVE_BYTES: u64 = 4 << 30;
/// Files larger than this go into a download uncompressed: deflating a
/// gigabyte would hold the request for a minute for little gain.
const MAX_DEFLATED_BYTES: u64 = 64 << 20;
/// Extensions of files already compressed, stored as they are.
const COMPRESSED: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "zip", "3mf", "gz", "xz", "zst", "7z", "pdf"];

#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    #[error("the archive is not a readable zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the archive holds {0:?}, which is not a relative path inside it")]
    BadName(String),
    #[error("the archive holds a link ({0}); publish the file it points to instead")]
    Link(String),
    #[error("the archive has more than {MAX_ARCHIVE_ENTRIES} entries")]
    TooManyEntries,
    #[error("the archive inflates to more than {MAX_ARCHIVE_BYTES} bytes")]
    TooLarge,
    #[error("the archive holds no file")]
    Empty,
}

/// Writes the files of `archive` under `into`, leaving out a top folder
/// that every entry shares (`design-main/…`).
pub(crate) fn extract(archive: &Path, into: &Path) -> Result<(), ArchiveError> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(archive)?)?;
    if zip.len() > MAX_ARCHIVE_ENTRIES {
        return Err(ArchiveError::TooManyEntries);
    }
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i)?;
        let name = entry.name()?.trim_end_matches('/').to_owned();
        if entry.is_symlink() {
            return Err(ArchiveError::Link(name));
        }
        if entry.is_dir() {
            continue;
        }
        let checked = crate::upload::relative_path(&name).ok_or_else(|| ArchiveError::BadName(name.clone()))?;
        names.push((i, checked));
    }
    if names.is_empty() {
        return Err(ArchiveError::Empty);
    }
    let top = names[0].1.split_once('/').map(|(top, _)| format!("{top}/"));
    let strip = top.filter(|top| names.iter().all(|(_, n)| n.starts_with(top.as_str())));
    let mut budget = MAX_ARCHIVE_BYTES;
    for (i, name) in names {
        let relative = strip.as_ref().map_or(name.as_str(), |top| &name[top.len()..]);
        let path = into.join(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(into))?;
        let mut out = std::fs::File::create_new(&path)?;
        let entry = zip.by_index(i)?;
        // One byte over the budget tells a bomb from an archive that fits.
        let copied = std::io::copy(&mut entry.take(budget + 1), &mut out)?;
        if copied > budget {
            return Err(ArchiveError::TooLarge);
        }
        budget -= copied;
    }
    Ok(())
}

/// A zip being written, file by file, into `out`.
pub(crate) struct ZipOut<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
}

impl<W: Write + Seek> ZipOut<W> {
    pub(crate) fn new(out: W) -> Self {
        ZipOut { zip: zip::ZipWriter::new(out) }
    }

    /// Starts the file `path` of `size` bytes: its bytes follow with
    /// [`ZipOut::write`].
    pub(crate) fn start(&mut self, path: &str, size: u64, executable: bool) -> Result<(), ArchiveError> {
        let extension = crate::pages::design::extension(path);
        let method = if size > MAX_DEFLATED_BYTES || COMPRESSED.contains(&extension.as_str()) {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(size >= u64::from(u32::MAX))
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        self.zip.start_file(path, options)?;
        Ok(())
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        Ok(self.zip.write_all(bytes)?)
    }

    pub(crate) fn finish(self) -> Result<W, ArchiveError> {
        Ok(self.zip.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = ZipOut::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            out.start(name, bytes.len() as u64, false).expect("start");
            out.write(bytes).expect("write");
        }
        out.finish().expect("finish").into_inner()
    }

    #[test]
    fn an_archive_round_trips_without_its_top_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let archive = dir.path().join("a.zip");
        std::fs::write(&archive, zip_of(&[("design-main/okh.toml", b"name"), ("design-main/parts/a.stl", b"solid")]))
            .expect("write");
        let into = dir.path().join("out");
        extract(&archive, &into).expect("extracts");
        assert_eq!(std::fs::read(into.join("okh.toml")).expect("okh"), b"name");
        assert_eq!(std::fs::read(into.join("parts/a.stl")).expect("part"), b"solid");
    }

    #[test]
    fn names_that_climb_out_are_refused_and_nothing_is_written_outside() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["../evil.txt", "/etc/evil", "a/../../evil"] {
            let archive = dir.path().join("bad.zip");
            std::fs::write(&archive, zip_of(&[(name, b"x")])).expect("write");
            let err = extract(&archive, &dir.path().join("out")).expect_err("refused");
            assert!(matches!(err, ArchiveError::BadName(_)), "{name}: {err}");
        }
        assert!(!dir.path().join("evil.txt").exists());
        let garbage = dir.path().join("garbage.zip");
        std::fs::write(&garbage, b"not a zip").expect("write");
        assert!(matches!(extract(&garbage, &dir.path().join("g")), Err(ArchiveError::Zip(_))));
    }
}
