//! Retention (PIPL art. 19, 47): personal data is kept no longer than its purpose needs.
//! With `--personal-data-retention-days N`, a daily job removes the name and phone of
//! every member with no purchase and no consent activity for N days (nor a join within
//! them); everything else about them stays, so no figure moves. The admin page previews
//! how many members a period would strip before it is switched on.

use app::model::RetentionPreview;
use chrono::NaiveDateTime;
use duckdb::Connection;

use crate::{Error, Result};

/// The longest period taken (a hundred years).
pub const MAX_DAYS: u32 = 36_500;
/// How many of the members a preview names (by id).
const NAMED: usize = 100;

/// The members with a name or phone whose latest activity (joining, an order, a consent
/// change) is before `?` (the cutoff, in the retailer's local time).
const DUE: &str = "
    SELECT m.member_id FROM members m
    LEFT JOIN (SELECT member_id, max(ordered_at) AS at FROM orders WHERE member_id IS NOT NULL GROUP BY 1) o USING (member_id)
    LEFT JOIN (SELECT member_id, max(given_at) AS at FROM consent_events GROUP BY 1) c USING (member_id)
    WHERE (m.name IS NOT NULL OR m.phone IS NOT NULL)
      AND greatest(m.joined_at, coalesce(o.at, m.joined_at), coalesce(c.at, m.joined_at)) < CAST(? AS TIMESTAMP)";

/// The cutoff of a period of `days` ending `now` (local time); a 400 for a period out of range.
pub fn cutoff(days: u32, now: NaiveDateTime) -> Result<NaiveDateTime> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::bad_param("days", format!("expected 1 to {MAX_DAYS}")));
    }
    Ok(now - chrono::Duration::days(i64::from(days)))
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Which members a period of `days` ending `now` would strip (none is changed).
pub fn preview(conn: &Connection, days: u32, now: NaiveDateTime) -> Result<RetentionPreview> {
    let cutoff = cutoff(days, now)?;
    let mut stmt = conn.prepare(&format!("SELECT member_id FROM ({DUE}) ORDER BY 1"))?;
    let ids = stmt.query_map([stamp(cutoff)], |r| r.get::<_, String>(0))?.collect::<duckdb::Result<Vec<_>>>()?;
    Ok(report(days, cutoff, ids))
}

fn report(days: u32, cutoff: NaiveDateTime, ids: Vec<String>) -> RetentionPreview {
    RetentionPreview {
        days,
        cutoff: stamp(cutoff),
        members: ids.len() as i64,
        first: ids.into_iter().take(NAMED).collect(),
        configured_days: None,
    }
}

/// Removes the name and phone of the members [`preview`] names, in one transaction
/// (members and the queue of members waiting to be folded); returns what it did.
pub fn strip(conn: &mut Connection, days: u32, now: NaiveDateTime) -> Result<RetentionPreview> {
    let cutoff = cutoff(days, now)?;
    let tx = conn.transaction()?;
    tx.execute(&format!("CREATE OR REPLACE TEMP TABLE mp_retention AS {DUE}"), [stamp(cutoff)])?;
    for table in crate::store::seal::personal_tables(&tx)? {
        tx.execute(
            &format!(
                "UPDATE {table} SET name = NULL, phone = NULL
                 WHERE (member_id IN (SELECT member_id FROM mp_retention)
                        OR member_id IN (SELECT alias FROM {aliases} WHERE person IN (SELECT member_id FROM mp_retention)))
                   AND (name IS NOT NULL OR phone IS NOT NULL)",
                aliases = crate::derive::aliases::aliases()
            ),
            [],
        )?;
    }
    let mut stmt = tx.prepare("SELECT member_id FROM mp_retention ORDER BY 1")?;
    let ids = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<duckdb::Result<Vec<_>>>()?;
    drop(stmt);
    tx.execute_batch("DROP TABLE mp_retention")?;
    if !ids.is_empty() {
        crate::store::Analytics::ask_for_copy(&tx, "retention")?;
    }
    tx.commit()?;
    Ok(report(days, cutoff, ids))
}
