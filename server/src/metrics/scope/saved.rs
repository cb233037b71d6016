//! Saved segments, kept in the operational store (sqlx).

use app::model::Segment;
use sqlx::Row;

use crate::{
    Error, Result,
    store::operational::{Pool, now_sql},
};

/// Checks a segment before it is stored; the error names the field.
pub fn validate(s: &Segment) -> Result<()> {
    let key_ok = (1..=64).contains(&s.key.len())
        && s.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !key_ok {
        return Err(Error::bad_param(
            "key",
            format!("expected 1 to 64 lowercase letters, digits, _ or -, got {:?}", s.key),
        ));
    }
    for (field, name) in [("name_zh", &s.name_zh), ("name_en", &s.name_en)] {
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(Error::bad_param(field, "expected 1 to 100 characters"));
        }
    }
    if super::parse(&s.filters)?.is_empty() {
        return Err(Error::bad_param("filters", "a segment needs at least one filter, e.g. region:华东"));
    }
    Ok(())
}

fn segment(r: sqlx::sqlite::SqliteRow) -> Segment {
    Segment { key: r.get(0), name_zh: r.get(1), name_en: r.get(2), filters: r.get(3) }
}

pub async fn list(pool: &Pool) -> Result<Vec<Segment>> {
    let rows = sqlx::query("SELECT key, name_zh, name_en, filters FROM segments ORDER BY key").fetch_all(pool).await?;
    Ok(rows.into_iter().map(segment).collect())
}

pub async fn get(pool: &Pool, key: &str) -> Result<Segment> {
    sqlx::query("SELECT key, name_zh, name_en, filters FROM segments WHERE key = ?")
        .bind(key)
        .fetch_optional(pool)
        .await?
        .map(segment)
        .ok_or_else(|| Error::NotFound(format!("no saved segment {key:?}")))
}

/// Stores a new segment; its key must be free.
pub async fn create(pool: &Pool, s: &Segment) -> Result<()> {
    validate(s)?;
    let done = sqlx::query(concat!(
        "INSERT INTO segments (key, name_zh, name_en, filters, created_at, updated_at)
         VALUES (?, ?, ?, ?, ",
        now_sql!(),
        ", ",
        now_sql!(),
        ")
         ON CONFLICT (key) DO NOTHING"
    ))
    .bind(&s.key)
    .bind(s.name_zh.trim())
    .bind(s.name_en.trim())
    .bind(&s.filters)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Conflict(format!("a segment {:?} exists already", s.key)));
    }
    Ok(())
}

/// Replaces an existing segment's names and filters.
pub async fn update(pool: &Pool, s: &Segment) -> Result<()> {
    validate(s)?;
    let done = sqlx::query(concat!(
        "UPDATE segments SET name_zh = ?, name_en = ?, filters = ?,
                             updated_at = ",
        now_sql!(),
        "
         WHERE key = ?"
    ))
    .bind(s.name_zh.trim())
    .bind(s.name_en.trim())
    .bind(&s.filters)
    .bind(&s.key)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no saved segment {:?}", s.key)));
    }
    Ok(())
}

pub async fn delete(pool: &Pool, key: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM segments WHERE key = ?").bind(key).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no saved segment {key:?}")));
    }
    Ok(())
}
