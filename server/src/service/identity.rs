//! Identity (SPEC §11): matching rules, candidates, merges and their undoing. Admins only;
//! every change is audited. A merge or an undo changes the figures: the dashboards are
//! pushed, alerts evaluated and the model refitted, as after a load.

use app::model::{Candidate, IdentityRule, MergeRecord, MergeReport, MergeRequest};

use super::*;
use crate::identity::{self, merge};

/// The most candidates or merges one answer lists.
pub const MAX_LISTED: u32 = 1000;

impl Services {
    pub async fn identity_rules(&self, who: &Caller) -> Result<Vec<IdentityRule>> {
        who.require(Role::Admin)?;
        identity::rules::list(&self.ops).await
    }

    pub async fn create_identity_rule(&self, who: &Caller, rule: IdentityRule) -> Result<IdentityRule> {
        who.require(Role::Admin)?;
        let made = identity::rules::create(&self.ops, &rule, &who.name).await?;
        audit::record(&self.ops, who, "identity.rule.create", Some(&made.name), Some(&audit::describe(&made))).await?;
        Ok(made)
    }

    pub async fn update_identity_rule(&self, who: &Caller, id: i64, rule: IdentityRule) -> Result<IdentityRule> {
        who.require(Role::Admin)?;
        let made = identity::rules::update(&self.ops, id, &rule, &who.name).await?;
        audit::record(&self.ops, who, "identity.rule.update", Some(&made.name), Some(&audit::describe(&made))).await?;
        Ok(made)
    }

    pub async fn delete_identity_rule(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Admin)?;
        identity::rules::delete(&self.ops, id).await?;
        audit::record(&self.ops, who, "identity.rule.delete", Some(&id.to_string()), None).await
    }

    /// The pairs the rules (or the one rule `rule`) propose, at most `limit` (default 100).
    /// Admins; audited (it lists members).
    pub async fn identity_candidates(
        &self,
        who: &Caller,
        rule: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<Candidate>> {
        who.require(Role::Admin)?;
        let limit = limit.unwrap_or(100);
        if limit == 0 || limit > MAX_LISTED {
            return Err(Error::bad_param("limit", format!("expected 1 to {MAX_LISTED}")));
        }
        let rules = match rule {
            Some(id) => vec![identity::rules::get(&self.ops, id).await?],
            None => identity::rules::list(&self.ops).await?,
        };
        let found = self
            .analytics
            .read(move |conn| {
                let mut all = Vec::new();
                for rule in &rules {
                    let left = limit as i64 - all.len() as i64;
                    if left <= 0 {
                        break;
                    }
                    all.extend(identity::candidates(conn, rule, left)?);
                }
                Ok(all)
            })
            .await?;
        audit::record(&self.ops, who, "identity.candidates", None, rule.map(|r| format!("rule={r}")).as_deref())
            .await?;
        Ok(found)
    }

    /// Merges `req.merged` into `req.survivor`. Admins; audited.
    pub async fn merge_members(&self, who: &Caller, req: MergeRequest) -> Result<MergeReport> {
        who.require(Role::Admin)?;
        if req.merged.is_empty() || req.merged.len() > MAX_LISTED as usize {
            return Err(Error::bad_param("merged", format!("name 1 to {MAX_LISTED} members to merge")));
        }
        let pairs: Vec<merge::Pair> =
            req.merged.iter().map(|m| merge::Pair { survivor: req.survivor.clone(), merged: m.clone() }).collect();
        let by = who.name.clone();
        let moved = self.analytics.write_bulk(move |conn, _landing| merge::merge(conn, &pairs, &by, None)).await?;
        audit::record(&self.ops, who, "identity.merge", Some(&req.survivor), Some(&audit::describe(&req))).await?;
        self.data_landed();
        Ok(report(moved))
    }

    /// Merges every pair the automatic rules propose. Admins (and the server after a load,
    /// as the CLI caller); audited when anything merged.
    pub async fn merge_automatic(&self, who: &Caller) -> Result<MergeReport> {
        who.require(Role::Admin)?;
        let rules: Vec<IdentityRule> =
            identity::rules::list(&self.ops).await?.into_iter().filter(|r| r.automatic).collect();
        if rules.is_empty() {
            return Ok(report(merge::Moved::default()));
        }
        let by = who.name.clone();
        let moved = self
            .analytics
            .write_bulk(move |conn, _landing| {
                let pairs = identity::automatic_pairs(conn, &rules)?;
                // One transaction per rule name, so each merge records the rule that made it.
                let mut all = merge::Moved::default();
                let mut names: Vec<String> = pairs.iter().map(|(_, r)| r.clone()).collect();
                names.sort();
                names.dedup();
                for name in names {
                    let these: Vec<merge::Pair> =
                        pairs.iter().filter(|(_, r)| *r == name).map(|(p, _)| p.clone()).collect();
                    // A pair the checks refuse (tier changes at one instant) is left for
                    // review; the others merge one by one then.
                    let done = match merge::merge(conn, &these, &by, Some(&name)) {
                        Err(Error::Conflict(_)) => these
                            .iter()
                            .filter_map(|p| merge::merge(conn, std::slice::from_ref(p), &by, Some(&name)).ok())
                            .collect(),
                        other => vec![other?],
                    };
                    for moved in done {
                        all.merge_ids.extend(moved.merge_ids);
                        all.orders += moved.orders;
                        all.points += moved.points;
                        all.tier_changes += moved.tier_changes;
                    }
                }
                Ok(all)
            })
            .await?;
        if !moved.merge_ids.is_empty() {
            let what = format!("merges={}", moved.merge_ids.len());
            audit::record(&self.ops, who, "identity.merge.automatic", None, Some(&what)).await?;
            // Run by the refit job (as `system`) the fit follows anyway; asked for, it is requested.
            self.figures_changed();
            self.data_changed.notify_one();
            if who.name != "system" {
                self.refit.request();
            }
        }
        Ok(report(moved))
    }

    /// Undoes merge `merge_id`. Admins; audited.
    pub async fn undo_merge(&self, who: &Caller, merge_id: i64) -> Result<MergeReport> {
        who.require(Role::Admin)?;
        let by = who.name.clone();
        let moved = self.analytics.write_bulk(move |conn, _landing| merge::undo(conn, merge_id, &by)).await?;
        audit::record(&self.ops, who, "identity.unmerge", Some(&merge_id.to_string()), None).await?;
        self.data_landed();
        Ok(report(moved))
    }

    /// The merges, newest first (undone ones included), at most `limit` (default 100). Admins.
    pub async fn merges(&self, who: &Caller, limit: Option<u32>) -> Result<Vec<MergeRecord>> {
        who.require(Role::Admin)?;
        let limit = limit.unwrap_or(100);
        if limit == 0 || limit > MAX_LISTED {
            return Err(Error::bad_param("limit", format!("expected 1 to {MAX_LISTED}")));
        }
        self.analytics.read(move |conn| merge::list(conn, limit as i64)).await
    }
}

fn report(moved: merge::Moved) -> MergeReport {
    MergeReport {
        merge_ids: moved.merge_ids,
        orders: moved.orders,
        points: moved.points,
        tier_changes: moved.tier_changes,
    }
}
