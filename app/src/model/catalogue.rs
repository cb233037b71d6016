//! The catalogue: every metric, dimension, member measure and role, each defined by one
//! row of a table below (its key, its names in both languages and what the pages need to
//! know of it). The server's `metrics` module holds each metric's SQL, matched on the
//! same enum; nothing else lists them.

use serde::{Deserialize, Serialize};

/// A label in both languages the product speaks; the pages pick one with
/// [`crate::i18n::Lang`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    pub zh: &'static str,
    pub en: &'static str,
}

/// An enum whose variants are named by a key (their JSON and URL spelling) and a
/// [`Text`]: `ALL`, `key()`, `name()` and `parse()` come from one table.
macro_rules! named {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $key:tt, $zh:literal, $en:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        pub enum $ty {
            $( $(#[$vmeta])* #[serde(rename = $key)] $variant, )*
        }

        impl $ty {
            /// Every one, in the catalogue's order.
            pub const ALL: [$ty; [$($key),*].len()] = [$($ty::$variant),*];

            /// How JSON, URLs and the CLI spell it.
            pub fn key(self) -> &'static str {
                match self { $($ty::$variant => $key,)* }
            }

            /// Its name in both languages.
            pub fn name(self) -> Text {
                match self { $($ty::$variant => Text { zh: $zh, en: $en },)* }
            }

            pub fn parse(key: &str) -> Option<$ty> {
                Self::ALL.into_iter().find(|x| x.key() == key)
            }
        }
    };
}

/// The metrics' table: key, names, unit, whether a rise is good news, and why the value
/// is empty when its denominator is (the reason shown instead of a number).
macro_rules! metrics {
    ( $( $(#[$vmeta:meta])* $variant:ident = $key:tt, $zh:literal, $en:literal,
         $unit:ident, $direction:ident, $why_empty:expr; )* ) => {
        named! {
            /// The scalar metrics of the catalogue (SPEC §4).
            pub enum Metric { $( $(#[$vmeta])* $variant = $key, $zh, $en; )* }
        }

        impl Metric {
            pub fn unit(self) -> Unit {
                match self { $(Metric::$variant => Unit::$unit,)* }
            }

            /// Whether a rise is good news (drives the colour of the change).
            pub fn higher_is_better(self) -> bool {
                match self { $(Metric::$variant => Direction::$direction == Direction::Up,)* }
            }

            /// Why the value is `null` when the denominator is zero ("" when it cannot be).
            pub fn why_empty(self) -> &'static str {
                match self { $(Metric::$variant => $why_empty,)* }
            }
        }
    };
}

#[derive(PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

const NO_SCORE: &str =
    "no member here has a model score as of the window's end (the model is fitted as of one day: see /api/v1/model)";

metrics! {
    HistoricalLtv = "historical_ltv", "历史LTV", "Historical LTV", Money, Up,
        "no members had joined by the end of the window";
    RepurchaseRate = "repurchase_rate", "复购率", "Repurchase rate", Ratio, Up,
        "no member purchased in the window";
    PointsUsageRate = "points_usage_rate", "积分使用率", "Points-usage rate", Ratio, Up,
        "no points were earned in the window";
    ChurnRate = "churn_rate", "流失率", "Churn rate", Ratio, Down,
        "no member was active at the start of the window";
    Members = "members", "会员数", "Members", Count, Up, "";
    NewMembers = "new_members", "新增会员", "New members", Count, Up, "";
    ActiveMembers = "active_members", "活跃会员", "Active members", Count, Up, "";
    SecondPurchaseRate = "second_purchase_rate", "二次购买率", "Second-purchase rate", Ratio, Up,
        "no member made a first purchase in the days before the window";
    ReactivationRate = "reactivation_rate", "沉睡唤醒率", "Reactivation rate", Ratio, Up,
        "no member was dormant or churned at the start of the window";
    MemberSalesShare = "member_sales_share", "会员销售占比", "Member sales share", Ratio, Up,
        "there was no net revenue in the window";
    Aov = "aov", "客单价", "Average order value", Money, Up,
        "no member purchased in the window";
    PurchaseFrequency = "purchase_frequency", "购买频次", "Purchase frequency", Number, Up,
        "no member purchased in the window";
    PointsNeverUsedShare = "points_never_used_share", "积分从未使用占比", "Points never used", Ratio, Down,
        "no member had earned points by the end of the window";
    StoreOnlyMembers = "store_only_members", "仅门店会员", "Store-only members", Count, Up, "";
    OnlineOnlyMembers = "online_only_members", "仅线上会员", "Online-only members", Count, Up, "";
    OmnichannelMembers = "omnichannel_members", "全渠道会员", "Omnichannel members", Count, Up, "";
    /// Members (joined by T) with more than one identity: an identity loaded for them or a
    /// member merged into them, besides their member id (SPEC §11).
    MultiIdentityShare = "multi_identity_share", "多身份会员占比", "Members with several identities", Ratio, Up,
        "no members had joined by the end of the window";
    /// Identities per member (joined by T), their member id included.
    IdentitiesPerMember = "identities_per_member", "人均身份数", "Identities per member", Number, Up,
        "no members had joined by the end of the window";
    PointsLiability = "points_liability", "积分负债", "Points liability", Amount, Down, "";
    PointsExpiring30 = "points_expiring_30d", "30天内到期积分", "Points expiring in 30 days", Amount, Down, "";
    PointsExpiring90 = "points_expiring_90d", "90天内到期积分", "Points expiring in 90 days", Amount, Down, "";
    /// Mean predicted 12-month CLV of the members with a model score (last fit).
    PredictedLtv = "predicted_ltv", "预测LTV(12个月)", "Predicted LTV (12 months)", Money, Up, NO_SCORE;
    /// Total predicted 12-month CLV of the members with a model score.
    PredictedLtvTotal = "predicted_ltv_total", "预测总价值(12个月)", "Predicted value, total (12 months)", Amount, Up, NO_SCORE;
    /// High-value members (top 20% by predicted or historical value) with P(alive) under
    /// the at-risk threshold.
    HighValueAtRisk = "high_value_at_risk", "高价值会员流失预警", "High-value members at risk", Count, Down, NO_SCORE;
    /// What those members spent in the 12 months to T.
    RevenueAtStake = "revenue_at_stake", "流失风险营收", "Revenue at stake", Amount, Down, NO_SCORE;
}

impl Metric {
    /// The metrics read from the last model fit's scores.
    pub const PREDICTED: [Metric; 4] =
        [Metric::PredictedLtv, Metric::PredictedLtvTotal, Metric::HighValueAtRisk, Metric::RevenueAtStake];

    /// The four headline KPIs of SPEC §4.
    pub const HEADLINE: [Metric; 4] =
        [Metric::HistoricalLtv, Metric::RepurchaseRate, Metric::PointsUsageRate, Metric::ChurnRate];
}

/// How a metric's value reads.
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

named! {
    /// A member attribute that metrics can be broken down by and filtered on (SPEC §5).
    pub enum Dimension {
        Region = "region", "区域", "Region";
        Store = "store", "门店", "Home store";
        Tier = "tier", "等级", "Tier";
        JoinChannel = "join_channel", "入会渠道", "Join channel";
        JoinCohort = "join_cohort", "入会月份", "Join cohort";
        Gender = "gender", "性别", "Gender";
        AgeBand = "age_band", "年龄段", "Age band";
        LifecycleStage = "lifecycle_stage", "生命周期", "Lifecycle stage";
        RfmSegment = "rfm_segment", "RFM分群", "RFM segment";
        /// The cell of the RFM grid as of T: `R5F1` (recency and frequency scores); members
        /// without a purchase in the lookback are `(none)`.
        RfmCell = "rfm_cell", "RFM格", "RFM cell";
        FavouriteCategory = "favourite_category", "偏好品类", "Favourite category";
        PreferredChannel = "preferred_channel", "偏好渠道", "Preferred channel";
        /// From the last model fit: `high_value_at_risk`, `at_risk` (P(alive) under the
        /// threshold), `likely_active`; members without a score are `(none)`.
        ChurnRisk = "churn_risk", "流失风险", "Churn risk";
    }
}

named! {
    /// What a signed-in person may do (SPEC §1), least first: each role may do all the
    /// roles before it may.
    #[derive(PartialOrd, Ord)]
    pub enum Role {
        /// Aggregates only, never a single member's data.
        Executive = "executive", "管理层", "Executive";
        /// Member rows with name and phone masked; segments and alert rules.
        Operator = "operator", "运营", "Operator";
        /// Everything unmasked; users, tokens, channels, imports and the audit log.
        Admin = "admin", "管理员", "Admin";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_parse_back() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.key()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.key());
            assert!(!m.name().zh.is_empty() && !m.name().en.is_empty());
            // Only counts and amounts never lack a denominator.
            assert_eq!(
                m.why_empty().is_empty(),
                matches!(m.unit(), Unit::Count | Unit::Amount) && !Metric::PREDICTED.contains(&m),
                "{m:?}"
            );
        }
        for d in Dimension::ALL {
            assert_eq!(Dimension::parse(d.key()), Some(d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.key());
        }
        assert!(Role::Executive < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!(serde_json::to_value(Role::Admin).unwrap(), "admin");
    }
}
