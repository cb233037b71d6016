//! The audit log (SPEC §1): every member-level view, member list and export, and every
//! change of users, tokens, rules, channels, segments and data — who, what, when, which
//! filter. Admins read and export it.

use app::model::{AuditEntry, AuditQuery, Role};
use sqlx::Row;

use crate::{Error, Result, access::Caller, store::operational::Pool};

/// Writes one entry; the action it records is refused if this fails.
pub async fn record(pool: &Pool, who: &Caller, action: &str, target: Option<&str>, filter: Option<&str>) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (actor, role, action, target, filter) VALUES (?, ?, ?, ?, ?)")
        .bind(&who.name)
        .bind(who.role.key())
        .bind(action)
        .bind(target)
        .bind(filter.filter(|f| !f.is_empty()))
        .execute(pool)
        .await?;
    Ok(())
}

/// A query's parameters as `key=value&…` (the filter an entry records), absent ones left out.
pub fn describe<T: serde::Serialize>(query: &T) -> String {
    let value = serde_json::to_value(query).unwrap_or_default();
    let Some(map) = value.as_object() else { return String::new() };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect::<Vec<_>>()
        .join("&")
}

pub const MAX_ROWS: u32 = 100_000;

/// Entries, newest first.
pub async fn list(pool: &Pool, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=MAX_ROWS).contains(&limit) {
        return Err(Error::bad_param("limit", format!("expected 1 to {MAX_ROWS}")));
    }
    if let Some(since) = &q.since {
        crate::metrics::parse_date("since", since)?;
    }
    let (action, prefix) = match q.action.as_deref() {
        Some(a) if a.ends_with('.') => (None, Some(format!("{a}%"))),
        Some(a) => (Some(a.to_string()), None),
        None => (None, None),
    };
    let rows = sqlx::query(
        "SELECT id, at, actor, role, action, target, filter FROM audit_log
         WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR action LIKE ?3)
           AND (?4 IS NULL OR at >= ?4)
         ORDER BY id DESC LIMIT ?5",
    )
    .bind(&q.actor)
    .bind(action)
    .bind(prefix)
    .bind(&q.since)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            id: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            role: Role::parse(r.get::<&str, _>(3)).unwrap_or(Role::Executive),
            action: r.get(4),
            target: r.get(5),
            filter: r.get(6),
        })
        .collect())
}

/// The entries as CSV (UTF-8 with a byte-order mark, like the member export).
pub fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("\u{feff}id,at,actor,role,action,target,filter\n");
    for e in entries {
        let line = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.role.key().to_string(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.filter.clone().unwrap_or_default(),
        ]
        .iter()
        .map(|f| crate::members::csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_query_is_described_by_its_given_parameters() {
        let q = app::model::MembersQuery { filters: Some("region:华东".into()), page: Some(2), ..Default::default() };
        assert_eq!(super::describe(&q), "filters=region:华东&page=2");
    }
}
