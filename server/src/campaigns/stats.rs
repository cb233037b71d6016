//! The statistics of a campaign readout: per arm a rate (conversions ÷ members) or a mean
//! (revenue per member), the treatment's uplift over control with a 95% confidence
//! interval, a two-sided p-value, and a check that the arms have the sizes the draw meant.
//!
//! - Rates: the difference of proportions, its interval from the unpooled standard error
//!   (Wald), and the two-proportion z-test with the pooled standard error.
//! - Means: Welch's t-test (unequal variances), the interval from Student's t with the
//!   Welch–Satterthwaite degrees of freedom. Revenue per member is skewed, and Welch's test
//!   holds for the arm sizes a retailer's campaign has (hundreds to thousands); a bootstrap
//!   was not needed.
//! - Sample ratio mismatch: Pearson's χ² (1 degree of freedom) of the arm sizes against the
//!   control share the draw used; p < 0.001 says the assignment is broken and the readout
//!   is not to be trusted.
//!
//! `tests/it/readout.rs` checks every figure against SciPy on fixtures and the interval's
//! coverage on simulated campaigns with a known true lift.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// The 97.5% quantile of the standard normal: a two-sided 95% interval.
const Z_975: f64 = 1.959_963_984_540_054;

/// One arm's conversions among its members.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub members: u64,
    pub conversions: u64,
}

impl Rate {
    pub fn share(&self) -> f64 {
        if self.members == 0 { f64::NAN } else { self.conversions as f64 / self.members as f64 }
    }
}

/// One arm's values summed: members, Σx and Σx² (e.g. revenue per member in the store
/// currency), so that a readout needs no per-member list in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Sums {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Sums {
    pub fn of(values: &[f64]) -> Sums {
        values.iter().fold(Sums::default(), |s, v| Sums { n: s.n + 1, sum: s.sum + v, sum_sq: s.sum_sq + v * v })
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.n as f64
    }

    /// The sample variance (n − 1 in the denominator).
    pub fn variance(&self) -> f64 {
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// Treatment against control: the difference, its 95% interval, the test statistic and
/// the two-sided p-value (None when an arm is too small to say).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Uplift {
    pub treatment: f64,
    pub control: f64,
    /// treatment − control (for rates, a difference of shares: ×100 for points).
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// z for rates, t for means.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom (means only).
    pub df: Option<f64>,
    pub p_value: f64,
}

/// The difference of two conversion rates (see the module). None when an arm is empty or
/// the rates are both 0 or both 1 (no variation to test).
pub fn rates(treatment: Rate, control: Rate) -> Option<Uplift> {
    let (nt, nc) = (treatment.members as f64, control.members as f64);
    if treatment.members == 0 || control.members == 0 {
        return None;
    }
    let (pt, pc) = (treatment.share(), control.share());
    let pooled = (treatment.conversions + control.conversions) as f64 / (nt + nc);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc)).sqrt();
    if se_pooled == 0.0 {
        return None;
    }
    let se = (pt * (1.0 - pt) / nt + pc * (1.0 - pc) / nc).sqrt();
    let difference = pt - pc;
    let z = difference / se_pooled;
    let normal = Normal::standard();
    Some(Uplift {
        treatment: pt,
        control: pc,
        difference,
        ci_low: difference - Z_975 * se,
        ci_high: difference + Z_975 * se,
        statistic: z,
        df: None,
        p_value: 2.0 * normal.sf(z.abs()),
    })
}

/// Welch's t-test of two means (see the module). None when an arm has fewer than two
/// members or neither varies.
pub fn means(treatment: Sums, control: Sums) -> Option<Uplift> {
    if treatment.n < 2 || control.n < 2 {
        return None;
    }
    let (nt, nc) = (treatment.n as f64, control.n as f64);
    let (vt, vc) = (treatment.variance() / nt, control.variance() / nc);
    let se = (vt + vc).sqrt();
    if se == 0.0 {
        return None;
    }
    let df = (vt + vc).powi(2) / (vt * vt / (nt - 1.0) + vc * vc / (nc - 1.0));
    let difference = treatment.mean() - control.mean();
    let t = difference / se;
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let q = dist.inverse_cdf(0.975);
    Some(Uplift {
        treatment: treatment.mean(),
        control: control.mean(),
        difference,
        ci_low: difference - q * se,
        ci_high: difference + q * se,
        statistic: t,
        df: Some(df),
        p_value: 2.0 * dist.sf(t.abs()),
    })
}

/// Pearson's χ² of the arm sizes against the control share the draw meant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SampleRatio {
    pub expected_control_share: f64,
    pub observed_control_share: f64,
    pub chi_square: f64,
    pub p_value: f64,
    /// p < 0.001: the assignment is broken; do not trust the readout.
    pub mismatch: bool,
}

/// The sample ratio check (see the module). None for empty arms or a share outside (0, 1).
pub fn sample_ratio(treatment: u64, control: u64, control_share: f64) -> Option<SampleRatio> {
    let n = (treatment + control) as f64;
    if n == 0.0 || !(control_share > 0.0 && control_share < 1.0) {
        return None;
    }
    let (ec, et) = (n * control_share, n * (1.0 - control_share));
    let chi_square = (control as f64 - ec).powi(2) / ec + (treatment as f64 - et).powi(2) / et;
    let p_value = ChiSquared::new(1.0).ok()?.sf(chi_square);
    Some(SampleRatio {
        expected_control_share: control_share,
        observed_control_share: control as f64 / n,
        chi_square,
        p_value,
        mismatch: p_value < 0.001,
    })
}

/// The verdict of a rate's uplift in plain words, Chinese then English, e.g. "treatment
/// raised reactivation by 3.1 points, 95% CI 1.2–5.0, p = 0.002".
pub fn rate_verdict(goal_zh: &str, goal_en: &str, u: &Uplift) -> (String, String) {
    let points = |x: f64| format!("{:.1}", x * 100.0);
    let p = p_text(u.p_value);
    let significant = u.p_value < 0.05;
    let (zh_verb, en_verb) = match (significant, u.difference >= 0.0) {
        (true, true) => ("提升了", "raised"),
        (true, false) => ("降低了", "lowered"),
        (false, _) => ("未显著改变", "did not significantly change"),
    };
    let magnitude = points(u.difference.abs());
    let ci = format!("{}–{}", points(u.ci_low), points(u.ci_high));
    if significant {
        (
            format!("实验组{zh_verb}{goal_zh} {magnitude} 个百分点（95% 置信区间 {ci}，p = {p}）"),
            format!("treatment {en_verb} {goal_en} by {magnitude} points, 95% CI {ci}, p = {p}"),
        )
    } else {
        (
            format!("实验组{zh_verb}{goal_zh}（差异 {} 个百分点，95% 置信区间 {ci}，p = {p}）", points(u.difference)),
            format!("treatment {en_verb} {goal_en} ({} points, 95% CI {ci}, p = {p})", points(u.difference)),
        )
    }
}

/// The verdict of a mean's uplift (revenue per member, in yuan), Chinese then English, e.g.
/// "treatment raised revenue per member by ¥12.30, 95% CI ¥3.10–¥21.50, p = 0.009".
pub fn mean_verdict(goal_zh: &str, goal_en: &str, u: &Uplift) -> (String, String) {
    let yuan = |x: f64| if x < 0.0 { format!("−¥{:.2}", -x) } else { format!("¥{x:.2}") };
    let p = p_text(u.p_value);
    let ci = format!("{}–{}", yuan(u.ci_low), yuan(u.ci_high));
    match (u.p_value < 0.05, u.difference >= 0.0) {
        (true, up) => {
            let (zh, en) = if up { ("提升了", "raised") } else { ("降低了", "lowered") };
            let by = yuan(u.difference.abs());
            (
                format!("实验组{zh}{goal_zh} {by}（95% 置信区间 {ci}，p = {p}）"),
                format!("treatment {en} {goal_en} by {by}, 95% CI {ci}, p = {p}"),
            )
        }
        (false, _) => (
            format!("实验组未显著改变{goal_zh}（差异 {}，95% 置信区间 {ci}，p = {p}）", yuan(u.difference)),
            format!("treatment did not significantly change {goal_en} ({}, 95% CI {ci}, p = {p})", yuan(u.difference)),
        ),
    }
}

/// A p-value as a reader expects it: three decimals, or `< 0.001`.
pub fn p_text(p: f64) -> String {
    if p < 0.001 { "< 0.001".into() } else { format!("{p:.3}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: 120/1000 against 90/1000. Pooled p = 0.105, SE = √(0.105·0.895·0.002)
    /// = 0.0137095; z = 0.03/0.0137095 = 2.1883.
    #[test]
    fn two_proportions_by_hand() {
        let u = rates(Rate { members: 1000, conversions: 120 }, Rate { members: 1000, conversions: 90 }).unwrap();
        assert!((u.difference - 0.03).abs() < 1e-12);
        assert!((u.statistic - 2.1883).abs() < 1e-4, "{}", u.statistic);
        let (zh, en) = rate_verdict("唤醒率", "reactivation", &u);
        assert_eq!(en, "treatment raised reactivation by 3.0 points, 95% CI 0.3–5.7, p = 0.029");
        assert!(zh.starts_with("实验组提升了唤醒率 3.0 个百分点"), "{zh}");
    }

    #[test]
    fn nothing_to_test_is_none() {
        assert!(rates(Rate { members: 0, conversions: 0 }, Rate { members: 5, conversions: 1 }).is_none());
        assert!(rates(Rate { members: 5, conversions: 0 }, Rate { members: 5, conversions: 0 }).is_none());
        assert!(means(Sums::of(&[1.0]), Sums::of(&[1.0, 2.0])).is_none());
        assert!(sample_ratio(10, 10, 1.0).is_none());
    }
}
