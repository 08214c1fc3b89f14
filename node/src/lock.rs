//! One process per store.
//!
//! Two processes writing one redb file and one blob store would corrupt
//! neither (redb refuses) but confuse both; so the first to open a store
//! takes an exclusive lock on `lock` in the data directory and writes its
//! PID there, and the second gets an error naming that process.

use std::fs::File;
use std::io::{Read, Seek, Write};

use crate::home::{Home, HomeError, io_error};

/// Held for as long as the store is open; the OS releases it when the
/// process ends, even on `kill -9`.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error("the store at {home} is in use by process {pid}; stop it, or wait for it to finish")]
    Held { home: std::path::PathBuf, pid: String },
}

impl StoreLock {
    pub(crate) fn acquire(home: &Home) -> Result<StoreLock, LockError> {
        home.create()?;
        let path = home.lock_path();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        if file.try_lock().is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = if pid.trim().is_empty() { "unknown".to_owned() } else { pid.trim().to_owned() };
            return Err(LockError::Held { home: home.root().to_owned(), pid });
        }
        file.set_len(0).map_err(io_error(&path))?;
        file.rewind().map_err(io_error(&path))?;
        writeln!(file, "{}", std::process::id()).map_err(io_error(&path))?;
        Ok(StoreLock { _file: file })
    }
}
