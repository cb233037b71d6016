//! The members' rights (PIPL): consent changes (operators, admins and ingest tokens), the
//! access document and erasure (admins). Every call is audited; an erasure's audit row
//! names the pseudonym, never the erased id.

use app::model::{ConsentRequest, ErasureReport, PrivacyRequest, RetentionPreview};
use serde_json::{Value, json};

use super::*;

impl Services {
    /// Records a consent change for a stored member; returns whether it changed anything.
    pub async fn change_consent(&self, who: &Caller, member_id: String, req: ConsentRequest) -> Result<bool> {
        who.require(Role::Operator).or_else(|_| who.require_ingest())?;
        let zone = self.zone;
        let (id, change) = (member_id.clone(), req.clone());
        let recorded =
            self.analytics.land(move |conn| crate::privacy::change_consent(conn, &id, &change, zone)).await?;
        audit::record(&self.ops, who, "member.consent", Some(&member_id), Some(&audit::describe(&req))).await?;
        Ok(recorded)
    }

    /// The member a privacy request names (by id, or by the one member with that phone); a
    /// member merged into another names the person they belong to now.
    async fn privacy_target(&self, req: &PrivacyRequest) -> Result<String> {
        let id = req.member_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let phone = req.phone.as_deref().map(str::trim).filter(|s| !s.is_empty());
        match (id, phone) {
            (Some(id), None) => {
                let id = id.to_string();
                self.analytics.read(move |conn| crate::identity::person_of(conn, &id)).await
            }
            (None, Some(phone)) => {
                let phone = phone.to_string();
                self.analytics.read(move |conn| crate::privacy::erase::member_with_phone(conn, &phone)).await
            }
            _ => Err(Error::bad_param("member_id", "name the member by member_id or by phone (one of them)")),
        }
    }

    /// Everything held on one member (PIPL art. 45), as one JSON document. Admins. Audited.
    pub async fn access_document(&self, who: &Caller, req: &PrivacyRequest) -> Result<Value> {
        who.require(Role::Admin)?;
        let member_id = self.privacy_target(req).await?;
        let (cfg, rules) = (self.metrics, rfm::rules(&self.ops).await?);
        let (id, all_rules) = (member_id.clone(), rules.clone());
        let stored = self
            .analytics
            .read(move |conn| crate::privacy::access::analytics_part(conn, &id, cfg, &all_rules))
            .await?
            .ok_or_else(|| Error::NotFound(format!("no member {member_id:?}")))?;
        // The saved segments the member is in now.
        let mut segments = Vec::new();
        for segment in scope::saved::list(&self.ops).await? {
            let criteria = self.filters(who, None, Some(&segment.key)).await?;
            let q =
                app::model::MembersQuery { find: Some(member_id.clone()), page_size: Some(1), ..Default::default() };
            let rules = rules.clone();
            let page = self
                .analytics
                .read(move |conn| {
                    crate::members::list_in(conn, &q, criteria, cfg, rules, crate::members::Personal::Masked)
                })
                .await?;
            if page.rows.iter().any(|r| r.member_id == member_id) {
                segments.push(json!({ "key": segment.key, "name_zh": segment.name_zh, "name_en": segment.name_en }));
            }
        }
        let needle = serde_json::to_string(&member_id).unwrap_or_default();
        let events: Vec<Value> = sqlx::query_as::<_, (i64, String, String, String)>(
            "SELECT e.id, r.name, e.state, e.opened_at FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id
             WHERE instr(e.members, ?) > 0 ORDER BY e.id",
        )
        .bind(&needle)
        .fetch_all(&self.ops)
        .await?
        .into_iter()
        .map(|(id, rule, state, opened_at)| json!({ "event_id": id, "rule": rule, "state": state, "opened_at": opened_at }))
        .collect();
        let audit: Vec<Value> = sqlx::query_as::<_, (String, String, String, String)>(
            "SELECT at, actor, role, action FROM audit_log WHERE target = ? OR instr(filter, ?) > 0 ORDER BY id",
        )
        .bind(&member_id)
        .bind(&needle)
        .fetch_all(&self.ops)
        .await?
        .into_iter()
        .map(|(at, actor, role, action)| json!({ "at": at, "actor": actor, "role": role, "action": action }))
        .collect();
        let handed: Vec<Value> = sqlx::query_as::<_, (i64, Option<String>, i64, String, String, String)>(
            "SELECT d.trigger_id, t.name, d.episode, d.status, d.created_at, d.facts
             FROM trigger_deliveries d LEFT JOIN triggers t ON t.id = d.trigger_id WHERE d.member_id = ? ORDER BY d.created_at",
        )
        .bind(&member_id)
        .fetch_all(&self.ops)
        .await?
        .into_iter()
        .map(|(id, name, episode, status, at, facts)| {
            json!({ "trigger_id": id, "trigger": name, "episode": episode, "status": status, "at": at,
                    "facts": serde_json::from_str::<Value>(&facts).unwrap_or_default() })
        })
        .collect();
        audit::record(&self.ops, who, "privacy.access", Some(&member_id), None).await?;
        Ok(json!({
            "document": "MemberPulse access document (PIPL art. 45)",
            "generated_at": crate::store::operational::stamp(chrono::Utc::now()),
            "generated_by": who.name,
            "member_id": member_id,
            "profile": stored["profile"],
            "order_items": stored["order_items"],
            "campaign_arms": stored["campaign_arms"],
            "saved_segments": segments,
            "alert_events": events,
            "trigger_deliveries": handed,
            "audit": audit,
        }))
    }

    /// Erases a member (PIPL art. 47; see [`crate::privacy::erase`]): the analytics rows,
    /// then the operational store's mentions of the id, then the analytics file copied
    /// anew. Admins. Audited under the pseudonym.
    pub async fn erase_member(&self, who: &Caller, req: &PrivacyRequest) -> Result<ErasureReport> {
        who.require(Role::Admin)?;
        let member_id = self.privacy_target(req).await?;
        let reason = req.reason.clone().unwrap_or_default();
        let (id, by) = (member_id.clone(), who.name.clone());
        let erased = self
            .analytics
            .write_bulk(move |conn, _landing| crate::privacy::erase::erase(conn, &id, &by, &reason))
            .await?;
        // The file is copied anew whatever becomes of the operational store's part (an
        // error there is answered after the copy; `copy_wanted` asked for it already).
        let forgotten = self.forget_in_operational(who, &member_id, &erased.pseudonym).await;
        let analytics = self.analytics.clone();
        let file_bytes = tokio::task::spawn_blocking(move || analytics.rewrite()).await??;
        let operational_rows = forgotten?;
        Ok(ErasureReport { pseudonym: erased.pseudonym, rows: erased.rows, operational_rows, file_bytes })
    }

    /// The operational store's part of an erasure: the id becomes the pseudonym in alert
    /// events, queued notices, the load history and audit rows; the erasure is audited;
    /// SQLite's log is truncated. Returns the rows changed.
    async fn forget_in_operational(&self, who: &Caller, member_id: &str, pseudonym_id: &str) -> Result<u64> {
        let needle = serde_json::to_string(member_id).unwrap_or_default();
        let pseudonym = serde_json::to_string(pseudonym_id).unwrap_or_default();
        let mut tx = self.ops.begin().await?;
        let mut operational_rows = 0;
        for (table, column) in [
            ("alert_events", "members"),
            ("alert_outbox", "payload"),
            ("audit_log", "filter"),
            ("loads", "report"),
            ("trigger_outbox", "payload"),
        ] {
            operational_rows += sqlx::query(&format!(
                "UPDATE {table} SET {column} = replace({column}, ?, ?) WHERE instr({column}, ?) > 0"
            ))
            .bind(&needle)
            .bind(&pseudonym)
            .bind(&needle)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        operational_rows += sqlx::query("UPDATE trigger_deliveries SET member_id = ? WHERE member_id = ?")
            .bind(pseudonym_id)
            .bind(member_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        operational_rows += sqlx::query("UPDATE audit_log SET target = ? WHERE target = ?")
            .bind(pseudonym_id)
            .bind(member_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        audit::record(&self.ops, who, "privacy.erase", Some(pseudonym_id), None).await?;
        // The old values leave the operational store's log (secure_delete overwrites
        // SQLite's free pages).
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.ops).await?;
        Ok(operational_rows)
    }

    /// The time now in the retailer's zone (stored times are its local times).
    pub(super) fn local_now(&self) -> chrono::NaiveDateTime {
        chrono::Utc::now().with_timezone(&self.zone).naive_local()
    }

    /// How many members a retention period (`days`, or the server's) would strip now.
    /// Admins.
    pub async fn retention_preview(&self, who: &Caller, days: Option<u32>) -> Result<RetentionPreview> {
        who.require(Role::Admin)?;
        let days = days.or(self.retention_days).ok_or_else(|| {
            Error::bad_param("days", "give a period in days (the server runs without --personal-data-retention-days)")
        })?;
        let now = self.local_now();
        let mut preview = self.analytics.read(move |conn| crate::privacy::retention::preview(conn, days, now)).await?;
        preview.configured_days = self.retention_days;
        Ok(preview)
    }

    /// Strips the names and phones the retention period `days` says are due (the daily
    /// job), then copies the analytics file anew so that no old value stays in it.
    /// Audited as the system when it strips any.
    pub async fn apply_retention(&self, days: u32) -> Result<RetentionPreview> {
        let now = self.local_now();
        let mut done =
            self.analytics.write_bulk(move |conn, _landing| crate::privacy::retention::strip(conn, days, now)).await?;
        done.configured_days = self.retention_days;
        if done.members > 0 {
            let what = format!("{} members", done.members);
            let filter = format!("days={days}&cutoff={}", done.cutoff);
            let audited =
                audit::record(&self.ops, &Caller::system(), "privacy.retention", Some(&what), Some(&filter)).await;
            let analytics = self.analytics.clone();
            tokio::task::spawn_blocking(move || analytics.rewrite()).await??;
            audited?;
        }
        Ok(done)
    }
}
