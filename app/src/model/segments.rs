//! Filters and saved segments.

use serde::{Deserialize, Serialize};

use super::*;

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

/// A named segment of the RFM rule table (SPEC §5): members whose R, F and M scores all
/// lie in these inclusive ranges (`[min, max]`, 1–5), unless a rule of lower priority
/// number took them first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RfmRule {
    pub priority: i64,
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<i64>))]
    pub r: (i64, i64),
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<i64>))]
    pub f: (i64, i64),
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<i64>))]
    pub m: (i64, i64),
}

/// A named RFM segment's key and names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentName {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
}
