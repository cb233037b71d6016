//! The dashboard's questions and answers: overview, trend, breakdown, cohorts, tiers.

use serde::{Deserialize, Serialize};

use super::*;

/// What the caller asks for: all fields are raw text, validated once on the server
/// so that the API, the CLI and the pages reject bad input with the same message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct OverviewQuery {
    /// Window end T as `YYYY-MM-DD`; default: the date of the latest order.
    pub as_of: Option<String>,
    /// Window length, `7d`, `30d`, `90d`, `365d` or any `Nd` up to 3650.
    pub window: Option<String>,
    /// `previous` (the window just before) or `year` (the same window a year earlier).
    pub compare: Option<String>,
    /// Only these members: `region:华东|华南;tier:gold` (AND across dimensions, OR within one).
    pub filters: Option<String>,
    /// Only the members of this saved segment (its key); combines with `filters`.
    pub segment: Option<String>,
    /// Only these metrics (keys, comma-separated); default: the whole catalogue.
    pub metrics: Option<String>,
}

/// An inclusive range of calendar dates, `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DateRange {
    pub start: String,
    pub end: String,
}

/// One KPI for one window, with the exact integers it is computed from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Measure {
    /// For money: cents; for a ratio: the count or points on top; for a count: the count.
    pub numerator: i64,
    /// Members, orders or points below the line (1 for a count).
    pub denominator: i64,
    /// The value, or `None` when the denominator is zero (see `reason`).
    pub value: Option<f64>,
    /// Why `value` is `None`.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Kpi {
    pub key: Metric,
    pub unit: Unit,
    pub current: Measure,
    pub comparison: Measure,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Overview {
    pub as_of: String,
    pub window_days: u32,
    pub compare: String,
    pub window: DateRange,
    pub comparison_window: DateRange,
    /// Days without a purchase after which a member counts as churned.
    pub churn_days: u32,
    /// The members counted: the saved segment's filters and the query's, combined.
    pub segment: Option<String>,
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
    /// Every metric of the catalogue, the four headline KPIs first.
    pub kpis: Vec<Kpi>,
    /// The members the filters and segment select (by T); `null` when unfiltered, and
    /// for executives when the view is withheld.
    #[serde(default)]
    pub population: Option<i64>,
}

/// A breakdown request; raw text, validated on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct BreakdownQuery {
    pub metric: Option<String>,
    pub dimension: Option<String>,
    pub as_of: Option<String>,
    pub window: Option<String>,
    pub compare: Option<String>,
    /// `region:华东|华南;tier:gold`: AND across dimensions, OR within one.
    pub filters: Option<String>,
    /// A saved segment's key; its filters combine with `filters`.
    pub segment: Option<String>,
}

/// One value of the dimension and the metric for its members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BreakdownRow {
    pub value: String,
    pub current: Measure,
    pub comparison: Measure,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Breakdown {
    pub metric: Metric,
    pub unit: Unit,
    pub dimension: Dimension,
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
    pub as_of: String,
    pub window: DateRange,
    pub comparison_window: DateRange,
    /// Every value of the dimension among the filtered members, by value.
    pub rows: Vec<BreakdownRow>,
    /// The metric over all the filtered members.
    pub total: BreakdownRow,
}

/// A cohort request: join-month cohorts as of T; raw text, validated on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CohortQuery {
    /// T as `YYYY-MM-DD`; default: the date of the latest order.
    pub as_of: Option<String>,
    /// How many join months, ending with T's month (1 to 60; default 24).
    pub cohorts: Option<u32>,
    /// Filters as in [`BreakdownQuery::filters`].
    pub filters: Option<String>,
    /// A saved segment's key; its filters combine with `filters`.
    pub segment: Option<String>,
}

/// Join-month cohorts (SPEC §4): retention by month since joining and LTV by age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Cohorts {
    pub as_of: String,
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
    /// The ages, in months, of the `ltv` cells: 1, 3, 6, 12, 24.
    pub ltv_ages: Vec<u32>,
    /// One row per join month, oldest first.
    pub cohorts: Vec<CohortRow>,
    /// Every listed cohort together: per age, over the cohorts that have reached it.
    pub all: CohortRow,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CohortRow {
    /// The join month, `YYYY-MM` (`all` for the total row).
    pub cohort: String,
    /// Members who joined that month (by T); `null` when withheld from executives (a
    /// cohort under the minimum group size, or the `all` row when it would give one away).
    pub members: Option<i64>,
    /// Cell k: the share of the cohort with a purchase in calendar month k after the join
    /// month (k = 0 is the join month itself); `null` for months after T's month.
    pub retention: Vec<Option<Measure>>,
    /// Per age in `ltv_ages`: mean net revenue per member from joining up to that many
    /// months after their own join day; `null` until every member of the cohort is that old.
    pub ltv: Vec<Option<Measure>>,
}

/// A tier-migration request: from-tier × to-tier between two dates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct TierMigrationQuery {
    /// The first date, `YYYY-MM-DD`; default: a year before `to`.
    pub from: Option<String>,
    /// The second date; default: the date of the latest order.
    pub to: Option<String>,
    pub filters: Option<String>,
    pub segment: Option<String>,
}

/// Members (joined by `from`) counted by their tier at the end of `from` and at the end of
/// `to`. Tier mix at a date is a breakdown of `members` by `tier`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TierMigration {
    pub from: String,
    pub to: String,
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
    /// Every tier seen at either date, sorted.
    pub tiers: Vec<String>,
    /// The non-empty cells of the matrix.
    pub flows: Vec<TierFlow>,
    /// Why some cells are withheld (executives: small cells and those that would give
    /// them away); none when every cell is shown.
    #[serde(default)]
    pub withheld: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TierFlow {
    pub from_tier: String,
    pub to_tier: String,
    /// `null` when withheld from executives (see [`TierMigration::withheld`]).
    pub members: Option<i64>,
}

/// A trend request: metrics over consecutive windows ending at T.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct TrendQuery {
    pub as_of: Option<String>,
    /// The length of each window (`30d`).
    pub window: Option<String>,
    /// Metric keys, comma-separated; default: the four headline KPIs.
    pub metrics: Option<String>,
    /// How many windows (2 to 24; default 8).
    pub points: Option<u32>,
    pub filters: Option<String>,
    pub segment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Trend {
    pub window_days: u32,
    pub series: Vec<TrendSeries>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrendSeries {
    pub metric: Metric,
    pub unit: Unit,
    /// Oldest first; the last window ends at T.
    pub points: Vec<TrendPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrendPoint {
    /// The window's last day.
    pub end: String,
    pub measure: Measure,
}

/// What the overview page asks for, one request per panel, for a view (T, window,
/// comparison, filters, segment). The server computes the default view's panels ahead,
/// once per change of the figures (`server::jobs::facts`), by these same requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverviewPanels {
    pub headline: OverviewQuery,
    pub trend: TrendQuery,
    pub lifecycle: BreakdownQuery,
    pub tiers: BreakdownQuery,
    pub channels_and_points: OverviewQuery,
    pub cohorts: CohortQuery,
    pub rest: OverviewQuery,
}

impl OverviewPanels {
    /// The channel mix of the channel-and-points panel.
    pub const CHANNELS: [Metric; 3] = [Metric::StoreOnlyMembers, Metric::OnlineOnlyMembers, Metric::OmnichannelMembers];
    /// Its points figures.
    pub const POINTS: [Metric; 4] =
        [Metric::PointsUsageRate, Metric::PointsLiability, Metric::PointsExpiring30, Metric::PointsExpiring90];

    /// The panels of the view `base` (its metrics and the breakdowns' fields unset).
    pub fn of(base: &OverviewQuery) -> OverviewPanels {
        let overview = |metrics: &mut dyn Iterator<Item = Metric>| OverviewQuery {
            metrics: Some(metrics.map(|m| m.key()).collect::<Vec<_>>().join(",")),
            ..base.clone()
        };
        let mix = |dimension: Dimension| BreakdownQuery {
            metric: Some(Metric::Members.key().to_string()),
            dimension: Some(dimension.key().to_string()),
            as_of: base.as_of.clone(),
            window: base.window.clone(),
            compare: base.compare.clone(),
            filters: base.filters.clone(),
            segment: base.segment.clone(),
        };
        OverviewPanels {
            headline: overview(&mut Metric::HEADLINE.into_iter()),
            trend: TrendQuery {
                as_of: base.as_of.clone(),
                window: base.window.clone(),
                metrics: None,
                points: Some(8),
                filters: base.filters.clone(),
                segment: base.segment.clone(),
            },
            lifecycle: mix(Dimension::LifecycleStage),
            tiers: mix(Dimension::Tier),
            channels_and_points: overview(&mut Self::CHANNELS.into_iter().chain(Self::POINTS)),
            cohorts: CohortQuery {
                as_of: base.as_of.clone(),
                cohorts: Some(12),
                filters: base.filters.clone(),
                segment: base.segment.clone(),
            },
            rest: overview(&mut Metric::ALL.into_iter().filter(|m| !Metric::HEADLINE.contains(m))),
        }
    }
}
