//! Changes of the raw data, counted: each transaction that lands rows, folds them or
//! derives the summary again appends one row to `data_changes` (appends never conflict, so
//! a load and the ingest API never hold each other up here); storing a model fit's member
//! scores appends one to `score_changes`. What is made from the data as a whole — the
//! member facts of `crate::metrics::facts` — records the counts it was made at, and is
//! current while they are the same.

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

/// Records that the model's member scores were stored again, in the caller's transaction.
pub fn scored(conn: &Connection) -> Result<()> {
    conn.execute_batch("INSERT INTO score_changes VALUES (current_timestamp)")?;
    Ok(())
}

/// How many times the model's member scores have been stored.
pub fn scorings(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM score_changes", [], |r| r.get(0))?)
}

/// Records the members `select` names as touched, for the triggers (`crate::triggers`), in
/// the caller's transaction: `member_id, member_no, tier, first_purchase_at,
/// last_purchase_at, purchases`, the tier being that of a member row landed with them
/// (else NULL) and the rest their summary's figures now. Each row is numbered by the data
/// changes so far, so that the latest of a member's rows tells their figures.
pub fn touched(conn: &Connection, select: &str) -> Result<()> {
    conn.execute_batch(&format!(
        "INSERT INTO touched_members
         SELECT DISTINCT *, (SELECT count(*) FROM data_changes) FROM ({select})"
    ))?;
    Ok(())
}

/// Records the net cents of landed orders per member and day that `table` holds
/// (`member_no, day, cents`), for the triggers, in the caller's transaction.
pub fn touched_days(conn: &Connection, table: &str) -> Result<()> {
    conn.execute_batch(&format!("INSERT INTO touched_days SELECT member_no, day, cents FROM {table}"))?;
    Ok(())
}

/// Records a change no member list follows (the triggers look at every member again), in
/// the caller's transaction.
pub fn broad(conn: &Connection) -> Result<()> {
    conn.execute_batch("INSERT INTO broad_changes VALUES (current_timestamp)")?;
    Ok(())
}

/// How many changes no member list follows there have been.
pub fn broad_changes(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM broad_changes", [], |r| r.get(0))?)
}
