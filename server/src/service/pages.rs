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

impl Engine for Services {
    fn overview(&self, who: Viewer, query: OverviewQuery) -> EngineFuture<Overview> {
        let s = self.clone();
        for_pages("overview", async move { s.overview(&Caller::signed_in(&who), query).await })
    }

    fn trend(&self, who: Viewer, query: TrendQuery) -> EngineFuture<Trend> {
        let s = self.clone();
        for_pages("trend", async move { s.trend(&Caller::signed_in(&who), query).await })
    }

    fn breakdown(&self, who: Viewer, query: BreakdownQuery) -> EngineFuture<Breakdown> {
        let s = self.clone();
        for_pages("breakdown", async move { s.breakdown(&Caller::signed_in(&who), query).await })
    }

    fn cohorts(&self, who: Viewer, query: CohortQuery) -> EngineFuture<Cohorts> {
        let s = self.clone();
        for_pages("cohorts", async move { s.cohorts(&Caller::signed_in(&who), query).await })
    }

    fn members(&self, who: Viewer, query: MembersQuery) -> EngineFuture<MemberPage> {
        let s = self.clone();
        for_pages("members", async move { s.members(&Caller::signed_in(&who), query).await })
    }

    fn member(&self, who: Viewer, member_id: String) -> EngineFuture<Member360> {
        let s = self.clone();
        for_pages("member", async move {
            s.member(&Caller::signed_in(&who), member_id.clone())
                .await?
                .ok_or_else(|| Error::NotFound(format!("no member {member_id:?}")))
        })
    }

    fn saved_segments(&self, who: Viewer) -> EngineFuture<Vec<Segment>> {
        let s = self.clone();
        for_pages("segments", async move { s.segments(&Caller::signed_in(&who)).await })
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

    fn model_status(&self, who: Viewer) -> EngineFuture<ModelStatus> {
        let s = self.clone();
        for_pages("model status", async move { s.model_status(&Caller::signed_in(&who)).await })
    }

    fn alerts(&self, who: Viewer, query: AlertQuery) -> EngineFuture<Vec<AlertEvent>> {
        let s = self.clone();
        for_pages("alerts", async move { s.alerts(&Caller::signed_in(&who), query).await })
    }

    fn alert_rules(&self, who: Viewer) -> EngineFuture<Vec<AlertRule>> {
        let s = self.clone();
        for_pages("alert rules", async move { s.alert_rules(&Caller::signed_in(&who)).await })
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

    fn holdout(&self, who: Viewer, query: HoldoutQuery) -> EngineFuture<Holdout> {
        let s = self.clone();
        for_pages("holdout", async move { s.holdout(&Caller::signed_in(&who), query).await })
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

    fn save_language(&self, who: Viewer, lang: String) -> EngineFuture<()> {
        let ops = self.ops.clone();
        for_pages("save language", async move { crate::access::users::set_language(&ops, &who.name, &lang).await })
    }
}

pub fn app_state(services: &Services) -> app::state::AppState {
    app::state::AppState { engine: Arc::new(services.clone()) }
}
