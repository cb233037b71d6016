//! Join-month cohorts worked out by hand: retention by month since joining and LTV by age,
//! with a return, a member who never bought, a purchase on the day an age ends, a
//! member joining on the 31st, and cells not reached yet.

use app::model::{Cohorts, Dimension, Filter, Measure};
use chrono::NaiveDate;
use server::{
    derive::summary, metrics::MetricConfig, metrics::cohorts, metrics::scope::Scope, store::analytics::Analytics,
};

fn retailer() -> (tempfile::TempDir, Analytics) {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("c.duckdb")).unwrap();
    {
        let conn = a.writer();
        conn.execute_batch(
            "INSERT INTO members (member_id, joined_at, region) VALUES
                 ('P', '2024-01-10 09:00:00', 'East'), ('Q', '2024-01-31 20:00:00', 'West'),
                 ('R', '2024-02-15 00:00:00', 'East'), ('S', '2024-02-20 00:00:00', 'East'),
                 ('Z', '2024-06-01 00:00:00', 'East');  -- joins after T
             INSERT INTO orders (order_id, ordered_at, net_amount, member_id) VALUES
                 ('p1', '2024-01-10 10:00:00', 100.00, 'P'),
                 ('p2', '2024-02-09 23:00:00',  50.00, 'P'),  -- last day of P's first month
                 ('p3', '2024-04-01 10:00:00',  30.00, 'P'),
                 ('p4', '2024-04-05 10:00:00', -10.00, 'P'),  -- a return: no purchase
                 ('q1', '2024-01-31 21:00:00',  20.00, 'Q'),
                 ('q2', '2024-02-29 10:00:00',  40.00, 'Q'),  -- 01-31 + 1 month = 02-29: age 1 is over
                 ('q3', '2024-03-15 10:00:00',  60.00, 'Q'),
                 ('r0', '2024-01-20 10:00:00',   5.00, 'R'),  -- before joining: no retention cell
                 ('r1', '2024-02-15 10:00:00',  10.00, 'R'),
                 ('r2', '2024-05-15 10:00:00',  70.00, 'R'),  -- the day age 3 ends
                 ('z1', '2024-06-02 10:00:00', 999.00, 'Z');",
        )
        .unwrap();
        summary::rebuild(&conn).unwrap();
    }
    (dir, a)
}

fn report(a: &Analytics, filters: Vec<Filter>) -> Cohorts {
    let t = NaiveDate::from_ymd_opt(2024, 5, 31).unwrap();
    cohorts::cohorts(&a.reader().unwrap(), t, 5, &Scope::new(filters, None), MetricConfig::default()).unwrap()
}

/// (numerator, denominator) of each cell, None where the cell is not reached.
fn cells(row: &[Option<Measure>]) -> Vec<Option<(i64, i64)>> {
    row.iter().map(|m| m.as_ref().map(|m| (m.numerator, m.denominator))).collect()
}

#[test]
fn retention_matrix_by_hand() {
    let (_d, a) = retailer();
    let c = report(&a, vec![]);
    let labels: Vec<&str> = c.cohorts.iter().map(|r| r.cohort.as_str()).collect();
    assert_eq!(labels, ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]);
    let jan = &c.cohorts[0];
    assert_eq!(jan.members, Some(2));
    // Jan: P, Q; Feb: P, Q; Mar: Q; Apr: P (the return is no purchase); May: nobody.
    assert_eq!(cells(&jan.retention), [Some((2, 2)), Some((2, 2)), Some((1, 2)), Some((1, 2)), Some((0, 2))]);
    let feb = &c.cohorts[1];
    // R bought in Feb and May (the January order came before joining); S never.
    assert_eq!(cells(&feb.retention), [Some((1, 2)), Some((0, 2)), Some((0, 2)), Some((1, 2)), None]);
    // Empty cohorts: 0 members, no value with a reason, never NaN.
    let mar = &c.cohorts[2];
    assert_eq!(mar.members, Some(0));
    assert_eq!(mar.retention[0].as_ref().unwrap().value, None);
    assert!(mar.retention[0].as_ref().unwrap().reason.is_some());
    assert_eq!(cells(&mar.retention)[3..], [None, None]);
    // All cohorts, per month since joining, over the cohorts that reached it.
    assert_eq!(cells(&c.all.retention), [Some((3, 4)), Some((2, 4)), Some((1, 4)), Some((2, 4)), Some((0, 2))]);
    assert_eq!(c.all.members, Some(4), "Z joined after T");
}

#[test]
fn cohort_ltv_by_hand() {
    let (_d, a) = retailer();
    let c = report(&a, vec![]);
    assert_eq!(c.ltv_ages, [1, 3, 6, 12, 24]);
    // Jan, age 1: P 100 + 50 (02-09 is before 02-10), Q 20 (02-29 is not before 02-29):
    // 170.00 over 2 = 85.00. Age 3: P 100 + 50 + 30 - 10 = 170 (before 04-10), Q 20 + 40
    // + 60 = 120 (before 04-30): 290.00 over 2 = 145.00. Age 6 ends after T.
    let jan = &c.cohorts[0];
    assert_eq!(cells(&jan.ltv), [Some((17_000, 2)), Some((29_000, 2)), None, None, None]);
    assert_eq!(jan.ltv[0].as_ref().unwrap().value, Some(85.0));
    assert_eq!(jan.ltv[1].as_ref().unwrap().value, Some(145.0));
    // Feb, age 1: R 5 (before joining) + 10 = 15, S 0: 7.50. Age 3: the 05-15 order is
    // on the day age 3 ends, so still 15: 7.50. Feb 29 + 3 months = May 29 <= T.
    let feb = &c.cohorts[1];
    assert_eq!(cells(&feb.ltv), [Some((1_500, 2)), Some((1_500, 2)), None, None, None]);
    assert_eq!(feb.ltv[0].as_ref().unwrap().value, Some(7.5));
    // April's cohort reaches age 1 on 05-31 (T), May's does not.
    assert_eq!(cells(&c.cohorts[3].ltv)[0], Some((0, 0)));
    assert_eq!(cells(&c.cohorts[4].ltv)[0], None);
    // All: age 1 (170 + 15) / 4 = 46.25; age 3 (290 + 15) / 4 = 76.25.
    assert_eq!(cells(&c.all.ltv)[..3], [Some((18_500, 4)), Some((30_500, 4)), None]);
    assert_eq!(c.all.ltv[1].as_ref().unwrap().value, Some(76.25));
}

#[test]
fn cohorts_follow_the_filters() {
    let (_d, a) = retailer();
    let east = report(&a, vec![Filter { dimension: Dimension::Region, values: vec!["East".to_string()] }]);
    // Only P in January; R and S in February.
    assert_eq!(east.cohorts[0].members, Some(1));
    assert_eq!(cells(&east.cohorts[0].retention)[..3], [Some((1, 1)), Some((1, 1)), Some((0, 1))]);
    assert_eq!(cells(&east.cohorts[0].ltv)[..2], [Some((15_000, 1)), Some((17_000, 1))]);
    assert_eq!(east.cohorts[1].members, Some(2));
}
