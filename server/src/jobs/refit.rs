//! The background refit: after every data load (and on start when the stored scores are
//! older than the data) the automatic identity rules merge what they find
//! (`crate::identity`), then the predictive model is fitted again as of the latest order
//! day, one fit at a time; requests that arrive while a fit runs are folded into one, and
//! fits start at least a configured gap apart.

use crate::service::Services;

/// Runs requested refits until the process ends, at least `gap` apart (while data
/// keeps landing through the ingest API, the model follows at that pace).
pub async fn run(services: Services, gap: std::time::Duration) {
    let refit = services.refit.clone();
    loop {
        refit.wanted().await;
        refit.set(|s| s.running = true);
        let started = std::time::Instant::now();
        // Persons first: the fit is of the members as the automatic rules make them.
        match services.merge_automatic(&crate::access::Caller::system()).await {
            Ok(m) if !m.merge_ids.is_empty() => tracing::info!(merges = m.merge_ids.len(), "automatic identity merges"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "automatic identity merges failed"),
        }
        let outcome = services.fit(&crate::access::Caller::system(), None).await;
        refit.set(|s| {
            s.running = false;
            s.last_error = outcome.as_ref().err().map(|e| e.public_message());
        });
        if outcome.is_ok() {
            services.data_changed.notify_one();
            services.triggers_wake.notify_one();
        }
        match outcome {
            Ok(r) => tracing::info!(
                as_of = %r.as_of,
                members = r.members,
                secs = started.elapsed().as_secs_f64(),
                "model refitted"
            ),
            // Too little data is an expected state of a young programme.
            Err(e) => tracing::warn!(error = %e, "model refit failed"),
        }
        tokio::time::sleep(gap.saturating_sub(started.elapsed())).await;
    }
}
