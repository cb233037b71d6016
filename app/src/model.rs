//! Types shared by the server, its JSON API and the pages.

use serde::{Deserialize, Serialize};

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

/// The scalar metrics of the catalogue (SPEC §4). Each is defined once, in the server's
/// `metrics` module; this enum names them for the pages, the API and the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    HistoricalLtv,
    RepurchaseRate,
    PointsUsageRate,
    ChurnRate,
    Members,
    NewMembers,
    ActiveMembers,
    SecondPurchaseRate,
    ReactivationRate,
    MemberSalesShare,
    Aov,
    PurchaseFrequency,
    PointsNeverUsedShare,
    StoreOnlyMembers,
    OnlineOnlyMembers,
    OmnichannelMembers,
    PointsLiability,
    #[serde(rename = "points_expiring_30d")]
    PointsExpiring30,
    #[serde(rename = "points_expiring_90d")]
    PointsExpiring90,
    /// Mean predicted 12-month CLV of the members with a model score (last fit).
    PredictedLtv,
    /// Total predicted 12-month CLV of the members with a model score.
    PredictedLtvTotal,
    /// High-value members (top 20% by predicted or historical value) with P(alive) under
    /// the at-risk threshold.
    HighValueAtRisk,
    /// What those members spent in the 12 months to T.
    RevenueAtStake,
}

impl Metric {
    /// Every metric, headline first.
    pub const ALL: [Metric; 23] = [
        Metric::HistoricalLtv,
        Metric::RepurchaseRate,
        Metric::PointsUsageRate,
        Metric::ChurnRate,
        Metric::Members,
        Metric::NewMembers,
        Metric::ActiveMembers,
        Metric::SecondPurchaseRate,
        Metric::ReactivationRate,
        Metric::MemberSalesShare,
        Metric::Aov,
        Metric::PurchaseFrequency,
        Metric::PointsNeverUsedShare,
        Metric::StoreOnlyMembers,
        Metric::OnlineOnlyMembers,
        Metric::OmnichannelMembers,
        Metric::PointsLiability,
        Metric::PointsExpiring30,
        Metric::PointsExpiring90,
        Metric::PredictedLtv,
        Metric::PredictedLtvTotal,
        Metric::HighValueAtRisk,
        Metric::RevenueAtStake,
    ];

    /// The metrics read from the last model fit: defined only for a window ending on the
    /// fit's T.
    pub const PREDICTED: [Metric; 4] = [
        Metric::PredictedLtv,
        Metric::PredictedLtvTotal,
        Metric::HighValueAtRisk,
        Metric::RevenueAtStake,
    ];

    /// The four headline KPIs of the executive overview.
    pub const HEADLINE: [Metric; 4] = [
        Metric::HistoricalLtv,
        Metric::RepurchaseRate,
        Metric::PointsUsageRate,
        Metric::ChurnRate,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Metric::HistoricalLtv => "historical_ltv",
            Metric::RepurchaseRate => "repurchase_rate",
            Metric::PointsUsageRate => "points_usage_rate",
            Metric::ChurnRate => "churn_rate",
            Metric::Members => "members",
            Metric::NewMembers => "new_members",
            Metric::ActiveMembers => "active_members",
            Metric::SecondPurchaseRate => "second_purchase_rate",
            Metric::ReactivationRate => "reactivation_rate",
            Metric::MemberSalesShare => "member_sales_share",
            Metric::Aov => "aov",
            Metric::PurchaseFrequency => "purchase_frequency",
            Metric::PointsNeverUsedShare => "points_never_used_share",
            Metric::StoreOnlyMembers => "store_only_members",
            Metric::OnlineOnlyMembers => "online_only_members",
            Metric::OmnichannelMembers => "omnichannel_members",
            Metric::PointsLiability => "points_liability",
            Metric::PointsExpiring30 => "points_expiring_30d",
            Metric::PointsExpiring90 => "points_expiring_90d",
            Metric::PredictedLtv => "predicted_ltv",
            Metric::PredictedLtvTotal => "predicted_ltv_total",
            Metric::HighValueAtRisk => "high_value_at_risk",
            Metric::RevenueAtStake => "revenue_at_stake",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Metric::HistoricalLtv => "历史LTV",
            Metric::RepurchaseRate => "复购率",
            Metric::PointsUsageRate => "积分使用率",
            Metric::ChurnRate => "流失率",
            Metric::Members => "会员数",
            Metric::NewMembers => "新增会员",
            Metric::ActiveMembers => "活跃会员",
            Metric::SecondPurchaseRate => "二次购买率",
            Metric::ReactivationRate => "沉睡唤醒率",
            Metric::MemberSalesShare => "会员销售占比",
            Metric::Aov => "客单价",
            Metric::PurchaseFrequency => "购买频次",
            Metric::PointsNeverUsedShare => "积分从未使用占比",
            Metric::StoreOnlyMembers => "仅门店会员",
            Metric::OnlineOnlyMembers => "仅线上会员",
            Metric::OmnichannelMembers => "全渠道会员",
            Metric::PointsLiability => "积分负债",
            Metric::PointsExpiring30 => "30天内到期积分",
            Metric::PointsExpiring90 => "90天内到期积分",
            Metric::PredictedLtv => "预测LTV(12个月)",
            Metric::PredictedLtvTotal => "预测总价值(12个月)",
            Metric::HighValueAtRisk => "高价值会员流失预警",
            Metric::RevenueAtStake => "流失风险营收",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Metric::HistoricalLtv => "Historical LTV",
            Metric::RepurchaseRate => "Repurchase rate",
            Metric::PointsUsageRate => "Points-usage rate",
            Metric::ChurnRate => "Churn rate",
            Metric::Members => "Members",
            Metric::NewMembers => "New members",
            Metric::ActiveMembers => "Active members",
            Metric::SecondPurchaseRate => "Second-purchase rate",
            Metric::ReactivationRate => "Reactivation rate",
            Metric::MemberSalesShare => "Member sales share",
            Metric::Aov => "Average order value",
            Metric::PurchaseFrequency => "Purchase frequency",
            Metric::PointsNeverUsedShare => "Points never used",
            Metric::StoreOnlyMembers => "Store-only members",
            Metric::OnlineOnlyMembers => "Online-only members",
            Metric::OmnichannelMembers => "Omnichannel members",
            Metric::PointsLiability => "Points liability",
            Metric::PointsExpiring30 => "Points expiring in 30 days",
            Metric::PointsExpiring90 => "Points expiring in 90 days",
            Metric::PredictedLtv => "Predicted LTV (12 months)",
            Metric::PredictedLtvTotal => "Predicted value, total (12 months)",
            Metric::HighValueAtRisk => "High-value members at risk",
            Metric::RevenueAtStake => "Revenue at stake",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::HistoricalLtv | Metric::Aov | Metric::PredictedLtv => Unit::Money,
            Metric::Members
            | Metric::NewMembers
            | Metric::ActiveMembers
            | Metric::StoreOnlyMembers
            | Metric::OnlineOnlyMembers
            | Metric::OmnichannelMembers
            | Metric::HighValueAtRisk => Unit::Count,
            Metric::PointsLiability
            | Metric::PointsExpiring30
            | Metric::PointsExpiring90
            | Metric::PredictedLtvTotal
            | Metric::RevenueAtStake => Unit::Amount,
            Metric::PurchaseFrequency => Unit::Number,
            _ => Unit::Ratio,
        }
    }

    /// Whether a rise is good news (drives the colour of the change).
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Metric::ChurnRate
                | Metric::PointsNeverUsedShare
                | Metric::PointsLiability
                | Metric::PointsExpiring30
                | Metric::PointsExpiring90
                | Metric::HighValueAtRisk
                | Metric::RevenueAtStake
        )
    }

    pub fn parse(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// `value` is an amount in the store currency, exact to the cent.
    Money,
    /// `value` is a share, numerator ÷ denominator.
    Ratio,
    /// `value` is a head count (the numerator; the denominator is 1).
    Count,
    /// `value` is a plain quotient, such as orders per member.
    Number,
    /// `value` is a total amount in the store currency (the numerator in cents; the
    /// denominator is 1), such as the points liability.
    Amount,
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

/// A saved segment (SPEC §5): a named, typed filter kept in the operational store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Segment {
    /// Lowercase letters, digits, `_` and `-`, up to 64; names it in URLs and the CLI.
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// `region:华东|华南;tier:gold`, validated when saved.
    pub filters: String,
}

/// A member attribute that metrics can be broken down by and filtered on (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Region,
    Store,
    Tier,
    JoinChannel,
    JoinCohort,
    Gender,
    AgeBand,
    LifecycleStage,
    RfmSegment,
    /// The cell of the RFM grid as of T: `R5F1` (recency and frequency scores); members
    /// without a purchase in the lookback are `(none)`.
    RfmCell,
    FavouriteCategory,
    PreferredChannel,
    /// From the last model fit: `high_value_at_risk`, `at_risk` (P(alive) under the
    /// threshold), `likely_active`; members without a score are `(none)`.
    ChurnRisk,
}

impl Dimension {
    pub const ALL: [Dimension; 13] = [
        Dimension::Region,
        Dimension::Store,
        Dimension::Tier,
        Dimension::JoinChannel,
        Dimension::JoinCohort,
        Dimension::Gender,
        Dimension::AgeBand,
        Dimension::LifecycleStage,
        Dimension::RfmSegment,
        Dimension::RfmCell,
        Dimension::FavouriteCategory,
        Dimension::PreferredChannel,
        Dimension::ChurnRisk,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Dimension::Region => "region",
            Dimension::Store => "store",
            Dimension::Tier => "tier",
            Dimension::JoinChannel => "join_channel",
            Dimension::JoinCohort => "join_cohort",
            Dimension::Gender => "gender",
            Dimension::AgeBand => "age_band",
            Dimension::LifecycleStage => "lifecycle_stage",
            Dimension::RfmSegment => "rfm_segment",
            Dimension::RfmCell => "rfm_cell",
            Dimension::FavouriteCategory => "favourite_category",
            Dimension::PreferredChannel => "preferred_channel",
            Dimension::ChurnRisk => "churn_risk",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Dimension::Region => "区域",
            Dimension::Store => "门店",
            Dimension::Tier => "等级",
            Dimension::JoinChannel => "入会渠道",
            Dimension::JoinCohort => "入会月份",
            Dimension::Gender => "性别",
            Dimension::AgeBand => "年龄段",
            Dimension::LifecycleStage => "生命周期",
            Dimension::RfmSegment => "RFM分群",
            Dimension::RfmCell => "RFM格",
            Dimension::FavouriteCategory => "偏好品类",
            Dimension::PreferredChannel => "偏好渠道",
            Dimension::ChurnRisk => "流失风险",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Dimension::Region => "Region",
            Dimension::Store => "Home store",
            Dimension::Tier => "Tier",
            Dimension::JoinChannel => "Join channel",
            Dimension::JoinCohort => "Join cohort",
            Dimension::Gender => "Gender",
            Dimension::AgeBand => "Age band",
            Dimension::LifecycleStage => "Lifecycle stage",
            Dimension::RfmSegment => "RFM segment",
            Dimension::RfmCell => "RFM cell",
            Dimension::FavouriteCategory => "Favourite category",
            Dimension::PreferredChannel => "Preferred channel",
            Dimension::ChurnRisk => "Churn risk",
        }
    }

    pub fn parse(key: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.key() == key)
    }
}

/// Members whose `dimension` has one of `values`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Filter {
    pub dimension: Dimension,
    pub values: Vec<String>,
}

/// A member measure a segment can bound (`revenue:1000..5000`, `purchases:2..`,
/// `days_since_purchase:..90`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemberMeasure {
    /// Net revenue so far, returns included; bounds in yuan, kept in cents.
    Revenue,
    /// Purchases so far.
    Purchases,
    /// Points earned and adjusted less redeemed and expired, so far.
    PointsBalance,
    /// Days from the last purchase to T (members who never purchased match no range).
    DaysSincePurchase,
    /// P(alive) from the last model fit, 0 to 1 with at most 2 decimals, kept in
    /// hundredths (members without a score match no range).
    PAlive,
    /// Predicted 12-month CLV from the last fit; bounds in yuan, kept in cents.
    Clv12m,
}

impl MemberMeasure {
    pub const ALL: [MemberMeasure; 6] = [
        MemberMeasure::Revenue,
        MemberMeasure::Purchases,
        MemberMeasure::PointsBalance,
        MemberMeasure::DaysSincePurchase,
        MemberMeasure::PAlive,
        MemberMeasure::Clv12m,
    ];

    pub fn key(self) -> &'static str {
        match self {
            MemberMeasure::Revenue => "revenue",
            MemberMeasure::Purchases => "purchases",
            MemberMeasure::PointsBalance => "points_balance",
            MemberMeasure::DaysSincePurchase => "days_since_purchase",
            MemberMeasure::PAlive => "p_alive",
            MemberMeasure::Clv12m => "clv_12m",
        }
    }

    /// Whether bounds are written with up to 2 decimals and kept in hundredths.
    pub fn hundredths(self) -> bool {
        matches!(self, MemberMeasure::Revenue | MemberMeasure::PAlive | MemberMeasure::Clv12m)
    }

    /// Whether the measure comes from the last model fit.
    pub fn predicted(self) -> bool {
        matches!(self, MemberMeasure::PAlive | MemberMeasure::Clv12m)
    }

    pub fn parse(key: &str) -> Option<MemberMeasure> {
        MemberMeasure::ALL.into_iter().find(|m| m.key() == key)
    }
}

/// Members whose `measure` lies in `[min, max]` (either bound may be open). Bounds of
/// measures kept in hundredths (revenue and CLV in cents, P(alive) in hundredths) are
/// integers here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RangeFilter {
    pub measure: MemberMeasure,
    pub min: Option<i64>,
    pub max: Option<i64>,
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

/// A member-list request; raw text, validated on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct MembersQuery {
    /// Filters as in [`BreakdownQuery::filters`], evaluated as of `as_of`.
    pub filters: Option<String>,
    pub as_of: Option<String>,
    /// A column, `-` first for descending: `revenue`, `-last_purchase_at`, …
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    /// A saved segment's key; its filters combine with `filters`.
    pub segment: Option<String>,
}

/// A member as listed; name and phone are masked (`张*`, `138****5678`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberRow {
    pub member_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
    pub join_channel: Option<String>,
    pub joined_at: Option<String>,
    pub first_purchase_at: Option<String>,
    pub last_purchase_at: Option<String>,
    pub purchases: i64,
    /// Net revenue, returns included, in cents.
    pub revenue_cents: i64,
    pub points_balance: i64,
    /// From the last model fit (none for a member without a purchase by its T).
    pub p_alive: Option<f64>,
    /// Predicted 12-month CLV, in the store currency.
    pub clv_12m: Option<f64>,
    /// Net revenue in the 12 months to the fit's T, in cents: what the member stands
    /// for if lost.
    pub revenue_12m_cents: Option<i64>,
    /// In the top 20% by predicted or historical value at the fit's T.
    pub high_value: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPage {
    pub as_of: String,
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
    pub sort: String,
    pub page: u32,
    pub page_size: u32,
    /// Members matching the filters, over all pages.
    pub total: i64,
    pub rows: Vec<MemberRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberOrder {
    pub order_id: String,
    pub ordered_at: String,
    pub net_amount_cents: i64,
    pub channel: Option<String>,
    pub store_id: Option<String>,
    pub item_count: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPoints {
    pub entry_id: String,
    pub occurred_at: String,
    pub kind: String,
    pub points: i64,
    pub source: Option<String>,
    pub order_id: Option<String>,
}

/// Everything about one member: profile, orders across channels, points ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Member360 {
    pub member: MemberRow,
    pub gender: Option<String>,
    pub birth_year: Option<i32>,
    pub home_store_id: Option<String>,
    /// Lifecycle stage as of the latest order date.
    pub stage: String,
    /// Newest first.
    pub orders: Vec<MemberOrder>,
    /// Newest first.
    pub points: Vec<MemberPoints>,
    /// What the last model fit says of the member (none before a fit, or for a member
    /// without a purchase by its T).
    pub prediction: Option<MemberPrediction>,
    /// RFM scores and named segment as of the latest order date (none without a
    /// purchase in the lookback).
    pub rfm: Option<MemberRfm>,
    /// Tier history, newest first.
    pub tier_changes: Vec<MemberTierChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberRfm {
    pub r: i32,
    pub f: i32,
    pub m: i32,
    /// The named segment's key (`other` when no rule matches).
    pub segment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberTierChange {
    pub changed_at: String,
    pub tier: String,
}

/// A member's scores from the last BG/NBD + Gamma-Gamma fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPrediction {
    /// The T of the fit.
    pub as_of: String,
    #[serde(flatten)]
    pub score: MemberScore,
}

/// What the purchase and spend models say of one member.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberScore {
    pub p_alive: f64,
    pub purchases_30d: f64,
    pub purchases_90d: f64,
    pub purchases_365d: f64,
    pub spend_per_purchase: f64,
    /// Expected net revenue in the next 12 months, discounted.
    pub clv_12m: f64,
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

/// A holdout check of the purchase model: fitted to the data up to `calibration_end`,
/// predicting the purchase days of the `days` after it, compared with what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Holdout {
    pub as_of: String,
    pub calibration_end: String,
    pub days: u32,
    /// By repeat purchases before the holdout: `0` … `6`, `7+`.
    pub buckets: Vec<HoldoutBucket>,
    pub total: HoldoutBucket,
    /// When this check was computed (UTC): it is computed once per model fit, `as_of`
    /// and `days`, and shared after.
    pub computed_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HoldoutBucket {
    pub frequency: String,
    /// The bucket's members; this and the sums are `null` when withheld from executives
    /// (a bucket under the minimum group size, or one that would give such a bucket away).
    pub members: Option<i64>,
    /// Purchase days in the holdout, summed over the bucket's members.
    pub actual: Option<f64>,
    pub predicted: Option<f64>,
}

/// A holdout request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct HoldoutQuery {
    /// The end of the holdout, `YYYY-MM-DD`; default: T of the model's fit (the latest
    /// order day before any fit).
    pub as_of: Option<String>,
    /// Days held out (7 to 730; default 90).
    pub days: Option<u32>,
}

/// One fitted model as recorded: its parameters in the model's order, with names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelFit {
    /// `bgnbd` (r, alpha, a, b) or `gamma_gamma` (p, q, gamma).
    pub model: String,
    pub as_of: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub fitted_at: String,
    /// Members the model was fitted on.
    pub members: i64,
    pub names: Vec<String>,
    pub params: Vec<f64>,
    pub std_errors: Vec<f64>,
    pub log_likelihood: f64,
    pub iterations: i64,
}

/// The predictive model's state: the fits behind the stored scores and what the
/// background refit is doing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelStatus {
    /// T of the stored member scores (none before the first fit).
    pub scores_as_of: Option<String>,
    /// Members with a score.
    pub scored_members: i64,
    /// The last recorded BG/NBD and Gamma-Gamma fits.
    pub fits: Vec<ModelFit>,
    /// A refit is running (one follows every data load).
    pub fitting: bool,
    /// Why the last refit failed, if it did (e.g. too few repeat buyers).
    pub last_error: Option<String>,
    /// The annual discount rate of the 12-month CLV and the P(alive) under which a
    /// member is at risk.
    pub annual_discount: f64,
    pub at_risk_p_alive: f64,
}

/// A fit request: T (default: the latest order day).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FitRequest {
    pub as_of: Option<String>,
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

/// A named RFM segment's key and names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentName {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
}

/// Where an alert's notices go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// A generic JSON webhook (the documented payload).
    Webhook { url: String },
    /// A WeCom (企业微信) group robot.
    Wecom { url: String },
    /// A DingTalk (钉钉) group robot.
    Dingtalk { url: String },
    /// A Feishu (飞书) group bot.
    Feishu { url: String },
    /// A Slack incoming webhook.
    Slack { url: String },
    /// E-mail over the configured SMTP server.
    Email { to: Vec<String> },
}

/// An alert rule (SPEC §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRule {
    /// Given by the server.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// A metric key (see `/api/v1/metrics`).
    pub metric: String,
    /// A saved segment's key; none: all members.
    #[serde(default)]
    pub segment: Option<String>,
    /// `above`, `below` (the value against the threshold), `drop_pct`, `rise_pct` (the
    /// change against the comparison window, in percent, by more than the threshold).
    pub comparison: String,
    pub threshold: f64,
    pub window_days: u32,
    /// Evaluated this often (and after every data load).
    pub schedule_minutes: u32,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// A rule that stays in breach notifies again after this long (0: never).
    pub renotify_minutes: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A member behind an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertMember {
    pub member_id: String,
    /// What the member spent in the 12 months to T, in cents.
    pub value_at_stake_cents: Option<i64>,
    pub p_alive: Option<f64>,
}

/// One breach of a rule, from firing to resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub metric: String,
    pub severity: String,
    /// `firing`, `acknowledged`, `snoozed` or `resolved`.
    pub state: String,
    pub opened_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub snoozed_until: Option<String>,
    pub as_of: String,
    pub window_start: String,
    pub window_end: String,
    pub value: Option<f64>,
    pub comparison_value: Option<f64>,
    pub threshold: f64,
    pub comparison: String,
    pub members_total: Option<i64>,
    /// The members of the rule's segment when it was read (none for all members; never
    /// shown to executives).
    #[serde(default)]
    pub population: Option<i64>,
    /// Whether executives may see the values: their view of the rule's segment was not
    /// withheld when it was read (see docs/security.md).
    #[serde(default = "yes")]
    pub executives_see: bool,
    /// The first members behind it, most value at stake first.
    pub members: Vec<AlertMember>,
    /// The drill-down of the breach (a path on this server).
    pub link: String,
}

/// Alert history filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AlertQuery {
    /// `firing`, `acknowledged`, `snoozed`, `resolved`, or `open` (any but resolved).
    pub state: Option<String>,
    pub rule_id: Option<i64>,
    pub severity: Option<String>,
    pub limit: Option<u32>,
}

/// Snoozing an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SnoozeRequest {
    /// Until when, `YYYY-MM-DDTHH:MM:SSZ`; or `minutes` from now.
    pub until: Option<String>,
    pub minutes: Option<u32>,
}

/// What a signed-in person may do (SPEC §1), least first: each role may do all the
/// roles before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Aggregates only, never a single member's data.
    Executive,
    /// Member rows with name and phone masked; segments and alert rules.
    Operator,
    /// Everything unmasked; users, tokens, channels, imports and the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Executive, Role::Operator, Role::Admin];

    pub fn key(self) -> &'static str {
        match self {
            Role::Executive => "executive",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == text)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Executive => "管理层",
            Role::Operator => "运营",
            Role::Admin => "管理员",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::Executive => "Executive",
            Role::Operator => "Operator",
            Role::Admin => "Admin",
        }
    }
}

/// Who is signed in, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Viewer {
    pub name: String,
    pub role: Role,
}

/// A user account, as admins see it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// Set while sign-in is refused after too many wrong passwords.
    pub locked_until: Option<String>,
    pub created_at: String,
}

/// Creating a user, or changing one (`role`, `password`, `disabled`; absent fields stay).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserChange {
    pub name: String,
    pub role: Option<Role>,
    /// At least 12 characters.
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

/// An API token, as listed (the secret is shown once, when it is made).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// `ingest` or `read`.
    pub scope: String,
    /// What a `read` token may see.
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The secret: only in the answer that creates the token.
    pub secret: Option<String>,
}

/// Asking for a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    pub name: String,
    /// `ingest` or `read`.
    pub scope: String,
    /// For `read` tokens; default executive.
    pub role: Option<Role>,
}

/// One audited action: who, what, when, which filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: Role,
    /// e.g. `member.view`, `member.list`, `member.export`, `user.create`, `rule.update`.
    pub action: String,
    pub target: Option<String>,
    pub filter: Option<String>,
}

/// Audit log filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// An action, or its prefix ending in `.` (`member.`).
    pub action: Option<String>,
    /// From this day on, `YYYY-MM-DD`.
    pub since: Option<String>,
    pub limit: Option<u32>,
}

/// One finished data load, as the load history keeps it (admins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoadRecord {
    pub id: i64,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub finished_at: String,
    /// The file as its loader named it (an upload's own name, or the CLI's path).
    pub source: String,
    /// The table (or mapping kind) it loaded into.
    pub target: String,
    pub rows_read: i64,
    pub rows_inserted: i64,
    pub rows_duplicate: i64,
    pub rows_rejected: i64,
}
