//! A campaign's arms, in DuckDB (`campaign_arms`): drawn from the target group, or
//! imported.
//!
//! The draw is reproducible and stratified: within each RFM segment of the target group,
//! the members are ordered by `md5(seed || ':' || member_id)` and the first
//! round(control share × the segment's members) are the control arm (round half away from
//! zero); the rest are the treatment. The same seed and target group give the same arms
//! on any machine (the order is a documented hash, not a random generator's), and each
//! RFM segment is split in the asked share, so that the arms are alike in what predicts
//! buying.

use chrono::NaiveDate;
use duckdb::Connection;

use crate::{
    Error, Result,
    metrics::{
        MetricConfig,
        rfm::RfmRule,
        scope::{Criteria, Scope},
    },
    store::sql::Sql,
};

/// The most members an imported arms file may name.
pub const MAX_IMPORTED: usize = 2_000_000;

/// Draws the arms of campaign `id` from the members of `target` (a scope grouped by RFM
/// segment, see [`target`]) as of `as_of` (see the module), replacing any arms it had.
/// Returns (treatment, control) sizes.
pub fn draw(
    conn: &Connection,
    id: i64,
    target: &Scope,
    as_of: NaiveDate,
    cfg: MetricConfig,
    seed: i64,
    control_share: f64,
) -> Result<(i64, i64)> {
    target.prepare(conn, as_of, cfg)?;
    let tx = conn.unchecked_transaction()?;
    Sql::new("DELETE FROM campaign_arms WHERE campaign_id = $id").bind("id", id).execute(&tx)?;
    Sql::new(
        "INSERT INTO campaign_arms
         SELECT $id, member_id,
                CASE WHEN k <= round(n * $share) THEN 'control' ELSE 'treatment' END, grp
         FROM (SELECT member_id, grp,
                      row_number() OVER (PARTITION BY grp ORDER BY md5(CAST($seed AS VARCHAR) || ':' || member_id)) AS k,
                      count(*) OVER (PARTITION BY grp) AS n
               FROM mp_scope)",
    )
    .bind("id", id)
    .bind("share", control_share)
    .bind("seed", seed)
    .execute(&tx)?;
    tx.commit()?;
    sizes(conn, id)
}

/// The members of `criteria`, grouped by their RFM segment (the draw's strata).
pub fn target(criteria: Criteria, rules: Vec<RfmRule>) -> Scope {
    Scope::of(criteria, Some(app::model::Dimension::RfmSegment)).with_rules(rules)
}

/// The arms by person (campaign_id, member_id, arm): a member merged after the draw
/// counts as the person they belong to now, where their orders and points land
/// (`crate::identity`). One row per person and campaign: the person's own row if drawn,
/// else that of the first of their merged ids. Undoing the merge gives the row back. Of
/// the arm rows `filter` keeps (a condition on `campaign_arms`, applied before the rest).
pub fn by_person(filter: &str) -> String {
    format!(
        "(SELECT ca.campaign_id, coalesce(al.person, ca.member_id) AS member_id, ca.arm
          FROM (SELECT * FROM campaign_arms WHERE {filter}) ca LEFT JOIN {aliases} al ON al.alias = ca.member_id
          QUALIFY row_number() OVER (PARTITION BY ca.campaign_id, coalesce(al.person, ca.member_id)
                                     ORDER BY al.person IS NULL DESC, ca.member_id) = 1)",
        aliases = crate::derive::aliases::aliases()
    )
}

/// (treatment, control) sizes of campaign `id`, by person ([`by_person`]).
pub fn sizes(conn: &Connection, id: i64) -> Result<(i64, i64)> {
    Sql::new(format!(
        "SELECT count(*) FILTER (WHERE arm = 'treatment'), count(*) FILTER (WHERE arm = 'control')
         FROM {}",
        by_person("campaign_id = $id")
    ))
    .bind("id", id)
    .row(conn, |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Reads an arms file: a header `member_id,arm`, then one member per line, arm
/// `treatment` or `control`. The error names the line, the field and the reason.
pub fn parse(csv: &str) -> Result<Vec<(String, String)>> {
    let mut lines = csv.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim().trim_start_matches('\u{feff}').to_ascii_lowercase());
    if header.as_deref() != Some("member_id,arm") {
        return Err(Error::Load("arms file, line 1: expected the header member_id,arm".into()));
    }
    let mut arms = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (member, arm) = line
            .split_once(',')
            .ok_or_else(|| Error::Load(format!("arms file, line {line_no}: expected member_id,arm")))?;
        let (member, arm) = (member.trim().trim_matches('"'), arm.trim().trim_matches('"'));
        if member.is_empty() || member.len() > 128 {
            return Err(Error::Load(format!("arms file, line {line_no}, member_id: expected 1 to 128 characters")));
        }
        if arm != "treatment" && arm != "control" {
            return Err(Error::Load(format!(
                "arms file, line {line_no}, arm: expected treatment or control, got {arm:?}"
            )));
        }
        if !seen.insert(member.to_string()) {
            return Err(Error::Load(format!("arms file, line {line_no}, member_id: {member:?} is named twice")));
        }
        arms.push((member.to_string(), arm.to_string()));
        if arms.len() > MAX_IMPORTED {
            return Err(Error::TooLarge(format!("an arms file names at most {MAX_IMPORTED} members")));
        }
    }
    if arms.is_empty() {
        return Err(Error::Load("arms file: no members".into()));
    }
    Ok(arms)
}

/// Replaces campaign `id`'s arms with `arms` (from [`parse`]), all or nothing: a member
/// the store does not hold is refused with the line it is on.
pub fn import(conn: &Connection, id: i64, arms: &[(String, String)]) -> Result<(i64, i64)> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch("CREATE OR REPLACE TEMP TABLE mp_arms (line BIGINT, member_id VARCHAR, arm VARCHAR)")?;
    {
        let mut app = tx.appender("mp_arms")?;
        for (i, (member, arm)) in arms.iter().enumerate() {
            app.append_row(duckdb::params![i as i64 + 2, member, arm])?;
        }
        app.flush()?;
    }
    let unknown: Option<(i64, String)> = Sql::new(
        "SELECT line, member_id FROM mp_arms a WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.member_id = a.member_id)
         ORDER BY line LIMIT 1",
    )
    .rows(&tx, |r| Ok((r.get(0)?, r.get(1)?)))?
    .into_iter()
    .next();
    if let Some((line, member)) = unknown {
        return Err(Error::Load(format!("arms file, line {line}, member_id: no member {member:?}")));
    }
    Sql::new("DELETE FROM campaign_arms WHERE campaign_id = $id").bind("id", id).execute(&tx)?;
    Sql::new("INSERT INTO campaign_arms SELECT $id, member_id, arm, NULL FROM mp_arms").bind("id", id).execute(&tx)?;
    tx.execute_batch("DROP TABLE mp_arms")?;
    tx.commit()?;
    sizes(conn, id)
}
