//! The predictive model (SPEC §6): fits, their status, the holdout check.

use std::sync::Mutex;

use tokio::sync::Notify;

use super::*;

impl Services {
    /// Fits BG/NBD and Gamma-Gamma as of T (default: the latest order day), scores every
    /// member with a purchase, stores the scores (DuckDB `member_scores`) and records the
    /// fits (operational store). The 12-month CLV is discounted at the configured rate.
    pub async fn fit(&self, who: &Caller, as_of: Option<String>) -> Result<FitReport> {
        who.require(Role::Admin)?;
        if let Some(d) = as_of.as_deref() {
            metrics::parse_date("as_of", d)?;
        }
        if !who.is_system() {
            audit::record(&self.ops, who, "model.fit", None, as_of.as_deref()).await?;
        }
        let annual_discount = self.metrics.annual_discount;
        let permit = if who.is_system() { None } else { Some(self.heavy().await?) };
        let (t, buyers, repeaters, bg, gg, scores) = self
            .analytics
            .read(move |conn| {
                let _turn = permit;
                let t = metrics::day_or_latest(conn, "as_of", as_of.as_deref())?;
                let buyers = crate::model::summaries(conn, t)?;
                let summaries: Vec<crate::model::Summary> = buyers.iter().map(|b| b.summary).collect();
                let bg = crate::model::fit_bgnbd(&summaries)?;
                let gg = crate::model::fit_gamma_gamma(&summaries)?;
                let scores: Vec<app::model::MemberScore> = {
                    use rayon::prelude::*;
                    summaries.par_iter().map(|s| crate::model::score(&bg, &gg, s, annual_discount)).collect()
                };
                let repeaters = summaries.iter().filter(|s| s.x > 0.0 && s.m > 0.0).count();
                Ok((t, buyers, repeaters, bg, gg, scores))
            })
            .await?;
        let n = buyers.len();
        let mean_clv = scores.iter().map(|s| s.clv_12m).sum::<f64>() / n.max(1) as f64;
        let mean_alive = scores.iter().map(|s| s.p_alive).sum::<f64>() / n.max(1) as f64;
        self.analytics.write(move |conn| crate::model::store_scores(conn, t, &buyers, &scores)).await?;
        self.figures_changed();
        crate::model::record_fit(&self.ops, t, "bgnbd", n, &bg).await?;
        crate::model::record_fit(&self.ops, t, "gamma_gamma", repeaters, &gg).await?;
        Ok(FitReport {
            as_of: t,
            members: n,
            bgnbd: bg,
            gamma_gamma: gg,
            mean_p_alive: mean_alive,
            mean_clv_12m: mean_clv,
        })
    }

    /// The stored scores' T, the last fits and what the background refit is doing.
    pub async fn model_status(&self, _who: &Caller) -> Result<ModelStatus> {
        let (scores_as_of, scored_members) = self
            .analytics
            .read(|conn| {
                Ok(conn.query_row("SELECT CAST(max(as_of) AS VARCHAR), count(*) FROM member_scores", [], |r| {
                    Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
                })?)
            })
            .await?;
        let state = self.refit.state();
        Ok(ModelStatus {
            scores_as_of,
            scored_members,
            fits: crate::model::last_fits(&self.ops).await?,
            fitting: state.running,
            last_error: state.last_error,
            annual_discount: self.metrics.annual_discount,
            at_risk_p_alive: self.metrics.at_risk_p_alive,
        })
    }

    /// Asks for a background refit when the stored scores are not as of the latest
    /// order day (e.g. on start after loads the last run did not refit for).
    pub async fn refit_if_stale(&self) -> Result<()> {
        let stale = self
            .analytics
            .read(|conn| {
                let latest = metrics::latest_order_date(conn)?;
                let scored: Option<String> =
                    conn.query_row("SELECT CAST(max(as_of) AS VARCHAR) FROM member_scores", [], |r| r.get(0))?;
                Ok(latest.is_some() && latest.map(|d| d.to_string()) != scored)
            })
            .await?;
        if stale {
            self.refit.request();
        }
        Ok(())
    }

    /// The purchase model's holdout check, as of T (default: the T of the model's last
    /// fit) for `days` held out: computed once per model fit, T and days (a heavy read),
    /// then shared. Executives see no bucket under the minimum group size.
    pub async fn holdout(&self, who: &Caller, query: HoldoutQuery) -> Result<Holdout> {
        who.require(Role::Executive)?;
        let days = query.days.unwrap_or(90);
        if !(7..=730).contains(&days) {
            return Err(Error::bad_param("days", format!("expected 7 to 730, got {days}")));
        }
        if let Some(d) = query.as_of.as_deref() {
            metrics::parse_date("as_of", d)?;
        }
        let fit = crate::model::last_fits(&self.ops).await?.into_iter().map(|f| f.fitted_at).max().unwrap_or_default();
        let (as_of, scored) = self
            .analytics
            .read(move |conn| {
                let scored: Option<String> =
                    conn.query_row("SELECT CAST(max(as_of) AS VARCHAR) FROM member_scores", [], |r| r.get(0))?;
                let t = match (query.as_of.as_deref(), scored.as_deref()) {
                    (Some(d), _) => metrics::parse_date("as_of", d)?,
                    (None, Some(d)) => metrics::parse_date("as_of", d)?,
                    (None, None) => metrics::day_or_latest(conn, "as_of", None)?,
                };
                Ok((t, scored))
            })
            .await?;
        let key = format!("{fit} {scored:?} {as_of} {days}");
        let mut holdout = self
            .holdouts
            .get(key, 0, || async {
                let permit = self.heavy().await?;
                self.analytics
                    .read(move |conn| {
                        let _turn = permit;
                        crate::model::holdout(conn, as_of, days)
                    })
                    .await
            })
            .await?;
        if let Some(min) = self.withheld_under(who) {
            disclosure::holdout(&mut holdout, min);
        }
        Ok(holdout)
    }
}

/// What [`Services::fit`] did.
#[derive(Debug)]
pub struct FitReport {
    pub as_of: chrono::NaiveDate,
    pub members: usize,
    pub bgnbd: crate::model::Fit,
    pub gamma_gamma: crate::model::Fit,
    pub mean_p_alive: f64,
    pub mean_clv_12m: f64,
}

/// The background refit's state: whether one is wanted, running, and how the last ended
/// (the refit itself runs in `crate::jobs::refit`).
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

    /// Waits until a refit is asked for.
    pub async fn wanted(&self) {
        self.wanted.notified().await;
    }

    pub fn set(&self, f: impl FnOnce(&mut RefitState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }
}
