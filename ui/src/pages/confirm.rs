//! `/d/{design}/approve?target=…` and `/retract?target=…`: what this
//! node's author is about to sign, in full, before they sign it.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use communs_node::service::{ServiceError, StatusResult, TargetRequest};
use communs_protocol::DesignId;
use maud::html;

use super::{MaybeSession, layout, session};
use crate::Ui;

#[derive(Clone, Copy)]
enum Kind {
    Approve,
    Retract,
}

pub(crate) async fn approve(
    ui: State<Ui>,
    s: MaybeSession,
    design: Path<DesignId>,
    target: Query<TargetRequest>,
) -> Response {
    confirm(ui, s, design, target, Kind::Approve).await
}

pub(crate) async fn retract(
    ui: State<Ui>,
    s: MaybeSession,
    design: Path<DesignId>,
    target: Query<TargetRequest>,
) -> Response {
    confirm(ui, s, design, target, Kind::Retract).await
}

async fn confirm(
    State(ui): State<Ui>,
    s: MaybeSession,
    Path(design): Path<DesignId>,
    Query(TargetRequest { target }): Query<TargetRequest>,
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
            Ok::<(StatusResult, String, String), ServiceError>((status, what, service.node().author().to_string()))
        })
        .await;
    let (status, what, me) = match read {
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
            p { "This node will sign, with the key of " (layout::author(&me, &status.names)) ", this event of design "
                a href={ "/d/" (design) } { (layout::id(&design)) } ":" }
            table.signed #to-sign {
                tr { th { "kind" } td { code { (kind_name) } } }
                tr { th { "design" } td { code { (design) } } }
                tr { th { "target" } td { code { (target) } } }
                tr { th { "what it is" } td { (what) } }
                tr { th { "author" } td { code { (me) } } }
                tr { th { "parents, clock, time" } td { "chosen when it is signed: your latest event of this design and the maintainers' latest, your next clock, now" } }
            }
            p.hint { "Once signed and sent, the event stays in the design's log; a retraction can later withdraw an approval." }
            (layout::write_form(session, &format!("/d/{design}/{path}"), "confirm", html! {
                input type="hidden" name="target" value=(target);
                button.approve type="submit" { (verb) }
            }))
        },
    )
    .into_response()
}
