//! Alerts (SPEC §7): rules and their events, where notices may go, and their delivery.

pub mod delivery;
pub mod rules;
pub mod webhook;
