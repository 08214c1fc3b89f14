//! `/d/{design}/approve?target=…` and `/retract?target=…`: what this
//! node's author is about to sign, in full, before they sign it.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use communs_node::service::{GovernancePreview, ServiceError, StatusResult};
use communs_protocol::DesignId;
use communs_protocol::EventId;
use maud::html;
use serde::Deserialize;

use super::{MaybeSession, layout, session};
use crate::Ui;

#[derive(Deserialize)]
pub(crate) struct TargetQuery {
    target: EventId,
}

#[derive(Clone, Copy)]
enum Kind {
    Approve,
    Retract,
}

pub(crate) async fn approve(
    ui: State<Ui>,
    s: MaybeSession,
    design: Path<DesignId>,
    target: Query<TargetQuery>,
) -> Response {
    confirm(ui, s, design, target, Kind::Approve).await
}

pub(crate) async fn retract(
    ui: State<Ui>,
    s: MaybeSession,
    design: Path<DesignId>,
    target: Query<TargetQuery>,
) -> Response {
    confirm(ui, s, design, target, Kind::Retract).await
}

async fn confirm(
    State(ui): State<Ui>,
    s: MaybeSession,
    Path(design): Path<DesignId>,
    Query(TargetQuery { target }): Query<TargetQuery>,
    kind: Kind,
) -> Response {
    let read = ui
        .api
        .run(move |service| async move {
            let status = service.status(&design)?;
            let what = match service.show(&design, Some(target)).await {
                Ok(view) => format!("revision “{}”: {}", view.manifest.name, view.message),
                Err(_) => match status.status.proposal(&target) {
                    Some(p) => format!("proposal to {}", p.change),
                    None => {
                        return Err(ServiceError::BadRequest(format!(
                            "{target} is no revision or proposal of {design}"
                        )));
                    }
                },
            };
            let preview = service.preview(&design, target, matches!(kind, Kind::Approve))?;
            Ok::<(StatusResult, String, GovernancePreview), ServiceError>((status, what, preview))
        })
        .await;
    let (status, what, preview) = match read {
        Ok(read) => read,
        Err(e) => return layout::failure(&e),
    };
    let (verb, kind_name, path) = match kind {
        Kind::Approve => ("Approve", "approve", "approve"),
        Kind::Retract => ("Retract your approval of", "retract", "retract"),
    };
    let session = session(&s);
    layout::page(
        verb,
        session,
        html! {
            h1 { (verb) " " (layout::id(&target)) }
            p { "This node will sign, with the key of " (layout::author(&preview.author, &status.names)) ", this event of design "
                a href={ "/d/" (design) } { (layout::id(&design)) } ":" }
            table.signed #to-sign {
                tr { th { "kind" } td { code { (kind_name) } } }
                tr { th { "design" } td { code { (design) } } }
                tr { th { "target" } td { code { (target) } } }
                tr { th { "what it is" } td { (what) } }
                tr { th { "author" } td { code { (preview.author) } } }
                tr { th { "parents" } td { @for parent in &preview.parents { code { (parent) } br; } } }
                tr { th { "clock" } td { code { (preview.clock) } } }
                tr { th { "time" } td { "the moment you sign (now: " (layout::time(preview.time)) ")" } }
            }
            p.hint { "Once signed and sent, the event stays in the design's log; a retraction can later withdraw an approval. If the design changes before you sign, nothing is signed and this page asks you to look again." }
            (layout::write_form(session, &format!("/d/{design}/{path}"), "confirm", html! {
                input type="hidden" name="target" value=(target);
                input type="hidden" name="parents" value=(preview.parents.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "));
                button.approve type="submit" { (verb) }
            }))
        },
    )
    .into_response()
}
