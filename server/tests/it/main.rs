//! Every integration test of the server, as modules of one binary (one link, one DuckDB
//! load): real stores, the real `memberpulse` binary, hand-worked fixtures in `common`.

mod common;

mod access;
mod alerts;
mod bench;
mod breakdown;
mod campaigns;
mod clv;
mod cohorts;
mod generate;
mod identity;
mod import;
mod ingest;
mod kpis;
mod members;
mod model;
mod parsers;
mod predicted;
mod privacy;
mod readout;
mod rfm;
mod sealing;
mod segments;
mod serve;
mod summary;
mod tiers;
mod triggers;
mod triggers_touched;
mod trust;
