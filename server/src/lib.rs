//! MemberPulse engine and HTTP server.
//!
//! - [`analytics`]: the DuckDB file (SPEC §2 tables), its DDL, readers and the one writer.
//! - [`operational`]: the sqlx store: load history, RFM rules, saved segments, model fits.
//! - [`metrics`]: the metric catalogue (SPEC §4), one definition per metric.
//! - [`cohort`]: join-month cohorts: the retention matrix and LTV by age.
//! - [`members`]: member lists and the member 360 record, personal data masked.
//! - [`rfm`]: RFM scores and the named segments of the rule table.
//! - [`segment`]: typed member filters and dimensions, compiled to parameterised SQL.
//! - [`summary`]: the per-member summary and the day tables, kept up to date as data lands.
//! - [`clv`]: BG/NBD and Gamma-Gamma fits, member scores and the holdout check (SPEC §6).
//! - [`alerts`]: alert rules, their events and the notices they queue (SPEC §7);
//!   [`evaluator`]: the background evaluation; [`delivery`]: the outbox sender;
//!   [`webhook`]: where notices may go (no internal addresses, no redirects).
//! - [`refit`]: the background refit of the model after data loads.
//! - [`tier`]: tier migration between two dates, from the tier history.
//! - [`generate`]: the deterministic synthetic retailer.
//! - [`import`]: CSV/Parquet loads through column mappings; [`ingest`]: the ingest API's
//!   validation, landing and folding; [`lines`]: order lines without numbers that would
//!   collide with stored ones.
//! - [`access`]: who is asking (sessions, tokens), CSRF, security headers, sign-in, the
//!   admin routes; [`users`]: accounts and tokens in the store; [`audit`]: the audit log;
//!   [`disclosure`]: what executives are not shown.
//! - [`api`]: the JSON API under `/api/v1`; [`web`]: the server that also renders the pages.
//! - [`memo`]: dashboard figures computed once per data version and shared.
//! - [`loadgen`]: a steady ingest load with dashboard clients, measured.
//! - [`bench`]: the engine timed against straightforward SQL on the same data.
//! - [`cli`]: the `memberpulse` command.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod analytics;
pub mod api;
pub mod bench;
pub mod cli;
pub mod clv;
pub mod cohort;
pub mod delivery;
pub mod disclosure;
pub mod error;
pub mod evaluator;
pub mod extract;
pub mod generate;
pub mod import;
pub mod ingest;
pub mod lines;
pub mod loadgen;
pub mod memo;
pub mod members;
pub mod metrics;
pub mod operational;
pub mod refit;
pub mod rfm;
pub mod segment;
pub mod services;
pub mod summary;
pub mod tier;
pub mod users;
pub mod web;
pub mod webhook;

pub use error::{Error, Result};
