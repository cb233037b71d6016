//! What is derived from the raw tables and kept as data lands: the per-member summary and
//! the day tables the metrics read, and the members' consent history as it lands.

pub mod aliases;
pub mod consent;
pub mod facts;
pub mod identities;
pub mod landing;
pub mod open;
pub mod personal;
pub mod summary;
