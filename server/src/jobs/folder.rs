//! Folding landed rows into the member summary: at most every [`FOLD_EVERY`], after the
//! ingest API lands rows (and once at start, for rows that landed before a crash); then
//! the dashboards, the alert evaluator and the refit are told.

use std::time::Instant;

use crate::{
    derive::{landing::Queue, summary},
    load::ingest::FOLD_EVERY,
    service::Services,
};

/// Folds landed rows into the summary, at most every [`FOLD_EVERY`], until the process
/// ends; then tells the dashboards, the alert evaluator and the refit. Run once at start
/// too: rows that landed before a crash are folded then.
pub async fn run(services: Services) {
    services.landed.notify_one();
    loop {
        services.landed.notified().await;
        let started = Instant::now();
        match fold(&services).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(rows = n, ms = started.elapsed().as_millis() as u64, "landed rows folded");
                services.data_landed();
            }
            Err(e) => tracing::error!(error = %e, "folding landed rows failed"),
        }
        tokio::time::sleep(FOLD_EVERY.saturating_sub(started.elapsed())).await;
    }
}

/// Folds every landed row into the summary and day tables, in one transaction; answers
/// how many rows it folded.
pub async fn fold(services: &Services) -> crate::Result<i64> {
    services
        .analytics
        .fold(|conn| {
            let tx = conn.transaction()?;
            let n = summary::fold(&tx, Queue::Stored)?;
            tx.commit()?;
            Ok(n)
        })
        .await
}
