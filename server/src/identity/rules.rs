//! The identity matching rules, in the operational store (admins edit them).

use app::model::IdentityRule;
use sqlx::Row;

use crate::{
    Error, Result,
    store::operational::{Pool, name_taken},
};

/// Every rule, by id.
pub async fn list(pool: &Pool) -> Result<Vec<IdentityRule>> {
    let rows =
        sqlx::query("SELECT id, name, match_on, automatic FROM identity_rules ORDER BY id").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|r| rule(&r)).collect())
}

fn rule(r: &sqlx::sqlite::SqliteRow) -> IdentityRule {
    let match_on: String = r.get(2);
    IdentityRule {
        id: Some(r.get(0)),
        name: r.get(1),
        match_on: match_on.split(',').filter(|m| !m.is_empty()).map(str::to_string).collect(),
        automatic: r.get::<i64, _>(3) != 0,
    }
}

/// Adds a rule (checked by `super::check_rule`); a 409 when the name is taken.
pub async fn create(pool: &Pool, rule: &IdentityRule, by: &str) -> Result<IdentityRule> {
    let rule = &tidy(rule);
    super::check_rule(rule)?;
    let id: i64 = sqlx::query(
        "INSERT INTO identity_rules (name, match_on, automatic, updated_by, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(rule.name.trim())
    .bind(rule.match_on.join(","))
    .bind(rule.automatic as i64)
    .bind(by)
    .bind(chrono::Utc::now().to_rfc3339())
    .fetch_one(pool)
    .await
    .map_err(name_taken("an identity rule"))?
    .get(0);
    get(pool, id).await
}

/// Replaces rule `id`; a 404 when there is none.
pub async fn update(pool: &Pool, id: i64, rule: &IdentityRule, by: &str) -> Result<IdentityRule> {
    let rule = &tidy(rule);
    super::check_rule(rule)?;
    let done = sqlx::query(
        "UPDATE identity_rules SET name = ?, match_on = ?, automatic = ?, updated_by = ?, updated_at = ? WHERE id = ?",
    )
    .bind(rule.name.trim())
    .bind(rule.match_on.join(","))
    .bind(rule.automatic as i64)
    .bind(by)
    .bind(chrono::Utc::now().to_rfc3339())
    .bind(id)
    .execute(pool)
    .await
    .map_err(name_taken("an identity rule"))?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no identity rule {id}")));
    }
    get(pool, id).await
}

/// Deletes rule `id`; a 404 when there is none.
pub async fn delete(pool: &Pool, id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM identity_rules WHERE id = ?").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no identity rule {id}")));
    }
    Ok(())
}

/// Rule `id`; a 404 when there is none.
pub async fn get(pool: &Pool, id: i64) -> Result<IdentityRule> {
    let row = sqlx::query("SELECT id, name, match_on, automatic FROM identity_rules WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no identity rule {id}")))?;
    Ok(rule(&row))
}

/// The rule with each field to match on once, in order.
fn tidy(rule: &IdentityRule) -> IdentityRule {
    let mut match_on: Vec<String> = Vec::new();
    for m in &rule.match_on {
        if !match_on.contains(m) {
            match_on.push(m.clone());
        }
    }
    IdentityRule { match_on, ..rule.clone() }
}
