//! The `memberpulse` command: configuration by flags and environment variables.

pub mod loadgen;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use app::{
    format,
    model::{Breakdown, BreakdownQuery, Overview, OverviewQuery, Segment},
};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::{
    Error, Result,
    access::Caller,
    http::{self, ServerInfo},
    load::generate,
    load::import::{Kind, LoadReport, LoadRequest, Mapping},
    metrics::MetricConfig,
    service::Services,
    store::analytics::Analytics,
    store::operational,
};

#[derive(Parser, Debug)]
#[command(name = "memberpulse", version, about = "Member-health server for retail loyalty programmes")]
pub struct Cli {
    /// Directory of the analytics DuckDB file and the default SQLite operational store.
    #[arg(long, env = "MEMBERPULSE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Operational store (sqlx URL); default `sqlite://<data-dir>/memberpulse.sqlite`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Days without a purchase after which a member counts as churned.
    #[arg(long, env = "MEMBERPULSE_CHURN_DAYS", default_value_t = 180, global = true)]
    pub churn_days: u32,
    /// Days since the last purchase up to which a member counts as active (older: dormant).
    #[arg(long, env = "MEMBERPULSE_ACTIVE_DAYS", default_value_t = 90, global = true)]
    pub active_days: u32,
    /// Days after a first purchase in which a second one counts for the second-purchase rate.
    #[arg(long, env = "MEMBERPULSE_SECOND_PURCHASE_DAYS", default_value_t = 90, global = true)]
    pub second_purchase_days: u32,
    /// Days since joining up to which a member with at most one purchase is new.
    #[arg(long, env = "MEMBERPULSE_NEW_MEMBER_DAYS", default_value_t = 30, global = true)]
    pub new_member_days: u32,
    /// What one loyalty point is worth, in cents (fen).
    #[arg(long, env = "MEMBERPULSE_POINT_VALUE_CENTS", default_value_t = 1, global = true)]
    pub point_value_cents: u32,
    /// Points earned in year Y expire at the end of year Y + N (0: never).
    #[arg(long, env = "MEMBERPULSE_POINTS_EXPIRY_YEARS", default_value_t = 1, global = true)]
    pub points_expiry_years: u32,
    /// A member whose P(alive) (last model fit) is below this is at risk of churning.
    #[arg(long, env = "MEMBERPULSE_AT_RISK_P_ALIVE", default_value_t = 0.5, global = true)]
    pub at_risk_p_alive: f64,
    /// Annual discount rate of the predicted 12-month CLV.
    #[arg(long, env = "MEMBERPULSE_ANNUAL_DISCOUNT", default_value_t = 0.1, global = true)]
    pub annual_discount: f64,
    /// The retailer's time zone (IANA name, e.g. Asia/Shanghai): times sent to the ingest
    /// API with an offset are stored as this zone's local time.
    #[arg(long, env = "MEMBERPULSE_TIME_ZONE", default_value = "UTC", global = true)]
    pub time_zone: chrono_tz::Tz,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the dashboard and the JSON API.
    Serve {
        #[arg(long, env = "MEMBERPULSE_ADDR", default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        /// The site built by cargo-leptos (holds pkg/ with the wasm, js and css).
        #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
        site_root: PathBuf,
        /// On first start with an empty store, generate a demo retailer of this many members (0: don't).
        #[arg(long, env = "MEMBERPULSE_DEMO_MEMBERS", default_value_t = 0)]
        demo_members: u64,
        /// Where alert notices link to (default: http://<addr>).
        #[arg(long, env = "MEMBERPULSE_PUBLIC_URL")]
        public_url: Option<String>,
        /// How often rules are checked for being due, in seconds.
        #[arg(long, env = "MEMBERPULSE_ALERT_TICK_SECS", default_value_t = 15)]
        alert_tick_secs: u64,
        /// The first retry of a failed alert delivery, in milliseconds; each further one
        /// waits twice as long, up to --retry-max-secs.
        #[arg(long, env = "MEMBERPULSE_RETRY_BASE_MS", default_value_t = 2000)]
        retry_base_ms: u64,
        #[arg(long, env = "MEMBERPULSE_RETRY_MAX_SECS", default_value_t = 60)]
        retry_max_secs: u64,
        /// The SMTP server for alert e-mail, `smtp://host:port` (plain SMTP, e.g. a local relay).
        #[arg(long, env = "MEMBERPULSE_SMTP_URL")]
        smtp_url: Option<String>,
        /// The sender of alert e-mail.
        #[arg(long, env = "MEMBERPULSE_SMTP_FROM", default_value = "memberpulse@localhost")]
        smtp_from: String,
        /// The bearer token clients present to `POST /api/v1/ingest/{table}`.
        #[arg(long, env = "MEMBERPULSE_INGEST_TOKEN", hide_env_values = true)]
        ingest_token: Option<String>,
        /// The least time between two background refits of the model, in seconds. A
        /// fit of a million members takes both cores for some 10 s, and the model moves
        /// little in minutes: while data keeps landing it follows every ten by default.
        #[arg(long, env = "MEMBERPULSE_REFIT_GAP_SECS", default_value_t = 600)]
        refit_gap_secs: u64,
        /// Groups (filtered views, breakdown rows, cohorts) of fewer members show
        /// executives no figures.
        #[arg(long, env = "MEMBERPULSE_MIN_GROUP_SIZE", default_value_t = crate::service::MIN_GROUP_SIZE)]
        min_group_size: u32,
        /// The one folder the server reads files from when `memberpulse import` names one
        /// (default `<data-dir>/imports`); everyone else uploads the file.
        #[arg(long, env = "MEMBERPULSE_IMPORT_DIR")]
        import_dir: Option<PathBuf>,
        /// The largest file an admin may upload (`POST /api/v1/loads/upload`), in MiB.
        #[arg(long, env = "MEMBERPULSE_UPLOAD_MAX_MB", default_value_t = 1024)]
        upload_max_mb: u64,
        /// Reverse proxies (addresses or networks, comma-separated) whose
        /// `X-Forwarded-For` names the client for the sign-in limits; from anyone else the
        /// header is ignored.
        #[arg(long, env = "MEMBERPULSE_TRUSTED_PROXY", value_delimiter = ',')]
        trusted_proxy: Vec<String>,
        /// Let alert webhooks reach loopback, link-local, private and unique-local
        /// addresses (refused by default, when a rule is saved and when a notice is sent).
        #[arg(long, env = "MEMBERPULSE_ALLOW_PRIVATE_WEBHOOKS")]
        allow_private_webhooks: bool,
        /// How many heavy reads (cohorts, long trends, the holdout check) run at once;
        /// the others wait their turn, so dashboards and ingest keep theirs.
        #[arg(long, env = "MEMBERPULSE_HEAVY_READS", default_value_t = 1)]
        heavy_reads: u32,
    },
    /// Add, list or change the people who sign in (works while the server runs).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Make, list or revoke API tokens (works while the server runs).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Generate a deterministic synthetic retailer into the analytics store.
    Generate {
        #[arg(long, default_value_t = 10_000)]
        members: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Last day of generated activity.
        #[arg(long, default_value = "2026-06-30")]
        end: NaiveDate,
        /// Wipe the store first if it holds data.
        #[arg(long)]
        replace: bool,
    },
    /// Load CSV or Parquet files (handed to the server when one is running on this data dir).
    Import {
        /// Files to load, in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The table the files hold (stores, members, orders, order_items, points), when there is no mapping.
        #[arg(long)]
        table: Option<String>,
        /// A column-mapping file (TOML), e.g. mappings/online_retail.toml.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Print the load reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the per-member summary from the raw tables.
    RebuildSummary,
    /// Time the overview, a breakdown by region and an RFM segment list against the
    /// straightforward SQL over the raw tables, and check they give the same numbers.
    Bench {
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, default_value = "30d")]
        window: String,
        #[arg(long, default_value = "previous")]
        compare: String,
        /// Timed runs per case (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 9)]
        rounds: usize,
    },
    /// Time the model (summary, both fits, scoring every buyer) as of T, and the Python
    /// package `lifetimes` on the same summary when its interpreter is given.
    BenchModel {
        #[arg(long)]
        as_of: Option<String>,
        /// A Python with `lifetimes` installed (`scripts/setup.sh --test` makes
        /// `target/pyenv/bin/python`); without it only MemberPulse is timed.
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// Print every metric for a window and its comparison window.
    Metrics {
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, default_value = "30d")]
        window: String,
        #[arg(long, default_value = "previous")]
        compare: String,
        /// Break one metric (`--metric`) down by this dimension (region, tier, lifecycle_stage, …).
        #[arg(long, requires = "metric")]
        by: Option<String>,
        /// The metric to break down.
        #[arg(long)]
        metric: Option<String>,
        /// Only members matching `dimension:value|value;dimension:value`.
        #[arg(long)]
        filters: Option<String>,
        /// Only the members of this saved segment (see `memberpulse segments`).
        #[arg(long)]
        segment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Fit BG/NBD and Gamma-Gamma to the members' purchases as of T, score every member
    /// (stored in `member_scores`) and print the fits.
    Fit {
        #[arg(long)]
        as_of: Option<String>,
    },
    /// List, save or delete saved segments.
    Segments {
        #[command(subcommand)]
        action: Option<SegmentAction>,
    },
    /// Send orders to the server running on this data dir through the ingest API at a
    /// steady rate while dashboard clients ask for the headline figures; print what it
    /// sustained (rows/s, p50/p99 latencies, errors, server memory).
    Loadgen {
        /// Order rows per second to offer.
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        /// Rows per request.
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Orders go to members M0000001 … M<members> (the generator's ids).
        #[arg(long, default_value_t = 10_000)]
        members: u64,
        /// Clients asking for the dashboard's headline figures (as an open overview does
        /// after each push).
        #[arg(long, default_value_t = 4)]
        dashboard_clients: usize,
        /// Each dashboard client's pace, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        dashboard_every_ms: u64,
        /// Clients asking for heavy reports back to back (holdout checks, 60 cohorts,
        /// 24-window trends, each at another T): how the dashboards and ingest fare.
        #[arg(long, default_value_t = 0)]
        heavy_clients: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserAction {
    /// Add a user. The password is read from standard input with --password-stdin;
    /// otherwise a random one is made and printed once. There is no default password.
    Add {
        #[arg(long)]
        name: String,
        /// executive, operator or admin.
        #[arg(long, value_parser = parse_role)]
        role: app::model::Role,
        #[arg(long)]
        password_stdin: bool,
        /// Do nothing (and succeed) if the user exists.
        #[arg(long)]
        if_missing: bool,
    },
    List,
    /// Change a user's role or password, or disable or enable them.
    Set {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Option<app::model::Role>,
        /// A new password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// A new random password, printed once.
        #[arg(long)]
        new_password: bool,
        #[arg(long)]
        disable: bool,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum TokenAction {
    /// Make a token and print its secret (shown once; stored only as a digest).
    Add {
        #[arg(long)]
        name: String,
        /// ingest (POST /api/v1/ingest/*) or read (GET /api/v1/*).
        #[arg(long)]
        scope: String,
        /// What a read token may see: executive (default), operator or admin.
        #[arg(long, value_parser = parse_role)]
        role: Option<app::model::Role>,
    },
    List,
    Revoke {
        id: i64,
    },
}

fn parse_role(text: &str) -> std::result::Result<app::model::Role, String> {
    app::model::Role::parse(text).ok_or_else(|| format!("{text:?}: expected executive, operator or admin"))
}

#[derive(Subcommand, Debug, Clone)]
pub enum SegmentAction {
    /// Print the saved segments (the default).
    List,
    /// Save a segment (replacing one with the same key).
    Save {
        key: String,
        /// `dimension:value|value;dimension:value`, e.g. `region:华东;rfm_segment:at_risk`.
        #[arg(long)]
        filters: String,
        #[arg(long)]
        name_zh: String,
        #[arg(long)]
        name_en: String,
    },
    Delete {
        key: String,
    },
}

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
                    generate_into(&services.analytics, demo_members, 42, default_end(), false).await?;
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
            generate_into(&services.analytics, members, seed, end, replace).await
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
        Command::User { ref action } => user(&open_ops(&cli).await?, action.clone()).await,
        Command::Token { ref action } => token(&open_ops(&cli).await?, action.clone()).await,
        Command::BenchModel { ref as_of, ref python } => {
            let services = open(&cli).await?;
            bench_model(&services, as_of.clone(), python.clone()).await
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

/// A password from standard input (one line), or a new random one that is printed.
fn password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let made = crate::access::users::secret("")[..20].to_string();
    println!("password: {made}   (shown once; change it with `memberpulse user set --password-stdin`)");
    Ok(made)
}

async fn user(ops: &operational::Pool, action: UserAction) -> Result<()> {
    use app::model::UserChange;
    let who = Caller::cli();
    match action {
        UserAction::Add { name, role, password_stdin, if_missing } => {
            if if_missing && crate::access::users::get(ops, &name).await.is_ok() {
                println!("user {name} exists");
                return Ok(());
            }
            let password = password(password_stdin)?;
            let change = UserChange { name, role: Some(role), password: Some(password), disabled: None };
            let u = crate::access::create_user(ops, &who, change).await?;
            println!("added {} ({}); sign in at the server's /signin", u.name, u.role.key());
        }
        UserAction::List => {
            for u in crate::access::list_users(ops, &who).await? {
                let state = if u.disabled {
                    "disabled"
                } else if u.locked_until.is_some() {
                    "locked"
                } else {
                    ""
                };
                println!("{:<24} {:<10} {:<22} {state}", u.name, u.role.key(), u.created_at);
            }
        }
        UserAction::Set { name, role, password_stdin, new_password, disable, enable } => {
            let password = if password_stdin || new_password { Some(password(password_stdin)?) } else { None };
            let disabled = if disable {
                Some(true)
            } else if enable {
                Some(false)
            } else {
                None
            };
            let u = crate::access::update_user(ops, &who, UserChange { name, role, password, disabled }).await?;
            println!("{} is {}{}", u.name, u.role.key(), if u.disabled { ", disabled" } else { "" });
        }
    }
    Ok(())
}

async fn token(ops: &operational::Pool, action: TokenAction) -> Result<()> {
    let who = Caller::cli();
    match action {
        TokenAction::Add { name, scope, role } => {
            let t = crate::access::create_token(ops, &who, app::model::TokenRequest { name, scope, role }).await?;
            println!("token {} ({}, {}): {}", t.id, t.scope, t.role.key(), t.secret.unwrap_or_default());
            println!("(shown once: present it as `Authorization: Bearer <token>`)");
        }
        TokenAction::List => {
            for t in crate::access::list_tokens(ops, &who).await? {
                let state = t.revoked_at.as_deref().map(|r| format!("revoked {r}")).unwrap_or_default();
                println!("{:<5} {:<24} {:<7} {:<10} {:<22} {state}", t.id, t.name, t.scope, t.role.key(), t.created_at);
            }
        }
        TokenAction::Revoke { id } => {
            let t = crate::access::revoke_token(ops, &who, id).await?;
            println!("revoked token {} ({})", t.id, t.name);
        }
    }
    Ok(())
}

async fn segments(services: &Services, action: Option<SegmentAction>) -> Result<()> {
    match action.unwrap_or(SegmentAction::List) {
        SegmentAction::List => {
            for s in services.segments(&Caller::cli()).await? {
                println!("{:<24} {:<16} {:<24} {}", s.key, s.name_zh, s.name_en, s.filters);
            }
        }
        SegmentAction::Save { key, filters, name_zh, name_en } => {
            let segment = Segment { key, name_zh, name_en, filters };
            let saved = match services.create_segment(&Caller::cli(), segment.clone()).await {
                Err(Error::Conflict(_)) => services.update_segment(&Caller::cli(), segment).await?,
                other => other?,
            };
            println!("saved segment {} ({})", saved.key, saved.filters);
        }
        SegmentAction::Delete { key } => {
            services.delete_segment(&Caller::cli(), &key).await?;
            println!("deleted segment {key}");
        }
    }
    Ok(())
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
    let analytics = Analytics::open(&cli.data_dir.join("memberpulse.duckdb")).map_err(|e| match e {
        Error::DuckDb(inner) if inner.to_string().contains("lock") => Error::Load(format!(
            "{}: the analytics store is in use by another process ({inner})",
            cli.data_dir.display()
        )),
        other => other,
    })?;
    let ops = open_ops(cli).await?;
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

async fn generate_into(analytics: &Analytics, members: u64, seed: u64, end: NaiveDate, replace: bool) -> Result<()> {
    let started = Instant::now();
    let opts = generate::Options { members, seed, end, progress: true, ..Default::default() };
    let analytics = analytics.clone();
    let summary = tokio::task::spawn_blocking(move || generate::generate(&analytics, &opts, replace)).await??;
    println!(
        "generated {} members, {} stores, {} orders, {} order items, {} points entries in {:.1}s",
        summary.members,
        summary.stores,
        summary.orders,
        summary.order_items,
        summary.points,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Hands a load to the server running on this data dir, if there is one. The server
/// reads files only inside its import folder: a file elsewhere is put there first (a hard
/// link, or a copy across file systems) under a name of its own, and removed after.
async fn hand_to_server(data_dir: &Path, request: &LoadRequest) -> Result<Option<LoadReport>> {
    let Some(info) = ServerInfo::read(data_dir) else {
        return Ok(None);
    };
    let import_dir = info.import_dir.clone().unwrap_or_else(|| data_dir.join("imports"));
    let staged = Staged::in_folder(&import_dir, &request.path)?;
    let named = LoadRequest { path: staged.path.clone(), mapping: request.mapping.clone(), name: request.name.clone() };
    let client = reqwest::Client::new();
    let response =
        client.post(format!("http://{}/api/v1/loads", info.addr)).bearer_auth(&info.token).json(&named).send().await;
    let response = match response {
        Ok(r) => r,
        // A server that left its file behind and is gone: load here.
        Err(e) if e.is_connect() => return Ok(None),
        Err(e) => return Err(Error::Internal(format!("server at {}: {e}", info.addr))),
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
async fn load_here(services: &Services, request: LoadRequest) -> Result<LoadReport> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let name = request.display_name();
    let bar = spinner.clone();
    let progress = move |stage: &str| bar.set_message(format!("{name}: {stage}"));
    let report = services.load(&Caller::cli(), request, Some(Box::new(progress))).await;
    spinner.finish_and_clear();
    report
}

/// The overview as a small table for the terminal.
fn format_overview(o: &Overview) -> String {
    let mut out = format!(
        "as of {} · window {} – {} · compared with {} – {}\n",
        o.as_of, o.window.start, o.window.end, o.comparison_window.start, o.comparison_window.end
    );
    for k in &o.kpis {
        out.push_str(&format!(
            "  {:<28} {:>16}   (was {:>16})\n",
            k.key.name().en,
            format::measure(k.unit, &k.current),
            format::measure(k.unit, &k.comparison)
        ));
    }
    out
}

/// A breakdown as a small table for the terminal.
fn format_breakdown(b: &Breakdown) -> String {
    let mut out = format!(
        "{} by {} · window {} – {} · compared with {} – {}\n",
        b.metric.name().en,
        b.dimension.name().en,
        b.window.start,
        b.window.end,
        b.comparison_window.start,
        b.comparison_window.end
    );
    for r in b.rows.iter().chain(std::iter::once(&b.total)) {
        out.push_str(&format!(
            "  {:<28} {:>16}   (was {:>16})\n",
            r.value,
            format::measure(b.unit, &r.current),
            format::measure(b.unit, &r.comparison)
        ));
    }
    out
}

/// Prints a result as JSON or as the terminal table `text` makes of it.
fn show<T: serde::Serialize>(json: bool, value: &T, text: fn(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        print!("{}", text(value));
    }
}

/// `memberpulse bench-model`: the stages of a fit on this data, and `lifetimes` on the same
/// summary for the ratio.
async fn bench_model(services: &Services, as_of: Option<String>, python: Option<PathBuf>) -> Result<()> {
    let discount = services.metrics.annual_discount;
    let (t, times) = services
        .analytics
        .read(move |conn| {
            let t = crate::metrics::day_or_latest(conn, "as_of", as_of.as_deref())?;
            Ok((t, crate::metrics::reference::model(conn, t, discount)?))
        })
        .await?;
    println!("as of {t}: {} members with a purchase", times.buyers);
    println!("  summary from DuckDB  {:>7.2} s", times.summary_s);
    println!("  BG/NBD fit           {:>7.2} s ({} iterations)", times.bgnbd_s, times.bgnbd.iterations);
    println!("  Gamma-Gamma fit      {:>7.2} s ({} iterations)", times.gamma_gamma_s, times.gamma_gamma.iterations);
    println!("  scoring every buyer  {:>7.2} s", times.scoring_s);
    println!("  fit + scoring        {:>7.2} s", times.total_s());
    let Some(python) = python else {
        return Ok(());
    };
    let csv = std::env::temp_dir().join(format!("memberpulse-summary-{}.csv", std::process::id()));
    crate::metrics::reference::write_lifetimes_csv(&times.summaries, &csv)?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lifetimes_bench.py");
    println!("running lifetimes on the same summary ({})…", python.display());
    let out = std::process::Command::new(&python).arg(&script).arg(&csv).arg(discount.to_string()).output();
    let _ = std::fs::remove_file(&csv);
    let out = out?;
    if !out.status.success() {
        return Err(crate::Error::Internal(format!("lifetimes failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| crate::Error::Internal(format!("lifetimes printed no JSON: {e}")))?;
    let secs = |k: &str| theirs[k].as_f64().unwrap_or(f64::NAN);
    let lifetimes_total = secs("bgnbd_s") + secs("gamma_gamma_s") + secs("scoring_s");
    println!("  lifetimes BG/NBD fit      {:>8.2} s", secs("bgnbd_s"));
    println!("  lifetimes Gamma-Gamma fit {:>8.2} s", secs("gamma_gamma_s"));
    println!("  lifetimes scoring         {:>8.2} s", secs("scoring_s"));
    println!(
        "fit + scoring: MemberPulse {:.2} s (summary included), lifetimes {:.2} s (summary given): {:.1}× faster",
        times.total_s(),
        lifetimes_total,
        lifetimes_total / times.total_s()
    );
    for (name, ours, key) in [("BG/NBD", &times.bgnbd, "bgnbd"), ("Gamma-Gamma", &times.gamma_gamma, "gamma_gamma")] {
        let theirs: Vec<f64> =
            theirs[key].as_array().map(|a| a.iter().filter_map(|v| v.as_f64()).collect()).unwrap_or_default();
        let worst = ours.params.iter().zip(&theirs).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max);
        println!(
            "  {name}: ours {:?}, lifetimes {:?}: largest relative difference {worst:.1e}",
            ours.params.iter().map(|p| (p * 1e4).round() / 1e4).collect::<Vec<_>>(),
            theirs.iter().map(|p| (p * 1e4).round() / 1e4).collect::<Vec<_>>()
        );
    }
    Ok(())
}
