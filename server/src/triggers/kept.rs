//! What an evaluation keeps in memory for the next one, so that reading the members a fold
//! touched costs no scan of everyone: the spend book ([`super::spend`]) and, for each
//! trigger read on the touched members, each member's latest episode in
//! `trigger_episodes` and whether it is open.
//!
//! A trigger's episodes are read from DuckDB once per basis (the first touched read after
//! a whole one); each touched read then opens and closes them here and writes what changed
//! for every trigger in one transaction. A whole read, a trigger changed or deleted and a
//! failed evaluation let them go: DuckDB stays the record, this only saves reading it.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use duckdb::Connection;

use super::{conditions::Armed, episodes::Pending, spend};
use crate::{Result, store::sql::Sql};

/// A member in a trigger's condition, as a touched read found them.
#[derive(Clone, Debug)]
pub struct Fired {
    pub member_id: String,
    pub member_no: i64,
    pub facts: String,
}

/// One trigger's episodes by member number: (latest episode, open).
#[derive(Debug, Default)]
struct Episodes {
    basis: String,
    members: HashMap<i64, (i32, bool)>,
}

/// What is kept between evaluations (see the module).
#[derive(Debug, Default)]
pub struct Kept {
    pub book: Option<spend::Book>,
    episodes: HashMap<i64, Episodes>,
    refusals: Option<Refusals>,
    /// Whether the deliveries recorded but not stored were stored since the process
    /// started or an evaluation failed (`Services::store_recorded`).
    pub stored: bool,
}

/// The members whose consent now is a refusal ([`crate::derive::consent::latest`]), read
/// from every consent event on a basis `on` when `events` (consent events, erasures) were
/// recorded. Consent events are only ever added, or given a pseudonym by an erasure
/// (`crate::privacy`), so while those counts and the basis (which a merge changes) stay
/// the same, so does this.
#[derive(Debug)]
struct Refusals {
    on: String,
    events: (i64, i64),
    at: std::time::Instant,
    members: std::collections::HashSet<String>,
}

/// How long after reading the refusals a change of the consent events has them read again;
/// meanwhile each evaluation reads its members' consent (consent landing all the time is
/// not read in full each time).
const REFUSALS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The episodes a touched read opens and closes, written once what they hand on was
/// recorded ([`Kept::write`]).
#[derive(Debug, Default)]
pub struct Plan {
    /// (trigger, member number, episode)
    closing: Vec<(i64, i64, i32)>,
    opening: Vec<Opening>,
    /// How many each trigger read closes, in the order read.
    pub closed: Vec<usize>,
}

/// An episode to open.
#[derive(Debug)]
pub struct Opening {
    pub trigger_id: i64,
    member_no: i64,
    pub episode: i32,
    pub member_id: String,
    pub facts: String,
}

impl Plan {
    /// The episodes `trigger_id` opens.
    pub fn opened(&self, trigger_id: i64) -> impl Iterator<Item = &Opening> {
        self.opening.iter().filter(move |o| o.trigger_id == trigger_id)
    }
}

impl Kept {
    /// Everything kept let go but whether the recorded deliveries were stored (nothing
    /// failed: `Services::store_recorded` need not run again).
    pub fn let_go(&self) -> Kept {
        Kept { stored: self.stored, ..Kept::default() }
    }

    /// Lets `trigger_id`'s episodes go: read again at its next touched read.
    pub fn forget(&mut self, trigger_id: i64) {
        self.episodes.remove(&trigger_id);
    }

    /// The members whose consent now is a refusal, when they are kept or may be read now
    /// (see [`Refusals`]); `None` has the caller read its members' consent.
    pub fn refusals(&mut self, conn: &Connection, on: &str) -> Result<Option<&std::collections::HashSet<String>>> {
        let events: (i64, i64) =
            Sql::new("SELECT (SELECT count(*) FROM consent_events), (SELECT count(*) FROM erasures)")
                .row(conn, |r| Ok((r.get(0)?, r.get(1)?)))?;
        let current = self.refusals.as_ref().is_some_and(|r| r.on == on && r.events == events);
        if !current {
            if self.refusals.as_ref().is_some_and(|r| r.at.elapsed() < REFUSALS_EVERY) {
                return Ok(None);
            }
            let members =
                Sql::new(format!("SELECT member_id FROM ({}) WHERE NOT consent", crate::derive::consent::latest(None)))
                    .rows(conn, |r| r.get::<_, String>(0))?;
            self.refusals = Some(Refusals {
                on: on.to_string(),
                events,
                at: std::time::Instant::now(),
                members: members.into_iter().collect(),
            });
        }
        Ok(self.refusals.as_ref().map(|r| &r.members))
    }

    /// Reads the members in the condition of the trigger whose condition is in `mp_fired`
    /// now, of the touched members (`mp_touched`).
    pub fn fired(conn: &Connection) -> Result<Vec<Fired>> {
        Sql::new("SELECT f.member_id, t.member_no, f.facts FROM mp_fired f JOIN mp_touched t USING (member_id)")
            .rows(conn, |r| Ok(Fired { member_id: r.get(0)?, member_no: r.get(1)?, facts: r.get(2)? }))
    }

    /// The episodes of trigger `id` made on `basis`, read from DuckDB when not kept.
    fn episodes(&mut self, conn: &Connection, id: i64, basis: &str) -> Result<&mut Episodes> {
        if self.episodes.get(&id).is_none_or(|e| e.basis != basis) {
            let rows = Sql::new(
                "SELECT member_no, max(episode), bool_or(closed_at IS NULL) FROM trigger_episodes
                 WHERE trigger_id = $id AND member_no IS NOT NULL GROUP BY member_no",
            )
            .bind("id", id)
            .rows(conn, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i32>(1)?, r.get::<_, bool>(2)?)))?;
            let mut members = HashMap::with_capacity(rows.len());
            for (no, last, open) in rows {
                members.insert(no, (last, open));
            }
            self.episodes.insert(id, Episodes { basis: basis.to_string(), members });
        }
        Ok(self.episodes.get_mut(&id).expect("kept just now"))
    }

    /// Works out what each trigger in `read` (with its basis and the touched members in
    /// its condition) opens and closes: a touched member (`touched`, their numbers) with an
    /// open episode who is not in the condition closes it, a member in it without one opens
    /// the next. Nothing is written.
    pub fn plan(&mut self, conn: &Connection, read: &[(&Armed, &str, &[Fired])], touched: &[i64]) -> Result<Plan> {
        let mut plan = Plan::default();
        for (t, basis, fired) in read {
            let episodes = self.episodes(conn, t.id, basis)?;
            let mut inside: HashMap<i64, &Fired> = HashMap::with_capacity(fired.len());
            for f in fired.iter() {
                inside.entry(f.member_no).or_insert(f);
            }
            let before = plan.closing.len();
            for no in touched {
                if let Some(&(last, true)) = episodes.members.get(no)
                    && !inside.contains_key(no)
                {
                    plan.closing.push((t.id, *no, last));
                }
            }
            plan.closed.push(plan.closing.len() - before);
            for (no, f) in inside {
                let (last, open) = episodes.members.get(&no).copied().unwrap_or((0, false));
                if !open {
                    plan.opening.push(Opening {
                        trigger_id: t.id,
                        member_no: no,
                        episode: last + 1,
                        member_id: f.member_id.clone(),
                        facts: f.facts.clone(),
                    });
                }
            }
        }
        Ok(plan)
    }

    /// Writes `plan` at `now` in one DuckDB transaction, with the pending marks of `handed`
    /// taken off ([`super::episodes::handed_on`]): the episodes of the triggers in
    /// `recorded` open handed on, the others pending (handed on by a later evaluation).
    /// What is kept changes only once it committed.
    pub fn write(
        &mut self,
        conn: &Connection,
        plan: Plan,
        recorded: &[i64],
        handed: &[(i64, Vec<Pending>)],
        now: NaiveDateTime,
        through: &str,
    ) -> Result<()> {
        let at = now.format("%Y-%m-%d %H:%M:%S").to_string();
        let tx = conn.unchecked_transaction()?;
        if !plan.closing.is_empty() {
            tx.execute_batch(
                "CREATE OR REPLACE TEMP TABLE mp_closing (trigger_id BIGINT, member_no BIGINT, episode INTEGER)",
            )?;
            {
                let mut app = tx.appender("mp_closing")?;
                for (id, no, episode) in &plan.closing {
                    app.append_row(duckdb::params![id, no, episode])?;
                }
                app.flush()?;
            }
            Sql::new(
                "UPDATE trigger_episodes e SET closed_at = CAST($now AS TIMESTAMP) FROM mp_closing c
                 WHERE e.trigger_id = c.trigger_id AND e.member_no = c.member_no AND e.episode = c.episode
                   AND e.closed_at IS NULL",
            )
            .bind("now", at.clone())
            .execute(&tx)?;
        }
        if !plan.opening.is_empty() {
            tx.execute_batch(
                "CREATE OR REPLACE TEMP TABLE mp_opening (trigger_id BIGINT, member_id VARCHAR, episode INTEGER,
                                                          facts VARCHAR, pending BOOLEAN, member_no BIGINT)",
            )?;
            {
                let mut app = tx.appender("mp_opening")?;
                for o in &plan.opening {
                    let pending = !recorded.contains(&o.trigger_id);
                    app.append_row(duckdb::params![
                        o.trigger_id,
                        o.member_id,
                        o.episode,
                        o.facts,
                        pending,
                        o.member_no
                    ])?;
                }
                app.flush()?;
            }
            Sql::new(
                "INSERT INTO trigger_episodes (trigger_id, member_id, episode, opened_at, closed_at, facts, pending, member_no)
                 SELECT trigger_id, member_id, episode, CAST($now AS TIMESTAMP), NULL, facts, pending, member_no
                 FROM mp_opening",
            )
            .bind("now", at)
            .execute(&tx)?;
        }
        super::episodes::handed_on(&tx, handed)?;
        Sql::new("DELETE FROM trigger_stored; INSERT INTO trigger_stored VALUES ($through)")
            .bind("through", through.to_string())
            .execute(&tx)?;
        tx.commit()?;
        for (id, no, last) in plan.closing {
            if let Some(e) = self.episodes.get_mut(&id) {
                e.members.insert(no, (last, false));
            }
        }
        for o in plan.opening {
            if let Some(e) = self.episodes.get_mut(&o.trigger_id) {
                e.members.insert(o.member_no, (o.episode, true));
            }
        }
        Ok(())
    }
}

/// Stores `recorded` deliveries (trigger, member, episode, facts, recorded at, local time)
/// whose episode, or a later one of the member's, DuckDB lacks, as open episodes handed on
/// (see `Services::store_recorded`): the next whole read closes those whose member left,
/// so the member's next episode takes the next number. A member no longer in the summary
/// under that id (erased: their rows carry a pseudonym now) is left. Returns how many
/// were stored.
pub fn store_recorded(conn: &Connection, recorded: &[(i64, String, i64, String, String)]) -> Result<usize> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "CREATE OR REPLACE TEMP TABLE mp_recorded (trigger_id BIGINT, member_id VARCHAR, episode INTEGER,
                                                    facts VARCHAR, created_at VARCHAR)",
    )?;
    {
        let mut app = tx.appender("mp_recorded")?;
        for (id, member, episode, facts, at) in recorded {
            app.append_row(duckdb::params![id, member, episode, facts, at])?;
        }
        app.flush()?;
    }
    let n = tx.execute(
        "INSERT INTO trigger_episodes (trigger_id, member_id, episode, opened_at, closed_at, facts, pending, member_no)
         SELECT r.trigger_id, r.member_id, r.episode, CAST(r.created_at AS TIMESTAMP), NULL, r.facts, FALSE,
                s.member_no
         FROM mp_recorded r JOIN member_summary s USING (member_id)
         WHERE NOT EXISTS (SELECT 1 FROM trigger_episodes e
                           WHERE e.trigger_id = r.trigger_id AND e.member_id = r.member_id AND e.episode >= r.episode)",
        [],
    )?;
    tx.commit()?;
    Ok(n)
}
