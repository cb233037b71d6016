//! `memberpulse loadgen`: sends orders to a running server's ingest API at a steady rate
//! while other clients ask for the dashboard's headline figures — and, if asked, others
//! hammer the heavy reports (holdout checks, 60 cohorts, 24-window trends, each at another
//! T so no answer is shared) — and reports what the server sustained: rows landed per
//! second, ingest, dashboard and report latencies (p50/p99), errors and the server's memory.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use app::model::Metric;
use rand::{Rng, SeedableRng};

use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// The server, e.g. `http://127.0.0.1:3000`.
    pub url: String,
    pub token: String,
    /// Order rows per second to offer.
    pub rate: u64,
    pub batch: usize,
    pub duration: Duration,
    /// Members the orders go to: `M0000001` … (the generator's ids).
    pub members: u64,
    /// Clients asking for the dashboard's headline figures, each every `dashboard_every`
    /// (an open page fetches its figures again on each push, at most once a second).
    pub dashboard_clients: usize,
    pub dashboard_every: Duration,
    /// Clients asking for heavy reports back to back (0: none).
    pub heavy_clients: usize,
    /// The server's process, for its memory.
    pub server_pid: Option<u32>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct LoadReport {
    pub seconds: f64,
    pub rows_offered: i64,
    pub rows_landed: i64,
    pub rows_per_second: f64,
    pub batches: usize,
    pub ingest_p50_ms: f64,
    pub ingest_p99_ms: f64,
    pub dashboard_requests: usize,
    pub dashboard_p50_ms: f64,
    pub dashboard_p99_ms: f64,
    pub dashboard_max_ms: f64,
    /// Heavy reports answered, and refused as busy (429: they waited their turn too long).
    pub heavy_answered: usize,
    pub heavy_busy: i64,
    pub heavy_p50_ms: f64,
    pub heavy_p99_ms: f64,
    pub errors: i64,
    pub server_rss_start_mb: Option<f64>,
    pub server_rss_max_mb: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The resident memory of a process, in MB (Linux).
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run(plan: LoadPlan) -> Result<LoadReport> {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(16).build().map_err(|e| Error::Internal(e.to_string()))?;
    let run_id: u32 = rand::thread_rng().r#gen();
    let landed = Arc::new(AtomicI64::new(0));
    let errors = Arc::new(AtomicI64::new(0));
    let ingest_ms = Arc::new(Mutex::new(Vec::new()));
    let dashboard_ms = Arc::new(Mutex::new(Vec::new()));
    let rss_start = plan.server_pid.and_then(rss_mb);
    let rss_max = Arc::new(Mutex::new(rss_start));
    let started = Instant::now();
    let end = started + plan.duration;

    // Dashboard clients: the headline figures, as the overview page asks for them.
    let headline: Vec<&str> = Metric::HEADLINE.iter().map(|m| m.key()).collect();
    let dashboard_url = format!("{}/api/v1/overview?metrics={}", plan.url, headline.join(","));
    let mut dashboards = Vec::new();
    for _ in 0..plan.dashboard_clients {
        let (client, url, times, errors) =
            (client.clone(), dashboard_url.clone(), dashboard_ms.clone(), errors.clone());
        let (every, token) = (plan.dashboard_every, plan.token.clone());
        dashboards.push(tokio::spawn(async move {
            while Instant::now() < end {
                let t = Instant::now();
                let ok = match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    times.lock().unwrap().push(t.elapsed().as_secs_f64() * 1e3)
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(every.saturating_sub(t.elapsed())).await;
            }
        }));
    }

    // Heavy clients: reports at T moving back a day each time, so none is shared.
    let heavy_ms = Arc::new(Mutex::new(Vec::new()));
    let busy = Arc::new(AtomicI64::new(0));
    let latest = match plan.heavy_clients {
        0 => None,
        _ => {
            let o: serde_json::Value = client
                .get(format!("{}/api/v1/overview?metrics=members", plan.url))
                .bearer_auth(&plan.token)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| Error::Internal(format!("overview: {e}")))?
                .json()
                .await
                .map_err(|e| Error::Internal(format!("overview: {e}")))?;
            o["as_of"].as_str().and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        }
    };
    let mut heavies = Vec::new();
    for c in 0..plan.heavy_clients {
        let (client, url, token, times, errors, busy) =
            (client.clone(), plan.url.clone(), plan.token.clone(), heavy_ms.clone(), errors.clone(), busy.clone());
        let latest = latest.unwrap_or_else(|| chrono::Utc::now().date_naive());
        heavies.push(tokio::spawn(async move {
            let mut n = c as u64;
            while Instant::now() < end {
                let t = (latest - chrono::Days::new(n % 700)).to_string();
                let path = match n % 3 {
                    0 => format!("/api/v1/model/holdout?days=90&as_of={t}"),
                    1 => format!("/api/v1/cohorts?cohorts=60&as_of={t}"),
                    _ => format!("/api/v1/trend?points=24&window=30d&as_of={t}"),
                };
                n += plan.heavy_clients as u64;
                let started = Instant::now();
                let answer = client.get(format!("{url}{path}")).bearer_auth(&token).send().await;
                let status = answer.as_ref().map_or(0, |r| r.status().as_u16());
                let read = match answer {
                    Ok(r) => r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                match status {
                    200 if read => times.lock().unwrap().push(started.elapsed().as_secs_f64() * 1e3),
                    429 => {
                        busy.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    // Batches at a steady pace: batch k leaves at k × batch / rate.
    let interval = Duration::from_secs_f64(plan.batch as f64 / plan.rate.max(1) as f64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(run_id as u64);
    let mut senders = Vec::new();
    let mut k = 0u64;
    let mut next_report = started + Duration::from_secs(1);
    let day = chrono::Utc::now().naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string();
    while started + interval * (k as u32) < end {
        tokio::time::sleep_until((started + interval * (k as u32)).into()).await;
        let mut body = String::with_capacity(plan.batch * 120);
        for i in 0..plan.batch {
            let cents: u32 = rng.gen_range(500..50_000);
            let member = rng.gen_range(1..=plan.members.max(1));
            let channel = ["store", "app", "mini_program", "web"][rng.gen_range(0..4)];
            body.push_str(&format!(
                "{{\"order_id\":\"LG{run_id:08x}-{k}-{i}\",\"ordered_at\":\"{day}\",\"net_amount\":\"{}.{:02}\",\"member_id\":\"M{member:07}\",\"channel\":\"{channel}\"}}\n",
                cents / 100,
                cents % 100
            ));
        }
        let (client, url, token) = (client.clone(), format!("{}/api/v1/ingest/orders", plan.url), plan.token.clone());
        let (landed_by, errors_by, times) = (landed.clone(), errors.clone(), ingest_ms.clone());
        senders.push(tokio::spawn(async move {
            let t = Instant::now();
            let answer = client.post(&url).bearer_auth(token).body(body).send().await;
            match answer {
                Ok(r) if r.status().is_success() => match r.json::<serde_json::Value>().await {
                    Ok(report) => {
                        times.lock().unwrap().push(t.elapsed().as_secs_f64() * 1e3);
                        landed_by.fetch_add(report["inserted"].as_i64().unwrap_or(0), Ordering::Relaxed);
                    }
                    Err(_) => {
                        errors_by.fetch_add(1, Ordering::Relaxed);
                    }
                },
                _ => {
                    errors_by.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
        k += 1;
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(1);
            let rss = plan.server_pid.and_then(rss_mb);
            if let Some(r) = rss {
                let mut max = rss_max.lock().unwrap();
                *max = Some(max.map_or(r, |m: f64| m.max(r)));
            }
            eprintln!(
                "  {:>4.0}s  {} rows landed  {} errors  server {}",
                started.elapsed().as_secs_f64(),
                landed.load(Ordering::Relaxed),
                errors.load(Ordering::Relaxed),
                rss.map_or("-".into(), |r| format!("{r:.0} MB")),
            );
        }
    }
    for s in senders {
        let _ = s.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    for d in dashboards.into_iter().chain(heavies) {
        let _ = d.await;
    }
    let sorted = |v: &Mutex<Vec<f64>>| {
        let mut v = v.lock().unwrap().clone();
        v.sort_by(f64::total_cmp);
        v
    };
    let (ingest, dash, heavy) = (sorted(&ingest_ms), sorted(&dashboard_ms), sorted(&heavy_ms));
    let rows_landed = landed.load(Ordering::Relaxed);
    let rss_max = *rss_max.lock().unwrap();
    Ok(LoadReport {
        seconds,
        rows_offered: (k as usize * plan.batch) as i64,
        rows_landed,
        rows_per_second: rows_landed as f64 / seconds,
        batches: k as usize,
        ingest_p50_ms: percentile(&ingest, 0.5),
        ingest_p99_ms: percentile(&ingest, 0.99),
        dashboard_requests: dash.len(),
        dashboard_p50_ms: percentile(&dash, 0.5),
        dashboard_p99_ms: percentile(&dash, 0.99),
        dashboard_max_ms: dash.last().copied().unwrap_or_default(),
        heavy_answered: heavy.len(),
        heavy_busy: busy.load(Ordering::Relaxed),
        heavy_p50_ms: percentile(&heavy, 0.5),
        heavy_p99_ms: percentile(&heavy, 0.99),
        errors: errors.load(Ordering::Relaxed),
        server_rss_start_mb: rss_start,
        server_rss_max_mb: rss_max,
    })
}
