//! The pages, one module each, all server-rendered (maud escapes whatever
//! they interpolate). Each page gathers what it shows in one call to the
//! node's service, on a command thread, then renders it.

pub(crate) mod author;
pub(crate) mod cards;
pub(crate) mod confirm;
pub(crate) mod design;
pub(crate) mod home;
pub(crate) mod layout;
pub(crate) mod node;
pub(crate) mod publish;
pub(crate) mod search;

use axum::Extension;

use crate::session::Session;

/// The session of a signed-in browser, if the guard found one.
pub(crate) type MaybeSession = Option<Extension<Session>>;

pub(crate) fn session(session: &MaybeSession) -> Option<&Session> {
    session.as_ref().map(|Extension(s)| s)
}
