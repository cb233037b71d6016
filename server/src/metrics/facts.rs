//! Member facts: every member's group in each dimension as of the days the default view
//! asks about — the latest day T (the day of the latest order) and the end of the
//! default comparison window, T − 30 days — kept in `member_facts` and made again once
//! per change of the data (`crate::derive::facts`), not per view. A breakdown, a filter
//! or a member list for those days reads a member's tier, lifecycle stage, RFM scores,
//! favourite category and preferred channel from one row instead of grouping every order
//! by member; for any other day, or while the facts are being made again,
//! [`super::scope`] computes the groups from the raw tables as before. Both give the
//! same groups (a test compares them under every dimension).
//!
//! Beside the groups, each row keeps the member's part of every metric that adds up over
//! members ([`keeps`]) for the default window, the 30 days ending on the row's day: the
//! numerator and denominator the metric's own SQL ([`super::definitions::statement`])
//! gives with each member in a group of their own. A breakdown or a filtered view of
//! those windows is then one pass over the facts, summing two columns per group, instead
//! of a join of the day tables to the scope per metric and window.

use app::model::{Dimension, Metric};
use chrono::{Days, NaiveDate};
use duckdb::Connection;

use crate::{
    Result,
    metrics::{
        self, MetricConfig, Window, definitions,
        rfm::{self, RfmRule},
        scope::{LAST_PURCHASE, Scope, compiled, tier_join},
    },
    store::sql::{Sql, day, midnight},
};

/// The days before T whose facts are made beside T's: the end of the default comparison
/// window (30 days, the previous window).
pub const BEFORE: [u64; 1] = [30];

/// Whether the facts are current for `day`: made for it, with `cfg`, at the present count
/// of changes.
pub fn current_for(conn: &Connection, day: NaiveDate, cfg: MetricConfig) -> Result<bool> {
    Ok(current(conn, cfg)?.is_some_and(|t| t == day || BEFORE.iter().any(|&n| t - Days::new(n) == day)))
}

/// The length of the window whose metrics the facts keep per member: the default view's.
pub const WINDOW_DAYS: u32 = 30;

/// Whether the facts keep each member's part of `metric` for `w` (when they are current
/// for its end): a metric of the default window length whose numerator and denominator
/// are sums over members. Not the sales share (its denominator is all revenue, guests
/// included) nor the predicted metrics (they read the model's scores, which a fit
/// replaces without a change of the data).
pub fn keeps(metric: Metric, w: &Window) -> bool {
    w.days == WINDOW_DAYS && metric != Metric::MemberSalesShare && !Metric::PREDICTED.contains(&metric)
}

/// The columns a kept metric's numerator and denominator are in.
pub fn columns(metric: Metric) -> [String; 2] {
    [format!("{}_n", metric.key()), format!("{}_d", metric.key())]
}

/// The settings the facts depend on, as they are recorded with them, and the facts'
/// layout (facts of another layout, from an older or newer version, are made again).
fn settings(cfg: MetricConfig) -> String {
    let kept: Vec<&str> = KEPT.iter().map(|(name, _)| *name).collect();
    format!("{kept:?}, the RFM cell and metrics over {WINDOW_DAYS} days; {cfg:?}")
}

/// The facts' record beside the present counts of changes and of stored scores, read in
/// one statement (so at one moment).
struct Record {
    changes: i64,
    scores: i64,
    /// T, and the counts and settings they were made at, if the facts were made.
    made: Option<(NaiveDate, i64, i64, String)>,
}

impl Record {
    fn read(conn: &Connection) -> Result<Record> {
        let (changes, scores, made) = Sql::new(
            "SELECT (SELECT count(*) FROM data_changes), (SELECT count(*) FROM score_changes),
                    CAST(m.as_of AS VARCHAR), m.changes, m.scores, m.settings
             FROM (SELECT 1) LEFT JOIN member_facts_made m ON TRUE",
        )
        .row(conn, |r| {
            let made = match r.get::<_, Option<String>>(2)? {
                Some(day) => Some((day, r.get(3)?, r.get(4)?, r.get(5)?)),
                None => None,
            };
            Ok((r.get(0)?, r.get(1)?, made))
        })?;
        let made = made.and_then(|(day, c, s, settings): (String, i64, i64, String)| {
            NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok().map(|d| (d, c, s, settings))
        });
        Ok(Record { changes, scores, made })
    }

    /// T, if the facts were made with `cfg` at the present count of changes (and, with
    /// `scores`, of stored scores).
    fn made_for(&self, cfg: MetricConfig, scores: bool) -> Option<NaiveDate> {
        let (as_of, changes, made_scores, made_settings) = self.made.as_ref()?;
        let same =
            *changes == self.changes && (!scores || *made_scores == self.scores) && *made_settings == settings(cfg);
        same.then_some(*as_of)
    }
}

/// The latest day the facts are current for (T): `None` unless they were made with `cfg`
/// at the present counts of changes and of stored scores.
pub fn current(conn: &Connection, cfg: MetricConfig) -> Result<Option<NaiveDate>> {
    Ok(Record::read(conn)?.made_for(cfg, true))
}

/// Makes the facts again unless they are current, in one transaction on `conn` (what it
/// reads and the counts it records are of one moment). When only the model's scores
/// changed since, only each member's churn risk is set again (a refit after each load
/// would otherwise make them all twice). Returns the day they were made for, or `None`
/// when they were current.
pub fn refresh(conn: &Connection, cfg: MetricConfig) -> Result<Option<NaiveDate>> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    let made = (|| -> Result<Option<NaiveDate>> {
        let record = Record::read(conn)?;
        if record.made_for(cfg, true).is_some() {
            return Ok(None);
        }
        let as_of = match record.made_for(cfg, false) {
            Some(as_of) => {
                rescore(conn, as_of, cfg)?;
                as_of
            }
            None => {
                let as_of = metrics::day_or_latest(conn, "as_of", None)?;
                let days: Vec<NaiveDate> = std::iter::once(as_of).chain(BEFORE.map(|n| as_of - Days::new(n))).collect();
                make(conn, &days, cfg)?;
                as_of
            }
        };
        conn.execute_batch("DELETE FROM member_facts_made")?;
        Sql::new(
            "INSERT INTO member_facts_made (as_of, changes, scores, settings)
             VALUES (CAST($as_of AS DATE), $at, $scored, $settings)",
        )
        .bind("as_of", day(as_of))
        .bind("at", record.changes)
        .bind("scored", record.scores)
        .bind("settings", settings(cfg))
        .execute(conn)?;
        Ok(Some(as_of))
    })();
    match made {
        Ok(made) => {
            conn.execute_batch("COMMIT")?;
            Ok(made)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Sets each member's churn risk again from the stored scores, as [`make`] sets it. The
/// table is made again (with its rows in the same order) rather than updated in place: an
/// updated column scanned 2.5 times slower until DuckDB's next checkpoint (3.2 s against
/// 0.3 s to change at 1M members, against 17 s to make the facts whole).
fn rescore(conn: &Connection, as_of: NaiveDate, cfg: MetricConfig) -> Result<()> {
    let risk = compiled(Dimension::ChurnRisk, as_of, cfg, &[]);
    Sql::new(format!(
        "CREATE OR REPLACE TABLE member_facts AS
         SELECT f.* REPLACE ({} AS churn_risk)
         FROM member_facts f LEFT JOIN member_scores ps ON ps.member_id = f.member_id
         ORDER BY f.as_of DESC, f.member_no",
        risk.text()
    ))
    .with(&risk)
    .execute(conn)?;
    Ok(())
}

/// The dimensions kept as columns, each as [`compiled`] gives it for T.
const KEPT: [(&str, Dimension); 11] = [
    ("region", Dimension::Region),
    ("home_store", Dimension::Store),
    ("tier", Dimension::Tier),
    ("join_channel", Dimension::JoinChannel),
    ("join_cohort", Dimension::JoinCohort),
    ("gender", Dimension::Gender),
    ("age_band", Dimension::AgeBand),
    ("stage", Dimension::LifecycleStage),
    ("favourite_category", Dimension::FavouriteCategory),
    ("preferred_channel", Dimension::PreferredChannel),
    ("churn_risk", Dimension::ChurnRisk),
];

/// Makes `member_facts` whole: one row per member and day of `days`, ordered by day.
fn make(conn: &Connection, days: &[NaiveDate], cfg: MetricConfig) -> Result<()> {
    conn.execute_batch("DROP TABLE IF EXISTS member_facts")?;
    let kept: Vec<Metric> =
        Metric::ALL.into_iter().filter(|&m| keeps(m, &Window { end: days[0], days: WINDOW_DAYS })).collect();
    for (i, &as_of) in days.iter().enumerate() {
        let no_rules: [RfmRule; 0] = [];
        let mut columns = Sql::default();
        let mut list = Vec::new();
        for (name, d) in KEPT {
            let value = compiled(d, as_of, cfg, &no_rules);
            list.push(format!("{} AS {name}", value.text()));
            columns = columns.with(&value);
        }
        // Each member's part of each kept metric, by the metric's own SQL with every
        // member in a group of their own, one temp table per metric.
        let window = Window { end: as_of, days: WINDOW_DAYS };
        let mut parts = String::new();
        for &m in &kept {
            let [n, d] = self::columns(m);
            let table = format!("mp_part_{}", m.key());
            match definitions::statement(m, &window, cfg, &Scope::per_member()) {
                Some(part) => {
                    Sql::new(format!(
                        "CREATE OR REPLACE TEMP TABLE {table} AS
                         SELECT CAST(member_no AS BIGINT) AS member_no, CAST(n AS BIGINT) AS n, CAST(d AS BIGINT) AS d
                         FROM ({}) AS part(member_no, n, d)",
                        part.text()
                    ))
                    .with(&part)
                    .execute(conn)?;
                    parts.push_str(&format!("\nLEFT JOIN {table} ON {table}.member_no = s.member_no"));
                    list.push(format!("coalesce({table}.n, 0) AS {n}, coalesce({table}.d, 0) AS {d}"));
                }
                None => list.push(format!("CAST(0 AS BIGINT) AS {n}, CAST(0 AS BIGINT) AS {d}")),
            }
        }
        // Each day is one statement, so that one day's orders are grouped at a time.
        let into = if i == 0 { "CREATE TABLE member_facts AS" } else { "INSERT INTO member_facts" };
        Sql::new(format!(
            "{into}
             SELECT CAST($as_of AS DATE) AS as_of, s.member_no, s.member_id, {list}, rfm.r, rfm.f, rfm.m,
                    CAST(rfm.r * 100 + rfm.f * 10 + rfm.m AS SMALLINT) AS rfm_cell
             FROM member_summary s LEFT JOIN members m USING (member_id)
             {LAST_PURCHASE}
             {tiers}
             {scores}
             {extended}
             LEFT JOIN member_scores ps USING (member_id)
             {parts}
             ORDER BY s.member_no",
            list = list.join(", "),
            tiers = tier_join("th", "after"),
            scores = rfm::SCORES,
            extended = rfm::EXTENDED,
        ))
        .with(&columns)
        .bind("as_of", day(as_of))
        .bind("after", midnight(as_of + Days::new(1)))
        .bind("lookback_from", rfm::lookback_from(as_of))
        .execute(conn)?;
        for &m in &kept {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS mp_part_{}", m.key()))?;
        }
    }
    Ok(())
}
