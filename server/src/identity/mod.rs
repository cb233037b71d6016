//! One member across store, app, mini-program and web (SPEC §11; `docs/identity.md`).
//!
//! A member has identities, (kind, value) pairs loaded in `member_identities` (a phone as
//! its keyed hash; the members' own phones count as `phone` identities too). Matching
//! rules ([`rules`], kept in the operational store, editable by admins) propose pairs of
//! members who share identities as one person ([`candidates`]); an admin, or an automatic
//! rule, merges them ([`merge`]); a merge can be undone exactly.

use duckdb::{Connection, params};

use app::model::{Candidate, CandidateMember, IDENTITY_KINDS, Identity, IdentityRule, RULE_FIELDS};

use crate::{Error, Result, derive::aliases, store::operational::Pool};

pub mod merge;
pub mod rules;

pub use crate::derive::{
    aliases::person_of,
    identities::{IDENTITIES, kind, owner, stored_value},
};

/// The identities of the person `member_id`: theirs and those of members merged into them.
pub fn of_person(conn: &Connection, member_id: &str) -> Result<Vec<Identity>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT i.member_id, i.kind, CASE WHEN i.kind = 'phone' THEN '(keyed hash)' ELSE i.value END
         FROM {IDENTITIES} i
         WHERE i.member_id = ? OR i.member_id IN (SELECT alias FROM {} WHERE person = ?)
         ORDER BY i.kind, i.member_id, i.value",
        aliases::aliases()
    ))?;
    let rows = stmt.query_map(params![member_id, member_id], |r| {
        Ok(Identity { member_id: r.get(0)?, kind: r.get(1)?, value: r.get(2)? })
    })?;
    Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
}

/// A value more members than this share is a placeholder (a shop's phone, a test
/// account), not evidence: candidates leave it out.
pub const MAX_SHARED: i64 = 20;

/// The pairs of persons (members now) that `rule` says are one person, at most `limit`,
/// with the evidence; pairs already one person are not listed.
pub fn candidates(conn: &Connection, rule: &IdentityRule, limit: i64) -> Result<Vec<Candidate>> {
    let kinds: Vec<&'static str> = rule.match_on.iter().filter_map(|m| kind("match_on", m).ok()).collect();
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let by_birth_year = rule.match_on.iter().any(|m| m == "birth_year");
    // The kinds are our own constants (checked above), written into the SQL.
    let kind_list = kinds.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let birth = if by_birth_year {
        "JOIN members ma ON ma.member_id = p.a JOIN members mb ON mb.member_id = p.b
         WHERE ma.birth_year IS NOT NULL AND ma.birth_year = mb.birth_year"
    } else {
        ""
    };
    let mut stmt = conn.prepare(&format!(
        "WITH persons AS (
             SELECT DISTINCT coalesce(a.person, i.member_id) AS person, i.kind, i.value
             FROM {IDENTITIES} i LEFT JOIN {aliases} a ON a.alias = i.member_id
             WHERE i.kind IN ({kind_list})),
         useful AS (SELECT * FROM persons QUALIFY count(*) OVER (PARTITION BY kind, value) BETWEEN 2 AND {MAX_SHARED}),
         shared AS (
             SELECT x.person AS a, y.person AS b, x.kind, x.value
             FROM useful x JOIN useful y ON x.kind = y.kind AND x.value = y.value AND x.person < y.person),
         pairs AS (
             SELECT a, b, list(kind || CASE WHEN kind = 'phone' THEN ' (keyed hash)' ELSE ' = ' || value END ORDER BY kind) AS evidence
             FROM shared GROUP BY a, b HAVING count(DISTINCT kind) = {n}),
         found AS (
             SELECT p.a, p.b, p.evidence{birth_evidence} AS evidence FROM pairs p {birth}),
         facts AS (
             SELECT m.member_id, CAST(m.joined_at AS VARCHAR) AS joined_at, m.join_channel,
                    coalesce(o.purchases, 0) AS purchases, coalesce(o.revenue_cents, 0) AS revenue_cents,
                    m.joined_at AS joined, o.channels
             FROM members m
             LEFT JOIN (SELECT member_id, count(*) FILTER (WHERE net_amount > 0) AS purchases,
                               CAST(sum(net_amount) * 100 AS BIGINT) AS revenue_cents,
                               list(DISTINCT channel ORDER BY channel) FILTER (WHERE channel IS NOT NULL) AS channels
                        FROM orders WHERE member_id IN (SELECT a FROM found UNION SELECT b FROM found)
                        GROUP BY member_id) o USING (member_id)
             WHERE m.member_id IN (SELECT a FROM found UNION SELECT b FROM found))
         SELECT fa.member_id, fa.joined_at, fa.join_channel, fa.purchases, fa.revenue_cents, coalesce(fa.channels, []),
                fb.member_id, fb.joined_at, fb.join_channel, fb.purchases, fb.revenue_cents, coalesce(fb.channels, []),
                f.evidence, fa.joined < fb.joined OR (fa.joined = fb.joined AND fa.member_id <= fb.member_id)
         FROM found f JOIN facts fa ON fa.member_id = f.a JOIN facts fb ON fb.member_id = f.b
         ORDER BY f.a, f.b LIMIT ?",
        aliases = aliases::aliases(),
        n = kinds.len(),
        birth_evidence =
            if by_birth_year { " || ['birth_year = ' || CAST(ma.birth_year AS VARCHAR)]" } else { "" },
    ))?;
    let member = |r: &duckdb::Row<'_>, at: usize| -> duckdb::Result<CandidateMember> {
        Ok(CandidateMember {
            member_id: r.get(at)?,
            joined_at: r.get(at + 1)?,
            join_channel: r.get(at + 2)?,
            purchases: r.get(at + 3)?,
            revenue_cents: r.get(at + 4)?,
            channels: texts(r.get(at + 5)?),
        })
    };
    let rows = stmt.query_map([limit], |r| {
        let (a, b) = (member(r, 0)?, member(r, 6)?);
        let a_first: bool = r.get(13)?;
        let (survivor, merged) = if a_first { (a, b) } else { (b, a) };
        Ok(Candidate {
            rule_id: rule.id.unwrap_or_default(),
            rule: rule.name.clone(),
            survivor,
            merged,
            evidence: texts(r.get(12)?),
        })
    })?;
    Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
}

fn texts(value: duckdb::types::Value) -> Vec<String> {
    match value {
        duckdb::types::Value::List(items) => items
            .into_iter()
            .filter_map(|v| match v {
                duckdb::types::Value::Text(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Checks a rule an admin sends: a name, and at least one identity kind to match on, the
/// rest kinds or [`RULE_FIELDS`].
pub fn check_rule(rule: &IdentityRule) -> Result<()> {
    let name = rule.name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(Error::bad_param("name", "give the rule a name of at most 80 characters"));
    }
    for m in &rule.match_on {
        if !IDENTITY_KINDS.contains(&m.as_str()) && !RULE_FIELDS.contains(&m.as_str()) {
            return Err(Error::bad_param(
                "match_on",
                format!("expected identity kinds ({}) or birth_year, got {m:?}", IDENTITY_KINDS.join(", ")),
            ));
        }
    }
    if !rule.match_on.iter().any(|m| IDENTITY_KINDS.contains(&m.as_str())) {
        return Err(Error::bad_param("match_on", "match on at least one identity kind"));
    }
    Ok(())
}

/// The pairs every automatic rule proposes, grouped into persons (a member two pairs
/// name joins both): each group's earliest member (then smallest id) survives.
pub fn automatic_pairs(conn: &Connection, rules: &[IdentityRule]) -> Result<Vec<(merge::Pair, String)>> {
    let mut edges: Vec<(CandidateMember, CandidateMember, String)> = Vec::new();
    // A pair once merged and undone was judged not one person: listed for review, never
    // merged again by a rule.
    let mut undone = std::collections::HashSet::new();
    {
        let mut stmt = conn.prepare("SELECT survivor, merged FROM merges WHERE undone_at IS NOT NULL")?;
        for pair in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (a, b) = pair?;
            undone.insert((a.clone(), b.clone()));
            undone.insert((b, a));
        }
    }
    for rule in rules.iter().filter(|r| r.automatic) {
        for c in candidates(conn, rule, 1_000_000)? {
            if !undone.contains(&(c.survivor.member_id.clone(), c.merged.member_id.clone())) {
                edges.push((c.survivor, c.merged, rule.name.clone()));
            }
        }
    }
    // Union-find over member ids, the root being the earliest to join.
    let mut parent: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut joined: std::collections::HashMap<String, (Option<String>, String)> = std::collections::HashMap::new();
    fn root(parent: &mut std::collections::HashMap<String, String>, id: &str) -> String {
        let mut at = id.to_string();
        while let Some(p) = parent.get(&at).filter(|p| **p != at) {
            at = p.clone();
        }
        at
    }
    let mut rule_of: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (a, b, rule) in &edges {
        for m in [a, b] {
            joined.entry(m.member_id.clone()).or_insert((m.joined_at.clone(), m.member_id.clone()));
            parent.entry(m.member_id.clone()).or_insert(m.member_id.clone());
        }
        let (ra, rb) = (root(&mut parent, &a.member_id), root(&mut parent, &b.member_id));
        if ra != rb {
            let (keep, go) = if joined[&ra] <= joined[&rb] { (ra, rb) } else { (rb, ra) };
            parent.insert(go, keep);
        }
        rule_of.entry(b.member_id.clone()).or_insert(rule.clone());
        rule_of.entry(a.member_id.clone()).or_insert(rule.clone());
    }
    let mut ids: Vec<String> = parent.keys().cloned().collect();
    ids.sort();
    let mut pairs = Vec::new();
    for id in ids {
        let r = root(&mut parent, &id);
        if r != id {
            let rule = rule_of.get(&id).cloned().unwrap_or_default();
            pairs.push((merge::Pair { survivor: r, merged: id }, rule));
        }
    }
    Ok(pairs)
}

/// The rules, from the operational store.
pub async fn stored_rules(pool: &Pool) -> Result<Vec<IdentityRule>> {
    rules::list(pool).await
}
