//! Users, tokens, the audit log and data loads, as admins see them.

use serde::{Deserialize, Serialize};

use super::*;

/// Who is signed in, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Viewer {
    pub name: String,
    pub role: Role,
}

/// A user account, as admins see it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// Set while sign-in is refused after too many wrong passwords.
    pub locked_until: Option<String>,
    pub created_at: String,
}

/// Creating a user, or changing one (`role`, `password`, `disabled`; absent fields stay).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserChange {
    pub name: String,
    pub role: Option<Role>,
    /// At least 12 characters.
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

/// An API token, as listed (the secret is shown once, when it is made).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// `ingest` or `read`.
    pub scope: String,
    /// What a `read` token may see.
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The secret: only in the answer that creates the token.
    pub secret: Option<String>,
}

/// Asking for a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    pub name: String,
    /// `ingest` or `read`.
    pub scope: String,
    /// For `read` tokens; default executive.
    pub role: Option<Role>,
}

/// One audited action: who, what, when, which filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: Role,
    /// e.g. `member.view`, `member.list`, `member.export`, `user.create`, `rule.update`.
    pub action: String,
    pub target: Option<String>,
    pub filter: Option<String>,
}

/// Audit log filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// An action, or its prefix ending in `.` (`member.`).
    pub action: Option<String>,
    /// From this day on, `YYYY-MM-DD`.
    pub since: Option<String>,
    pub limit: Option<u32>,
}

/// A row a load rejected: where it is in the file and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoadReject {
    /// Line in the file (the header is line 1); for Parquet, the row number.
    pub line: i64,
    pub field: String,
    pub value: Option<String>,
    pub reason: String,
}

/// One finished data load, as the load history keeps it (admins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoadRecord {
    pub id: i64,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub finished_at: String,
    /// The file as its loader named it (an upload's own name, or the CLI's path).
    pub source: String,
    /// The table (or mapping kind) it loaded into.
    pub target: String,
    pub rows_read: i64,
    pub rows_inserted: i64,
    pub rows_duplicate: i64,
    pub rows_rejected: i64,
}
