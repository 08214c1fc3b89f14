//! What a signed-in browser can do: each handler checks the form's CSRF
//! token against its session (the guard has already checked the session
//! and the `Origin`), calls one operation of the node's service, and goes
//! back to the page it came from, or says what went wrong.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::Extension;
use axum::extract::{Form, Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use communs_node::progress::NoProgress;
use communs_node::service::{CommentRequest, GetRequest, MakeRequest, PolicyChange, PublishRequest, TargetRequest};
use communs_protocol::{DesignId, EventId};
use maud::html;
use serde::Deserialize;

use crate::Ui;
use crate::guard::{Refusal, check_csrf};
use crate::pages::layout;
use crate::session::Session;
use crate::upload::{self, Upload};

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct TargetForm {
    #[serde(default)]
    csrf: String,
    target: EventId,
    /// The parents of the event the confirmation page showed, separated
    /// by spaces: the node signs on exactly these or not at all.
    #[serde(default)]
    parents: String,
}

#[derive(Deserialize)]
pub(crate) struct GetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    revision: Option<EventId>,
    dir: PathBuf,
    #[serde(default)]
    force: Option<String>,
}

/// The design's page, at `anchor`.
fn back_to(design: &DesignId, anchor: &str) -> Response {
    Redirect::to(&format!("/d/{design}{anchor}")).into_response()
}

fn bad_request(why: &str) -> Response {
    Refusal::bad_request(why).into_response()
}

pub(crate) async fn follow(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    Form(form): Form<CsrfForm>,
) -> Response {
    policy(ui, session, form, design, PolicyChange::Follow { design, reason: "from the web UI".to_owned() }).await
}

pub(crate) async fn unfollow(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    Form(form): Form<CsrfForm>,
) -> Response {
    policy(ui, session, form, design, PolicyChange::Unfollow { design, reason: "from the web UI".to_owned() }).await
}

async fn policy(ui: Ui, session: Session, form: CsrfForm, design: DesignId, change: PolicyChange) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return refused.into_response();
    }
    match ui.api.run(move |s| async move { s.set_policy(change).await }).await {
        Ok(_) => back_to(&design, ""),
        Err(e) => layout::failure(&e),
    }
}

pub(crate) async fn approve(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    Form(form): Form<TargetForm>,
) -> Response {
    sign_on_target(ui, session, design, form, true).await
}

pub(crate) async fn retract(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    Form(form): Form<TargetForm>,
) -> Response {
    sign_on_target(ui, session, design, form, false).await
}

/// Signs an approval of the form's target, or a retraction of one.
async fn sign_on_target(ui: Ui, session: Session, design: DesignId, form: TargetForm, approve: bool) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return refused.into_response();
    }
    let parents: Result<Vec<EventId>, _> = form.parents.split_whitespace().map(str::parse).collect();
    let Ok(parents) = parents else { return bad_request("`parents` are not event ids") };
    let request = TargetRequest { target: form.target, parents: Some(parents) };
    let signed = ui
        .api
        .run(move |s| async move { if approve { s.approve(&design, request) } else { s.retract(&design, request) } })
        .await;
    match signed {
        Ok(_) => back_to(&design, "#governance"),
        Err(e) => layout::failure(&e),
    }
}

pub(crate) async fn get_into(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    Form(form): Form<GetForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return refused.into_response();
    }
    if !form.dir.is_absolute() {
        return bad_request("The folder must be an absolute path on this machine (such as /home/me/designs/x).");
    }
    let request = GetRequest { revision: form.revision, dir: form.dir, force: form.force.is_some() };
    match ui.api.run(move |s| async move { s.get(design, &request, &NoProgress).await }).await {
        Ok(done) => layout::page(
            "Written",
            Some(&session),
            html! {
                h1 { "Written" }
                p { (done.files) " files (" (layout::size(done.bytes)) ") of revision " (layout::id(&done.revision)) " are in " code { (done.dir) } "." }
                p { a href={ "/d/" (design) } { "Back to the design" } }
            },
        )
        .into_response(),
        Err(e) => layout::failure(&e),
    }
}

/// Reads a multipart form into the node's upload folder and checks its
/// CSRF token.
async fn receive(ui: &Ui, session: &Session, form: Multipart) -> Result<Upload, Refusal> {
    let upload = upload::receive(form, &ui.uploads).await.map_err(|e| Refusal::bad_request(e.to_string()))?;
    check_csrf(session, upload.field("csrf"))?;
    Ok(upload)
}

/// Uploaded attachments under their own names, each one path segment.
fn named_files(upload: &Upload, field: &str) -> Result<Vec<PathBuf>, Refusal> {
    let named = upload.dir.path().join("named");
    let mut paths = Vec::new();
    for (i, file) in upload.files_of(field).enumerate() {
        // Each in a folder of its own: two photos may share a name.
        let folder = named.join(i.to_string());
        let path = folder.join(upload::file_name(&file.name));
        std::fs::create_dir_all(&folder)
            .and_then(|()| std::fs::rename(&file.path, &path))
            .map_err(|e| Refusal::bad_request(format!("keeping the upload: {e}")))?;
        paths.push(path);
    }
    Ok(paths)
}

pub(crate) async fn comment(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    form: Multipart,
) -> Response {
    let upload = match receive(&ui, &session, form).await {
        Ok(upload) => upload,
        Err(refused) => return refused.into_response(),
    };
    let on = match upload.optional_id("on", "an event id") {
        Ok(on) => on,
        Err(why) => return bad_request(&why),
    };
    let attachments = match named_files(&upload, "attachments") {
        Ok(paths) => paths,
        Err(refused) => return refused.into_response(),
    };
    let request = CommentRequest { text: upload.field("text").to_owned(), on, attachments };
    let done = ui.api.run(move |s| async move { s.comment(design, request).await }).await;
    drop(upload);
    match done {
        Ok(signed) => back_to(&design, &format!("#c-{}", signed.event)),
        Err(e) => layout::failure(&e),
    }
}

pub(crate) async fn made(
    State(ui): State<Ui>,
    Extension(session): Extension<Session>,
    Path(design): Path<DesignId>,
    form: Multipart,
) -> Response {
    let upload = match receive(&ui, &session, form).await {
        Ok(upload) => upload,
        Err(refused) => return refused.into_response(),
    };
    let revision = match upload.optional_id("revision", "an event id") {
        Ok(revision) => revision,
        Err(why) => return bad_request(&why),
    };
    let photos = match named_files(&upload, "photos") {
        Ok(paths) => paths,
        Err(refused) => return refused.into_response(),
    };
    let request = MakeRequest {
        revision,
        outcome: upload.field("outcome").to_owned(),
        process: upload.field("process").to_owned(),
        machine: upload.field("machine").to_owned(),
        material: upload.field("material").to_owned(),
        settings: BTreeMap::new(),
        notes: upload.field("notes").to_owned(),
        photos,
    };
    let done = ui.api.run(move |s| async move { s.report_make(design, request).await }).await;
    drop(upload);
    match done {
        Ok(_) => back_to(&design, "#makes"),
        Err(e) => layout::failure(&e),
    }
}

pub(crate) async fn publish(State(ui): State<Ui>, Extension(session): Extension<Session>, form: Multipart) -> Response {
    let upload = match receive(&ui, &session, form).await {
        Ok(upload) => upload,
        Err(refused) => return refused.into_response(),
    };
    let folder = match lay_out(&upload) {
        Ok(folder) => folder,
        Err(why) => return bad_request(&why),
    };
    let design = match upload.optional_id("design", "a design id") {
        Ok(design) => design,
        Err(why) => return bad_request(&why),
    };
    let given = |name: &str| Some(upload.field(name).trim().to_owned()).filter(|s| !s.is_empty());
    let request = PublishRequest {
        dir: folder,
        message: given("message"),
        design,
        license: given("license"),
        maintainers: Vec::new(),
        threshold: None,
    };
    let done = ui.api.run(move |s| async move { s.publish(request, &NoProgress).await }).await;
    drop(upload);
    match done {
        Ok(published) => back_to(&published.design, &format!("?revision={}", published.revision)),
        Err(e) => layout::failure(&e),
    }
}

/// The uploaded folder's files (their common top folder, the one the user
/// picked, left out) or the archive's, laid out in a folder named as that
/// top folder or the archive (a design without a manifest takes its
/// folder's name); returns that folder.
fn lay_out(upload: &Upload) -> Result<std::path::PathBuf, String> {
    let files: Vec<_> = upload.files_of("folder").collect();
    let archives: Vec<_> = upload.files_of("archive").collect();
    let named = |name: &str| {
        let name: String = name.chars().filter(|c| !matches!(c, '/' | '\\' | '\0')).collect();
        let name = if name.is_empty() || name == "." || name == ".." { "design".to_owned() } else { name };
        upload.dir.path().join("publish").join(name)
    };
    match (files.is_empty(), archives.as_slice()) {
        (false, []) => {
            let top = files[0].name.split_once('/').map(|(top, _)| top);
            let strip = top.filter(|top| files.iter().all(|f| f.name.starts_with(&format!("{top}/"))));
            let folder = named(strip.unwrap_or("design"));
            for file in files {
                let relative = match strip {
                    Some(top) => &file.name[top.len() + 1..],
                    None => &file.name,
                };
                let path = folder.join(relative);
                let parent = path.parent().unwrap_or(&folder);
                std::fs::create_dir_all(parent)
                    .and_then(|()| std::fs::rename(&file.path, &path))
                    .map_err(|e| format!("laying out {relative}: {e}"))?;
            }
            Ok(folder)
        }
        (true, [archive]) => {
            let name = upload::file_name(&archive.name);
            let folder = named(name.strip_suffix(".zip").unwrap_or(name));
            crate::archive::extract(&archive.path, &folder).map_err(|e| e.to_string())?;
            Ok(folder)
        }
        (true, []) => Err("Choose a folder or a zip archive to publish.".to_owned()),
        _ => Err("Choose either a folder or one zip archive, not both.".to_owned()),
    }
}
