//! Data in: loads from the import folder, uploads, and the live ingest API.

use super::*;

/// The routes that bring data in: loads (a file or an upload) and the ingest API, each
/// with its body limit.
pub(super) fn router(upload_max_bytes: usize) -> Router<ApiState> {
    Router::new()
        .route("/api/v1/loads", get(loads).post(load))
        .route("/api/v1/loads/upload", post(upload).layer(DefaultBodyLimit::max(upload_max_bytes)))
        .route("/api/v1/ingest/{table}", post(ingest).layer(DefaultBodyLimit::max(INGEST_MAX_BYTES)))
}

/// The latest data loads, newest first.
#[utoipa::path(get, path = "/api/v1/loads", responses((status = 200, body = Vec<LoadRecord>)))]
pub(super) async fn loads(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<LoadRecord>>> {
    Ok(Json(api.services.loads(&caller, 50).await?))
}

/// Runs a load of a file in the server's import folder (`--import-dir`), named by
/// `memberpulse import` on this machine: only its local secret may name a file (everyone
/// else uploads), and only inside that folder. Rejected rows are listed by line.
#[utoipa::path(post, path = "/api/v1/loads", request_body = LoadRequest,
    responses((status = 200, body = LoadReport), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub(super) async fn load(
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
pub(super) struct UploadForm {
    pub(super) table: Option<String>,
    pub(super) mapping: Option<String>,
    #[schema(value_type = String, format = Binary)]
    pub(super) file: Vec<u8>,
}

/// Loads an uploaded file (admins; at most `--upload-max-mb`): the same checks and report
/// as any load, the file removed after. A browser's form post goes back to the admin
/// page, where the load is listed.
#[utoipa::path(post, path = "/api/v1/loads/upload", request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = LoadReport), (status = 303, description = "a browser's form post: back to /admin"),
              (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 413, body = ApiError)))]
pub(super) async fn upload(
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
            Ok(_) => "/loads".to_string(),
            Err(e) => format!("/loads?load_error={}", app::format::url_encode(&e.public_message())),
        };
        return Ok(axum::response::Redirect::to(&to).into_response());
    }
    Ok(Json(loaded?).into_response())
}

/// Reads an upload's form (the file written to the import folder as it arrives) and loads it.
pub(super) async fn receive_upload(
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
pub(super) const INGEST_MAX_BYTES: usize = 64 << 20;

/// Lands rows of `table` (stores, members, orders, order_items, points, tier_changes),
/// sent as a JSON array of objects or as NDJSON, with `Authorization: Bearer <token>`.
/// Each row is validated; the answer lists every rejected row by index, field and
/// reason, and the good rows land in one transaction. A row whose id is already stored
/// is a no-op, so a batch can be re-sent safely. Open dashboards show the new data
/// within two seconds.
/// `POST /api/v1/ingest/{table}?member_identity=…`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct IngestQuery {
    /// For orders, points and tier changes: the rows' `member_id` holds this identity
    /// (`pos_card`, `mini_program_openid`, `wechat_unionid`, `app_account`, `web_account`,
    /// `phone`); each row lands on the member who has it, or is rejected.
    member_identity: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/ingest/{table}", params(("table" = String, Path), IngestQuery),
    request_body(content = String, description = "a JSON array of row objects, or NDJSON", content_type = "application/json"),
    responses((status = 200, body = crate::load::ingest::IngestReport), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 413, description = "body over 64 MiB")))]
pub(super) async fn ingest(
    State(api): State<ApiState>,
    caller: Caller,
    Path(table): Path<String>,
    Query(q): Query<IngestQuery>,
    body: axum::body::Bytes,
) -> Result<Json<crate::load::ingest::IngestReport>> {
    let kind = crate::load::ingest::table(&table)?;
    Ok(Json(api.services.ingest(&caller, kind, q.member_identity.as_deref(), body).await?))
}
