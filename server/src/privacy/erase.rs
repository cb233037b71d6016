//! Erasure (PIPL art. 47): a member's name and phone are removed from every table that
//! holds them, and their id is replaced everywhere by a random pseudonym, so that every
//! row they stand behind (orders, points, tier history, scores, consent history, the
//! derived tables) still counts in every aggregate exactly as before. The erasure is
//! recorded in `erasures` (the pseudonym, when, by whom, why, and keyed hashes of the id
//! and phone that refuse a later load carrying them), never the erased values.
//!
//! The rows are changed in one transaction; the file still holds the old values in
//! blocks DuckDB has let go of until [`crate::store::Analytics::rewrite`] copies the store
//! into a new file (the service does both).

use duckdb::{Connection, OptionalExt, params};
use rand::RngCore;

use crate::{Error, Result};

/// The longest reason kept.
pub const MAX_REASON: usize = 200;

/// What one erasure changed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Erased {
    pub pseudonym: String,
    /// Rows whose member id became the pseudonym, per table.
    pub rows: Vec<(String, usize)>,
}

/// A pseudonym no member id has: `erased-` and 16 random hex digits.
fn pseudonym() -> String {
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("erased-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Erases the stored member `member_id` (see the module). A 404 when no member has it.
pub fn erase(conn: &mut Connection, member_id: &str, by: &str, reason: &str) -> Result<Erased> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(Error::bad_param(
            "reason",
            format!("say why (the request's reference, at most {MAX_REASON} characters)"),
        ));
    }
    let tx = conn.transaction()?;
    super::require_member(&tx, member_id)?;
    // The person's identities go; so do the members merged into them
    // (`crate::identity::merge`), each under a pseudonym of its own.
    let mut ids = vec![member_id.to_string()];
    {
        let mut stmt = tx
            .prepare(&format!("SELECT alias FROM {} WHERE person = ? ORDER BY 1", crate::derive::aliases::aliases()))?;
        for alias in stmt.query_map([member_id], |r| r.get::<_, String>(0))? {
            ids.push(alias?);
        }
    }
    let mut rows: Vec<(String, usize)> = Vec::new();
    let mut first = None;
    for id in &ids {
        rows.push(("member_identities".into(), tx.execute("DELETE FROM member_identities WHERE member_id = ?", [id])?));
        let pseudonym = pseudonym_of(&tx, id, by, reason, &mut rows)?;
        first.get_or_insert(pseudonym);
    }
    rows.retain(|(_, n)| *n > 0);
    let pseudonym = first.unwrap_or_default();
    // Views made from the data before (the member facts, a connection's scope) name the
    // old id: they are made again.
    crate::derive::facts::changed(&tx)?;
    crate::store::Analytics::ask_for_copy(&tx, "erasure")?;
    tx.commit()?;
    let mut merged: Vec<(String, usize)> = Vec::new();
    for (table, n) in rows {
        match merged.iter_mut().find(|(t, _)| *t == table) {
            Some((_, total)) => *total += n,
            None => merged.push((table, n)),
        }
    }
    Ok(Erased { pseudonym, rows: merged })
}

/// Replaces the member id `member_id` (a member, or one merged into them) by a new
/// pseudonym in every table, clears names and phones, and records the erasure; adds the
/// rows changed to `rows`. Returns the pseudonym.
fn pseudonym_of(
    tx: &Connection,
    member_id: &str,
    by: &str,
    reason: &str,
    rows: &mut Vec<(String, usize)>,
) -> Result<String> {
    let pseudonym = pseudonym();
    // Keyed hashes of the id and phone, so that a later load carrying either is refused
    // (`crate::derive::personal`); a sealed phone starts with its hash. A phone other
    // members have too (a shop's placeholder number) is not kept: it would refuse them.
    let phone_key: Option<String> = tx
        .query_row(
            "WITH everyone AS (SELECT member_id, phone FROM members UNION ALL SELECT member_id, phone FROM merged_members),
                  k AS (SELECT CASE WHEN contains(phone, ':enc1:') THEN split_part(phone, ':', 1)
                               ELSE mp_phone_key(phone) END AS key
                        FROM everyone WHERE member_id = ?)
         SELECT k.key FROM k
         WHERE (SELECT count(*) FROM everyone m WHERE starts_with(m.phone, k.key || ':')) = 1",
            [member_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let with_phone = crate::store::schema::tables_with_column(tx, "phone")?;
    for table in crate::store::schema::tables_with_column(tx, "member_id")? {
        let personal = if with_phone.contains(&table) { ", name = NULL, phone = NULL" } else { "" };
        let n = tx.execute(
            &format!("UPDATE {table} SET member_id = ?{personal} WHERE member_id = ?"),
            params![pseudonym, member_id],
        )?;
        rows.push((table, n));
    }
    for column in ["survivor", "merged"] {
        let n =
            tx.execute(&format!("UPDATE merges SET {column} = ? WHERE {column} = ?"), params![pseudonym, member_id])?;
        rows.push(("merges".into(), n));
    }
    tx.execute(
        "INSERT INTO erasures (pseudonym, erased_at, erased_by, reason, member_key, phone_key)
         VALUES (?, CAST(now() AS TIMESTAMP), ?, ?, mp_member_key(?), ?)",
        params![pseudonym, by, reason, member_id, phone_key],
    )?;
    Ok(pseudonym)
}

/// The one stored member whose phone is `phone` (spaces ignored): a 404 when none has
/// it, a 409 when several do (name the member by id instead).
pub fn member_with_phone(conn: &Connection, phone: &str) -> Result<String> {
    if crate::store::seal::normal_phone(phone).is_empty() {
        return Err(Error::bad_param("phone", "empty"));
    }
    // A merged member's phone names the person they belong to now.
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT coalesce(a.person, m.member_id) FROM
             (SELECT member_id, phone FROM members UNION ALL SELECT member_id, phone FROM merged_members) m
         LEFT JOIN {} a ON a.alias = m.member_id
         WHERE starts_with(m.phone, mp_phone_key(?) || ':') ORDER BY 1 LIMIT 2",
        crate::derive::aliases::aliases()
    ))?;
    let ids = stmt.query_map([phone], |r| r.get(0))?.collect::<duckdb::Result<Vec<String>>>()?;
    match ids.as_slice() {
        [] => Err(Error::NotFound("no member has this phone number".into())),
        [one] => Ok(one.clone()),
        _ => Err(Error::Conflict("several members have this phone number; name the member by id".into())),
    }
}
