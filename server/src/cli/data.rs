//! `memberpulse generate` and `import`: a demo retailer, and files handed to the running
//! server (inside its import folder) or loaded here with a spinner.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use chrono::NaiveDate;

use crate::{
    Error, Result,
    access::Caller,
    http::ServerInfo,
    load::generate,
    load::import::{LoadReport, LoadRequest},
    service::Services,
    store::analytics::Analytics,
};

pub(super) async fn generate_into(
    analytics: &Analytics,
    cfg: crate::metrics::MetricConfig,
    members: u64,
    seed: u64,
    end: NaiveDate,
    replace: bool,
) -> Result<()> {
    let started = Instant::now();
    let opts = generate::Options { members, seed, end, progress: true, ..Default::default() };
    let generating = analytics.clone();
    let summary = tokio::task::spawn_blocking(move || generate::generate(&generating, &opts, replace)).await??;
    println!(
        "generated {} members, {} stores, {} orders, {} order items, {} points entries in {:.1}s",
        summary.members,
        summary.stores,
        summary.orders,
        summary.order_items,
        summary.points,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    if let Some(t) = analytics.read(move |conn| crate::metrics::facts::refresh(conn, cfg)).await? {
        println!("member facts made for {t} in {:.1}s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Hands a load to the server running on this data dir, if there is one. The server
/// reads files only inside its import folder: a file elsewhere is put there first (a hard
/// link, or a copy across file systems) under a name of its own, and removed after.
pub(super) async fn hand_to_server(data_dir: &Path, request: &LoadRequest) -> Result<Option<LoadReport>> {
    let Some(info) = ServerInfo::read(data_dir) else {
        return Ok(None);
    };
    let import_dir = info.import_dir.clone().unwrap_or_else(|| data_dir.join("imports"));
    let staged = Staged::in_folder(&import_dir, &request.path)?;
    let named = LoadRequest { path: staged.path.clone(), mapping: request.mapping.clone(), name: request.name.clone() };
    // A server that left its file behind and is gone: load here.
    let Some(response) = post_to_server(&info, "/api/v1/loads", &named).await? else {
        return Ok(None);
    };
    eprintln!("handed {} to the running server at {}", request.display_name(), info.addr);
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| Error::Internal(format!("server reply: {e}")))?;
    drop(staged);
    if !status.is_success() {
        let message = body["message"].as_str().unwrap_or("load failed").to_string();
        return Err(Error::Load(message));
    }
    serde_json::from_value(body).map(Some).map_err(|e| Error::Internal(format!("server reply: {e}")))
}

/// Prints the running server's answer, or answers its message as the error.
pub(super) async fn print_answer(r: reqwest::Response) -> Result<()> {
    let ok = r.status().is_success();
    let text = r.text().await.map_err(|e| Error::Internal(format!("server reply: {e}")))?;
    if !ok {
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return Err(Error::Load(body["message"].as_str().unwrap_or(&text).to_string()));
    }
    println!("{text}");
    Ok(())
}

/// Posts `body` to the running server at `path` as its local admin; None when it is gone
/// (it left its `server.json` behind).
pub(super) async fn post_to_server(
    info: &ServerInfo,
    path: &str,
    body: &impl serde::Serialize,
) -> Result<Option<reqwest::Response>> {
    let sent = reqwest::Client::new().post(format!("http://{}{path}", info.addr)).bearer_auth(&info.token).json(body);
    match sent.send().await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_connect() => Ok(None),
        Err(e) => Err(Error::Internal(format!("server at {}: {e}", info.addr))),
    }
}

/// A file as the server may read it: inside the import folder (as it was, or a link or
/// copy made there, removed when this is dropped).
struct Staged {
    path: PathBuf,
    made: bool,
}

impl Staged {
    fn in_folder(folder: &Path, file: &Path) -> Result<Staged> {
        let folder = folder
            .canonicalize()
            .map_err(|e| Error::Load(format!("{}: the server's import folder: {e}", folder.display())))?;
        if file.starts_with(&folder) {
            return Ok(Staged { path: file.to_path_buf(), made: false });
        }
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let staged = folder.join(format!(
            ".cli-{}-{}-{name}",
            std::process::id(),
            crate::access::users::secret("").get(..8).unwrap_or("")
        ));
        if std::fs::hard_link(file, &staged).is_err() {
            std::fs::copy(file, &staged).map_err(|e| {
                Error::Load(format!(
                    "{}: cannot put it in the server's import folder {} ({e}); copy it there yourself, or upload it",
                    file.display(),
                    folder.display()
                ))
            })?;
        }
        Ok(Staged { path: staged, made: true })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.made {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Loads in this process, with a spinner on the terminal.
pub(super) async fn load_here(services: &Services, request: LoadRequest) -> Result<LoadReport> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let name = request.display_name();
    let bar = spinner.clone();
    let progress = move |stage: &str| bar.set_message(format!("{name}: {stage}"));
    let report = services.load(&Caller::cli(), request, Some(Box::new(progress))).await;
    spinner.finish_and_clear();
    report
}
