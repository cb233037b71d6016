//! The dashboard's figures: the overview, trends, breakdowns, cohorts and tier
//! migration, with what executives may not see withheld (see [`disclosure`]).

use super::*;

impl Services {
    /// `compute`'s answer to `query`, or the one computed for the same question at the
    /// same figures version (see [`crate::memo`]); executives' answers, with small groups
    /// withheld, are kept apart from everyone else's.
    async fn shared<T, Q, F, Fut>(&self, memo: &Memo<T>, who: &Caller, query: Q, compute: F) -> Result<T>
    where
        T: Clone,
        Q: std::fmt::Debug,
        F: FnOnce(Q) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let key = format!("{:?} {query:?}", self.withheld_under(who));
        let version = *self.data_version.borrow();
        memo.get(key, version, || compute(query)).await
    }

    /// The overview, shared by every dashboard asking the same at the same data version
    /// (see [`crate::memo`]).
    pub async fn overview(&self, who: &Caller, query: OverviewQuery) -> Result<Overview> {
        self.shared(&self.overview_memo, who, query, |q| self.overview_now(who.clone(), q)).await
    }

    /// The overview computed now, never shared: the alert evaluator's readings are of the
    /// data as it is, however it changed.
    pub async fn overview_fresh(&self, who: &Caller, query: OverviewQuery) -> Result<Overview> {
        self.overview_now(who.clone(), query).await
    }

    async fn overview_now(&self, who: Caller, query: OverviewQuery) -> Result<Overview> {
        let cfg = self.metrics;
        let min = self.withheld_under(&who);
        let filters = self.filters(&who, query.filters.as_deref(), query.segment.as_deref()).await?;
        let rules = if filters.is_empty() { Vec::new() } else { rfm::rules(&self.ops).await? };
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
                            o.kpis
                                .first()
                                .map_or([None, None], |k| [Some(k.current.numerator), Some(k.comparison.numerator)])
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

    /// Metrics over consecutive windows ending at T (sparklines, the trend chart), shared
    /// like [`Self::overview`]. More than a dozen windows is a heavy read.
    pub async fn trend(&self, who: &Caller, query: TrendQuery) -> Result<Trend> {
        self.shared(&self.trend_memo, who, query, |q| self.trend_now(who.clone(), q)).await
    }

    async fn trend_now(&self, who: Caller, query: TrendQuery) -> Result<Trend> {
        let cfg = self.metrics;
        let min = self.withheld_under(&who);
        let filters = self.filters(&who, query.filters.as_deref(), query.segment.as_deref()).await?;
        let rules = if filters.is_empty() { Vec::new() } else { rfm::rules(&self.ops).await? };
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
                    &OverviewQuery { as_of: query.as_of, window: query.window, ..Default::default() },
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
                let saved = scope::saved::get(&self.ops, key).await.map_err(|e| match e {
                    Error::NotFound(m) => Error::bad_param("segment", m),
                    other => other,
                })?;
                Ok(scope::parse(&saved.filters)?.and(own))
            }
        }
    }

    /// Join-month cohorts as of T: retention matrix and LTV by age (a heavy read), shared
    /// like [`Self::overview`].
    pub async fn cohorts(&self, who: &Caller, query: CohortQuery) -> Result<Cohorts> {
        self.shared(&self.cohorts_memo, who, query, |q| self.cohorts_now(who, q)).await
    }

    async fn cohorts_now(&self, who: &Caller, query: CohortQuery) -> Result<Cohorts> {
        let cfg = self.metrics;
        let min = self.withheld_under(who);
        let filters = self.filters(who, query.filters.as_deref(), query.segment.as_deref()).await?;
        let rules = rfm::rules(&self.ops).await?;
        let count = query.cohorts.unwrap_or(24);
        if !(1..=cohorts::MAX_COHORTS).contains(&count) {
            return Err(Error::bad_param("cohorts", format!("expected 1 to {}, got {count}", cohorts::MAX_COHORTS)));
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
        let filters = self.filters(who, query.filters.as_deref(), query.segment.as_deref()).await?;
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

    /// A metric broken down by a dimension, under filters, shared like [`Self::overview`].
    pub async fn breakdown(&self, who: &Caller, query: BreakdownQuery) -> Result<Breakdown> {
        self.shared(&self.breakdown_memo, who, query, |q| self.breakdown_now(who, q)).await
    }

    async fn breakdown_now(&self, who: &Caller, query: BreakdownQuery) -> Result<Breakdown> {
        let cfg = self.metrics;
        let min = self.withheld_under(who);
        let rules = rfm::rules(&self.ops).await?;
        let filters = self.filters(who, query.filters.as_deref(), query.segment.as_deref()).await?;
        self.analytics
            .read(move |conn| {
                let metric = match query.metric.as_deref() {
                    Some(key) => Metric::parse(key).ok_or_else(|| {
                        Error::bad_param("metric", format!("unknown metric {key:?}; see /api/v1/metrics"))
                    })?,
                    None => return Err(Error::bad_param("metric", "missing")),
                };
                let dimension = match query.dimension.as_deref() {
                    Some(key) => Dimension::parse(key)
                        .ok_or_else(|| Error::bad_param("dimension", format!("unknown dimension {key:?}")))?,
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
                        Metric::RevenueAtStake => {
                            Some(metrics::breakdown(conn, Metric::HighValueAtRisk, req, &scope, cfg)?)
                        }
                        _ => None,
                    };
                    let now = check(conn, req, cfg, &filters, &rules, min)?;
                    let then = check(conn, window_request(req.compare.of(&req.window)), cfg, &filters, &rules, min)?;
                    // Unfiltered, the whole membership is checked too (a tiny retailer).
                    let whole =
                        |c: disclosure::Check, n: i64| disclosure::Check { population: c.population.min(n), ..c };
                    let now = whole(now, sizes.total.current.numerator);
                    let then = whole(then, sizes.total.comparison.numerator);
                    disclosure::breakdown(&mut breakdown, &sizes, at_risk.as_ref(), [&now, &then], min);
                }
                Ok(breakdown)
            })
            .await
    }
}

impl Services {
    /// Computes the default overview's panels ahead, as executives and as everyone else see
    /// them, so that the pages opened after a change of the figures find them shared
    /// (`crate::jobs::ahead`). Returns how many panels it computed.
    pub async fn overview_ahead(&self) -> Result<usize> {
        let panels = app::model::OverviewPanels::of(&OverviewQuery::default());
        let executive = Caller { role: Role::Executive, ..Caller::system() };
        for who in [Caller::system(), executive] {
            self.overview(&who, panels.headline.clone()).await?;
            self.trend(&who, panels.trend.clone()).await?;
            self.breakdown(&who, panels.lifecycle.clone()).await?;
            self.breakdown(&who, panels.tiers.clone()).await?;
            self.overview(&who, panels.channels_and_points.clone()).await?;
            self.cohorts(&who, panels.cohorts.clone()).await?;
            self.overview(&who, panels.rest.clone()).await?;
        }
        Ok(14)
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
