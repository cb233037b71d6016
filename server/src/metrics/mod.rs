//! The metric catalogue (SPEC §4). Each metric is defined once, here, as SQL over the
//! analytics tables; the pages, the JSON API and the CLI all ask this module.
//!
//! Time: a window of `days` days ending at T covers the calendar dates
//! `[T - days + 1, T]`, i.e. timestamps `>= start 00:00` and `< T + 1 day 00:00`.
//! A *purchase* is an order with `net_amount > 0`; returns (negative amounts) lower
//! revenue on the day they happen but are never counted as orders.
//! Money is summed as DECIMAL and read back as integer cents, so it never drifts.
//!
//! Metrics about purchases read `member_days` and `points_days` (see [`crate::derive::summary`]):
//! one row per member and day, with the member's previous and next purchase day, so that
//! "first purchase in W" or "last purchase before W" is a condition on one row and a
//! metric counts rows of a day range instead of grouping every order by member. The
//! `memberpulse bench` command checks these against straightforward SQL over the raw
//! orders and points, number for number.

pub mod cohorts;
mod definitions;
pub mod facts;
pub mod reference;
pub mod rfm;
pub mod scope;
pub mod tiers;

pub use definitions::{finish, grouped};

/// One metric's part for each member over window `w`, by the metric's own SQL with every
/// member in a group of their own: rows (member_no, numerator, denominator); `None` when
/// nothing can count. (How a trigger reads, say, a member's points expiring.)
pub fn per_member(metric: Metric, w: &Window, cfg: MetricConfig) -> Option<crate::store::sql::Sql> {
    definitions::statement(metric, w, cfg, &scope::Scope::per_member())
}

use app::model::{Breakdown, BreakdownRow, DateRange, Kpi, Measure, Metric, Overview, OverviewQuery, Unit};
use chrono::{Datelike, Days, Months, NaiveDate};
use duckdb::{Connection, OptionalExt};

use crate::{Error, Result, metrics::scope::Scope};

/// Thresholds that are configuration, not constants.
#[derive(Clone, Copy, Debug)]
pub struct MetricConfig {
    /// A member with no purchase for more than this many days is churned (SPEC: C).
    pub churn_days: u32,
    /// A member whose last purchase is at most this many days old is active; older is
    /// dormant (up to `churn_days`) or churned.
    pub active_days: u32,
    /// The follow-up after a first purchase in which a second one counts.
    pub second_purchase_days: u32,
    /// A member who joined at most this many days ago, with at most one purchase, is new.
    pub new_member_days: u32,
    /// What one point is worth, in cents.
    pub point_value_cents: u32,
    /// Points earned in year Y expire at the end of year Y + this (0: points never expire).
    pub points_expiry_years: u32,
    /// A scored member with P(alive) below this is at risk.
    pub at_risk_p_alive: f64,
    /// The annual rate the predicted 12-month CLV is discounted at.
    pub annual_discount: f64,
}

impl Default for MetricConfig {
    fn default() -> Self {
        MetricConfig {
            churn_days: 180,
            active_days: 90,
            second_purchase_days: 90,
            new_member_days: 30,
            point_value_cents: 1,
            points_expiry_years: 1,
            at_risk_p_alive: 0.5,
            annual_discount: 0.1,
        }
    }
}

/// `days` calendar days ending at `end`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub end: NaiveDate,
    pub days: u32,
}

impl Window {
    pub fn start(&self) -> NaiveDate {
        self.end - Days::new(u64::from(self.days) - 1)
    }

    /// The first day after the window: its exclusive upper bound.
    fn after(&self) -> NaiveDate {
        self.end + Days::new(1)
    }

    /// The window of the same length just before this one.
    pub fn previous(&self) -> Window {
        Window { end: self.end - Days::new(u64::from(self.days)), days: self.days }
    }

    /// The same window a year earlier (29 Feb maps to 28 Feb).
    pub fn year_earlier(&self) -> Window {
        Window { end: self.end - Months::new(12), days: self.days }
    }

    pub fn range(&self) -> DateRange {
        DateRange { start: self.start().to_string(), end: self.end.to_string() }
    }
}

/// Which comparison window a view uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Previous,
    YearEarlier,
}

impl Compare {
    pub fn of(self, w: &Window) -> Window {
        match self {
            Compare::Previous => w.previous(),
            Compare::YearEarlier => w.year_earlier(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compare::Previous => "previous",
            Compare::YearEarlier => "year",
        }
    }
}

/// A validated overview request.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub window: Window,
    pub compare: Compare,
}

pub const MAX_WINDOW_DAYS: u32 = 3650;

/// Metric keys, comma-separated (the request parameter `param`); `default` when absent.
pub fn parse_metrics(param: &str, text: Option<&str>, default: &[Metric]) -> Result<Vec<Metric>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default.to_vec()),
        Some(keys) => keys
            .split(',')
            .map(|k| {
                Metric::parse(k.trim())
                    .ok_or_else(|| Error::bad_param(param, format!("unknown metric {k:?}; see /api/v1/metrics")))
            })
            .collect(),
    }
}

/// Parses `7d`, `30d`, … into a day count.
pub fn parse_window_days(text: &str) -> Result<u32> {
    let bad =
        || Error::bad_param("window", format!("expected a length like 30d (1d to {MAX_WINDOW_DAYS}d), got {text:?}"));
    let digits = text.strip_suffix('d').ok_or_else(bad)?;
    let days: u32 = digits.parse().map_err(|_| bad())?;
    if (1..=MAX_WINDOW_DAYS).contains(&days) { Ok(days) } else { Err(bad()) }
}

/// The dates a caller may name: far enough apart for any retailer's history and plans,
/// and far from the calendar's ends, where date arithmetic overflows.
pub const DATES: std::ops::RangeInclusive<NaiveDate> =
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()..=NaiveDate::from_ymd_opt(2999, 12, 31).unwrap();

/// A date parameter, `YYYY-MM-DD` within [`DATES`]; a 400 naming `param` otherwise.
pub fn parse_date(param: &str, text: &str) -> Result<NaiveDate> {
    let bad = || {
        Error::bad_param(
            param,
            format!("expected a date as YYYY-MM-DD from {} to {}, got {text:?}", DATES.start(), DATES.end()),
        )
    };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
    if DATES.contains(&date) { Ok(date) } else { Err(bad()) }
}

/// Validates a query; T defaults to the latest order date (today if there are no orders).
pub fn resolve(conn: &Connection, q: &OverviewQuery) -> Result<Request> {
    let days = match q.window.as_deref() {
        Some(w) => parse_window_days(w)?,
        None => 30,
    };
    let end = day_or_latest(conn, "as_of", q.as_of.as_deref())?;
    let compare = match q.compare.as_deref() {
        None | Some("previous") => Compare::Previous,
        Some("year") => Compare::YearEarlier,
        Some(other) => {
            return Err(Error::bad_param("compare", format!("expected previous or year, got {other:?}")));
        }
    };
    Ok(Request { window: Window { end, days }, compare })
}

/// The date in `text` (parameter `param`), or by default the date of the latest order
/// (today if there are no orders).
pub fn day_or_latest(conn: &Connection, param: &str, text: Option<&str>) -> Result<NaiveDate> {
    match text {
        Some(d) => parse_date(param, d),
        None => Ok(latest_order_date(conn)?.unwrap_or_else(|| chrono::Utc::now().date_naive())),
    }
}

/// The calendar date of the latest order, if any.
pub fn latest_order_date(conn: &Connection) -> Result<Option<NaiveDate>> {
    let text: Option<String> = conn
        .query_row("SELECT CAST(CAST(max(ordered_at) AS DATE) AS VARCHAR) FROM orders", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(text.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok()))
}

/// Every metric of the catalogue for a window and its comparison window, over the
/// members of `scope` (which has no dimension), `segment` naming where its filters came from.
pub fn overview(
    conn: &Connection,
    req: Request,
    cfg: MetricConfig,
    scope: &Scope,
    segment: Option<String>,
) -> Result<Overview> {
    overview_of(conn, req, cfg, scope, segment, &Metric::ALL)
}

/// [`overview`] for some metrics only.
pub fn overview_of(
    conn: &Connection,
    req: Request,
    cfg: MetricConfig,
    scope: &Scope,
    segment: Option<String>,
    metrics: &[Metric],
) -> Result<Overview> {
    let cmp = req.compare.of(&req.window);
    let kpis = kpis(conn, req, cfg, metrics, scope)?;
    Ok(Overview {
        as_of: req.window.end.to_string(),
        window_days: req.window.days,
        compare: req.compare.name().to_string(),
        window: req.window.range(),
        comparison_window: cmp.range(),
        churn_days: cfg.churn_days,
        segment,
        filters: scope.filters.clone(),
        ranges: scope.ranges.clone(),
        kpis,
        population: None,
    })
}

/// Some metrics, over the members of `scope` (no dimension), for a window and its
/// comparison window.
pub fn kpis(conn: &Connection, req: Request, cfg: MetricConfig, metrics: &[Metric], scope: &Scope) -> Result<Vec<Kpi>> {
    let cmp = req.compare.of(&req.window);
    if !scope.is_all() {
        // The scope is a temp table of this connection, prepared for each window's T.
        let mut per_window = Vec::new();
        for w in [&req.window, &cmp] {
            per_window.push(scoped(conn, metrics, w, cfg, scope)?);
        }
        let comparison = per_window.pop().unwrap_or_default();
        let current = per_window.pop().unwrap_or_default();
        return Ok(metrics
            .iter()
            .zip(current.into_iter().zip(comparison))
            .map(|(&key, (current, comparison))| Kpi { key, unit: key.unit(), current, comparison })
            .collect());
    }
    let jobs: Vec<(Metric, Window)> = metrics.iter().flat_map(|&m| [(m, req.window), (m, cmp)]).collect();
    let mut measures = measure_all(conn, &jobs, cfg)?.into_iter();
    Ok(metrics
        .iter()
        .map(|&key| Kpi {
            key,
            unit: key.unit(),
            current: measures.next().unwrap_or_default(),
            comparison: measures.next().unwrap_or_default(),
        })
        .collect())
}

/// Some metrics for one window over the members of `scope` (no dimension), which this
/// prepares for the window's T on `conn`.
fn scoped(conn: &Connection, metrics: &[Metric], w: &Window, cfg: MetricConfig, scope: &Scope) -> Result<Vec<Measure>> {
    metrics
        .iter()
        .map(|&m| {
            let rows = match kept(conn, m, w, cfg, scope)? {
                Some(rows) => rows,
                None => {
                    scope.prepare(conn, w.end, cfg)?;
                    grouped(conn, m, w, cfg, scope)?
                }
            };
            Ok(finish(m, rows.first().map_or((0, 0), |r| (r.1, r.2))))
        })
        .collect()
}

/// One metric for one window per group of `scope`, as [`grouped`] gives it, read from
/// the member facts when they keep the metric for this window and are current for its
/// end (see [`facts::keeps`]); `None` otherwise. Every group of the scope has a row.
fn kept(
    conn: &Connection,
    metric: Metric,
    w: &Window,
    cfg: MetricConfig,
    scope: &Scope,
) -> Result<Option<Vec<(String, i64, i64)>>> {
    if !facts::keeps(metric, w) || !facts::current_for(conn, w.end, cfg)? {
        return Ok(None);
    }
    let rows = definitions::group_rows(conn, &scope.over_facts(w.end, cfg, &facts::columns(metric)))?;
    // Facts made again meanwhile (for a new latest day) may hold no row for this day.
    Ok(facts::current_for(conn, w.end, cfg)?.then_some(rows))
}

/// Each (metric, window) over every member, in order. The queries are small; several at
/// once, each on its own connection, keep both cores busy where one query alone would
/// leave them waiting on each other.
pub fn measure_all(conn: &Connection, jobs: &[(Metric, Window)], cfg: MetricConfig) -> Result<Vec<Measure>> {
    let one = |conn: &Connection, (metric, w): (Metric, Window)| -> Result<Measure> {
        let started = std::time::Instant::now();
        let m = measure(conn, metric, &w, cfg)?;
        tracing::debug!(metric = metric.key(), end = %w.end, ms = started.elapsed().as_millis() as u64, "measured");
        Ok(m)
    };
    let workers = PARALLEL_QUERIES.min(jobs.len());
    if workers <= 1 {
        return jobs.iter().map(|&job| one(conn, job)).collect();
    }
    let connections = (0..workers).map(|_| conn.try_clone()).collect::<duckdb::Result<Vec<_>>>()?;
    let mut results: Vec<(usize, Result<Measure>)> = std::thread::scope(|s| {
        let handles: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(worker, c)| {
                let one = &one;
                s.spawn(move || {
                    (worker..jobs.len()).step_by(workers).map(|i| (i, one(&c, jobs[i]))).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a metric query panicked")).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, m)| m).collect()
}

/// Some metrics over `points` consecutive windows of the request's length, the last
/// ending at T, over the members of `scope` (no dimension).
pub fn trend(
    conn: &Connection,
    metrics: &[Metric],
    window: Window,
    points: u32,
    cfg: MetricConfig,
    scope: &Scope,
) -> Result<app::model::Trend> {
    use app::model::{Trend, TrendPoint, TrendSeries};
    let windows: Vec<Window> = (0..points)
        .rev()
        .map(|i| Window { end: window.end - Days::new(u64::from(i) * u64::from(window.days)), days: window.days })
        .collect();
    let measures: Vec<Measure> = if scope.is_all() {
        let jobs: Vec<(Metric, Window)> = metrics.iter().flat_map(|&m| windows.iter().map(move |&w| (m, w))).collect();
        measure_all(conn, &jobs, cfg)?
    } else {
        let mut by_window = Vec::new();
        for w in &windows {
            by_window.push(scoped(conn, metrics, w, cfg, scope)?);
        }
        (0..metrics.len()).flat_map(|i| by_window.iter().map(move |ms| ms[i].clone())).collect()
    };
    let mut measures = measures.into_iter();
    Ok(Trend {
        window_days: window.days,
        series: metrics
            .iter()
            .map(|&metric| TrendSeries {
                metric,
                unit: metric.unit(),
                points: windows
                    .iter()
                    .map(|w| TrendPoint { end: w.end.to_string(), measure: measures.next().unwrap_or_default() })
                    .collect(),
            })
            .collect(),
    })
}

/// How many metric queries [`kpis`] runs at once.
const PARALLEL_QUERIES: usize = 4;

/// One metric for one window, over every member.
pub fn measure(conn: &Connection, metric: Metric, w: &Window, cfg: MetricConfig) -> Result<Measure> {
    let rows = grouped(conn, metric, w, cfg, &Scope::all())?;
    Ok(finish(metric, rows.into_iter().next().map_or((0, 0), |(_, n, d)| (n, d))))
}

/// A metric broken down by a dimension, under filters, for a window and its comparison.
pub fn breakdown(
    conn: &Connection,
    metric: Metric,
    req: Request,
    scope: &Scope,
    cfg: MetricConfig,
) -> Result<Breakdown> {
    let dimension = scope.dimension.ok_or_else(|| Error::bad_param("dimension", "a breakdown needs a dimension"))?;
    let cmp = req.compare.of(&req.window);
    let mut per_window = Vec::new();
    let mut groups = Vec::new();
    for w in [&req.window, &cmp] {
        let (rows, present) = match kept(conn, metric, w, cfg, scope)? {
            Some(rows) => {
                let present = rows.iter().map(|r| r.0.clone()).collect();
                (rows, present)
            }
            None => {
                // Groups that change with T are taken at each window's end; others at T.
                scope.prepare(conn, if scope.depends_on_as_of() { w.end } else { req.window.end }, cfg)?;
                (grouped(conn, metric, w, cfg, scope)?, scope.groups(conn)?)
            }
        };
        for g in present {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let total = if metric == Metric::MemberSalesShare {
            let den = rows.first().map_or(0, |r| r.2);
            (rows.iter().map(|r| r.1).sum(), den)
        } else {
            rows.iter().fold((0, 0), |(n, d), r| (n + r.1, d + r.2))
        };
        per_window.push((rows, total));
    }
    groups.sort();
    // A group with nothing to count has 0 over 0, except in the sales share, whose
    // denominator is all revenue for every group.
    let pick = |(rows, total): &(Vec<(String, i64, i64)>, (i64, i64)), g: &str| {
        let empty = if metric == Metric::MemberSalesShare { (0, total.1) } else { (0, 0) };
        rows.iter().find(|r| r.0 == g).map_or(empty, |r| (r.1, r.2))
    };
    let row = |g: &str| BreakdownRow {
        value: g.to_string(),
        current: finish(metric, pick(&per_window[0], g)),
        comparison: finish(metric, pick(&per_window[1], g)),
    };
    Ok(Breakdown {
        metric,
        unit: metric.unit(),
        dimension,
        filters: scope.filters.clone(),
        ranges: scope.ranges.clone(),
        as_of: req.window.end.to_string(),
        window: req.window.range(),
        comparison_window: cmp.range(),
        rows: groups.iter().map(|g| row(g)).collect(),
        total: BreakdownRow {
            value: "all".to_string(),
            current: finish(metric, per_window[0].1),
            comparison: finish(metric, per_window[1].1),
        },
    })
}

/// A head count.
pub fn count(n: i64) -> Measure {
    Measure { numerator: n, denominator: 1, value: Some(n as f64), reason: None }
}

/// A share; `None` with a reason when nothing is below the line.
pub fn ratio(numerator: i64, denominator: i64, why_empty: &str) -> Measure {
    if denominator == 0 {
        Measure { numerator, denominator, value: None, reason: Some(why_empty.to_string()) }
    } else {
        Measure { numerator, denominator, value: Some(numerator as f64 / denominator as f64), reason: None }
    }
}

/// An amount per head, rounded half away from zero to the cent.
pub fn money_per(cents: i64, heads: i64, why_empty: &str) -> Measure {
    if heads == 0 {
        return Measure { numerator: cents, denominator: 0, value: None, reason: Some(why_empty.to_string()) };
    }
    let (c, h) = (i128::from(cents), i128::from(heads));
    let rounded = (2 * c.abs() + h) / (2 * h) * c.signum();
    Measure { numerator: cents, denominator: heads, value: Some(rounded as f64 / 100.0), reason: None }
}
