//! The UI's static files, embedded in the binary: the node serves them
//! itself, with no internet connection, and a page never loads anything
//! from elsewhere.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Each file by its path under `/ui/assets/`, with its media type.
const FILES: &[(&str, &str, &[u8])] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../assets/style.css")),
    ("ui.js", "text/javascript; charset=utf-8", include_bytes!("../assets/ui.js")),
    // three.js with its loaders and controls (ui/viewer/, built once with
    // npm); fetched only when a 3D view is opened.
    ("viewer.js", "text/javascript; charset=utf-8", include_bytes!("../assets/viewer.js")),
    ("LICENSES/three.js.txt", "text/plain; charset=utf-8", include_bytes!("../assets/LICENSES/three.js.txt")),
    ("LICENSES/fflate.txt", "text/plain; charset=utf-8", include_bytes!("../assets/LICENSES/fflate.txt")),
];

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let Some((_, media_type, bytes)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // They change only with the binary: an hour of cache spares the 3D
    // viewer's 600 KB on every page that opens it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}
