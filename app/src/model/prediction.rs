//! The predictive model: fits, status and the holdout check.

use serde::{Deserialize, Serialize};

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
