//! The triggers' background work: evaluation whenever data lands (each fold of ingested
//! rows, each load, merge or refit: `Services::triggers_wake`), and the sending of the
//! batches they queued, every tick.

use std::time::Duration;

use crate::{alerts::delivery::DeliveryConfig, service::Services, triggers};

/// Evaluates the triggers each time they are woken (and once at start: an evaluation a
/// crash cut short is finished then), until the process ends.
pub async fn evaluate(services: Services) {
    if let Err(e) = services.analytics.watch(triggers::episodes::unmark).await {
        tracing::error!(error = %e, "trigger marks");
    }
    services.triggers_wake.notify_one();
    loop {
        // Woken by data landing, or once a minute: a saved-segment trigger whose data
        // landed while it waited out its five minutes is read then.
        let _ = tokio::time::timeout(Duration::from_secs(60), services.triggers_wake.notified()).await;
        let started = std::time::Instant::now();
        match services.run_triggers().await {
            Ok(run) if run.opened + run.closed + run.queued + run.held_back > 0 => {
                tracing::info!(?run, ms = started.elapsed().as_millis() as u64, "triggers evaluated")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "trigger evaluation failed"),
        }
        // What lands meanwhile is read together at the next evaluation.
        tokio::time::sleep(EVALUATE_EVERY.saturating_sub(started.elapsed())).await;
    }
}

/// At most one evaluation of the triggers this often while data lands: each costs a scan
/// per trigger whatever it reads, so rows landing every second are read in one go.
pub const EVALUATE_EVERY: Duration = Duration::from_secs(10);

/// Sends due batches every `cfg.tick` until the process ends.
pub async fn deliver(services: Services, cfg: DeliveryConfig) {
    let http = crate::alerts::delivery::client_for(&cfg);
    loop {
        if let Err(e) = triggers::send::send_due(&services.analytics, &services.ops, &http, &cfg).await {
            tracing::error!(error = %e, "trigger outbox");
        }
        tokio::time::sleep(cfg.tick.max(Duration::from_millis(200))).await;
    }
}
