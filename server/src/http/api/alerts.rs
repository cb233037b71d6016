//! Alert rules, events, acknowledgements, the live stream and evaluation on demand.

use super::*;

/// The alerts' routes.
pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/alerts", get(alert_list))
        .route("/api/v1/alerts/evaluate", post(alert_evaluate))
        .route("/api/v1/alerts/stream", get(alert_stream))
        .route("/api/v1/alerts/rules", get(alert_rules).post(alert_rule_create))
        .route("/api/v1/alerts/rules/{id}", get(alert_rule_get).put(alert_rule_update).delete(alert_rule_delete))
        .route("/api/v1/alerts/{id}", get(alert_get))
        .route("/api/v1/alerts/{id}/{action}", post(alert_act))
}

/// The alert rules (SPEC §7), the four defaults first.
#[utoipa::path(get, path = "/api/v1/alerts/rules", responses((status = 200, body = Vec<AlertRule>)))]
pub(super) async fn alert_rules(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<AlertRule>>> {
    Ok(Json(api.services.alert_rules(&caller).await?))
}

/// Creates a rule; a bad field is a 400 naming it (e.g. `metric`, `threshold`,
/// `channels[0].url`). It is evaluated at once.
#[utoipa::path(post, path = "/api/v1/alerts/rules", request_body = AlertRule,
    responses((status = 201, body = AlertRule), (status = 400, body = ApiError)))]
pub(super) async fn alert_rule_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(rule): Body<AlertRule>,
) -> Result<(StatusCode, Json<AlertRule>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_alert_rule(&caller, rule).await?)))
}

#[utoipa::path(get, path = "/api/v1/alerts/rules/{id}", params(("id" = i64, Path)), responses((status = 200, body = AlertRule), (status = 404, body = ApiError)))]
pub(super) async fn alert_rule_get(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AlertRule>> {
    Ok(Json(api.services.alert_rule(&caller, id).await?))
}

#[utoipa::path(put, path = "/api/v1/alerts/rules/{id}", params(("id" = i64, Path)), request_body = AlertRule,
    responses((status = 200, body = AlertRule), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn alert_rule_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(rule): Body<AlertRule>,
) -> Result<Json<AlertRule>> {
    Ok(Json(api.services.update_alert_rule(&caller, AlertRule { id, ..rule }).await?))
}

#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ApiError)))]
pub(super) async fn alert_rule_delete(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    api.services.delete_alert_rule(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Alert history, newest first: `state=open|firing|acknowledged|snoozed|resolved`,
/// `rule_id`, `severity`, `limit`.
#[utoipa::path(get, path = "/api/v1/alerts", params(AlertQuery), responses((status = 200, body = Vec<AlertEvent>), (status = 400, body = ApiError)))]
pub(super) async fn alert_list(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<AlertQuery>,
) -> Result<Json<Vec<AlertEvent>>> {
    Ok(Json(api.services.alerts(&caller, query).await?))
}

#[utoipa::path(get, path = "/api/v1/alerts/{id}", params(("id" = i64, Path)), responses((status = 200, body = AlertEvent), (status = 404, body = ApiError)))]
pub(super) async fn alert_get(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AlertEvent>> {
    Ok(Json(api.services.alert(&caller, id).await?))
}

/// `acknowledge`, `snooze` (body `{"minutes": 60}` or `{"until": "…Z"}`) or `resolve`; a
/// resolved alert is a 409.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/{action}", params(("id" = i64, Path), ("action" = String, Path, description = "acknowledge, snooze or resolve")), request_body = Option<SnoozeRequest>,
    responses((status = 200, body = AlertEvent), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn alert_act(
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
pub(super) async fn alert_stream(
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
pub(super) async fn alert_evaluate(State(api): State<ApiState>, caller: Caller) -> Result<Json<Value>> {
    let n = api.services.evaluate_alerts(&caller).await?;
    Ok(Json(json!({ "evaluated": n })))
}
