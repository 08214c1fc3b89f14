//! Bytes, not pages: a revision's files, a whole revision as a zip, the
//! attachments of comments and make reports, avatars, and each card's
//! picture. Files go out as `communs_node::api::file_response` sends them
//! (downloads under a sandbox, pictures inline), whatever they hold.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use communs_node::api::file_response;
use communs_node::service::{FileRow, RevisionQuery, Service, ServiceError};
use communs_protocol::{AuthorId, BlobHash, DesignId};
use tokio::io::AsyncReadExt;

use crate::Ui;
use crate::archive::ZipOut;
use crate::pages::design::{MODEL_EXTENSIONS, extension, pictures};
use crate::pages::layout;
use crate::previews::{Cached, MAX_PREVIEW_INPUT_BYTES};

pub(crate) async fn file(
    State(ui): State<Ui>,
    Path((design, path)): Path<(DesignId, String)>,
    Query(query): Query<RevisionQuery>,
) -> Response {
    match ui.api.run(move |s| async move { s.file(&design, query.revision, &path).await }).await {
        Ok(row) => file_response(ui.api.service(), &row),
        Err(e) => layout::failure(&e),
    }
}

pub(crate) async fn attachment(
    State(ui): State<Ui>,
    Path((design, blob, name)): Path<(DesignId, BlobHash, String)>,
) -> Response {
    match ui.api.run(move |s| async move { s.attachment(&design, &blob).await }).await {
        Ok(Some(size)) => file_response(ui.api.service(), &FileRow { path: name, size, blob, executable: false }),
        Ok(None) => (StatusCode::NOT_FOUND, layout::message("Not found", "No such attachment here.")).into_response(),
        Err(e) => layout::failure(&e),
    }
}

pub(crate) async fn avatar(State(ui): State<Ui>, Path(author): Path<AuthorId>) -> Response {
    let found = ui
        .api
        .run(move |s| async move {
            let avatar = s.author(author)?.profile.and_then(|p| p.avatar);
            Ok::<_, ServiceError>(avatar)
        })
        .await;
    match found {
        Ok(Some(a)) => {
            file_response(ui.api.service(), &FileRow { path: a.name, size: a.size, blob: a.blob, executable: false })
        }
        Ok(None) => {
            (StatusCode::NOT_FOUND, layout::message("Not found", "This author has no avatar here.")).into_response()
        }
        Err(e) => layout::failure(&e),
    }
}

/// A card's picture: the design's first picture, else a drawing of its
/// first part (STL, then 3MF, then OBJ), else its initial on a plain
/// ground. Every card has one.
pub(crate) async fn card(State(ui): State<Ui>, Path(design): Path<DesignId>) -> Response {
    let previews = ui.previews.clone();
    let chosen = ui
        .api
        .run(move |s| async move {
            let view = match s.show(&design, None).await {
                Ok(view) => view,
                Err(_) => {
                    let name = s.catalog_entry(&design)?.map(|e| e.name).unwrap_or_default();
                    return Ok(Card::Plain(name));
                }
            };
            for picture in pictures(&view) {
                if s.file(&design, Some(view.revision), &picture.path).await.is_ok() {
                    return Ok(Card::File(picture.clone()));
                }
            }
            let mut parts: Vec<&FileRow> =
                view.files.iter().filter(|f| MODEL_EXTENSIONS.contains(&extension(&f.path).as_str())).collect();
            parts.sort_by_key(|f| MODEL_EXTENSIONS.iter().position(|e| *e == extension(&f.path)));
            for part in parts.into_iter().filter(|p| p.size <= MAX_PREVIEW_INPUT_BYTES) {
                let Some(format) = communs_preview::Format::of_path(&part.path) else { continue };
                let size = communs_preview::Size::CARD;
                match previews.get(&part.blob, size) {
                    Cached::Png(png) => return Ok(Card::Png(png)),
                    Cached::Failed => continue,
                    Cached::Absent => {}
                }
                let Ok(bytes) = s.read_blob(&part.blob, MAX_PREVIEW_INPUT_BYTES).await else { continue };
                if let Some(png) = previews.render(&part.blob, format, bytes, size).await {
                    return Ok(Card::Png(png));
                }
            }
            Ok::<Card, ServiceError>(Card::Plain(view.manifest.name))
        })
        .await;
    let mut response = match chosen {
        Ok(Card::File(row)) => file_response(ui.api.service(), &row),
        Ok(Card::Png(png)) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Ok(Card::Plain(name)) => ([(header::CONTENT_TYPE, "image/svg+xml")], plain_picture(&name)).into_response(),
        Err(e) => return layout::failure(&e),
    };
    // A new revision may bring a new picture: a minute of cache spares the
    // home page's dozens of requests when going back and forth.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
    response
}

enum Card {
    File(FileRow),
    Png(Vec<u8>),
    Plain(String),
}

/// A design's initial on a ground whose colour its name picks: a picture
/// for a card with nothing to draw. Built here, so nothing in it comes from
/// the design but one escaped letter.
fn plain_picture(name: &str) -> String {
    let initial: String = name.chars().find(|c| c.is_alphanumeric()).map_or('?', |c| c).to_uppercase().collect();
    let hue = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 360;
    let initial = maud::html! { (initial) }.into_string();
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="480" height="360" viewBox="0 0 480 360"><rect width="480" height="360" fill="hsl({hue},35%,88%)"/><text x="240" y="180" font-family="sans-serif" font-size="150" text-anchor="middle" dominant-baseline="central" fill="hsl({hue},30%,35%)">{initial}</text></svg>"#
    )
}

/// A revision's files as one zip, written to an unnamed temporary file on
/// the store's disk, then sent.
pub(crate) async fn archive(
    State(ui): State<Ui>,
    Path(design): Path<DesignId>,
    Query(query): Query<RevisionQuery>,
) -> Response {
    let uploads = ui.uploads.clone();
    let written = ui.api.run(move |s| async move { write_archive(&s, design, query.revision, &uploads).await }).await;
    let (file, name) = match written {
        Ok(written) => written,
        Err(e) => return layout::failure(&e),
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or_default();
    let mut response =
        Body::from_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file))).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.zip\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn write_archive(
    s: &Service,
    design: DesignId,
    revision: Option<communs_protocol::EventId>,
    dir: &std::path::Path,
) -> Result<(std::fs::File, String), ServiceError> {
    let internal = |e: &dyn std::fmt::Display| ServiceError::Internal(format!("writing the archive: {e}"));
    let view = s.show(&design, revision).await?;
    std::fs::create_dir_all(dir).map_err(|e| internal(&e))?;
    let file = tempfile::tempfile_in(dir).map_err(|e| internal(&e))?;
    let mut zip = ZipOut::new(file);
    let mut buffer = vec![0u8; 1 << 16];
    for row in &view.files {
        // Checked present first: a file not fetched yet fails the archive
        // with its name, not with a short zip.
        s.file(&design, Some(view.revision), &row.path).await?;
        zip.start(&row.path, row.size, row.executable).map_err(|e| internal(&e))?;
        let mut reader = s.blob_reader(row.blob, row.size);
        let mut written = 0u64;
        loop {
            let n = reader.read(&mut buffer).await.map_err(|e| internal(&e))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            zip.write(&buffer[..n]).map_err(|e| internal(&e))?;
        }
        if written != row.size {
            return Err(internal(&format!("{} could not be read whole from the store (fsck checks it)", row.path)));
        }
    }
    let mut file = zip.finish().map_err(|e| internal(&e))?;
    std::io::Seek::rewind(&mut file).map_err(|e| internal(&e))?;
    let name: String =
        view.manifest.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    Ok((file, name))
}
