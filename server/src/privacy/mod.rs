//! The members' rights under PIPL (SPEC §10; `docs/privacy.md`): consent changes through
//! the API, the access document (art. 45), erasure (art. 47) and retention.
//!
//! Consent as it lands with members rows is kept by `crate::derive::consent`; this module
//! adds the changes people and systems send later.

use app::model::ConsentRequest;
use chrono_tz::Tz;
use duckdb::{Connection, types::Value};

use crate::{Error, Result, derive::consent};

pub mod access;
pub mod erase;
pub mod retention;

/// The longest consent channel taken.
const MAX_CHANNEL: usize = 32;

/// Ok when a member has the id; a 404 otherwise.
fn require_member(conn: &Connection, member_id: &str) -> Result<()> {
    let known: bool =
        conn.query_row("SELECT count(*) > 0 FROM members WHERE member_id = ?", [member_id], |r| r.get(0))?;
    if known { Ok(()) } else { Err(Error::NotFound(format!("no member {member_id:?}"))) }
}

/// Records a consent change for one stored member; returns whether it was recorded (false
/// when it repeats the member's consent now or a change already in their history).
pub fn change_consent(conn: &mut Connection, member_id: &str, req: &ConsentRequest, zone: Tz) -> Result<bool> {
    let at =
        match req.given_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => Some(crate::load::ingest::timestamp(text, zone).ok_or_else(|| {
                Error::bad_param("given_at", "expected an ISO-8601 date or date-time from 1900 to 2999")
            })?),
        };
    let channel = req.channel.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if channel.is_some_and(|c| c.chars().count() > MAX_CHANNEL || c.chars().any(char::is_control)) {
        return Err(Error::bad_param("channel", format!("expected at most {MAX_CHANNEL} characters")));
    }
    let tx = conn.transaction()?;
    // A member merged into another gives consent as the person they belong to now.
    let person = crate::identity::person_of(&tx, member_id)?;
    let member_id = person.as_str();
    require_member(&tx, member_id)?;
    let values = [
        Value::Text(member_id.to_string()),
        Value::Boolean(req.consent),
        at.map_or(Value::Null, Value::Text),
        channel.map_or(Value::Null, |c| Value::Text(c.to_string())),
    ];
    let events =
        "(SELECT CAST(? AS VARCHAR) AS member_id, CAST(? AS BOOLEAN) AS consent, CAST(? AS TIMESTAMP) AS consent_at,
                          CAST(? AS VARCHAR) AS channel, CAST(NULL AS TIMESTAMP) AS joined_at)";
    let recorded = consent::record(&tx, events, &values, consent::Source::Api)?;
    tx.commit()?;
    Ok(recorded > 0)
}
