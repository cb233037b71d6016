//! The metric catalogue (SPEC §4). Each metric is defined once, here, as SQL over the
//! analytics tables; the pages, the JSON API and the CLI all ask this module.
//!
//! Time: a window of `days` days ending at T covers the calendar dates
//! `[T - days + 1, T]`, i.e. timestamps `>= start 00:00` and `< T + 1 day 00:00`.
//! A *purchase* is an order with `net_amount > 0`; returns (negative amounts) lower
//! revenue on the day they happen but are never counted as orders.
//! Money is summed as DECIMAL and read back as integer cents, so it never drifts.
//!
//! Metrics about purchases read `member_days` and `points_days` (see [`crate::summary`]):
//! one row per member and day, with the member's previous and next purchase day, so that
//! "first purchase in W" or "last purchase before W" is a condition on one row and a
//! metric counts rows of a day range instead of grouping every order by member. The
//! `memberpulse bench` command checks these against straightforward SQL over the raw
//! orders and points, number for number.

pub mod cohorts;
pub mod reference;
pub mod rfm;
pub mod scope;
pub mod tiers;


use app::model::{
    Breakdown, BreakdownRow, DateRange, Kpi, Measure, Metric, Overview, OverviewQuery, Unit,
};
use chrono::{Datelike, Days, Months, NaiveDate};
use duckdb::{Connection, OptionalExt, params_from_iter, types::Value};

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
        Window {
            end: self.end - Days::new(u64::from(self.days)),
            days: self.days,
        }
    }

    /// The same window a year earlier (29 Feb maps to 28 Feb).
    pub fn year_earlier(&self) -> Window {
        Window {
            end: self.end - Months::new(12),
            days: self.days,
        }
    }

    pub fn range(&self) -> DateRange {
        DateRange {
            start: self.start().to_string(),
            end: self.end.to_string(),
        }
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
                Metric::parse(k.trim()).ok_or_else(|| {
                    Error::bad_param(param, format!("unknown metric {k:?}; see /api/v1/metrics"))
                })
            })
            .collect(),
    }
}

/// Parses `7d`, `30d`, … into a day count.
pub fn parse_window_days(text: &str) -> Result<u32> {
    let bad = || {
        Error::bad_param(
            "window",
            format!("expected a length like 30d (1d to {MAX_WINDOW_DAYS}d), got {text:?}"),
        )
    };
    let digits = text.strip_suffix('d').ok_or_else(bad)?;
    let days: u32 = digits.parse().map_err(|_| bad())?;
    if (1..=MAX_WINDOW_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(bad())
    }
}

/// The dates a caller may name: far enough apart for any retailer's history and plans,
/// and far from the calendar's ends, where date arithmetic overflows.
pub const DATES: std::ops::RangeInclusive<NaiveDate> = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()..=NaiveDate::from_ymd_opt(2999, 12, 31).unwrap();

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
            return Err(Error::bad_param(
                "compare",
                format!("expected previous or year, got {other:?}"),
            ));
        }
    };
    Ok(Request {
        window: Window { end, days },
        compare,
    })
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
        .query_row(
            "SELECT CAST(CAST(max(ordered_at) AS DATE) AS VARCHAR) FROM orders",
            [],
            |r| r.get(0),
        )
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
pub fn kpis(
    conn: &Connection,
    req: Request,
    cfg: MetricConfig,
    metrics: &[Metric],
    scope: &Scope,
) -> Result<Vec<Kpi>> {
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
            .map(|(&key, (current, comparison))| Kpi {
                key,
                unit: key.unit(),
                current,
                comparison,
            })
            .collect());
    }
    let jobs: Vec<(Metric, Window)> = metrics
        .iter()
        .flat_map(|&m| [(m, req.window), (m, cmp)])
        .collect();
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
    scope.prepare(conn, w.end, cfg)?;
    metrics
        .iter()
        .map(|&m| {
            let rows = grouped(conn, m, w, cfg, scope)?;
            Ok(finish(m, rows.first().map_or((0, 0), |r| (r.1, r.2))))
        })
        .collect()
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
    let connections = (0..workers)
        .map(|_| conn.try_clone())
        .collect::<duckdb::Result<Vec<_>>>()?;
    let mut results: Vec<(usize, Result<Measure>)> = std::thread::scope(|s| {
        let handles: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(worker, c)| {
                let one = &one;
                s.spawn(move || {
                    (worker..jobs.len())
                        .step_by(workers)
                        .map(|i| (i, one(&c, jobs[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a metric query panicked"))
            .collect()
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
        .map(|i| Window {
            end: window.end - Days::new(u64::from(i) * u64::from(window.days)),
            days: window.days,
        })
        .collect();
    let measures: Vec<Measure> = if scope.is_all() {
        let jobs: Vec<(Metric, Window)> = metrics
            .iter()
            .flat_map(|&m| windows.iter().map(move |&w| (m, w)))
            .collect();
        measure_all(conn, &jobs, cfg)?
    } else {
        let mut by_window = Vec::new();
        for w in &windows {
            by_window.push(scoped(conn, metrics, w, cfg, scope)?);
        }
        (0..metrics.len())
            .flat_map(|i| by_window.iter().map(move |ms| ms[i].clone()))
            .collect()
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
                    .map(|w| TrendPoint {
                        end: w.end.to_string(),
                        measure: measures.next().unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// How many metric queries [`kpis`] runs at once.
const PARALLEL_QUERIES: usize = 4;

/// One metric for one window, over every member.
pub fn measure(
    conn: &Connection,
    metric: Metric,
    w: &Window,
    cfg: MetricConfig,
) -> Result<Measure> {
    let rows = grouped(conn, metric, w, cfg, &Scope::all())?;
    Ok(finish(
        metric,
        rows.into_iter().next().map_or((0, 0), |(_, n, d)| (n, d)),
    ))
}

/// One metric for one window, per group of `scope` (which must be prepared for `w.end`):
/// (group, numerator, denominator). Groups with nothing to count may be missing.
pub fn grouped(
    conn: &Connection,
    metric: Metric,
    w: &Window,
    cfg: MetricConfig,
    scope: &Scope,
) -> Result<Vec<(String, i64, i64)>> {
    let (start, end, after) = (day(w.start()), day(w.end), ts(w.after()));
    let (join, grp) = (scope.join("o"), scope.group());
    // A member's first purchase day in W, as a condition on a `member_days` row; binds
    // W's start, end and start again.
    let first_in_w = "o.purchases > 0 AND o.day BETWEEN ? AND ?
                      AND (o.prev_purchase_day IS NULL OR o.prev_purchase_day < ?)";
    let run = |sql: String, params: Vec<Value>| query_groups(conn, &sql, params);
    match metric {
        // 历史LTV: mean cumulative net revenue (returns included) per member, over the
        // members who joined on or before T, counting their orders up to the end of T.
        // Members with no orders count with zero revenue; guest sales do not count.
        // Read as each member's lifetime revenue in the summary less what came after T,
        // so that the usual question (T = the latest day) reads one row per member.
        Metric::HistoricalLtv => run(
            format!(
                "SELECT grp, sum(cents), sum(heads) FROM (
                     SELECT {grp} AS grp, sum(o.revenue_cents) AS cents, count(*) AS heads
                     FROM member_summary o {join} WHERE o.joined_day <= $1 GROUP BY 1
                     UNION ALL
                     SELECT {grp}, -sum(o.cents), 0 FROM member_days o {join}
                     WHERE o.day > $1 AND o.joined_day <= $1 GROUP BY 1
                 ) GROUP BY grp"
            ),
            vec![end],
        ),
        // 复购率: of the members with a purchase in W, the share who purchased on two or
        // more distinct days in W (two orders on one day are one visit). Each member's
        // first purchase day in W is one row; they repurchased if their next one is in W.
        Metric::RepurchaseRate => run(
            format!(
                "SELECT {grp}, count(*) FILTER (WHERE o.next_purchase_day <= ?), count(*)
                 FROM member_days o {join}
                 WHERE {first_in_w} GROUP BY 1"
            ),
            vec![end.clone(), start.clone(), end, start],
        ),
        // 积分使用率: points redeemed in W ÷ points earned in W (can exceed 100% when
        // members redeem points earned earlier). Expiries and adjustments count in neither.
        Metric::PointsUsageRate => run(
            format!(
                "SELECT {grp}, CAST(coalesce(sum(o.redeemed), 0) AS BIGINT), CAST(coalesce(sum(o.earned), 0) AS BIGINT)
                 FROM points_days o {join}
                 WHERE o.day BETWEEN ? AND ? GROUP BY 1"
            ),
            vec![start, end],
        ),
        // 流失率: a member is churned on day D when their last purchase is more than C days
        // before D (no purchase in [D - C, D]). Of the members not churned at the end of
        // the day before W starts (a purchase in the base range [S - 1 - C, S - 1]), the
        // share churned at the end of T (no purchase in the recent range [T - C, T]).
        // Each base member is one row: their last purchase day in the base range. They
        // stayed if that day is already in the recent range or their next purchase is
        // by T; when W is longer than C, a next purchase before the recent range leaves
        // the question open, and the recent range is looked up.
        Metric::ChurnRate => {
            let c = Days::new(u64::from(cfg.churn_days));
            let base_to = w.start() - Days::new(1);
            let recent_from = w.end - c;
            let gap = if recent_from > base_to {
                "OR (o.next_purchase_day < $3 AND o.member_id NOT IN (
                        SELECT member_id FROM member_days WHERE purchases > 0 AND day BETWEEN $3 AND $4))"
            } else {
                ""
            };
            run(
                format!(
                    "SELECT {grp},
                            count(*) FILTER (WHERE o.day < $3 AND (o.next_purchase_day IS NULL OR o.next_purchase_day > $4 {gap})),
                            count(*)
                     FROM member_days o {join}
                     WHERE o.purchases > 0 AND o.day BETWEEN $1 AND $2
                       AND (o.next_purchase_day IS NULL OR o.next_purchase_day > $2)
                     GROUP BY 1"
                ),
                vec![day(base_to - c), day(base_to), day(recent_from), end],
            )
        }
        // 会员数: members who joined on or before T.
        Metric::Members => run(
            format!("SELECT {grp}, count(*), 1 FROM members o {join} WHERE o.joined_at < ? GROUP BY 1"),
            vec![after],
        ),
        // 新增会员: members who joined in W.
        Metric::NewMembers => run(
            format!(
                "SELECT {grp}, count(*), 1 FROM members o {join}
                 WHERE o.joined_at >= ? AND o.joined_at < ? GROUP BY 1"
            ),
            vec![ts(w.start()), after],
        ),
        // 活跃会员: members with at least one purchase in W (one row each: their first
        // purchase day in W).
        Metric::ActiveMembers => run(
            format!("SELECT {grp}, count(*), 1 FROM member_days o {join} WHERE {first_in_w} GROUP BY 1"),
            vec![start.clone(), end, start],
        ),
        // 二次购买率: of the members whose first purchase falls in the F days before W
        // starts, the share who purchased again on a later day within F days of the first,
        // counting purchases up to T.
        Metric::SecondPurchaseRate => {
            let follow_up = cfg.second_purchase_days;
            let cohort_from = w.start() - Days::new(u64::from(follow_up));
            run(
                format!(
                    "SELECT {grp},
                            count(*) FILTER (WHERE o.next_purchase_day <= o.day + CAST(? AS INTEGER)
                                             AND o.next_purchase_day <= ?),
                            count(*)
                     FROM member_days o {join}
                     WHERE o.purchases > 0 AND o.prev_purchase_day IS NULL AND o.day >= ? AND o.day < ?
                     GROUP BY 1"
                ),
                vec![
                    Value::Int(follow_up as i32),
                    end,
                    day(cohort_from),
                    start,
                ],
            )
        }
        // 沉睡唤醒率: of the members dormant or churned when W starts (they had purchased,
        // but not in the A days up to the day before W), the share who purchased in W.
        // Each such member's last purchase day before W is one row.
        Metric::ReactivationRate => {
            let active_from = w.start() - Days::new(1) - Days::new(u64::from(cfg.active_days));
            run(
                format!(
                    "SELECT {grp}, count(*) FILTER (WHERE o.next_purchase_day <= ?), count(*)
                     FROM member_days o {join}
                     WHERE o.purchases > 0 AND o.day < ?
                       AND (o.next_purchase_day IS NULL OR o.next_purchase_day >= ?)
                     GROUP BY 1"
                ),
                vec![end, day(active_from), start],
            )
        }
        // 会员销售占比: the members' net revenue ÷ all net revenue in W (guests included,
        // returns on both sides). The denominator is the same for every group.
        Metric::MemberSalesShare => {
            let all: i64 = conn.query_row(
                "SELECT CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT) FROM orders
                 WHERE ordered_at >= ? AND ordered_at < ?",
                params_from_iter([ts(w.start()), after]),
                |r| r.get(0),
            )?;
            let rows = run(
                format!(
                    "SELECT {grp}, CAST(coalesce(sum(o.cents), 0) AS BIGINT), 0 FROM member_days o {join}
                     WHERE o.day BETWEEN ? AND ? GROUP BY 1"
                ),
                vec![start, end],
            )?;
            if rows.is_empty() {
                // Members who spent nothing still have a share: none of all revenue.
                return Ok(vec![("all".to_string(), 0, all)]);
            }
            Ok(rows.into_iter().map(|(g, n, _)| (g, n, all)).collect())
        }
        // 客单价: members' net revenue in W (returns lower it) ÷ their purchases in W.
        Metric::Aov => run(
            format!(
                "SELECT {grp}, CAST(coalesce(sum(o.cents), 0) AS BIGINT), CAST(coalesce(sum(o.purchases), 0) AS BIGINT)
                 FROM member_days o {join}
                 WHERE o.day BETWEEN ? AND ? GROUP BY 1"
            ),
            vec![start, end],
        ),
        // 购买频次: members' purchases in W ÷ members with a purchase in W.
        Metric::PurchaseFrequency => run(
            format!(
                "SELECT {grp}, CAST(sum(o.purchases) AS BIGINT),
                        count(*) FILTER (WHERE o.prev_purchase_day IS NULL OR o.prev_purchase_day < ?)
                 FROM member_days o {join}
                 WHERE o.purchases > 0 AND o.day BETWEEN ? AND ? GROUP BY 1"
            ),
            vec![start.clone(), start, end],
        ),
        // 全渠道 channel mix: members whose purchases in W were all in store, all online
        // (app, mini-program, web), or both. Purchases without a channel are not counted.
        Metric::StoreOnlyMembers | Metric::OnlineOnlyMembers | Metric::OmnichannelMembers => {
            let which = match metric {
                Metric::StoreOnlyMembers => "in_store AND NOT online",
                Metric::OnlineOnlyMembers => "online AND NOT in_store",
                _ => "in_store AND online",
            };
            run(
                format!(
                    "SELECT grp, count(*) FILTER (WHERE {which}), 1 FROM (
                         SELECT o.member_id, {grp} AS grp, bool_or(o.store_purchases > 0) AS in_store,
                                bool_or(o.online_purchases > 0) AS online
                         FROM member_days o {join}
                         WHERE o.purchases > 0 AND o.day BETWEEN ? AND ?
                         GROUP BY o.member_id, grp
                     ) GROUP BY grp"
                ),
                vec![start, end],
            )
        }
        // 积分负债: the points outstanding at the end of T (earned and adjusted, less
        // redeemed and expired; a member's negative balance counts as none) × point value.
        // Read as each member's balance in the summary less what came after T.
        Metric::PointsLiability => run(
            format!(
                "SELECT grp, CAST(coalesce(sum(greatest(balance, 0)), 0) * CAST(? AS BIGINT) AS BIGINT), 1 FROM (
                     SELECT {grp} AS grp,
                            o.points_earned + o.points_adjusted - o.points_redeemed - o.points_expired
                                - coalesce(later.balance, 0) AS balance
                     FROM member_summary o {join}
                     LEFT JOIN (SELECT member_id, sum(earned + adjusted - redeemed - expired) AS balance
                                FROM points_days WHERE day > ? GROUP BY member_id) later
                            ON later.member_id = o.member_id
                 ) GROUP BY grp"
            ),
            vec![Value::BigInt(i64::from(cfg.point_value_cents)), end.clone()],
        ),
        // 到期积分: the value of the outstanding points that expire from T to T + N days.
        // Points earned (or added by an adjustment) in year Y expire at the end of year
        // Y + `points_expiry_years`; redemptions, expiries and negative adjustments use the
        // oldest points first. So what is left of year Y's lot at T is
        // max(0, min(earned in Y, earned in years up to Y − used up to T)), and only the
        // lots whose year-end falls in [T, T + N] count (none: nothing expires).
        Metric::PointsExpiring30 | Metric::PointsExpiring90 => {
            let days = if metric == Metric::PointsExpiring30 { 30 } else { 90 };
            if cfg.points_expiry_years == 0 {
                return Ok(Vec::new());
            }
            let last = w.end + Days::new(days);
            let lots: Vec<i64> = (w.end.year()..=last.year())
                .filter(|&y| {
                    NaiveDate::from_ymd_opt(y, 12, 31).is_some_and(|end| end >= w.end && end <= last)
                })
                .map(|y| i64::from(y) - i64::from(cfg.points_expiry_years))
                .collect();
            if lots.is_empty() {
                return Ok(Vec::new());
            }
            let gain = "(o.kind = 'earn' OR (o.kind = 'adjust' AND o.points > 0))";
            let mut columns = String::new();
            let mut left = Vec::new();
            // In the order they appear: the point value, each lot's years, then T + 1.
            let mut params = vec![Value::BigInt(i64::from(cfg.point_value_cents))];
            for (i, &y) in lots.iter().enumerate() {
                columns.push_str(&format!(
                    ", coalesce(sum(o.points) FILTER (WHERE {gain} AND year(o.occurred_at) = ?), 0) AS e{i}
                     , coalesce(sum(o.points) FILTER (WHERE {gain} AND year(o.occurred_at) <= ?), 0) AS c{i}"
                ));
                params.extend([Value::BigInt(y), Value::BigInt(y)]);
                left.push(format!("greatest(0, least(e{i}, c{i} - used))"));
            }
            params.push(after);
            run(
                format!(
                    "SELECT grp, CAST(sum({left}) * ? AS BIGINT), 1 FROM (
                         SELECT o.member_id, {grp} AS grp {columns},
                                coalesce(sum(CASE WHEN o.kind IN ('redeem', 'expire') THEN o.points
                                                  WHEN o.kind = 'adjust' AND o.points < 0 THEN -o.points
                                                  ELSE 0 END), 0) AS used
                         FROM points o {join} WHERE o.occurred_at < ?
                         GROUP BY o.member_id, grp
                     ) GROUP BY grp",
                    left = left.join(" + ")
                ),
                params,
            )
        }
        // 积分从未使用占比: of the members who earned points up to T, the share who had
        // never redeemed any by T.
        // Read from the summary's totals less what came after T, like the liability.
        // The predicted metrics read the scores of the last model fit, only for a window
        // ending on the fit's T; the denominator is the members with a score (buyers by
        // T), so that no fit for T reads as "not available", never as zero.
        // 预测LTV: each scored member's 12-month CLV, rounded to the cent, summed; the
        // mean is over the scored members.
        Metric::PredictedLtv | Metric::PredictedLtvTotal => run(
            format!(
                "SELECT {grp}, CAST(sum(round(o.clv_12m * 100)) AS BIGINT), count(*)
                 FROM member_scores o {join} WHERE o.as_of = ? GROUP BY 1"
            ),
            vec![end],
        ),
        // 高价值会员流失预警: scored members in the top 20% by predicted or historical
        // value (flagged by the fit, over all scored members) with P(alive) below the
        // threshold; revenue at stake is what they spent in the 12 months to T.
        Metric::HighValueAtRisk | Metric::RevenueAtStake => {
            let numerator = if metric == Metric::HighValueAtRisk {
                "count(*) FILTER (WHERE o.high_value AND o.p_alive < ?)"
            } else {
                "coalesce(sum(o.revenue_12m_cents) FILTER (WHERE o.high_value AND o.p_alive < ?), 0)"
            };
            run(
                format!(
                    "SELECT {grp}, CAST({numerator} AS BIGINT), count(*)
                     FROM member_scores o {join} WHERE o.as_of = ? GROUP BY 1"
                ),
                vec![Value::Double(cfg.at_risk_p_alive), end],
            )
        }
        Metric::PointsNeverUsedShare => run(
            format!(
                "SELECT grp, count(*) FILTER (WHERE redeemed = 0), count(*) FROM (
                     SELECT {grp} AS grp,
                            o.points_earned - coalesce(later.earned, 0) AS earned,
                            o.points_redeemed - coalesce(later.redeemed, 0) AS redeemed
                     FROM member_summary o {join}
                     LEFT JOIN (SELECT member_id, sum(earned) AS earned, sum(redeemed) AS redeemed
                                FROM points_days WHERE day > ? GROUP BY member_id) later
                            ON later.member_id = o.member_id
                 ) WHERE earned > 0 GROUP BY grp"
            ),
            vec![end],
        ),
    }
}

/// A date as a bound date parameter.
fn day(d: NaiveDate) -> Value {
    Value::Text(d.to_string())
}

/// A date as a bound timestamp parameter (midnight).
fn ts(d: NaiveDate) -> Value {
    Value::Text(format!("{d} 00:00:00"))
}

fn query_groups(
    conn: &Connection,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<duckdb::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Turns a numerator and a denominator into the metric's measure.
pub fn finish(metric: Metric, (numerator, denominator): (i64, i64)) -> Measure {
    let why_empty = match metric {
        Metric::HistoricalLtv => "no members had joined by the end of the window",
        Metric::RepurchaseRate | Metric::Aov | Metric::PurchaseFrequency => {
            "no member purchased in the window"
        }
        Metric::PointsUsageRate => "no points were earned in the window",
        Metric::ChurnRate => "no member was active at the start of the window",
        Metric::SecondPurchaseRate => {
            "no member made a first purchase in the days before the window"
        }
        Metric::ReactivationRate => "no member was dormant or churned at the start of the window",
        Metric::MemberSalesShare => "there was no net revenue in the window",
        Metric::PointsNeverUsedShare => "no member had earned points by the end of the window",
        Metric::Members
        | Metric::NewMembers
        | Metric::ActiveMembers
        | Metric::StoreOnlyMembers
        | Metric::OnlineOnlyMembers
        | Metric::OmnichannelMembers
        | Metric::PointsLiability
        | Metric::PointsExpiring30
        | Metric::PointsExpiring90 => "",
        Metric::PredictedLtv
        | Metric::PredictedLtvTotal
        | Metric::HighValueAtRisk
        | Metric::RevenueAtStake => {
            "no member here has a model score as of the window's end (the model is fitted as of one day: see /api/v1/model)"
        }
    };
    if Metric::PREDICTED.contains(&metric) {
        // Counts and totals too are undefined without a score; the denominator is the
        // scored members.
        return match metric.unit() {
            Unit::Money => money_per(numerator, denominator, why_empty),
            _ if denominator == 0 => Measure {
                numerator,
                denominator,
                value: None,
                reason: Some(why_empty.to_string()),
            },
            Unit::Count => Measure {
                value: Some(numerator as f64),
                ..ratio(numerator, denominator, why_empty)
            },
            _ => Measure {
                value: money_per(numerator, 1, why_empty).value,
                ..ratio(numerator, denominator, why_empty)
            },
        };
    }
    match metric.unit() {
        Unit::Money => money_per(numerator, denominator, why_empty),
        Unit::Count => count(numerator),
        Unit::Amount => money_per(numerator, 1, why_empty),
        Unit::Ratio | Unit::Number => ratio(numerator, denominator, why_empty),
    }
}

/// A metric broken down by a dimension, under filters, for a window and its comparison.
pub fn breakdown(
    conn: &Connection,
    metric: Metric,
    req: Request,
    scope: &Scope,
    cfg: MetricConfig,
) -> Result<Breakdown> {
    let dimension = scope
        .dimension
        .ok_or_else(|| Error::bad_param("dimension", "a breakdown needs a dimension"))?;
    let cmp = req.compare.of(&req.window);
    let mut per_window = Vec::new();
    let mut groups = Vec::new();
    for (i, w) in [&req.window, &cmp].into_iter().enumerate() {
        if i == 0 || scope.depends_on_as_of() {
            scope.prepare(conn, w.end, cfg)?;
        }
        for g in scope.groups(conn)? {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let rows = grouped(conn, metric, w, cfg, scope)?;
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
        let empty = if metric == Metric::MemberSalesShare {
            (0, total.1)
        } else {
            (0, 0)
        };
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
    Measure {
        numerator: n,
        denominator: 1,
        value: Some(n as f64),
        reason: None,
    }
}

/// A share; `None` with a reason when nothing is below the line.
pub fn ratio(numerator: i64, denominator: i64, why_empty: &str) -> Measure {
    if denominator == 0 {
        Measure {
            numerator,
            denominator,
            value: None,
            reason: Some(why_empty.to_string()),
        }
    } else {
        Measure {
            numerator,
            denominator,
            value: Some(numerator as f64 / denominator as f64),
            reason: None,
        }
    }
}

/// An amount per head, rounded half away from zero to the cent.
pub fn money_per(cents: i64, heads: i64, why_empty: &str) -> Measure {
    if heads == 0 {
        return Measure {
            numerator: cents,
            denominator: 0,
            value: None,
            reason: Some(why_empty.to_string()),
        };
    }
    let (c, h) = (i128::from(cents), i128::from(heads));
    let rounded = (2 * c.abs() + h) / (2 * h) * c.signum();
    Measure {
        numerator: cents,
        denominator: heads,
        value: Some(rounded as f64 / 100.0),
        reason: None,
    }
}

