//! What an executive is shown (SPEC §1: aggregates only): the figures of a group smaller
//! than the minimum size are withheld, as are the members behind an alert. Operators'
//! masking of names and phones is in [`crate::members::Personal`].

use app::model::{AlertEvent, Breakdown, Cohorts, Measure, Overview, Trend};

/// The measure that stands in for a withheld one.
fn withheld(min: u32) -> Measure {
    Measure {
        numerator: 0,
        denominator: 0,
        value: None,
        reason: Some(format!("fewer than {min} members: not shown to executives")),
    }
}

/// A filtered overview of `population` members.
pub fn overview(o: &mut Overview, population: i64, min: u32) {
    if population < i64::from(min) {
        for k in &mut o.kpis {
            k.current = withheld(min);
            k.comparison = withheld(min);
        }
    }
}

/// A filtered trend of `population` members (as of T).
pub fn trend(t: &mut Trend, population: i64, min: u32) {
    if population < i64::from(min) {
        for p in t.series.iter_mut().flat_map(|s| s.points.iter_mut()) {
            p.measure = withheld(min);
        }
    }
}

/// A breakdown, given the members of each row (`members_of(value)`, and of the total).
pub fn breakdown(b: &mut Breakdown, members_of: impl Fn(&str) -> i64, total: i64, min: u32) {
    for row in &mut b.rows {
        if members_of(&row.value) < i64::from(min) {
            row.current = withheld(min);
            row.comparison = withheld(min);
        }
    }
    if total < i64::from(min) {
        b.total.current = withheld(min);
        b.total.comparison = withheld(min);
    }
}

/// Cohorts: a cohort smaller than the minimum shows no retention or LTV.
pub fn cohorts(c: &mut Cohorts, min: u32) {
    let rows = c.cohorts.iter_mut().chain(std::iter::once(&mut c.all));
    for row in rows.filter(|r| r.members < i64::from(min)) {
        for cell in row.retention.iter_mut().chain(row.ltv.iter_mut()).flatten() {
            *cell = withheld(min);
        }
    }
}

/// An alert without the members behind it (their count stays).
pub fn alert(e: &mut AlertEvent) {
    e.members.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cohorts_are_withheld_and_large_ones_kept() {
        let m = Measure {
            numerator: 3,
            denominator: 4,
            value: Some(0.75),
            reason: None,
        };
        let row = |members| app::model::CohortRow {
            cohort: "2024-01".into(),
            members,
            retention: vec![Some(m.clone()), None],
            ltv: vec![Some(m.clone())],
        };
        let mut c = Cohorts {
            as_of: "2024-03-31".into(),
            filters: vec![],
            ranges: vec![],
            ltv_ages: vec![1],
            cohorts: vec![row(9), row(10)],
            all: row(19),
        };
        cohorts(&mut c, 10);
        assert_eq!(c.cohorts[0].retention[0].as_ref().unwrap().value, None);
        assert_eq!(c.cohorts[0].retention[1], None);
        assert_eq!(c.cohorts[0].ltv[0].as_ref().unwrap().denominator, 0);
        assert_eq!(c.cohorts[1].retention[0].as_ref().unwrap().value, Some(0.75));
        assert_eq!(c.all.ltv[0].as_ref().unwrap().value, Some(0.75));
    }
}
