//! The service layer: what the pages, the JSON API and the CLI ask of the engine.
//!
//! Every call names its [`Caller`] and each method checks the caller's role here, so a
//! page's server function, an API route and the CLI get the same answer or the same 403:
//! executives any aggregate (small groups withheld, see [`disclosure`]), operators also
//! member rows (masked), segments and alert rules, admins everything (unmasked), data,
//! the RFM rule table, refits and alert channels. Member-level reads and every change
//! are audited.

pub mod memo;


use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use app::{
    model::{
        AlertEvent, AlertQuery, AlertRule, Breakdown, SnoozeRequest, BreakdownQuery, CohortQuery, Cohorts, Dimension, Holdout, HoldoutQuery, Member360, MemberPage, MembersQuery,
        Metric, ModelStatus, Overview, OverviewQuery, Segment, SegmentName, TierMigration, TierMigrationQuery, Trend,
        TrendQuery, ApiToken, AuditEntry, AuditQuery, Role, TokenRequest, User, UserChange, Viewer,
    },
    state::{Engine, EngineError, EngineFuture},
};

use crate::{
    Error, Result,
    access::Caller,
    alerts::rules, access::audit,
    store::analytics::Analytics,
    model, metrics::cohorts, access::disclosure,
    load::import::{self, LoadReport, LoadRequest},
    members,
    service::memo::Memo,
    metrics::{self, MetricConfig},
    store::operational::{self, Pool},
    jobs::refit::Refit,
    metrics::rfm,
    metrics::scope::{self, Criteria, Scope},
    metrics::tiers};

/// What [`Services::fit`] did.
#[derive(Debug)]
pub struct FitReport {
    pub as_of: chrono::NaiveDate,
    pub members: usize,
    pub bgnbd: model::Fit,
    pub gamma_gamma: model::Fit,
    pub mean_p_alive: f64,
    pub mean_clv_12m: f64,
}

#[derive(Clone)]
pub struct Services {
    pub analytics: Analytics,
    pub ops: Pool,
    pub metrics: MetricConfig,
    /// The background refit that follows data loads (run by the server).
    pub refit: Refit,
    /// Told when the data or the model scores changed (alerts are evaluated again).
    pub data_changed: Arc<tokio::sync::Notify>,
    /// Told when ingested rows landed and wait to be folded into the summary.
    pub landed: Arc<tokio::sync::Notify>,
    /// Ingest requests validated and waiting to land.
    pub waiting: Arc<crate::load::ingest::Waiting>,
    /// Counts the changes of the data the dashboards show; open pages are pushed each one.
    pub data_version: Arc<tokio::sync::watch::Sender<u64>>,
    /// The open alerts as JSON, once the server has looked ([`crate::jobs::evaluator::publish_open`]).
    pub open_alerts: Arc<tokio::sync::watch::Sender<Option<Arc<str>>>>,
    /// The retailer's time zone: stored times are its local times.
    pub zone: chrono_tz::Tz,
    /// Groups smaller than this show executives no figures.
    pub min_group: u32,
    /// The one folder the server reads files from when the local CLI names one
    /// (`--import-dir`); everyone else uploads.
    pub import_dir: Arc<Path>,
    /// Whether alert webhooks may reach internal addresses (`--allow-private-webhooks`).
    pub allow_private_webhooks: bool,
    /// The overview and trend answers shared by the dashboards asking at one data version.
    overview_memo: Arc<Memo<Overview>>,
    trend_memo: Arc<Memo<Trend>>,
    /// Holdout checks, by model fit, T and days held out.
    holdouts: Arc<Memo<Holdout>>,
    /// Permits for heavy reads (see [`Services::heavy`]).
    heavy: Arc<tokio::sync::Semaphore>,
}

/// How long a heavy read waits for its turn before it is refused (429).
pub const HEAVY_WAIT: Duration = Duration::from_secs(20);

/// A trend of more windows than this is a heavy read.
const LIGHT_TREND_POINTS: u32 = 12;

/// The default of [`Services::min_group`] (`--min-group-size`).
pub const MIN_GROUP_SIZE: u32 = 10;

impl Services {
    pub fn new(analytics: Analytics, ops: Pool, metrics: MetricConfig) -> Services {
        Services {
            analytics,
            ops,
            metrics,
            refit: Refit::default(),
            data_changed: Arc::default(),
            landed: Arc::default(),
            waiting: Arc::default(),
            data_version: Arc::new(tokio::sync::watch::channel(0).0),
            open_alerts: Arc::new(tokio::sync::watch::channel(None).0),
            zone: chrono_tz::UTC,
            min_group: MIN_GROUP_SIZE,
            import_dir: Arc::from(Path::new("imports")),
            allow_private_webhooks: false,
            overview_memo: Arc::default(),
            trend_memo: Arc::default(),
            holdouts: Arc::new(Memo::kept_for(Duration::from_secs(24 * 3600))),
            heavy: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The same services reading files the CLI names from `dir` only (made if missing).
    pub fn with_import_dir(self, dir: &Path) -> Result<Services> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Load(format!("{}: cannot make the import folder: {e}", dir.display())))?;
        let dir = dir.canonicalize()?;
        Ok(Services { import_dir: Arc::from(dir.as_path()), ..self })
    }

    /// The same services letting alert webhooks reach internal addresses (or not).
    pub fn with_private_webhooks(self, allow: bool) -> Services {
        Services { allow_private_webhooks: allow, ..self }
    }

    /// The same services running at most `n` heavy reads at once.
    pub fn with_heavy_reads(self, n: u32) -> Services {
        Services { heavy: Arc::new(tokio::sync::Semaphore::new(n.max(1) as usize)), ..self }
    }

    /// A turn for a heavy read (cohorts, long trends, the holdout check, fits): at most
    /// `--heavy-reads` run at once, so that dashboards and ingest keep their share of the
    /// cores; one that waits longer than [`HEAVY_WAIT`] is refused (429, retry later).
    /// Move the permit into the blocking work so that it is held until that work ends,
    /// even when the caller goes away.
    async fn heavy(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout(HEAVY_WAIT, self.heavy.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::Busy(format!(
                "the server is busy with other large reports; try again in a few seconds (waited {} s)",
                HEAVY_WAIT.as_secs()
            ))),
        }
    }

    /// The same services withholding groups under `min` members from executives.
    pub fn with_min_group(self, min: u32) -> Services {
        Services { min_group: min, ..self }
    }

    /// The same services in the retailer's time zone `zone`.
    pub fn in_zone(self, zone: chrono_tz::Tz) -> Services {
        Services { zone, ..self }
    }

    /// New data is in the summary: the dashboards are pushed, the alerts evaluated and
    /// the model refitted.
    pub fn data_landed(&self) {
        self.figures_changed();
        self.data_changed.notify_one();
        self.refit.request();
    }

    /// The dashboards' figures changed (data, model scores, RFM rules, a saved segment):
    /// shared answers are computed again and open pages are pushed.
    pub fn figures_changed(&self) {
        self.data_version.send_modify(|v| *v += 1);
    }

    /// The overview, shared by every dashboard asking the same at the same data version
    /// (see [`crate::memo`]).
    pub async fn overview(&self, who: &Caller, query: OverviewQuery) -> Result<Overview> {
        let min = self.withheld_under(who);
        let key = format!("{min:?} {query:?}");
        let version = *self.data_version.borrow();
        let who = who.clone();
        self.overview_memo.get(key, version, || self.overview_now(who, query)).await
    }

    /// The overview computed now, never shared: the alert evaluator's readings are of the
    /// data as it is, however it changed.
    pub async fn overview_fresh(&self, who: &Caller, query: OverviewQuery) -> Result<Overview> {
        self.overview_now(who.clone(), query).await
    }

    async fn overview_now(&self, who: Caller, query: OverviewQuery) -> Result<Overview> {
        let cfg = self.metrics;
        let min = self.withheld_under(&who);
        let filters = self
            .filters(&who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        let rules = if filters.is_empty() {
            Vec::new()
        } else {
            rfm::rules(&self.ops).await?
        };
        let wanted = metrics::parse_metrics("metrics", query.metrics.as_deref(), &Metric::ALL)?;
        self.analytics
            .read(move |conn| {
                let req = metrics::resolve(conn, &query)?;
                let filtered = !filters.is_empty();
                let scope = Scope::of(filters.clone(), None).with_rules(rules.clone());
                let mut overview = metrics::overview_of(conn, req, cfg, &scope, query.segment, &wanted)?;
                if filtered {
                    overview.population = Some(population(conn, req, cfg, &scope)?);
                }
                if let Some(min) = min {
                    // Revenue at stake is shown only beside a count of its members that is.
                    let at_risk = match wanted.contains(&Metric::RevenueAtStake) {
                        true => {
                            let o = metrics::overview_of(conn, req, cfg, &scope, None, &[Metric::HighValueAtRisk])?;
                            o.kpis.first().map_or([None, None], |k| [Some(k.current.numerator), Some(k.comparison.numerator)])
                        }
                        false => [None, None],
                    };
                    let now = check(conn, req, cfg, &filters, &rules, min)?;
                    let then = check(conn, window_request(req.compare.of(&req.window)), cfg, &filters, &rules, min)?;
                    disclosure::overview(&mut overview, &now, &then, at_risk, min);
                    overview.population = None;
                }
                Ok(overview)
            })
            .await
    }

    /// The minimum group size when `who` is an executive.
    fn withheld_under(&self, who: &Caller) -> Option<u32> {
        (who.role == Role::Executive).then_some(self.min_group)
    }

    /// Metrics over consecutive windows ending at T (sparklines, the trend chart), shared
    /// like [`Self::overview`]. More than a dozen windows is a heavy read.
    pub async fn trend(&self, who: &Caller, query: TrendQuery) -> Result<Trend> {
        let min = self.withheld_under(who);
        let key = format!("{min:?} {query:?}");
        let version = *self.data_version.borrow();
        let who = who.clone();
        self.trend_memo.get(key, version, || self.trend_now(who, query)).await
    }

    async fn trend_now(&self, who: Caller, query: TrendQuery) -> Result<Trend> {
        let cfg = self.metrics;
        let min = self.withheld_under(&who);
        let filters = self
            .filters(&who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        let rules = if filters.is_empty() {
            Vec::new()
        } else {
            rfm::rules(&self.ops).await?
        };
        let metrics = metrics::parse_metrics("metrics", query.metrics.as_deref(), &Metric::HEADLINE)?;
        let points = query.points.unwrap_or(8);
        if !(2..=24).contains(&points) {
            return Err(Error::bad_param("points", format!("expected 2 to 24, got {points}")));
        }
        let permit = if points > LIGHT_TREND_POINTS { Some(self.heavy().await?) } else { None };
        self.analytics
            .read(move |conn| {
                let _turn = permit;
                let req = metrics::resolve(
                    conn,
                    &OverviewQuery {
                        as_of: query.as_of,
                        window: query.window,
                        ..Default::default()
                    },
                )?;
                let scope = Scope::of(filters.clone(), None).with_rules(rules.clone());
                let mut trend = metrics::trend(conn, &metrics, req.window, points, cfg, &scope)?;
                if let Some(min) = min {
                    // Each point is checked at its own window's end: a group can be small
                    // at an earlier date (members who had joined by then).
                    let checks = (0..points)
                        .rev()
                        .map(|i| {
                            let end = req.window.end - chrono::Days::new(u64::from(i) * u64::from(req.window.days));
                            let w = metrics::Window { end, days: req.window.days };
                            check(conn, window_request(w), cfg, &filters, &rules, min)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    disclosure::trend(&mut trend, &checks, min);
                }
                Ok(trend)
            })
            .await
    }

    /// The filters of a request: its own and, if it names one, a saved segment's
    /// (a dimension filtered by both keeps the values in both). Executives filter by
    /// dimensions and saved segments: a range on a member measure of their own (which
    /// can narrow a group to a few members) is refused.
    pub async fn filters(&self, who: &Caller, filters: Option<&str>, segment: Option<&str>) -> Result<Criteria> {
        let own = scope::parse(filters.unwrap_or(""))?;
        if who.role == Role::Executive && !own.ranges.is_empty() {
            return Err(Error::Forbidden(
                "executives filter by dimensions and saved segments; ranges on member measures (revenue, purchases, \
                 p_alive, …) need the operator role"
                    .into(),
            ));
        }
        match segment.filter(|s| !s.is_empty()) {
            None => Ok(own),
            Some(key) => {
                let saved = scope::saved::get(&self.ops, key)
                    .await
                    .map_err(|e| match e {
                        Error::NotFound(m) => Error::bad_param("segment", m),
                        other => other,
                    })?;
                Ok(scope::parse(&saved.filters)?.and(own))
            }
        }
    }

    /// Join-month cohorts as of T: retention matrix and LTV by age (a heavy read).
    pub async fn cohorts(&self, who: &Caller, query: CohortQuery) -> Result<Cohorts> {
        let cfg = self.metrics;
        let min = self.withheld_under(who);
        let filters = self
            .filters(who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        let rules = rfm::rules(&self.ops).await?;
        let count = query.cohorts.unwrap_or(24);
        if !(1..=cohorts::MAX_COHORTS).contains(&count) {
            return Err(Error::bad_param(
                "cohorts",
                format!("expected 1 to {}, got {count}", cohorts::MAX_COHORTS),
            ));
        }
        let permit = self.heavy().await?;
        self.analytics
            .read(move |conn| {
                let _turn = permit;
                let t = metrics::day_or_latest(conn, "as_of", query.as_of.as_deref())?;
                let scope = Scope::of(filters.clone(), None).with_rules(rules.clone());
                let mut cohorts = cohorts::cohorts(conn, t, count, &scope, cfg)?;
                if let Some(min) = min {
                    let check = check(conn, as_of_request(t), cfg, &filters, &rules, min)?;
                    disclosure::cohorts(&mut cohorts, &check, min);
                }
                Ok(cohorts)
            })
            .await
    }

    /// From-tier × to-tier between two dates (executives: small cells withheld).
    pub async fn tier_migration(&self, who: &Caller, query: TierMigrationQuery) -> Result<TierMigration> {
        let cfg = self.metrics;
        let min = self.withheld_under(who);
        let filters = self
            .filters(who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        let rules = rfm::rules(&self.ops).await?;
        self.analytics
            .read(move |conn| {
                let to = metrics::day_or_latest(conn, "to", query.to.as_deref())?;
                let from = match query.from.as_deref() {
                    Some(d) => metrics::parse_date("from", d)?,
                    None => to - chrono::Months::new(12),
                };
                if from > to {
                    return Err(Error::bad_param("from", "must not be after to"));
                }
                let scope = Scope::of(filters.clone(), None).with_rules(rules.clone());
                let mut migration = tiers::migration(conn, from, to, &scope, cfg)?;
                if let Some(min) = min {
                    let check = check(conn, as_of_request(to), cfg, &filters, &rules, min)?;
                    disclosure::tier_migration(&mut migration, &check, min);
                }
                Ok(migration)
            })
            .await
    }

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
                let buyers = model::summaries(conn, t)?;
                let summaries: Vec<model::Summary> = buyers.iter().map(|b| b.summary).collect();
                let bg = model::fit_bgnbd(&summaries)?;
                let gg = model::fit_gamma_gamma(&summaries)?;
                let scores: Vec<app::model::MemberScore> = {
                    use rayon::prelude::*;
                    summaries
                        .par_iter()
                        .map(|s| model::score(&bg, &gg, s, annual_discount))
                        .collect()
                };
                let repeaters = summaries.iter().filter(|s| s.x > 0.0 && s.m > 0.0).count();
                Ok((t, buyers, repeaters, bg, gg, scores))
            })
            .await?;
        let n = buyers.len();
        let mean_clv = scores.iter().map(|s| s.clv_12m).sum::<f64>() / n.max(1) as f64;
        let mean_alive = scores.iter().map(|s| s.p_alive).sum::<f64>() / n.max(1) as f64;
        self.analytics
            .write(move |conn| model::store_scores(conn, t, &buyers, &scores))
            .await?;
        self.figures_changed();
        model::record_fit(&self.ops, t, "bgnbd", n, &bg).await?;
        model::record_fit(&self.ops, t, "gamma_gamma", repeaters, &gg).await?;
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
                Ok(conn.query_row(
                    "SELECT CAST(max(as_of) AS VARCHAR), count(*) FROM member_scores",
                    [],
                    |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?)),
                )?)
            })
            .await?;
        let state = self.refit.state();
        Ok(ModelStatus {
            scores_as_of,
            scored_members,
            fits: model::last_fits(&self.ops).await?,
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
                let scored: Option<String> = conn.query_row(
                    "SELECT CAST(max(as_of) AS VARCHAR) FROM member_scores",
                    [],
                    |r| r.get(0),
                )?;
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
        let fit = model::last_fits(&self.ops).await?.into_iter().map(|f| f.fitted_at).max().unwrap_or_default();
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
                        model::holdout(conn, as_of, days)
                    })
                    .await
            })
            .await?;
        if let Some(min) = self.withheld_under(who) {
            disclosure::holdout(&mut holdout, min);
        }
        Ok(holdout)
    }

    /// The rules (operators and admins). Channel URLs hold the robots' keys: operators
    /// see them without path and query (see [`crate::alerts::webhook::redact`]).
    pub async fn alert_rules(&self, who: &Caller) -> Result<Vec<AlertRule>> {
        who.require(Role::Operator)?;
        Ok(rules::rules(&self.ops).await?.into_iter().map(|r| redacted_for(who, r)).collect())
    }

    pub async fn alert_rule(&self, who: &Caller, id: i64) -> Result<AlertRule> {
        who.require(Role::Operator)?;
        Ok(redacted_for(who, rules::rule(&self.ops, id).await?))
    }

    /// Checks a rule: its fields, that its segment exists, and where its channels point
    /// (http(s) only; no internal address unless `--allow-private-webhooks`).
    async fn check_rule(&self, rule: &AlertRule) -> Result<()> {
        rules::validate(rule)?;
        if let Some(key) = rule.segment.as_deref() {
            scope::saved::get(&self.ops, key).await.map_err(|e| match e {
                Error::NotFound(m) => Error::bad_param("segment", m),
                other => other,
            })?;
        }
        for (i, channel) in rule.channels.iter().enumerate() {
            if let Some(url) = channel_url(channel) {
                crate::alerts::webhook::check(url, self.allow_private_webhooks)
                    .await
                    .map_err(|why| Error::bad_param(format!("channels[{i}].url"), why))?;
            }
        }
        Ok(())
    }

    /// Operators tune rules; their channels (who is notified, where) are the admins'.
    pub async fn create_alert_rule(&self, who: &Caller, rule: AlertRule) -> Result<AlertRule> {
        who.require(Role::Operator)?;
        if !rule.channels.is_empty() {
            who.require(Role::Admin)?;
        }
        self.check_rule(&rule).await?;
        let id = rules::create(&self.ops, &rule).await?;
        audit::record(&self.ops, who, "rule.create", Some(&format!("{id}:{}", rule.name)), None).await?;
        self.data_changed.notify_one();
        self.alert_rule(who, id).await
    }

    /// Replaces a rule. An operator sends the channels back as they were shown (redacted):
    /// those keep the stored ones; any other change of channels is an admin's.
    pub async fn update_alert_rule(&self, who: &Caller, mut rule: AlertRule) -> Result<AlertRule> {
        who.require(Role::Operator)?;
        let before = rules::rule(&self.ops, rule.id).await?;
        if rule.channels == redacted_for(who, before.clone()).channels {
            rule.channels = before.channels.clone();
        }
        if before.channels != rule.channels {
            who.require(Role::Admin)?;
        }
        self.check_rule(&rule).await?;
        rules::update(&self.ops, &rule).await?;
        let action = if before.channels != rule.channels { "channel.update" } else { "rule.update" };
        audit::record(&self.ops, who, action, Some(&format!("{}:{}", rule.id, rule.name)), None).await?;
        self.data_changed.notify_one();
        self.alert_rule(who, rule.id).await
    }

    pub async fn delete_alert_rule(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Operator)?;
        rules::delete(&self.ops, id).await?;
        audit::record(&self.ops, who, "rule.delete", Some(&id.to_string()), None).await
    }

    /// Alerts; executives see them without the members behind them, and without the
    /// values of a segment under the minimum group size.
    pub async fn alerts(&self, who: &Caller, query: AlertQuery) -> Result<Vec<AlertEvent>> {
        let mut events = rules::events(&self.ops, &query).await?;
        if let Some(min) = self.withheld_under(who) {
            events.iter_mut().for_each(|e| disclosure::alert(e, min));
        }
        Ok(events)
    }

    pub async fn alert(&self, who: &Caller, id: i64) -> Result<AlertEvent> {
        let mut event = rules::event(&self.ops, id).await?;
        if let Some(min) = self.withheld_under(who) {
            disclosure::alert(&mut event, min);
        }
        Ok(event)
    }

    /// Acknowledge, snooze or resolve an alert (operators and admins).
    pub async fn act_on_alert(&self, who: &Caller, id: i64, action: &str, snooze: Option<SnoozeRequest>) -> Result<AlertEvent> {
        who.require(Role::Operator)?;
        let now = chrono::Utc::now();
        let until = match snooze {
            Some(s) => rules::snooze_until(s.until.as_deref(), s.minutes, now)?,
            None => None,
        };
        let event = rules::act(&self.ops, id, action, until, now).await?;
        audit::record(&self.ops, who, &format!("alert.{action}"), Some(&id.to_string()), None).await?;
        Ok(event)
    }

    /// Changes whenever any alert does (for the live stream).
    pub async fn alerts_mark(&self) -> Result<String> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT count(*), coalesce(max(id), 0), coalesce(max(updated_at), ''),
                    coalesce(sum(id * CASE state WHEN 'firing' THEN 1 WHEN 'acknowledged' THEN 2 WHEN 'snoozed' THEN 3 ELSE 5 END), 0)
             FROM alert_events",
        )
        .fetch_one(&self.ops)
        .await?;
        Ok(format!(
            "{}/{}/{}/{}",
            row.get::<i64, _>(0),
            row.get::<i64, _>(1),
            row.get::<String, _>(2),
            row.get::<i64, _>(3)
        ))
    }

    /// Evaluates every enabled rule now; returns how many were read.
    pub async fn evaluate_alerts(&self, who: &Caller) -> Result<usize> {
        who.require(Role::Operator)?;
        crate::jobs::evaluator::evaluate(self, chrono::Utc::now(), true).await
    }

    pub async fn segments(&self, _who: &Caller) -> Result<Vec<Segment>> {
        scope::saved::list(&self.ops).await
    }

    pub async fn segment(&self, _who: &Caller, key: &str) -> Result<Segment> {
        scope::saved::get(&self.ops, key).await
    }

    /// Saving segments is operators' and admins' work.
    pub async fn create_segment(&self, who: &Caller, s: Segment) -> Result<Segment> {
        who.require(Role::Operator)?;
        scope::saved::create(&self.ops, &s).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "segment.create", Some(&s.key), Some(&s.filters)).await?;
        self.segment(who, &s.key).await
    }

    pub async fn update_segment(&self, who: &Caller, s: Segment) -> Result<Segment> {
        who.require(Role::Operator)?;
        scope::saved::update(&self.ops, &s).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "segment.update", Some(&s.key), Some(&s.filters)).await?;
        self.segment(who, &s.key).await
    }

    pub async fn delete_segment(&self, who: &Caller, key: &str) -> Result<()> {
        who.require(Role::Operator)?;
        scope::saved::delete(&self.ops, key).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "segment.delete", Some(key), None).await
    }

    pub async fn rfm_rules(&self, _who: &Caller) -> Result<Vec<rfm::RfmRule>> {
        rfm::rules(&self.ops).await
    }

    /// The RFM rule table names everyone's segments: admins change it.
    pub async fn replace_rfm_rules(&self, who: &Caller, rules: Vec<rfm::RfmRule>) -> Result<Vec<rfm::RfmRule>> {
        who.require(Role::Admin)?;
        rfm::replace(&self.ops, &rules).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "rfm_rules.replace", None, None).await?;
        rfm::rules(&self.ops).await
    }

    /// A metric broken down by a dimension, under filters.
    pub async fn breakdown(&self, who: &Caller, query: BreakdownQuery) -> Result<Breakdown> {
        let cfg = self.metrics;
        let min = self.withheld_under(who);
        let rules = rfm::rules(&self.ops).await?;
        let filters = self
            .filters(who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        self.analytics
            .read(move |conn| {
                let metric = match query.metric.as_deref() {
                    Some(key) => Metric::parse(key).ok_or_else(|| {
                        Error::bad_param(
                            "metric",
                            format!("unknown metric {key:?}; see /api/v1/metrics"),
                        )
                    })?,
                    None => return Err(Error::bad_param("metric", "missing")),
                };
                let dimension = match query.dimension.as_deref() {
                    Some(key) => Dimension::parse(key).ok_or_else(|| {
                        Error::bad_param("dimension", format!("unknown dimension {key:?}"))
                    })?,
                    None => return Err(Error::bad_param("dimension", "missing")),
                };
                let req = metrics::resolve(
                    conn,
                    &OverviewQuery {
                        as_of: query.as_of,
                        window: query.window,
                        compare: query.compare,
                        ..Default::default()
                    },
                )?;
                let scope = Scope::of(filters.clone(), Some(dimension)).with_rules(rules.clone());
                let mut breakdown = metrics::breakdown(conn, metric, req, &scope, cfg)?;
                if let Some(min) = min {
                    let sizes = metrics::breakdown(conn, Metric::Members, req, &scope, cfg)?;
                    let at_risk = match metric {
                        Metric::RevenueAtStake => Some(metrics::breakdown(conn, Metric::HighValueAtRisk, req, &scope, cfg)?),
                        _ => None,
                    };
                    let now = check(conn, req, cfg, &filters, &rules, min)?;
                    let then = check(conn, window_request(req.compare.of(&req.window)), cfg, &filters, &rules, min)?;
                    // Unfiltered, the whole membership is checked too (a tiny retailer).
                    let whole = |c: disclosure::Check, n: i64| disclosure::Check { population: c.population.min(n), ..c };
                    let now = whole(now, sizes.total.current.numerator);
                    let then = whole(then, sizes.total.comparison.numerator);
                    disclosure::breakdown(&mut breakdown, &sizes, at_risk.as_ref(), [&now, &then], min);
                }
                Ok(breakdown)
            })
            .await
    }

    /// A page of members (operators: names and phones masked; admins: shown). Audited.
    pub async fn members(&self, who: &Caller, query: MembersQuery) -> Result<MemberPage> {
        who.require(Role::Operator)?;
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        let filters = self
            .filters(who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        self.audit_member_read(who, "member.list", None, &query).await?;
        let personal = personal(who);
        self.analytics
            .read(move |conn| members::list_in(conn, &query, filters, cfg, rules, personal))
            .await
    }

    /// Member-level reads by people are audited; the server's own (alert evaluation) are not.
    async fn audit_member_read<Q: serde::Serialize>(&self, who: &Caller, action: &str, target: Option<&str>, query: &Q) -> Result<()> {
        if who.is_system() {
            return Ok(());
        }
        audit::record(&self.ops, who, action, target, Some(&audit::describe(query))).await
    }

    /// The members of a query as CSV (see [`members::export_csv`]). Audited.
    pub async fn members_csv(&self, who: &Caller, query: MembersQuery) -> Result<String> {
        who.require(Role::Operator)?;
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        let filters = self
            .filters(who, query.filters.as_deref(), query.segment.as_deref())
            .await?;
        self.audit_member_read(who, "member.export", None, &query).await?;
        let personal = personal(who);
        self.analytics
            .read(move |conn| members::export_csv(conn, &query, filters, cfg, rules, personal))
            .await
    }

    /// One member's 360 record. Audited.
    pub async fn member(&self, who: &Caller, member_id: String) -> Result<Option<Member360>> {
        who.require(Role::Operator)?;
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        self.audit_member_read(who, "member.view", Some(&member_id), &()).await?;
        let personal = personal(who);
        self.analytics
            .read(move |conn| members::profile(conn, &member_id, cfg, &rules, personal))
            .await
    }

    /// The latest data loads, newest first (admins).
    pub async fn loads(&self, who: &Caller, limit: i64) -> Result<Vec<operational::LoadRecord>> {
        who.require(Role::Admin)?;
        operational::recent_loads(&self.ops, limit).await
    }

    /// Loads one file through the single writer and records the load; `progress` hears
    /// the stages (the CLI shows them on a spinner).
    pub async fn load(
        &self,
        who: &Caller,
        request: LoadRequest,
        progress: Option<Box<dyn Fn(&str) + Send>>,
    ) -> Result<LoadReport> {
        who.require(Role::Admin)?;
        audit::record(&self.ops, who, "data.load", Some(&request.display_name()), None).await?;
        let report = self
            .analytics
            .write_bulk(move |conn, landing| {
                let progress = progress.as_deref().map(|p| p as &dyn Fn(&str));
                let landed = import::land(conn, &request, progress)?;
                // Batches land again while the load folds (they wait for the folder).
                drop(landing);
                landed.fold(progress)
            })
            .await?;
        operational::record_load(&self.ops, &report).await?;
        if report.inserted_total() > 0 {
            self.data_landed();
        }
        Ok(report)
    }

    /// A load the `memberpulse` command on this machine names (`POST /api/v1/loads` with
    /// the local secret): the file must lie inside the import folder, named relative to it
    /// or in full, with no link or `..` leading out. Nobody else names a path: they upload.
    pub async fn load_named(&self, who: &Caller, request: LoadRequest) -> Result<LoadReport> {
        if who.via != crate::access::Via::Local {
            return Err(Error::Forbidden(
                "only the memberpulse command on this machine names a file for the server to read; \
                 upload the file instead (POST /api/v1/loads/upload, or the admin page)"
                    .into(),
            ));
        }
        let path = inside(&self.import_dir, &request.path)?;
        self.load(who, LoadRequest { path, ..request }, None).await
    }

    /// Where an upload named `name` is kept until it is loaded: a fresh file in the import
    /// folder whose name keeps the upload's extension (CSV or Parquet); see [`Upload`].
    pub fn upload_file(&self, name: &str) -> Result<Upload> {
        let tidy: String = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect();
        // Short enough for any file system (with the prefix), keeping the extension.
        let tidy = tidy.trim_start_matches('.');
        let tidy = match tidy.char_indices().nth(100) {
            Some((cut, _)) => {
                let ext = tidy.rfind('.').map_or("", |i| &tidy[i..]);
                format!("{}{}", &tidy[..cut.min(tidy.len() - ext.len())], if ext.len() <= 16 { ext } else { "" })
            }
            None => tidy.to_string(),
        };
        let path = self.import_dir.join(format!(".upload-{}-{tidy}", crate::access::users::secret("").get(..16).unwrap_or("")));
        Ok(Upload { path, name: name.chars().take(200).collect() })
    }
}

/// An uploaded file kept in the import folder while it is loaded; removed when dropped.
pub struct Upload {
    pub path: PathBuf,
    /// The name it was uploaded with (what reports call it).
    pub name: String,
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `asked` (relative to `folder`, or absolute) as a file inside `folder`: every link and
/// `..` resolved first, so none leads out. A 400 naming `path` otherwise, saying nothing
/// of what is there.
pub fn inside(folder: &Path, asked: &Path) -> Result<PathBuf> {
    let root = folder.canonicalize().map_err(|_| Error::bad_param("path", "the server's import folder is missing"))?;
    // One answer whether the file is missing or lies elsewhere: nothing is told of what
    // is outside the folder.
    let bad = || Error::bad_param("path", format!("{}: no such file inside the server's import folder {}", asked.display(), root.display()));
    let joined = if asked.is_absolute() { asked.to_path_buf() } else { root.join(asked) };
    let real = joined.canonicalize().map_err(|_| bad())?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(bad());
    }
    Ok(real)
}

/// How names and phones reach this caller.
fn personal(who: &Caller) -> members::Personal {
    if who.sees_personal_data() { members::Personal::Shown } else { members::Personal::Masked }
}

/// A rule as `who` may see it: operators get channel URLs without path and query.
fn redacted_for(who: &Caller, mut rule: AlertRule) -> AlertRule {
    if !who.sees_personal_data() {
        for c in &mut rule.channels {
            if let Some(url) = channel_url_mut(c) {
                *url = crate::alerts::webhook::redact(url);
            }
        }
    }
    rule
}

fn channel_url(c: &app::model::Channel) -> Option<&String> {
    use app::model::Channel::*;
    match c {
        Webhook { url } | Wecom { url } | Dingtalk { url } | Feishu { url } | Slack { url } => Some(url),
        Email { .. } => None,
    }
}

fn channel_url_mut(c: &mut app::model::Channel) -> Option<&mut String> {
    use app::model::Channel::*;
    match c {
        Webhook { url } | Wecom { url } | Dingtalk { url } | Feishu { url } | Slack { url } => Some(url),
        Email { .. } => None,
    }
}

/// A request for the day `t` (the counts of the one-step check: members by `t`).
fn as_of_request(t: chrono::NaiveDate) -> metrics::Request {
    window_request(metrics::Window { end: t, days: 1 })
}

/// A request for window `w` (its members are counted at its end).
fn window_request(w: metrics::Window) -> metrics::Request {
    metrics::Request { window: w, compare: metrics::Compare::Previous }
}

/// The executives' check of a view at the end of `req`'s window: its members and, for a
/// filtered view, the one-step difference (see [`disclosure::one_step_difference`]). The
/// whole membership is not a group here.
fn check(
    conn: &duckdb::Connection,
    req: metrics::Request,
    cfg: MetricConfig,
    filters: &Criteria,
    rules: &[rfm::RfmRule],
    min: u32,
) -> Result<disclosure::Check> {
    if filters.is_empty() {
        return Ok(disclosure::Check { population: i64::MAX, difference: None });
    }
    let scope = Scope::of(filters.clone(), None).with_rules(rules.to_vec());
    Ok(disclosure::Check {
        population: population(conn, req, cfg, &scope)?,
        difference: disclosure::one_step_difference(conn, req, cfg, filters, rules, min)?,
    })
}

/// The members a filtered request counts (members by the window's end).
fn population(conn: &duckdb::Connection, req: metrics::Request, cfg: MetricConfig, scope: &Scope) -> Result<i64> {
    let o = metrics::overview_of(conn, req, cfg, scope, None, &[Metric::Members])?;
    Ok(o.kpis.first().map_or(0, |k| k.current.numerator))
}

/// A service call as the pages get it.
fn for_pages<T: Send + 'static>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> EngineFuture<T> {
    Box::pin(async move {
        call.await.map_err(|e| {
            if e.is_server_fault() {
                tracing::error!(error = %e, "{what} failed");
            }
            EngineError {
                bad_input: e.is_bad_input(),
                message: e.public_message(),
                status: e.status().as_u16(),
            }
        })
    })
}

impl Engine for Services {
    fn overview(&self, who: Viewer, query: OverviewQuery) -> EngineFuture<Overview> {
        let s = self.clone();
        for_pages("overview", async move { s.overview(&Caller::signed_in(&who), query).await })
    }

    fn trend(&self, who: Viewer, query: TrendQuery) -> EngineFuture<Trend> {
        let s = self.clone();
        for_pages("trend", async move { s.trend(&Caller::signed_in(&who), query).await })
    }

    fn breakdown(&self, who: Viewer, query: BreakdownQuery) -> EngineFuture<Breakdown> {
        let s = self.clone();
        for_pages("breakdown", async move { s.breakdown(&Caller::signed_in(&who), query).await })
    }

    fn cohorts(&self, who: Viewer, query: CohortQuery) -> EngineFuture<Cohorts> {
        let s = self.clone();
        for_pages("cohorts", async move { s.cohorts(&Caller::signed_in(&who), query).await })
    }

    fn members(&self, who: Viewer, query: MembersQuery) -> EngineFuture<MemberPage> {
        let s = self.clone();
        for_pages("members", async move { s.members(&Caller::signed_in(&who), query).await })
    }

    fn member(&self, who: Viewer, member_id: String) -> EngineFuture<Member360> {
        let s = self.clone();
        for_pages("member", async move {
            s.member(&Caller::signed_in(&who), member_id.clone())
                .await?
                .ok_or_else(|| Error::NotFound(format!("no member {member_id:?}")))
        })
    }

    fn saved_segments(&self, who: Viewer) -> EngineFuture<Vec<Segment>> {
        let s = self.clone();
        for_pages("segments", async move { s.segments(&Caller::signed_in(&who)).await })
    }

    fn segment_names(&self, who: Viewer) -> EngineFuture<Vec<SegmentName>> {
        let s = self.clone();
        for_pages("segment names", async move {
            Ok(s.rfm_rules(&Caller::signed_in(&who))
                .await?
                .into_iter()
                .map(|r| SegmentName {
                    key: r.key,
                    name_zh: r.name_zh,
                    name_en: r.name_en,
                })
                .collect())
        })
    }

    fn model_status(&self, who: Viewer) -> EngineFuture<ModelStatus> {
        let s = self.clone();
        for_pages("model status", async move { s.model_status(&Caller::signed_in(&who)).await })
    }

    fn alerts(&self, who: Viewer, query: AlertQuery) -> EngineFuture<Vec<AlertEvent>> {
        let s = self.clone();
        for_pages("alerts", async move { s.alerts(&Caller::signed_in(&who), query).await })
    }

    fn alert_rules(&self, who: Viewer) -> EngineFuture<Vec<AlertRule>> {
        let s = self.clone();
        for_pages("alert rules", async move { s.alert_rules(&Caller::signed_in(&who)).await })
    }

    fn save_alert_rule(&self, who: Viewer, rule: AlertRule) -> EngineFuture<AlertRule> {
        let s = self.clone();
        for_pages("save alert rule", async move {
            let who = Caller::signed_in(&who);
            if rule.id == 0 { s.create_alert_rule(&who, rule).await } else { s.update_alert_rule(&who, rule).await }
        })
    }

    fn act_on_alert(&self, who: Viewer, id: i64, action: String, minutes: Option<u32>) -> EngineFuture<AlertEvent> {
        let s = self.clone();
        for_pages("alert action", async move {
            let snooze = minutes.map(|m| SnoozeRequest { until: None, minutes: Some(m) });
            s.act_on_alert(&Caller::signed_in(&who), id, &action, snooze).await
        })
    }

    fn holdout(&self, who: Viewer, query: HoldoutQuery) -> EngineFuture<Holdout> {
        let s = self.clone();
        for_pages("holdout", async move { s.holdout(&Caller::signed_in(&who), query).await })
    }

    fn users(&self, who: Viewer) -> EngineFuture<Vec<User>> {
        let ops = self.ops.clone();
        for_pages("users", async move { crate::access::list_users(&ops, &Caller::signed_in(&who)).await })
    }

    fn save_user(&self, who: Viewer, change: UserChange, create: bool) -> EngineFuture<User> {
        let ops = self.ops.clone();
        for_pages("save user", async move {
            let who = Caller::signed_in(&who);
            if create {
                crate::access::create_user(&ops, &who, change).await
            } else {
                crate::access::update_user(&ops, &who, change).await
            }
        })
    }

    fn tokens(&self, who: Viewer) -> EngineFuture<Vec<ApiToken>> {
        let ops = self.ops.clone();
        for_pages("tokens", async move { crate::access::list_tokens(&ops, &Caller::signed_in(&who)).await })
    }

    fn create_token(&self, who: Viewer, request: TokenRequest) -> EngineFuture<ApiToken> {
        let ops = self.ops.clone();
        for_pages("create token", async move { crate::access::create_token(&ops, &Caller::signed_in(&who), request).await })
    }

    fn revoke_token(&self, who: Viewer, id: i64) -> EngineFuture<ApiToken> {
        let ops = self.ops.clone();
        for_pages("revoke token", async move { crate::access::revoke_token(&ops, &Caller::signed_in(&who), id).await })
    }

    fn audit(&self, who: Viewer, query: AuditQuery) -> EngineFuture<Vec<AuditEntry>> {
        let ops = self.ops.clone();
        for_pages("audit", async move { crate::access::audit_entries(&ops, &Caller::signed_in(&who), &query).await })
    }

    fn loads(&self, who: Viewer) -> EngineFuture<Vec<app::model::LoadRecord>> {
        let s = self.clone();
        for_pages("loads", async move { s.loads(&Caller::signed_in(&who), 50).await })
    }

    fn save_language(&self, who: Viewer, lang: String) -> EngineFuture<()> {
        let ops = self.ops.clone();
        for_pages("save language", async move { crate::access::users::set_language(&ops, &who.name, &lang).await })
    }
}

pub fn app_state(services: &Services) -> app::state::AppState {
    app::state::AppState {
        engine: Arc::new(services.clone()),
    }
}
