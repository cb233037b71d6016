//! The `memberpulse` command: `args` declares the commands and flags, `run` dispatches
//! them, and one file per command family does the work (`data`: generate and import,
//! `people`: users, tokens and segments, `report`: metrics and bench output, `loadgen`).

mod args;
mod bench_triggers;
mod data;
mod identity;
pub mod loadgen;
mod people;
mod report;

pub use args::{Cli, Command, IdentityAction, PrivacyAction, SegmentAction, TokenAction, UserAction};

use std::{process::ExitCode, time::Instant};

use app::model::{BreakdownQuery, OverviewQuery};
use chrono::NaiveDate;
use clap::Parser;

use crate::{
    Error, Result,
    access::Caller,
    http::{self, ServerInfo},
    load::import::{Kind, LoadRequest, Mapping},
    metrics::MetricConfig,
    service::Services,
    store::analytics::Analytics,
    store::operational,
};
use data::{generate_into, hand_to_server, load_here};
use people::{segments, token, user};
use report::{bench_model, format_breakdown, format_overview, show};

pub async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,leptos=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            addr,
            ref site_root,
            demo_members,
            ref public_url,
            alert_tick_secs,
            retry_base_ms,
            retry_max_secs,
            ref smtp_url,
            ref smtp_from,
            ref ingest_token,
            refit_gap_secs,
            min_group_size,
            ref import_dir,
            upload_max_mb,
            ref trusted_proxy,
            allow_private_webhooks,
            personal_data_retention_days,
            heavy_reads,
        } => {
            let trusted = trusted_proxy
                .iter()
                .filter(|t| !t.trim().is_empty())
                .map(|t| crate::access::Net::parse(t))
                .collect::<Result<Vec<_>>>()?;
            let import_dir = import_dir.clone().unwrap_or_else(|| cli.data_dir.join("imports"));
            std::fs::create_dir_all(&import_dir)
                .map_err(|e| Error::Load(format!("{}: cannot make the import folder: {e}", import_dir.display())))?;
            let smtp = smtp_url.as_deref().map(|u| crate::alerts::delivery::Smtp::parse(u, smtp_from)).transpose()?;
            let services = open(&cli)
                .await?
                .with_min_group(min_group_size)
                .with_import_dir(&import_dir)?
                .with_private_webhooks(allow_private_webhooks)
                .with_retention(personal_data_retention_days)
                .with_heavy_reads(heavy_reads);
            if crate::access::users::count(&services.ops).await? == 0 {
                println!(
                    "No users yet. Make the first admin (another terminal is fine):\n  memberpulse user add --name admin --role admin --data-dir {}",
                    cli.data_dir.display()
                );
            }
            if demo_members > 0 {
                let empty = Analytics::is_empty(&services.analytics.reader()?)?;
                if empty {
                    println!("First start: generating a demo retailer of {demo_members} members…");
                    generate_into(&services.analytics, services.metrics, demo_members, 42, default_end(), false)
                        .await?;
                }
            }
            http::serve(
                http::ServeOptions {
                    addr,
                    site_root: site_root.clone(),
                    data_dir: cli.data_dir.clone(),
                    public_url: public_url.clone(),
                    alert_tick: std::time::Duration::from_secs(alert_tick_secs.max(1)),
                    retry_base: std::time::Duration::from_millis(retry_base_ms.max(10)),
                    retry_max: std::time::Duration::from_secs(retry_max_secs.max(1)),
                    smtp,
                    ingest_token: ingest_token.clone().filter(|t| !t.is_empty()),
                    refit_gap: std::time::Duration::from_secs(refit_gap_secs),
                    upload_max_bytes: usize::try_from(upload_max_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
                    trusted_proxies: trusted,
                },
                services,
            )
            .await
        }
        Command::Generate { members, seed, end, replace } => {
            let services = open(&cli).await?;
            generate_into(&services.analytics, services.metrics, members, seed, end, replace).await
        }
        Command::Import { ref files, ref table, ref mapping, json } => {
            let mapping = match (mapping, table) {
                (Some(path), _) => Mapping::from_file(path)?,
                (None, Some(t)) => Mapping::identity(Kind::parse(t)?),
                (None, None) => return Err(Error::bad_param("table", "give --table or --mapping")),
            };
            let mut reports = Vec::new();
            // Opened on the first file no running server takes, then kept.
            let mut here: Option<Services> = None;
            for file in files {
                let path = std::fs::canonicalize(file).map_err(|e| Error::Load(format!("{}: {e}", file.display())))?;
                let request = LoadRequest { path, mapping: mapping.clone(), name: Some(file.display().to_string()) };
                let report = match hand_to_server(&cli.data_dir, &request).await? {
                    Some(report) => report,
                    None => {
                        let services = match here.take() {
                            Some(s) => s,
                            None => open(&cli).await?,
                        };
                        let report = load_here(&services, request).await?;
                        here = Some(services);
                        report
                    }
                };
                if !json {
                    print!("{}", report.summary(20));
                }
                reports.push(report);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&reports).unwrap_or_default());
            }
            Ok(())
        }
        Command::RebuildSummary => {
            let services = open(&cli).await?;
            let started = Instant::now();
            services.analytics.write(|conn| crate::derive::summary::rebuild(conn)).await?;
            println!("member summary rebuilt in {:.1}s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Loadgen {
            rate,
            batch,
            seconds,
            members,
            dashboard_clients,
            dashboard_every_ms,
            heavy_clients,
            json,
        } => {
            let info = ServerInfo::read(&cli.data_dir).ok_or_else(|| {
                Error::Load(format!(
                    "no server is running on {}; start `memberpulse serve` first",
                    cli.data_dir.display()
                ))
            })?;
            eprintln!("offering {rate} order rows/s in batches of {batch} to http://{} for {seconds}s…", info.addr);
            let report = crate::cli::loadgen::run(crate::cli::loadgen::LoadPlan {
                url: format!("http://{}", info.addr),
                token: info.token.clone(),
                rate,
                batch: batch.max(1),
                duration: std::time::Duration::from_secs(seconds),
                members,
                dashboard_clients,
                dashboard_every: std::time::Duration::from_millis(dashboard_every_ms.max(10)),
                heavy_clients,
                server_pid: Some(info.pid),
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                println!(
                    "landed {} of {} rows in {:.1}s: {:.0} rows/s; ingest p50 {:.1} ms, p99 {:.1} ms; \
                     dashboard {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; heavy reports {} answered \
                     (p50 {:.0} ms, p99 {:.0} ms), {} refused as busy; {} errors; server RSS {} → {} MB",
                    report.rows_landed,
                    report.rows_offered,
                    report.seconds,
                    report.rows_per_second,
                    report.ingest_p50_ms,
                    report.ingest_p99_ms,
                    report.dashboard_requests,
                    report.dashboard_p50_ms,
                    report.dashboard_p99_ms,
                    report.dashboard_max_ms,
                    report.heavy_answered,
                    report.heavy_p50_ms,
                    report.heavy_p99_ms,
                    report.heavy_busy,
                    report.errors,
                    report.server_rss_start_mb.map_or("-".into(), |m| format!("{m:.0}")),
                    report.server_rss_max_mb.map_or("-".into(), |m| format!("{m:.0}")),
                );
            }
            Ok(())
        }
        Command::Fit { ref as_of } => {
            let services = open(&cli).await?;
            let started = Instant::now();
            let r = services.fit(&Caller::cli(), as_of.clone()).await?;
            println!(
                "as of {}: {} members with a purchase, fitted, scored and stored in {:.2}s",
                r.as_of,
                r.members,
                started.elapsed().as_secs_f64()
            );
            for (name, names, f) in [
                ("BG/NBD", ["r", "alpha", "a", "b"].as_slice(), &r.bgnbd),
                ("Gamma-Gamma", ["p", "q", "gamma"].as_slice(), &r.gamma_gamma),
            ] {
                println!("{name}: log-likelihood {:.3}, {} iterations", f.log_likelihood, f.iterations);
                for (i, n) in names.iter().enumerate() {
                    println!("  {n:<6} {:>12.6} ± {:.6}", f.params[i], f.std_errors[i]);
                }
            }
            println!(
                "mean P(alive) {:.4}, mean 12-month CLV ({:.0}%/year) {:.2}",
                r.mean_p_alive,
                cli.annual_discount * 100.0,
                r.mean_clv_12m
            );
            Ok(())
        }
        Command::Segments { ref action } => {
            let services = open(&cli).await?;
            segments(&services, action.clone()).await
        }
        Command::Privacy { ref action } => people::privacy(&cli, action.clone()).await,
        Command::Identity { ref action } => identity::identity(&cli, action.clone()).await,
        Command::User { ref action } => user(&open_ops(&cli).await?, action.clone()).await,
        Command::Token { ref action } => token(&open_ops(&cli).await?, action.clone()).await,
        Command::BenchModel { ref as_of, ref python } => {
            let services = open(&cli).await?;
            bench_model(&services, as_of.clone(), python.clone()).await
        }
        Command::BenchTriggers { rows, rounds } => {
            let services = open(&cli).await?;
            bench_triggers::bench_triggers(&services, rows, rounds).await
        }
        Command::Bench { ref as_of, ref window, ref compare, rounds } => {
            let services = open(&cli).await?;
            let cfg = services.metrics;
            let rules = crate::metrics::rfm::rules(&services.ops).await?;
            let query = OverviewQuery {
                as_of: as_of.clone(),
                window: Some(window.clone()),
                compare: Some(compare.clone()),
                ..Default::default()
            };
            let cases = services
                .analytics
                .read(move |conn| {
                    let counts = Analytics::counts(conn)?;
                    println!("data: {}", counts.iter().map(|(t, n)| format!("{n} {t}")).collect::<Vec<_>>().join(", "));
                    let req = crate::metrics::resolve(conn, &query)?;
                    let started = Instant::now();
                    match crate::metrics::facts::refresh(conn, cfg)? {
                        Some(t) => println!(
                            "member facts made for {t} in {:.2} s (once per change of the data, in the background when serving)",
                            started.elapsed().as_secs_f64()
                        ),
                        None => println!("member facts current"),
                    }
                    if !crate::metrics::facts::current_for(conn, req.window.end, cfg)? {
                        println!("(T is not the latest day: groups are computed from the raw tables)");
                    }
                    println!(
                        "as of {} · {}-day window · median of {rounds} runs each
{:<62} {:>10} {:>10} {:>7}  numbers",
                        req.window.end, req.window.days, "case", "engine ms", "raw SQL ms", "ratio"
                    );
                    crate::metrics::reference::run(conn, req, cfg, rules, rounds, |c| {
                        println!(
                            "{:<62} {:>10.1} {:>10.1} {:>6.1}×  {}",
                            c.name,
                            c.engine_ms,
                            c.raw_ms,
                            c.ratio(),
                            if c.identical { "identical" } else { "DIFFER" }
                        );
                    })
                })
                .await?;
            if let Some(c) = cases.iter().find(|c| !c.identical) {
                return Err(Error::Internal(format!(
                    "{}: the engine gave {:?}, the raw SQL {:?}",
                    c.name, c.engine, c.raw
                )));
            }
            Ok(())
        }
        Command::Metrics { ref as_of, ref window, ref compare, ref by, ref metric, ref filters, ref segment, json } => {
            let services = open(&cli).await?;
            if by.is_some() {
                let started = Instant::now();
                let breakdown = services
                    .breakdown(
                        &Caller::cli(),
                        BreakdownQuery {
                            metric: metric.clone(),
                            dimension: by.clone(),
                            as_of: as_of.clone(),
                            window: Some(window.clone()),
                            compare: Some(compare.clone()),
                            filters: filters.clone(),
                            segment: segment.clone(),
                        },
                    )
                    .await?;
                show(json, &breakdown, format_breakdown);
                eprintln!("({:.0} ms)", started.elapsed().as_secs_f64() * 1000.0);
                return Ok(());
            }
            let overview = services
                .overview(
                    &Caller::cli(),
                    OverviewQuery {
                        as_of: as_of.clone(),
                        window: Some(window.clone()),
                        compare: Some(compare.clone()),
                        filters: filters.clone(),
                        segment: segment.clone(),
                        metrics: None,
                    },
                )
                .await?;
            show(json, &overview, format_overview);
            Ok(())
        }
    }
}

fn default_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date")
}

/// Opens the operational store only (users and tokens can change while a server holds
/// the analytics file).
async fn open_ops(cli: &Cli) -> Result<operational::Pool> {
    std::fs::create_dir_all(&cli.data_dir)?;
    let url = cli
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", cli.data_dir.join("memberpulse.sqlite").display()));
    operational::connect(&url).await
}

/// Opens both stores of a data directory.
pub async fn open(cli: &Cli) -> Result<Services> {
    let key = crate::store::seal::KeySource { file: cli.privacy_key_file.clone() };
    let analytics = Analytics::open_with(&cli.data_dir.join("memberpulse.duckdb"), &key).map_err(|e| match e {
        Error::DuckDb(inner) if inner.to_string().contains("lock") => Error::Load(format!(
            "{}: the analytics store is in use by another process ({inner})",
            cli.data_dir.display()
        )),
        other => other,
    })?;
    if let Some(limit) = &cli.duckdb_memory_limit {
        analytics.limit_memory(limit)?;
    }
    let ops = open_ops(cli).await?;
    let sealed = crate::alerts::rules::seal_stored_channels(&ops, analytics.seal()).await?;
    if sealed > 0 {
        tracing::info!(rows = sealed, "sealed the alert channels stored before");
    }
    Ok(Services::new(
        analytics,
        ops,
        MetricConfig {
            churn_days: cli.churn_days,
            active_days: cli.active_days,
            second_purchase_days: cli.second_purchase_days,
            new_member_days: cli.new_member_days,
            point_value_cents: cli.point_value_cents,
            points_expiry_years: cli.points_expiry_years,
            at_risk_p_alive: cli.at_risk_p_alive,
            annual_discount: cli.annual_discount,
        },
    )
    .in_zone(cli.time_zone))
}
