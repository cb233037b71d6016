//! Data landing: the data contract, file loads through column mappings, the ingest API,
//! order lines without numbers, and the synthetic retailer.

pub mod generate;
pub mod import;
pub mod ingest;
pub mod lines;
