//! The background evaluator: every rule on its schedule, and every rule again after each
//! data load and model refit. A reading is the rule's metric over the latest window (all
//! members or the rule's segment) beside the comparison window, with the members behind
//! it where the metric has them (`Services::read_rule`, `Services::evaluate`).

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::Notify;

use crate::{access::Caller, service::Services};

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
        if let Err(e) = services.evaluate(Utc::now(), all).await {
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
