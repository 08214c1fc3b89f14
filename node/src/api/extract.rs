//! Axum's extractors, with their rejections as JSON errors like every
//! other error of the API (spec/api.md, "Errors").

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A JSON body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Rejection))]
pub(super) struct Json<T>(pub T);

/// Parameters in the path (`/v1/designs/{design}`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Rejection))]
pub(super) struct Path<T>(pub T);

/// Parameters in the query string (`?limit=10`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Rejection))]
pub(super) struct Query<T>(pub T);

/// A request the API cannot read: its status from axum (400, 415, 422),
/// its text as the error, reason `bad-request`.
pub(super) struct Rejection {
    status: StatusCode,
    text: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        super::error_response(self.status, &self.text, "bad-request")
    }
}

macro_rules! rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for Rejection {
            fn from(rejection: $rejection) -> Rejection {
                Rejection { status: rejection.status(), text: rejection.body_text() }
            }
        }
    )*};
}
rejection!(JsonRejection, PathRejection, QueryRejection);
