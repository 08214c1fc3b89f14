//! `/a/{author}`: who an author says they are, and their designs.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use communs_node::service::{AuthorMake, AuthorView, SearchHit, SearchRequest};
use communs_protocol::AuthorId;
use maud::html;

use super::{MaybeSession, cards, layout, session};
use crate::Ui;

/// Designs listed on an author's page.
const DESIGNS: usize = 100;

pub(crate) async fn page(State(ui): State<Ui>, s: MaybeSession, Path(author): Path<AuthorId>) -> Response {
    let read = ui
        .api
        .run(move |service| async move {
            let view = service.author(author)?;
            let request =
                SearchRequest { author: Some(author.to_string()), limit: DESIGNS, ..SearchRequest::default() };
            let designs = service.search(&request).await?.hits;
            let makes = service.makes_by(author)?;
            Ok::<(AuthorView, Vec<SearchHit>, Vec<AuthorMake>), _>((view, designs, makes))
        })
        .await;
    let (view, designs, makes) = match read {
        Ok(read) => read,
        Err(e) => return layout::failure(&e),
    };
    let id = author.to_string();
    let name = view.shown_name.clone().unwrap_or_else(|| layout::short(&id));
    layout::page(
        &name,
        session(&s),
        html! {
            article.author-page data-author=(id) {
                @if view.profile.as_ref().is_some_and(|p| p.avatar.is_some()) {
                    img.avatar src={ "/a/" (id) "/avatar" } alt={ "Avatar of " (name) } width="96" height="96";
                }
                h1 { (name) }
                p { code.id { (id) } }
                @if let Some(local) = &view.local_name { p.hint { "Named “" (local) "” by this node." } }
                @if let Some(profile) = &view.profile {
                    @if !profile.place.is_empty() { p.place { (profile.place) } }
                    @if !profile.bio.is_empty() { div.bio { (layout::trusted(crate::markdown::to_html(&profile.bio, None))) } }
                    @if !profile.links.is_empty() {
                        ul.links { @for link in &profile.links {
                            li { @if link.starts_with("https://") || link.starts_with("http://") {
                                a href=(link) rel="noopener noreferrer nofollow" { (link) }
                            } @else { (link) } }
                        } }
                    }
                } @else {
                    p.hint { "This node holds no profile of this author." }
                }
                h2 { "Designs" }
                (cards::grid(&designs))
                h2 { "Made (" (makes.len()) ")" }
                ul.author-makes {
                    @for made in &makes {
                        li data-outcome=(made.report.outcome) {
                            a href={ "/d/" (made.design) "#makes" } { (made.name) } " · "
                            (made.report.outcome.replace('-', " ")) " · " (layout::time(made.report.time))
                            @if !made.report.material.is_empty() { " · " (made.report.material) }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}
