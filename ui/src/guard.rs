//! What every request to the UI must pass, and the headers every answer
//! carries.
//!
//! - Every request, reads included, names this node in `Host` (a loopback
//!   name and its port): a site whose DNS name points at 127.0.0.1 cannot
//!   read the pages (DNS rebinding).
//! - A write (any method but GET and HEAD) needs a session cookie and an
//!   `Origin` that is this very host: another site, or another program's
//!   page on another loopback port, cannot post a form here. Each write's
//!   handler also checks the form's CSRF token ([`check_csrf`]).
//! - Pages run only the node's own scripts (`Content-Security-Policy`), are
//!   never framed, and send no `Referer` out.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Ui;
use crate::session::{self, Session};

/// The policy of every UI page: the node's own scripts, styles and
/// pictures only; no inline script, no plugin, no frame, forms posting
/// only here. `blob:` pictures are the 3D viewer's decoded textures.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) async fn guard(State(ui): State<Ui>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned) else {
        return refuse(StatusCode::FORBIDDEN, "This page answers only requests that name it by its loopback address.");
    };
    if !ui.api.is_own_host(headers) {
        return refuse(StatusCode::FORBIDDEN, "This page answers only requests that name it by its loopback address.");
    }
    let session = session::of_request(&ui, headers);
    // `/ui/login-link` is the CLI's, with the API token and no Origin.
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD) && request.uri().path() != "/ui/login-link";
    if writes {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if origin != Some(format!("http://{host}").as_str()) {
            return refuse(StatusCode::FORBIDDEN, "Changes to this node can only come from its own pages.");
        }
        if session.is_none() {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "You are not signed in to this node: run `communs ui` on its machine and open the link it gives.",
            );
        }
    }
    if let Some(session) = session {
        request.extensions_mut().insert(session);
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser
    // sends `Origin: null` with every form it posts, and the check above
    // would refuse this node's own forms. No `Referer` goes elsewhere.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Files set their own, stricter policy (a sandbox).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    }
    response
}

/// Whether a form's CSRF token is the session's (compared in constant
/// time).
pub(crate) fn check_csrf(session: &Session, presented: &str) -> Result<(), Refusal> {
    let expected = session.csrf.as_bytes();
    let presented = presented.as_bytes();
    let same =
        expected.len() == presented.len() && expected.iter().zip(presented).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(Refusal::new(StatusCode::FORBIDDEN, "This form is stale or did not come from this node: reload the page."))
    }
}

fn refuse(status: StatusCode, why: &str) -> Response {
    Refusal::new(status, why).into_response()
}

/// A request refused before anything was tried: its status, and why in a
/// sentence for the person.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    why: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, why: impl Into<String>) -> Refusal {
        Refusal { status, why: why.into() }
    }

    pub(crate) fn bad_request(why: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, why)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let title = if self.status == StatusCode::BAD_REQUEST { "That did not work" } else { "Refused" };
        (self.status, crate::pages::layout::message(title, &self.why)).into_response()
    }
}
