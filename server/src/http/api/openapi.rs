//! The OpenAPI document: every route, its security and its error answers.

use super::*;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "MemberPulse API",
        description = "Member-health metrics, breakdowns and members of a retail loyalty programme."
    ),
    paths(
        health,
        overview,
        breakdown,
        metric_list,
        cohorts,
        tier_migration,
        trend,
        model_status,
        model_fit,
        holdout,
        member_list,
        member_csv,
        member,
        member_consent,
        privacy_access,
        privacy_erase,
        privacy_retention,
        identity_rules,
        identity_rule_create,
        identity_rule_update,
        identity_rule_delete,
        identity_candidates,
        identity_merges,
        identity_merge,
        identity_merge_automatic,
        identity_unmerge,
        campaign_list,
        campaign_create,
        campaign_get,
        campaign_delete,
        campaign_arms_import,
        campaign_readout,
        trigger_list,
        trigger_create,
        trigger_update,
        trigger_delete,
        messaging_channel_list,
        messaging_channel_create,
        messaging_channel_update,
        messaging_channel_delete,
        contact_policy,
        contact_policy_set,
        segment_list,
        segment_get,
        segment_create,
        segment_update,
        segment_delete,
        rfm_rules,
        rfm_rules_replace,
        loads,
        load,
        upload,
        ingest,
        alert_rules,
        alert_rule_create,
        alert_rule_get,
        alert_rule_update,
        alert_rule_delete,
        alert_list,
        alert_get,
        alert_act,
        alert_evaluate,
        crate::access::session,
        crate::access::user_list,
        crate::access::user_create,
        crate::access::user_update,
        crate::access::token_list,
        crate::access::token_create,
        crate::access::token_revoke,
        crate::access::audit_list,
        crate::access::audit_csv
    ),
    modifiers(&BearerAuth, &ErrorAnswers),
    security(("bearer" = []), ("session" = []))
)]
pub(super) struct ApiDoc;

/// The two ways to authenticate: an API token, or the session cookie of a signed-in person.
pub(super) struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::access::SESSION_COOKIE))),
        );
    }
}

/// The errors every route may answer, each with the [`ApiError`] body, written once here
/// rather than on each route: 400 (a bad parameter or body, named), 401 (no session or
/// token), 403 (the role or the token's scope may not; a cross-site request), 404 where
/// the path names something, 413 for bodies over their limit, 429 for the heavy reads.
pub(super) struct ErrorAnswers;

impl utoipa::Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let answer = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build(),
                )
                .build()
        };
        const HEAVY: [&str; 4] = ["/api/v1/cohorts", "/api/v1/trend", "/api/v1/model/holdout", "/api/v1/model/fit"];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/api/v1/health" {
                continue;
            }
            let operations =
                [(false, &mut item.get), (true, &mut item.post), (true, &mut item.put), (false, &mut item.delete)];
            for (with_body, operation) in operations {
                let Some(op) = operation.as_mut() else { continue };
                let mut add = |status: &str, description: &str| {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| answer(description).into());
                };
                add("400", "a bad parameter or body; `param` names it");
                add("401", "no session or token");
                add("403", "the caller's role or token scope may not do this, or a cross-site request");
                if path.contains('{') {
                    add("404", "nothing by that name or id");
                }
                if with_body {
                    add("413", "the body is over its limit");
                }
                if HEAVY.contains(&path.as_str()) {
                    add("429", "busy with other large reports: retry after `Retry-After` seconds");
                }
            }
        }
    }
}

/// The OpenAPI document of this API, generated from the code.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

pub(super) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}
