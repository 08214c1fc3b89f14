//! The web UI of a running node: server-rendered pages on the same
//! loopback server as the API, readable without JavaScript, every byte
//! (styles, the page script, the 3D viewer) embedded in the binary, so
//! that it works with no internet connection at all.
//!
//! Reads are open to whoever reaches the loopback port with this node's
//! own `Host` (DNS rebinding cannot); writes act in the node author's name,
//! so each needs a session from a one-time login link (`communs ui`), its
//! CSRF token, and an `Origin` that is this node (see `guard.rs`).
//! Untrusted content (READMEs, comments, files) is rendered inert: Markdown
//! sanitised by an allow-list, files served as downloads under a sandbox,
//! pages under a CSP that runs only the node's own scripts.

mod actions;
mod archive;
mod assets;
mod files;
mod guard;
mod markdown;
mod pages;
mod previews;
mod session;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use communs_node::api::ApiState;

pub use previews::{MAX_PREVIEW_INPUT_BYTES, PreviewCache};
pub use session::{LOGIN_LINK_TTL_MS, LoginLink, SESSION_TTL_MS, Sessions};

/// Everything the UI's handlers share.
#[derive(Clone)]
pub struct Ui {
    api: ApiState,
    sessions: Arc<Sessions>,
    previews: Arc<PreviewCache>,
    /// The store's folder, whose size the node page shows.
    store_dir: std::path::PathBuf,
    /// Where uploads wait for the operation that takes them (in the data
    /// directory: on the store's disk, and never shared with other users).
    uploads: std::path::PathBuf,
}

impl Ui {
    /// The UI of the node behind `api`, whose data directory is `home`
    /// (pictures of parts are cached in its `previews` folder).
    pub fn new(api: ApiState, home: &communs_node::Home) -> Ui {
        Ui {
            api,
            sessions: Arc::new(Sessions::default()),
            previews: Arc::new(PreviewCache::new(home.root().join("previews"))),
            store_dir: home.store_dir(),
            uploads: home.root().join("uploads"),
        }
    }
}

/// The routes of the UI, behind its guard, to merge beside the API's.
pub fn router(ui: Ui) -> Router {
    // Uploads (a revision's folder, photos) are larger than axum's default
    // body limit of 2 MB: each upload route sets its own.
    Router::new()
        .route("/", get(pages::home::page))
        .route("/search", get(pages::search::page))
        .route("/node", get(pages::node::page))
        .route(
            "/publish",
            get(pages::publish::page).post(actions::publish).layer(upload::limit(upload::MAX_PUBLISH_BYTES)),
        )
        .route("/d/{design}", get(pages::design::page))
        .route("/d/{design}/card.png", get(files::card))
        .route("/d/{design}/files/{*path}", get(files::file))
        .route("/d/{design}/archive.zip", get(files::archive))
        .route("/d/{design}/attachments/{blob}/{name}", get(files::attachment))
        .route("/d/{design}/approve", get(pages::confirm::approve).post(actions::approve))
        .route("/d/{design}/retract", get(pages::confirm::retract).post(actions::retract))
        .route("/d/{design}/follow", post(actions::follow))
        .route("/d/{design}/unfollow", post(actions::unfollow))
        .route("/d/{design}/get", post(actions::get_into))
        .route("/d/{design}/comment", post(actions::comment).layer(upload::limit(upload::MAX_ATTACHMENTS_BYTES)))
        .route("/d/{design}/made", post(actions::made).layer(upload::limit(upload::MAX_ATTACHMENTS_BYTES)))
        .route("/a/{author}", get(pages::author::page))
        .route("/a/{author}/avatar", get(files::avatar))
        .route("/ui/assets/{*file}", get(assets::serve))
        .route("/ui/login", get(session::login))
        .route("/ui/login-link", post(session::login_link))
        .layer(axum::middleware::from_fn_with_state(ui.clone(), guard::guard))
        .with_state(ui)
}
