//! Triggers (SPEC §12): operators set triggers; admins own the messaging channels and
//! the contact policy (operators see channels without their URLs' paths). Every change is
//! audited. [`Services::run_triggers`] evaluates them after data lands.

use app::model::{ContactPolicy, MessagingChannel, Trigger, TriggerWhen};

use super::*;
use crate::store::sql::Sql;
use crate::triggers::{
    conditions::{self, Armed, Between},
    episodes::{self, Read},
    hand_on,
    kept::{Kept, Plan},
    saved, spend,
};

/// What one evaluation of every trigger did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TriggerRun {
    pub triggers: usize,
    pub opened: usize,
    pub closed: usize,
    pub queued: usize,
    pub held_back: usize,
    pub repeated: usize,
}

/// How often a trigger on a saved segment's members is evaluated again on data that
/// landed (each member's own changes cannot tell who entered: see
/// [`conditions::by_member`]). A new latest day, a refit or a change of the rules
/// evaluates it at once.
const SEGMENTS_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What whole evaluations are made on: the latest day, the scores, the broad changes, the
/// metric settings and RFM rules. Member-level conditions do not count the changes that
/// only saved segments read (stores, order items, identities landed).
struct On {
    members: String,
    segments: String,
}

/// What a whole evaluation of `a` reads, hashed: while it is the same, an evaluation of a
/// member-level condition reads the touched members alone.
fn basis(on: &On, a: &Armed) -> String {
    use std::hash::{Hash, Hasher};
    let on = match conditions::between(&a.when) {
        Between::Whole => &on.segments,
        _ => &on.members,
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{on}|{:?}|{:?}|{:?}", a.when, a.segment, a.campaign).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A messaging channel as `who` may see it (as alert channels: operators without the
/// URL's path and query).
fn redacted(who: &Caller, mut c: MessagingChannel) -> MessagingChannel {
    if !who.sees_personal_data() {
        super::alerts::redact_channel(&mut c.channel);
    }
    c
}

impl Services {
    pub async fn messaging_channels(&self, who: &Caller) -> Result<Vec<MessagingChannel>> {
        who.require(Role::Operator)?;
        Ok(saved::channels(&self.ops, self.analytics.seal()).await?.into_iter().map(|c| redacted(who, c)).collect())
    }

    /// Adds a messaging channel (its URL checked like an alert webhook's). Admins; audited.
    pub async fn create_messaging_channel(&self, who: &Caller, c: MessagingChannel) -> Result<MessagingChannel> {
        who.require(Role::Admin)?;
        let url = saved::validate_channel(&c)?;
        crate::alerts::webhook::check(url, self.allow_private_webhooks)
            .await
            .map_err(|e| Error::bad_param("channel", e))?;
        let id = saved::create_channel(&self.ops, self.analytics.seal(), &c, &who.name).await?;
        audit::record(&self.ops, who, "messaging_channel.create", Some(c.name.trim()), None).await?;
        saved::channel_by_id(&self.ops, self.analytics.seal(), id).await
    }

    pub async fn update_messaging_channel(
        &self,
        who: &Caller,
        id: i64,
        c: MessagingChannel,
    ) -> Result<MessagingChannel> {
        who.require(Role::Admin)?;
        let url = saved::validate_channel(&c)?;
        crate::alerts::webhook::check(url, self.allow_private_webhooks)
            .await
            .map_err(|e| Error::bad_param("channel", e))?;
        saved::update_channel(&self.ops, self.analytics.seal(), id, &c, &who.name).await?;
        audit::record(&self.ops, who, "messaging_channel.update", Some(c.name.trim()), None).await?;
        saved::channel_by_id(&self.ops, self.analytics.seal(), id).await
    }

    pub async fn delete_messaging_channel(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Admin)?;
        saved::delete_channel(&self.ops, id).await?;
        audit::record(&self.ops, who, "messaging_channel.delete", Some(&id.to_string()), None).await
    }

    /// Every trigger, with what it handed on and when its baseline was taken.
    pub async fn triggers(&self, who: &Caller) -> Result<Vec<Trigger>> {
        who.require(Role::Operator)?;
        let mut all = saved::triggers(&self.ops).await?;
        let armed = self.analytics.read(episodes::armed).await?;
        for t in &mut all {
            t.armed_at = armed.iter().find(|(id, _)| *id == t.id).map(|(_, at)| at.clone());
        }
        Ok(all)
    }

    /// Checks a trigger against the store: its channels and campaign exist, its segment is saved.
    async fn check_trigger(&self, t: &Trigger) -> Result<()> {
        saved::validate(t)?;
        let known = saved::channels(&self.ops, self.analytics.seal()).await?;
        if let Some(bad) = t.channels.iter().find(|id| !known.iter().any(|c| c.id == **id)) {
            return Err(Error::bad_param("channels", format!("no messaging channel {bad}")));
        }
        if let Some(c) = t.campaign {
            crate::campaigns::saved::get(&self.ops, c)
                .await
                .map_err(|_| Error::bad_param("campaign", format!("no campaign {c}")))?;
        }
        if let TriggerWhen::EntersSegment { segment } | TriggerWhen::LeavesSegment { segment } = &t.when {
            scope::saved::get(&self.ops, segment)
                .await
                .map_err(|_| Error::bad_param("when.segment", format!("no saved segment {segment:?}")))?;
        }
        Ok(())
    }

    /// Adds a trigger. Operators; audited. It starts from a baseline (see
    /// [`crate::triggers::episodes`]) at the next evaluation, which is asked for now.
    pub async fn create_trigger(&self, who: &Caller, t: Trigger) -> Result<Trigger> {
        who.require(Role::Operator)?;
        self.check_trigger(&t).await?;
        let id = saved::create(&self.ops, &t, &who.name).await?;
        audit::record(&self.ops, who, "trigger.create", Some(t.name.trim()), Some(&audit::describe(&t.when))).await?;
        self.triggers_wake.notify_one();
        saved::trigger_by_id(&self.ops, id).await
    }

    /// Replaces a trigger; a changed condition starts again from a new baseline.
    pub async fn update_trigger(&self, who: &Caller, id: i64, t: Trigger) -> Result<Trigger> {
        who.require(Role::Operator)?;
        self.check_trigger(&t).await?;
        let before = saved::trigger_by_id(&self.ops, id).await?;
        let mut running = self.trigger_run.lock().await;
        saved::update(&self.ops, id, &t, &who.name).await?;
        if before.when != t.when || before.campaign != t.campaign {
            running.forget(id);
            let now = self.local_now();
            self.analytics.watch(move |conn| episodes::restart(conn, id, now)).await?;
        }
        audit::record(&self.ops, who, "trigger.update", Some(t.name.trim()), Some(&audit::describe(&t.when))).await?;
        self.triggers_wake.notify_one();
        saved::trigger_by_id(&self.ops, id).await
    }

    pub async fn delete_trigger(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Operator)?;
        let t = saved::trigger_by_id(&self.ops, id).await?;
        let mut running = self.trigger_run.lock().await;
        saved::delete(&self.ops, id).await?;
        running.forget(id);
        self.analytics.watch(move |conn| episodes::forget(conn, id)).await?;
        audit::record(&self.ops, who, "trigger.delete", Some(&t.name), None).await
    }

    pub async fn contact_policy(&self, who: &Caller) -> Result<ContactPolicy> {
        who.require(Role::Operator)?;
        saved::policy(&self.ops).await
    }

    /// Sets the frequency cap and quiet hours. Admins; audited.
    pub async fn set_contact_policy(&self, who: &Caller, p: ContactPolicy) -> Result<ContactPolicy> {
        who.require(Role::Admin)?;
        saved::validate_policy(&p)?;
        saved::set_policy(&self.ops, &p, &who.name).await?;
        audit::record(&self.ops, who, "contact_policy.update", None, Some(&audit::describe(&p))).await?;
        saved::policy(&self.ops).await
    }

    /// What `work` on the triggers' connection answered; if it could not run to its end
    /// (its task died: the outer error), every trigger reads everyone next, since the
    /// touched members it took may be lost.
    async fn or_read_everyone<T>(&self, work: impl std::future::Future<Output = Result<Result<T>>>) -> Result<T> {
        match work.await {
            Ok(answer) => answer,
            Err(e) => {
                let _ = self.analytics.watch(episodes::unmark).await;
                Err(e)
            }
        }
    }

    /// Stores the deliveries recorded since the last evaluation's write whose episodes
    /// DuckDB lacks — a read of the touched members records its openings before it stores
    /// them, and the process died between the two or the write failed — as open episodes
    /// handed on (`crate::triggers::kept::store_recorded`). Run before the first
    /// evaluation of a process and after a failed one.
    async fn store_recorded(&self) -> Result<()> {
        let through: Option<String> = self
            .analytics
            .watch(|conn| Ok(conn.query_row("SELECT max(through) FROM trigger_stored", [], |r| r.get(0))?))
            .await?;
        let Some(through) = through else {
            let now = crate::store::operational::stamp(chrono::Utc::now());
            return self
                .analytics
                .watch(move |conn| Ok(conn.execute("INSERT INTO trigger_stored VALUES (?)", [now]).map(|_| ())?))
                .await;
        };
        // Of the triggers still defined (one edited since keeps its episodes' numbers).
        let mut recorded: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
            "SELECT trigger_id, member_id, episode, facts, created_at FROM trigger_deliveries
             WHERE created_at >= ? AND trigger_id IN (SELECT id FROM triggers)",
        )
        .bind(&through)
        .fetch_all(&self.ops)
        .await?;
        // Opened when recorded, in the retailer's time as every episode's times are.
        for (.., at) in &mut recorded {
            if let Ok(utc) = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%SZ") {
                *at = utc.and_utc().with_timezone(&self.zone).format("%Y-%m-%d %H:%M:%S").to_string();
            }
        }
        if recorded.is_empty() {
            return Ok(());
        }
        let stored = self.analytics.watch(move |conn| crate::triggers::kept::store_recorded(conn, &recorded)).await?;
        if stored > 0 {
            tracing::warn!(episodes = stored, "recorded openings stored after an evaluation cut short");
        }
        Ok(())
    }

    /// Evaluates every enabled trigger as of the latest data day and hands on what entered
    /// (see [`crate::triggers`]); one evaluation at a time.
    pub async fn run_triggers(&self) -> Result<TriggerRun> {
        let mut running = self.trigger_run.lock().await;
        let started = std::time::Instant::now();
        if !running.stored {
            self.store_recorded().await?;
            running.stored = true;
        }
        let all = saved::enabled(&self.ops).await?;
        let mut run = TriggerRun::default();
        if all.is_empty() {
            // No trigger reads what folds touch: the list is let go, and a trigger enabled
            // later reads everyone first.
            self.analytics
                .watch(|conn| {
                    Ok(conn.execute_batch(
                        "DELETE FROM touched_members; DELETE FROM touched_days; DELETE FROM trigger_marks;",
                    )?)
                })
                .await?;
            *running = running.let_go();
            return Ok(run);
        }
        let mut armed = Vec::new();
        for t in &all {
            let segment = match &t.when {
                TriggerWhen::EntersSegment { segment } | TriggerWhen::LeavesSegment { segment } => {
                    match scope::saved::get(&self.ops, segment).await {
                        Ok(s) => Some(scope::parse(&s.filters)?),
                        Err(_) => {
                            tracing::warn!(trigger = t.id, segment, "a trigger's segment is gone; skipped");
                            continue;
                        }
                    }
                }
                _ => None,
            };
            armed.push((t.clone(), Armed { id: t.id, when: t.when.clone(), segment, campaign: t.campaign }));
        }
        let rules = rfm::rules(&self.ops).await?;
        let policy = saved::policy(&self.ops).await?;
        let channels = saved::channels(&self.ops, self.analytics.seal()).await?;
        let (cfg, now) = (self.metrics, self.local_now());
        let ready: Vec<Armed> = armed.iter().map(|(_, a)| a.clone()).collect();
        let read = started.elapsed();
        let mut kept = std::mem::take(&mut *running);
        let (stepped, plan, mut kept, taken) = self
            .or_read_everyone(self.analytics.watch(move |conn| {
                Ok((move || {
                    // The members touched so far, taken off the list in one transaction: folds
                    // go on meanwhile, and what they touch waits for the next evaluation.
                    // Each member's latest figures (`derive::facts::touched`). What a whole
                    // evaluation is made on, and the table a stale spend book is made from,
                    // are read in it too: they see the same folds.
                    let tx = conn.transaction()?;
                    let Some(as_of) = metrics::latest_order_date(&tx)? else {
                        return Ok((Vec::new(), Plan::default(), kept.let_go(), started.elapsed()));
                    };
                    let (head, tail) =
                        (format!("{as_of}|{}", crate::derive::facts::scorings(&tx)?), format!("{cfg:?}|{rules:?}"));
                    let (all, member_level) = crate::derive::facts::broad_changes(&tx)?;
                    let on = On {
                        members: format!("{head}|{member_level}|{tail}"),
                        segments: format!("{head}|{all}|{tail}"),
                    };
                    let near = ready.iter().any(|a| matches!(a.when, TriggerWhen::NearNextTier { .. }));
                    if near && spend::stale(&kept.book, &on.members) {
                        spend::table(&tx, as_of)?;
                    }
                    tx.execute_batch(
                        "CREATE OR REPLACE TEMP TABLE mp_touched AS
                         SELECT arg_max(member_id, seq) AS member_id, member_no,
                                arg_max(first_purchase_at, seq) AS first_purchase_at,
                                arg_max(last_purchase_at, seq) AS last_purchase_at,
                                arg_max(purchases, seq) AS purchases, max(tier) AS tier, max(seq) AS seq
                         FROM touched_members GROUP BY member_no;
                     CREATE OR REPLACE TEMP TABLE mp_touched_days AS SELECT * FROM touched_days;
                     DELETE FROM touched_members;
                     DELETE FROM touched_days;",
                    )?;
                    tx.commit()?;
                    let taken = started.elapsed();
                    let at = At { on, as_of, cfg, rules, now };
                    let evaluated = evaluate(conn, &ready, &at, &mut kept);
                    if evaluated.is_err() {
                        untake(conn, &mut kept);
                    }
                    let (stepped, plan) = evaluated?;
                    Ok((stepped, plan, kept, taken))
                })())
            }))
            .await?;
        let evaluated = started.elapsed();
        let (mut handed, mut failed) = (Vec::new(), None);
        for ((t, _), (opened, closed, pending)) in armed.into_iter().zip(stepped) {
            run.triggers += 1;
            run.opened += opened;
            run.closed += closed;
            if pending.is_empty() {
                continue;
            }
            let recording = std::time::Instant::now();
            match hand_on::record(&self.ops, &t, &channels, &pending, &policy, self.zone, chrono::Utc::now()).await {
                Ok(done) => {
                    tracing::debug!(
                        trigger = t.id,
                        members = pending.len(),
                        ms = recording.elapsed().as_millis() as u64,
                        "recorded"
                    );
                    run.queued += done.queued;
                    run.held_back += done.held_back;
                    run.repeated += done.repeated;
                    handed.push((t.id, pending));
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Recorded (those of the triggers before a failed recording too): the touched reads'
        // episodes stored, the pending marks of the others taken off. A crash before this
        // hands them on again, and the operational store refuses them
        // (`hand_on::Recorded::repeated`); so does a failed write, whose touched members
        // are read again.
        let recorded: Vec<i64> = handed.iter().map(|(id, _)| *id).collect();
        let handed_on = started.elapsed();
        // Every delivery recorded so far is stored once this commits.
        let through = crate::store::operational::stamp(chrono::Utc::now());
        let (written, kept) = self
            .or_read_everyone(self.analytics.watch(move |conn| {
                let written = kept.write(conn, plan, &recorded, &handed, now, &through);
                if written.is_err() {
                    untake(conn, &mut kept);
                }
                Ok(Ok((written, kept)))
            }))
            .await?;
        *running = kept;
        if let Some(e) = failed {
            return Err(e);
        }
        written?;
        tracing::debug!(
            read_ms = read.as_millis() as u64,
            take_ms = (taken - read).as_millis() as u64,
            evaluate_ms = (evaluated - taken).as_millis() as u64,
            hand_on_ms = (handed_on - evaluated).as_millis() as u64,
            write_ms = (started.elapsed() - handed_on).as_millis() as u64,
            "trigger run"
        );
        Ok(run)
    }
}

/// Puts the touched members taken for an evaluation that failed back on their lists (read
/// again next time), and lets what was kept go (read anew, the recorded deliveries stored
/// first). If they cannot be put back, every trigger reads everyone next.
fn untake(conn: &duckdb::Connection, kept: &mut Kept) {
    let back = conn.execute_batch(
        "INSERT INTO touched_members
             SELECT member_id, member_no, tier, first_purchase_at, last_purchase_at, purchases, seq
             FROM mp_touched;
         INSERT INTO touched_days SELECT * FROM mp_touched_days;",
    );
    if let Err(e) = back {
        tracing::error!(error = %e, "the touched members could not be put back: every trigger reads everyone next");
        let _ = conn.execute_batch("DELETE FROM trigger_marks");
    }
    *kept = Kept::default();
}

/// What an evaluation reads the triggers at: `on` (what whole evaluations are made on),
/// the latest day, the metric settings, the RFM rules and the local time now.
struct At {
    on: On,
    as_of: chrono::NaiveDate,
    cfg: metrics::MetricConfig,
    rules: Vec<metrics::rfm::RfmRule>,
    now: chrono::NaiveDateTime,
}

/// Evaluates every trigger in `ready` as of `at.as_of` on the touched members in `mp_touched`
/// or on everyone (see [`crate::triggers`]); answers each one's (opened, closed, pending).
fn evaluate(
    conn: &mut duckdb::Connection,
    ready: &[Armed],
    at: &At,
    kept: &mut Kept,
) -> Result<(Vec<(usize, usize, Vec<episodes::Pending>)>, Plan)> {
    let At { on, as_of, cfg, rules, now } = at;
    let (as_of, cfg, rules, now) = (*as_of, *cfg, rules.as_slice(), *now);
    let lap = std::time::Instant::now();
    let touched: i64 = conn.query_row("SELECT count(*) FROM mp_touched", [], |r| r.get(0))?;
    // The triggers with episodes waiting to be handed on before this evaluation
    // (one cut short); the others' are those it opens or closes.
    let waiting: Vec<i64> =
        Sql::new("SELECT DISTINCT trigger_id FROM trigger_episodes WHERE pending").rows(conn, |r| r.get(0))?;
    let bases: Vec<String> = ready.iter().map(|a| basis(on, a)).collect();
    let marks = episodes::marks(conn)?;
    let mut reads = Vec::new();
    for (a, basis) in ready.iter().zip(&bases) {
        reads.push(match marks.iter().find(|(id, _)| *id == a.id).map(|(_, m)| m.clone()) {
            None => Some(Read::Whole { basis }),
            Some(m) if m.basis != *basis => Some(Read::Whole { basis }),
            Some(m) => match conditions::between(&a.when) {
                Between::Touched => (touched > 0).then_some(Read::Touched),
                Between::Unmoved => None,
                Between::Whole if (m.dirty || touched > 0) && now - m.whole_at >= SEGMENTS_EVERY => {
                    Some(Read::Whole { basis })
                }
                Between::Whole => {
                    if touched > 0 {
                        episodes::dirty(conn, a.id)?;
                    }
                    None
                }
            },
        });
    }
    // What several triggers read is made once: the spend and tiers near-next-tier
    // triggers read (kept between evaluations on the same basis).
    let near = ready.iter().zip(&reads).any(|(a, r)| r.is_some() && matches!(a.when, TriggerWhen::NearNextTier { .. }));
    // A book no trigger reads while members are touched would miss what they landed.
    match near {
        true => spend::keep(conn, &mut kept.book, &on.members, as_of)?,
        false if touched > 0 => kept.book = None,
        false => {}
    }
    let mut stepped = vec![(0, 0); ready.len()];
    // The touched members in each condition read on them, stepped together below.
    let mut on_touched = Vec::new();
    for ((i, a), (read, basis)) in ready.iter().enumerate().zip(reads.into_iter().zip(&bases)) {
        let Some(read) = read else { continue };
        let started = std::time::Instant::now();
        conditions::fired(conn, a, as_of, cfg, rules, read == Read::Touched, kept.book.as_ref())?;
        let condition = started.elapsed();
        match read {
            Read::Touched => on_touched.push((i, a, basis.as_str(), Kept::fired(conn)?)),
            Read::Whole { basis } => {
                kept.forget(a.id);
                stepped[i] = episodes::step(conn, a, now, basis)?;
            }
        }
        tracing::debug!(
            trigger = a.id,
            kind = a.when.key(),
            whole = read != Read::Touched,
            condition_ms = condition.as_millis() as u64,
            episodes_ms = (started.elapsed() - condition).as_millis() as u64,
            "trigger evaluated"
        );
    }
    // What the touched reads open and close, written once handed on (`Kept::write`).
    let mut plan = Plan::default();
    if !on_touched.is_empty() {
        let started = std::time::Instant::now();
        let numbers: Vec<i64> = Sql::new("SELECT member_no FROM mp_touched").rows(conn, |r| r.get(0))?;
        let read: Vec<_> = on_touched.iter().map(|(_, a, basis, fired)| (*a, *basis, fired.as_slice())).collect();
        plan = kept.plan(conn, &read, &numbers)?;
        for ((i, a, ..), closed) in on_touched.iter().zip(&plan.closed) {
            stepped[*i] = (plan.opened(a.id).count(), *closed);
        }
        tracing::debug!(triggers = on_touched.len(), ms = started.elapsed().as_millis() as u64, "touched planned");
    }
    let shared_and_steps = lap.elapsed();
    // What is to be handed on: what this evaluation opened or closed (stored by a whole
    // read, planned by a touched one), and what an evaluation cut short left waiting.
    let touched_read: Vec<i64> = on_touched.iter().map(|(_, a, ..)| a.id).collect();
    let stored: Vec<i64> = ready
        .iter()
        .zip(&stepped)
        .filter(|(a, (opened, closed))| {
            waiting.contains(&a.id) || (opened + closed > 0 && !touched_read.contains(&a.id))
        })
        .map(|(a, _)| a.id)
        .collect();
    let sending: Vec<&Armed> =
        ready.iter().filter(|a| stored.contains(&a.id) || plan.opened(a.id).next().is_some()).collect();
    let opening: Vec<_> = sending.iter().flat_map(|a| plan.opened(a.id)).collect();
    let refused = match sending.is_empty() {
        true => None,
        false => kept.refusals(conn, &on.members)?,
    };
    let mut pending = episodes::pending(conn, &sending, &stored, &opening, refused)?.into_iter();
    let mut out = Vec::new();
    for (a, (opened, closed)) in ready.iter().zip(stepped) {
        let p = match sending.iter().any(|s| s.id == a.id) {
            true => pending.next().unwrap_or_default(),
            false => Vec::new(),
        };
        out.push((opened, closed, p));
    }
    tracing::debug!(
        touched,
        steps_ms = shared_and_steps.as_millis() as u64,
        pending_ms = (lap.elapsed() - shared_and_steps).as_millis() as u64,
        "triggers evaluated"
    );
    // A trigger not evaluated now (paused, its segment gone) has missed what was touched:
    // it looks at everyone when it is.
    let ids: Vec<String> = ready.iter().map(|a| a.id.to_string()).collect();
    conn.execute_batch(&match ids.is_empty() {
        true => "DELETE FROM trigger_marks".to_string(),
        false => format!("DELETE FROM trigger_marks WHERE trigger_id NOT IN ({})", ids.join(", ")),
    })?;
    Ok((out, plan))
}
