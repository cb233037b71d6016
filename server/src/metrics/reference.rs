//! `memberpulse bench`: times the engine against the straightforward SQL for the same
//! numbers over the raw orders, points and members tables, on the same DuckDB file, and
//! checks that both give identical numerators and denominators.
//!
//! The reference SQL here is deliberately the obvious one (group every order by member,
//! then count); it is the independent check on the catalogue in [`crate::metrics`], which
//! reads the day-grained tables instead.

use std::time::Instant;

use app::model::{Dimension, MembersQuery, Metric};
use chrono::Days;
use duckdb::Connection;

use crate::{
    Result, members,
    metrics::rfm::{self, RfmRule},
    metrics::scope::Scope,
    metrics::{self, MetricConfig, Request, Window},
    store::sql::{Sql, day, midnight},
};

/// Numbers a case produced: (group, numerator, denominator) rows, sorted.
type Numbers = Vec<(String, i64, i64)>;

/// One timed comparison.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub engine_ms: f64,
    pub raw_ms: f64,
    pub identical: bool,
    /// The engine's numbers, for a look when they differ.
    pub engine: Numbers,
    pub raw: Numbers,
}

impl Case {
    pub fn ratio(&self) -> f64 {
        self.raw_ms / self.engine_ms.max(1e-9)
    }
}

/// The median wall time of `rounds` runs of `f` (after one warm-up run), and its result.
fn timed<T>(rounds: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut result = f()?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        result = f()?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], result))
}

fn case(
    name: &str,
    rounds: usize,
    engine: impl FnMut() -> Result<Numbers>,
    raw: impl FnMut() -> Result<Numbers>,
) -> Result<Case> {
    let (engine_ms, mut engine) = timed(rounds, engine)?;
    let (raw_ms, mut raw) = timed(rounds, raw)?;
    // A group with nothing on either side is no difference.
    for rows in [&mut engine, &mut raw] {
        rows.retain(|r| (r.1, r.2) != (0, 0));
        rows.sort();
    }
    Ok(Case { name: name.to_string(), engine_ms, raw_ms, identical: engine == raw, engine, raw })
}

/// Runs every case on `conn`, reporting each as it finishes.
pub fn run(
    conn: &Connection,
    req: Request,
    cfg: MetricConfig,
    rules: Vec<RfmRule>,
    rounds: usize,
    mut report: impl FnMut(&Case),
) -> Result<Vec<Case>> {
    let windows = [req.window, req.compare.of(&req.window)];
    let tag = |w: usize, m: Metric, g: &str| format!("{}/{}/{g}", ["window", "comparison"][w], m.key());
    let mut cases = Vec::new();

    let overview = case(
        "overview: 4 headline KPIs, window + comparison",
        rounds,
        || {
            let kpis = metrics::kpis(conn, req, cfg, &Metric::HEADLINE, &Scope::all())?;
            Ok(kpis
                .iter()
                .flat_map(|k| {
                    [(0, &k.current), (1, &k.comparison)]
                        .map(|(w, m)| (tag(w, k.key, "all"), m.numerator, m.denominator))
                })
                .collect())
        },
        || {
            let mut rows = Vec::new();
            for m in Metric::HEADLINE {
                for (i, w) in windows.iter().enumerate() {
                    for (g, n, d) in raw_headline(conn, m, w, cfg, None)? {
                        rows.push((tag(i, m, &g), n, d));
                    }
                }
            }
            Ok(rows)
        },
    )?;
    report(&overview);
    cases.push(overview);

    // A breakdown per kind of dimension: a member attribute, the RFM segments, the
    // lifecycle stages (both as of each window's end) and the model's churn risk.
    for (d, kind) in [
        (Dimension::Region, "member attribute"),
        (Dimension::RfmSegment, "RFM"),
        (Dimension::LifecycleStage, "lifecycle"),
        (Dimension::ChurnRisk, "churn risk"),
    ] {
        let by = case(
            &format!("breakdown by {} ({kind}): 4 headline KPIs, window + comparison", d.key()),
            rounds,
            || {
                let scope = Scope::new(Vec::new(), Some(d)).with_rules(rules.clone());
                let mut rows = Vec::new();
                for m in Metric::HEADLINE {
                    let b = metrics::breakdown(conn, m, req, &scope, cfg)?;
                    for r in &b.rows {
                        rows.push((tag(0, m, &r.value), r.current.numerator, r.current.denominator));
                        rows.push((tag(1, m, &r.value), r.comparison.numerator, r.comparison.denominator));
                    }
                }
                Ok(rows)
            },
            || {
                let mut rows = Vec::new();
                for m in Metric::HEADLINE {
                    for (i, w) in windows.iter().enumerate() {
                        for (g, n, d) in raw_headline(conn, m, w, cfg, Some(&raw_group(d, w.end, cfg, &rules)))? {
                            rows.push((tag(i, m, &g), n, d));
                        }
                    }
                }
                Ok(rows)
            },
        )?;
        report(&by);
        cases.push(by);
    }

    // A segment's member list: the total and the first 50 by each column, largest first.
    if let Some(rule) = rules.iter().find(|r| r.key == "at_risk").or(rules.first()) {
        let key = rule.key.clone();
        for (column, raw_column) in LIST_COLUMNS {
            let list = case(
                &format!("RFM segment list: {key}, first 50 by {column}, with total"),
                rounds,
                || {
                    let page = members::list(
                        conn,
                        &MembersQuery {
                            filters: Some(format!("rfm_segment:{key}")),
                            as_of: Some(req.window.end.to_string()),
                            sort: Some(format!("-{column}")),
                            page: Some(1),
                            page_size: Some(50),
                            segment: None,
                            ..Default::default()
                        },
                        cfg,
                        rules.clone(),
                    )?;
                    let mut rows = vec![("total".to_string(), page.total, 1)];
                    rows.extend(page.rows.iter().enumerate().map(|(i, r)| (format!("{i:02} {}", r.member_id), 0, 1)));
                    Ok(rows)
                },
                || raw_segment_list(conn, req.window.end, &rules, &key, raw_column),
            )?;
            report(&list);
            cases.push(list);
        }
    }

    // A look-up by a whole phone number (the last member's).
    let phone: Option<String> =
        Sql::new("SELECT mp_open(max_by(phone, member_id)) FROM members WHERE phone IS NOT NULL")
            .row(conn, |r| r.get(0))?;
    if let Some(phone) = phone {
        let found = case(
            "member look-up by whole phone number",
            rounds,
            || {
                let page = members::list(
                    conn,
                    &MembersQuery {
                        find: Some(phone.clone()),
                        as_of: Some(req.window.end.to_string()),
                        ..Default::default()
                    },
                    cfg,
                    rules.clone(),
                )?;
                Ok(page.rows.iter().map(|r| (r.member_id.clone(), 1, 1)).collect())
            },
            || {
                Sql::new("SELECT member_id, 1, 1 FROM members WHERE starts_with(phone, mp_phone_key($phone) || ':')")
                    .bind("phone", phone.clone())
                    .rows(conn, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            },
        )?;
        report(&found);
        cases.push(found);
    }
    Ok(cases)
}

/// A headline metric for one window by the straightforward SQL over the raw tables:
/// one row per member with its contribution, then summed, per `group` (an expression
/// over `members m`) or overall.
pub fn raw_headline(
    conn: &Connection,
    metric: Metric,
    w: &Window,
    cfg: MetricConfig,
    group: Option<&RawGroup>,
) -> Result<Numbers> {
    let (per_member, sql) = match metric {
        Metric::HistoricalLtv => (
            "SELECT mm.member_id, coalesce(sum(o.net_amount), 0) * 100 AS n, 1 AS d
             FROM members mm LEFT JOIN orders o ON o.member_id = mm.member_id AND o.ordered_at < $after
             WHERE mm.joined_at < $after GROUP BY mm.member_id",
            Sql::default(),
        ),
        Metric::RepurchaseRate => (
            "SELECT member_id, CASE WHEN count(DISTINCT CAST(ordered_at AS DATE)) >= 2 THEN 1 ELSE 0 END AS n, 1 AS d
             FROM orders
             WHERE member_id IS NOT NULL AND net_amount > 0 AND ordered_at >= $start AND ordered_at < $after
             GROUP BY member_id",
            Sql::default(),
        ),
        Metric::PointsUsageRate => (
            "SELECT member_id, coalesce(sum(points) FILTER (WHERE kind = 'redeem'), 0) AS n,
                    coalesce(sum(points) FILTER (WHERE kind = 'earn'), 0) AS d
             FROM points WHERE occurred_at >= $start AND occurred_at < $after GROUP BY member_id",
            Sql::default(),
        ),
        Metric::ChurnRate => {
            let c = Days::new(u64::from(cfg.churn_days));
            (
                "SELECT member_id, CASE WHEN bool_or(ordered_at >= $recent_from) THEN 0 ELSE 1 END AS n, 1 AS d
                 FROM orders
                 WHERE member_id IS NOT NULL AND net_amount > 0 AND ordered_at < $after
                 GROUP BY member_id
                 HAVING bool_or(ordered_at >= $base_from AND ordered_at < $start)",
                Sql::default()
                    .bind("recent_from", midnight(w.end - c))
                    .bind("base_from", midnight(w.start() - Days::new(1) - c)),
            )
        }
        other => unreachable!("{other:?} is not a headline metric"),
    };
    let text = match group {
        None => format!(
            "SELECT 'all', CAST(coalesce(sum(n), 0) AS BIGINT), CAST(coalesce(sum(d), 0) AS BIGINT) FROM ({per_member})"
        ),
        Some(g) => format!(
            "SELECT {}, CAST(coalesce(sum(n), 0) AS BIGINT), CAST(coalesce(sum(d), 0) AS BIGINT)
             FROM ({per_member}) x LEFT JOIN members m USING (member_id) {} GROUP BY 1",
            g.value.text(),
            g.joins
        ),
    };
    let group_args = group.map(|g| g.value.clone()).unwrap_or_default();
    Sql::new(text)
        .with(&sql)
        .with(&group_args)
        .bind("start", midnight(w.start()))
        .bind("after", midnight(w.end + Days::new(1)))
        .rows(conn, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}

/// A group of members for [`raw_headline`]: its value over `members m` and what it joins.
pub struct RawGroup {
    pub value: Sql,
    pub joins: String,
}

/// A dimension's groups as of `t` by the straightforward SQL: members' attributes as
/// stored, stages and RFM scores from the raw orders (with the stage and segment rules of
/// [`super::scope`]), churn risk from the scores. Binds `$after` as `raw_headline` does.
fn raw_group(d: Dimension, t: chrono::NaiveDate, cfg: MetricConfig, rules: &[RfmRule]) -> RawGroup {
    let (value, joins) = match d {
        Dimension::Region => (Sql::new("coalesce(m.region, '(none)')"), String::new()),
        Dimension::RfmSegment => (rfm::segment_expression(rules), rfm::SCORES.to_string()),
        Dimension::LifecycleStage => {
            (super::scope::compiled(d, t, cfg, rules), super::scope::LAST_PURCHASE.to_string())
        }
        Dimension::ChurnRisk => {
            (super::scope::compiled(d, t, cfg, rules), "LEFT JOIN member_scores ps USING (member_id)".to_string())
        }
        other => unreachable!("no reference grouping for {other:?}"),
    };
    RawGroup { value: value.bind("lookback_from", rfm::lookback_from(t)), joins }
}

/// The member list's columns and each one's value by the straightforward SQL over the
/// raw tables (`vals` in [`raw_segment_list`]).
const LIST_COLUMNS: [(&str, &str); 10] = [
    ("member_id", "member_id"),
    ("joined_at", "joined_at"),
    ("first_purchase_at", "first_purchase_at"),
    ("last_purchase_at", "last_purchase_at"),
    ("purchases", "purchases"),
    ("revenue", "cents"),
    ("points_balance", "balance"),
    ("p_alive", "p_alive"),
    ("clv_12m", "clv_12m"),
    ("revenue_12m", "revenue_12m_cents"),
];

/// The members of one named RFM segment as of T, scored by the straightforward SQL over
/// the raw orders: the total, then the first 50 by `column` (of [`LIST_COLUMNS`]),
/// largest first.
fn raw_segment_list(
    conn: &Connection,
    as_of: chrono::NaiveDate,
    rules: &[RfmRule],
    key: &str,
    column: &str,
) -> Result<Numbers> {
    let segment = rfm::segment_expression(rules);
    Sql::new(format!(
        "WITH scored AS (
             SELECT member_id,
                    least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY last_at)))::INTEGER AS r,
                    least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY purchases)))::INTEGER AS f,
                    least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY revenue)))::INTEGER AS m
             FROM (SELECT member_id, max(ordered_at) FILTER (WHERE net_amount > 0) AS last_at,
                          count(*) FILTER (WHERE net_amount > 0) AS purchases, sum(net_amount) AS revenue
                   FROM orders
                   WHERE member_id IS NOT NULL
                     AND ordered_at >= CAST($lookback_from AS TIMESTAMP) AND ordered_at < CAST($after AS TIMESTAMP)
                   GROUP BY member_id HAVING count(*) FILTER (WHERE net_amount > 0) > 0)
         ), picked AS (
             SELECT member_id FROM scored rfm WHERE ({segment}) = $key
         ), vals AS (
             SELECT p.member_id, m.joined_at, o.first_purchase_at, o.last_purchase_at,
                    coalesce(o.purchases, 0) AS purchases, coalesce(o.cents, 0) AS cents,
                    coalesce(pt.balance, 0) AS balance, ps.p_alive, ps.clv_12m, ps.revenue_12m_cents
             FROM picked p LEFT JOIN members m USING (member_id)
             LEFT JOIN (SELECT member_id, min(ordered_at) FILTER (WHERE net_amount > 0) AS first_purchase_at,
                               max(ordered_at) FILTER (WHERE net_amount > 0) AS last_purchase_at,
                               count(*) FILTER (WHERE net_amount > 0) AS purchases,
                               CAST(sum(net_amount) * 100 AS BIGINT) AS cents
                        FROM orders WHERE member_id IN (SELECT member_id FROM picked) GROUP BY member_id) o
                    USING (member_id)
             LEFT JOIN (SELECT member_id, sum(CASE WHEN kind IN ('earn', 'adjust') THEN points ELSE -points END) AS balance
                        FROM points WHERE member_id IN (SELECT member_id FROM picked) GROUP BY member_id) pt
                    USING (member_id)
             LEFT JOIN member_scores ps USING (member_id)
         )
         SELECT 'total', (SELECT count(*) FROM picked), 1
         UNION ALL
         SELECT * FROM (SELECT lpad(CAST(row_number() OVER (ORDER BY {column} DESC NULLS LAST, member_id) - 1 AS VARCHAR), 2, '0') || ' ' || member_id, 0, 1
                        FROM vals ORDER BY {column} DESC NULLS LAST, member_id LIMIT 50)",
        segment = segment.text()
    ))
    .with(&segment)
    .bind("lookback_from", rfm::lookback_from(as_of))
    .bind("after", midnight(as_of + Days::new(1)))
    .bind("key", key.to_string())
    .rows(conn, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}

/// Points expiring from T to T + `days` by the straightforward FIFO over the raw points:
/// lots per member and year, consumed oldest first (the reference for the catalogue's
/// per-lot formula).
pub fn raw_points_expiring(conn: &Connection, t: chrono::NaiveDate, days: u64, cfg: MetricConfig) -> Result<i64> {
    if cfg.points_expiry_years == 0 {
        return Ok(0);
    }
    Sql::new(
        "WITH per_year AS (
             SELECT member_id, year(occurred_at) AS y,
                    coalesce(sum(points) FILTER (WHERE kind = 'earn' OR (kind = 'adjust' AND points > 0)), 0) AS earned,
                    coalesce(sum(CASE WHEN kind IN ('redeem', 'expire') THEN points
                                      WHEN kind = 'adjust' AND points < 0 THEN -points ELSE 0 END), 0) AS used
             FROM points WHERE occurred_at < CAST($after AS TIMESTAMP) GROUP BY member_id, y
         ), lots AS (
             SELECT y, earned,
                    sum(earned) OVER (PARTITION BY member_id ORDER BY y) AS cumulative,
                    sum(used) OVER (PARTITION BY member_id) AS consumed
             FROM per_year
         )
         SELECT CAST(coalesce(sum(greatest(0, least(earned, cumulative - consumed)))
                     FILTER (WHERE make_date(CAST(y + $expiry_years AS BIGINT), 12, 31)
                                   BETWEEN CAST($from AS DATE) AND CAST($to AS DATE)), 0)
                * $point_value AS BIGINT)
         FROM lots",
    )
    .bind("after", midnight(t + Days::new(1)))
    .bind("expiry_years", i64::from(cfg.points_expiry_years))
    .bind("from", day(t))
    .bind("to", day(t + Days::new(days)))
    .bind("point_value", i64::from(cfg.point_value_cents))
    .row(conn, |r| r.get(0))
}

/// What [`model`] measured: the stages of a fit and scoring, in seconds.
#[derive(Debug)]
pub struct ModelTimes {
    pub buyers: usize,
    pub summary_s: f64,
    pub bgnbd_s: f64,
    pub gamma_gamma_s: f64,
    pub scoring_s: f64,
    pub bgnbd: crate::model::Fit,
    pub gamma_gamma: crate::model::Fit,
    /// The summaries, for the comparison with `lifetimes`.
    pub summaries: Vec<crate::model::Summary>,
}

impl ModelTimes {
    pub fn total_s(&self) -> f64 {
        self.summary_s + self.bgnbd_s + self.gamma_gamma_s + self.scoring_s
    }
}

/// Times the model as `memberpulse fit` runs it, stage by stage (without storing).
pub fn model(conn: &Connection, as_of: chrono::NaiveDate, annual_discount: f64) -> Result<ModelTimes> {
    use crate::model;
    use rayon::prelude::*;
    let started = Instant::now();
    let buyers = model::summaries(conn, as_of)?;
    let summaries: Vec<model::Summary> = buyers.iter().map(|b| b.summary).collect();
    let summary_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let bgnbd = model::fit_bgnbd(&summaries)?;
    let bgnbd_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let gamma_gamma = model::fit_gamma_gamma(&summaries)?;
    let gamma_gamma_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let scores: Vec<_> = summaries.par_iter().map(|s| model::score(&bgnbd, &gamma_gamma, s, annual_discount)).collect();
    let scoring_s = started.elapsed().as_secs_f64();
    std::hint::black_box(scores);
    Ok(ModelTimes { buyers: buyers.len(), summary_s, bgnbd_s, gamma_gamma_s, scoring_s, bgnbd, gamma_gamma, summaries })
}

/// Writes summaries in `lifetimes`' terms (frequency, recency, T, monetary_value).
pub fn write_lifetimes_csv(summaries: &[crate::model::Summary], path: &std::path::Path) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "frequency,recency,T,monetary_value")?;
    for s in summaries {
        writeln!(out, "{},{},{},{}", s.x, s.t_x, s.t, s.m)?;
    }
    out.flush()?;
    Ok(())
}
