//! `memberpulse identity`: the candidates the matching rules propose, merges and undoing
//! them. Asked of the running server (as its local admin) when there is one, else of the
//! stores opened here.

use app::model::MergeRequest;

use super::IdentityAction;
use crate::{Error, Result, access::Caller};

pub(super) async fn identity(cli: &super::Cli, action: IdentityAction) -> Result<()> {
    let (path, body): (String, serde_json::Value) = match &action {
        IdentityAction::Merge { survivor, merged } => (
            "/api/v1/identity/merges".into(),
            serde_json::to_value(MergeRequest { survivor: survivor.clone(), merged: merged.clone() })
                .unwrap_or_default(),
        ),
        IdentityAction::Undo { merge_id } => {
            (format!("/api/v1/identity/merges/{merge_id}/undo"), serde_json::json!({}))
        }
        IdentityAction::Automatic => ("/api/v1/identity/merges/automatic".into(), serde_json::json!({})),
        IdentityAction::Candidates { .. } | IdentityAction::Merges => (String::new(), serde_json::Value::Null),
    };
    if !path.is_empty()
        && let Some(info) = crate::http::ServerInfo::read(&cli.data_dir)
        && let Some(r) = super::data::post_to_server(&info, &path, &body).await?
    {
        let ok = r.status().is_success();
        let text = r.text().await.map_err(|e| Error::Internal(format!("server reply: {e}")))?;
        if !ok {
            let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return Err(Error::Load(body["message"].as_str().unwrap_or(&text).to_string()));
        }
        println!("{text}");
        return Ok(());
    }
    if path.is_empty() && crate::http::ServerInfo::read(&cli.data_dir).is_some() {
        return Err(Error::Load(
            "a server is running on this data dir: ask it (GET /api/v1/identity/candidates or /merges)".into(),
        ));
    }
    let services = super::open(cli).await?;
    let who = Caller::cli();
    let text = match action {
        IdentityAction::Merge { survivor, merged } => {
            json(&services.merge_members(&who, MergeRequest { survivor, merged }).await?)
        }
        IdentityAction::Undo { merge_id } => json(&services.undo_merge(&who, merge_id).await?),
        IdentityAction::Automatic => json(&services.merge_automatic(&who).await?),
        IdentityAction::Candidates { rule, limit } => {
            json(&services.identity_candidates(&who, rule, Some(limit)).await?)
        }
        IdentityAction::Merges => json(&services.merges(&who, None).await?),
    };
    println!("{text}");
    Ok(())
}

/// An answer as pretty JSON.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
