//! The service layer: what the pages, the JSON API and the CLI ask of the engine.
//!
//! Every call names its [`Caller`] and each method checks the caller's role here, so a
//! page's server function, an API route and the CLI get the same answer or the same 403:
//! executives any aggregate (small groups withheld, see [`disclosure`]), operators also
//! member rows (masked), segments and alert rules, admins everything (unmasked), data,
//! the RFM rule table, refits and alert channels. Member-level reads and every change
//! are audited.

mod alerts;
mod campaigns;
mod dashboard;
mod data;
mod identity;
mod members;
pub mod memo;
mod model;
mod pages;
mod privacy;
mod segments;
mod triggers;

pub use self::model::{FitReport, Refit, RefitState};
pub use data::{Upload, inside};
pub use pages::app_state;
pub use triggers::TriggerRun;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use app::{
    model::{
        AlertEvent, AlertQuery, AlertRule, ApiToken, AuditEntry, AuditQuery, Breakdown, BreakdownQuery, CohortQuery,
        Cohorts, Dimension, Holdout, HoldoutQuery, Member360, MemberPage, MembersQuery, Metric, ModelStatus, Overview,
        OverviewQuery, Role, Segment, SegmentName, SnoozeRequest, TierMigration, TierMigrationQuery, TokenRequest,
        Trend, TrendQuery, User, UserChange, Viewer,
    },
    state::{Engine, EngineError, EngineFuture},
};

use crate::{
    Error, Result,
    access::Caller,
    access::audit,
    access::disclosure,
    alerts::rules,
    load::import::{self, LoadReport, LoadRequest},
    metrics::cohorts,
    metrics::rfm,
    metrics::scope::{self, Criteria, Scope},
    metrics::tiers,
    metrics::{self, MetricConfig},
    service::memo::Memo,
    store::analytics::Analytics,
    store::operational::{self, Pool},
};

#[derive(Clone)]
pub struct Services {
    pub analytics: Analytics,
    pub ops: Pool,
    pub metrics: MetricConfig,
    /// The background refit that follows data loads (run by the server).
    pub refit: Refit,
    /// Told when the data or the model scores changed (alerts are evaluated again).
    pub data_changed: Arc<tokio::sync::Notify>,
    /// Told when the triggers are to be evaluated (data landed, a refit, a trigger changed).
    pub triggers_wake: Arc<tokio::sync::Notify>,
    /// Held while the triggers are evaluated: one evaluation at a time. It keeps what the
    /// next evaluation reads again (`crate::triggers::kept`).
    trigger_run: Arc<tokio::sync::Mutex<crate::triggers::kept::Kept>>,
    /// Told when ingested rows landed and wait to be folded into the summary.
    pub landed: Arc<tokio::sync::Notify>,
    /// Ingest requests validated and waiting to land.
    pub waiting: Arc<crate::load::ingest::Waiting>,
    /// Counts the changes of the data the dashboards show; open pages are pushed each one.
    pub data_version: Arc<tokio::sync::watch::Sender<u64>>,
    /// The open alerts as JSON, once the server has looked (`crate::jobs::evaluator::publish_open`).
    pub open_alerts: Arc<tokio::sync::watch::Sender<Option<Arc<str>>>>,
    /// The retailer's time zone: stored times are its local times.
    pub zone: chrono_tz::Tz,
    /// Groups smaller than this show executives no figures.
    pub min_group: u32,
    /// The one folder the server reads files from when the local CLI names one
    /// (`--import-dir`); everyone else uploads.
    pub import_dir: Arc<Path>,
    /// Whether alert webhooks may reach internal addresses (`--allow-private-webhooks`).
    pub allow_private_webhooks: bool,
    /// Names and phones of members inactive this many days are removed daily
    /// (`--personal-data-retention-days`; `crate::privacy::retention`).
    pub retention_days: Option<u32>,
    /// The overview, trend, breakdown and cohort answers shared by the dashboards asking at
    /// one data version.
    overview_memo: Arc<Memo<Overview>>,
    trend_memo: Arc<Memo<Trend>>,
    breakdown_memo: Arc<Memo<Breakdown>>,
    cohorts_memo: Arc<Memo<Cohorts>>,
    /// Holdout checks, by model fit, T and days held out.
    holdouts: Arc<Memo<Holdout>>,
    /// Permits for heavy reads (see [`Services::heavy`]).
    heavy: Arc<tokio::sync::Semaphore>,
}

/// How long a heavy read waits for its turn before it is refused (429).
pub const HEAVY_WAIT: Duration = Duration::from_secs(20);

/// A trend of more windows than this is a heavy read.
const LIGHT_TREND_POINTS: u32 = 12;

/// The default of [`Services::min_group`] (`--min-group-size`).
pub const MIN_GROUP_SIZE: u32 = 10;

impl Services {
    pub fn new(analytics: Analytics, ops: Pool, metrics: MetricConfig) -> Services {
        Services {
            analytics,
            ops,
            metrics,
            refit: Refit::default(),
            data_changed: Arc::default(),
            triggers_wake: Arc::default(),
            trigger_run: Arc::default(),
            landed: Arc::default(),
            waiting: Arc::default(),
            data_version: Arc::new(tokio::sync::watch::channel(0).0),
            open_alerts: Arc::new(tokio::sync::watch::channel(None).0),
            zone: chrono_tz::UTC,
            min_group: MIN_GROUP_SIZE,
            import_dir: Arc::from(Path::new("imports")),
            allow_private_webhooks: false,
            retention_days: None,
            overview_memo: Arc::default(),
            trend_memo: Arc::default(),
            breakdown_memo: Arc::default(),
            cohorts_memo: Arc::default(),
            holdouts: Arc::new(Memo::kept_for(Duration::from_secs(24 * 3600))),
            heavy: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The same services reading files the CLI names from `dir` only (made if missing).
    pub fn with_import_dir(self, dir: &Path) -> Result<Services> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Load(format!("{}: cannot make the import folder: {e}", dir.display())))?;
        let dir = dir.canonicalize()?;
        Ok(Services { import_dir: Arc::from(dir.as_path()), ..self })
    }

    /// The same services letting alert webhooks reach internal addresses (or not).
    pub fn with_private_webhooks(self, allow: bool) -> Services {
        Services { allow_private_webhooks: allow, ..self }
    }

    /// The same services with a retention period for personal data (or none).
    pub fn with_retention(self, days: Option<u32>) -> Services {
        Services { retention_days: days, ..self }
    }

    /// The same services running at most `n` heavy reads at once.
    pub fn with_heavy_reads(self, n: u32) -> Services {
        Services { heavy: Arc::new(tokio::sync::Semaphore::new(n.max(1) as usize)), ..self }
    }

    /// A turn for a heavy read (cohorts, long trends, the holdout check, fits): at most
    /// `--heavy-reads` run at once, so that dashboards and ingest keep their share of the
    /// cores; one that waits longer than [`HEAVY_WAIT`] is refused (429, retry later).
    /// Move the permit into the blocking work so that it is held until that work ends,
    /// even when the caller goes away.
    async fn heavy(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout(HEAVY_WAIT, self.heavy.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::Busy(format!(
                "the server is busy with other large reports; try again in a few seconds (waited {} s)",
                HEAVY_WAIT.as_secs()
            ))),
        }
    }

    /// The same services withholding groups under `min` members from executives.
    pub fn with_min_group(self, min: u32) -> Services {
        Services { min_group: min, ..self }
    }

    /// The same services in the retailer's time zone `zone`.
    pub fn in_zone(self, zone: chrono_tz::Tz) -> Services {
        Services { zone, ..self }
    }

    /// New data is in the summary: the dashboards are pushed, the alerts evaluated and
    /// the model refitted.
    pub fn data_landed(&self) {
        self.figures_changed();
        self.data_changed.notify_one();
        self.triggers_wake.notify_one();
        self.refit.request();
    }

    /// The dashboards' figures changed (data, model scores, RFM rules, a saved segment):
    /// shared answers are computed again and open pages are pushed.
    pub fn figures_changed(&self) {
        self.data_version.send_modify(|v| *v += 1);
    }

    /// The minimum group size when `who` is an executive.
    fn withheld_under(&self, who: &Caller) -> Option<u32> {
        (who.role == Role::Executive).then_some(self.min_group)
    }
}
