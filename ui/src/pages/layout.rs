//! The frame of every page and the small pieces pages share: how an id,
//! an author, a size and a time read.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::session::Session;

/// A whole page: head, the bar on top (search, where to go, whether this
/// browser may act), then `body`.
pub(crate) fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · communs" }
                link rel="stylesheet" href="/ui/assets/style.css";
                script type="module" src="/ui/assets/ui.js" {}
            }
            body {
                header.top {
                    a.brand href="/" { "communs" }
                    form.search action="/search" method="get" role="search" {
                        input type="search" name="q" placeholder="Search designs" aria-label="Search designs";
                        button type="submit" { "Search" }
                    }
                    nav {
                        a href="/" { "Designs" }
                        a href="/publish" { "Publish" }
                        a href="/node" { "Node" }
                        @if session.is_some() {
                            span.signed-in title="This browser may act in this node's name" { "signed in" }
                        } @else {
                            span.read-only title="Run `communs ui` on this machine to act from this browser" { "read-only" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page that only says something (an error, a refusal).
pub(crate) fn message(title: &str, text: &str) -> Markup {
    page(title, None, html! { h1 { (title) } p.message { (text) } })
}

/// What a page shows when the operation behind it failed.
pub(crate) fn failure(error: &communs_node::service::ServiceError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status =
        axum::http::StatusCode::from_u16(error.status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = error.body();
    let markup = page(
        "Error",
        None,
        html! {
            h1 { "That did not work" }
            p.message { (body.error) }
            @for cause in &body.causes { p.cause { (cause) } }
            p { a href="/" { "Back to the designs" } }
        },
    );
    (status, markup).into_response()
}

/// The hidden field every form that writes carries.
pub(crate) fn csrf_field(session: Option<&Session>) -> Markup {
    html! {
        @if let Some(session) = session {
            input type="hidden" name="csrf" value=(session.csrf);
        }
    }
}

/// A form that writes, or, for a browser not signed in, why it cannot.
pub(crate) fn write_form(session: Option<&Session>, action: &str, class: &str, fields: Markup) -> Markup {
    html! {
        @if session.is_some() {
            form class=(class) method="post" action=(action) {
                (csrf_field(session))
                (fields)
            }
        } @else {
            p.hint { "Run " code { "communs ui" } " on this machine and open the link it prints to act from this browser." }
        }
    }
}

/// A long id shortened for reading (`design1qx…8f2k`); the whole id is in
/// the title and in links.
pub(crate) fn short(id: &str) -> String {
    if id.len() <= 18 { id.to_owned() } else { format!("{}…{}", &id[..12], &id[id.len() - 4..]) }
}

/// An id, shortened, with the whole of it on hover.
pub(crate) fn id(id: &impl std::fmt::Display) -> Markup {
    let whole = id.to_string();
    html! { code.id title=(whole) { (short(&whole)) } }
}

/// An author: their shown name if this node knows one, with a link to
/// their page.
pub(crate) fn author(author: &impl std::fmt::Display, names: &BTreeMap<String, String>) -> Markup {
    let whole = author.to_string();
    html! {
        a.author href={ "/a/" (whole) } title=(whole) {
            @match names.get(&whole) {
                Some(name) => (name),
                None => code { (short(&whole)) },
            }
        }
    }
}

/// A size in bytes, for people.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A time in ms since the epoch, as its author's clock said, in UTC to
/// the minute.
pub(crate) fn time(ms: u64) -> String {
    if ms == 0 {
        return "unknown".to_owned();
    }
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let text = humantime::format_rfc3339_seconds(at).to_string();
    // 2026-12-01T13:04:05Z -> 2026-12-01 13:04 UTC
    match (text.get(..10), text.get(11..16)) {
        (Some(day), Some(minute)) => format!("{day} {minute} UTC"),
        _ => text,
    }
}

/// One path segment as it goes into a URL.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A path of a tree as it goes into a URL, segment by segment.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// A query string's value.
pub(crate) fn encode_query(value: &str) -> String {
    encode_segment(value)
}

/// Text already made safe (sanitised Markdown), put in as it is.
pub(crate) fn trusted(html: String) -> PreEscaped<String> {
    PreEscaped(html)
}
