//! Marketing consent as it lands (PIPL): every change is a row of `consent_events`, never an
//! overwrite, and a member's consent is their latest row ([`latest`]).
//!
//! A row is recorded when it changes the member's consent (value or channel); a row that
//! repeats the member's current consent, or one already in their history, changes nothing,
//! so re-sending the same members file or API call records nothing new. A row without a
//! time is taken as given when the member joined (their first consent) or when it landed
//! (a later change).

use duckdb::{Connection, params_from_iter, types::Value};

use crate::Result;

/// The members contract's consent fields; they land here, not in `members`.
pub const COLUMNS: [&str; 3] = ["marketing_consent", "consent_at", "consent_channel"];

/// Where a consent row came from: a members load (file, mapping or ingest), or the
/// consent API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Load,
    Api,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Load => "load",
            Source::Api => "api",
        }
    }
}

/// A member's consent rows, newest first: the first is their consent now.
pub const NEWEST_FIRST: &str = "given_at DESC, recorded_at DESC, consent";

/// The consent now (member_id, consent, given_at, channel) of the members `members` (a
/// query of member ids, or `None` for every member).
pub fn latest(members: Option<&str>) -> String {
    let aliases = super::aliases::aliases();
    // A person's consent is their latest decision under any of their ids (members merged
    // into them included, `crate::identity`). For some members, only the events under
    // their ids and their aliases' are read (`members` appears once: its `?`s bind once).
    let (with, events, of) = match members {
        Some(m) => (
            format!("WITH wanted(member_id) AS MATERIALIZED ({m}) "),
            format!(
                "(SELECT * FROM consent_events WHERE member_id IN (SELECT member_id FROM wanted)
                     OR member_id IN (SELECT alias FROM {aliases} WHERE person IN (SELECT member_id FROM wanted)))"
            ),
            "WHERE member_id IN (SELECT member_id FROM wanted)",
        ),
        None => (String::new(), "consent_events".to_string(), ""),
    };
    format!(
        "{with}SELECT member_id, consent, given_at, channel FROM (
             SELECT coalesce(a.person, e.member_id) AS member_id, e.consent, e.given_at, e.channel, e.recorded_at
             FROM {events} e LEFT JOIN {aliases} a ON a.alias = e.member_id) {of}
         QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY {NEWEST_FIRST}) = 1"
    )
}

/// Records the consent that the members `rows` carry (a relation, with the values of its
/// `?`s in `values`) and returns the relation without the consent fields, as `members`
/// takes it. Rows without those fields (members made from orders) come back as they are.
pub fn split(conn: &Connection, rows: &str, values: &[Value]) -> Result<String> {
    if !carries_consent(conn, rows, values)? {
        return Ok(rows.to_string());
    }
    let events = format!(
        "(SELECT member_id, marketing_consent AS consent, consent_at, consent_channel AS channel, joined_at
          FROM {rows} WHERE marketing_consent IS NOT NULL)"
    );
    record(conn, &events, values, Source::Load)?;
    Ok(format!("(SELECT * EXCLUDE ({}) FROM {rows})", COLUMNS.join(", ")))
}

/// Whether `rows` has the consent fields.
fn carries_consent(conn: &Connection, rows: &str, values: &[Value]) -> Result<bool> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {rows} LIMIT 0"))?;
    drop(stmt.query(params_from_iter(values))?);
    Ok(stmt.column_names().iter().any(|c| c == COLUMNS[0]))
}

/// Records `events` (a relation of member_id, consent, consent_at, channel and joined_at, one row
/// per member; `consent_at` and `joined_at` may be null) as the module's rules say; returns how
/// many rows were recorded.
pub fn record(conn: &Connection, events: &str, values: &[Value], source: Source) -> Result<usize> {
    let given_at =
        "coalesce(e.consent_at, CASE WHEN c.member_id IS NULL THEN e.joined_at END, CAST(now() AS TIMESTAMP))";
    let n = conn.execute(
        &format!(
            "INSERT INTO consent_events
             SELECT e.member_id, e.consent, {given_at}, e.channel, '{source}', CAST(now() AS TIMESTAMP)
             FROM (SELECT DISTINCT member_id, consent, consent_at, channel, joined_at FROM {events}) e
             LEFT JOIN ({latest}) c ON c.member_id = e.member_id
             WHERE (c.member_id IS NULL OR c.consent <> e.consent OR c.channel IS DISTINCT FROM e.channel)
               AND NOT EXISTS (SELECT 1 FROM consent_events x
                               WHERE x.member_id = e.member_id AND x.consent = e.consent
                                 AND x.given_at = {given_at} AND x.channel IS NOT DISTINCT FROM e.channel)",
            source = source.name(),
            latest = latest(Some(&format!("SELECT member_id FROM {events}"))),
        ),
        params_from_iter(values.iter().chain(values)),
    )?;
    Ok(n)
}
