//! Changes of the raw data, counted: each transaction that lands rows, folds them or
//! derives the summary again appends one row to `data_changes` (appends never conflict, so
//! a load and the ingest API never hold each other up here), and so does storing a model
//! fit's member scores. What is made from the data as a whole — the member facts of
//! `crate::metrics::facts` — records the count it was made at, and is current while the
//! count is the same.

use duckdb::Connection;

use crate::Result;

/// Records a change of the raw data, in the caller's transaction.
pub fn changed(conn: &Connection) -> Result<()> {
    conn.execute_batch("INSERT INTO data_changes VALUES (current_timestamp)")?;
    Ok(())
}

/// How many changes the data has had.
pub fn changes(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM data_changes", [], |r| r.get(0))?)
}
