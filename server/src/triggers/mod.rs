//! Triggers (SPEC §12): single members handed to the retailer's messaging once per
//! episode of a condition the data shows — a first purchase, inactivity, falling P(alive)
//! of a high-value member, points about to expire, nearing the next tier, entering or
//! leaving a saved segment.
//!
//! After each fold of landed rows (and each load, merge or refit) every enabled trigger's
//! condition is read as of the latest day ([`conditions`]) and its episodes opened and
//! closed in DuckDB ([`episodes`]; those of the members a fold touched kept in memory
//! between evaluations, [`kept`]); what is to be handed on is recorded once per (trigger,
//! member, episode) in the operational store, within consent, the frequency cap and quiet
//! hours, and batched per channel ([`hand_on`]); batches are sent with retries
//! ([`send`]). Definitions, channels and the contact policy are in [`saved`].

pub mod conditions;
pub mod episodes;
pub mod hand_on;
pub mod kept;
pub mod saved;
pub mod send;
pub mod spend;
