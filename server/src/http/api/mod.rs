//! The JSON API under `/api/v1`. The pages use the same [`Services`].

use app::model::{
    AlertEvent, AlertQuery, AlertRule, Breakdown, BreakdownQuery, CohortQuery, Cohorts, Dimension, FitRequest, Holdout,
    HoldoutQuery, Member360, MemberPage, MembersQuery, Metric, ModelStatus, Overview, OverviewQuery, Segment,
    SnoozeRequest, TierMigration, TierMigrationQuery, Trend, TrendQuery,
};
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

use crate::{
    Error, Result,
    access::Caller,
    error::ApiError,
    http::extract::{Json as Body, Path, Query},
    load::import::{Kind, LoadReport, LoadRequest, Mapping},
    metrics::rfm::RfmRule,
    service::Services,
    store::operational::LoadRecord,
};

#[derive(Clone)]
struct ApiState {
    services: Services,
}

/// The routes; every one but health and the OpenAPI document takes a [`Caller`] (401
/// without one) and the services check its role (403).
pub fn router(services: Services, upload_max_bytes: usize) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/breakdown", get(breakdown))
        .route("/api/v1/trend", get(trend))
        .route("/api/v1/metrics", get(metric_list))
        .route("/api/v1/cohorts", get(cohorts))
        .route("/api/v1/tiers/migration", get(tier_migration))
        .route("/api/v1/model", get(model_status))
        .route("/api/v1/model/fit", axum::routing::post(model_fit))
        .route("/api/v1/model/holdout", get(holdout))
        .route("/api/v1/members", get(member_list))
        .route("/api/v1/members.csv", get(member_csv))
        .route("/api/v1/members/{member_id}", get(member))
        .route("/api/v1/segments", get(segment_list).post(segment_create))
        .route("/api/v1/segments/{key}", get(segment_get).put(segment_update).delete(segment_delete))
        .route("/api/v1/rfm-rules", get(rfm_rules).put(rfm_rules_replace))
        .route("/api/v1/loads", get(loads).post(load))
        .route(
            "/api/v1/loads/upload",
            axum::routing::post(upload).layer(axum::extract::DefaultBodyLimit::max(upload_max_bytes)),
        )
        .route(
            "/api/v1/ingest/{table}",
            axum::routing::post(ingest).layer(axum::extract::DefaultBodyLimit::max(INGEST_MAX_BYTES)),
        )
        .route("/api/v1/alerts", get(alert_list))
        .route("/api/v1/alerts/evaluate", axum::routing::post(alert_evaluate))
        .route("/api/v1/alerts/stream", get(alert_stream))
        .route("/api/v1/alerts/rules", get(alert_rules).post(alert_rule_create))
        .route("/api/v1/alerts/rules/{id}", get(alert_rule_get).put(alert_rule_update).delete(alert_rule_delete))
        .route("/api/v1/alerts/{id}", get(alert_get))
        .route("/api/v1/alerts/{id}/{action}", axum::routing::post(alert_act))
        .route("/api/v1/openapi.json", get(openapi))
        .with_state(ApiState { services })
}

#[utoipa::path(get, path = "/api/v1/health", security(()), responses((status = 200, description = "the server is up", body = Object)))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Every metric for a window ending at `as_of` and its comparison window.
#[utoipa::path(get, path = "/api/v1/overview", params(OverviewQuery),
    responses((status = 200, body = Overview), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn overview(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<OverviewQuery>,
) -> Result<Json<Overview>> {
    Ok(Json(api.services.overview(&caller, query).await?))
}

/// A metric for every value of a dimension among the filtered members
/// (`filters=region:华东|华南;tier:gold`: AND across dimensions, OR within one).
#[utoipa::path(get, path = "/api/v1/breakdown", params(BreakdownQuery),
    responses((status = 200, body = Breakdown), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn breakdown(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<BreakdownQuery>,
) -> Result<Json<Breakdown>> {
    Ok(Json(api.services.breakdown(&caller, query).await?))
}

/// The metric catalogue and the dimensions.
#[utoipa::path(get, path = "/api/v1/metrics", responses((status = 200, description = "metrics and dimensions with their names")))]
async fn metric_list(_signed_in: Caller) -> Json<Value> {
    let metrics: Vec<Value> = Metric::ALL
        .iter()
        .map(|m| json!({ "key": m.key(), "zh": m.name().zh, "en": m.name().en, "unit": m.unit(), "higher_is_better": m.higher_is_better() }))
        .collect();
    let dimensions: Vec<Value> =
        Dimension::ALL.iter().map(|d| json!({ "key": d.key(), "zh": d.name().zh, "en": d.name().en })).collect();
    Json(json!({ "metrics": metrics, "dimensions": dimensions }))
}

/// The members matching the filters (as of `as_of`), one page, with the total.
#[utoipa::path(get, path = "/api/v1/members", params(MembersQuery),
    responses((status = 200, body = MemberPage), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn member_list(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<MembersQuery>,
) -> Result<Json<MemberPage>> {
    Ok(Json(api.services.members(&caller, query).await?))
}

/// The member 360 record: profile, summary, stage, orders and points.
#[utoipa::path(get, path = "/api/v1/members/{member_id}", params(("member_id" = String, Path)),
    responses((status = 200, body = Member360), (status = 404, body = ApiError)))]
async fn member(State(api): State<ApiState>, caller: Caller, Path(member_id): Path<String>) -> Result<Json<Member360>> {
    match api.services.member(&caller, member_id.clone()).await? {
        Some(m) => Ok(Json(m)),
        None => Err(Error::NotFound(format!("no member {member_id:?}"))),
    }
}

/// Join-month cohorts as of T: the retention matrix (share of each cohort purchasing
/// in each month since joining) and LTV at 1, 3, 6, 12 and 24 months.
#[utoipa::path(get, path = "/api/v1/cohorts", params(CohortQuery),
    responses((status = 200, body = Cohorts), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn cohorts(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<CohortQuery>,
) -> Result<Json<Cohorts>> {
    Ok(Json(api.services.cohorts(&caller, query).await?))
}

/// Members by their tier at the end of `from` and at the end of `to` (joined by `from`).
#[utoipa::path(get, path = "/api/v1/tiers/migration", params(TierMigrationQuery),
    responses((status = 200, body = TierMigration), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn tier_migration(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<TierMigrationQuery>,
) -> Result<Json<TierMigration>> {
    Ok(Json(api.services.tier_migration(&caller, query).await?))
}

/// Metrics (default: the four headline KPIs) over `points` consecutive windows of
/// `window` days, the last ending at `as_of`, under the filters or segment.
#[utoipa::path(get, path = "/api/v1/trend", params(TrendQuery),
    responses((status = 200, body = Trend), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn trend(State(api): State<ApiState>, caller: Caller, Query(query): Query<TrendQuery>) -> Result<Json<Trend>> {
    Ok(Json(api.services.trend(&caller, query).await?))
}

/// The predictive model: T of the stored member scores, the last BG/NBD and Gamma-Gamma
/// fits (parameters, standard errors, log-likelihood), whether a refit is running and
/// why the last one failed. A refit follows every data load.
#[utoipa::path(get, path = "/api/v1/model", responses((status = 200, body = ModelStatus)))]
async fn model_status(State(api): State<ApiState>, caller: Caller) -> Result<Json<ModelStatus>> {
    Ok(Json(api.services.model_status(&caller).await?))
}

/// Fits both models as of `as_of` (default: the latest order day), replaces the member
/// scores and answers when done. Too little data, or a fit that does not converge, is a
/// 422 with the reason; the previous scores stay.
#[utoipa::path(post, path = "/api/v1/model/fit", request_body = FitRequest,
    responses((status = 200, body = ModelStatus), (status = 400, body = ApiError), (status = 422, body = ApiError)))]
async fn model_fit(
    State(api): State<ApiState>,
    caller: Caller,
    Body(request): Body<FitRequest>,
) -> Result<Json<ModelStatus>> {
    api.services.fit(&caller, request.as_of).await?;
    Ok(Json(api.services.model_status(&caller).await?))
}

/// The purchase model's holdout check: BG/NBD fitted up to `as_of − days`, its expected
/// purchase days in the holdout beside the actual ones, by repeat-purchase bucket. A 400
/// names `days`; too little data to fit is a 400 with the reason.
#[utoipa::path(get, path = "/api/v1/model/holdout", params(HoldoutQuery),
    responses((status = 200, body = Holdout), (status = 400, body = ApiError)))]
async fn holdout(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<HoldoutQuery>,
) -> Result<Json<Holdout>> {
    Ok(Json(api.services.holdout(&caller, query).await?))
}

/// The members of a query (as `/api/v1/members`, every page) as CSV: UTF-8 with a
/// byte-order mark, names and phones masked; at most 100,000 rows.
#[utoipa::path(get, path = "/api/v1/members.csv", params(MembersQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ApiError)))]
async fn member_csv(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<MembersQuery>,
) -> Result<impl axum::response::IntoResponse> {
    let csv = api.services.members_csv(&caller, query).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"members.csv\""),
        ],
        csv,
    ))
}

/// The alert rules (SPEC §7), the four defaults first.
#[utoipa::path(get, path = "/api/v1/alerts/rules", responses((status = 200, body = Vec<AlertRule>)))]
async fn alert_rules(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<AlertRule>>> {
    Ok(Json(api.services.alert_rules(&caller).await?))
}

/// Creates a rule; a bad field is a 400 naming it (e.g. `metric`, `threshold`,
/// `channels[0].url`). It is evaluated at once.
#[utoipa::path(post, path = "/api/v1/alerts/rules", request_body = AlertRule,
    responses((status = 201, body = AlertRule), (status = 400, body = ApiError)))]
async fn alert_rule_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(rule): Body<AlertRule>,
) -> Result<(StatusCode, Json<AlertRule>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_alert_rule(&caller, rule).await?)))
}

#[utoipa::path(get, path = "/api/v1/alerts/rules/{id}", params(("id" = i64, Path)), responses((status = 200, body = AlertRule), (status = 404, body = ApiError)))]
async fn alert_rule_get(State(api): State<ApiState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<AlertRule>> {
    Ok(Json(api.services.alert_rule(&caller, id).await?))
}

#[utoipa::path(put, path = "/api/v1/alerts/rules/{id}", params(("id" = i64, Path)), request_body = AlertRule,
    responses((status = 200, body = AlertRule), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn alert_rule_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(rule): Body<AlertRule>,
) -> Result<Json<AlertRule>> {
    Ok(Json(api.services.update_alert_rule(&caller, AlertRule { id, ..rule }).await?))
}

#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ApiError)))]
async fn alert_rule_delete(State(api): State<ApiState>, caller: Caller, Path(id): Path<i64>) -> Result<StatusCode> {
    api.services.delete_alert_rule(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Alert history, newest first: `state=open|firing|acknowledged|snoozed|resolved`,
/// `rule_id`, `severity`, `limit`.
#[utoipa::path(get, path = "/api/v1/alerts", params(AlertQuery), responses((status = 200, body = Vec<AlertEvent>), (status = 400, body = ApiError)))]
async fn alert_list(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<AlertQuery>,
) -> Result<Json<Vec<AlertEvent>>> {
    Ok(Json(api.services.alerts(&caller, query).await?))
}

#[utoipa::path(get, path = "/api/v1/alerts/{id}", params(("id" = i64, Path)), responses((status = 200, body = AlertEvent), (status = 404, body = ApiError)))]
async fn alert_get(State(api): State<ApiState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<AlertEvent>> {
    Ok(Json(api.services.alert(&caller, id).await?))
}

/// `acknowledge`, `snooze` (body `{"minutes": 60}` or `{"until": "…Z"}`) or `resolve`; a
/// resolved alert is a 409.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/{action}", params(("id" = i64, Path), ("action" = String, Path, description = "acknowledge, snooze or resolve")), request_body = Option<SnoozeRequest>,
    responses((status = 200, body = AlertEvent), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn alert_act(
    State(api): State<ApiState>,
    caller: Caller,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<Json<AlertEvent>> {
    // The body is optional (only a snooze has one).
    let snooze: Option<SnoozeRequest> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| Error::bad_param("body", format!("expected a snooze: {e}")))?)
    };
    Ok(Json(api.services.act_on_alert(&caller, id, &action, snooze).await?))
}

/// Server-sent events: `alerts`, the open alerts (JSON array, as `GET /api/v1/alerts?state=open`),
/// at once and again within a second of any change; `data`, a counter that moves when new
/// data reached the summary (a load, or ingested rows folded in), at most once a second:
/// the pages fetch their figures again. Every stream follows values the server publishes
/// once for all of them.
async fn alert_stream(
    State(api): State<ApiState>,
    _signed_in: Caller,
) -> axum::response::Sse<
    impl futures_core::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use std::time::{Duration, Instant};
    let mut data = api.services.data_version.subscribe();
    data.mark_unchanged();
    let mut alerts = api.services.open_alerts.subscribe();
    alerts.mark_changed();
    let stream = async_stream::stream! {
        let mut last_data = Instant::now() - Duration::from_secs(1);
        loop {
            tokio::select! {
                changed = alerts.changed() => {
                    if changed.is_err() { break; }
                    let open = alerts.borrow_and_update().clone();
                    if let Some(json) = open {
                        yield Ok(Event::default().event("alerts").data(&*json));
                    }
                }
                changed = data.changed() => {
                    if changed.is_err() { break; }
                    // At most one push a second: a steady stream of batches refreshes the
                    // pages once a second, not once a batch.
                    tokio::time::sleep_until((last_data + Duration::from_secs(1)).into()).await;
                    let version = *data.borrow_and_update();
                    last_data = Instant::now();
                    yield Ok(Event::default().event("data").data(version.to_string()));
                }
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Evaluates every enabled rule now (they are also evaluated on their schedule and after
/// every load); answers how many were read.
#[utoipa::path(post, path = "/api/v1/alerts/evaluate", responses((status = 200)))]
async fn alert_evaluate(State(api): State<ApiState>, caller: Caller) -> Result<Json<Value>> {
    let n = api.services.evaluate_alerts(&caller).await?;
    Ok(Json(json!({ "evaluated": n })))
}

/// The saved segments. Use one with `segment=<key>` on the overview, breakdown and
/// member list.
#[utoipa::path(get, path = "/api/v1/segments", responses((status = 200, body = Vec<Segment>)))]
async fn segment_list(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<Segment>>> {
    Ok(Json(api.services.segments(&caller).await?))
}

#[utoipa::path(get, path = "/api/v1/segments/{key}", params(("key" = String, Path)),
    responses((status = 200, body = Segment), (status = 404, body = ApiError)))]
async fn segment_get(State(api): State<ApiState>, caller: Caller, Path(key): Path<String>) -> Result<Json<Segment>> {
    Ok(Json(api.services.segment(&caller, &key).await?))
}

/// Saves a new segment; its filters are validated (an unknown dimension is a 400
/// naming `filters`), and a taken key is a 409.
#[utoipa::path(post, path = "/api/v1/segments", request_body = Segment,
    responses((status = 201, body = Segment), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
async fn segment_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(segment): Body<Segment>,
) -> Result<(StatusCode, Json<Segment>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_segment(&caller, segment).await?)))
}

/// Replaces a segment's names and filters (the key in the path wins over the body's).
#[utoipa::path(put, path = "/api/v1/segments/{key}", params(("key" = String, Path)), request_body = Segment,
    responses((status = 200, body = Segment), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn segment_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
    Body(mut segment): Body<Segment>,
) -> Result<Json<Segment>> {
    segment.key = key;
    Ok(Json(api.services.update_segment(&caller, segment).await?))
}

#[utoipa::path(delete, path = "/api/v1/segments/{key}", params(("key" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
async fn segment_delete(State(api): State<ApiState>, caller: Caller, Path(key): Path<String>) -> Result<StatusCode> {
    api.services.delete_segment(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The RFM rule table: named segments by score ranges, first match by priority.
#[utoipa::path(get, path = "/api/v1/rfm-rules", responses((status = 200, body = Vec<RfmRule>)))]
async fn rfm_rules(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<RfmRule>>> {
    Ok(Json(api.services.rfm_rules(&caller).await?))
}

/// Replaces the whole RFM rule table (validated: ranges within 1–5, unique keys and
/// priorities); the `rfm_segment` dimension uses it from the next request on.
#[utoipa::path(put, path = "/api/v1/rfm-rules", request_body = Vec<RfmRule>,
    responses((status = 200, body = Vec<RfmRule>), (status = 400, body = ApiError)))]
async fn rfm_rules_replace(
    State(api): State<ApiState>,
    caller: Caller,
    Body(rules): Body<Vec<RfmRule>>,
) -> Result<Json<Vec<RfmRule>>> {
    Ok(Json(api.services.replace_rfm_rules(&caller, rules).await?))
}

/// The latest data loads, newest first.
#[utoipa::path(get, path = "/api/v1/loads", responses((status = 200, body = Vec<LoadRecord>)))]
async fn loads(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<LoadRecord>>> {
    Ok(Json(api.services.loads(&caller, 50).await?))
}

/// Runs a load of a file in the server's import folder (`--import-dir`), named by
/// `memberpulse import` on this machine: only its local secret may name a file (everyone
/// else uploads), and only inside that folder. Rejected rows are listed by line.
#[utoipa::path(post, path = "/api/v1/loads", request_body = LoadRequest,
    responses((status = 200, body = LoadReport), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
async fn load(
    State(api): State<ApiState>,
    caller: Caller,
    Body(request): Body<LoadRequest>,
) -> Result<Json<LoadReport>> {
    Ok(Json(api.services.load_named(&caller, request).await?))
}

/// The form of an upload: `table` (members, orders, order_items, points, stores,
/// tier_changes) or `mapping` (a column mapping's TOML, for a retailer's own export),
/// then `file` (CSV, or Parquet by its `.parquet` name).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    table: Option<String>,
    mapping: Option<String>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Loads an uploaded file (admins; at most `--upload-max-mb`): the same checks and report
/// as any load, the file removed after. A browser's form post goes back to the admin
/// page, where the load is listed.
#[utoipa::path(post, path = "/api/v1/loads/upload", request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = LoadReport), (status = 303, description = "a browser's form post: back to /admin"),
              (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 413, body = ApiError)))]
async fn upload(
    State(api): State<ApiState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    request: axum::extract::Request,
) -> Result<axum::response::Response> {
    use axum::{extract::FromRequest, response::IntoResponse};
    // The role first: nobody else's body is read.
    caller.require(app::model::Role::Admin)?;
    let form = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|e| Error::bad_param("file", format!("expected a multipart/form-data upload: {e}")))?;
    let from_page =
        headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let loaded = receive_upload(&api.services, &caller, form).await;
    if from_page {
        let to = match &loaded {
            Ok(_) => "/admin#loads".to_string(),
            Err(e) => format!("/admin?load_error={}#loads", app::format::url_encode(&e.public_message())),
        };
        return Ok(axum::response::Redirect::to(&to).into_response());
    }
    Ok(Json(loaded?).into_response())
}

/// Reads an upload's form (the file written to the import folder as it arrives) and loads it.
async fn receive_upload(
    services: &Services,
    caller: &Caller,
    mut form: axum::extract::Multipart,
) -> Result<LoadReport> {
    use tokio::io::AsyncWriteExt;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(format!("the upload is larger than the server takes ({e})"))
        } else {
            Error::bad_param("file", format!("not a multipart form upload: {e}"))
        }
    };
    let (mut table, mut mapping_text, mut file) = (None, None, None);
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name().unwrap_or("") {
            "table" => table = Some(field.text().await.map_err(bad_form)?),
            "mapping" => mapping_text = Some(field.text().await.map_err(bad_form)?),
            "file" => {
                let name = field.file_name().filter(|n| !n.trim().is_empty()).unwrap_or("upload.csv").to_string();
                let kept = services.upload_file(&name)?;
                let mut out = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&kept.path).await?;
                while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                    out.write_all(&chunk).await?;
                }
                out.flush().await?;
                file = Some(kept);
            }
            _ => {}
        }
    }
    let mapping = match (mapping_text, table) {
        (Some(text), _) if !text.trim().is_empty() => Mapping::from_toml(&text, "mapping")?,
        (_, Some(t)) if !t.trim().is_empty() => Mapping::identity(Kind::parse(t.trim())?),
        _ => return Err(Error::bad_param("table", "give the table the file holds (or a mapping)")),
    };
    let kept = file.ok_or_else(|| Error::bad_param("file", "no file in the upload"))?;
    let request = LoadRequest { path: kept.path.clone(), mapping, name: Some(kept.name.clone()) };
    services.load(caller, request, None).await
}

/// The largest ingest request body.
const INGEST_MAX_BYTES: usize = 64 << 20;

/// Lands rows of `table` (stores, members, orders, order_items, points, tier_changes),
/// sent as a JSON array of objects or as NDJSON, with `Authorization: Bearer <token>`.
/// Each row is validated; the answer lists every rejected row by index, field and
/// reason, and the good rows land in one transaction. A row whose id is already stored
/// is a no-op, so a batch can be re-sent safely. Open dashboards show the new data
/// within two seconds.
#[utoipa::path(post, path = "/api/v1/ingest/{table}", params(("table" = String, Path)),
    request_body(content = String, description = "a JSON array of row objects, or NDJSON", content_type = "application/json"),
    responses((status = 200, body = crate::load::ingest::IngestReport), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 413, description = "body over 64 MiB")))]
async fn ingest(
    State(api): State<ApiState>,
    caller: Caller,
    Path(table): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<crate::load::ingest::IngestReport>> {
    let kind = crate::load::ingest::table(&table)?;
    Ok(Json(api.services.ingest(&caller, kind, body).await?))
}

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
struct ApiDoc;

/// The two ways to authenticate: an API token, or the session cookie of a signed-in person.
struct BearerAuth;

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
struct ErrorAnswers;

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

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

#[cfg(test)]
mod tests {
    use app::model::{Dimension, Metric};

    /// The pages and the API name metrics and dimensions by `key()`; JSON must agree.
    #[test]
    fn serialised_names_are_the_keys() {
        for m in Metric::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.key(), "{m:?}");
            assert_eq!(Metric::parse(m.key()), Some(m));
        }
        for d in Dimension::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.key(), "{d:?}");
        }
    }

    #[test]
    fn openapi_document_covers_routes_and_types() {
        let doc = serde_json::to_value(super::openapi_document()).unwrap();
        for path in [
            "/api/v1/overview",
            "/api/v1/breakdown",
            "/api/v1/members",
            "/api/v1/members/{member_id}",
            "/api/v1/loads",
            "/api/v1/segments",
            "/api/v1/segments/{key}",
            "/api/v1/rfm-rules",
            "/api/v1/cohorts",
            "/api/v1/tiers/migration",
            "/api/v1/model/holdout",
            "/api/v1/model",
            "/api/v1/trend",
            "/api/v1/alerts",
            "/api/v1/alerts/rules",
            "/api/v1/alerts/{id}",
            "/api/v1/users",
            "/api/v1/tokens",
            "/api/v1/audit",
            "/api/v1/session",
        ] {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }
        let schemas = &doc["components"]["schemas"];
        for schema in [
            "Overview",
            "Kpi",
            "Measure",
            "Metric",
            "Breakdown",
            "Dimension",
            "MemberPage",
            "Member360",
            "Segment",
            "RfmRule",
            "Cohorts",
            "ApiError",
        ] {
            assert!(schemas[schema].is_object(), "{schema}: {}", schemas);
        }
        let params: Vec<&str> = doc["paths"]["/api/v1/breakdown"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["metric", "dimension", "as_of", "window", "compare", "filters", "segment"]);
    }
}
