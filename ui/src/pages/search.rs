//! `/search`: designs by words and filters, held and heard of, and, when
//! asked, the connected peers' too.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use communs_node::service::{SearchRequest, SearchResults};
use maud::{Markup, html};
use serde::Deserialize;

use super::{MaybeSession, cards, layout, session};
use crate::Ui;

/// Hits a search page shows.
const HITS: usize = 60;

/// The search form's fields, as the browser sends them (empty fields
/// included).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub keyword: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub made: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
}

impl SearchForm {
    fn request(&self) -> SearchRequest {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        SearchRequest {
            q: self.q.clone(),
            license: given(&self.license),
            keyword: given(&self.keyword),
            author: given(&self.author),
            made: self.made.is_some(),
            held: None,
            limit: HITS,
            network: self.network.is_some(),
        }
    }
}

/// The search box with its filters, filled with what was asked.
pub(crate) fn form(asked: &SearchForm) -> Markup {
    html! {
        form.filters action="/search" method="get" role="search" {
            input type="search" name="q" value=(asked.q) placeholder="Words: name, function, keywords, README…" aria-label="Words";
            input type="text" name="license" value=(asked.license) placeholder="License (SPDX id)" aria-label="License";
            input type="text" name="keyword" value=(asked.keyword) placeholder="Keyword" aria-label="Keyword";
            input type="text" name="author" value=(asked.author) placeholder="Author (name or id)" aria-label="Author";
            label { input type="checkbox" name="made" value="1" checked[asked.made.is_some()]; " made at least once" }
            label { input type="checkbox" name="network" value="1" checked[asked.network.is_some()]; " ask peers too" }
            button type="submit" { "Search" }
        }
    }
}

pub(crate) async fn page(State(ui): State<Ui>, s: MaybeSession, Query(asked): Query<SearchForm>) -> Response {
    let request = asked.request();
    let found: Result<SearchResults, _> =
        ui.api.run(move |service| async move { service.search(&request).await }).await;
    let results = match found {
        Ok(results) => results,
        Err(e) => return layout::failure(&e),
    };
    let title = if asked.q.trim().is_empty() { "Search".to_owned() } else { format!("Search: {}", asked.q.trim()) };
    layout::page(
        &title,
        session(&s),
        html! {
            h1 { "Search" }
            (form(&asked))
            p.count {
                (results.hits.len()) " design" @if results.hits.len() != 1 { "s" } " found"
                @if asked.network.is_some() {
                    ", " (results.peers_asked) " peer" @if results.peers_asked != 1 { "s" } " asked"
                    @if !results.failures.is_empty() { " (" (results.failures.len()) " did not answer)" }
                }
            }
            (cards::grid(&results.hits))
        },
    )
    .into_response()
}
