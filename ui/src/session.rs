//! Who may act through the UI: a one-time login link, given only to whoever
//! holds the node's API token (`communs ui`), turns into a session cookie
//! (HttpOnly, SameSite=Strict) with its own CSRF token.
//!
//! Sessions live in memory: a node that restarts forgets them, and
//! `communs ui` gives a new link. Nothing here reads a clock: `now` comes
//! from the caller.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::Ui;

/// How long a login link can be used: long enough to open it from a
/// terminal, short enough that one left in a scrollback is stale.
pub const LOGIN_LINK_TTL_MS: u64 = 10 * 60 * 1000;

/// How long a session lasts (unless the node restarts first).
pub const SESSION_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// Links not yet used, and sessions, at most: a caller that asks for links
/// in a loop cannot grow the node's memory.
const MAX_LINKS: usize = 16;
const MAX_SESSIONS: usize = 64;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Sent back in every form that writes: a page of another site cannot
    /// read it, so it cannot forge the form.
    pub csrf: String,
    expires_ms: u64,
}

/// The login links handed out and the sessions they became.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Unused links' secrets, with when each expires.
    links: HashMap<String, u64>,
    /// Cookie value to session.
    sessions: HashMap<String, Session>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    /// A new one-time login secret. The oldest unused one goes when there
    /// are too many.
    pub fn new_link(&self, now_ms: u64) -> String {
        let mut inner = self.lock();
        inner.links.retain(|_, expires| *expires > now_ms);
        while inner.links.len() >= MAX_LINKS {
            let Some(oldest) = inner.links.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) else { break };
            inner.links.remove(&oldest);
        }
        let secret = random_token();
        inner.links.insert(secret.clone(), now_ms + LOGIN_LINK_TTL_MS);
        secret
    }

    /// Uses a login secret (once): the new session's cookie value.
    pub fn redeem(&self, secret: &str, now_ms: u64) -> Option<String> {
        let mut inner = self.lock();
        let expires = inner.links.remove(secret)?;
        if expires <= now_ms {
            return None;
        }
        inner.sessions.retain(|_, s| s.expires_ms > now_ms);
        while inner.sessions.len() >= MAX_SESSIONS {
            let Some(oldest) = inner.sessions.iter().min_by_key(|(_, s)| s.expires_ms).map(|(k, _)| k.clone()) else {
                break;
            };
            inner.sessions.remove(&oldest);
        }
        let cookie = random_token();
        inner.sessions.insert(cookie.clone(), Session { csrf: random_token(), expires_ms: now_ms + SESSION_TTL_MS });
        Some(cookie)
    }

    /// The session a cookie value names, if it is current.
    pub fn session(&self, cookie: &str, now_ms: u64) -> Option<Session> {
        let inner = self.lock();
        // Looked up by its SipHash under a random key: how long it takes
        // says nothing of how much of a guess was right.
        inner.sessions.get(cookie).filter(|s| s.expires_ms > now_ms).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that are still valid.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The name of the session cookie: with the port, since browsers share
/// cookies between the ports of one host.
pub(crate) fn cookie_name(port: u16) -> String {
    format!("communs_session_{port}")
}

/// The session of a request, from its cookie.
pub(crate) fn of_request(ui: &Ui, headers: &HeaderMap) -> Option<Session> {
    let name = cookie_name(ui.api.addr().port());
    let cookies = headers.get_all(header::COOKIE);
    for value in cookies.iter().filter_map(|v| v.to_str().ok()) {
        for pair in value.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
                && let Some(session) = ui.sessions.session(v, communs_node::clock::now_ms())
            {
                return Some(session);
            }
        }
    }
    None
}

/// What `POST /ui/login-link` answers.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginLink {
    /// Open it in a browser on this machine, within ten minutes, once.
    pub url: String,
}

/// `POST /ui/login-link` with the API token: a one-time login URL.
pub(crate) async fn login_link(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if headers.contains_key(header::ORIGIN) || !ui.api.is_token(presented) {
        return (StatusCode::UNAUTHORIZED, "a login link needs the node's API token (run `communs ui`)\n")
            .into_response();
    }
    let secret = ui.sessions.new_link(communs_node::clock::now_ms());
    let url = format!("http://{}/ui/login?secret={secret}", ui.api.addr());
    axum::Json(LoginLink { url }).into_response()
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    secret: String,
}

/// `GET /ui/login?secret=…`: the link `communs ui` opened. Sets the
/// session cookie and goes to the home page.
pub(crate) async fn login(State(ui): State<Ui>, Query(query): Query<LoginQuery>) -> Response {
    let Some(cookie) = ui.sessions.redeem(&query.secret, communs_node::clock::now_ms()) else {
        let page = crate::pages::layout::message(
            "Login link not valid",
            "This login link was already used, has expired, or belongs to a node that restarted. Run `communs ui` for a new one.",
        );
        return (StatusCode::FORBIDDEN, page).into_response();
    };
    let name = cookie_name(ui.api.addr().port());
    let max_age = SESSION_TTL_MS / 1000;
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) =
        HeaderValue::from_str(&format!("{name}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"))
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_once_and_only_before_it_expires() {
        let sessions = Sessions::default();
        let link = sessions.new_link(1_000);
        let cookie = sessions.redeem(&link, 2_000).expect("a fresh link logs in");
        assert!(sessions.redeem(&link, 2_000).is_none(), "a link is used once");
        let session = sessions.session(&cookie, 3_000).expect("the session is current");
        assert_eq!(session.csrf.len(), 64);
        assert!(sessions.session(&cookie, 2_000 + SESSION_TTL_MS).is_none(), "sessions expire");
        assert!(sessions.session("not-a-cookie", 3_000).is_none());

        let stale = sessions.new_link(1_000);
        assert!(sessions.redeem(&stale, 1_000 + LOGIN_LINK_TTL_MS).is_none(), "links expire");
    }

    #[test]
    fn links_and_sessions_are_bounded() {
        let sessions = Sessions::default();
        let links: Vec<String> = (0..100).map(|i| sessions.new_link(i)).collect();
        assert!(sessions.redeem(&links[0], 200).is_none(), "the oldest links went");
        assert!(sessions.redeem(&links[99], 200).is_some());
        for i in 0..200 {
            let link = sessions.new_link(300 + i);
            sessions.redeem(&link, 300 + i).expect("logs in");
        }
        assert!(sessions.lock().sessions.len() <= MAX_SESSIONS);
    }
}
