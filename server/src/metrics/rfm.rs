//! RFM (SPEC §5): each member with a purchase in the 365 days up to T is scored 1–5 on
//! recency (days since the last purchase; recent scores high), frequency (purchases) and
//! monetary value (net revenue, returns included), by quintile among those members: a
//! score is 1 + ⌊5 × percent rank⌋, capped at 5, so equal values share a score. Named
//! segments come from the `rfm_rules` table (operational store): the first rule by
//! priority whose ranges hold the member's scores; members scored by none are `other`,
//! members without a purchase in the lookback `no_purchase`.

use chrono::{Days, NaiveDate};
use duckdb::types::Value;

use sqlx::Row;

use crate::{
    Error, Result,
    store::{
        operational::Pool,
        sql::{Sql, midnight},
    },
};

pub const LOOKBACK_DAYS: u64 = 365;

pub use app::model::RfmRule;

/// Checks a whole rule table; the error names the rule and field at fault.
pub fn validate(rules: &[RfmRule]) -> Result<()> {
    if rules.is_empty() || rules.len() > 30 {
        return Err(Error::bad_param("rules", "expected 1 to 30 rules"));
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = |field: &str| format!("rules[{i}].{field}");
        let key_ok = (1..=64).contains(&rule.key.len())
            && rule.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok || ["other", "no_purchase"].contains(&rule.key.as_str()) {
            return Err(Error::bad_param(
                at("key"),
                format!("expected lowercase letters, digits and _ (not other or no_purchase), got {:?}", rule.key),
            ));
        }
        if rules[..i].iter().any(|r| r.key == rule.key) {
            return Err(Error::bad_param(at("key"), format!("{:?} appears twice", rule.key)));
        }
        if rules[..i].iter().any(|r| r.priority == rule.priority) {
            return Err(Error::bad_param(at("priority"), format!("priority {} appears twice", rule.priority)));
        }
        for (field, name) in [("name_zh", &rule.name_zh), ("name_en", &rule.name_en)] {
            if name.trim().is_empty() {
                return Err(Error::bad_param(at(field), "must not be empty"));
            }
        }
        for (field, (lo, hi)) in [("r", rule.r), ("f", rule.f), ("m", rule.m)] {
            if !(1 <= lo && lo <= hi && hi <= 5) {
                return Err(Error::bad_param(
                    at(field),
                    format!("expected [min, max] with 1 <= min <= max <= 5, got [{lo}, {hi}]"),
                ));
            }
        }
    }
    Ok(())
}

/// Replaces the whole rule table in one transaction, after validating it.
pub async fn replace(pool: &Pool, rules: &[RfmRule]) -> Result<()> {
    validate(rules)?;
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM rfm_rules").execute(&mut *tx).await?;
    for rule in rules {
        sqlx::query(
            "INSERT INTO rfm_rules (priority, key, name_zh, name_en, r_min, r_max, f_min, f_max, m_min, m_max)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(rule.priority)
        .bind(&rule.key)
        .bind(rule.name_zh.trim())
        .bind(rule.name_en.trim())
        .bind(rule.r.0)
        .bind(rule.r.1)
        .bind(rule.f.0)
        .bind(rule.f.1)
        .bind(rule.m.0)
        .bind(rule.m.1)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn rules(pool: &Pool) -> Result<Vec<RfmRule>> {
    let rows = sqlx::query(
        "SELECT priority, key, name_zh, name_en, r_min, r_max, f_min, f_max, m_min, m_max FROM rfm_rules ORDER BY priority",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RfmRule {
            priority: r.get(0),
            key: r.get(1),
            name_zh: r.get(2),
            name_en: r.get(3),
            r: (r.get(4), r.get(5)),
            f: (r.get(6), r.get(7)),
            m: (r.get(8), r.get(9)),
        })
        .collect())
}

/// The scores per member as of T, joined as `rfm` (member_id, r, f, m); binds the
/// lookback's start `$lookback_from` ([`lookback_from`]) and end `$after` (T + 1 day).
pub const SCORES: &str = "LEFT JOIN (
        SELECT member_id,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY last_purchase_at)))::INTEGER AS r,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY purchases)))::INTEGER AS f,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY revenue)))::INTEGER AS m
        FROM (
            SELECT member_id, max(ordered_at) FILTER (WHERE net_amount > 0) AS last_purchase_at,
                   count(*) FILTER (WHERE net_amount > 0) AS purchases, sum(net_amount) AS revenue
            FROM orders
            WHERE member_id IS NOT NULL AND ordered_at >= CAST($lookback_from AS TIMESTAMP) AND ordered_at < CAST($after AS TIMESTAMP)
            GROUP BY member_id
            HAVING count(*) FILTER (WHERE net_amount > 0) > 0
        )
    ) rfm USING (member_id)";

/// Extended RFM as of T, joined as `ext` (member_id, favourite_category, preferred_channel):
/// the category with the most net spend and the channel with the most purchases in the
/// lookback (ties to the first by name). Binds the lookback like [`SCORES`].
pub const EXTENDED: &str = "LEFT JOIN (
        SELECT coalesce(c.member_id, p.member_id) AS member_id, c.favourite_category, p.preferred_channel
        FROM (
            SELECT member_id, first(category ORDER BY spend DESC, category) AS favourite_category
            FROM (SELECT o.member_id, i.category, sum(i.amount) AS spend
                  FROM orders o JOIN order_items i USING (order_id)
                  WHERE o.member_id IS NOT NULL AND i.category IS NOT NULL
                    AND o.ordered_at >= CAST($lookback_from AS TIMESTAMP) AND o.ordered_at < CAST($after AS TIMESTAMP)
                  GROUP BY o.member_id, i.category)
            GROUP BY member_id
        ) c
        FULL JOIN (
            SELECT member_id, first(channel ORDER BY purchases DESC, channel) AS preferred_channel
            FROM (SELECT member_id, channel, count(*) AS purchases FROM orders
                  WHERE member_id IS NOT NULL AND channel IS NOT NULL AND net_amount > 0
                    AND ordered_at >= CAST($lookback_from AS TIMESTAMP) AND ordered_at < CAST($after AS TIMESTAMP)
                  GROUP BY member_id, channel)
            GROUP BY member_id
        ) p USING (member_id)
    ) ext USING (member_id)";

/// The first moment of the lookback ending on `as_of`, as the `$lookback_from` argument.
pub fn lookback_from(as_of: NaiveDate) -> Value {
    midnight(as_of - Days::new(LOOKBACK_DAYS - 1))
}

/// The named segment of a member joined with `rfm`, with the rules' bounds as arguments.
pub fn segment_expression(rules: &[RfmRule]) -> Sql {
    let mut text = String::from("CASE WHEN rfm.r IS NULL THEN 'no_purchase'");
    let mut args = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        text.push_str(" WHEN");
        for (j, (score, (lo, hi))) in [("r", rule.r), ("f", rule.f), ("m", rule.m)].into_iter().enumerate() {
            let and = if j > 0 { " AND" } else { "" };
            text.push_str(&format!("{and} rfm.{score} BETWEEN $rule{i}_{score}_lo AND $rule{i}_{score}_hi"));
            args.push((format!("rule{i}_{score}_lo"), Value::BigInt(lo)));
            args.push((format!("rule{i}_{score}_hi"), Value::BigInt(hi)));
        }
        text.push_str(&format!(" THEN $rule{i}_key"));
        args.push((format!("rule{i}_key"), Value::Text(rule.key.clone())));
    }
    text.push_str(" ELSE 'other' END");
    args.into_iter().fold(Sql::new(text), |sql, (name, value)| sql.bind(&name, value))
}
