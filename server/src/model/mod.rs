//! Predicted value (SPEC §6): BG/NBD (Fader, Hardie & Lee 2005) for repeat purchases and
//! dropout, Gamma-Gamma (Fader & Hardie 2013) for spend per purchase, fitted by maximum
//! likelihood with argmin's L-BFGS on log-parameters, with analytic gradients.
//!
//! Here: the repeat-purchase summary, both fits with standard errors and a convergence
//! check, the member scores (P(alive), expected purchases, expected spend, discounted
//! 12-month CLV), the high-value flag, their storage, and the holdout check. The scores
//! feed the predicted metrics ([`crate::metrics`]), the `churn_risk` dimension and the
//! `p_alive`/`clv_12m` ranges ([`crate::segment`]) and the member lists.

use app::model::MemberScore;
use argmin::{
    core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus},
    solver::{linesearch::MoreThuenteLineSearch, quasinewton::LBFGS},
};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::{Error, Result};

mod holdout;
mod stored;

pub use holdout::holdout;
pub use stored::{last_fits, parameter_names, record_fit, store_scores};

/// One member's repeat-purchase summary as of T, in days: `x` repeat purchase days (the
/// first purchase day not counted, same-day orders one purchase), `t_x` the day of the
/// last purchase and `t` the age at T, both counted from the first purchase; `m` the mean
/// net spend per repeat purchase day (for Gamma-Gamma, members with x > 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    pub m: f64,
}

/// A fitted model: parameters, their standard errors, the log-likelihood at the optimum.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub params: Vec<f64>,
    pub std_errors: Vec<f64>,
    pub log_likelihood: f64,
    pub iterations: u64,
}

/// BG/NBD: (r, α, a, b), over distinct (x, t_x, T) with how many members share them.
struct BgNbd(Vec<(Summary, f64)>);

impl BgNbd {
    fn new(members: &[Summary]) -> BgNbd {
        let mut counts: std::collections::HashMap<[u64; 3], f64> = std::collections::HashMap::new();
        for s in members {
            *counts.entry([s.x.to_bits(), s.t_x.to_bits(), s.t.to_bits()]).or_default() += 1.0;
        }
        // In a fixed order (not the hash map's), so that the sums add up the same way in
        // every run: the same data gives the same fit, bit for bit.
        let mut groups: Vec<([u64; 3], f64)> = counts.into_iter().collect();
        groups.sort_unstable_by_key(|(k, _)| *k);
        BgNbd(
            groups
                .into_iter()
                .map(|(k, n)| {
                    let [x, t_x, t] = k.map(f64::from_bits);
                    (Summary { x, t_x, t, m: 0.0 }, n)
                })
                .collect(),
        )
    }

    /// Σ log-likelihood and its gradient in (r, α, a, b), in parallel chunks. The
    /// special functions depend on the parameters and x only, so they are tabled per x.
    fn ll(&self, p: &[f64]) -> (f64, [f64; 4]) {
        let (r, a, b) = (p[0], p[2], p[3]);
        let top = self.0.iter().map(|(s, _)| s.x as usize).max().unwrap_or(0);
        let table: Vec<[f64; 6]> = (0..=top)
            .map(|x| {
                let x = x as f64;
                [
                    ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x),
                    digamma(r + x),
                    digamma(a + b + x),
                    digamma(b + x),
                    0.0,
                    0.0,
                ]
            })
            .collect();
        par_sum(&self.0, |chunk| Self::ll_of(chunk, p, &table))
    }

    fn ll_of(members: &[(Summary, f64)], p: &[f64], table: &[[f64; 6]]) -> (f64, [f64; 4]) {
        let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
        let (mut ll, mut g) = (0.0, [0.0; 4]);
        let base = ln_gamma(a + b) - ln_gamma(b) - ln_gamma(r) + r * alpha.ln();
        let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
        for &(ref s, n) in members {
            let x = s.x;
            let t = &table[x as usize];
            let a1 = t[0];
            let a3 = -(r + x) * (alpha + s.t).ln();
            let a4 =
                if x > 0.0 { a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + s.t_x).ln() } else { f64::NEG_INFINITY };
            let top = a3.max(a4);
            let sum = (a3 - top).exp() + (a4 - top).exp();
            let lse = top + sum.ln();
            let (w3, w4) = ((a3 - lse).exp(), (a4 - lse).exp());
            ll += n * (base + a1 + lse);
            let (dr_x, dab_x) = (t[1], t[2]);
            g[0] += n
                * (dr_x - dg_r + alpha.ln()
                    - w3 * (alpha + s.t).ln()
                    - w4 * if x > 0.0 { (alpha + s.t_x).ln() } else { 0.0 });
            g[1] += n
                * (r / alpha
                    - w3 * (r + x) / (alpha + s.t)
                    - w4 * if x > 0.0 { (r + x) / (alpha + s.t_x) } else { 0.0 });
            g[2] += n * (dg_ab - dab_x + w4 / a);
            g[3] += n * (dg_ab + t[3] - dg_b - dab_x - w4 * if x > 0.0 { 1.0 / (b + x - 1.0) } else { 0.0 });
        }
        (ll, g)
    }
}

/// Gamma-Gamma: (p, q, γ), over the members with x > 0.
struct GammaGamma<'a>(&'a [Summary]);

impl GammaGamma<'_> {
    fn ll(&self, params: &[f64]) -> (f64, [f64; 3]) {
        let (p, q) = (params[0], params[1]);
        let top = self.0.iter().map(|s| s.x as usize).max().unwrap_or(0);
        let table: Vec<[f64; 3]> = (0..=top)
            .map(|x| {
                let px = p * x as f64;
                if x == 0 {
                    return [0.0; 3];
                }
                [ln_gamma(px + q) - ln_gamma(px), digamma(px + q), digamma(px)]
            })
            .collect();
        par_sum(self.0, |chunk| Self::ll_of(chunk, params, &table))
    }

    fn ll_of(members: &[Summary], params: &[f64], table: &[[f64; 3]]) -> (f64, [f64; 3]) {
        let (p, q, v) = (params[0], params[1], params[2]);
        let (mut ll, mut g) = (0.0, [0.0; 3]);
        let (lg_q, dg_q) = (ln_gamma(q), digamma(q));
        for s in members.iter().filter(|s| s.x > 0.0) {
            let (x, m) = (s.x, s.m);
            let px = p * x;
            let denominator = v + m * x;
            let t = &table[x as usize];
            ll += t[0] - lg_q + q * v.ln() + (px - 1.0) * m.ln() + px * x.ln() - (px + q) * denominator.ln();
            let d = t[1];
            g[0] += x * (d - t[2] + m.ln() + x.ln() - denominator.ln());
            g[1] += d - dg_q + v.ln() - denominator.ln();
            g[2] += q / v - (px + q) / denominator;
        }
        (ll, g)
    }
}

/// A log-likelihood and its gradient summed over chunks of `items` on all cores.
fn par_sum<T: Sync, const K: usize>(
    items: &[T],
    part: impl Fn(&[T]) -> (f64, [f64; K]) + Sync + Send,
) -> (f64, [f64; K]) {
    use rayon::prelude::*;
    // The chunks' sums are added in chunk order (not in the order threads finish), so the
    // result does not depend on scheduling.
    let parts: Vec<(f64, [f64; K])> = items.par_chunks(4096).map(part).collect();
    parts.into_iter().fold((0.0, [0.0; K]), |(l1, g1), (l2, g2)| (l1 + l2, std::array::from_fn(|i| g1[i] + g2[i])))
}

/// Minimises −LL / n over log-parameters, so the optimiser sees an unconstrained problem
/// of order 1. The line search asks for the cost and the gradient at the same point one
/// after the other; one pass over the members gives both, so the last is kept.
struct Negative<F> {
    ll: F,
    n: f64,
    last: std::sync::Mutex<Option<(Vec<f64>, f64, Vec<f64>)>>,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Negative<F> {
    /// (−LL / n, its gradient in θ = log p) at `theta`.
    fn at(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        if let Ok(last) = self.last.lock()
            && let Some((t, cost, g)) = last.as_ref()
            && t.as_slice() == theta
        {
            return (*cost, g.clone());
        }
        let p: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        let (ll, g) = (self.ll)(&p);
        let cost = if ll.is_finite() { -ll / self.n } else { f64::INFINITY };
        let g: Vec<f64> = g.iter().zip(&p).map(|(g, p)| -g * p / self.n).collect();
        if let Ok(mut last) = self.last.lock() {
            *last = Some((theta.to_vec(), cost, g.clone()));
        }
        (cost, g)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Negative<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.at(theta).0)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Negative<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.at(theta).1)
    }
}

/// Maximum likelihood from `start`; an error with the reason when it does not converge.
fn maximise(model: &str, n: usize, start: &[f64], ll: impl Fn(&[f64]) -> (f64, Vec<f64>) + Clone) -> Result<Fit> {
    let fail = |why: String| Error::Model(format!("{model} fit did not converge: {why}"));
    let problem = Negative { ll: ll.clone(), n: n as f64, last: std::sync::Mutex::new(None) };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-9)
        .and_then(|s| s.with_tolerance_cost(1e-14))
        .map_err(|e| fail(e.to_string()))?;
    let run = Executor::new(problem, solver)
        .configure(|state| state.param(start.iter().map(|p| p.ln()).collect()).max_iters(1_000))
        .run()
        .map_err(|e| fail(e.to_string()))?;
    let state = run.state();
    // A line search that can no longer descend has usually reached the optimum to
    // rounding; the gradient check below tells the two apart.
    match state.get_termination_status() {
        TerminationStatus::Terminated(
            TerminationReason::SolverConverged
            | TerminationReason::TargetCostReached
            | TerminationReason::SolverExit(_),
        ) => {}
        other => return Err(fail(format!("{other:?}"))),
    }
    let theta = state.get_best_param().ok_or_else(|| fail("no parameters".into()))?.clone();
    let params: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
    let (log_likelihood, gradient) = ll(&params);
    let scale = gradient.iter().zip(&params).map(|(g, p)| (g * p / n as f64).abs()).fold(0.0, f64::max);
    if !log_likelihood.is_finite() || scale > 1e-4 {
        return Err(fail(format!("gradient {scale:.2e} at the end")));
    }
    let std_errors = standard_errors(&params, &ll).ok_or_else(|| fail("the information matrix is singular".into()))?;
    Ok(Fit { params, std_errors, log_likelihood, iterations: state.get_iter() })
}

/// Standard errors: the square roots of the diagonal of the inverse observed information
/// (the Hessian of −LL, by central differences of the analytic gradient).
fn standard_errors(p: &[f64], ll: &impl Fn(&[f64]) -> (f64, Vec<f64>)) -> Option<Vec<f64>> {
    let k = p.len();
    let mut h = vec![vec![0.0; k]; k];
    for j in 0..k {
        let step = 1e-5 * p[j].abs().max(1e-3);
        let mut up = p.to_vec();
        let mut down = p.to_vec();
        up[j] += step;
        down[j] -= step;
        let (gu, gd) = (ll(&up).1, ll(&down).1);
        for i in 0..k {
            h[i][j] = -(gu[i] - gd[i]) / (2.0 * step);
        }
    }
    // Symmetrise, then invert by Gauss-Jordan.
    for i in 0..k {
        for j in 0..i {
            let avg = (h[i][j] + h[j][i]) / 2.0;
            h[i][j] = avg;
            h[j][i] = avg;
        }
    }
    let mut inv = vec![vec![0.0; k]; k];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for col in 0..k {
        let pivot = (col..k).max_by(|&a, &b| h[a][col].abs().total_cmp(&h[b][col].abs()))?;
        if h[pivot][col].abs() < 1e-300 {
            return None;
        }
        h.swap(col, pivot);
        inv.swap(col, pivot);
        let d = h[col][col];
        for j in 0..k {
            h[col][j] /= d;
            inv[col][j] /= d;
        }
        for i in 0..k {
            if i != col {
                let f = h[i][col];
                for j in 0..k {
                    h[i][j] -= f * h[col][j];
                    inv[i][j] -= f * inv[col][j];
                }
            }
        }
    }
    (0..k).map(|i| (inv[i][i] > 0.0).then(|| inv[i][i].sqrt())).collect()
}

/// Fits BG/NBD: parameters (r, α, a, b).
pub fn fit_bgnbd(members: &[Summary]) -> Result<Fit> {
    let repeaters = members.iter().filter(|s| s.x > 0.0).count();
    if members.len() < 100 || repeaters < 30 {
        return Err(Error::Model(format!(
            "too little data for BG/NBD: {} members with a purchase, {repeaters} of them repeat buyers (need 100 and 30)",
            members.len()
        )));
    }
    let model = BgNbd::new(members);
    maximise("BG/NBD", members.len(), &[1.0, 1.0, 1.0, 1.0], |p| {
        let (ll, g) = model.ll(p);
        (ll, g.to_vec())
    })
}

/// Fits Gamma-Gamma on the repeat buyers: parameters (p, q, γ).
pub fn fit_gamma_gamma(members: &[Summary]) -> Result<Fit> {
    let repeaters = members.iter().filter(|s| s.x > 0.0 && s.m > 0.0).count();
    if repeaters < 30 {
        return Err(Error::Model(format!(
            "too little data for Gamma-Gamma: {repeaters} repeat buyers with positive spend (need 30)"
        )));
    }
    let mut positive: Vec<Summary> = members.iter().copied().filter(|s| s.x > 0.0 && s.m > 0.0).collect();
    // In a fixed order whatever order the members came in (DuckDB's aggregation has none).
    positive.sort_unstable_by(|a, b| a.x.total_cmp(&b.x).then(a.m.total_cmp(&b.m)));
    let model = GammaGamma(&positive);
    maximise("Gamma-Gamma", positive.len(), &[1.0, 1.0, 1.0], |p| {
        let (ll, g) = model.ll(p);
        (ll, g.to_vec())
    })
}

/// P(alive) under BG/NBD for one member.
pub fn p_alive(fit: &Fit, s: &Summary) -> f64 {
    let (r, alpha, a, b) = (fit.params[0], fit.params[1], fit.params[2], fit.params[3]);
    if s.x == 0.0 {
        return 1.0;
    }
    let log_odds = (a / (b + s.x - 1.0)).ln() + (r + s.x) * ((alpha + s.t) / (alpha + s.t_x)).ln();
    1.0 / (1.0 + log_odds.exp())
}

/// A member with a purchase by T: their repeat-purchase summary and what they are worth
/// so far, the input of a fit and of the high-value flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Buyer {
    pub member_id: String,
    pub summary: Summary,
    /// Net revenue up to T, returns included (the member's historical LTV), in cents.
    pub historical_cents: i64,
    /// Net revenue in the 365 days to T, in cents.
    pub revenue_12m_cents: i64,
}

/// Every member's repeat-purchase summary as of T, in days, from `member_days`: purchase
/// days up to T (same-day orders are one purchase); `m` is the net revenue of the repeat
/// purchase days (returns on those days included) per repeat purchase day.
pub fn summaries(conn: &duckdb::Connection, as_of: chrono::NaiveDate) -> Result<Vec<Buyer>> {
    use duckdb::arrow::array::{Array, Int64Array, StringArray};
    let mut stmt = conn.prepare(
        "SELECT member_id,
                count(*) FILTER (WHERE purchases > 0) - 1 AS x,
                date_diff('day', min(day) FILTER (WHERE purchases > 0), max(day) FILTER (WHERE purchases > 0)) AS t_x,
                date_diff('day', min(day) FILTER (WHERE purchases > 0), CAST($1 AS DATE)) AS t,
                CAST(coalesce(sum(cents) FILTER (WHERE purchases > 0 AND prev_purchase_day IS NOT NULL), 0) AS BIGINT),
                CAST(sum(cents) AS BIGINT),
                CAST(coalesce(sum(cents) FILTER (WHERE day > CAST($2 AS DATE)), 0) AS BIGINT)
         FROM member_days WHERE day <= CAST($1 AS DATE)
         GROUP BY member_id HAVING count(*) FILTER (WHERE purchases > 0) > 0",
    )?;
    let year_before = as_of - chrono::Days::new(365);
    // Read as Arrow batches: a million rows come back in a fraction of the time that
    // row-by-row reads take.
    let mut buyers = Vec::new();
    for batch in stmt.query_arrow([as_of.to_string(), year_before.to_string()])? {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::Internal("summary: member_id is not text".into()))?;
        let int = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| Error::Internal(format!("summary: column {i} is not BIGINT")))
        };
        let (x, t_x, t, repeat, historical, recent) = (int(1)?, int(2)?, int(3)?, int(4)?, int(5)?, int(6)?);
        for i in 0..batch.num_rows() {
            let n = x.value(i);
            buyers.push(Buyer {
                member_id: ids.value(i).to_string(),
                summary: Summary {
                    x: n as f64,
                    t_x: t_x.value(i) as f64,
                    t: t.value(i) as f64,
                    m: if n > 0 { repeat.value(i) as f64 / 100.0 / n as f64 } else { 0.0 },
                },
                historical_cents: historical.value(i),
                revenue_12m_cents: recent.value(i),
            });
        }
        debug_assert!(ids.null_count() == 0);
    }
    Ok(buyers)
}

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its series.
fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 0..100_000 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

/// Expected purchases in the next `days` under BG/NBD, given the member's history
/// (Fader, Hardie & Lee 2005, eq. 10).
pub fn expected_purchases(fit: &Fit, s: &Summary, days: f64) -> f64 {
    let (r, alpha, a, b) = (fit.params[0], fit.params[1], fit.params[2], fit.params[3]);
    let x = s.x;
    let z = days / (alpha + s.t + days);
    let bracket = 1.0 - ((alpha + s.t) / (alpha + s.t + days)).powf(r + x) * hyp2f1(r + x, b + x, a + b + x - 1.0, z);
    let numerator = (a + b + x - 1.0) / (a - 1.0) * bracket;
    let odds = if x > 0.0 { a / (b + x - 1.0) * ((alpha + s.t) / (alpha + s.t_x)).powf(r + x) } else { 0.0 };
    numerator / (1.0 + odds)
}

/// Expected spend per purchase under Gamma-Gamma, given the member's repeat purchases
/// and their mean spend (the population mean for a member without any).
pub fn expected_spend(fit: &Fit, s: &Summary) -> f64 {
    let (p, q, v) = (fit.params[0], fit.params[1], fit.params[2]);
    if s.x > 0.0 && s.m > 0.0 { p * (v + s.x * s.m) / (p * s.x + q - 1.0) } else { p * v / (q - 1.0) }
}

/// Days in an average month.
const MONTH: f64 = 365.25 / 12.0;

/// What the model says of one member; the 12-month CLV discounts each month at the
/// monthly rate equivalent to `annual_discount`.
pub fn score(bg: &Fit, gg: &Fit, s: &Summary, annual_discount: f64) -> MemberScore {
    let spend = expected_spend(gg, s);
    let monthly = (1.0 + annual_discount).powf(1.0 / 12.0) - 1.0;
    let mut clv = 0.0;
    let mut before = 0.0;
    for month in 1..=12 {
        let upto = expected_purchases(bg, s, month as f64 * MONTH);
        clv += (upto - before) * spend / (1.0 + monthly).powi(month);
        before = upto;
    }
    MemberScore {
        p_alive: p_alive(bg, s),
        purchases_30d: expected_purchases(bg, s, 30.0),
        purchases_90d: expected_purchases(bg, s, 90.0),
        purchases_365d: before,
        spend_per_purchase: spend,
        clv_12m: clv,
    }
}

/// The share of scored members, by predicted and by historical value, that is high-value.
pub const HIGH_VALUE_SHARE: f64 = 0.2;

/// The lowest value in the top `share` of `values` (by count, rounded up; ties at the
/// boundary are all in), or None when there are none.
pub fn top_share_threshold(mut values: Vec<f64>, share: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let k = ((values.len() as f64 * share).ceil() as usize).clamp(1, values.len());
    let (_, kth, _) = values.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    Some(*kth)
}

/// Which buyers are high-value: in the top [`HIGH_VALUE_SHARE`] by predicted 12-month
/// CLV or by historical value.
pub fn high_value(buyers: &[Buyer], scores: &[MemberScore]) -> Vec<bool> {
    let clv = top_share_threshold(scores.iter().map(|s| s.clv_12m).collect(), HIGH_VALUE_SHARE);
    let hist = top_share_threshold(buyers.iter().map(|b| b.historical_cents as f64).collect(), HIGH_VALUE_SHARE);
    buyers
        .iter()
        .zip(scores)
        .map(|(b, s)| clv.is_some_and(|c| s.clv_12m >= c) || hist.is_some_and(|h| b.historical_cents as f64 >= h))
        .collect()
}
