//! Where a fit's results are kept: the member scores in DuckDB (`member_scores`) and each
//! fit's parameters in the operational store (`model_fits`).

use app::model::MemberScore;

use super::{Buyer, Fit, high_value};
use crate::{Error, Result, store::operational::now_sql};

/// Replaces the member scores (DuckDB `member_scores`) with these, as of `as_of`.
pub fn store_scores(
    conn: &mut duckdb::Connection,
    as_of: chrono::NaiveDate,
    buyers: &[Buyer],
    scores: &[MemberScore],
) -> Result<()> {
    use duckdb::arrow::{
        array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray},
        record_batch::RecordBatch,
    };
    use std::sync::Arc;
    let high = high_value(buyers, scores);
    let days = (as_of - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32;
    let score =
        |f: fn(&MemberScore) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(scores.iter().map(f))) };
    // One Arrow batch through the appender: far quicker than a million appended rows.
    let batch = RecordBatch::try_from_iter([
        ("member_id", Arc::new(StringArray::from_iter_values(buyers.iter().map(|b| b.member_id.as_str()))) as ArrayRef),
        ("as_of", Arc::new(Date32Array::from(vec![days; buyers.len()])) as ArrayRef),
        ("p_alive", score(|s| s.p_alive)),
        ("purchases_30d", score(|s| s.purchases_30d)),
        ("purchases_90d", score(|s| s.purchases_90d)),
        ("purchases_365d", score(|s| s.purchases_365d)),
        ("spend_per_purchase", score(|s| s.spend_per_purchase)),
        ("clv_12m", score(|s| s.clv_12m)),
        (
            "historical_cents",
            Arc::new(Int64Array::from_iter_values(buyers.iter().map(|b| b.historical_cents))) as ArrayRef,
        ),
        (
            "revenue_12m_cents",
            Arc::new(Int64Array::from_iter_values(buyers.iter().map(|b| b.revenue_12m_cents))) as ArrayRef,
        ),
        ("high_value", Arc::new(BooleanArray::from(high)) as ArrayRef),
    ])
    .map_err(|e| Error::Internal(format!("member scores batch: {e}")))?;
    let tx = conn.transaction()?;
    tx.execute_batch("DELETE FROM member_scores")?;
    {
        let mut app = tx.appender("member_scores")?;
        app.append_record_batch(batch)?;
        app.flush()?;
    }
    // The member facts keep each member's churn risk: new scores make them stale.
    crate::derive::facts::scored(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Records a fit in the operational store; returns its id.
pub async fn record_fit(
    pool: &crate::store::operational::Pool,
    as_of: chrono::NaiveDate,
    model: &str,
    members: usize,
    fit: &Fit,
) -> Result<i64> {
    use sqlx::Row;
    let row = sqlx::query(concat!(
        "INSERT INTO model_fits (fitted_at, as_of, model, members, params, std_errors, log_likelihood, iterations)
         VALUES (",
        now_sql!(),
        ", ?, ?, ?, ?, ?, ?, ?) RETURNING id"
    ))
    .bind(as_of.to_string())
    .bind(model)
    .bind(members as i64)
    .bind(serde_json::to_string(&fit.params).unwrap_or_default())
    .bind(serde_json::to_string(&fit.std_errors).unwrap_or_default())
    .bind(fit.log_likelihood)
    .bind(fit.iterations as i64)
    .fetch_one(pool)
    .await?;
    Ok(row.get(0))
}

/// The parameter names of a recorded model, in order.
pub fn parameter_names(model: &str) -> &'static [&'static str] {
    match model {
        "bgnbd" => &["r", "alpha", "a", "b"],
        _ => &["p", "q", "gamma"],
    }
}

/// The latest recorded fit of each model.
pub async fn last_fits(pool: &crate::store::operational::Pool) -> Result<Vec<app::model::ModelFit>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT model, as_of, fitted_at, members, params, std_errors, log_likelihood, iterations
         FROM model_fits WHERE id IN (SELECT max(id) FROM model_fits GROUP BY model) ORDER BY model",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let model: String = r.get(0);
            let list = |text: String| serde_json::from_str::<Vec<f64>>(&text).unwrap_or_default();
            app::model::ModelFit {
                names: parameter_names(&model).iter().map(|n| n.to_string()).collect(),
                model,
                as_of: r.get(1),
                fitted_at: r.get(2),
                members: r.get(3),
                params: list(r.get(4)),
                std_errors: list(r.get(5)),
                log_likelihood: r.get(6),
                iterations: r.get(7),
            }
        })
        .collect())
}
