//! The daily retention job (`--personal-data-retention-days`; `crate::privacy::retention`):
//! once at start, then every 24 hours.

use crate::service::Services;

/// Strips the personal fields that are due, every day until the process ends.
pub async fn run(services: Services, days: u32) {
    loop {
        match services.apply_retention(days).await {
            Ok(done) => tracing::info!(days, members = done.members, cutoff = %done.cutoff, "retention applied"),
            Err(e) => tracing::error!(error = %e, "retention failed"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
    }
}
