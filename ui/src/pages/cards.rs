//! Designs as cards: a picture, the name, the license, who, makes, when.

use communs_node::service::SearchHit;
use maud::{Markup, html};

use super::layout;

pub(crate) fn grid(hits: &[SearchHit]) -> Markup {
    html! {
        ul.cards {
            @for hit in hits { li { (card(hit)) } }
        }
    }
}

fn card(hit: &SearchHit) -> Markup {
    let design = hit.design.to_string();
    html! {
        a.card href={ "/d/" (design) } data-design=(design) {
            img src={ "/d/" (design) "/card.png" } alt={ "Picture of " (hit.name) } loading="lazy" width="240" height="180";
            span.name { (hit.name) }
            span.meta {
                @if let Some(author) = &hit.author { span.by { (if author.starts_with("author1") { layout::short(author) } else { author.clone() }) } }
                @for license in &hit.licenses { span.license { (license) } }
            }
            span.meta {
                span.makes { (hit.makes) " made" }
                @if hit.last_change_ms > 0 { span.when { (layout::time(hit.last_change_ms)) } }
                @if !hit.held { span.heard { "heard of" } }
            }
        }
    }
}
