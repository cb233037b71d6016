//! The engine the pages' server functions call (`app::state::Engine`), as the signed-in
//! viewer: each page operation forwards to the service method of the same name.

use super::*;

/// A service call as the pages get it.
fn for_pages<T: Send + 'static>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> EngineFuture<T> {
    Box::pin(async move {
        call.await.map_err(|e| {
            if e.is_server_fault() {
                tracing::error!(error = %e, "{what} failed");
            }
            EngineError { bad_input: e.is_bad_input(), message: e.public_message(), status: e.status().as_u16() }
        })
    })
}

/// Engine methods that pass the viewer's query to the service method of the same name.
macro_rules! forward {
    ($( $name:ident ( $($arg:ident : $ty:ty)? ) -> $out:ty, $what:literal; )*) => {
        $(
            fn $name(&self, who: Viewer $(, $arg: $ty)?) -> EngineFuture<$out> {
                let s = self.clone();
                for_pages($what, async move { s.$name(&Caller::signed_in(&who) $(, $arg)?).await })
            }
        )*
    };
}

impl Engine for Services {
    forward! {
        overview(query: OverviewQuery) -> Overview, "overview";
        trend(query: TrendQuery) -> Trend, "trend";
        breakdown(query: BreakdownQuery) -> Breakdown, "breakdown";
        cohorts(query: CohortQuery) -> Cohorts, "cohorts";
        members(query: MembersQuery) -> MemberPage, "members";
        create_segment(segment: Segment) -> Segment, "save segment";
        update_segment(segment: Segment) -> Segment, "update segment";
        tier_migration(query: TierMigrationQuery) -> TierMigration, "tier migration";
        model_status() -> ModelStatus, "model status";
        alerts(query: AlertQuery) -> Vec<AlertEvent>, "alerts";
        alert_rules() -> Vec<AlertRule>, "alert rules";
        holdout(query: HoldoutQuery) -> Holdout, "holdout";
        campaigns() -> Vec<app::model::Campaign>, "campaigns";
        create_campaign(campaign: app::model::Campaign) -> app::model::Campaign, "create campaign";
        campaign_readout(id: i64) -> app::model::Readout, "campaign readout";
        triggers() -> Vec<app::model::Trigger>, "triggers";
        delete_trigger(id: i64) -> (), "delete trigger";
        messaging_channels() -> Vec<app::model::MessagingChannel>, "messaging channels";
        create_messaging_channel(channel: app::model::MessagingChannel) -> app::model::MessagingChannel, "create messaging channel";
        contact_policy() -> app::model::ContactPolicy, "contact policy";
    }

    fn save_trigger(&self, who: Viewer, trigger: app::model::Trigger) -> EngineFuture<app::model::Trigger> {
        let s = self.clone();
        for_pages("save trigger", async move {
            let who = Caller::signed_in(&who);
            match trigger.id {
                0 => s.create_trigger(&who, trigger).await,
                id => s.update_trigger(&who, id, trigger).await,
            }
        })
    }

    fn save_contact_policy(
        &self,
        who: Viewer,
        policy: app::model::ContactPolicy,
    ) -> EngineFuture<app::model::ContactPolicy> {
        let s = self.clone();
        for_pages("save contact policy", async move { s.set_contact_policy(&Caller::signed_in(&who), policy).await })
    }

    fn member(&self, who: Viewer, member_id: String) -> EngineFuture<Member360> {
        let s = self.clone();
        for_pages("member", async move {
            s.member(&Caller::signed_in(&who), member_id.clone())
                .await?
                .ok_or_else(|| Error::NotFound(format!("no member {member_id:?}")))
        })
    }

    fn delete_segment(&self, who: Viewer, key: String) -> EngineFuture<()> {
        let s = self.clone();
        for_pages("delete segment", async move { s.delete_segment(&Caller::signed_in(&who), &key).await })
    }

    fn saved_segments(&self, who: Viewer) -> EngineFuture<Vec<Segment>> {
        let s = self.clone();
        for_pages("segments", async move { s.segments(&Caller::signed_in(&who)).await })
    }

    fn rfm_rules(&self, who: Viewer) -> EngineFuture<Vec<app::model::RfmRule>> {
        let s = self.clone();
        for_pages("rfm rules", async move { s.rfm_rules(&Caller::signed_in(&who)).await })
    }

    fn save_rfm_rules(&self, who: Viewer, rules: Vec<app::model::RfmRule>) -> EngineFuture<Vec<app::model::RfmRule>> {
        let s = self.clone();
        for_pages("save rfm rules", async move { s.replace_rfm_rules(&Caller::signed_in(&who), rules).await })
    }

    fn segment_names(&self, who: Viewer) -> EngineFuture<Vec<SegmentName>> {
        let s = self.clone();
        for_pages("segment names", async move {
            Ok(s.rfm_rules(&Caller::signed_in(&who))
                .await?
                .into_iter()
                .map(|r| SegmentName { key: r.key, name_zh: r.name_zh, name_en: r.name_en })
                .collect())
        })
    }

    fn save_alert_rule(&self, who: Viewer, rule: AlertRule) -> EngineFuture<AlertRule> {
        let s = self.clone();
        for_pages("save alert rule", async move {
            let who = Caller::signed_in(&who);
            if rule.id == 0 { s.create_alert_rule(&who, rule).await } else { s.update_alert_rule(&who, rule).await }
        })
    }

    fn act_on_alert(&self, who: Viewer, id: i64, action: String, minutes: Option<u32>) -> EngineFuture<AlertEvent> {
        let s = self.clone();
        for_pages("alert action", async move {
            let snooze = minutes.map(|m| SnoozeRequest { until: None, minutes: Some(m) });
            s.act_on_alert(&Caller::signed_in(&who), id, &action, snooze).await
        })
    }

    fn users(&self, who: Viewer) -> EngineFuture<Vec<User>> {
        let ops = self.ops.clone();
        for_pages("users", async move { crate::access::list_users(&ops, &Caller::signed_in(&who)).await })
    }

    fn save_user(&self, who: Viewer, change: UserChange, create: bool) -> EngineFuture<User> {
        let ops = self.ops.clone();
        for_pages("save user", async move {
            let who = Caller::signed_in(&who);
            if create {
                crate::access::create_user(&ops, &who, change).await
            } else {
                crate::access::update_user(&ops, &who, change).await
            }
        })
    }

    fn tokens(&self, who: Viewer) -> EngineFuture<Vec<ApiToken>> {
        let ops = self.ops.clone();
        for_pages("tokens", async move { crate::access::list_tokens(&ops, &Caller::signed_in(&who)).await })
    }

    fn create_token(&self, who: Viewer, request: TokenRequest) -> EngineFuture<ApiToken> {
        let ops = self.ops.clone();
        for_pages(
            "create token",
            async move { crate::access::create_token(&ops, &Caller::signed_in(&who), request).await },
        )
    }

    fn revoke_token(&self, who: Viewer, id: i64) -> EngineFuture<ApiToken> {
        let ops = self.ops.clone();
        for_pages("revoke token", async move { crate::access::revoke_token(&ops, &Caller::signed_in(&who), id).await })
    }

    fn audit(&self, who: Viewer, query: AuditQuery) -> EngineFuture<Vec<AuditEntry>> {
        let ops = self.ops.clone();
        for_pages("audit", async move { crate::access::audit_entries(&ops, &Caller::signed_in(&who), &query).await })
    }

    fn loads(&self, who: Viewer) -> EngineFuture<Vec<app::model::LoadRecord>> {
        let s = self.clone();
        for_pages("loads", async move { s.loads(&Caller::signed_in(&who), 50).await })
    }

    fn load_rejects(&self, who: Viewer, id: i64) -> EngineFuture<Vec<app::model::LoadReject>> {
        let s = self.clone();
        for_pages("load rejects", async move { s.load_rejects(&Caller::signed_in(&who), id).await })
    }

    fn privacy_access(&self, who: Viewer, request: app::model::PrivacyRequest) -> EngineFuture<String> {
        let s = self.clone();
        for_pages("privacy access", async move {
            let document = s.access_document(&Caller::signed_in(&who), &request).await?;
            Ok(serde_json::to_string_pretty(&document).unwrap_or_default())
        })
    }

    fn erase_member(
        &self,
        who: Viewer,
        request: app::model::PrivacyRequest,
    ) -> EngineFuture<app::model::ErasureReport> {
        let s = self.clone();
        for_pages("erase member", async move { s.erase_member(&Caller::signed_in(&who), &request).await })
    }

    fn retention_preview(&self, who: Viewer, days: Option<u32>) -> EngineFuture<app::model::RetentionPreview> {
        let s = self.clone();
        for_pages("retention preview", async move { s.retention_preview(&Caller::signed_in(&who), days).await })
    }

    fn identity_candidates(&self, who: Viewer) -> EngineFuture<Vec<app::model::Candidate>> {
        let s = self.clone();
        for_pages(
            "identity candidates",
            async move { s.identity_candidates(&Caller::signed_in(&who), None, None).await },
        )
    }

    fn merges(&self, who: Viewer) -> EngineFuture<Vec<app::model::MergeRecord>> {
        let s = self.clone();
        for_pages("merges", async move { s.merges(&Caller::signed_in(&who), Some(50)).await })
    }

    fn merge_members(&self, who: Viewer, request: app::model::MergeRequest) -> EngineFuture<app::model::MergeReport> {
        let s = self.clone();
        for_pages("merge members", async move { s.merge_members(&Caller::signed_in(&who), request).await })
    }

    fn undo_merge(&self, who: Viewer, merge_id: i64) -> EngineFuture<app::model::MergeReport> {
        let s = self.clone();
        for_pages("undo merge", async move { s.undo_merge(&Caller::signed_in(&who), merge_id).await })
    }

    fn save_language(&self, who: Viewer, lang: String) -> EngineFuture<()> {
        let ops = self.ops.clone();
        for_pages("save language", async move { crate::access::users::set_language(&ops, &who.name, &lang).await })
    }
}

pub fn app_state(services: &Services) -> app::state::AppState {
    app::state::AppState { engine: Arc::new(services.clone()) }
}
