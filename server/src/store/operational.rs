//! The operational store (sqlx; SQLite by default): what people and processes create.
//! For now the history of data loads; users, rules and alert events join it later.

use std::str::FromStr;

use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use crate::Result;

pub type Pool = SqlitePool;

/// The time now in SQL, as the operational store keeps times: `YYYY-MM-DDTHH:MM:SSZ`
/// (UTC; sorts as text). Written into statements with `concat!`.
macro_rules! now_sql {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    };
}
pub(crate) use now_sql;

/// A UTC time as the operational store keeps it: `YYYY-MM-DDTHH:MM:SSZ` (sorts as text).
pub fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Maps a unique-name violation to a 409 saying `{what} has this name already`; other
/// errors pass as they are.
pub fn name_taken(what: &'static str) -> impl Fn(sqlx::Error) -> crate::Error {
    move |e| match &e {
        sqlx::Error::Database(d) if d.message().contains("UNIQUE") => {
            crate::Error::Conflict(format!("{what} has this name already"))
        }
        _ => e.into(),
    }
}

/// Connects and applies `migrations/`.
pub async fn connect(url: &str) -> Result<Pool> {
    // secure_delete: a deleted or updated row's old bytes are overwritten, not left in
    // free pages (an erased member's id, see crate::privacy::erase).
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true).pragma("secure_delete", "ON");
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    Ok(pool)
}

pub use app::model::LoadRecord;

/// Records a load in the history. The report kept leaves out the values of rejects that
/// may be personal data (a whole malformed line, a name or a phone): the history is not
/// sealed, and the file still holds them for whoever loaded it.
pub async fn record_load(pool: &Pool, report: &crate::load::import::LoadReport) -> Result<i64> {
    let mut kept = report.clone();
    for reject in &mut kept.rejected {
        if ["(row)", "name", "phone"].contains(&reject.field.as_str()) {
            reject.value = None;
        }
    }
    let report = &kept;
    let row = sqlx::query(
        concat!("INSERT INTO loads (finished_at, source, target, rows_read, rows_inserted, rows_duplicate, rows_rejected, report)
         VALUES (", now_sql!(), ", ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
    )
    .bind(&report.file)
    .bind(&report.target)
    .bind(report.rows_read)
    .bind(report.inserted_total())
    .bind(report.duplicates_total())
    .bind(report.rejected.len() as i64)
    .bind(serde_json::to_string(report).unwrap_or_default())
    .fetch_one(pool)
    .await?;
    Ok(row.get(0))
}

/// The report load `id` kept (JSON of `crate::load::import::LoadReport`).
pub async fn load_report(pool: &Pool, id: i64) -> Result<String> {
    sqlx::query_scalar("SELECT report FROM loads WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("no load {id}")))
}

pub async fn recent_loads(pool: &Pool, limit: i64) -> Result<Vec<LoadRecord>> {
    let rows = sqlx::query(
        "SELECT id, finished_at, source, target, rows_read, rows_inserted, rows_duplicate, rows_rejected
         FROM loads ORDER BY id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LoadRecord {
            id: r.get(0),
            finished_at: r.get(1),
            source: r.get(2),
            target: r.get(3),
            rows_read: r.get(4),
            rows_inserted: r.get(5),
            rows_duplicate: r.get(6),
            rows_rejected: r.get(7),
        })
        .collect())
}
