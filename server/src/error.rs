//! The server crate's one error type. Over HTTP it logs the detail and answers with a
//! typed JSON body that never leaks SQL or internals.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter is malformed or out of range.
    #[error("invalid {param}: {message}")]
    BadParam { param: String, message: String },
    /// A load cannot start: unreadable file, bad mapping, unknown column.
    #[error("{0}")]
    Load(String),
    #[error("authentication required")]
    Unauthorized,
    /// Signed in, but the role may not do this (the message says which role may).
    #[error("{0}")]
    Forbidden(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A model cannot be fitted: too little data, or the fit did not converge.
    #[error("{0}")]
    Model(String),
    /// It exists already (e.g. a segment key taken).
    #[error("{0}")]
    Conflict(String),
    /// Too much at once (heavy reads waiting their turn): try again shortly.
    #[error("{0}")]
    Busy(String),
    /// A request body over its limit (e.g. an upload over `--upload-max-mb`).
    #[error("{0}")]
    TooLarge(String),
    #[error("analytics database: {0}")]
    DuckDb(#[from] duckdb::Error),
    #[error("operational database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("operational database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn bad_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadParam { param: param.into(), message: message.into() }
    }

    /// Whether the caller, not the server, is at fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Error::BadParam { .. } | Error::Load(_))
    }

    /// Whether the server, not the request or the data, is at fault (worth a log line).
    pub fn is_server_fault(&self) -> bool {
        self.status().is_server_error()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadParam { .. } | Error::Load(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Model(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Error::BadParam { .. }
            | Error::Load(_)
            | Error::Unauthorized
            | Error::Forbidden(_)
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Model(_)
            | Error::Busy(_)
            | Error::TooLarge(_) => self.to_string(),
            _ => "internal error; the server log has the details".to_string(),
        }
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Internal(format!("background task failed: {e}"))
    }
}

/// The body of every error response.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// The HTTP status, in words.
    pub error: String,
    /// What went wrong, safe to show.
    pub message: String,
    /// The request parameter at fault, for a 400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ApiError {
            error: status.canonical_reason().unwrap_or("error").to_string(),
            message: self.public_message(),
            param: match &self {
                Error::BadParam { param, .. } => Some(param.clone()),
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        }
        response
    }
}
