//! Dashboard figures computed once per change of the data.
//!
//! Every open dashboard asks for the same figures when the server pushes that data
//! landed, so the first request computes them and the others (arriving meanwhile or
//! after) share its answer while the data version is the same. The version counts every
//! change of the figures (data landed, a refit, a new RFM table, a saved segment edited:
//! `Services::figures_changed`); an answer also expires after [`FRESH_FOR`], a bound for
//! anything that might change figures unannounced. The default overview's answers are
//! computed ahead (`crate::jobs::ahead`). Errors are not kept.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::OnceCell;

use crate::Result;

/// How long an answer is shared at most.
pub const FRESH_FOR: Duration = Duration::from_secs(15 * 60);

/// Answers kept at most; past that, stale ones go first, then all.
const KEPT: usize = 256;

/// Answers by question (`key`), for one kind of figures.
pub struct Memo<T> {
    answers: Mutex<HashMap<String, Answer<T>>>,
    /// How long an answer is shared at most ([`FRESH_FOR`] unless made [`Memo::kept_for`]).
    fresh_for: Duration,
}

struct Answer<T> {
    version: u64,
    asked: Instant,
    value: Arc<OnceCell<T>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo::kept_for(FRESH_FOR)
    }
}

impl<T> Memo<T> {
    /// Answers shared for up to `fresh_for` (for figures whose key names all they depend
    /// on, such as the holdout check of one model fit).
    pub fn kept_for(fresh_for: Duration) -> Self {
        Memo { answers: Mutex::new(HashMap::new()), fresh_for }
    }
}

impl<T: Clone> Memo<T> {
    /// The answer to `key` at data `version`: shared if one was (or is being) computed
    /// at that version within its freshness, else computed by `compute`.
    pub async fn get<F, Fut>(&self, key: String, version: u64, compute: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let value = {
            let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = |a: &Answer<T>| a.version == version && a.asked.elapsed() < self.fresh_for;
            match answers.get(&key) {
                Some(a) if fresh(a) => a.value.clone(),
                _ => {
                    if answers.len() >= KEPT {
                        answers.retain(|_, a| fresh(a));
                        if answers.len() >= KEPT {
                            answers.clear();
                        }
                    }
                    let value = Arc::new(OnceCell::new());
                    answers.insert(key, Answer { version, asked: Instant::now(), value: value.clone() });
                    value
                }
            }
        };
        value.get_or_try_init(compute).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn an_answer_is_shared_until_the_data_changes_or_it_expires() {
        let fresh_for = Duration::from_millis(300);
        let memo = Memo::<usize>::kept_for(fresh_for);
        let computed = AtomicUsize::new(0);
        let ask = |key: &str, version: u64| {
            memo.get(key.to_string(), version, || async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(computed.fetch_add(1, Ordering::SeqCst))
            })
        };
        // Four pages asking at once: computed once.
        let answers = tokio::join!(ask("kpis", 1), ask("kpis", 1), ask("kpis", 1), ask("kpis", 1));
        assert_eq!([answers.0.unwrap(), answers.1.unwrap(), answers.2.unwrap(), answers.3.unwrap()], [0; 4]);
        // Another question, or new data: computed again.
        assert_eq!(ask("other", 1).await.unwrap(), 1);
        assert_eq!(ask("kpis", 2).await.unwrap(), 2);
        assert_eq!(ask("kpis", 2).await.unwrap(), 2);
        // Past its freshness: computed again.
        tokio::time::sleep(fresh_for).await;
        assert_eq!(ask("kpis", 2).await.unwrap(), 3);
        // An error is not kept.
        let failed: Result<usize> =
            memo.get("bad".into(), 2, || async { Err(crate::Error::bad_param("x", "no".to_string())) }).await;
        assert!(failed.is_err());
        assert_eq!(ask("bad", 2).await.unwrap(), 4);
    }
}
