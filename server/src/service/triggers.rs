//! Triggers (SPEC §12): operators set triggers; admins own the messaging channels and
//! the contact policy (operators see channels without their URLs' paths). Every change is
//! audited. [`Services::run_triggers`] evaluates them after data lands.

use app::model::{ContactPolicy, MessagingChannel, Trigger, TriggerWhen};

use super::*;
use crate::triggers::{
    conditions::{self, Armed},
    episodes, hand_on, saved,
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
        let _running = self.trigger_run.lock().await;
        saved::update(&self.ops, id, &t, &who.name).await?;
        if before.when != t.when || before.campaign != t.campaign {
            self.analytics.fold(move |conn| episodes::forget(conn, id)).await?;
        }
        audit::record(&self.ops, who, "trigger.update", Some(t.name.trim()), Some(&audit::describe(&t.when))).await?;
        self.triggers_wake.notify_one();
        saved::trigger_by_id(&self.ops, id).await
    }

    pub async fn delete_trigger(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Operator)?;
        let t = saved::trigger_by_id(&self.ops, id).await?;
        let _running = self.trigger_run.lock().await;
        saved::delete(&self.ops, id).await?;
        self.analytics.fold(move |conn| episodes::forget(conn, id)).await?;
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

    /// Evaluates every enabled trigger as of the latest data day and hands on what entered
    /// (see [`crate::triggers`]); one evaluation at a time.
    pub async fn run_triggers(&self) -> Result<TriggerRun> {
        let _running = self.trigger_run.lock().await;
        let all: Vec<Trigger> = saved::triggers(&self.ops).await?.into_iter().filter(|t| t.enabled).collect();
        let mut run = TriggerRun::default();
        if all.is_empty() {
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
        let stepped = self
            .analytics
            .fold(move |conn| {
                let Some(as_of) = metrics::latest_order_date(conn)? else { return Ok(Vec::new()) };
                let mut out = Vec::new();
                for a in &ready {
                    conditions::fired(conn, a, as_of, cfg, &rules)?;
                    let (opened, closed) = episodes::step(conn, a, now)?;
                    out.push((opened, closed, episodes::pending(conn, a)?));
                }
                Ok(out)
            })
            .await?;
        for ((t, a), (opened, closed, pending)) in armed.into_iter().zip(stepped) {
            run.triggers += 1;
            run.opened += opened;
            run.closed += closed;
            if pending.is_empty() {
                continue;
            }
            let done =
                hand_on::record(&self.ops, &t, &channels, &pending, &policy, self.zone, chrono::Utc::now()).await?;
            run.queued += done.queued;
            run.held_back += done.held_back;
            run.repeated += done.repeated;
            self.analytics.fold(move |conn| episodes::handed_on(conn, &a, &pending)).await?;
        }
        Ok(run)
    }
}
