//! What is computed ahead of the views, once per change of the figures rather than per
//! view: the member facts (`crate::metrics::facts`: every member's groups as of the
//! latest day) and then the default overview's panels (`Services::overview_ahead`), on
//! start and after each change, once the figures have been still for [`QUIET`]: while
//! data keeps landing (the ingest API folds every second) facts made now would be stale
//! before anyone read them. It also waits twice as long as the last round took before
//! looking again, so it never takes more than a third of the machine from the readers;
//! until it is done, views compute what they need themselves, with the same numbers.

use std::time::{Duration, Instant};

use crate::{metrics, service::Services};

/// The least pause between two rounds.
const PAUSE: Duration = Duration::from_secs(1);

/// How long the figures must stay unchanged before a round starts.
const QUIET: Duration = Duration::from_secs(2);

pub async fn run(services: Services) {
    let mut version = services.data_version.subscribe();
    loop {
        let started = Instant::now();
        let cfg = services.metrics;
        match services.analytics.read(move |conn| metrics::facts::refresh(conn, cfg)).await {
            Ok(Some(as_of)) => {
                tracing::info!(%as_of, secs = started.elapsed().as_secs_f64(), "member facts made")
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "member facts not made"),
        }
        let panels = Instant::now();
        match services.overview_ahead().await {
            Ok(n) => tracing::info!(panels = n, secs = panels.elapsed().as_secs_f64(), "overview computed ahead"),
            Err(e) => tracing::warn!(error = %e, "overview not computed ahead"),
        }
        tokio::time::sleep(PAUSE.max(started.elapsed() * 2)).await;
        if version.changed().await.is_err() {
            return;
        }
        // Until a change is the last for a while.
        loop {
            version.mark_unchanged();
            tokio::time::sleep(QUIET).await;
            if !version.has_changed().unwrap_or(false) {
                break;
            }
        }
    }
}
