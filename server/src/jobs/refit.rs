//! The background refit: after every data load (and on start when the stored scores are
//! older than the data) the predictive model is fitted again as of the latest order
//! day, one fit at a time; requests that arrive while a fit runs are folded into one, and
//! fits start at least a configured gap apart.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::service::Services;

#[derive(Clone, Default)]
pub struct Refit {
    wanted: Arc<Notify>,
    state: Arc<Mutex<RefitState>>,
}

#[derive(Clone, Debug, Default)]
pub struct RefitState {
    pub running: bool,
    pub last_error: Option<String>,
}

impl Refit {
    /// Asks for a refit; returns at once.
    pub fn request(&self) {
        self.wanted.notify_one();
    }

    pub fn state(&self) -> RefitState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs requested refits until the process ends, at least `gap` apart (while data
    /// keeps landing through the ingest API, the model follows at that pace).
    pub async fn run(self, services: Services, gap: std::time::Duration) {
        loop {
            self.wanted.notified().await;
            self.set(|s| s.running = true);
            let started = std::time::Instant::now();
            let outcome = services.fit(&crate::access::Caller::system(), None).await;
            self.set(|s| {
                s.running = false;
                s.last_error = outcome.as_ref().err().map(|e| e.public_message());
            });
            if outcome.is_ok() {
                services.data_changed.notify_one();
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

    fn set(&self, f: impl FnOnce(&mut RefitState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }
}
