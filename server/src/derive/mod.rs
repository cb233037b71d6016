//! What is derived from the raw tables and kept as data lands: the per-member summary and
//! the day tables the metrics read.

pub mod facts;
pub mod landing;
pub mod open;
pub mod summary;
