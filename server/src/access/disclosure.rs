//! What an executive is shown (SPEC §1, §10: aggregates only, and no figure about fewer
//! than the minimum group size, neither directly nor by subtracting one answer's rows
//! from its total). The model, its reasons and its residual risk are in
//! `docs/security.md`; in short:
//!
//! - a group is the set of members a figure is about: a filtered view's members, a
//!   breakdown row's, a cohort's, a tier-migration cell's, a holdout bucket's;
//! - a group under the minimum shows no figures (its measures are withheld with a reason,
//!   its member count is `null`);
//! - complementary suppression: where rows add up to a total that is shown, the withheld
//!   rows together must hold at least the minimum (or none), else the smallest shown
//!   rows are withheld too — in two directions for the tier matrix; the cohorts' `all`
//!   row instead withholds a cell (or its member count) whose withheld cohorts together
//!   hold fewer than the minimum;
//! - one-step differencing: a filtered view is withheld when dropping one of its filters
//!   (or one value of a filter, or its saved segment's measure ranges) would change the
//!   members by fewer than the minimum;
//! - executives filter by dimensions and saved segments only: member-measure ranges of
//!   their own are refused (see [`crate::service::Services::filters`]).
//!
//! Operators' masking of names and phones is in [`crate::members::Personal`].

use app::model::{AlertEvent, Breakdown, Cohorts, Holdout, Measure, Metric, Overview, TierMigration, Trend, Unit};
use duckdb::Connection;

use crate::{
    Result,
    metrics::rfm::RfmRule,
    metrics::scope::{Criteria, Scope},
    metrics::{self, MetricConfig, Request},
};

/// The measure that stands in for a withheld one.
pub fn withheld(min: u32) -> Measure {
    Measure {
        numerator: 0,
        denominator: 0,
        value: None,
        reason: Some(format!("fewer than {min} members: not shown to executives")),
    }
}

/// The measure withheld because a broader view minus this one would show a small group.
fn withheld_as_difference(min: u32, why: &str) -> Measure {
    Measure {
        numerator: 0,
        denominator: 0,
        value: None,
        reason: Some(format!(
            "{why}: a group of fewer than {min} members could be derived, so not shown to executives"
        )),
    }
}

/// Marks further cells withheld until the withheld ones (`hidden`) together hold none or
/// at least `min` members (`sizes`), smallest shown cell first: then a total of the line
/// minus its shown cells gives no group under the minimum. Answers whether any changed.
pub fn complete(sizes: &[i64], hidden: &mut [bool], min: i64) -> bool {
    complete_all(&[sizes], hidden, min)
}

/// [`complete`] for several sizes of each cell at once (a row's members, and the members
/// a count metric counts in it): each must hold none or at least `min` together.
fn complete_all(sizes: &[&[i64]], hidden: &mut [bool], min: i64) -> bool {
    let mut changed = false;
    loop {
        let short = sizes.iter().position(|column| {
            let together: i64 = column.iter().zip(hidden.iter()).filter(|(_, h)| **h).map(|(s, _)| *s).sum();
            together > 0 && together < min
        });
        let Some(c) = short else { return changed };
        let next = (0..hidden.len()).filter(|&i| !hidden[i]).min_by_key(|&i| (sizes[c][i], i));
        match next {
            Some(i) => {
                hidden[i] = true;
                changed = true;
            }
            None => return changed,
        }
    }
}

/// What an executive's view is checked against at one date: the members it covers and,
/// for a filtered view, why a one-step broader view would give a small group away.
#[derive(Clone, Debug, Default)]
pub struct Check {
    pub population: i64,
    pub difference: Option<String>,
}

impl Check {
    /// The stand-in for every figure of the view, if it may not be shown.
    fn stand_in(&self, min: u32) -> Option<Measure> {
        if self.population < i64::from(min) {
            Some(withheld(min))
        } else {
            self.difference.as_deref().map(|why| withheld_as_difference(min, why))
        }
    }
}

/// Whether `n` members are a group too small to show (an empty one gives nobody away).
fn small(n: i64, min: u32) -> bool {
    n > 0 && n < i64::from(min)
}

/// The members a metric's figure counts, when it counts a group of its own: a count's
/// numerator; revenue at stake counts the high-value members at risk (`at_risk`).
fn counted(metric: Metric, m: &Measure, at_risk: Option<i64>) -> Option<i64> {
    match metric {
        Metric::RevenueAtStake => Some(at_risk.unwrap_or(1)),
        _ if metric.unit() == Unit::Count && m.value.is_some() => Some(m.numerator),
        _ => None,
    }
}

/// An overview: each window's figures withheld when its view may not be shown (the
/// comparison window's members are counted at its own end), and each count of fewer than
/// the minimum members (revenue at stake with the count of its members, `at_risk`).
pub fn overview(o: &mut Overview, now: &Check, then: &Check, at_risk: [Option<i64>; 2], min: u32) {
    let (now_in, then_in) = (now.stand_in(min), then.stand_in(min));
    for k in &mut o.kpis {
        for (m, stand_in, at_risk) in [(&mut k.current, &now_in, at_risk[0]), (&mut k.comparison, &then_in, at_risk[1])]
        {
            if let Some(w) = stand_in {
                *m = w.clone();
            } else if counted(k.key, m, at_risk).is_some_and(|n| small(n, min)) {
                *m = withheld(min);
            }
        }
    }
}

/// A trend, point by point (`checks`, oldest first, one per point), likewise.
pub fn trend(t: &mut Trend, checks: &[Check], min: u32) {
    for series in &mut t.series {
        let metric = series.metric;
        for (p, check) in series.points.iter_mut().zip(checks) {
            if let Some(w) = check.stand_in(min) {
                p.measure = w;
            } else if counted(metric, &p.measure, None).is_some_and(|n| small(n, min)) {
                p.measure = withheld(min);
            }
        }
    }
}

/// A breakdown, given `sizes` (the members metric broken down the same way: each row's
/// members at each window's end) and, for revenue at stake, `at_risk` (the high-value
/// members at risk the same way): in each window, rows of fewer members, or counting
/// fewer, withheld, then as many more as complementary suppression needs; the whole
/// window when its view may not be shown.
pub fn breakdown(b: &mut Breakdown, sizes: &Breakdown, at_risk: Option<&Breakdown>, checks: [&Check; 2], min: u32) {
    let metric = b.metric;
    for (window, check) in checks.into_iter().enumerate() {
        let of = |bd: &Breakdown, value: &str| {
            bd.rows
                .iter()
                .find(|r| r.value == value)
                .map_or(0, |r| if window == 0 { r.current.numerator } else { r.comparison.numerator })
        };
        if let Some(w) = check.stand_in(min) {
            for row in b.rows.iter_mut().chain(std::iter::once(&mut b.total)) {
                *cell(row, window) = w.clone();
            }
            continue;
        }
        let members: Vec<i64> = b.rows.iter().map(|r| of(sizes, &r.value)).collect();
        let counts: Vec<i64> = b
            .rows
            .iter()
            .map(|r| {
                let m = if window == 0 { &r.current } else { &r.comparison };
                counted(metric, m, at_risk.map(|a| of(a, &r.value))).unwrap_or(0)
            })
            .collect();
        let mut hidden: Vec<bool> =
            members.iter().zip(&counts).map(|(&n, &c)| n < i64::from(min) || small(c, min)).collect();
        complete_all(&[&members, &counts], &mut hidden, i64::from(min));
        for (row, hide) in b.rows.iter_mut().zip(hidden) {
            if hide {
                *cell(row, window) = withheld(min);
            }
        }
        let total_counted = {
            let m = if window == 0 { &b.total.current } else { &b.total.comparison };
            counted(
                metric,
                m,
                at_risk.map(|a| if window == 0 { a.total.current.numerator } else { a.total.comparison.numerator }),
            )
        };
        if total_counted.is_some_and(|n| small(n, min)) {
            *cell(&mut b.total, window) = withheld(min);
        }
    }
}

/// A breakdown row's measure of the current (0) or comparison (1) window.
fn cell(row: &mut app::model::BreakdownRow, window: usize) -> &mut Measure {
    if window == 0 { &mut row.current } else { &mut row.comparison }
}

/// Cohorts: a cohort under the minimum shows no size, retention or LTV, and the `all`
/// row adds up the cohorts shown only (so no choice of how many cohorts, nor the total,
/// gives a withheld one away). A filtered view that may not be shown shows nothing.
pub fn cohorts(c: &mut Cohorts, check: &Check, min: u32) {
    let min_i = i64::from(min);
    if let Some(m) = check.stand_in(min) {
        for row in c.cohorts.iter_mut().chain(std::iter::once(&mut c.all)) {
            row.members = None;
            for cell in row.retention.iter_mut().chain(row.ltv.iter_mut()).flatten() {
                *cell = m.clone();
            }
        }
        return;
    }
    for row in c.cohorts.iter_mut().filter(|r| r.members.unwrap_or(0) < min_i) {
        row.members = None;
        for cell in row.retention.iter_mut().chain(row.ltv.iter_mut()).flatten() {
            *cell = withheld(min);
        }
    }
    let shown: Vec<&app::model::CohortRow> = c.cohorts.iter().filter(|r| r.members.is_some()).collect();
    let why = "no cohort shown here has reached this month";
    let sum = |cells: Vec<&Measure>| cells.iter().fold((0i64, 0i64), |(n, d), m| (n + m.numerator, d + m.denominator));
    let retention: Vec<Option<Measure>> = (0..c.all.retention.len())
        .map(|k| {
            let cells: Vec<&Measure> =
                shown.iter().filter_map(|r| r.retention.get(k).and_then(Option::as_ref)).collect();
            (!cells.is_empty()).then(|| {
                let (n, d) = sum(cells);
                crate::metrics::ratio(n, d, why)
            })
        })
        .collect();
    let ltv: Vec<Option<Measure>> = (0..c.all.ltv.len())
        .map(|a| {
            let cells: Vec<&Measure> = shown.iter().filter_map(|r| r.ltv.get(a).and_then(Option::as_ref)).collect();
            (!cells.is_empty()).then(|| {
                let (n, d) = sum(cells);
                crate::metrics::money_per(n, d, why)
            })
        })
        .collect();
    c.all.members = Some(shown.iter().filter_map(|r| r.members).sum());
    c.all.retention = retention;
    c.all.ltv = ltv;
}

/// Tier migration: cells under the minimum withheld (`members: null`), then, row by row
/// and column by column until nothing changes, as many more as [`complete`] needs — the
/// members per tier at either date are figures an executive can ask for.
pub fn tier_migration(t: &mut TierMigration, check: &Check, min: u32) {
    let difference = check.difference.as_deref();
    let min_i = i64::from(min);
    let sizes: Vec<i64> = t.flows.iter().map(|f| f.members.unwrap_or(0)).collect();
    let population: i64 = sizes.iter().sum();
    let mut hidden: Vec<bool> = sizes.iter().map(|s| *s < min_i).collect();
    if population < min_i || difference.is_some() {
        hidden.iter_mut().for_each(|h| *h = true);
    }
    loop {
        let mut changed = false;
        for tier in &t.tiers {
            for line in [
                (0..t.flows.len()).filter(|&i| &t.flows[i].from_tier == tier).collect::<Vec<_>>(),
                (0..t.flows.len()).filter(|&i| &t.flows[i].to_tier == tier).collect::<Vec<_>>(),
            ] {
                let line_sizes: Vec<i64> = line.iter().map(|&i| sizes[i]).collect();
                let mut line_hidden: Vec<bool> = line.iter().map(|&i| hidden[i]).collect();
                if complete(&line_sizes, &mut line_hidden, min_i) {
                    changed = true;
                    for (&i, h) in line.iter().zip(line_hidden) {
                        hidden[i] = h;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (flow, hide) in t.flows.iter_mut().zip(hidden) {
        if hide {
            flow.members = None;
        }
    }
    if t.flows.iter().any(|f| f.members.is_none()) {
        t.withheld = Some(match difference {
            Some(why) => {
                format!("{why}: a group of fewer than {min} members could be derived, so not shown to executives")
            }
            None => format!(
                "cells of fewer than {min} members, and cells that would give them away, are not shown to executives"
            ),
        });
    }
}

/// The holdout check: buckets under the minimum (and those [`complete`] adds) withheld.
pub fn holdout(h: &mut Holdout, min: u32) {
    let min_i = i64::from(min);
    let sizes: Vec<i64> = h.buckets.iter().map(|b| b.members.unwrap_or(0)).collect();
    let mut hidden: Vec<bool> = sizes.iter().map(|s| *s < min_i).collect();
    let total = h.total.members.unwrap_or(0);
    if total < min_i {
        hidden.iter_mut().for_each(|x| *x = true);
        h.total.members = None;
        h.total.actual = None;
        h.total.predicted = None;
    }
    complete(&sizes, &mut hidden, min_i);
    for (b, hide) in h.buckets.iter_mut().zip(hidden) {
        if hide {
            b.members = None;
            b.actual = None;
            b.predicted = None;
        }
    }
}

/// An alert without the members behind it, nor their count when it is under the
/// minimum; without its values when the executives' view of its segment was withheld
/// when it was read; never with its segment's population.
pub fn alert(e: &mut AlertEvent, min: u32) {
    e.members.clear();
    if e.members_total.is_some_and(|n| small(n, min)) {
        e.members_total = None;
    }
    if !e.executives_see {
        e.value = None;
        e.comparison_value = None;
        e.members_total = None;
    }
    e.population = None;
}

/// Why a filtered view would let an executive derive a group under the minimum by
/// comparing it with a broader view that differs in one step, if it would: dropping one
/// dimension filter (the members it excludes), dropping one value of a filter (that
/// value's members), or dropping the saved segment's measure ranges (the members they
/// exclude). Counts are members by the end of `req`'s window.
pub fn one_step_difference(
    conn: &Connection,
    req: Request,
    cfg: MetricConfig,
    criteria: &Criteria,
    rules: &[RfmRule],
    min: u32,
) -> Result<Option<String>> {
    let small = |n: i64| n > 0 && n < i64::from(min);
    for (i, f) in criteria.filters.iter().enumerate() {
        let others = Criteria {
            filters: criteria.filters.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, g)| g.clone()).collect(),
            ranges: criteria.ranges.clone(),
        };
        let scope = Scope::of(others, Some(f.dimension)).with_rules(rules.to_vec());
        let sizes = metrics::breakdown(conn, Metric::Members, req, &scope, cfg)?;
        let size = |v: &str| sizes.rows.iter().find(|r| r.value == v).map_or(0, |r| r.current.numerator);
        let mut selected = 0;
        let mut values: Vec<&String> = f.values.iter().collect();
        values.sort();
        values.dedup();
        for v in values.iter().copied() {
            let n = size(v);
            if small(n) && values.len() > 1 {
                return Ok(Some(format!("{}:{v} is one value of this filter", f.dimension.key())));
            }
            selected += n;
        }
        if small(sizes.total.current.numerator - selected) {
            return Ok(Some(format!("the {} filter leaves out a few members", f.dimension.key())));
        }
    }
    if !criteria.ranges.is_empty() {
        let without = Criteria { filters: criteria.filters.clone(), ranges: Vec::new() };
        let count = |c: Criteria| -> Result<i64> {
            let scope = Scope::of(c, None).with_rules(rules.to_vec());
            let o = metrics::overview_of(conn, req, cfg, &scope, None, &[Metric::Members])?;
            Ok(o.kpis.first().map_or(0, |k| k.current.numerator))
        };
        if small(count(without)? - count(criteria.clone())?) {
            return Ok(Some("the segment's measure ranges leave out a few members".to_string()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complementary_suppression_hides_enough() {
        let sizes = [15, 2, 12, 40];
        let mut hidden = sizes.map(|s| s < 10);
        assert!(complete(&sizes, &mut hidden, 10));
        assert_eq!(hidden, [false, true, true, false], "the smallest shown row goes with the small one");
        let mut none = [false; 4];
        assert!(!complete(&sizes, &mut none, 10), "nothing withheld, nothing to add");
        let mut enough = [false, true, true, false];
        assert!(!complete(&sizes, &mut enough, 10));
        let (zero, mut hidden_zero) = ([0, 30], [true, false]);
        assert!(!complete(&zero, &mut hidden_zero, 10), "an empty row gives nobody away");
        let (all_small, mut all_hidden) = ([3, 4], [true, true]);
        assert!(!complete(&all_small, &mut all_hidden, 10), "nothing left to withhold");
    }

    #[test]
    fn small_cohorts_are_withheld_and_the_all_row_with_them() {
        let m = Measure { numerator: 3, denominator: 4, value: Some(0.75), reason: None };
        let row = |cohort: &str, members| app::model::CohortRow {
            cohort: cohort.into(),
            members: Some(members),
            retention: vec![Some(m.clone()), None],
            ltv: vec![Some(m.clone())],
        };
        let mut c = Cohorts {
            as_of: "2024-03-31".into(),
            filters: vec![],
            ranges: vec![],
            ltv_ages: vec![1],
            cohorts: vec![row("2024-01", 9), row("2024-02", 30)],
            all: row("all", 39),
        };
        cohorts(&mut c, &Check { population: 39, difference: None }, 10);
        assert_eq!(c.cohorts[0].retention[0].as_ref().unwrap().value, None);
        assert_eq!(c.cohorts[0].members, None);
        assert_eq!(c.cohorts[0].retention[1], None);
        assert_eq!(c.cohorts[1].retention[0].as_ref().unwrap().value, Some(0.75));
        // The all row adds up the cohorts shown: 2024-02 alone, so nothing of 2024-01.
        assert_eq!(c.all.members, Some(30));
        assert_eq!(c.all.retention[0].as_ref().unwrap().numerator, 3);
        assert_eq!(c.all.retention[0].as_ref().unwrap().denominator, 4);
    }
}
