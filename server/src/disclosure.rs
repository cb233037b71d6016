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
//!   their own are refused (see [`crate::services::Services::filters`]).
//!
//! Operators' masking of names and phones is in [`crate::members::Personal`].

use app::model::{AlertEvent, Breakdown, Cohorts, Holdout, Measure, Metric, Overview, TierMigration, Trend};
use duckdb::Connection;

use crate::{
    Result,
    metrics::{self, MetricConfig, Request},
    rfm::RfmRule,
    segment::{Criteria, Scope},
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
        reason: Some(format!("{why}: a group of fewer than {min} members could be derived, so not shown to executives")),
    }
}

/// Marks further cells withheld until the withheld ones (`hidden`) together hold none or
/// at least `min` members (`sizes`), smallest shown cell first: then a total of the line
/// minus its shown cells gives no group under the minimum. Answers whether any changed.
pub fn complete(sizes: &[i64], hidden: &mut [bool], min: i64) -> bool {
    let mut changed = false;
    loop {
        let together: i64 = sizes.iter().zip(hidden.iter()).filter(|(_, h)| **h).map(|(s, _)| *s).sum();
        if together == 0 || together >= min {
            return changed;
        }
        let next = (0..sizes.len()).filter(|&i| !hidden[i]).min_by_key(|&i| (sizes[i], i));
        match next {
            Some(i) => {
                hidden[i] = true;
                changed = true;
            }
            None => return changed,
        }
    }
}

/// A filtered overview of `population` members; `difference` says why a broader view
/// minus this one would give a small group, if it would.
pub fn overview(o: &mut Overview, population: i64, difference: Option<&str>, min: u32) {
    let stand_in = stand_in(population, difference, min);
    if let Some(m) = stand_in {
        for k in &mut o.kpis {
            k.current = m.clone();
            k.comparison = m.clone();
        }
    }
}

/// A filtered trend, likewise.
pub fn trend(t: &mut Trend, population: i64, difference: Option<&str>, min: u32) {
    if let Some(m) = stand_in(population, difference, min) {
        for p in t.series.iter_mut().flat_map(|s| s.points.iter_mut()) {
            p.measure = m.clone();
        }
    }
}

fn stand_in(population: i64, difference: Option<&str>, min: u32) -> Option<Measure> {
    if population < i64::from(min) {
        Some(withheld(min))
    } else {
        difference.map(|why| withheld_as_difference(min, why))
    }
}

/// A breakdown, given the members of each row (`members_of(value)`) and of the total:
/// small rows withheld, then as many more as [`complete`] needs.
pub fn breakdown(b: &mut Breakdown, members_of: impl Fn(&str) -> i64, total: i64, difference: Option<&str>, min: u32) {
    if let Some(m) = stand_in(total, difference, min) {
        for row in b.rows.iter_mut().chain(std::iter::once(&mut b.total)) {
            row.current = m.clone();
            row.comparison = m.clone();
        }
        return;
    }
    let sizes: Vec<i64> = b.rows.iter().map(|r| members_of(&r.value)).collect();
    let mut hidden: Vec<bool> = sizes.iter().map(|s| *s < i64::from(min)).collect();
    complete(&sizes, &mut hidden, i64::from(min));
    for (row, hide) in b.rows.iter_mut().zip(hidden) {
        if hide {
            row.current = withheld(min);
            row.comparison = withheld(min);
        }
    }
}

/// Cohorts: a cohort under the minimum shows no size, retention or LTV; a cell of the
/// `all` row (and its member count) is withheld when the withheld cohorts under it
/// together hold fewer than the minimum. A filtered view at risk shows nothing.
pub fn cohorts(c: &mut Cohorts, difference: Option<&str>, min: u32) {
    let min_i = i64::from(min);
    let population: i64 = c.cohorts.iter().filter_map(|r| r.members).sum();
    if let Some(m) = stand_in(population, difference, min) {
        for row in c.cohorts.iter_mut().chain(std::iter::once(&mut c.all)) {
            row.members = None;
            for cell in row.retention.iter_mut().chain(row.ltv.iter_mut()).flatten() {
                *cell = m.clone();
            }
        }
        return;
    }
    let small: Vec<bool> = c.cohorts.iter().map(|r| r.members.unwrap_or(0) < min_i).collect();
    let sizes: Vec<i64> = c.cohorts.iter().map(|r| r.members.unwrap_or(0)).collect();
    // Per cell of `all`: the withheld cohorts that have a cell there.
    let at_risk = |has: &dyn Fn(usize) -> bool| {
        let together: i64 = (0..sizes.len()).filter(|&i| small[i] && has(i)).map(|i| sizes[i]).sum();
        together > 0 && together < min_i
    };
    for k in 0..c.all.retention.len() {
        if at_risk(&|i| c.cohorts[i].retention.get(k).is_some_and(Option::is_some)) && c.all.retention[k].is_some() {
            c.all.retention[k] = Some(withheld(min));
        }
    }
    for a in 0..c.all.ltv.len() {
        if at_risk(&|i| c.cohorts[i].ltv.get(a).is_some_and(Option::is_some)) && c.all.ltv[a].is_some() {
            c.all.ltv[a] = Some(withheld(min));
        }
    }
    if at_risk(&|_| true) {
        c.all.members = None;
    }
    for (row, hide) in c.cohorts.iter_mut().zip(small) {
        if hide {
            row.members = None;
            for cell in row.retention.iter_mut().chain(row.ltv.iter_mut()).flatten() {
                *cell = withheld(min);
            }
        }
    }
}

/// Tier migration: cells under the minimum withheld (`members: null`), then, row by row
/// and column by column until nothing changes, as many more as [`complete`] needs — the
/// members per tier at either date are figures an executive can ask for.
pub fn tier_migration(t: &mut TierMigration, difference: Option<&str>, min: u32) {
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
            Some(why) => format!("{why}: a group of fewer than {min} members could be derived, so not shown to executives"),
            None => format!("cells of fewer than {min} members, and cells that would give them away, are not shown to executives"),
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

/// An alert without the members behind it (their count stays), and without its values
/// when its segment held fewer than the minimum when it was read.
pub fn alert(e: &mut AlertEvent, min: u32) {
    e.members.clear();
    if e.population.is_some_and(|p| p < i64::from(min)) {
        e.value = None;
        e.comparison_value = None;
        e.members_total = None;
    }
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
        for v in &f.values {
            let n = size(v);
            if small(n) && f.values.len() > 1 {
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
        cohorts(&mut c, None, 10);
        assert_eq!(c.cohorts[0].retention[0].as_ref().unwrap().value, None);
        assert_eq!(c.cohorts[0].members, None);
        assert_eq!(c.cohorts[0].retention[1], None);
        assert_eq!(c.cohorts[1].retention[0].as_ref().unwrap().value, Some(0.75));
        assert_eq!(c.all.retention[0].as_ref().unwrap().value, None, "all − 2024-02 would be 2024-01");
        assert_eq!(c.all.members, None);
    }
}
