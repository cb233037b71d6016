//! The metric catalogue (SPEC §4). Each metric is defined once, here, as SQL over the
//! analytics tables; the pages, the JSON API and the CLI all ask this module.
//!
//! Time: a window of `days` days ending at T covers the calendar dates
//! `[T - days + 1, T]`, i.e. timestamps `>= start 00:00` and `< T + 1 day 00:00`.
//! A *purchase* is an order with `net_amount > 0`; returns (negative amounts) lower
//! revenue on the day they happen but are never counted as orders.
//! Money is summed as DECIMAL and read back as integer cents, so it never drifts.

use app::model::{DateRange, Kpi, Measure, Metric, Overview, OverviewQuery};
use chrono::{Days, Months, NaiveDate};
use duckdb::{Connection, OptionalExt, params};

use crate::{Error, Result};

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
}

impl Default for MetricConfig {
    fn default() -> Self {
        MetricConfig {
            churn_days: 180,
            active_days: 90,
            second_purchase_days: 90,
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

pub fn parse_date(param: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Error::bad_param(
            param,
            format!("expected a date as YYYY-MM-DD, got {text:?}"),
        )
    })
}

/// Validates a query; T defaults to the latest order date (today if there are no orders).
pub fn resolve(conn: &Connection, q: &OverviewQuery) -> Result<Request> {
    let days = match q.window.as_deref() {
        Some(w) => parse_window_days(w)?,
        None => 30,
    };
    let end = match q.as_of.as_deref() {
        Some(d) => parse_date("as_of", d)?,
        None => latest_order_date(conn)?.unwrap_or_else(|| chrono::Utc::now().date_naive()),
    };
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

/// Every metric of the catalogue for a window and its comparison window.
pub fn overview(conn: &Connection, req: Request, cfg: MetricConfig) -> Result<Overview> {
    let cmp = req.compare.of(&req.window);
    let kpis = Metric::ALL
        .iter()
        .map(|&key| {
            Ok(Kpi {
                key,
                unit: key.unit(),
                current: measure(conn, key, &req.window, cfg)?,
                comparison: measure(conn, key, &cmp, cfg)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Overview {
        as_of: req.window.end.to_string(),
        window_days: req.window.days,
        compare: req.compare.name().to_string(),
        window: req.window.range(),
        comparison_window: cmp.range(),
        churn_days: cfg.churn_days,
        kpis,
    })
}

/// One metric for one window.
pub fn measure(
    conn: &Connection,
    metric: Metric,
    w: &Window,
    cfg: MetricConfig,
) -> Result<Measure> {
    match metric {
        Metric::HistoricalLtv => historical_ltv(conn, w),
        Metric::RepurchaseRate => repurchase_rate(conn, w),
        Metric::PointsUsageRate => points_usage_rate(conn, w),
        Metric::ChurnRate => churn_rate(conn, w, cfg.churn_days),
        Metric::Members => members(conn, w),
        Metric::NewMembers => new_members(conn, w),
        Metric::ActiveMembers => active_members(conn, w),
        Metric::SecondPurchaseRate => second_purchase_rate(conn, w, cfg.second_purchase_days),
        Metric::ReactivationRate => reactivation_rate(conn, w, cfg.active_days),
        Metric::MemberSalesShare => member_sales_share(conn, w),
        Metric::Aov => aov(conn, w),
        Metric::PurchaseFrequency => purchase_frequency(conn, w),
        Metric::PointsNeverUsedShare => points_never_used_share(conn, w),
    }
}

/// 历史LTV: mean cumulative net revenue (returns included) per member, over the members
/// who joined on or before T, counting their orders up to the end of T. Members with no
/// orders count with zero revenue. Guest sales have no member and do not count.
pub fn historical_ltv(conn: &Connection, w: &Window) -> Result<Measure> {
    let after = w.after().to_string();
    let (members, cents): (i64, i64) = conn.query_row(
        "SELECT count(*), CAST(coalesce(sum(r.revenue), 0) * 100 AS BIGINT)
         FROM members m
         LEFT JOIN (
             SELECT member_id, sum(net_amount) AS revenue
             FROM orders
             WHERE member_id IS NOT NULL AND ordered_at < CAST(? AS TIMESTAMP)
             GROUP BY member_id
         ) r USING (member_id)
         WHERE m.joined_at < CAST(? AS TIMESTAMP)",
        params![after, after],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(money_per(
        cents,
        members,
        "no members had joined by the end of the window",
    ))
}

/// 复购率: of the members with at least one purchase in W, the share who purchased on
/// two or more distinct days in W (two orders on one day are one visit).
pub fn repurchase_rate(conn: &Connection, w: &Window) -> Result<Measure> {
    let (buyers, repeaters): (i64, i64) = conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE days >= 2)
         FROM (
             SELECT member_id, count(DISTINCT CAST(ordered_at AS DATE)) AS days
             FROM orders
             WHERE member_id IS NOT NULL AND net_amount > 0
               AND ordered_at >= CAST(? AS TIMESTAMP) AND ordered_at < CAST(? AS TIMESTAMP)
             GROUP BY member_id
         )",
        params![w.start().to_string(), w.after().to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(ratio(
        repeaters,
        buyers,
        "no member purchased in the window",
    ))
}

/// 积分使用率: points redeemed in W ÷ points earned in W (can exceed 100% when members
/// redeem points earned earlier). Expiries and adjustments count in neither.
pub fn points_usage_rate(conn: &Connection, w: &Window) -> Result<Measure> {
    let (earned, redeemed): (i64, i64) = conn.query_row(
        "SELECT CAST(coalesce(sum(points) FILTER (WHERE kind = 'earn'), 0) AS BIGINT),
                CAST(coalesce(sum(points) FILTER (WHERE kind = 'redeem'), 0) AS BIGINT)
         FROM points
         WHERE occurred_at >= CAST(? AS TIMESTAMP) AND occurred_at < CAST(? AS TIMESTAMP)",
        params![w.start().to_string(), w.after().to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(ratio(
        redeemed,
        earned,
        "no points were earned in the window",
    ))
}

/// 流失率: a member is churned on day D when their last purchase is more than C days
/// before D (no purchase in `[D - C, D]`). Of the members not churned at the end of the
/// day before W starts, the share churned at the end of T.
pub fn churn_rate(conn: &Connection, w: &Window, churn_days: u32) -> Result<Measure> {
    let c = Days::new(u64::from(churn_days));
    let before_start = w.start() - Days::new(1);
    let base_from = before_start - c;
    let recent_from = w.end - c;
    let (base, churned): (i64, i64) = conn.query_row(
        "SELECT count(*) FILTER (WHERE in_base), count(*) FILTER (WHERE in_base AND NOT recent)
         FROM (
             SELECT member_id,
                    bool_or(ordered_at < CAST(? AS TIMESTAMP)) AS in_base,
                    bool_or(ordered_at >= CAST(? AS TIMESTAMP)) AS recent
             FROM orders
             WHERE member_id IS NOT NULL AND net_amount > 0
               AND ordered_at >= CAST(? AS TIMESTAMP) AND ordered_at < CAST(? AS TIMESTAMP)
             GROUP BY member_id
         )",
        params![
            w.start().to_string(),
            recent_from.to_string(),
            base_from.min(recent_from).to_string(),
            w.after().to_string()
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // `in_base` must only see purchases in [base_from, before_start]: the scan starts at
    // min(base_from, recent_from) = base_from, since W ≥ 1 day.
    debug_assert!(base_from <= recent_from);
    Ok(ratio(
        churned,
        base,
        "no member was active at the start of the window",
    ))
}

/// 会员数: members who joined on or before T.
pub fn members(conn: &Connection, w: &Window) -> Result<Measure> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM members WHERE joined_at < CAST(? AS TIMESTAMP)",
        params![w.after().to_string()],
        |r| r.get(0),
    )?;
    Ok(count(n))
}

/// 新增会员: members who joined in W.
pub fn new_members(conn: &Connection, w: &Window) -> Result<Measure> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM members
         WHERE joined_at >= CAST(? AS TIMESTAMP) AND joined_at < CAST(? AS TIMESTAMP)",
        params![w.start().to_string(), w.after().to_string()],
        |r| r.get(0),
    )?;
    Ok(count(n))
}

/// 活跃会员: members with at least one purchase in W.
pub fn active_members(conn: &Connection, w: &Window) -> Result<Measure> {
    let n: i64 = conn.query_row(
        "SELECT count(DISTINCT member_id) FROM orders
         WHERE member_id IS NOT NULL AND net_amount > 0
           AND ordered_at >= CAST(? AS TIMESTAMP) AND ordered_at < CAST(? AS TIMESTAMP)",
        params![w.start().to_string(), w.after().to_string()],
        |r| r.get(0),
    )?;
    Ok(count(n))
}

/// 二次购买率: of the members whose first purchase falls in the `follow_up` days before W
/// starts, the share who purchased again on a later day within `follow_up` days of the
/// first, counting purchases up to T.
pub fn second_purchase_rate(conn: &Connection, w: &Window, follow_up: u32) -> Result<Measure> {
    let days = Days::new(u64::from(follow_up));
    let cohort_from = w.start() - days;
    let (cohort, again): (i64, i64) = conn.query_row(
        "WITH firsts AS (
             SELECT member_id, min(CAST(ordered_at AS DATE)) AS first_day
             FROM orders
             WHERE member_id IS NOT NULL AND net_amount > 0 AND ordered_at < CAST(? AS TIMESTAMP)
             GROUP BY member_id
         ), cohort AS (
             SELECT * FROM firsts WHERE first_day >= CAST(? AS DATE) AND first_day < CAST(? AS DATE)
         )
         SELECT (SELECT count(*) FROM cohort),
                (SELECT count(DISTINCT c.member_id) FROM cohort c JOIN orders o USING (member_id)
                 WHERE o.net_amount > 0 AND o.ordered_at < CAST(? AS TIMESTAMP)
                   AND CAST(o.ordered_at AS DATE) > c.first_day
                   AND CAST(o.ordered_at AS DATE) <= c.first_day + CAST(? AS INTEGER))",
        params![
            w.after().to_string(),
            cohort_from.to_string(),
            w.start().to_string(),
            w.after().to_string(),
            follow_up
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(ratio(
        again,
        cohort,
        "no member made a first purchase in the days before the window",
    ))
}

/// 沉睡唤醒率: of the members dormant or churned when W starts (they had purchased, but
/// not in the `active_days` days up to the day before W), the share who purchased in W.
pub fn reactivation_rate(conn: &Connection, w: &Window, active_days: u32) -> Result<Measure> {
    let before_start = w.start() - Days::new(1);
    let active_from = before_start - Days::new(u64::from(active_days));
    let (lapsed, back): (i64, i64) = conn.query_row(
        "SELECT count(*) FILTER (WHERE lapsed), count(*) FILTER (WHERE lapsed AND bought_in_window)
         FROM (
             SELECT member_id,
                    max(ordered_at) FILTER (WHERE ordered_at < CAST(? AS TIMESTAMP)) < CAST(? AS TIMESTAMP) AS lapsed,
                    bool_or(ordered_at >= CAST(? AS TIMESTAMP)) AS bought_in_window
             FROM orders
             WHERE member_id IS NOT NULL AND net_amount > 0 AND ordered_at < CAST(? AS TIMESTAMP)
             GROUP BY member_id
         )",
        params![
            w.start().to_string(),
            active_from.to_string(),
            w.start().to_string(),
            w.after().to_string()
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(ratio(
        back,
        lapsed,
        "no member was dormant or churned at the start of the window",
    ))
}

/// 会员销售占比: members' net revenue ÷ all net revenue in W (returns included on both
/// sides; guest sales have no member).
pub fn member_sales_share(conn: &Connection, w: &Window) -> Result<Measure> {
    let (member_cents, all_cents): (i64, i64) = conn.query_row(
        "SELECT CAST(coalesce(sum(net_amount) FILTER (WHERE member_id IS NOT NULL), 0) * 100 AS BIGINT),
                CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT)
         FROM orders
         WHERE ordered_at >= CAST(? AS TIMESTAMP) AND ordered_at < CAST(? AS TIMESTAMP)",
        params![w.start().to_string(), w.after().to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(ratio(
        member_cents,
        all_cents,
        "there was no net revenue in the window",
    ))
}

/// Members' purchases and net revenue in W: (purchases, cents, buyers).
fn member_sales(conn: &Connection, w: &Window) -> Result<(i64, i64, i64)> {
    Ok(conn.query_row(
        "SELECT count(*) FILTER (WHERE net_amount > 0),
                CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT),
                count(DISTINCT member_id) FILTER (WHERE net_amount > 0)
         FROM orders
         WHERE member_id IS NOT NULL
           AND ordered_at >= CAST(? AS TIMESTAMP) AND ordered_at < CAST(? AS TIMESTAMP)",
        params![w.start().to_string(), w.after().to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// 客单价: members' net revenue in W (returns lower it) ÷ their purchases in W.
pub fn aov(conn: &Connection, w: &Window) -> Result<Measure> {
    let (purchases, cents, _) = member_sales(conn, w)?;
    Ok(money_per(
        cents,
        purchases,
        "no member purchased in the window",
    ))
}

/// 购买频次: members' purchases in W ÷ active members in W.
pub fn purchase_frequency(conn: &Connection, w: &Window) -> Result<Measure> {
    let (purchases, _, buyers) = member_sales(conn, w)?;
    Ok(ratio(
        purchases,
        buyers,
        "no member purchased in the window",
    ))
}

/// 积分从未使用占比: of the members who earned points up to T, the share who had never
/// redeemed any by T.
pub fn points_never_used_share(conn: &Connection, w: &Window) -> Result<Measure> {
    let (earners, never): (i64, i64) = conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE NOT redeemed)
         FROM (
             SELECT member_id, bool_or(kind = 'redeem') AS redeemed
             FROM points WHERE occurred_at < CAST(? AS TIMESTAMP)
             GROUP BY member_id
             HAVING bool_or(kind = 'earn')
         )",
        params![w.after().to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(ratio(
        never,
        earners,
        "no member had earned points by the end of the window",
    ))
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
