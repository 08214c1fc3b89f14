//! Remembers the hash of files already imported, keyed by what `stat`
//! says of them, so that republishing a large unchanged folder reads
//! nothing but metadata (as git's index does).
//!
//! A hit is used only if the blob is still in the store; a file whose size,
//! modification time or inode changed is hashed again.

use std::path::Path;

use communs_protocol::{BlobHash, Hash};
use redb::{Database, ReadableDatabase, TableDefinition};

/// Absolute path -> (size, mtime seconds, mtime nanoseconds, inode, hash).
const FILES: TableDefinition<&str, (u64, i64, u32, u64, &[u8; 32])> = TableDefinition::new("files");

/// How recent a modification must be for its stamp not to be trusted.
pub(crate) const RACY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

pub(crate) struct FileCache {
    db: Database,
}

/// What `stat` says of a file, as far as a change detector cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub size: u64,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    pub inode: u64,
}

impl FileStamp {
    fn modified(&self) -> std::time::Duration {
        std::time::Duration::new(u64::try_from(self.mtime_secs).unwrap_or(0), self.mtime_nanos)
    }

    pub(crate) fn of(meta: &std::fs::Metadata) -> Option<FileStamp> {
        let modified = meta.modified().ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            size: meta.len(),
            mtime_secs: i64::try_from(since.as_secs()).ok()?,
            mtime_nanos: since.subsec_nanos(),
            inode,
        })
    }
}

impl FileCache {
    pub(crate) fn open(path: &Path) -> Result<Self, redb::Error> {
        let db = Database::create(path)?;
        // A write (and its fsync) only the first time: read-only commands
        // open this file too.
        let exists = match db.begin_read()?.open_table(FILES) {
            Ok(_) => true,
            Err(redb::TableError::TableDoesNotExist(_)) => false,
            Err(e) => return Err(e.into()),
        };
        if !exists {
            let tx = db.begin_write()?;
            tx.open_table(FILES)?;
            tx.commit()?;
        }
        Ok(FileCache { db })
    }

    pub(crate) fn get(&self, path: &Path, stamp: FileStamp) -> Result<Option<BlobHash>, redb::Error> {
        let Some(key) = path.to_str() else { return Ok(None) };
        let tx = self.db.begin_read()?;
        let table = tx.open_table(FILES)?;
        Ok(table.get(key)?.and_then(|row| {
            let (size, secs, nanos, inode, hash) = row.value();
            let cached = FileStamp { size, mtime_secs: secs, mtime_nanos: nanos, inode };
            (cached == stamp).then(|| BlobHash(Hash::from_bytes(*hash)))
        }))
    }

    /// Records hashes of imported files, in one transaction. Not forced to
    /// disk: losing the cache costs only a rehash.
    ///
    /// A file modified within [`RACY_WINDOW`] of now is not recorded: a
    /// second write in the same clock tick of the file system would keep
    /// its stamp and be missed (git's "racily clean" problem).
    pub(crate) fn put(&self, entries: &[(std::path::PathBuf, FileStamp, BlobHash)]) -> Result<(), redb::Error> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let settled = now.saturating_sub(RACY_WINDOW);
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::None)?;
        {
            let mut table = tx.open_table(FILES)?;
            for (path, s, hash) in entries.iter().filter(|(_, s, _)| s.modified() < settled) {
                if let Some(key) = path.to_str() {
                    table.insert(key, (s.size, s.mtime_secs, s.mtime_nanos, s.inode, hash.as_bytes()))?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}
