//! `/d/{design}`: one design at one revision (its canonical head unless
//! `?revision=` names another): README, pictures, 3D parts, files,
//! manifest, history, governance, remixes, comments and make reports, and
//! what this browser may do with it.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use communs_node::service::{
    CatalogDesign, CommentThreads, CommentView, DesignView, EventBody, EventPage, FileRow, ForkRow, MakeReportView,
    MakeReports, RevisionQuery, ServiceError, StatusResult,
};
use communs_protocol::{AuthorId, DesignId, EventId};
use maud::{Markup, html};

use super::{MaybeSession, layout, session};
use crate::Ui;
use crate::markdown;
use crate::session::Session;

/// The largest README rendered: a bigger one is a download.
pub(crate) const MAX_README_BYTES: u64 = 1 << 20;
/// Events of the history shown (the API and `communs log` page on).
const HISTORY: usize = 50;
/// Pictures shown at the top of a design, and parts offered in 3D.
const PICTURES: usize = 12;
const MODELS: usize = 6;

/// Extensions shown as pictures (SVG only through `<img>`, where it runs
/// nothing).
pub(crate) const PICTURE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "svg"];
/// Extensions of parts, in the order a card's preview prefers them.
pub(crate) const MODEL_EXTENSIONS: &[&str] = &["stl", "3mf", "obj"];

pub(crate) fn extension(path: &str) -> String {
    path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// Everything a design page shows, read in one command.
struct Held {
    view: DesignView,
    status: StatusResult,
    history: EventPage,
    comments: CommentThreads,
    makes: MakeReports,
    forks: Vec<ForkRow>,
    readme: Option<(String, Vec<u8>)>,
    followed: bool,
    me: AuthorId,
}

enum Found {
    Held(Box<Held>),
    HeardOf(CatalogDesign),
}

pub(crate) async fn page(
    State(ui): State<Ui>,
    s: MaybeSession,
    Path(design): Path<DesignId>,
    Query(query): Query<RevisionQuery>,
) -> Response {
    let found = ui.api.run(move |service| async move { gather(&service, design, query.revision).await }).await;
    match found {
        Ok(Found::Held(held)) => render(&held, session(&s)).into_response(),
        Ok(Found::HeardOf(entry)) => heard_of(&entry, session(&s)).into_response(),
        Err(e) => layout::failure(&e),
    }
}

async fn gather(
    service: &communs_node::service::Service,
    design: DesignId,
    revision: Option<EventId>,
) -> Result<Found, ServiceError> {
    let view = match service.show(&design, revision).await {
        Ok(view) => view,
        Err(e) if e.reason() == "unknown-design" => {
            return match service.catalog_entry(&design)? {
                Some(entry) => Ok(Found::HeardOf(entry)),
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let readme = match readme_of(&view) {
        Some(file) if file.size <= MAX_README_BYTES => {
            // Not fetched yet: the page says so instead of failing.
            service.read_blob(&file.blob, MAX_README_BYTES).await.ok().map(|bytes| (file.path.clone(), bytes))
        }
        _ => None,
    };
    let history = service.log(&design, &communs_node::service::LogRequest { limit: HISTORY, before: None })?;
    let followed = service.policy()?.followed.contains(&design);
    Ok(Found::Held(Box::new(Held {
        status: service.status(&design)?,
        comments: service.comments(design)?,
        makes: service.make_reports(design)?,
        forks: service.forks(&design)?,
        me: service.node().author(),
        view,
        history,
        readme,
        followed,
    })))
}

/// The README a design page renders: the manifest's first, else one at
/// the root.
fn readme_of(view: &DesignView) -> Option<&FileRow> {
    let named = view.manifest.readme.iter().find_map(|path| view.files.iter().find(|f| &f.path == path));
    named.or_else(|| {
        let rank = |path: &str| match path.to_ascii_lowercase().as_str() {
            "readme.md" => Some(0),
            "readme.markdown" => Some(1),
            "readme" | "readme.txt" => Some(2),
            _ => None,
        };
        view.files.iter().filter_map(|f| rank(&f.path).map(|r| (r, f))).min_by_key(|(r, _)| *r).map(|(_, f)| f)
    })
}

/// The pictures of a revision: the manifest's first, then its other image
/// files.
pub(crate) fn pictures(view: &DesignView) -> Vec<&FileRow> {
    let mut out: Vec<&FileRow> =
        view.manifest.image.iter().filter_map(|path| view.files.iter().find(|f| &f.path == path)).collect();
    for file in &view.files {
        if PICTURE_EXTENSIONS.contains(&extension(&file.path).as_str()) && !out.iter().any(|f| f.path == file.path) {
            out.push(file);
        }
    }
    out
}

fn models(view: &DesignView) -> Vec<&FileRow> {
    let mut out: Vec<&FileRow> =
        view.files.iter().filter(|f| MODEL_EXTENSIONS.contains(&extension(&f.path).as_str())).collect();
    out.sort_by_key(|f| MODEL_EXTENSIONS.iter().position(|e| *e == extension(&f.path)));
    out
}

fn render(held: &Held, session: Option<&Session>) -> Markup {
    let view = &held.view;
    let design = view.design.to_string();
    let revision = view.revision.to_string();
    let files_base = format!("/d/{design}/files/");
    let revision_query = format!("?revision={revision}");
    let mut names: BTreeMap<String, String> = view.names.clone();
    for more in [&held.status.names, &held.history.names, &held.comments.names, &held.makes.names] {
        names.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let file_url = |path: &str| format!("{files_base}{}{revision_query}", layout::encode_path(path));
    layout::page(
        &view.manifest.name,
        session,
        html! {
            article.design data-design=(design) data-revision=(revision) {
                header.design-head {
                    h1 { (view.manifest.name) }
                    p.byline {
                        "by " (layout::author(&view.author, &names))
                        " · " span.license { (view.license) }
                        " · " (layout::time(view.time))
                        " · " (view.makes.total()) " made"
                    }
                    @if view.is_canonical {
                        p.badge.canonical #canonical-head { "Canonical revision " (layout::id(&view.revision)) }
                    } @else {
                        p.badge.not-canonical {
                            "You are looking at revision " (layout::id(&view.revision)) ", not the canonical one. "
                            @if let Some(canonical) = &view.canonical {
                                a href={ "/d/" (design) "?revision=" (canonical) } { "See the canonical revision" }
                            }
                        }
                    }
                    @if let Some(function) = &view.manifest.function { p.function { (function) } }
                    @if let Some(source) = &view.fork_of {
                        p.remix { "Remix of " a href={ "/d/" (source.design) "?revision=" (source.revision) } { (layout::id(&source.design)) } }
                    }
                }
                (actions(held, session))
                @let pictures = pictures(view);
                @if !pictures.is_empty() {
                    section.pictures {
                        @for picture in pictures.iter().take(PICTURES) {
                            a href=(file_url(&picture.path)) { img src=(file_url(&picture.path)) alt=(picture.path) loading="lazy"; }
                        }
                    }
                }
                @let models = models(view);
                @if !models.is_empty() {
                    section.models {
                        h2 { "3D parts" }
                        @for (i, model) in models.iter().take(MODELS).enumerate() {
                            div.model {
                                span.path { (model.path) } " (" (layout::size(model.size)) ") "
                                button type="button" data-open-3d data-url=(file_url(&model.path))
                                    data-format=(extension(&model.path)) data-target={ "viewer-" (i) } aria-expanded="false" { "Open 3D view" }
                                div.viewer id={ "viewer-" (i) } hidden {}
                            }
                        }
                    }
                }
                @if let Some((path, bytes)) = &held.readme {
                    section.readme #readme {
                        @let folder = path.rsplit_once('/').map(|(f, _)| f).unwrap_or("");
                        @let text = String::from_utf8_lossy(bytes);
                        @if extension(path) == "md" || extension(path) == "markdown" {
                            (layout::trusted(markdown::to_html(&text, Some(&markdown::Base { files: &files_base, query: &revision_query, folder }))))
                        } @else {
                            pre { (text) }
                        }
                    }
                }
                (files(view, &file_url))
                (manifest(view, &file_url))
                (governance(held, &names, session))
                (remixes(view, &held.forks))
                (makes(view, &held.makes, &names, session))
                (comments(view, &held.comments, &names, session))
                (history(&design, &held.history, &names))
            }
        },
    )
}

fn actions(held: &Held, session: Option<&Session>) -> Markup {
    let design = held.view.design.to_string();
    html! {
        section.actions {
            a.button href={ "/d/" (design) "/archive.zip?revision=" (held.view.revision) } download { "Download all (zip)" }
            @if held.followed {
                (layout::write_form(session, &format!("/d/{design}/unfollow"), "inline", html! { button type="submit" { "Unfollow" } }))
            } @else {
                (layout::write_form(session, &format!("/d/{design}/follow"), "inline", html! { button type="submit" { "Follow" } }))
            }
            @if session.is_some() {
                details.get {
                    summary { "Get into a folder" }
                    (layout::write_form(session, &format!("/d/{design}/get"), "get", html! {
                        input type="hidden" name="revision" value=(held.view.revision);
                        label { "Folder on this machine (absolute path) " input type="text" name="dir" required placeholder="/home/me/designs/this-one"; }
                        label { input type="checkbox" name="force" value="1"; " even if it is not empty" }
                        button type="submit" { "Get" }
                    }))
                }
                a.button href={ "/publish?design=" (design) } { "Publish a new revision" }
            }
        }
    }
}

fn files(view: &DesignView, file_url: &dyn Fn(&str) -> String) -> Markup {
    html! {
        section.files #files {
            h2 { "Files" }
            p { (view.files.len()) " files, " (layout::size(view.total_bytes)) }
            table {
                thead { tr { th { "Path" } th.num { "Size" } } }
                tbody {
                    @for file in &view.files {
                        tr { td { a href=(file_url(&file.path)) { (file.path) } } td.num { (layout::size(file.size)) } }
                    }
                }
            }
        }
    }
}

fn manifest(view: &DesignView, file_url: &dyn Fn(&str) -> String) -> Markup {
    let m = &view.manifest;
    let links = |paths: &[String]| -> Markup {
        html! { @for (i, path) in paths.iter().enumerate() { @if i > 0 { ", " } a href=(file_url(path)) { (path) } } }
    };
    html! {
        section.manifest #manifest {
            h2 { "Manifest" }
            dl {
                @if let Some(version) = &m.version { dt { "Version" } dd { (version) } }
                @if let Some(l) = &m.license.hardware { dt { "Hardware license" } dd { (l) } }
                @if let Some(l) = &m.license.documentation { dt { "Documentation license" } dd { (l) } }
                @if let Some(l) = &m.license.software { dt { "Software license" } dd { (l) } }
                @if !m.licensor.is_empty() { dt { "Licensors" } dd { (m.licensor.join(", ")) } }
                @if !m.organizations.is_empty() { dt { "Organizations" } dd { (m.organizations.join(", ")) } }
                @if !m.keywords.is_empty() {
                    dt { "Keywords" }
                    dd { @for k in &m.keywords { a.keyword href={ "/search?keyword=" (layout::encode_query(k)) } { (k) } " " } }
                }
                @if !m.bom.is_empty() { dt { "Bill of materials" } dd { (links(&m.bom)) } }
                @if !m.manufacturing_instructions.is_empty() { dt { "Instructions" } dd { (links(&m.manufacturing_instructions)) } }
                @if !m.user_manual.is_empty() { dt { "User manual" } dd { (links(&m.user_manual)) } }
                @if let Some(level) = &m.technology_readiness_level { dt { "Technology readiness" } dd { (level) } }
                @if let Some(level) = &m.documentation_readiness_level { dt { "Documentation readiness" } dd { (level) } }
                dt { "Open Know-How" }
                dd {
                    a href={ "/v1/designs/" (view.design) "/okh.toml?revision=" (view.revision) } { "okh.toml" } " "
                    a href={ "/v1/designs/" (view.design) "/okh.yml?revision=" (view.revision) } { "okh.yml" }
                }
            }
        }
    }
}

fn governance(held: &Held, names: &BTreeMap<String, String>, session: Option<&Session>) -> Markup {
    let status = &held.status.status;
    let design = status.design.to_string();
    let approve = |target: &EventId, approvals: &[AuthorId]| -> Markup {
        html! {
            @if session.is_some() && status.maintainers.contains(&held.me) {
                @if approvals.contains(&held.me) {
                    a.button href={ "/d/" (design) "/retract?target=" (target) } { "Retract my approval" }
                } @else {
                    a.button.approve href={ "/d/" (design) "/approve?target=" (target) } { "Approve" }
                }
            }
        }
    };
    html! {
        section.governance #governance {
            h2 { "Governance" }
            p {
                "Maintainers: "
                @for (i, m) in status.maintainers.iter().enumerate() { @if i > 0 { ", " } (layout::author(m, names)) }
                " · a revision needs " (status.threshold) " approval" @if status.threshold != 1 { "s" }
            }
            p #canonical {
                "Canonical head: "
                @match &status.canonical {
                    Some(c) => { a href={ "/d/" (design) "?revision=" (c) } { (layout::id(c)) } " (" (status.canonical_approvals) " approvals)" },
                    None => "none yet",
                }
                @if let Some(pinned) = &held.status.pinned { " · this node uses " (layout::id(pinned)) " (pinned)" }
            }
            @if !status.competing_heads.is_empty() {
                h3 { "Competing heads" }
                ul.competing {
                    @for head in &status.competing_heads {
                        li data-revision=(head.revision) {
                            a href={ "/d/" (design) "?revision=" (head.revision) } { (layout::id(&head.revision)) }
                            " · " (head.approvals) " approvals · lost: " (head.lost)
                        }
                    }
                }
            }
            @if !status.open.is_empty() {
                h3 { "Open contributions" }
                ul.open {
                    @for open in &status.open {
                        li data-revision=(open.revision) {
                            a href={ "/d/" (design) "?revision=" (open.revision) } { (layout::id(&open.revision)) }
                            " · approved by "
                            @if open.approvals.is_empty() { "nobody yet" }
                            @for (i, a) in open.approvals.iter().enumerate() { @if i > 0 { ", " } (layout::author(a, names)) }
                            " " (approve(&open.revision, &open.approvals))
                        }
                    }
                }
            }
            @if held.status.muted_open > 0 { p.hint { (held.status.muted_open) " open contributions by muted authors are not shown." } }
            @if !status.proposals.is_empty() {
                h3 { "Proposals" }
                ul.proposals {
                    @for p in &status.proposals {
                        li {
                            (p.change) " · by " (layout::author(&p.author, names)) " · " (p.outcome)
                            " · approved by " (p.approvals.len())
                            @if p.outcome == "pending" { " " (approve(&p.id, &p.approvals)) }
                        }
                    }
                }
            }
        }
    }
}

fn remixes(view: &DesignView, forks: &[ForkRow]) -> Markup {
    html! {
        @if view.fork_of.is_some() || !forks.is_empty() {
            section.remixes #remixes {
                h2 { "Remixes" }
                @if let Some(source) = &view.fork_of {
                    p { "Forked from " a href={ "/d/" (source.design) "?revision=" (source.revision) } { (layout::id(&source.design)) } " at " (layout::id(&source.revision)) }
                }
                @if !forks.is_empty() {
                    p { "Forked by:" }
                    ul { @for fork in forks { li { a href={ "/d/" (fork.design) } { (fork.name) } " (from " (layout::id(&fork.fork_of.revision)) ")" } } }
                }
            }
        }
    }
}

fn attachment_url(design: &DesignId, blob: &impl std::fmt::Display, name: &str) -> String {
    format!("/d/{design}/attachments/{blob}/{}", layout::encode_segment(name))
}

fn makes(
    view: &DesignView,
    makes: &MakeReports,
    names: &BTreeMap<String, String>,
    session: Option<&Session>,
) -> Markup {
    let design = view.design;
    let report = |m: &MakeReportView| -> Markup {
        html! {
            li.make data-outcome=(m.outcome) {
                p {
                    strong { (m.outcome.replace('-', " ")) } " · " (layout::author(&m.author, names)) " · " (layout::time(m.time))
                    " · revision " (layout::id(&m.revision))
                }
                p.details {
                    @if !m.process.is_empty() { "Process: " (m.process) ". " }
                    @if !m.machine.is_empty() { "Machine: " (m.machine) ". " }
                    @if !m.material.is_empty() { "Material: " (m.material) "." }
                }
                @if !m.settings.is_empty() {
                    table.settings { @for (k, v) in &m.settings { tr { th { (k) } td { (v) } } } }
                }
                @if !m.notes.is_empty() { div.notes { (layout::trusted(markdown::to_html(&m.notes, None))) } }
                @for photo in &m.photos {
                    a href=(attachment_url(&design, &photo.blob, &photo.name)) {
                        img.photo src=(attachment_url(&design, &photo.blob, &photo.name)) alt={ "Photo " (photo.name) } loading="lazy";
                    }
                }
            }
        }
    };
    html! {
        section.makes #makes {
            h2 { "Made it (" (makes.reports.len()) ")" }
            ul.make-reports { @for m in makes.reports.iter().rev() { (report(m)) } }
            @if session.is_some() {
                details {
                    summary { "Report a make" }
                    form.make method="post" action={ "/d/" (design) "/made" } enctype="multipart/form-data" {
                        (layout::csrf_field(session))
                        input type="hidden" name="revision" value=(view.revision);
                        label { "Outcome "
                            select name="outcome" {
                                option value="worked" { "worked" }
                                option value="worked-with-changes" { "worked with changes" }
                                option value="failed" { "failed" }
                            }
                        }
                        label { "Process " input type="text" name="process" placeholder="FDM 3D printing"; }
                        label { "Machine " input type="text" name="machine"; }
                        label { "Material " input type="text" name="material" placeholder="PETG"; }
                        label { "Notes " textarea name="notes" rows="3" {} }
                        label { "Photos " input type="file" name="photos" multiple accept="image/*"; }
                        button type="submit" { "Report" }
                    }
                }
            }
        }
    }
}

fn comments(
    view: &DesignView,
    threads: &CommentThreads,
    names: &BTreeMap<String, String>,
    session: Option<&Session>,
) -> Markup {
    let design = view.design;
    fn one(design: &DesignId, c: &CommentView, names: &BTreeMap<String, String>) -> Markup {
        html! {
            li.comment id={ "c-" (c.id) } {
                p.meta { (layout::author(&c.author, names)) " · " (layout::time(c.time)) }
                div.text { (layout::trusted(markdown::to_html(&c.text, None))) }
                @for a in &c.attachments {
                    @let url = attachment_url(design, &a.blob, &a.name);
                    @if PICTURE_EXTENSIONS.contains(&extension(&a.name).as_str()) {
                        a href=(url) { img.photo src=(url) alt=(a.name) loading="lazy"; }
                    } @else {
                        a.attachment href=(url) { (a.name) " (" (layout::size(a.size)) ")" }
                    }
                }
                @if !c.replies.is_empty() { ul.replies { @for r in &c.replies { (one(design, r, names)) } } }
            }
        }
    }
    html! {
        section.comments #comments {
            h2 { "Comments (" (view.comments) ")" }
            ul.threads { @for c in &threads.comments { (one(&design, c, names)) } }
            @if threads.muted > 0 { p.hint { (threads.muted) " comments by muted authors are not shown." } }
            @if session.is_some() {
                form.comment method="post" action={ "/d/" (design) "/comment" } enctype="multipart/form-data" {
                    (layout::csrf_field(session))
                    label { "Comment (Markdown) " textarea name="text" rows="4" required {} }
                    label { "Files " input type="file" name="attachments" multiple; }
                    button type="submit" { "Comment" }
                }
            }
        }
    }
}

fn history(design: &str, page: &EventPage, names: &BTreeMap<String, String>) -> Markup {
    html! {
        section.history #history {
            h2 { "History" }
            ol.events {
                @for e in &page.events {
                    li data-event=(e.id) {
                        span.when { (layout::time(e.time)) } " "
                        (layout::author(&e.author, names)) " "
                        @match &e.body {
                            EventBody::Genesis { name, .. } => { "created " strong { (name) } }
                            EventBody::Revision { message, .. } => {
                                "published " a href={ "/d/" (design) "?revision=" (e.id) } { (layout::id(&e.id)) }
                                @if !message.is_empty() { ": " (message) }
                            }
                            EventBody::Approve { target } => { "approved " (layout::id(target)) }
                            EventBody::Retract { target } => { "retracted approval of " (layout::id(target)) }
                            EventBody::Propose { change, .. } => { "proposed to " (change) }
                            EventBody::Comment { .. } => { "commented" }
                            EventBody::MakeReport(m) => { "made it: " (m.outcome) }
                        }
                    }
                }
            }
            @if page.more { p.hint { "Older events: " code { "communs log " (design) } } }
        }
    }
}

/// A design this node has only heard of: what its announcement says, and
/// how to get it.
fn heard_of(entry: &CatalogDesign, session: Option<&Session>) -> Markup {
    let design = entry.design.to_string();
    layout::page(
        &entry.name,
        session,
        html! {
            article.design.heard data-design=(design) {
                h1 { (entry.name) }
                p.byline { span.license { (entry.license) } " · heard of " (layout::time(entry.heard_ms)) }
                p { "This node has heard of this design from peers but does not hold it. Follow it to fetch its events and files." }
                p { "Held by " (entry.holders.len()) " peer" @if entry.holders.len() != 1 { "s" } "." }
                (layout::write_form(session, &format!("/d/{design}/follow"), "inline", html! { button type="submit" { "Follow" } }))
            }
        },
    )
}
