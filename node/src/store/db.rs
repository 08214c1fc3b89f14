//! The event database, which a command that only reads opens read-only:
//! redb marks a database opened for writing in its file header and syncs
//! it, then syncs again when it closes (five `fdatasync` calls for a
//! `communs list`). Read-only, it writes nothing; the first write turns
//! it into a writable database.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, DatabaseError, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, WriteTransaction};

pub(crate) struct EventDb {
    path: PathBuf,
    state: RwLock<State>,
}

enum State {
    Reading(ReadOnlyDatabase),
    Writing(Database),
    /// Between the two, or after a failed reopen.
    Closed,
}

impl EventDb {
    /// Opens for writing at once: a running node, whose tasks read while
    /// others write (a read transaction does not survive the reopen).
    pub(crate) fn writable(path: &Path) -> Result<Self, DatabaseError> {
        Ok(EventDb { path: path.to_owned(), state: RwLock::new(State::Writing(Database::create(path)?)) })
    }

    /// Opens read-only, or for writing if the file does not exist yet or
    /// needs a repair (which only a writer can make). For one command at
    /// a time: no read transaction may be open across its first write.
    pub(crate) fn read_only_until_written(path: &Path) -> Result<Self, DatabaseError> {
        let state = match ReadOnlyDatabase::open(path) {
            Ok(db) => State::Reading(db),
            Err(_) => State::Writing(Database::create(path)?),
        };
        Ok(EventDb { path: path.to_owned(), state: RwLock::new(state) })
    }

    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, redb::Error> {
        match &*self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            State::Reading(db) => Ok(db.begin_read()?),
            State::Writing(db) => Ok(db.begin_read()?),
            State::Closed => Err(closed()),
        }
    }

    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, redb::Error> {
        if let State::Writing(db) = &*self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            return Ok(db.begin_write()?);
        }
        let mut state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let State::Reading(_) | State::Closed = &*state {
            if let State::Reading(db) = std::mem::replace(&mut *state, State::Closed) {
                db.close()?;
            }
            *state = State::Writing(Database::create(&self.path)?);
        }
        match &*state {
            State::Writing(db) => Ok(db.begin_write()?),
            _ => Err(closed()),
        }
    }
}

fn closed() -> redb::Error {
    redb::Error::DatabaseClosed
}
