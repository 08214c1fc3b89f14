//! `/`: the designs this node holds and those its catalog knows, newest
//! change first, with the search box.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use communs_node::service::{SearchHit, SearchRequest};
use maud::html;

use super::search::SearchForm;
use super::{MaybeSession, cards, layout, search, session};
use crate::Ui;

/// Cards of each kind the home shows; search finds the rest.
const CARDS: usize = 48;

pub(crate) async fn page(State(ui): State<Ui>, s: MaybeSession) -> Response {
    let found = ui
        .api
        .run(move |service| async move {
            let of = |held| SearchRequest { held: Some(held), limit: CARDS, ..SearchRequest::default() };
            let held = service.search(&of(true)).await?.hits;
            let heard = service.search(&of(false)).await?.hits;
            Ok::<(Vec<SearchHit>, Vec<SearchHit>), _>((held, heard))
        })
        .await;
    let (held, heard) = match found {
        Ok(found) => found,
        Err(e) => return layout::failure(&e),
    };
    layout::page(
        "Designs",
        session(&s),
        html! {
            (search::form(&SearchForm::default()))
            section #held {
                h2 { "On this node" }
                @if held.is_empty() {
                    p.hint { "No design yet. Publish one (" a href="/publish" { "from this browser" } " or with " code { "communs publish FOLDER" } "), or follow one heard of below." }
                }
                (cards::grid(&held))
            }
            section #heard {
                h2 { "Heard of from peers" }
                @if heard.is_empty() {
                    p.hint { "Nothing heard of yet: peers announce the designs they keep once connected." }
                }
                (cards::grid(&heard))
            }
        },
    )
    .into_response()
}
