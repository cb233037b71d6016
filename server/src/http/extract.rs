//! The request parts the API reads — a JSON body, a query string, path parameters — as
//! axum's extractors read them, but refused with the API's own error (a 400 with the
//! typed JSON body naming `body`, `query` or `path`; a 413 for a body over its limit)
//! rather than axum's plain-text one.

use axum::extract::{
    FromRequest, FromRequestParts,
    rejection::{JsonRejection, PathRejection, QueryRejection},
};

use crate::Error;

/// A JSON request body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

/// A query string.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for Error {
    fn from(e: JsonRejection) -> Self {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(format!("the body is over its limit: {}", e.body_text()))
        } else {
            Error::bad_param("body", e.body_text())
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(e: QueryRejection) -> Self {
        Error::bad_param("query", e.body_text())
    }
}

impl From<PathRejection> for Error {
    fn from(e: PathRejection) -> Self {
        Error::bad_param("path", e.body_text())
    }
}
