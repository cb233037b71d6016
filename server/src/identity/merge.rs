//! Merging members into a survivor, and undoing it exactly.
//!
//! A merge moves the merged member's orders, points and tier changes to the survivor
//! (recording each row it moved in `merge_moves`), takes the merged member's row out of
//! `members` (which holds persons) into `merged_members`, and their scores into
//! `merged_scores`; then the summary and day tables of the members touched, and only
//! theirs, are derived again. While the merge stands the merged id is an alias: rows that
//! land under it go to the survivor and are recorded too (`crate::derive::aliases`).
//! Undoing gives back exactly the recorded rows, the member row and the scores. Nothing is
//! deleted and nothing is counted twice: every order, point and tier change has one
//! member at all times. Consent stays with the member it was given as (the merged
//! member's history comes back with them).
//!
//! Many merges go in one transaction, set-wise (50,000 pairs at once), so an automatic
//! rule or a bulk decision costs one pass over the tables, not one per pair.

use duckdb::{Connection, OptionalExt, params};

use crate::{Error, Result, derive::aliases};

/// One merge asked for: `merged` becomes part of `survivor`.
#[derive(Clone, Debug)]
pub struct Pair {
    pub survivor: String,
    pub merged: String,
}

/// The rows a merge or an undo moved, per table, and the merges' ids.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Moved {
    pub merge_ids: Vec<i64>,
    pub orders: i64,
    pub points: i64,
    pub tier_changes: i64,
}

/// The tables whose rows follow a member, with the key (SQL over row `r`) they are
/// recorded by.
const FOLLOWING: [&str; 3] = ["orders", "points", "tier_changes"];

/// Merges each pair's `merged` member into its `survivor` (see the module), in one
/// transaction; `by` and `rule` are recorded. Every id must be a stored member; a member
/// may be merged once per call and may not also be a survivor in it.
pub fn merge(conn: &mut Connection, pairs: &[Pair], by: &str, rule: Option<&str>) -> Result<Moved> {
    if pairs.is_empty() {
        return Ok(Moved::default());
    }
    let tx = conn.transaction()?;
    fold_waiting(&tx)?;
    tx.execute_batch(
        "CREATE OR REPLACE TEMP TABLE mp_pairs (n BIGINT, survivor VARCHAR, merged VARCHAR);
         CREATE OR REPLACE TEMP TABLE mp_pairs_in (n BIGINT, survivor VARCHAR, merged VARCHAR);",
    )?;
    {
        let mut appender = tx.appender("mp_pairs_in")?;
        for (n, p) in pairs.iter().enumerate() {
            appender.append_row(params![n as i64, p.survivor.trim(), p.merged.trim()])?;
        }
        appender.flush()?;
    }
    check_pairs(&tx)?;
    let first: i64 = tx.query_row("SELECT coalesce(max(merge_id), 0) + 1 FROM merges", [], |r| r.get(0))?;
    tx.execute("INSERT INTO mp_pairs SELECT n + ?, survivor, merged FROM mp_pairs_in", [first])?;
    tx.execute_batch("DROP TABLE mp_pairs_in")?;
    tx.execute(
        "INSERT INTO merges (merge_id, survivor, merged, merged_at, merged_by, rule)
         SELECT n, survivor, merged, CAST(now() AS TIMESTAMP), ?, ? FROM mp_pairs",
        params![by, rule],
    )?;
    let mut moved = Moved { merge_ids: (first..first + pairs.len() as i64).collect(), ..Default::default() };
    for table in FOLLOWING {
        let key = aliases::row_key(table, "r").unwrap_or_default();
        tx.execute_batch(&format!(
            "INSERT INTO merge_moves SELECT p.n, '{table}', {key} FROM {table} r JOIN mp_pairs p ON p.merged = r.member_id"
        ))?;
        let n = tx.execute(
            &format!("UPDATE {table} SET member_id = p.survivor FROM mp_pairs p WHERE {table}.member_id = p.merged"),
            [],
        )? as i64;
        set(&mut moved, table, n);
    }
    tx.execute_batch(
        "INSERT INTO merged_members SELECT p.n, m.* FROM members m JOIN mp_pairs p ON p.merged = m.member_id;
         DELETE FROM members WHERE member_id IN (SELECT merged FROM mp_pairs);
         INSERT INTO merged_scores SELECT p.n, s.* FROM member_scores s JOIN mp_pairs p ON p.merged = s.member_id;
         DELETE FROM member_scores WHERE member_id IN (SELECT merged FROM mp_pairs);
         CREATE OR REPLACE TEMP TABLE mp_touched AS
             SELECT survivor AS member_id FROM mp_pairs UNION SELECT merged FROM mp_pairs;",
    )?;
    crate::derive::summary::derive_again(&tx, "mp_touched")?;
    tx.execute_batch("DROP TABLE mp_touched; DROP TABLE mp_pairs;")?;
    tx.commit()?;
    Ok(moved)
}

/// Undoes the standing merge `merge_id` (see the module): the rows it recorded go back to
/// the merged member, wherever merges since have taken them, and the member row and
/// scores come back. Returns what moved; a 404 for no such merge, a 409 for one undone.
pub fn undo(conn: &mut Connection, merge_id: i64, by: &str) -> Result<Moved> {
    let tx = conn.transaction()?;
    fold_waiting(&tx)?;
    let (survivor, merged, undone): (String, String, bool) = tx
        .query_row("SELECT survivor, merged, undone_at IS NOT NULL FROM merges WHERE merge_id = ?", [merge_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("no merge {merge_id}")))?;
    if undone {
        return Err(Error::Conflict(format!("merge {merge_id} was undone already")));
    }
    // Where the survivor's rows are now: the survivor, or the person it was merged into since.
    let person = aliases::person_of(&tx, &survivor)?;
    // The standing merges that took the survivor on since (its chain to its person).
    let onward: Vec<i64> = {
        let mut stmt = tx.prepare(&format!("SELECT merge_id FROM {} WHERE alias = ?", aliases::chain()))?;
        stmt.query_map([&survivor], |r| r.get(0))?.collect::<duckdb::Result<_>>()?
    };
    let mut moved = Moved { merge_ids: vec![merge_id], ..Default::default() };
    for table in FOLLOWING {
        let key = aliases::row_key(table, table).unwrap_or_default();
        let n = tx.execute(
            &format!(
                "UPDATE {table} SET member_id = ? WHERE member_id = ?
                   AND {key} IN (SELECT row_key FROM merge_moves WHERE merge_id = ? AND tbl = '{table}')"
            ),
            params![merged, person, merge_id],
        )? as i64;
        set(&mut moved, table, n);
    }
    // The rows given back are the merged member's again: the merges that moved them on
    // with the survivor moved them no more. Earlier ones that brought them to the merged
    // member still stand, and other merges' rows are theirs.
    tx.execute_batch("CREATE OR REPLACE TEMP TABLE mp_onward (merge_id BIGINT)")?;
    for id in std::iter::once(merge_id).chain(onward) {
        tx.execute("INSERT INTO mp_onward VALUES (?)", [id])?;
    }
    tx.execute(
        "DELETE FROM merge_moves WHERE merge_id IN (SELECT merge_id FROM mp_onward) AND EXISTS (SELECT 1 FROM merge_moves x
             WHERE x.merge_id = ? AND x.tbl = merge_moves.tbl AND x.row_key = merge_moves.row_key)",
        [merge_id],
    )?;
    tx.execute_batch("DROP TABLE mp_onward")?;
    tx.execute("INSERT INTO members SELECT * EXCLUDE (merge_id) FROM merged_members WHERE merge_id = ?", [merge_id])?;
    tx.execute("DELETE FROM merged_members WHERE merge_id = ?", [merge_id])?;
    // The scores set aside come back only when no fit came since (the refit that follows
    // gives the member new ones anyway).
    tx.execute(
        "INSERT INTO member_scores SELECT * EXCLUDE (merge_id) FROM merged_scores
         WHERE merge_id = ? AND member_id NOT IN (SELECT member_id FROM member_scores)
           AND as_of = (SELECT max(as_of) FROM member_scores)",
        [merge_id],
    )?;
    tx.execute("DELETE FROM merged_scores WHERE merge_id = ?", [merge_id])?;
    tx.execute(
        "UPDATE merges SET undone_at = CAST(now() AS TIMESTAMP), undone_by = ? WHERE merge_id = ?",
        params![by, merge_id],
    )?;
    tx.execute_batch("CREATE OR REPLACE TEMP TABLE mp_touched (member_id VARCHAR)")?;
    tx.execute("INSERT INTO mp_touched VALUES (?), (?)", params![merged, person])?;
    crate::derive::summary::derive_again(&tx, "mp_touched")?;
    tx.execute_batch("DROP TABLE mp_touched")?;
    tx.commit()?;
    Ok(moved)
}

fn set(moved: &mut Moved, table: &str, n: i64) {
    match table {
        "orders" => moved.orders += n,
        "points" => moved.points += n,
        _ => moved.tier_changes += n,
    }
}

/// Folds the rows the ingest API landed and not yet folded: a merge derives its members
/// again from the raw tables, which hold those rows already.
fn fold_waiting(conn: &Connection) -> Result<()> {
    if crate::derive::summary::pending(conn)? > 0 {
        crate::derive::summary::fold(conn, crate::derive::landing::Queue::Stored)?;
    }
    Ok(())
}

/// Refuses (4xx, naming the first offending pair) pairs that name an unknown member, a
/// member with itself, a member merged twice or merged and surviving in one call, or
/// members whose tier changes fall on the same instant (the survivor's history would
/// hold two tiers at once).
fn check_pairs(conn: &Connection) -> Result<()> {
    let problem: Option<(i64, String)> = conn
        .query_row(
            "SELECT n, why FROM (
                 SELECT n, 'names a member with itself' AS why FROM mp_pairs_in WHERE survivor = merged
                 UNION ALL SELECT n, 'no member ' || to_json(survivor) FROM mp_pairs_in
                     WHERE survivor NOT IN (SELECT member_id FROM members)
                 UNION ALL SELECT n, 'no member ' || to_json(merged) FROM mp_pairs_in
                     WHERE merged NOT IN (SELECT member_id FROM members)
                 UNION ALL SELECT n, 'merges ' || to_json(merged) || ' twice' FROM mp_pairs_in
                     QUALIFY row_number() OVER (PARTITION BY merged ORDER BY n) > 1
                 UNION ALL SELECT n, to_json(survivor) || ' is merged into another member in the same request'
                     FROM mp_pairs_in WHERE survivor IN (SELECT merged FROM mp_pairs_in)
                 UNION ALL SELECT p.n, 'both members have a tier change at ' || CAST(a.changed_at AS VARCHAR)
                     FROM mp_pairs_in p JOIN tier_changes a ON a.member_id = p.merged
                     JOIN tier_changes b ON b.member_id = p.survivor AND b.changed_at = a.changed_at
                 UNION ALL SELECT p.n, 'has a tier change at ' || CAST(a.changed_at AS VARCHAR)
                                       || ' as another member merged into the same survivor'
                     FROM mp_pairs_in p JOIN mp_pairs_in q ON q.survivor = p.survivor AND q.n < p.n
                     JOIN tier_changes a ON a.member_id = p.merged
                     JOIN tier_changes b ON b.member_id = q.merged AND b.changed_at = a.changed_at)
             ORDER BY n LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match problem {
        None => Ok(()),
        Some((n, why)) if why.starts_with("no member") => {
            Err(Error::NotFound(format!("merge {} of the request: {why}", n + 1)))
        }
        Some((n, why)) => Err(Error::Conflict(format!("merge {} of the request {why}", n + 1))),
    }
}

/// The standing merges of the person `member_id` (their own and those of the members
/// merged into them), newest first: (merge id, merged member, when, by whom, rule).
pub fn of_person(conn: &Connection, member_id: &str) -> Result<Vec<app::model::MergeRecord>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT m.merge_id, m.survivor, m.merged, CAST(m.merged_at AS VARCHAR), m.merged_by, m.rule
         FROM merges m WHERE m.undone_at IS NULL
           AND (m.survivor = ? OR m.merged IN (SELECT alias FROM {} WHERE person = ?))
         ORDER BY m.merge_id DESC",
        aliases::aliases()
    ))?;
    let rows = stmt.query_map(params![member_id, member_id], record)?;
    Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
}

/// Every merge, newest first, at most `limit`.
pub fn list(conn: &Connection, limit: i64) -> Result<Vec<app::model::MergeRecord>> {
    let mut stmt = conn.prepare(
        "SELECT merge_id, survivor, merged, CAST(merged_at AS VARCHAR), merged_by, rule, CAST(undone_at AS VARCHAR), undone_by
         FROM merges ORDER BY merge_id DESC LIMIT ?",
    )?;
    let rows = stmt.query_map([limit], |r| {
        let mut rec = record(r)?;
        rec.undone_at = r.get(6)?;
        rec.undone_by = r.get(7)?;
        Ok(rec)
    })?;
    Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
}

fn record(r: &duckdb::Row<'_>) -> duckdb::Result<app::model::MergeRecord> {
    Ok(app::model::MergeRecord {
        merge_id: r.get(0)?,
        survivor: r.get(1)?,
        merged: r.get(2)?,
        merged_at: r.get(3)?,
        merged_by: r.get(4)?,
        rule: r.get(5)?,
        undone_at: None,
        undone_by: None,
    })
}
