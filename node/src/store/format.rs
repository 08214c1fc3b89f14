//! The store's format version, and the migrations that bring an older
//! store forward (spec/storage.md, "Format versions").
//!
//! A store outlives the binary that made it: a tiers-lieu upgrades communs
//! in place and expects its years of events to open. So the layout of
//! `store/` is one number, kept in `events.redb` itself (the `meta` table's
//! `format` row, written in the same transaction as what it describes), and
//! every change of layout is one step N -> N+1 that runs inside the write
//! transaction that opens the store: a crash during a migration leaves the
//! store at N, and the next open runs it again. A store of a version this
//! binary does not know is refused before anything is written, so that a
//! downgrade never damages what a newer communs wrote.

use redb::{ReadableDatabase, TableDefinition, WriteTransaction};

/// The layout of `store/` this binary writes. 1: every store made before
/// the version was recorded (recognised by its `events` table); 2: the
/// version recorded.
pub(crate) const FORMAT_VERSION: u64 = 2;

/// The first version recorded; a store with an `events` table and no
/// `format` row is of this one.
const UNRECORDED_FORMAT: u64 = 1;

/// The `meta` table's row holding the format version.
const FORMAT_KEY: &str = "format";

/// Shared with `views.rs`, whose row beside this one says which version of
/// the derived tables the store holds.
const META: TableDefinition<&str, u64> = super::views::META;

/// Only to recognise a store made before its version was recorded.
const EVENTS: redb::TableDefinition<&[u8; 32], &[u8]> = redb::TableDefinition::new("events");

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(
        "{path}: this store is in format version {found}, written by a newer communs; this communs reads format \
         versions up to {supported}. Upgrade communs to open it (the store was left untouched)"
    )]
    Newer { path: std::path::PathBuf, found: u64, supported: u64 },
}

/// The store's format version, `None` for a database with no table yet (a
/// store being created, which gets this binary's version).
pub(crate) fn version_of(tx: &redb::ReadTransaction) -> Result<Option<u64>, redb::Error> {
    match tx.open_table(META) {
        Ok(meta) => {
            if let Some(version) = meta.get(FORMAT_KEY)? {
                return Ok(Some(version.value()));
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    match tx.open_table(EVENTS) {
        Ok(_) => Ok(Some(UNRECORDED_FORMAT)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Refuses a store of a newer version than this binary's.
pub(crate) fn refuse_newer(path: &std::path::Path, version: Option<u64>) -> Result<(), FormatError> {
    match version {
        Some(found) if found > FORMAT_VERSION => {
            Err(FormatError::Newer { path: path.to_owned(), found, supported: FORMAT_VERSION })
        }
        _ => Ok(()),
    }
}

/// Before a writer opens an existing database (which rewrites its header
/// even if nothing else changes): the version read from a read-only open.
/// A database that only a writer can open (one that needs redb's repair)
/// is checked once it is open, before the first write transaction.
pub(crate) fn check_before_writing(path: &std::path::Path) -> Result<(), super::EventStoreError> {
    if !path.exists() {
        return Ok(());
    }
    let Ok(db) = redb::ReadOnlyDatabase::open(path) else { return Ok(()) };
    let version = version_of(&db.begin_read()?)?;
    drop(db);
    Ok(refuse_newer(path, version)?)
}

/// Brings the store from `from` (`None`: a store being created) to
/// [`FORMAT_VERSION`], step by step, in the caller's write transaction.
pub(crate) fn migrate(tx: &WriteTransaction, path: &std::path::Path, from: Option<u64>) -> Result<(), redb::Error> {
    let Some(mut version) = from else {
        tx.open_table(META)?.insert(FORMAT_KEY, FORMAT_VERSION)?;
        return Ok(());
    };
    while version < FORMAT_VERSION {
        STEPS[(version - UNRECORDED_FORMAT) as usize](tx)?;
        version += 1;
        tx.open_table(META)?.insert(FORMAT_KEY, version)?;
        tracing::info!("{}: migrating the store from format version {} to {version}", path.display(), version - 1);
    }
    Ok(())
}

/// The step from version `UNRECORDED_FORMAT + i` to the next, at index
/// `i`: one per version below [`FORMAT_VERSION`], which the array's length
/// makes the compiler check. Each step changes what it must and leaves the
/// new version's `format` row to [`migrate`].
type Step = fn(&WriteTransaction) -> Result<(), redb::Error>;
const STEPS: [Step; (FORMAT_VERSION - UNRECORDED_FORMAT) as usize] = [
    // 1 -> 2: only the version is recorded. The derived tables a version-1
    // store may hold in an older layout are rebuilt by the same open
    // (`views_version`, views.rs), in the same transaction.
    |_| Ok(()),
];
