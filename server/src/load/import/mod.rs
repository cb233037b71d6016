//! Loads CSV and Parquet files into the analytics tables, read by DuckDB's own readers.
//!
//! A [`Mapping`] (TOML) says which column of the file feeds which field, so a retailer's
//! export loads as it is. Every row is validated; a bad row is reported with its line,
//! field, value and reason while the good rows land, all in one transaction. Rows whose
//! id is already stored are skipped, so loading the same file twice changes nothing.
//!
//! Nothing from the file or the mapping is pasted into SQL: the path, constants, formats
//! and messages are bound parameters, and a column name is used only after it was found
//! among the file's own columns, then quoted as an identifier.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use duckdb::{Connection, params_from_iter, types::Value};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    derive::{
        landing::{self, Queue},
        summary,
    },
};

mod contract;
mod insert;
mod mapping;
mod plan;
mod read;
mod report;

pub use contract::*;
use insert::*;
pub use mapping::*;
use plan::*;
use read::*;
pub use report::*;

/// Reports the stage a load has reached (for a terminal spinner).
pub type Progress<'a> = Option<&'a dyn Fn(&str)>;

/// Runs a load on the writer connection: validates every row, lands the good ones in
/// one transaction, reports the rest, then folds what landed into the member summary.
pub fn load(conn: &mut Connection, request: &LoadRequest, progress: Progress) -> Result<LoadReport> {
    land(conn, request, progress)?.fold(progress)
}

/// A load whose rows are committed to the raw tables but not yet folded into the member
/// summary and the day tables: [`Landed::fold`] does that in a transaction begun right
/// after the landing's commit, which therefore sees exactly the landed rows — not
/// ingest batches landing meanwhile, which wait for the folder as always. The store
/// records the load as unfolded until that fold commits; a store opened with an
/// unfolded load rebuilds its summary (`summary::recover`).
pub struct Landed<'c> {
    conn: &'c Connection,
    report: LoadReport,
    /// The fold's transaction is open.
    open: bool,
}

impl Landed<'_> {
    /// Folds the landed rows and commits; the report gains the fold's time. Should the
    /// fold fail, the summary is derived again from the raw tables instead.
    pub fn fold(mut self, progress: Progress) -> Result<LoadReport> {
        if let Some(p) = progress {
            p("folding into the member summary")
        }
        let started = Instant::now();
        let folded = summary::fold(self.conn, Queue::Load).and_then(|_| Ok(self.conn.execute_batch("COMMIT")?));
        self.open = false;
        if let Err(e) = folded {
            let _ = self.conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, file = %self.report.file, "folding a load failed; deriving the summary again");
            summary::recover(self.conn)?;
        }
        let mut report = std::mem::take(&mut self.report);
        report.fold_seconds = started.elapsed().as_secs_f64();
        tracing::debug!(seconds = report.seconds, fold_seconds = report.fold_seconds, "load folded");
        Ok(report)
    }
}

impl Drop for Landed<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Validates every row of the file and lands the good ones in one transaction (see
/// [`Landed`]).
pub fn land<'c>(conn: &'c mut Connection, request: &LoadRequest, progress: Progress) -> Result<Landed<'c>> {
    let started = Instant::now();
    let stage = |s: &str| {
        tracing::debug!(stage = s, at = started.elapsed().as_secs_f64(), "load");
        if let Some(p) = progress {
            p(s)
        }
    };
    let file = request.display_name();
    if !request.path.is_file() {
        return Err(Error::Load(format!("{file}: no such file")));
    }
    let mapping = &request.mapping;
    stage("reading");
    let (raw, columns) = read_raw(conn, &request.path, mapping)
        .map_err(|e| Error::Load(format!("{file}: cannot read: {}", duckdb_message(&e))))?;
    let result = (|| -> Result<LoadReport> {
        stage("validating");
        let mut plan = Plan::new(mapping, &columns).map_err(|m| Error::Load(format!("{file}: {m}")))?;
        plan.erased = crate::derive::personal::any_erased(conn)?;
        let typed = plan.typed(&raw, &[]);
        let check = plan.check(conn, &typed)?;
        stage("checking");
        // A clean file is read straight from its typed rows (its tidy text as it is); one
        // with bad rows is materialised once to name each reject.
        let (rejected, good) = if check.clean() {
            (Vec::new(), plan.typed(&raw, &check.tidy))
        } else {
            conn.execute(
                &format!("CREATE OR REPLACE TEMP TABLE mp_typed AS SELECT * FROM {}", typed.sql),
                params_from_iter(&typed.params),
            )?;
            (plan.find_rejects(conn)?, Relation::table("mp_good"))
        };
        stage("inserting");
        let tx = conn.transaction()?;
        let mut rejected = rejected;
        let (inserted, duplicates) = insert(&tx, mapping, &good, check.keys_distinct(), &mut rejected)?;
        rejected.sort_by_key(|r| r.line);
        stage("committing");
        tx.commit()?;
        stage("committed");
        Ok(LoadReport {
            file: file.clone(),
            target: mapping.kind.name().to_string(),
            rows_read: check.rows + check.structural,
            inserted,
            duplicates,
            rejected,
            seconds: 0.0,
            fold_seconds: 0.0,
        })
    })();
    let _ = conn.execute_batch("DROP TABLE IF EXISTS mp_raw; DROP TABLE IF EXISTS mp_typed; DROP TABLE IF EXISTS mp_rejects; DROP TABLE IF EXISTS mp_good; DROP TABLE IF EXISTS mp_structural;");
    let mut report = result?;
    let conn: &Connection = conn;
    stage("indexing keys");
    landing::restore_keys(conn)?;
    stage("keyed");
    report.seconds = started.elapsed().as_secs_f64();
    conn.execute_batch("BEGIN TRANSACTION")?;
    let landed = Landed { conn, report, open: true };
    // DuckDB takes a transaction's snapshot when it first reads the store, not at BEGIN:
    // read now, while ingest batches are still held back.
    landing::unfolded_loads(conn)?;
    Ok(landed)
}

/// DuckDB's message without the SQL it quotes (`LINE 2: FROM read_csv(…)`).
fn duckdb_message(e: &duckdb::Error) -> String {
    let text = e.to_string();
    let text = text.split("\nLINE ").next().unwrap_or_default();
    text.split("\nPossible fixes").next().unwrap_or_default().trim().to_string()
}
