//! Each metric's SQL: one arm per metric of the catalogue (`app::model::catalogue`, where
//! its key, names, unit and direction are), over the summary and day tables
//! (`derive::summary`), grouped by the scope's dimension. A new metric is a row there and
//! an arm here; `reference.rs` holds the straightforward SQL it is checked against.

use super::*;
use crate::store::sql::{Sql, day, midnight};

/// One metric for one window, per group of `scope` (which must be prepared for `w.end`):
/// (group, numerator, denominator). Groups with nothing to count may be missing.
pub fn grouped(
    conn: &Connection,
    metric: Metric,
    w: &Window,
    cfg: MetricConfig,
    scope: &Scope,
) -> Result<Vec<(String, i64, i64)>> {
    let Some(sql) = statement(metric, w, cfg, scope) else {
        return Ok(Vec::new());
    };
    let rows = group_rows(conn, &sql)?;
    if metric != Metric::MemberSalesShare {
        return Ok(rows);
    }
    // The sales share's denominator is all net revenue in W, guests included: the same
    // for every group.
    let all: i64 = Sql::new(
        "SELECT CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT) FROM orders
         WHERE ordered_at >= $from AND ordered_at < $after",
    )
    .bind("from", midnight(w.start()))
    .bind("after", midnight(w.after()))
    .row(conn, |r| r.get(0))?;
    if rows.is_empty() {
        // Members who spent nothing still have a share: none of all revenue.
        return Ok(vec![("all".to_string(), 0, all)]);
    }
    Ok(rows.into_iter().map(|(g, n, _)| (g, n, all)).collect())
}

/// Runs a statement of (group, numerator, denominator) rows.
pub(super) fn group_rows(conn: &Connection, sql: &Sql) -> Result<Vec<(String, i64, i64)>> {
    sql.rows(conn, |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
}

/// The statement that gives [`grouped`]'s rows: (group, numerator, denominator) per group
/// of `scope`, or `None` when nothing can count (no lot of points expires in the horizon).
/// The sales share's denominator is left 0 here, to be filled in by [`grouped`].
pub(super) fn statement(metric: Metric, w: &Window, cfg: MetricConfig, scope: &Scope) -> Option<Sql> {
    let (start, end, after) = (day(w.start()), day(w.end), midnight(w.after()));
    let (join, numbered, grp) = (scope.join("o"), scope.join_numbered("o"), scope.group());
    // A member's first purchase day in W, as a condition on a `member_days` row.
    let first_in_w = "o.purchases > 0 AND o.day BETWEEN $start AND $end
                      AND (o.prev_purchase_day IS NULL OR o.prev_purchase_day < $start)";
    let run = Some;
    match metric {
        // 历史LTV: mean cumulative net revenue (returns included) per member, over the
        // members who joined on or before T, counting their orders up to the end of T.
        // Members with no orders count with zero revenue; guest sales do not count.
        // Read as each member's lifetime revenue in the summary less what came after T,
        // so that the usual question (T = the latest day) reads one row per member.
        Metric::HistoricalLtv => run(
            Sql::new(format!(
                "SELECT grp, sum(cents), sum(heads) FROM (
                     SELECT {grp} AS grp, sum(o.revenue_cents) AS cents, count(*) AS heads
                     FROM member_summary o {numbered} WHERE o.joined_day <= $end GROUP BY 1
                     UNION ALL
                     SELECT {grp}, -sum(o.cents), 0 FROM member_days o {numbered}
                     WHERE o.day > $end AND o.joined_day <= $end GROUP BY 1
                 ) GROUP BY grp"
            ))
            .bind("end", end),
        ),
        // 复购率: of the members with a purchase in W, the share who purchased on two or
        // more distinct days in W (two orders on one day are one visit). Each member's
        // first purchase day in W is one row; they repurchased if their next one is in W.
        Metric::RepurchaseRate => run(
            Sql::new(format!(
                "SELECT {grp}, count(*) FILTER (WHERE o.next_purchase_day <= $end), count(*)
                 FROM member_days o {numbered}
                 WHERE {first_in_w} GROUP BY 1"
            ))
            .bind("start", start)
            .bind("end", end),
        ),
        // 积分使用率: points redeemed in W ÷ points earned in W (can exceed 100% when
        // members redeem points earned earlier). Expiries and adjustments count in neither.
        Metric::PointsUsageRate => run(
            Sql::new(format!(
                "SELECT {grp}, CAST(coalesce(sum(o.redeemed), 0) AS BIGINT), CAST(coalesce(sum(o.earned), 0) AS BIGINT)
                 FROM points_days o {numbered}
                 WHERE o.day BETWEEN $start AND $end GROUP BY 1"
            ))
            .bind("start", start)
            .bind("end", end),
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
                "OR (o.next_purchase_day < $recent_from AND o.member_id NOT IN (
                        SELECT member_id FROM member_days
                        WHERE purchases > 0 AND day BETWEEN $recent_from AND $end))"
            } else {
                ""
            };
            run(
                Sql::new(format!(
                    "SELECT {grp},
                            count(*) FILTER (WHERE o.day < $recent_from
                                             AND (o.next_purchase_day IS NULL OR o.next_purchase_day > $end {gap})),
                            count(*)
                     FROM member_days o {numbered}
                     WHERE o.purchases > 0 AND o.day BETWEEN $base_from AND $base_to
                       AND (o.next_purchase_day IS NULL OR o.next_purchase_day > $base_to)
                     GROUP BY 1"
                ))
                .bind("base_from", day(base_to - c))
                .bind("base_to", day(base_to))
                .bind("recent_from", day(recent_from))
                .bind("end", end),
            )
        }
        // 会员数: members who joined on or before T.
        Metric::Members => run(
            Sql::new(format!("SELECT {grp}, count(*), 1 FROM members o {join} WHERE o.joined_at < $after GROUP BY 1"))
                .bind("after", after),
        ),
        // 多身份会员占比 and 人均身份数 (SPEC §11): of the members who joined by T, the share
        // with an identity besides their member id (one loaded for them or for a member
        // merged into them, or a merged member's id), and the identities per member,
        // counting their member id as one. A member's own phone is contact data, not
        // counted. Identities are as they are now (they carry no date).
        Metric::MultiIdentityShare | Metric::IdentitiesPerMember => {
            let numerator = match metric {
                Metric::MultiIdentityShare => "count(*) FILTER (WHERE n.ids > 0)",
                _ => "count(*) + coalesce(sum(n.ids), 0)",
            };
            run(Sql::new(format!(
                "SELECT {grp}, {numerator}, count(*) FROM members o {join}
                 LEFT JOIN (SELECT coalesce(a.person, x.member_id) AS person, count(DISTINCT x.identity) AS ids
                            FROM (SELECT member_id, kind || ':' || value AS identity FROM member_identities
                                  UNION ALL SELECT merged, 'member_id:' || merged FROM merges WHERE undone_at IS NULL) x
                            LEFT JOIN {aliases} a ON a.alias = x.member_id GROUP BY 1) n ON n.person = o.member_id
                 WHERE o.joined_at < $after GROUP BY 1",
                aliases = crate::derive::aliases::aliases(),
            ))
            .bind("after", after))
        }
        // 新增会员: members who joined in W.
        Metric::NewMembers => run(
            Sql::new(format!(
                "SELECT {grp}, count(*), 1 FROM members o {join}
                 WHERE o.joined_at >= $from AND o.joined_at < $after GROUP BY 1"
            ))
            .bind("from", midnight(w.start()))
            .bind("after", after),
        ),
        // 活跃会员: members with at least one purchase in W (one row each: their first
        // purchase day in W).
        Metric::ActiveMembers => run(
            Sql::new(format!("SELECT {grp}, count(*), 1 FROM member_days o {numbered} WHERE {first_in_w} GROUP BY 1"))
                .bind("start", start)
                .bind("end", end),
        ),
        // 二次购买率: of the members whose first purchase falls in the F days before W
        // starts, the share who purchased again on a later day within F days of the first,
        // counting purchases up to T.
        Metric::SecondPurchaseRate => {
            let follow_up = cfg.second_purchase_days;
            let cohort_from = w.start() - Days::new(u64::from(follow_up));
            run(
                Sql::new(format!(
                    "SELECT {grp},
                            count(*) FILTER (WHERE o.next_purchase_day <= o.day + CAST($follow_up AS INTEGER)
                                             AND o.next_purchase_day <= $end),
                            count(*)
                     FROM member_days o {numbered}
                     WHERE o.purchases > 0 AND o.prev_purchase_day IS NULL
                       AND o.day >= $cohort_from AND o.day < $start
                     GROUP BY 1"
                ))
                .bind("follow_up", follow_up as i32)
                .bind("end", end)
                .bind("cohort_from", day(cohort_from))
                .bind("start", start),
            )
        }
        // 沉睡唤醒率: of the members dormant or churned when W starts (they had purchased,
        // but not in the A days up to the day before W), the share who purchased in W.
        // Each such member's last purchase day before W is one row.
        Metric::ReactivationRate => {
            let active_from = w.start() - Days::new(1) - Days::new(u64::from(cfg.active_days));
            run(
                Sql::new(format!(
                    "SELECT {grp}, count(*) FILTER (WHERE o.next_purchase_day <= $end), count(*)
                     FROM member_days o {numbered}
                     WHERE o.purchases > 0 AND o.day < $active_from
                       AND (o.next_purchase_day IS NULL OR o.next_purchase_day >= $start)
                     GROUP BY 1"
                ))
                .bind("end", end)
                .bind("active_from", day(active_from))
                .bind("start", start),
            )
        }
        // 会员销售占比: the members' net revenue ÷ all net revenue in W (guests included,
        // returns on both sides). The denominator is the same for every group.
        Metric::MemberSalesShare => run(
            Sql::new(format!(
                "SELECT {grp}, CAST(coalesce(sum(o.cents), 0) AS BIGINT), 0 FROM member_days o {numbered}
                 WHERE o.day BETWEEN $start AND $end GROUP BY 1"
            ))
            .bind("start", start)
            .bind("end", end),
        ),
        // 客单价: members' net revenue in W (returns lower it) ÷ their purchases in W.
        Metric::Aov => run(
            Sql::new(format!(
                "SELECT {grp}, CAST(coalesce(sum(o.cents), 0) AS BIGINT), CAST(coalesce(sum(o.purchases), 0) AS BIGINT)
                 FROM member_days o {numbered}
                 WHERE o.day BETWEEN $start AND $end GROUP BY 1"
            ))
            .bind("start", start)
            .bind("end", end),
        ),
        // 购买频次: members' purchases in W ÷ members with a purchase in W.
        Metric::PurchaseFrequency => run(
            Sql::new(format!(
                "SELECT {grp}, CAST(sum(o.purchases) AS BIGINT),
                        count(*) FILTER (WHERE o.prev_purchase_day IS NULL OR o.prev_purchase_day < $start)
                 FROM member_days o {numbered}
                 WHERE o.purchases > 0 AND o.day BETWEEN $start AND $end GROUP BY 1"
            ))
            .bind("start", start)
            .bind("end", end),
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
                Sql::new(format!(
                    "SELECT grp, count(*) FILTER (WHERE {which}), 1 FROM (
                         SELECT o.member_id, {grp} AS grp, bool_or(o.store_purchases > 0) AS in_store,
                                bool_or(o.online_purchases > 0) AS online
                         FROM member_days o {numbered}
                         WHERE o.purchases > 0 AND o.day BETWEEN $start AND $end
                         GROUP BY o.member_id, grp
                     ) GROUP BY grp"
                ))
                .bind("start", start)
                .bind("end", end),
            )
        }
        // 积分负债: the points outstanding at the end of T (earned and adjusted, less
        // redeemed and expired; a member's negative balance counts as none) × point value.
        // Read as each member's balance in the summary less what came after T.
        Metric::PointsLiability => run(
            Sql::new(format!(
                "SELECT grp, CAST(coalesce(sum(greatest(balance, 0)), 0) * CAST($point_value AS BIGINT) AS BIGINT), 1 FROM (
                     SELECT {grp} AS grp,
                            o.points_earned + o.points_adjusted - o.points_redeemed - o.points_expired
                                - coalesce(later.balance, 0) AS balance
                     FROM member_summary o {numbered}
                     LEFT JOIN (SELECT member_id, sum(earned + adjusted - redeemed - expired) AS balance
                                FROM points_days WHERE day > $end GROUP BY member_id) later
                            ON later.member_id = o.member_id
                 ) GROUP BY grp"
            ))
            .bind("point_value", i64::from(cfg.point_value_cents))
            .bind("end", end),
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
                return None;
            }
            let last = w.end + Days::new(days);
            let lots: Vec<i64> = (w.end.year()..=last.year())
                .filter(|&y| NaiveDate::from_ymd_opt(y, 12, 31).is_some_and(|end| end >= w.end && end <= last))
                .map(|y| i64::from(y) - i64::from(cfg.points_expiry_years))
                .collect();
            if lots.is_empty() {
                return None;
            }
            let gain = "(o.kind = 'earn' OR (o.kind = 'adjust' AND o.points > 0))";
            let mut columns = String::new();
            let mut left = Vec::new();
            for i in 0..lots.len() {
                columns.push_str(&format!(
                    ", coalesce(sum(o.points) FILTER (WHERE {gain} AND year(o.occurred_at) = $lot{i}), 0) AS e{i}
                     , coalesce(sum(o.points) FILTER (WHERE {gain} AND year(o.occurred_at) <= $lot{i}), 0) AS c{i}"
                ));
                left.push(format!("greatest(0, least(e{i}, c{i} - used))"));
            }
            let mut sql = Sql::new(format!(
                "SELECT grp, CAST(sum({left}) * $point_value AS BIGINT), 1 FROM (
                     SELECT o.member_id, {grp} AS grp {columns},
                            coalesce(sum(CASE WHEN o.kind IN ('redeem', 'expire') THEN o.points
                                              WHEN o.kind = 'adjust' AND o.points < 0 THEN -o.points
                                              ELSE 0 END), 0) AS used
                     FROM points o {join} WHERE o.occurred_at < $after
                     GROUP BY o.member_id, grp
                 ) GROUP BY grp",
                left = left.join(" + ")
            ))
            .bind("point_value", i64::from(cfg.point_value_cents))
            .bind("after", after);
            for (i, &y) in lots.iter().enumerate() {
                sql = sql.bind(&format!("lot{i}"), y);
            }
            run(sql)
        }
        // The predicted metrics read the scores of the last model fit, only for a window
        // ending on the fit's T; the denominator is the members with a score (buyers by
        // T), so that no fit for T reads as "not available", never as zero.
        // 预测LTV: each scored member's 12-month CLV, rounded to the cent, summed; the
        // mean is over the scored members.
        Metric::PredictedLtv | Metric::PredictedLtvTotal => run(
            Sql::new(format!(
                "SELECT {grp}, CAST(sum(round(o.clv_12m * 100)) AS BIGINT), count(*)
                 FROM member_scores o {join} WHERE o.as_of = $end GROUP BY 1"
            ))
            .bind("end", end),
        ),
        // 高价值会员流失预警: scored members in the top 20% by predicted or historical
        // value (flagged by the fit, over all scored members) with P(alive) below the
        // threshold; revenue at stake is what they spent in the 12 months to T.
        Metric::HighValueAtRisk | Metric::RevenueAtStake => {
            let numerator = if metric == Metric::HighValueAtRisk {
                "count(*) FILTER (WHERE o.high_value AND o.p_alive < $at_risk)"
            } else {
                "coalesce(sum(o.revenue_12m_cents) FILTER (WHERE o.high_value AND o.p_alive < $at_risk), 0)"
            };
            run(
                Sql::new(format!(
                    "SELECT {grp}, CAST({numerator} AS BIGINT), count(*)
                     FROM member_scores o {join} WHERE o.as_of = $end GROUP BY 1"
                ))
                .bind("at_risk", cfg.at_risk_p_alive)
                .bind("end", end),
            )
        }
        // 积分从未使用占比: of the members who earned points up to T, the share who had
        // never redeemed any by T.
        // Read from the summary's totals less what came after T, like the liability.
        Metric::PointsNeverUsedShare => run(
            Sql::new(format!(
                "SELECT grp, count(*) FILTER (WHERE redeemed = 0), count(*) FROM (
                     SELECT {grp} AS grp,
                            o.points_earned - coalesce(later.earned, 0) AS earned,
                            o.points_redeemed - coalesce(later.redeemed, 0) AS redeemed
                     FROM member_summary o {numbered}
                     LEFT JOIN (SELECT member_id, sum(earned) AS earned, sum(redeemed) AS redeemed
                                FROM points_days WHERE day > $end GROUP BY member_id) later
                            ON later.member_id = o.member_id
                 ) WHERE earned > 0 GROUP BY grp"
            ))
            .bind("end", end),
        ),
    }
}

/// Turns a numerator and a denominator into the metric's measure.
pub fn finish(metric: Metric, (numerator, denominator): (i64, i64)) -> Measure {
    let why_empty = metric.why_empty();
    if Metric::PREDICTED.contains(&metric) {
        // Counts and totals too are undefined without a score; the denominator is the
        // scored members.
        return match metric.unit() {
            Unit::Money => money_per(numerator, denominator, why_empty),
            _ if denominator == 0 => {
                Measure { numerator, denominator, value: None, reason: Some(why_empty.to_string()) }
            }
            Unit::Count => Measure { value: Some(numerator as f64), ..ratio(numerator, denominator, why_empty) },
            _ => {
                Measure { value: money_per(numerator, 1, why_empty).value, ..ratio(numerator, denominator, why_empty) }
            }
        };
    }
    match metric.unit() {
        Unit::Money => money_per(numerator, denominator, why_empty),
        Unit::Count => count(numerator),
        Unit::Amount => money_per(numerator, 1, why_empty),
        Unit::Ratio | Unit::Number => ratio(numerator, denominator, why_empty),
    }
}
