//! Names and phones as members land: sealed on their way from the staging tables into
//! the store (`crate::store::seal`), so that the file never holds them in plain text.

use duckdb::{Connection, params_from_iter, types::Value};

use crate::Result;

/// The members relation `rows` (with the values of its `?`s in `values`) with its names
/// and phones sealed; a relation without them comes back as it is.
pub fn seal(conn: &Connection, rows: &str, values: &[Value]) -> Result<String> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {rows} LIMIT 0"))?;
    drop(stmt.query(params_from_iter(values))?);
    let columns = stmt.column_names();
    let sealed: Vec<&str> = [("name", "mp_seal(name) AS name"), ("phone", "mp_seal_phone(phone) AS phone")]
        .into_iter()
        .filter(|(column, _)| columns.iter().any(|c| c == column))
        .map(|(_, sealed)| sealed)
        .collect();
    if sealed.is_empty() {
        return Ok(rows.to_string());
    }
    Ok(format!("(SELECT * REPLACE ({}) FROM {rows})", sealed.join(", ")))
}

/// Why a row naming an erased member is refused.
pub const ERASED: &str = "names a member erased at their request (PIPL art. 47); their data is not taken again";

/// Whether any member has been erased (loads check their rows against the erasures
/// only then).
pub fn any_erased(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM erasures WHERE member_key IS NOT NULL OR phone_key IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// SQL: whether the text `column` of a row is an erased member's `field` (`member_id` or
/// `phone`), compared by keyed hash (the erasure keeps no value).
pub fn erased(field: &str, column: &str) -> String {
    match field {
        "phone" => format!("({column} IS NOT NULL AND mp_phone_key({column}) IN (SELECT phone_key FROM erasures))"),
        _ => format!("({column} IS NOT NULL AND mp_member_key({column}) IN (SELECT member_key FROM erasures))"),
    }
}

/// The rows of the temp table `table` (its row number in `index`) that name an erased
/// member, with the field that does; the fields looked at are those of `fields` that are
/// `member_id` or `phone`.
pub fn erased_rows(conn: &Connection, table: &str, index: &str, fields: &[&str]) -> Result<Vec<(i64, &'static str)>> {
    let mut found = Vec::new();
    for field in ["member_id", "phone"] {
        if !fields.contains(&field) {
            continue;
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT {index} FROM {table} WHERE {} ORDER BY 1",
            erased(field, &format!("CAST({field} AS VARCHAR)"))
        ))?;
        for row in stmt.query_map([], |r| r.get::<_, i64>(0))? {
            found.push((row?, field));
        }
    }
    found.sort();
    found.dedup_by_key(|(i, _)| *i);
    Ok(found)
}

/// Of rows given as (batch, index, member id, phone), those that name an erased member,
/// with the field that does: (batch, index, `member_id` or `phone`). Nothing is looked at
/// until a member has been erased.
pub fn erased_in(
    conn: &Connection,
    rows: impl Iterator<Item = (usize, usize, Option<String>, Option<String>)>,
) -> Result<Vec<(usize, usize, &'static str)>> {
    if !any_erased(conn)? {
        return Ok(Vec::new());
    }
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE mp_erased_check (mp_key BIGINT, member_id VARCHAR, phone VARCHAR)",
    )?;
    {
        let mut appender = conn.appender("mp_erased_check")?;
        for (batch, index, member_id, phone) in rows {
            let key = ((batch as i64) << 32) | index as i64;
            appender.append_row(duckdb::params![key, member_id, phone])?;
        }
        appender.flush()?;
    }
    let found = erased_rows(conn, "mp_erased_check", "mp_key", &["member_id", "phone"])?;
    conn.execute_batch("DROP TABLE mp_erased_check")?;
    Ok(found.into_iter().map(|(key, field)| ((key >> 32) as usize, (key & 0xffff_ffff) as usize, field)).collect())
}
