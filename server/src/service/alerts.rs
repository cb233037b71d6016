//! Alert rules (operators; their channels admins'), alert events and acting on them.

use app::{
    format::link as format_link,
    model::{AlertMember, MembersQuery},
};

use super::*;

impl Services {
    /// The rules (operators and admins). Channel URLs hold the robots' keys: operators
    /// see them without path and query (see [`crate::alerts::webhook::redact`]).
    pub async fn alert_rules(&self, who: &Caller) -> Result<Vec<AlertRule>> {
        who.require(Role::Operator)?;
        Ok(rules::rules(&self.ops, self.analytics.seal()).await?.into_iter().map(|r| redacted_for(who, r)).collect())
    }

    pub async fn alert_rule(&self, who: &Caller, id: i64) -> Result<AlertRule> {
        who.require(Role::Operator)?;
        Ok(redacted_for(who, rules::rule(&self.ops, self.analytics.seal(), id).await?))
    }

    /// Checks a rule: its fields, that its segment exists, and where its channels point
    /// (http(s) only; no internal address unless `--allow-private-webhooks`).
    async fn check_rule(&self, rule: &AlertRule) -> Result<()> {
        rules::validate(rule)?;
        if let Some(key) = rule.segment.as_deref() {
            scope::saved::get(&self.ops, key).await.map_err(|e| match e {
                Error::NotFound(m) => Error::bad_param("segment", m),
                other => other,
            })?;
        }
        for (i, channel) in rule.channels.iter().enumerate() {
            if let Some(url) = channel_url(channel) {
                crate::alerts::webhook::check(url, self.allow_private_webhooks)
                    .await
                    .map_err(|why| Error::bad_param(format!("channels[{i}].url"), why))?;
            }
        }
        Ok(())
    }

    /// Operators tune rules; their channels (who is notified, where) are the admins'.
    pub async fn create_alert_rule(&self, who: &Caller, rule: AlertRule) -> Result<AlertRule> {
        who.require(Role::Operator)?;
        if !rule.channels.is_empty() {
            who.require(Role::Admin)?;
        }
        self.check_rule(&rule).await?;
        let id = rules::create(&self.ops, self.analytics.seal(), &rule).await?;
        audit::record(&self.ops, who, "rule.create", Some(&format!("{id}:{}", rule.name)), None).await?;
        self.data_changed.notify_one();
        self.alert_rule(who, id).await
    }

    /// Replaces a rule. An operator sends the channels back as they were shown (redacted):
    /// those keep the stored ones; any other change of channels is an admin's.
    pub async fn update_alert_rule(&self, who: &Caller, mut rule: AlertRule) -> Result<AlertRule> {
        who.require(Role::Operator)?;
        let before = rules::rule(&self.ops, self.analytics.seal(), rule.id).await?;
        if rule.channels == redacted_for(who, before.clone()).channels {
            rule.channels = before.channels.clone();
        }
        if before.channels != rule.channels {
            who.require(Role::Admin)?;
        }
        self.check_rule(&rule).await?;
        rules::update(&self.ops, self.analytics.seal(), &rule).await?;
        let action = if before.channels != rule.channels { "channel.update" } else { "rule.update" };
        audit::record(&self.ops, who, action, Some(&format!("{}:{}", rule.id, rule.name)), None).await?;
        self.data_changed.notify_one();
        self.alert_rule(who, rule.id).await
    }

    pub async fn delete_alert_rule(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Operator)?;
        rules::delete(&self.ops, id).await?;
        audit::record(&self.ops, who, "rule.delete", Some(&id.to_string()), None).await
    }

    /// Alerts; executives see them without the members behind them, and without the
    /// values of a segment under the minimum group size.
    pub async fn alerts(&self, who: &Caller, query: AlertQuery) -> Result<Vec<AlertEvent>> {
        let mut events = rules::events(&self.ops, &query).await?;
        if let Some(min) = self.withheld_under(who) {
            events.iter_mut().for_each(|e| disclosure::alert(e, min));
        }
        Ok(events)
    }

    pub async fn alert(&self, who: &Caller, id: i64) -> Result<AlertEvent> {
        let mut event = rules::event(&self.ops, id).await?;
        if let Some(min) = self.withheld_under(who) {
            disclosure::alert(&mut event, min);
        }
        Ok(event)
    }

    /// Acknowledge, snooze or resolve an alert (operators and admins).
    pub async fn act_on_alert(
        &self,
        who: &Caller,
        id: i64,
        action: &str,
        snooze: Option<SnoozeRequest>,
    ) -> Result<AlertEvent> {
        who.require(Role::Operator)?;
        let now = chrono::Utc::now();
        let until = match snooze {
            Some(s) => rules::snooze_until(s.until.as_deref(), s.minutes, now)?,
            None => None,
        };
        let event = rules::act(&self.ops, id, action, until, now).await?;
        audit::record(&self.ops, who, &format!("alert.{action}"), Some(&id.to_string()), None).await?;
        Ok(event)
    }

    /// Changes whenever any alert does (for the live stream).
    pub async fn alerts_mark(&self) -> Result<String> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT count(*), coalesce(max(id), 0), coalesce(max(updated_at), ''),
                    coalesce(sum(id * CASE state WHEN 'firing' THEN 1 WHEN 'acknowledged' THEN 2 WHEN 'snoozed' THEN 3 ELSE 5 END), 0)
             FROM alert_events",
        )
        .fetch_one(&self.ops)
        .await?;
        Ok(format!(
            "{}/{}/{}/{}",
            row.get::<i64, _>(0),
            row.get::<i64, _>(1),
            row.get::<String, _>(2),
            row.get::<i64, _>(3)
        ))
    }

    /// Evaluates every enabled rule now; returns how many were read.
    pub async fn evaluate_alerts(&self, who: &Caller) -> Result<usize> {
        who.require(Role::Operator)?;
        self.evaluate(chrono::Utc::now(), true).await
    }
}

/// A channel's URL without path and query (see [`crate::alerts::webhook::redact`]), for
/// those who may not see robot keys; also how operators see messaging channels.
pub(super) fn redact_channel(c: &mut app::model::Channel) {
    if let Some(url) = channel_url_mut(c) {
        *url = crate::alerts::webhook::redact(url);
    }
}

/// A rule as `who` may see it: operators get channel URLs without path and query.
fn redacted_for(who: &Caller, mut rule: AlertRule) -> AlertRule {
    if !who.sees_personal_data() {
        rule.channels.iter_mut().for_each(redact_channel);
    }
    rule
}

fn channel_url(c: &app::model::Channel) -> Option<&String> {
    use app::model::Channel::*;
    match c {
        Webhook { url } | Wecom { url } | Dingtalk { url } | Feishu { url } | Slack { url } => Some(url),
        Email { .. } => None,
    }
}

fn channel_url_mut(c: &mut app::model::Channel) -> Option<&mut String> {
    use app::model::Channel::*;
    match c {
        Webhook { url } | Wecom { url } | Dingtalk { url } | Feishu { url } | Slack { url } => Some(url),
        Email { .. } => None,
    }
}

/// A reading is the rule's metric over the latest window (all members or the rule's
/// segment) beside the comparison window, with the members behind it where the metric
/// has them; [`rules::apply`] turns it into events and notices.
impl Services {
    /// What the metric's current value stands on, as a reading.
    pub async fn read_rule(&self, rule: &AlertRule) -> Result<rules::Reading> {
        let services = self;
        let metric = rules::validate(rule)?;
        let window = format!("{}d", rule.window_days);
        let query = OverviewQuery {
            window: Some(window.clone()),
            segment: rule.segment.clone(),
            metrics: Some(rule.metric.clone()),
            ..Default::default()
        };
        let overview = services.overview_fresh(&Caller::system(), query.clone()).await?;
        let kpi = overview.kpis.first();
        // What an executive's view of the same shows (their view of a small or derivable
        // group withholds the value): the event keeps whether they may see it.
        let executives =
            services.overview_fresh(&Caller { role: app::model::Role::Executive, ..Caller::system() }, query).await?;
        let executives_see = executives
            .kpis
            .first()
            .is_none_or(|k| k.current.reason.as_deref().is_none_or(|r| !r.contains("executives")));
        let at_risk = matches!(metric, Metric::HighValueAtRisk | Metric::RevenueAtStake);
        let (members_total, members, left_out, link) = if at_risk {
            let filters = "churn_risk:high_value_at_risk".to_string();
            let query = MembersQuery {
                filters: Some(filters.clone()),
                segment: rule.segment.clone(),
                sort: Some("-revenue_12m".into()),
                page_size: Some(rules::MEMBERS_KEPT),
                ..Default::default()
            };
            // Everyone behind the breach counts; the notice names only those who gave
            // marketing consent, and says how many it left out.
            let total =
                services.members(&Caller::system(), MembersQuery { page_size: Some(1), ..query.clone() }).await?.total;
            let page =
                services.members(&Caller::system(), MembersQuery { consent: Some("given".into()), ..query }).await?;
            let members = page
                .rows
                .into_iter()
                .map(|r| AlertMember {
                    member_id: r.member_id,
                    value_at_stake_cents: r.revenue_12m_cents,
                    p_alive: r.p_alive,
                })
                .collect();
            let link = format_link(
                "/members",
                &[("filters", Some(filters)), ("segment", rule.segment.clone()), ("sort", Some("-revenue_12m".into()))],
            );
            (Some(total), members, Some(total - page.total), link)
        } else {
            let link = format_link(
                "/breakdown",
                &[
                    ("metric", Some(rule.metric.clone())),
                    ("dimension", Some("region".into())),
                    ("window", Some(window)),
                    ("segment", rule.segment.clone()),
                ],
            );
            (None, Vec::new(), None, link)
        };
        Ok(rules::Reading {
            as_of: overview.as_of,
            window_start: overview.window.start,
            window_end: overview.window.end,
            value: kpi.and_then(|k| k.current.value),
            comparison_value: kpi.and_then(|k| k.comparison.value),
            members_total,
            population: overview.population,
            executives_see,
            members,
            left_out_without_consent: left_out,
            link,
        })
    }

    /// Evaluates the due rules (every enabled one when `all`); returns how many were read.
    pub async fn evaluate(&self, now: chrono::DateTime<chrono::Utc>, all: bool) -> Result<usize> {
        let services = self;
        let rules = rules::due(&services.ops, services.analytics.seal(), now, all).await?;
        let mut n = 0;
        for rule in rules {
            match services.read_rule(&rule).await {
                Ok(reading) => {
                    rules::apply(&services.ops, services.analytics.seal(), &rule, &reading, now).await?;
                    n += 1;
                }
                // A rule that cannot be read (e.g. its segment was deleted) waits for a fix.
                Err(e) => tracing::warn!(rule = rule.id, error = %e, "alert rule not evaluated"),
            }
        }
        Ok(n)
    }
}
