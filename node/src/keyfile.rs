//! The author's secret key on disk.
//!
//! The file holds the 32-byte seed in hexadecimal after a header line, is
//! created with mode 0600 atomically (a crash never leaves half a key), and
//! is refused if others can read it, as ssh does: a key that may have leaked
//! should not keep signing.

use communs_protocol::SecretKey;
use rand_core::OsRng;

use crate::home::{Home, HomeError, io_error};

const HEADER: &str = "communs secret key v1";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error("{path}: not a communs secret key file")]
    Malformed { path: std::path::PathBuf },
    #[error("{path}: permissions {mode:04o} let others read the secret key; run `chmod 600 {path}`")]
    TooOpen { path: std::path::PathBuf, mode: u32 },
}

/// Loads the key, or creates one if there is none. Returns whether it was
/// created.
pub fn load_or_create(home: &Home) -> Result<(SecretKey, bool), KeyFileError> {
    match load(home) {
        Ok(key) => Ok((key, false)),
        Err(KeyFileError::Home(HomeError::NotInitialised { .. })) => {
            home.create()?;
            let key = SecretKey::generate(&mut OsRng);
            write(&home.key_path(), &key)?;
            Ok((key, true))
        }
        Err(e) => Err(e),
    }
}

pub fn load(home: &Home) -> Result<SecretKey, KeyFileError> {
    let path = home.key_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HomeError::NotInitialised { home: home.root().to_owned() }.into());
        }
        Err(e) => return Err(HomeError::Io { path, source: e }.into()),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map_err(io_error(&path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path, mode });
        }
    }
    parse(&text, &path)
}

/// Writes `key` to `path` in the key file's format, mode 0600, atomically
/// (a backup's copy too: it is the same secret).
pub(crate) fn write(path: &std::path::Path, key: &SecretKey) -> Result<(), HomeError> {
    let text = format!("{HEADER}\n{}\n", hex::encode(key.to_bytes()));
    crate::atomic::write_atomically(path, text.as_bytes(), 0o600).map_err(io_error(path))
}

/// The key in a key file's text.
pub(crate) fn parse(text: &str, path: &std::path::Path) -> Result<SecretKey, KeyFileError> {
    let mut lines = text.lines();
    let seed = match (
        lines.next(),
        lines.next().map(|l| hex::decode(l).ok().and_then(|b| <[u8; 32]>::try_from(b).ok())),
        lines.next(),
    ) {
        (Some(HEADER), Some(Some(seed)), None) => seed,
        _ => return Err(KeyFileError::Malformed { path: path.to_owned() }),
    };
    Ok(SecretKey::from_bytes(&seed))
}
