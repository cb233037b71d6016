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
/// the caller's transaction; `segments_only` for a change of what only saved segments read
/// (stores, order items, identities landed: the other triggers do not look again).
pub fn broad(conn: &Connection, segments_only: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO broad_changes (changed_at, segments_only) VALUES (current_timestamp, ?)",
        [segments_only],
    )?;
    Ok(())
}

/// How many changes no member list follows there have been: (all of them, those that are
/// not for segments only).
pub fn broad_changes(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE NOT coalesce(segments_only, false)) FROM broad_changes",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// The tables of the data contract that only saved segments read, of those no member
/// list follows (a tier change is read by near next tier).
pub const FOR_SEGMENTS_ONLY: [&str; 3] = ["stores", "order_items", "member_identities"];

/// After members were numbered again (the whole summary rebuilt, or the members `ids` names
/// derived again): each trigger episode takes its member's number now (none for a member
/// no longer in the summary, whose number a new member may get), and, on a rebuild, the
/// touched lists (of the old numbering) go — a rebuild is followed by reading everyone. In
/// the caller's transaction; nothing to do on a store without trigger tables yet.
pub fn renumbered(conn: &Connection, ids: Option<&str>) -> Result<()> {
    // A rebuild while the schema is brought up to date runs before version 18 made it.
    let numbered: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_columns() WHERE table_name = 'trigger_episodes' AND column_name = 'member_no'",
        [],
        |r| r.get(0),
    )?;
    if !numbered {
        return Ok(());
    }
    let only = ids.map(|ids| format!("AND e.member_id IN (SELECT member_id FROM {ids})")).unwrap_or_default();
    conn.execute_batch(&format!(
        "UPDATE trigger_episodes e SET member_no = s.member_no FROM member_summary s
         WHERE e.member_id = s.member_id AND e.member_no IS DISTINCT FROM s.member_no {only};
         UPDATE trigger_episodes e SET member_no = NULL
         WHERE e.member_no IS NOT NULL AND e.member_id NOT IN (SELECT member_id FROM member_summary) {only};"
    ))?;
    if ids.is_none() {
        conn.execute_batch("DELETE FROM touched_members; DELETE FROM touched_days;")?;
    }
    Ok(())
}
