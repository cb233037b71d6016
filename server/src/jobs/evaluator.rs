//! The background evaluator: every rule on its schedule, and every rule again after each
//! data load and model refit. A reading is the rule's metric over the latest window (all
//! members or the rule's segment) beside the comparison window, with the members behind
//! it where the metric has them; [`rules::apply`] turns it into events and notices.

use std::{sync::Arc, time::Duration};

use app::model::{AlertMember, AlertRule, Metric, MembersQuery, OverviewQuery};
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use app::format::link as format_link;

use crate::{Result, access::Caller, alerts::rules, service::Services};

/// What the metric's current value stands on, as a reading.
pub async fn read(services: &Services, rule: &AlertRule) -> Result<rules::Reading> {
    let metric = rules::validate(rule)?;
    let window = format!("{}d", rule.window_days);
    let overview = services
        .overview_fresh(&Caller::system(), OverviewQuery {
            window: Some(window.clone()),
            segment: rule.segment.clone(),
            metrics: Some(rule.metric.clone()),
            ..Default::default()
        })
        .await?;
    let kpi = overview.kpis.first();
    // What an executive's view of the same shows (their view of a small or derivable
    // group withholds the value): the event keeps whether they may see it.
    let executives = services
        .overview_fresh(&Caller { role: app::model::Role::Executive, ..Caller::system() }, OverviewQuery {
            window: Some(window.clone()),
            segment: rule.segment.clone(),
            metrics: Some(rule.metric.clone()),
            ..Default::default()
        })
        .await?;
    let executives_see = executives.kpis.first().is_none_or(|k| k.current.reason.as_deref().is_none_or(|r| !r.contains("executives")));
    let at_risk = matches!(metric, Metric::HighValueAtRisk | Metric::RevenueAtStake);
    let (members_total, members, link) = if at_risk {
        let filters = "churn_risk:high_value_at_risk".to_string();
        let page = services
            .members(&Caller::system(), MembersQuery {
                filters: Some(filters.clone()),
                segment: rule.segment.clone(),
                sort: Some("-revenue_12m".into()),
                page_size: Some(rules::MEMBERS_KEPT),
                ..Default::default()
            })
            .await?;
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
        (Some(page.total), members, link)
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
        (None, Vec::new(), link)
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
        link,
    })
}

/// Evaluates the due rules (every enabled one when `all`); returns how many were read.
pub async fn evaluate(services: &Services, now: DateTime<Utc>, all: bool) -> Result<usize> {
    let rules = rules::due(&services.ops, now, all).await?;
    let mut n = 0;
    for rule in rules {
        match read(services, &rule).await {
            Ok(reading) => {
                rules::apply(&services.ops, &rule, &reading, now).await?;
                n += 1;
            }
            // A rule that cannot be read (e.g. its segment was deleted) waits for a fix.
            Err(e) => tracing::warn!(rule = rule.id, error = %e, "alert rule not evaluated"),
        }
    }
    Ok(n)
}

/// The least time between two evaluations of every rule woken by new data: while data
/// keeps landing (a fold a second), the rules follow at this pace.
const WAKE_GAP: Duration = Duration::from_secs(2);

/// Evaluates due rules every `tick`, and every rule when `wake` is notified (loads,
/// folds of ingested rows, refits), until the process ends.
pub async fn run(services: Services, wake: Arc<Notify>, tick: Duration) {
    loop {
        let all = tokio::select! {
            _ = wake.notified() => true,
            _ = tokio::time::sleep(tick) => false,
        };
        let started = std::time::Instant::now();
        if let Err(e) = evaluate(&services, Utc::now(), all).await {
            tracing::error!(error = %e, "alert evaluation");
        }
        if all {
            tokio::time::sleep(WAKE_GAP.saturating_sub(started.elapsed())).await;
        }
    }
}

/// The stream goes to every signed-in page, executives' too: it carries what they may see
/// (no members behind an alert; the alerts page and badge show only their count).
fn published_to() -> Caller {
    Caller { role: app::model::Role::Executive, ..Caller::system() }
}

/// Publishes the open alerts (as the JSON of `GET /api/v1/alerts?state=open`) whenever
/// they change, looking every 500 ms: one look for every open page, which each follow
/// the published value (`/api/v1/alerts/stream`).
pub async fn publish_open(services: Services) {
    let mut seen: Option<String> = None;
    loop {
        if let Ok(mark) = services.alerts_mark().await
            && seen.as_ref() != Some(&mark)
            && let Ok(open) = services
                .alerts(&published_to(), app::model::AlertQuery { state: Some("open".into()), ..Default::default() })
                .await
        {
            seen = Some(mark);
            let json: Arc<str> = Arc::from(serde_json::to_string(&open).unwrap_or_default());
            services.open_alerts.send_replace(Some(json));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
