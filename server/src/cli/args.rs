//! The command line: every command, flag and environment variable (clap).

use std::{net::SocketAddr, path::PathBuf};

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "memberpulse", version, about = "Member-health server for retail loyalty programmes")]
pub struct Cli {
    /// Directory of the analytics DuckDB file and the default SQLite operational store.
    #[arg(long, env = "MEMBERPULSE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Memory DuckDB may use for the analytics store, e.g. `8GB` (default: DuckDB's own, 80% of
    /// RAM). Above it, large loads, generation and rebuilds spill to `<store>.tmp` on disk.
    #[arg(long, env = "MEMBERPULSE_DUCKDB_MEMORY_LIMIT", global = true, value_parser = parse_memory_limit)]
    pub duckdb_memory_limit: Option<String>,
    /// The privacy key (64 hex digits, mode 0600) that seals names, phones and alert channel
    /// secrets at rest. Default: `MEMBERPULSE_PRIVACY_KEY` (the key itself), else
    /// `<data-dir>/privacy.key`, made on first start. Keep it away from the data's backups.
    #[arg(long, env = "MEMBERPULSE_PRIVACY_KEY_FILE", global = true)]
    pub privacy_key_file: Option<PathBuf>,
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
        /// Remove the name and phone of members with no purchase and no consent activity
        /// for this many days, once at start and then daily (off by default; preview the
        /// count on the privacy page first).
        #[arg(long, env = "MEMBERPULSE_PERSONAL_DATA_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
        personal_data_retention_days: Option<u32>,
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
    /// Time the overview, a breakdown per kind of dimension (region, RFM segment,
    /// lifecycle stage, churn risk), an RFM segment list sorted by each column and a phone
    /// look-up against the straightforward SQL over the raw tables, and check they give the
    /// same numbers.
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
    /// Time what evaluating the triggers adds to a fold: one trigger of each kind, then
    /// rounds of `rows` orders landed, folded and evaluated. Changes the store: run it on a
    /// copy.
    BenchTriggers {
        #[arg(long, default_value_t = 15_000)]
        rows: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
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
    /// A member's rights (PIPL): everything held on them, or their erasure. Handed to the
    /// server running on the data dir, if one is.
    Privacy {
        #[command(subcommand)]
        action: PrivacyAction,
    },
    /// One member across channels: the pairs the matching rules propose, merging members
    /// into a survivor and undoing it. Handed to the server running on the data dir, if
    /// one is.
    Identity {
        #[command(subcommand)]
        action: IdentityAction,
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
pub enum PrivacyAction {
    /// Print the access document (PIPL art. 45) of one member, as JSON (or HTML).
    Access {
        #[arg(long, conflicts_with = "phone", required_unless_present = "phone")]
        member: Option<String>,
        /// A whole phone number that exactly one member has.
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        html: bool,
    },
    /// Erase one member (PIPL art. 47): name and phone removed everywhere, the id replaced
    /// by a pseudonym so that no figure changes.
    Erase {
        #[arg(long, conflicts_with = "phone", required_unless_present = "phone")]
        member: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Why: the request's reference (kept with the erasure).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum IdentityAction {
    /// Print the pairs of members the matching rules say are one person, with the evidence.
    Candidates {
        /// One rule's id (all rules when absent).
        #[arg(long)]
        rule: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Merge members into a survivor: their orders, points and tier history follow.
    Merge {
        #[arg(long)]
        survivor: String,
        /// A member to merge (repeat for several).
        #[arg(long, required = true)]
        merged: Vec<String>,
    },
    /// Undo a merge exactly.
    Undo { merge_id: i64 },
    /// Merge every pair the automatic rules propose.
    Automatic,
    /// Print the merges, newest first.
    Merges,
    /// Merge `--pairs` pairs of members picked at random (seeded) in one request while
    /// dashboard reads run, and print the merge's time and the reads' latencies (before
    /// and during). Changes the store: run it on a copy.
    Bench {
        #[arg(long, default_value_t = 50_000)]
        pairs: usize,
    },
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

/// `8GB`, `512MB`, `1.5GiB`: a number and a unit DuckDB reads; anything else is refused here,
/// so the value can be written into a `SET` statement.
fn parse_memory_limit(text: &str) -> Result<String, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let number_ok = !number.is_empty() && number.parse::<f64>().is_ok_and(|n| n > 0.0);
    let unit_ok = ["KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"].iter().any(|u| u.eq_ignore_ascii_case(unit));
    if number_ok && unit_ok {
        Ok(format!("{number}{unit}"))
    } else {
        Err(format!("{text:?} is not a memory size such as 8GB or 512MB"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_memory_limit;

    #[test]
    fn memory_limits_are_a_number_and_a_unit() {
        assert_eq!(parse_memory_limit("8GB").unwrap(), "8GB");
        assert_eq!(parse_memory_limit(" 1.5 GiB ").unwrap(), "1.5GiB");
        for bad in ["", "8", "GB", "0GB", "8 parsecs", "8GB'; --", "-1GB"] {
            assert!(parse_memory_limit(bad).is_err(), "{bad}");
        }
    }
}
