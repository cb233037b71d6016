//! Segments: typed filters over member dimensions, compiled to parameterised SQL.
//!
//! A [`Scope`] is the set of members a metric is computed over, each with the group it
//! falls in for a breakdown. Dimension expressions are fixed in this file; the values a
//! user picks are bound parameters, never pasted into SQL.

use app::model::{Dimension, Filter, MemberMeasure, RangeFilter};
use chrono::{Datelike, Days, NaiveDate};
use duckdb::Connection;

use crate::{
    Error, Result,
    metrics::MetricConfig,
    metrics::rfm::{self, RfmRule},
    store::sql::{Sql, day, midnight},
};

pub mod saved;

/// The SQL for a dimension's value of member `m` as of T, with the arguments it binds.
/// A member without the attribute falls in `(none)`. Lifecycle stages use `lp` (last
/// purchase and purchases up to T): new (joined in the last `new_member_days` days with
/// at most one purchase), registered (never purchased), active (last purchase at most
/// `active_days` ago), dormant (at most `churn_days`), churned. RFM segments take their
/// CASE from the rules.
pub(super) fn compiled(d: Dimension, as_of: NaiveDate, cfg: MetricConfig, rules: &[RfmRule]) -> Sql {
    let days_ago = |n: u32| midnight(as_of - Days::new(u64::from(n)));
    match d {
        Dimension::Region => Sql::new("coalesce(m.region, '(none)')"),
        Dimension::Store => Sql::new("coalesce(m.home_store_id, '(none)')"),
        Dimension::Tier => Sql::new(tier_of("th")),
        Dimension::JoinChannel => Sql::new("coalesce(m.join_channel, '(none)')"),
        Dimension::JoinCohort => Sql::new("coalesce(strftime(m.joined_at, '%Y-%m'), '(none)')"),
        Dimension::Gender => Sql::new("coalesce(m.gender, '(none)')"),
        Dimension::AgeBand => Sql::new(
            "CASE WHEN m.birth_year IS NULL THEN '(none)'
                  WHEN CAST($year AS INTEGER) - m.birth_year < 25 THEN '<25'
                  WHEN CAST($year AS INTEGER) - m.birth_year < 35 THEN '25-34'
                  WHEN CAST($year AS INTEGER) - m.birth_year < 45 THEN '35-44'
                  WHEN CAST($year AS INTEGER) - m.birth_year < 55 THEN '45-54'
                  ELSE '55+' END",
        )
        .bind("year", as_of.year()),
        Dimension::LifecycleStage => Sql::new(
            "CASE WHEN m.joined_at >= CAST($new_from AS TIMESTAMP) AND coalesce(lp.purchases, 0) <= 1 THEN 'new'
                  WHEN lp.last_purchase_at IS NULL THEN 'registered'
                  WHEN lp.last_purchase_at >= CAST($active_from AS TIMESTAMP) THEN 'active'
                  WHEN lp.last_purchase_at >= CAST($churn_from AS TIMESTAMP) THEN 'dormant'
                  ELSE 'churned' END",
        )
        .bind("new_from", days_ago(cfg.new_member_days))
        .bind("active_from", days_ago(cfg.active_days))
        .bind("churn_from", days_ago(cfg.churn_days)),
        Dimension::RfmSegment => rfm::segment_expression(rules),
        Dimension::RfmCell => Sql::new("CASE WHEN rfm.r IS NULL THEN '(none)' ELSE 'R' || rfm.r || 'F' || rfm.f END"),
        Dimension::FavouriteCategory => Sql::new("coalesce(ext.favourite_category, '(none)')"),
        Dimension::PreferredChannel => Sql::new("coalesce(ext.preferred_channel, '(none)')"),
        Dimension::ChurnRisk => Sql::new(
            "CASE WHEN ps.member_id IS NULL THEN '(none)'
                  WHEN ps.p_alive < $at_risk AND ps.high_value THEN 'high_value_at_risk'
                  WHEN ps.p_alive < $at_risk THEN 'at_risk'
                  ELSE 'likely_active' END",
        )
        .bind("at_risk", cfg.at_risk_p_alive),
    }
}

/// A dimension's value of member `rfm` in `member_facts` (made for T, see
/// [`super::facts`]): what [`compiled`] gives, read from the column it was kept in.
fn from_facts(d: Dimension, as_of: NaiveDate, cfg: MetricConfig, rules: &[RfmRule]) -> Sql {
    let kept = |column: &str| Sql::new(format!("rfm.{column}"));
    match d {
        Dimension::Region => kept("region"),
        Dimension::Store => kept("home_store"),
        Dimension::Tier => kept("tier"),
        Dimension::JoinChannel => kept("join_channel"),
        Dimension::JoinCohort => kept("join_cohort"),
        Dimension::Gender => kept("gender"),
        Dimension::AgeBand => kept("age_band"),
        Dimension::LifecycleStage => kept("stage"),
        Dimension::FavouriteCategory => kept("favourite_category"),
        Dimension::PreferredChannel => kept("preferred_channel"),
        Dimension::ChurnRisk => kept("churn_risk"),
        Dimension::RfmSegment | Dimension::RfmCell => compiled(d, as_of, cfg, rules),
    }
}

/// The last purchase and the purchases up to T per member, joined as `lp` for lifecycle
/// stages; binds `$after` (T + 1 day, midnight).
pub(super) const LAST_PURCHASE: &str = "LEFT JOIN (SELECT member_id, max(ordered_at) AS last_purchase_at, count(*) AS purchases
                                FROM orders
                                WHERE member_id IS NOT NULL AND net_amount > 0 AND ordered_at < CAST($after AS TIMESTAMP)
                                GROUP BY member_id) lp USING (member_id)";

/// A member's tier as of the day [`tier_join`] `alias` was joined for.
pub fn tier_of(alias: &str) -> String {
    format!(
        "CASE WHEN {alias}.member_id IS NULL THEN coalesce(m.tier, '(none)') ELSE coalesce({alias}.tier, '(none)') END"
    )
}

/// Each member's tier as of a day, joined as `{alias}` (member_id, tier) for the members
/// with a tier history; binds `${after}` (the day after, a timestamp). A member with a
/// history has no tier (`(none)`) before their first change; members without one keep
/// `members.tier` (see [`tier_of`]).
pub fn tier_join(alias: &str, after: &str) -> String {
    format!(
        "LEFT JOIN (SELECT member_id, arg_max(tier, changed_at) FILTER (WHERE changed_at < CAST(${after} AS TIMESTAMP)) AS tier
                    FROM tier_changes GROUP BY member_id) {alias} USING (member_id)"
    )
}

/// One member's lifecycle stage as of `as_of` (None for an unknown member).
pub fn stage_of(conn: &Connection, member_id: &str, as_of: NaiveDate, cfg: MetricConfig) -> Result<Option<String>> {
    let stage = compiled(Dimension::LifecycleStage, as_of, cfg, &[]);
    let rows = Sql::new(format!("SELECT {} FROM members m {LAST_PURCHASE} WHERE m.member_id = $member", stage.text()))
        .with(&stage)
        .bind("after", midnight(as_of + Days::new(1)))
        .bind("member", member_id.to_string())
        .rows(conn, |r| r.get(0))?;
    Ok(rows.into_iter().next())
}

/// What a filter text selects: dimension filters and measure ranges, all ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Criteria {
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
}

impl Criteria {
    /// Both at once: a dimension filtered by both keeps the values in both; ranges add up.
    pub fn and(mut self, other: Criteria) -> Criteria {
        self.filters = intersect(self.filters, other.filters);
        self.ranges.extend(other.ranges);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.ranges.is_empty()
    }
}

/// Parses `region:华东|华南;tier:gold;revenue:1000..;days_since_purchase:..90`.
pub fn parse(text: &str) -> Result<Criteria> {
    let mut criteria = Criteria::default();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once(':').ok_or_else(|| {
            Error::bad_param("filters", format!("expected dimension:value|value or measure:min..max, got {part:?}"))
        })?;
        match MemberMeasure::parse(key.trim()) {
            Some(measure) => criteria.ranges.push(parse_range(measure, value.trim())?),
            None => {
                let f = parse_filters(part)?.remove(0);
                match criteria.filters.iter_mut().find(|g| g.dimension == f.dimension) {
                    Some(g) => add_values(&mut g.values, f.values),
                    None => criteria.filters.push(f),
                }
            }
        }
    }
    Ok(criteria)
}

/// `min..max`, `min..` or `..max`; revenue and CLV in yuan, P(alive) from 0 to 1, each
/// with at most 2 decimals.
fn parse_range(measure: MemberMeasure, text: &str) -> Result<RangeFilter> {
    let bad = |why: &str| Error::bad_param("filters", format!("{}: {why}, got {text:?}", measure.key()));
    let (lo, hi) = text.split_once("..").ok_or_else(|| bad("expected min..max, min.. or ..max"))?;
    let bound = |t: &str| -> Result<Option<i64>> {
        let t = t.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let value = if measure.hundredths() {
            let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
            let ok = !whole.is_empty()
                && whole.trim_start_matches('-').chars().all(|c| c.is_ascii_digit())
                && frac.len() <= 2
                && frac.chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(bad("expected an amount with at most 2 decimals"));
            }
            let cents: i64 = format!("{}{:0<2}", whole.trim_start_matches('-'), frac)
                .parse()
                .map_err(|_| bad("amount out of range"))?;
            if whole.starts_with('-') { -cents } else { cents }
        } else {
            t.parse().map_err(|_| bad("expected whole numbers"))?
        };
        Ok(Some(value))
    };
    let (min, max) = (bound(lo)?, bound(hi)?);
    if min.is_none() && max.is_none() {
        return Err(bad("give at least one bound"));
    }
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return Err(bad("min is above max"));
    }
    Ok(RangeFilter { measure, min, max })
}

/// A measure's SQL over the summary `s` and the scores `ps`; days since purchase binds
/// `$as_of` (T).
fn measure_sql(m: MemberMeasure) -> &'static str {
    match m {
        MemberMeasure::Revenue => "s.revenue_cents",
        MemberMeasure::Purchases => "s.purchases",
        MemberMeasure::PointsBalance => "(s.points_earned + s.points_adjusted - s.points_redeemed - s.points_expired)",
        MemberMeasure::DaysSincePurchase => "date_diff('day', CAST(s.last_purchase_at AS DATE), CAST($as_of AS DATE))",
        MemberMeasure::PAlive => "round(ps.p_alive * 100)",
        MemberMeasure::Clv12m => "round(ps.clv_12m * 100)",
    }
}

/// Parses `region:华东|华南;tier:gold` into dimension filters only.
pub fn parse_filters(text: &str) -> Result<Vec<Filter>> {
    let mut filters: Vec<Filter> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, values) = part
            .split_once(':')
            .ok_or_else(|| Error::bad_param("filters", format!("expected dimension:value|value, got {part:?}")))?;
        let dimension = Dimension::parse(key.trim()).ok_or_else(|| {
            let known: Vec<_> = Dimension::ALL.iter().map(|d| d.key()).collect();
            let measures: Vec<_> = MemberMeasure::ALL.iter().map(|m| m.key()).collect();
            Error::bad_param(
                "filters",
                format!(
                    "unknown dimension {key:?}; dimensions are {}; ranges (min..max) on {}",
                    known.join(", "),
                    measures.join(", ")
                ),
            )
        })?;
        let mut unique = Vec::new();
        add_values(&mut unique, values.split('|').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect());
        if unique.is_empty() {
            return Err(Error::bad_param("filters", format!("no value for {key}")));
        }
        match filters.iter_mut().find(|f| f.dimension == dimension) {
            Some(f) => add_values(&mut f.values, unique),
            None => filters.push(Filter { dimension, values: unique }),
        }
    }
    Ok(filters)
}

/// The members a metric is computed over, and how they are grouped.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub filters: Vec<Filter>,
    /// Bounds on member measures, ANDed with the filters.
    pub ranges: Vec<RangeFilter>,
    pub dimension: Option<Dimension>,
    /// The named RFM segments, needed when the scope groups or filters by them.
    pub rfm_rules: Vec<RfmRule>,
    /// Each member in a group of their own, their number: how the member facts keep each
    /// member's part of a metric (see [`super::facts`]).
    per_member: bool,
}

impl Scope {
    pub fn new(filters: Vec<Filter>, dimension: Option<Dimension>) -> Scope {
        Scope { filters, ranges: Vec::new(), dimension, rfm_rules: Vec::new(), per_member: false }
    }

    /// The members of `criteria`, grouped by `dimension`.
    pub fn of(criteria: Criteria, dimension: Option<Dimension>) -> Scope {
        Scope { ranges: criteria.ranges, ..Scope::new(criteria.filters, dimension) }
    }

    pub fn with_rules(mut self, rules: Vec<RfmRule>) -> Scope {
        self.rfm_rules = rules;
        self
    }

    /// Every member, in one group: metrics then read the raw tables without a join.
    pub fn all() -> Scope {
        Scope::default()
    }

    /// Every member, each in a group named by their number (`member_summary.member_no`,
    /// a BIGINT); nothing to prepare.
    pub(super) fn per_member() -> Scope {
        Scope { per_member: true, ..Scope::default() }
    }

    /// Every member, ungrouped.
    pub fn is_all(&self) -> bool {
        self.filters.is_empty() && self.ranges.is_empty() && self.dimension.is_none() && !self.per_member
    }

    /// Materialises the scope as of `as_of` in the connection's temp table `mp_scope`
    /// (member_id, grp), unless it is every member in one group.
    ///
    /// When the member facts are current for `as_of` (the latest day, see
    /// [`super::facts`]), every group is read from them: no order is grouped by member.
    pub fn prepare(&self, conn: &Connection, as_of: NaiveDate, cfg: MetricConfig) -> Result<()> {
        if self.is_all() || self.per_member {
            return Ok(());
        }
        let kept = super::facts::current_for(conn, as_of, cfg)?;
        self.prepare_from(conn, as_of, cfg, kept)?;
        // Facts made again meanwhile (for a new latest day) may hold no row for this day:
        // then the groups are computed from the raw tables after all.
        if kept && !super::facts::current_for(conn, as_of, cfg)? {
            self.prepare_from(conn, as_of, cfg, false)?;
        }
        Ok(())
    }

    /// The scope's members as rows of the member facts for `as_of` (`kept`, aliased `rfm`)
    /// or of the summary (aliased `s`, the members `m`), and their group.
    fn selection(&self, as_of: NaiveDate, cfg: MetricConfig, kept: bool) -> Selection {
        let value = |d: Dimension| match kept {
            true => from_facts(d, as_of, cfg, &self.rfm_rules),
            false => compiled(d, as_of, cfg, &self.rfm_rules),
        };
        let grp = match self.dimension {
            Some(d) => value(d),
            None => Sql::new("'all'"),
        };
        let uses = |d: Dimension| self.dimension == Some(d) || self.filters.iter().any(|f| f.dimension == d);
        let scored = uses(Dimension::ChurnRisk) || self.ranges.iter().any(|r| r.measure.predicted());
        let mut joins = String::new();
        if kept {
            // Churn risk is kept; ranges read the summary and the scores.
            if !self.ranges.is_empty() {
                joins.push_str("\nLEFT JOIN member_summary s ON s.member_no = rfm.member_no");
            }
            if self.ranges.iter().any(|r| r.measure.predicted()) {
                joins.push_str("\nLEFT JOIN member_scores ps ON ps.member_id = rfm.member_id");
            }
        } else if uses(Dimension::LifecycleStage) {
            joins.push_str(LAST_PURCHASE);
        }
        if !kept && uses(Dimension::Tier) {
            joins.push('\n');
            joins.push_str(&tier_join("th", "after"));
        }
        if !kept && (uses(Dimension::RfmSegment) || uses(Dimension::RfmCell)) {
            joins.push('\n');
            joins.push_str(rfm::SCORES);
        }
        if !kept && (uses(Dimension::FavouriteCategory) || uses(Dimension::PreferredChannel)) {
            joins.push('\n');
            joins.push_str(rfm::EXTENDED);
        }
        if !kept && scored {
            joins.push_str("\nLEFT JOIN member_scores ps USING (member_id)");
        }
        let mut conditions = Vec::new();
        let mut values = Sql::default();
        for (i, f) in self.filters.iter().enumerate() {
            if f.values.is_empty() {
                // Filters that intersect to nothing match no member.
                conditions.push("FALSE".to_string());
                continue;
            }
            let dimension = value(f.dimension);
            values = values.with(&dimension);
            let mut marks = Vec::new();
            for (j, v) in f.values.iter().enumerate() {
                let name = format!("filter{i}_{j}");
                marks.push(format!("${name}"));
                values = values.bind(&name, v.clone());
            }
            conditions.push(format!("({}) IN ({})", dimension.text(), marks.join(", ")));
        }
        for (i, r) in self.ranges.iter().enumerate() {
            for (bound, op, side) in [(r.min, ">=", "min"), (r.max, "<=", "max")] {
                if let Some(v) = bound {
                    let name = format!("range{i}_{side}");
                    conditions.push(format!("{} {op} ${name}", measure_sql(r.measure)));
                    values = values.bind(&name, v);
                }
            }
        }
        if kept {
            conditions.push("rfm.as_of = CAST($as_of AS DATE)".to_string());
        }
        let filter = if conditions.is_empty() { "TRUE".to_string() } else { conditions.join(" AND ") };
        let from = match kept {
            true => "member_facts rfm",
            false => "member_summary s LEFT JOIN members m USING (member_id)",
        };
        let rows = Sql::new(format!("FROM {from} {joins} WHERE {filter}"))
            .with(&values)
            .bind("as_of", day(as_of))
            .bind("after", midnight(as_of + Days::new(1)))
            .bind("lookback_from", rfm::lookback_from(as_of));
        Selection { member: if kept { "rfm" } else { "s" }, grp, rows, scored }
    }

    /// The sums of some member-facts columns over the scope's members as of `as_of`, per
    /// group, read from the facts alone (which must be current for that day):
    /// `SELECT grp, sum(c1), sum(c2), … GROUP BY grp`, as BIGINTs. Every group of the
    /// scope has a row, with 0 where nothing counts.
    pub fn over_facts(&self, as_of: NaiveDate, cfg: MetricConfig, columns: &[String]) -> Sql {
        let Selection { grp, rows, .. } = self.selection(as_of, cfg, true);
        let sums =
            columns.iter().map(|c| format!("CAST(sum(rfm.{c}) AS BIGINT) AS {c}")).collect::<Vec<_>>().join(", ");
        let sql = match self.dimension {
            // An RFM group is a function of the three scores: sum per cell first (kept as
            // one number, R·100 + F·10 + M), then name the 125 cells' groups, rather than
            // weigh every member against the rules.
            Some(Dimension::RfmSegment | Dimension::RfmCell) => format!(
                "SELECT {grp} AS grp, {sums} FROM (
                     SELECT rfm.rfm_cell // 100 AS r, rfm.rfm_cell // 10 % 10 AS f, rfm.rfm_cell % 10 AS m, {sums}
                     {rows} GROUP BY rfm.rfm_cell
                 ) rfm GROUP BY 1",
                grp = grp.text(),
                rows = rows.text()
            ),
            _ => format!("SELECT {} AS grp, {sums} {} GROUP BY 1", grp.text(), rows.text()),
        };
        Sql::new(sql).with(&grp).with(&rows)
    }

    /// [`Scope::prepare`] from the member facts (`kept`) or the raw tables.
    fn prepare_from(&self, conn: &Connection, as_of: NaiveDate, cfg: MetricConfig, kept: bool) -> Result<()> {
        let Selection { member, grp, rows, scored } = self.selection(as_of, cfg, kept);
        let made = Sql::new(format!(
            "CREATE OR REPLACE TEMP TABLE mp_scope AS
             SELECT {member}.member_id, {member}.member_no, {grp} AS grp {rows}",
            grp = grp.text(),
            rows = rows.text()
        ))
        .with(&grp)
        .with(&rows);
        // The metrics of one view share one preparation on a connection while the data
        // stays the same, and, for a scope that reads the model's scores, while no fit has
        // stored new ones.
        let (text, args) = made.build();
        let scores = match scored {
            true => crate::derive::facts::scorings(conn)?.to_string(),
            false => String::new(),
        };
        let key = format!("{text} {args:?} {scores}");
        conn.execute_batch("CREATE TEMP TABLE IF NOT EXISTS mp_scope_made (key VARCHAR, changes BIGINT)")?;
        let changes = crate::derive::facts::changes(conn)?;
        let same: i64 = Sql::new("SELECT count(*) FROM mp_scope_made WHERE key = $key AND changes = $changes")
            .bind("key", key.clone())
            .bind("changes", changes)
            .row(conn, |r| r.get(0))?;
        if same == 0 {
            made.execute(conn)?;
            conn.execute_batch("DELETE FROM mp_scope_made")?;
            Sql::new("INSERT INTO mp_scope_made VALUES ($key, $changes)")
                .bind("key", key)
                .bind("changes", changes)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Whether a member's group or membership can change with T (stages, RFM, age,
    /// extended RFM); otherwise one preparation serves every window.
    pub fn depends_on_as_of(&self) -> bool {
        self.ranges.iter().any(|r| r.measure == MemberMeasure::DaysSincePurchase)
            || self.dimension.into_iter().chain(self.filters.iter().map(|f| f.dimension)).any(|d| {
                matches!(
                    d,
                    Dimension::AgeBand
                        | Dimension::Tier
                        | Dimension::LifecycleStage
                        | Dimension::RfmSegment
                        | Dimension::RfmCell
                        | Dimension::FavouriteCategory
                        | Dimension::PreferredChannel
                )
            })
    }

    /// The join that restricts facts aliased `alias` to the scope ("" for every member).
    pub fn join(&self, alias: &str) -> String {
        match (self.is_all(), self.per_member) {
            (true, _) => String::new(),
            (_, true) => format!("JOIN member_summary sc ON sc.member_id = {alias}.member_id"),
            _ => format!("JOIN mp_scope sc ON sc.member_id = {alias}.member_id"),
        }
    }

    /// [`Scope::join`] for the tables that carry the member's number (the summary and the
    /// day tables): a join on integers, several times faster than on ids.
    pub fn join_numbered(&self, alias: &str) -> String {
        match (self.is_all(), self.per_member) {
            (true, _) => String::new(),
            (_, true) => format!("JOIN member_summary sc ON sc.member_no = {alias}.member_no"),
            _ => format!("JOIN mp_scope sc ON sc.member_no = {alias}.member_no"),
        }
    }

    /// The group of a row joined by [`Scope::join`].
    pub fn group(&self) -> &'static str {
        match (self.is_all(), self.per_member) {
            (true, _) => "'all'",
            (_, true) => "sc.member_no",
            _ => "sc.grp",
        }
    }

    /// The groups present in the scope, sorted.
    pub fn groups(&self, conn: &Connection) -> Result<Vec<String>> {
        if self.is_all() {
            return Ok(vec!["all".to_string()]);
        }
        let mut stmt = conn.prepare("SELECT DISTINCT grp FROM mp_scope ORDER BY grp")?;
        let groups = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<duckdb::Result<Vec<_>>>()?;
        Ok(groups)
    }
}

/// A scope's members as rows of a table: `FROM … WHERE …` with its arguments.
struct Selection {
    /// The alias of the table that names each member (`member_id`, `member_no`).
    member: &'static str,
    grp: Sql,
    rows: Sql,
    /// Whether the rows read the model's scores.
    scored: bool,
}

/// Both sets of filters at once: a dimension filtered in both keeps the values in both.
/// Adds values to a filter's, each once (a value named twice is one value: the size
/// rules count each value's members once).
fn add_values(into: &mut Vec<String>, values: Vec<String>) {
    for v in values {
        if !into.contains(&v) {
            into.push(v);
        }
    }
}

pub fn intersect(mut a: Vec<Filter>, b: Vec<Filter>) -> Vec<Filter> {
    for f in b {
        match a.iter_mut().find(|g| g.dimension == f.dimension) {
            Some(g) => g.values.retain(|v| f.values.contains(v)),
            None => a.push(f),
        }
    }
    a
}
