//! The holdout check: is the purchase model right about the days it did not see?

use super::{expected_purchases, fit_bgnbd, summaries};
use crate::Result;

/// Fits BG/NBD to the purchases up to `as_of − days` and compares its expected purchase
/// days in the holdout with the members' actual ones, per repeat-purchase bucket.
pub fn holdout(conn: &duckdb::Connection, as_of: chrono::NaiveDate, days: u32) -> Result<app::model::Holdout> {
    use app::model::{Holdout, HoldoutBucket};
    let end = as_of - chrono::Days::new(u64::from(days));
    let members = summaries(conn, end)?;
    let fit = fit_bgnbd(&members.iter().map(|b| b.summary).collect::<Vec<_>>())?;
    let mut actual: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT member_id, count(*) FROM member_days
         WHERE purchases > 0 AND day > CAST(? AS DATE) AND day <= CAST(? AS DATE) GROUP BY member_id",
    )?;
    let rows =
        stmt.query_map([end.to_string(), as_of.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (id, n) = row?;
        actual.insert(id, n as f64);
    }
    let label = |x: f64| if x >= 7.0 { "7+".to_string() } else { format!("{}", x as i64) };
    // (members, actual, predicted) per bucket of repeat purchases.
    let mut sums = [(0i64, 0.0f64, 0.0f64); 8];
    for m in &members {
        let s = &m.summary;
        let b = &mut sums[(s.x as usize).min(7)];
        b.0 += 1;
        b.1 += actual.get(&m.member_id).copied().unwrap_or(0.0);
        b.2 += expected_purchases(&fit, s, f64::from(days));
    }
    let bucket = |frequency: String, (n, a, p): (i64, f64, f64)| HoldoutBucket {
        frequency,
        members: Some(n),
        actual: Some(a),
        predicted: Some(p),
    };
    let all = sums.iter().fold((0, 0.0, 0.0), |t, b| (t.0 + b.0, t.1 + b.1, t.2 + b.2));
    Ok(Holdout {
        as_of: as_of.to_string(),
        calibration_end: end.to_string(),
        days,
        buckets: sums.iter().enumerate().map(|(x, b)| bucket(label(x as f64), *b)).collect(),
        total: bucket("all".to_string(), all),
        computed_at: crate::store::operational::stamp(chrono::Utc::now()),
    })
}
