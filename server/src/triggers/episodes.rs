//! Episodes, in DuckDB beside the data they follow (`trigger_episodes`): after each
//! evaluation of a trigger's condition ([`super::conditions`]) the members who entered it
//! open an episode and those who left close theirs. An episode to be handed on is marked
//! `pending` in the same transaction; the operational store records its delivery under the
//! key (trigger, member, episode), and only then is the mark taken off. A crash anywhere
//! between leaves the mark, and the next evaluation hands the episode on again under the
//! same key — which the operational store refuses a second time: once per episode.
//!
//! A read of the touched members alone ([`super::kept`]) hands its openings on first and
//! stores them after, unmarked. A crash between loses them from DuckDB, not from the
//! operational store: the process reads everyone when it starts ([`unmark`]), opens the
//! same episodes again under the same numbers, and their delivery is refused as a repeat.
//!
//! A trigger's first evaluation takes the members already in its condition as its
//! baseline, handing none of them on: a welcome trigger created today does not greet last
//! week's buyers, an inactivity trigger does not message the whole dormant base at once.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use duckdb::Connection;

use super::{conditions::Armed, kept::Opening};
use crate::{Result, derive::consent, store::sql::Sql};

/// One episode to be handed on, with what decides whether it may be.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub member_id: String,
    pub episode: i64,
    pub facts: String,
    /// False when the member's latest recorded consent is a refusal (no record: true).
    pub consent: bool,
    /// False when the trigger sends a campaign's treatment arm only and the member is not in it.
    pub treated: bool,
    /// Whether the episode is stored (marked pending in `trigger_episodes`), or opened by a
    /// touched read and stored once handed on ([`super::kept::Kept::write`]).
    pub stored: bool,
}

/// How an evaluation read a trigger's condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read<'a> {
    /// For every member, on `basis` (see [`mark`]).
    Whole { basis: &'a str },
    /// For the members in `mp_touched` alone: no one else's episode opens or closes.
    Touched,
}

/// What a trigger's last whole evaluation was made on (see [`Read::Whole`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub basis: String,
    pub whole_at: NaiveDateTime,
    /// Data landed since that this trigger has not read (see [`dirty`]).
    pub dirty: bool,
}

/// Every trigger's mark: (trigger id, mark).
pub fn marks(conn: &Connection) -> Result<Vec<(i64, Mark)>> {
    let marks = Sql::new("SELECT trigger_id, basis, strftime(whole_at, '%Y-%m-%d %H:%M:%S'), dirty FROM trigger_marks")
        .rows(conn, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?))
        })?;
    Ok(marks
        .into_iter()
        .filter_map(|(id, basis, at, dirty)| {
            NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|whole_at| (id, Mark { basis, whole_at, dirty }))
        })
        .collect())
}

/// Notes that data landed which `trigger_id` did not read now (it reads everyone later).
pub fn dirty(conn: &Connection, trigger_id: i64) -> Result<()> {
    Sql::new("UPDATE trigger_marks SET dirty = true WHERE trigger_id = $id").bind("id", trigger_id).execute(conn)?;
    Ok(())
}

/// Opens and closes `t`'s episodes from `mp_fired` at `now`, for every member, and marks
/// it read on `basis` (see the module); returns (opened, closed). A read of the touched
/// members alone is [`super::kept::Kept::plan`].
pub fn step(conn: &Connection, t: &Armed, now: NaiveDateTime, basis: &str) -> Result<(usize, usize)> {
    let tx = conn.unchecked_transaction()?;
    let baseline: bool = Sql::new("SELECT count(*) = 0 FROM triggers_armed WHERE trigger_id = $id")
        .bind("id", t.id)
        .row(&tx, |r| r.get(0))?;
    let leaving = t.on_leaving();
    let now = now.format("%Y-%m-%d %H:%M:%S").to_string();
    let closed = Sql::new(
        "UPDATE trigger_episodes e SET closed_at = CAST($now AS TIMESTAMP), pending = (e.pending OR $leaving)
         WHERE e.trigger_id = $id AND e.closed_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM mp_fired f WHERE f.member_id = e.member_id)",
    )
    .bind("now", now.clone())
    .bind("leaving", leaving && !baseline)
    .bind("id", t.id)
    .execute(&tx)?;
    // The members in the condition now with their number and latest episode in it (if any).
    let opened = Sql::new(
        "INSERT INTO trigger_episodes (trigger_id, member_id, episode, opened_at, closed_at, facts, pending, member_no)
         SELECT $id, member_id, coalesce(last, 0) + 1, CAST($now AS TIMESTAMP), NULL, facts, $pending, member_no
         FROM (SELECT f.member_id, s.member_no, f.facts, p.last, p.open
               FROM (SELECT DISTINCT ON (member_id) member_id, facts FROM mp_fired) f
               LEFT JOIN member_summary s USING (member_id)
               LEFT JOIN (SELECT member_id, max(episode) AS last, bool_or(closed_at IS NULL) AS open
                          FROM trigger_episodes WHERE trigger_id = $id AND member_id IN (SELECT member_id FROM mp_fired)
                          GROUP BY member_id) p USING (member_id))
         WHERE open IS NULL OR NOT open",
    )
    .bind("id", t.id)
    .bind("now", now.clone())
    .bind("pending", !leaving && !baseline)
    .execute(&tx)?;
    if baseline {
        Sql::new("INSERT INTO triggers_armed VALUES ($id, CAST($now AS TIMESTAMP))")
            .bind("id", t.id)
            .bind("now", now.clone())
            .execute(&tx)?;
    }
    Sql::new("DELETE FROM trigger_marks WHERE trigger_id = $id").bind("id", t.id).execute(&tx)?;
    Sql::new("INSERT INTO trigger_marks VALUES ($id, $basis, CAST($now AS TIMESTAMP), false)")
        .bind("id", t.id)
        .bind("basis", basis.to_string())
        .bind("now", now.clone())
        .execute(&tx)?;
    tx.commit()?;
    Ok((opened, closed))
}

/// What is to be handed on for each trigger of `of`, with the member's consent and arm,
/// in `of`'s order (one read of the consent for them all): the stored episodes waiting of
/// the triggers in `stored`, and the episodes `opening` (a touched read's, not yet stored).
/// The consent is read from the events, or from `refused` (the members whose consent now
/// is a refusal) when given.
pub fn pending(
    conn: &Connection,
    of: &[&Armed],
    stored: &[i64],
    opening: &[&Opening],
    refused: Option<&HashSet<String>>,
) -> Result<Vec<Vec<Pending>>> {
    if of.is_empty() {
        return Ok(Vec::new());
    }
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE mp_sends (trigger_id BIGINT, campaign_id BIGINT, stored BOOLEAN);
         CREATE OR REPLACE TEMP TABLE mp_new (trigger_id BIGINT, member_id VARCHAR, episode INTEGER, facts VARCHAR);",
    )?;
    {
        let mut app = conn.appender("mp_sends")?;
        for t in of {
            app.append_row(duckdb::params![t.id, t.campaign, stored.contains(&t.id)])?;
        }
        app.flush()?;
        let mut app = conn.appender("mp_new")?;
        for o in opening {
            app.append_row(duckdb::params![o.trigger_id, o.member_id, o.episode, o.facts])?;
        }
        app.flush()?;
    }
    let stored = match stored.is_empty() {
        true => "",
        false => {
            "SELECT e.trigger_id, e.member_id, e.episode, e.facts, s.campaign_id, TRUE AS stored
             FROM trigger_episodes e JOIN mp_sends s USING (trigger_id) WHERE e.pending AND s.stored
             UNION ALL "
        }
    };
    let rows = Sql::new(format!(
        "WITH p AS MATERIALIZED (
             {stored}SELECT n.trigger_id, n.member_id, n.episode, n.facts, s.campaign_id, FALSE AS stored
             FROM mp_new n JOIN mp_sends s USING (trigger_id))
         SELECT p.trigger_id, p.member_id, p.episode, p.facts, {consent},
                p.campaign_id IS NULL OR coalesce(a.arm = 'treatment', FALSE), p.stored
         FROM p {latest}
         LEFT JOIN {arms} a ON a.campaign_id = p.campaign_id AND a.member_id = p.member_id
         ORDER BY p.trigger_id, p.member_id, p.episode",
        consent = if refused.is_some() { "TRUE" } else { "coalesce(c.consent, TRUE)" },
        latest = match refused {
            Some(_) => String::new(),
            None => format!("LEFT JOIN ({}) c USING (member_id)", consent::latest(Some("SELECT member_id FROM p"))),
        },
        arms = crate::campaigns::arms::by_person("campaign_id IN (SELECT campaign_id FROM mp_sends)")
    ))
    .rows(conn, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Pending {
                member_id: r.get(1)?,
                episode: r.get(2)?,
                facts: r.get(3)?,
                consent: r.get(4)?,
                treated: r.get(5)?,
                stored: r.get(6)?,
            },
        ))
    })?;
    let mut out: Vec<Vec<Pending>> = of.iter().map(|_| Vec::new()).collect();
    for (id, mut p) in rows {
        if let Some(refused) = refused {
            p.consent = !refused.contains(&p.member_id);
        }
        if let Some(i) = of.iter().position(|t| t.id == id) {
            out[i].push(p);
        }
    }
    Ok(out)
}

/// Takes the pending mark off the episodes `done` of each trigger that are stored
/// ([`Pending::stored`]), once the operational store holds their deliveries (one write for
/// them all, in the caller's transaction).
pub fn handed_on(conn: &Connection, done: &[(i64, Vec<Pending>)]) -> Result<()> {
    if done.iter().all(|(_, d)| d.iter().all(|p| !p.stored)) {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE mp_handed (trigger_id BIGINT, member_id VARCHAR, episode INTEGER)",
    )?;
    {
        let mut app = conn.appender("mp_handed")?;
        for (id, pending) in done {
            for p in pending.iter().filter(|p| p.stored) {
                app.append_row(duckdb::params![id, p.member_id, p.episode])?;
            }
        }
        app.flush()?;
    }
    conn.execute_batch(
        "UPDATE trigger_episodes e SET pending = FALSE FROM mp_handed h
         WHERE e.trigger_id = h.trigger_id AND e.member_id = h.member_id AND e.episode = h.episode",
    )?;
    Ok(())
}

/// When each trigger's baseline was taken: (trigger id, `YYYY-MM-DD HH:MM:SS`).
pub fn armed(conn: &Connection) -> Result<Vec<(i64, String)>> {
    Sql::new("SELECT trigger_id, strftime(armed_at, '%Y-%m-%d %H:%M:%S') FROM triggers_armed")
        .rows(conn, |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Starts a trigger whose condition changed from a new baseline at its next evaluation:
/// its open episodes close at `now` and its waiting ones are not handed on (they were of
/// the old condition), and the episodes stay, so that a member's next episode takes the
/// next number — one the operational store has not recorded a delivery under.
pub fn restart(conn: &Connection, trigger_id: i64, now: NaiveDateTime) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    Sql::new(
        "UPDATE trigger_episodes SET closed_at = coalesce(closed_at, CAST($now AS TIMESTAMP)), pending = FALSE
         WHERE trigger_id = $id AND (closed_at IS NULL OR pending)",
    )
    .bind("id", trigger_id)
    .bind("now", now.format("%Y-%m-%d %H:%M:%S").to_string())
    .execute(&tx)?;
    Sql::new("DELETE FROM triggers_armed WHERE trigger_id = $id").bind("id", trigger_id).execute(&tx)?;
    Sql::new("DELETE FROM trigger_marks WHERE trigger_id = $id").bind("id", trigger_id).execute(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Forgets a deleted trigger's episodes (trigger ids are never given again).
pub fn forget(conn: &Connection, trigger_id: i64) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    Sql::new("DELETE FROM trigger_episodes WHERE trigger_id = $id").bind("id", trigger_id).execute(&tx)?;
    Sql::new("DELETE FROM triggers_armed WHERE trigger_id = $id").bind("id", trigger_id).execute(&tx)?;
    Sql::new("DELETE FROM trigger_marks WHERE trigger_id = $id").bind("id", trigger_id).execute(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Forgets what every trigger's last whole evaluation was made on: the next evaluation
/// reads everyone. Run when the process starts, since one cut short by a crash took the
/// touched members off their list without reading them all.
pub fn unmark(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM trigger_marks")?;
    Ok(())
}
