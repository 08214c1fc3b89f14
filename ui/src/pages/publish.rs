//! `/publish`: a new design, or a new revision of one (`?design=`), from
//! a folder or a zip archive chosen in the browser.

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use communs_protocol::DesignId;
use maud::html;
use serde::Deserialize;

use super::{MaybeSession, layout, session};

#[derive(Deserialize)]
pub(crate) struct PublishQuery {
    #[serde(default)]
    design: Option<DesignId>,
}

pub(crate) async fn page(s: MaybeSession, Query(query): Query<PublishQuery>) -> Response {
    let session = session(&s);
    let title = if query.design.is_some() { "Publish a new revision" } else { "Publish a design" };
    layout::page(
        title,
        session,
        html! {
            h1 { (title) }
            @if let Some(design) = &query.design {
                p { "A new revision of " a href={ "/d/" (design) } { (layout::id(design)) } ": its maintainers approve it before it becomes canonical (unless you are the only one needed)." }
            } @else {
                p { "A folder becomes a new design. Its " code { "okh.toml" } " (Open Know-How) is its manifest; without one, give a license." }
            }
            @if session.is_some() {
                form.publish method="post" action="/publish" enctype="multipart/form-data" {
                    (layout::csrf_field(session))
                    @if let Some(design) = &query.design { input type="hidden" name="design" value=(design); }
                    label { "Folder " input type="file" name="folder" webkitdirectory multiple; }
                    label { "or a zip archive " input type="file" name="archive" accept=".zip,application/zip"; }
                    label { "What changed " input type="text" name="message" placeholder="First version"; }
                    label { "License (SPDX, if the folder has no okh.toml) " input type="text" name="license" placeholder="CERN-OHL-S-2.0"; }
                    button type="submit" { "Publish" }
                }
            } @else {
                (layout::write_form(None, "/publish", "publish", html! {}))
            }
        },
    )
    .into_response()
}
