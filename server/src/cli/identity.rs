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
        IdentityAction::Candidates { .. } | IdentityAction::Merges | IdentityAction::Bench { .. } => {
            (String::new(), serde_json::Value::Null)
        }
    };
    if !path.is_empty()
        && let Some(info) = crate::http::ServerInfo::read(&cli.data_dir)
        && let Some(r) = super::data::post_to_server(&info, &path, &body).await?
    {
        return super::data::print_answer(r).await;
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
        IdentityAction::Bench { pairs } => return bench(&services, pairs).await,
    };
    println!("{text}");
    Ok(())
}

/// An answer as pretty JSON.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// `memberpulse identity bench`: see the command's help.
async fn bench(services: &crate::service::Services, pairs: usize) -> Result<()> {
    use std::{
        sync::{Arc, atomic::AtomicBool, atomic::Ordering},
        time::Instant,
    };
    let query = app::model::OverviewQuery {
        metrics: Some("historical_ltv,repurchase_rate,points_usage_rate,churn_rate,members".into()),
        ..Default::default()
    };
    let want = 2 * pairs as i64;
    let ids: Vec<String> = services
        .analytics
        .read(move |conn| {
            let mut stmt =
                conn.prepare("SELECT member_id FROM members ORDER BY hash(member_id || 'pairs'), 1 LIMIT ?")?;
            let ids = stmt.query_map([want], |r| r.get(0))?.collect::<duckdb::Result<Vec<String>>>()?;
            Ok(ids)
        })
        .await?;
    let chosen: Vec<crate::identity::merge::Pair> = ids
        .chunks_exact(2)
        .map(|p| crate::identity::merge::Pair { survivor: p[0].clone(), merged: p[1].clone() })
        .collect();
    let who = Caller::cli();
    // The reads' latencies while nothing else runs, then during the merge.
    let mut quiet = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        services.overview_fresh(&who, query.clone()).await?;
        quiet.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (services, stop, query, who) = (services.clone(), stop.clone(), query.clone(), who.clone());
        tokio::spawn(async move {
            let mut during = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if services.overview_fresh(&who, query.clone()).await.is_err() {
                    break;
                }
                during.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            during
        })
    };
    let n = chosen.len();
    eprintln!("merging {n} pairs in one request…");
    let started = Instant::now();
    let moved = services
        .analytics
        .write_bulk(move |conn, _landing| crate::identity::merge::merge(conn, &chosen, "bench", Some("bench")))
        .await?;
    let merge_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = reader.await.map_err(|e| Error::Internal(e.to_string()))?;
    let pct = |v: &[f64], p: f64| -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    };
    println!("merged {n} pairs in {merge_secs:.1} s ({:.0} pairs/s)", n as f64 / merge_secs);
    println!("moved: {} orders, {} points entries, {} tier changes", moved.orders, moved.points, moved.tier_changes);
    println!(
        "overview (5 metrics, as the dashboard asks), quiet:  {} reads, p50 {:.1} ms, p99 {:.1} ms",
        quiet.len(),
        pct(&quiet, 0.5),
        pct(&quiet, 0.99)
    );
    println!(
        "overview during the merge:                         {} reads, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        during.len(),
        pct(&during, 0.5),
        pct(&during, 0.99),
        pct(&during, 1.0)
    );
    Ok(())
}
