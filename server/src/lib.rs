//! MemberPulse: the engine and the server. Folders by concern, each depending only on
//! those listed after it (see `docs/architecture.md`):
//!
//! - [`cli`]: the `memberpulse` command — one file per command family.
//! - [`http`]: the server — routers per resource, the OpenAPI document, extractors.
//! - [`jobs`]: the background work — refits, alert evaluation, delivery, folding.
//! - [`service`]: the application layer the pages, the API and the CLI share, by area;
//!   each call checks the caller's role.
//! - [`access`]: who is asking (sessions, tokens, sign-in, lockout), the audit log, and
//!   what executives may be shown ([`access::disclosure`]).
//! - [`campaigns`]: campaigns against a control group — the readout's statistics (issue 24, in
//!   progress).
//! - [`alerts`]: alert rules and events, where notices may go, their delivery.
//! - [`members`]: member lists and the member 360 record, masked.
//! - [`privacy`]: the members' rights under PIPL — consent changes, access, erasure.
//! - [`model`]: BG/NBD and Gamma-Gamma — fits, scores, the holdout check.
//! - [`metrics`]: the metric catalogue (SPEC §4), scopes and filters, cohorts, tiers, RFM,
//!   and the straightforward reference SQL the engine is checked against.
//! - [`load`]: the data contract, file loads through mappings, the ingest API, the
//!   synthetic retailer.
//! - [`identity`]: one member across channels — identities, matching rules, merges and
//!   their undoing (SPEC §11).
//! - [`derive`]: the per-member summary and day tables, kept as data lands.
//! - [`store`]: the two stores — DuckDB (analytics) and sqlx (operational).

pub mod access;
pub mod alerts;
pub mod campaigns;
pub mod cli;
pub mod derive;
pub mod error;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod load;
pub mod members;
pub mod metrics;
pub mod model;
pub mod privacy;
pub mod service;
pub mod store;
pub mod triggers;

pub use error::{Error, Result};
