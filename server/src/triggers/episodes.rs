//! Episodes, in DuckDB beside the data they follow (`trigger_episodes`): after each
//! evaluation of a trigger's condition ([`super::conditions`]) the members who entered it
//! open an episode and those who left close theirs. An episode to be handed on is marked
//! `pending` in the same transaction; the operational store records its delivery under the
//! key (trigger, member, episode), and only then is the mark taken off. A crash anywhere
//! between leaves the mark, and the next evaluation hands the episode on again under the
//! same key — which the operational store refuses a second time: once per episode.
//!
//! A trigger's first evaluation takes the members already in its condition as its
//! baseline, handing none of them on: a welcome trigger created today does not greet last
//! week's buyers, an inactivity trigger does not message the whole dormant base at once.

use chrono::NaiveDateTime;
use duckdb::Connection;

use super::conditions::Armed;
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

/// `trigger_id`'s mark, if any.
pub fn mark(conn: &Connection, trigger_id: i64) -> Result<Option<Mark>> {
    let marks = Sql::new(
        "SELECT basis, strftime(whole_at, '%Y-%m-%d %H:%M:%S'), dirty FROM trigger_marks WHERE trigger_id = $id",
    )
    .bind("id", trigger_id)
    .rows(conn, |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)))?;
    Ok(marks.into_iter().next().and_then(|(basis, at, dirty)| {
        NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S").ok().map(|whole_at| Mark { basis, whole_at, dirty })
    }))
}

/// Notes that data landed which `trigger_id` did not read now (it reads everyone later).
pub fn dirty(conn: &Connection, trigger_id: i64) -> Result<()> {
    Sql::new("UPDATE trigger_marks SET dirty = true WHERE trigger_id = $id").bind("id", trigger_id).execute(conn)?;
    Ok(())
}

/// Opens and closes `t`'s episodes from `mp_fired` at `now` (see the module); returns
/// (opened, closed).
pub fn step(conn: &Connection, t: &Armed, now: NaiveDateTime, read: Read) -> Result<(usize, usize)> {
    let tx = conn.unchecked_transaction()?;
    let baseline: bool = Sql::new("SELECT count(*) = 0 FROM triggers_armed WHERE trigger_id = $id")
        .bind("id", t.id)
        .row(&tx, |r| r.get(0))?;
    let leaving = t.on_leaving();
    let now = now.format("%Y-%m-%d %H:%M:%S").to_string();
    let closed = Sql::new(format!(
        "UPDATE trigger_episodes e SET closed_at = CAST($now AS TIMESTAMP), pending = (e.pending OR $leaving)
         WHERE e.trigger_id = $id AND e.closed_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM mp_fired f WHERE f.member_id = e.member_id) {touched}",
        touched = match read {
            Read::Touched => "AND e.member_id IN (SELECT member_id FROM mp_touched)",
            Read::Whole { .. } => "",
        },
    ))
    .bind("now", now.clone())
    .bind("leaving", leaving && !baseline)
    .bind("id", t.id)
    .execute(&tx)?;
    let opened = Sql::new(
        "INSERT INTO trigger_episodes
         SELECT $id, f.member_id, coalesce(p.last, 0) + 1, CAST($now AS TIMESTAMP), NULL, f.facts, $pending
         FROM (SELECT DISTINCT ON (member_id) member_id, facts FROM mp_fired) f
         LEFT JOIN (SELECT member_id, max(episode) AS last, bool_or(closed_at IS NULL) AS open
                    FROM trigger_episodes WHERE trigger_id = $id AND member_id IN (SELECT member_id FROM mp_fired)
                    GROUP BY member_id) p USING (member_id)
         WHERE p.open IS NULL OR NOT p.open",
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
    if let Read::Whole { basis } = read {
        Sql::new("DELETE FROM trigger_marks WHERE trigger_id = $id").bind("id", t.id).execute(&tx)?;
        Sql::new("INSERT INTO trigger_marks VALUES ($id, $basis, CAST($now AS TIMESTAMP), false)")
            .bind("id", t.id)
            .bind("basis", basis.to_string())
            .bind("now", now.clone())
            .execute(&tx)?;
    }
    tx.commit()?;
    Ok((opened, closed))
}

/// `t`'s episodes waiting to be handed on, with the member's consent and arm.
pub fn pending(conn: &Connection, t: &Armed) -> Result<Vec<Pending>> {
    let treated = match t.campaign {
        Some(_) => {
            "EXISTS (SELECT 1 FROM campaign_arms ca WHERE ca.campaign_id = $campaign
                            AND ca.member_id = e.member_id AND ca.arm = 'treatment')"
        }
        None => "TRUE",
    };
    let mut sql = Sql::new(format!(
        "SELECT e.member_id, e.episode, e.facts, coalesce(c.consent, TRUE), {treated}
         FROM trigger_episodes e
         LEFT JOIN ({latest}) c USING (member_id)
         WHERE e.trigger_id = $id AND e.pending
         ORDER BY e.member_id, e.episode",
        latest = consent::latest(Some("SELECT member_id FROM trigger_episodes WHERE pending"))
    ))
    .bind("id", t.id);
    if let Some(c) = t.campaign {
        sql = sql.bind("campaign", c);
    }
    sql.rows(conn, |r| {
        Ok(Pending {
            member_id: r.get(0)?,
            episode: r.get(1)?,
            facts: r.get(2)?,
            consent: r.get(3)?,
            treated: r.get(4)?,
        })
    })
}

/// Takes the pending mark off the episodes `done` of `t`, once the operational store
/// holds their deliveries.
pub fn handed_on(conn: &Connection, t: &Armed, done: &[Pending]) -> Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch("CREATE OR REPLACE TEMP TABLE mp_handed (member_id VARCHAR, episode INTEGER)")?;
    {
        let mut app = tx.appender("mp_handed")?;
        for p in done {
            app.append_row(duckdb::params![p.member_id, p.episode])?;
        }
        app.flush()?;
    }
    Sql::new(
        "UPDATE trigger_episodes e SET pending = FALSE FROM mp_handed h
         WHERE e.trigger_id = $id AND e.member_id = h.member_id AND e.episode = h.episode",
    )
    .bind("id", t.id)
    .execute(&tx)?;
    tx.commit()?;
    Ok(())
}

/// When each trigger's baseline was taken: (trigger id, `YYYY-MM-DD HH:MM:SS`).
pub fn armed(conn: &Connection) -> Result<Vec<(i64, String)>> {
    Sql::new("SELECT trigger_id, strftime(armed_at, '%Y-%m-%d %H:%M:%S') FROM triggers_armed")
        .rows(conn, |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Forgets a trigger's episodes (deleted, or its condition changed: the next evaluation
/// takes a new baseline).
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
