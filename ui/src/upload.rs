//! Files sent from the browser (a revision's folder or archive, photos,
//! attachments), written into a temporary folder of the node's data
//! directory before the operation takes them by path, as it takes the
//! CLI's. A name never leaves that folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::extract::DefaultBodyLimit;
use axum::extract::multipart::{Multipart, MultipartError};
use tokio::io::AsyncWriteExt;

/// The largest upload of a revision (a folder or an archive).
pub(crate) const MAX_PUBLISH_BYTES: usize = 2 << 30;
/// The largest upload of a comment or a make report: its attachments at
/// their protocol limits, and the form around them.
pub(crate) const MAX_ATTACHMENTS_BYTES: usize =
    communs_protocol::limits::MAX_ATTACHMENTS * communs_protocol::limits::MAX_ATTACHMENT_BYTES as usize + (1 << 20);
/// Text fields of a form, each (a comment is at most 8 KiB).
const MAX_FIELD_BYTES: usize = 64 << 10;
/// Files of one upload.
pub(crate) const MAX_UPLOAD_FILES: usize = 100_000;

pub(crate) fn limit(bytes: usize) -> DefaultBodyLimit {
    DefaultBodyLimit::max(bytes)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    #[error("the upload was cut or malformed: {0}")]
    Multipart(#[from] MultipartError),
    #[error("writing the upload: {0}")]
    Io(#[from] std::io::Error),
    #[error("the field {0} is longer than {MAX_FIELD_BYTES} bytes")]
    FieldTooLong(String),
    #[error("the file name {0:?} is not a relative path inside the folder")]
    BadName(String),
    #[error("more than {MAX_UPLOAD_FILES} files")]
    TooManyFiles,
}

/// One uploaded file: the form field it came in, its name (a relative
/// path, checked), and where it was written.
#[derive(Debug)]
pub(crate) struct UploadedFile {
    pub field: String,
    pub name: String,
    pub path: PathBuf,
}

/// A form's text fields and files. The files live as long as `dir`.
pub(crate) struct Upload {
    pub fields: HashMap<String, String>,
    pub files: Vec<UploadedFile>,
    pub dir: tempfile::TempDir,
}

impl Upload {
    pub(crate) fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or_default()
    }

    /// A field holding an id (`on`, `revision`, `design`), or nothing.
    pub(crate) fn optional_id<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, String> {
        match self.field(name) {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| format!("`{name}` is not {what}")),
        }
    }

    pub(crate) fn files_of<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a UploadedFile> {
        self.files.iter().filter(move |f| f.field == field)
    }
}

/// Reads a multipart form into `parent` (created if missing). A file input
/// the user left empty (a part with an empty name) is skipped.
pub(crate) async fn receive(mut form: Multipart, parent: &Path) -> Result<Upload, UploadError> {
    tokio::fs::create_dir_all(parent).await?;
    let dir = tempfile::Builder::new().prefix("upload-").tempdir_in(parent)?;
    let mut fields = HashMap::new();
    let mut files = Vec::new();
    while let Some(mut part) = form.next_field().await? {
        let field = part.name().unwrap_or_default().to_owned();
        match part.file_name().map(str::to_owned) {
            None => {
                let mut text = Vec::new();
                while let Some(chunk) = part.chunk().await? {
                    if text.len() + chunk.len() > MAX_FIELD_BYTES {
                        return Err(UploadError::FieldTooLong(field));
                    }
                    text.extend_from_slice(&chunk);
                }
                fields.insert(field, String::from_utf8_lossy(&text).into_owned());
            }
            Some(name) if name.is_empty() => while part.chunk().await?.is_some() {},
            Some(name) => {
                if files.len() >= MAX_UPLOAD_FILES {
                    return Err(UploadError::TooManyFiles);
                }
                let relative = relative_path(&name).ok_or_else(|| UploadError::BadName(name.clone()))?;
                let path = dir.path().join(format!("{}", files.len()));
                let mut out = tokio::fs::File::create(&path).await?;
                while let Some(chunk) = part.chunk().await? {
                    out.write_all(&chunk).await?;
                }
                out.flush().await?;
                files.push(UploadedFile { field, name: relative, path });
            }
        }
    }
    Ok(Upload { fields, files, dir })
}

/// A file name as a browser sends it (`photo.jpg`, or `folder/sub/part.stl`
/// from a folder input), if every segment is a plain name.
pub(crate) fn relative_path(name: &str) -> Option<String> {
    let segments: Vec<&str> = name.split('/').collect();
    let plain = |s: &&str| !s.is_empty() && *s != "." && *s != ".." && !s.contains(['\\', '\0']);
    segments.iter().all(plain).then(|| segments.join("/"))
}

/// The last segment of a name: what an attachment is called.
pub(crate) fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_climb_or_are_absolute_are_refused() {
        assert_eq!(relative_path("folder/sub/part.stl").as_deref(), Some("folder/sub/part.stl"));
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a\\..\\b", "", "x\0y"] {
            assert_eq!(relative_path(bad), None, "{bad:?}");
        }
        assert_eq!(file_name("folder/photo.jpg"), "photo.jpg");
    }
}
