//! Campaign definitions, kept in the operational store (sqlx). The arms live in DuckDB
//! beside the orders ([`super::arms`]).

use app::model::{CAMPAIGN_GOALS, Campaign};
use chrono::NaiveDate;
use sqlx::Row;

use crate::{
    Error, Result,
    store::operational::{Pool, name_taken, stamp},
};

/// The longest window a campaign is read over, in days.
pub const MAX_WINDOW_DAYS: u32 = 366;

/// Checks a campaign before it is stored; the error names the field.
pub fn validate(c: &Campaign) -> Result<NaiveDate> {
    if c.name.trim().is_empty() || c.name.chars().count() > 100 {
        return Err(Error::bad_param("name", "expected 1 to 100 characters"));
    }
    let start = NaiveDate::parse_from_str(&c.start, "%Y-%m-%d")
        .map_err(|_| Error::bad_param("start", format!("expected a date YYYY-MM-DD, got {:?}", c.start)))?;
    if !(1..=MAX_WINDOW_DAYS).contains(&c.window_days) {
        return Err(Error::bad_param("window_days", format!("expected 1 to {MAX_WINDOW_DAYS}")));
    }
    if !CAMPAIGN_GOALS.contains(&c.goal.as_str()) {
        return Err(Error::bad_param("goal", format!("expected one of {}", CAMPAIGN_GOALS.join(", "))));
    }
    if !(0.05..=0.5).contains(&c.control_share) {
        return Err(Error::bad_param("control_share", "expected 0.05 to 0.5"));
    }
    Ok(start)
}

const COLUMNS: &str = "id, name, segment, start_day, window_days, goal, control_share, seed, arms_from";

fn campaign(r: &sqlx::sqlite::SqliteRow) -> Campaign {
    Campaign {
        id: r.get(0),
        name: r.get(1),
        segment: r.get(2),
        start: r.get(3),
        window_days: r.get::<i64, _>(4) as u32,
        goal: r.get(5),
        control_share: r.get(6),
        seed: Some(r.get(7)),
        arms_from: r.get(8),
        treatment_members: 0,
        control_members: 0,
    }
}

pub async fn list(pool: &Pool) -> Result<Vec<Campaign>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM campaigns ORDER BY id DESC")).fetch_all(pool).await?;
    Ok(rows.iter().map(campaign).collect())
}

pub async fn get(pool: &Pool, id: i64) -> Result<Campaign> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM campaigns WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| campaign(&r))
        .ok_or_else(|| Error::NotFound(format!("no campaign {id}")))
}

/// Stores a new campaign (validated by the caller), its arms not yet drawn; a 409 when the
/// name is taken.
pub async fn create(pool: &Pool, c: &Campaign, seed: i64, by: &str) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO campaigns (name, segment, start_day, window_days, goal, control_share, seed, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(c.name.trim())
    .bind(&c.segment)
    .bind(&c.start)
    .bind(i64::from(c.window_days))
    .bind(&c.goal)
    .bind(c.control_share)
    .bind(seed)
    .bind(by)
    .bind(stamp(chrono::Utc::now()))
    .fetch_one(pool)
    .await
    .map_err(name_taken("a campaign"))?
    .get(0);
    Ok(id)
}

/// Records where the arms came from.
pub async fn set_arms_from(pool: &Pool, id: i64, from: &str) -> Result<()> {
    sqlx::query("UPDATE campaigns SET arms_from = ? WHERE id = ?").bind(from).bind(id).execute(pool).await?;
    Ok(())
}

pub async fn delete(pool: &Pool, id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM campaigns WHERE id = ?").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no campaign {id}")));
    }
    Ok(())
}
