//! Types shared by the server, its JSON API and the pages.

use serde::{Deserialize, Serialize};

/// What the caller asks for: all fields are raw text, validated once on the server
/// so that the API, the CLI and the pages reject bad input with the same message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewQuery {
    /// Window end T as `YYYY-MM-DD`; default: the date of the latest order.
    pub as_of: Option<String>,
    /// Window length, `7d`, `30d`, `90d`, `365d` or any `Nd` up to 3650.
    pub window: Option<String>,
    /// `previous` (the window just before) or `year` (the same window a year earlier).
    pub compare: Option<String>,
}

/// An inclusive range of calendar dates, `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub start: String,
    pub end: String,
}

/// The four headline KPIs of SPEC §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiKey {
    HistoricalLtv,
    RepurchaseRate,
    PointsUsageRate,
    ChurnRate,
}

impl KpiKey {
    pub const ALL: [KpiKey; 4] = [
        KpiKey::HistoricalLtv,
        KpiKey::RepurchaseRate,
        KpiKey::PointsUsageRate,
        KpiKey::ChurnRate,
    ];

    pub fn key(self) -> &'static str {
        match self {
            KpiKey::HistoricalLtv => "historical_ltv",
            KpiKey::RepurchaseRate => "repurchase_rate",
            KpiKey::PointsUsageRate => "points_usage_rate",
            KpiKey::ChurnRate => "churn_rate",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            KpiKey::HistoricalLtv => "历史LTV",
            KpiKey::RepurchaseRate => "复购率",
            KpiKey::PointsUsageRate => "积分使用率",
            KpiKey::ChurnRate => "流失率",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            KpiKey::HistoricalLtv => "Historical LTV",
            KpiKey::RepurchaseRate => "Repurchase rate",
            KpiKey::PointsUsageRate => "Points-usage rate",
            KpiKey::ChurnRate => "Churn rate",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            KpiKey::HistoricalLtv => Unit::Money,
            _ => Unit::Ratio,
        }
    }

    /// Whether a rise is good news (drives the colour of the change).
    pub fn higher_is_better(self) -> bool {
        !matches!(self, KpiKey::ChurnRate)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// `value` is an amount in the store currency, exact to the cent.
    Money,
    /// `value` is a share, numerator ÷ denominator.
    Ratio,
}

/// One KPI for one window, with the exact integers it is computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// For money: cents; for a ratio: the count or points on top.
    pub numerator: i64,
    /// Members or points below the line.
    pub denominator: i64,
    /// The value, or `None` when the denominator is zero (see `reason`).
    pub value: Option<f64>,
    /// Why `value` is `None`.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    pub key: KpiKey,
    pub unit: Unit,
    pub current: Measure,
    pub comparison: Measure,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub as_of: String,
    pub window_days: u32,
    pub compare: String,
    pub window: DateRange,
    pub comparison_window: DateRange,
    /// Days without a purchase after which a member counts as churned.
    pub churn_days: u32,
    pub kpis: Vec<Kpi>,
}
