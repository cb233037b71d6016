//! The server: the pages (server-rendered, hydrated) and the JSON API on one port.

pub mod api;
pub mod extract;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use app::{App, shell};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use serde::{Deserialize, Serialize};

use crate::{
    Result, access,
    service::{self, Services},
};

pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Where scripts/build.sh (or cargo-leptos) put the compiled site (`pkg/` with the wasm, js and css).
    pub site_root: PathBuf,
    pub data_dir: PathBuf,
    /// Where alert notices link to; default `http://<the bound address>`.
    pub public_url: Option<String>,
    /// How often alert rules are checked for being due.
    pub alert_tick: std::time::Duration,
    /// The back-off of failed alert deliveries: the first delay and the cap.
    pub retry_base: std::time::Duration,
    pub retry_max: std::time::Duration,
    /// Where alert e-mail goes (none: e-mail notices wait in the outbox).
    pub smtp: Option<crate::alerts::delivery::Smtp>,
    /// The bearer token of the ingest API (besides the local one the CLI uses).
    pub ingest_token: Option<String>,
    /// The least time between two model refits.
    pub refit_gap: std::time::Duration,
    /// The largest upload (`POST /api/v1/loads/upload`).
    pub upload_max_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<access::Net>,
}

/// Written to the data directory while the server runs, so that `memberpulse import`
/// hands files to it instead of opening the DuckDB file behind its back.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServerInfo {
    pub addr: String,
    pub pid: u32,
    pub token: String,
    /// The one folder the server reads files from (`--import-dir`): `memberpulse import`
    /// puts a file there (a hard link, or a copy) before naming it to the server.
    #[serde(default)]
    pub import_dir: Option<PathBuf>,
}

impl ServerInfo {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("server.json")
    }

    pub fn read(data_dir: &Path) -> Option<ServerInfo> {
        let text = std::fs::read_to_string(Self::path(data_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Written whole to a new file readable by this user only (0600), then renamed over
    /// the old one: a file left with looser permissions (an earlier run, a copy) is
    /// replaced, not reused, and a reader never sees half of it.
    fn write(&self, data_dir: &Path) -> Result<()> {
        use std::io::Write;
        let path = Self::path(data_dir);
        let fresh = data_dir.join(format!(".server.json.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&fresh)?;
        file.write_all(serde_json::to_string(self).unwrap_or_default().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&fresh, &path)?;
        Ok(())
    }
}

/// The pages, the API and the sign-in routes, every request through [`access::resolve`].
pub fn router(services: &Services, site_root: &Path, access: access::Access, upload_max_bytes: usize) -> Router {
    let options = LeptosOptions::builder()
        .output_name("memberpulse")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .build();
    let routes = generate_route_list(App);
    let state = service::app_state(services);
    let pages = Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(state.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);
    api::router(services.clone(), upload_max_bytes)
        .merge(access::router(access.clone()))
        .merge(pages)
        // Beyond the ingest API (its own 64 MiB) and uploads (--upload-max-mb), no request
        // body is larger than 1 MiB.
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .layer(axum::middleware::from_fn(bad_arguments))
        .layer(axum::middleware::from_fn_with_state(access, access::resolve))
}

/// A server function whose arguments do not deserialise is the caller's fault: Leptos
/// answers it with a 500 (`Deserialization|…`, `Args|…`); this makes it the 400 it is.
async fn bad_arguments(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::{body::Body, http::StatusCode, response::IntoResponse};
    let server_fn = req.uri().path().starts_with("/api/") && !req.uri().path().starts_with("/api/v1/");
    let response = next.run(req).await;
    if !server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    let caller_fault = ["Deserialization|", "Args|", "MissingArg|"].iter().any(|p| bytes.starts_with(p.as_bytes()));
    if caller_fault {
        let message = String::from_utf8_lossy(&bytes).split_once('|').map(|(_, m)| m.to_string()).unwrap_or_default();
        return crate::Error::bad_param("arguments", message).into_response();
    }
    axum::response::Response::from_parts(parts, Body::from(bytes))
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(opts: ServeOptions, services: Services) -> Result<()> {
    // The CLI's secret for this run (`server.json`): 32 random bytes, as every secret.
    let token = crate::access::users::secret("");
    let tls = opts.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let access =
        access::Access::new(services.ops.clone(), &token, opts.ingest_token.as_deref(), tls, &opts.trusted_proxies);
    let app = router(&services, &opts.site_root, access, opts.upload_max_bytes);
    tokio::spawn(crate::jobs::refit::run(services.clone(), opts.refit_gap));
    // Rows that landed through the ingest API (or before a crash) are folded in.
    tokio::spawn(crate::jobs::folder::run(services.clone()));
    tokio::spawn(crate::jobs::ahead::run(services.clone()));
    services.refit_if_stale().await?;
    let listener = tokio::net::TcpListener::bind(opts.addr).await?;
    let addr = listener.local_addr()?;
    // Background work: alert evaluation (schedule, loads, refits) and the outbox sender.
    tokio::spawn(crate::jobs::evaluator::run(services.clone(), services.data_changed.clone(), opts.alert_tick));
    tokio::spawn(crate::jobs::evaluator::publish_open(services.clone()));
    if let Some(days) = services.retention_days {
        tokio::spawn(crate::jobs::retention::run(services.clone(), days));
    }
    let delivery = crate::alerts::delivery::DeliveryConfig {
        tick: std::time::Duration::from_millis(500),
        backoff: opts.retry_base,
        max_backoff: opts.retry_max,
        public_url: opts.public_url.clone().unwrap_or_else(|| format!("http://{addr}")),
        smtp: opts.smtp.clone(),
        allow_private: services.allow_private_webhooks,
    };
    tokio::spawn(crate::alerts::delivery::run(
        services.ops.clone(),
        services.analytics.seal().clone(),
        delivery.clone(),
    ));
    // Triggers: evaluated as data lands, their batches sent like alert notices.
    tokio::spawn(crate::jobs::triggers::evaluate(services.clone()));
    tokio::spawn(crate::jobs::triggers::deliver(services.clone(), delivery));
    let info = ServerInfo {
        addr: addr.to_string(),
        pid: std::process::id(),
        token,
        import_dir: Some(services.import_dir.to_path_buf()),
    };
    info.write(&opts.data_dir)?;
    tracing::info!("MemberPulse listening on http://{addr}");
    println!("MemberPulse is serving http://{addr}  (sign in at http://{addr}/signin)");
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await;
    let _ = std::fs::remove_file(ServerInfo::path(&opts.data_dir));
    served?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
