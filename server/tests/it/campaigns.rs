//! Campaigns against the real stores: the control draw is reproducible, stratified by RFM
//! segment and in the asked share; an import replaces the arms all or nothing; the
//! readout's per-arm figures equal an independent query on the same data, its tests equal
//! the statistics module's on those figures, and executives get no figures of a small arm.

use app::model::{Campaign, Role, Segment};
use server::{
    access::Caller,
    campaigns::stats,
    metrics::MetricConfig,
    service::Services,
    store::{analytics::Analytics, operational},
};

use crate::common;

/// 200 members of region 东区 who last bought on 2023-06-01 (dormant by the 2024-03-01
/// start); in March 2024 every fourth buys (¥10–16) and every tenth returns ¥5 of it; two
/// of the non-buyers redeem points.
fn campaign_store() -> (tempfile::TempDir, Analytics) {
    let (dir, analytics) = common::retailer();
    common::add(
        &analytics,
        "INSERT INTO members (member_id, joined_at, region)
             SELECT 'c' || lpad(CAST(i AS VARCHAR), 3, '0'), TIMESTAMP '2023-01-01', '东区' FROM range(200) t(i);
         INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
             SELECT 'cp' || i, TIMESTAMP '2023-06-01 10:00:00' + INTERVAL (i % 5) HOUR, 20 + i % 30,
                    'c' || lpad(CAST(i AS VARCHAR), 3, '0'), 'store' FROM range(200) t(i);
         INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
             SELECT 'cw' || i, TIMESTAMP '2024-03-10 10:00:00', 10 + i % 7,
                    'c' || lpad(CAST(i AS VARCHAR), 3, '0'), 'app' FROM range(200) t(i) WHERE i % 4 = 0;
         INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
             SELECT 'cr' || i, TIMESTAMP '2024-03-12 10:00:00', -5,
                    'c' || lpad(CAST(i AS VARCHAR), 3, '0'), 'app' FROM range(200) t(i) WHERE i % 40 = 0;
         INSERT INTO points (entry_id, member_id, occurred_at, kind, points) VALUES
             ('cx1', 'c001', '2024-03-15 10:00:00', 'redeem', 10), ('cx2', 'c002', '2024-03-16 10:00:00', 'redeem', 10);",
    );
    (dir, analytics)
}

async fn services(dir: &tempfile::TempDir, analytics: &Analytics) -> Services {
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let services = Services::new(analytics.clone(), ops, MetricConfig::default());
    let segment =
        Segment {
            key: "east".into(), name_zh: "东区".into(), name_en: "East".into(), filters: "region:东区".into()
        };
    services.create_segment(&Caller::system(), segment).await.unwrap();
    services
}

fn campaign(name: &str, goal: &str, seed: i64) -> Campaign {
    Campaign {
        id: 0,
        name: name.into(),
        segment: "east".into(),
        start: "2024-03-01".into(),
        window_days: 30,
        goal: goal.into(),
        control_share: 0.2,
        seed: Some(seed),
        arms_from: None,
        treatment_members: 0,
        control_members: 0,
    }
}

fn arms(analytics: &Analytics, id: i64) -> Vec<(String, String, String)> {
    let conn = analytics.reader().unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT member_id, arm, coalesce(stratum, '') FROM campaign_arms WHERE campaign_id = ? ORDER BY member_id",
        )
        .unwrap();
    stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_draw_is_reproducible_stratified_and_in_the_asked_share() {
    let (dir, analytics) = campaign_store();
    let services = services(&dir, &analytics).await;
    let who = Caller::system();
    let a = services.create_campaign(&who, campaign("唤醒 A", "reactivation", 42)).await.unwrap();
    let b = services.create_campaign(&who, campaign("唤醒 B", "reactivation", 42)).await.unwrap();
    let c = services.create_campaign(&who, campaign("唤醒 C", "reactivation", 7)).await.unwrap();
    assert_eq!(a.treatment_members + a.control_members, 200);
    assert_eq!(a.arms_from.as_deref(), Some("drawn"));
    let (arms_a, arms_b, arms_c) = (arms(&analytics, a.id), arms(&analytics, b.id), arms(&analytics, c.id));
    assert_eq!(arms_a, arms_b, "the same seed and members give the same arms");
    assert_ne!(arms_a, arms_c, "another seed gives other arms");
    // Per RFM segment, round(0.2 × its members) are control (half away from zero).
    let mut strata: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for (_, arm, stratum) in &arms_a {
        let e = strata.entry(stratum.as_str()).or_default();
        e.0 += 1;
        e.1 += i64::from(arm == "control");
    }
    assert!(strata.len() >= 2, "the members fall in several RFM segments: {strata:?}");
    for (stratum, (n, control)) in &strata {
        assert_eq!(*control, (*n as f64 * 0.2).round() as i64, "{stratum}: {n} members");
    }
    // Bad definitions are refused, naming the field; nothing is kept of them.
    for (bad, field) in [
        (Campaign { control_share: 0.9, ..campaign("x", "repurchase", 1) }, "control_share"),
        (Campaign { goal: "love".into(), ..campaign("x", "repurchase", 1) }, "goal"),
        (Campaign { start: "2024-13-01".into(), ..campaign("x", "repurchase", 1) }, "start"),
        (Campaign { segment: "nope".into(), ..campaign("x", "repurchase", 1) }, "segment"),
    ] {
        let e = services.create_campaign(&who, bad).await.unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
    assert_eq!(services.campaigns(&who).await.unwrap().len(), 3);
    // Executives read, operators define.
    let exec = Caller { role: Role::Executive, ..Caller::system() };
    assert!(services.create_campaign(&exec, campaign("x", "repurchase", 1)).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readout_equals_an_independent_count_and_hides_small_arms_from_executives() {
    let (dir, analytics) = campaign_store();
    let services = services(&dir, &analytics).await.with_min_group(45);
    let who = Caller::system();
    for goal in ["reactivation", "repurchase", "revenue_per_member", "points_redemption"] {
        let c = services.create_campaign(&who, campaign(goal, goal, 11)).await.unwrap();
        let r = services.campaign_readout(&who, c.id).await.unwrap();
        assert_eq!((r.window_start.as_str(), r.window_end.as_str(), r.complete), ("2024-03-01", "2024-03-30", true));
        // The same figures by a plain query: every arm member, orders and redemptions in
        // March 1–30 (the data reach 04-06: the window is complete).
        let conn = analytics.reader().unwrap();
        let converts = match goal {
            "points_redemption" => {
                "EXISTS (SELECT 1 FROM points p WHERE p.member_id = a.member_id AND p.kind = 'redeem'
                                    AND p.occurred_at >= '2024-03-01' AND p.occurred_at < '2024-03-31')"
            }
            // Everyone last bought on 2023-06-01: dormant, and a buyer before the start.
            _ => {
                "EXISTS (SELECT 1 FROM orders o WHERE o.member_id = a.member_id AND o.net_amount > 0
                   AND o.ordered_at >= '2024-03-01' AND o.ordered_at < '2024-03-31')"
            }
        };
        for arm in &r.arms {
            let (members, conversions, cents): (i64, i64, i64) = conn
                .query_row(
                    &format!(
                        "SELECT count(*), count(*) FILTER (WHERE {converts}),
                                (SELECT CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT) FROM orders o JOIN campaign_arms x USING (member_id)
                                 WHERE x.campaign_id = ? AND x.arm = ? AND o.ordered_at >= '2024-03-01' AND o.ordered_at < '2024-03-31')
                         FROM campaign_arms a WHERE a.campaign_id = ? AND a.arm = ?"
                    ),
                    duckdb::params![c.id, arm.arm, c.id, arm.arm],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .unwrap();
            assert_eq!(
                (arm.members, arm.conversions, arm.revenue_cents),
                (members, conversions, cents),
                "{goal} {}",
                arm.arm
            );
        }
        let (t, k) = (&r.arms[0], &r.arms[1]);
        assert_eq!((t.arm.as_str(), k.arm.as_str()), ("treatment", "control"));
        let rate =
            |a: &app::model::ArmReadout| stats::Rate { members: a.members as u64, conversions: a.conversions as u64 };
        let expected = stats::rates(rate(t), rate(k)).unwrap();
        let got = r.rate.as_ref().unwrap();
        assert!((got.p_value - expected.p_value).abs() < 1e-12 && (got.ci_low - expected.ci_low).abs() < 1e-12);
        assert!(r.revenue.is_some() && r.sample_ratio_p.is_some() && !r.sample_ratio_mismatch);
        assert!(!r.verdict_en.is_empty() && !r.verdict_zh.is_empty(), "{r:?}");
        // Executives: the control arm (40) is under 45 members: no figures.
        let exec = Caller { role: Role::Executive, ..Caller::system() };
        let hidden = services.campaign_readout(&exec, c.id).await.unwrap();
        assert!(hidden.withheld && hidden.arms.is_empty() && hidden.rate.is_none() && hidden.revenue.is_none());
        // Nor the arms' sizes, in the readout or the list.
        assert_eq!((hidden.campaign.treatment_members, hidden.campaign.control_members), (0, 0));
        let listed = services.campaigns(&exec).await.unwrap();
        let mine = listed.iter().find(|l| l.id == c.id).unwrap();
        assert_eq!((mine.treatment_members, mine.control_members), (0, 0));
        let seen = services.campaigns(&Caller::system()).await.unwrap();
        assert!(seen.iter().find(|l| l.id == c.id).unwrap().control_members > 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_arms_replace_the_drawn_ones_all_or_nothing() {
    let (dir, analytics) = campaign_store();
    let services = services(&dir, &analytics).await;
    let who = Caller::system();
    let c = services.create_campaign(&who, campaign("导入", "repurchase", 3)).await.unwrap();
    let before = arms(&analytics, c.id);
    let e = services
        .import_campaign_arms(&who, c.id, "member_id,arm\nc001,treatment\nnobody,control\n".into())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("line 3") && e.to_string().contains("nobody"), "{e}");
    let e = services.import_campaign_arms(&who, c.id, "member_id,arm\nc001,maybe\n".into()).await.unwrap_err();
    assert!(e.to_string().contains("line 2, arm"), "{e}");
    assert_eq!(arms(&analytics, c.id), before, "a refused file changes nothing");
    let done = services
        .import_campaign_arms(&who, c.id, "member_id,arm\nc001,treatment\nc002,control\nc004,treatment\n".into())
        .await
        .unwrap();
    assert_eq!((done.treatment_members, done.control_members, done.arms_from.as_deref()), (2, 1, Some("imported")));
    let r = services.campaign_readout(&who, c.id).await.unwrap();
    // c004 bought ¥14 on 03-10; c001 and c002 did not.
    assert_eq!(
        r.arms.iter().map(|a| (a.members, a.conversions, a.revenue_cents)).collect::<Vec<_>>(),
        [(2, 1, 1400), (1, 0, 0)]
    );
}

/// A member merged after the draw counts as the person they joined (their orders land
/// there): merged into a member outside the campaign, their arm takes that member's
/// window order; merged into another drawn member, the person counts once, in the
/// survivor's arm. Undoing both gives the first readout back.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_merged_after_the_draw_counts_as_the_person_they_joined() {
    let (dir, analytics) = campaign_store();
    // Outside the target group: bought ¥50 in the window.
    common::add(
        &analytics,
        "INSERT INTO members (member_id, joined_at, region) VALUES ('w001', TIMESTAMP '2023-01-01', '西区');
         INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
             VALUES ('wo1', TIMESTAMP '2024-03-20 10:00:00', 50, 'w001', 'store');",
    );
    let services = services(&dir, &analytics).await;
    let who = Caller::system();
    let c = services.create_campaign(&who, campaign("合并", "reactivation", 5)).await.unwrap();
    let before = services.campaign_readout(&who, c.id).await.unwrap();
    let figures = |r: &app::model::Readout| -> Vec<(String, i64, i64, i64)> {
        r.arms.iter().map(|a| (a.arm.clone(), a.members, a.conversions, a.revenue_cents)).collect()
    };
    let arm_of = |id: &str| arms(&analytics, c.id).into_iter().find(|(m, _, _)| m == id).unwrap().1;
    // c001, c002 and c003 bought nothing in the window (only every fourth member did).
    let (x, a, b) = ("c003", "c001", "c002");
    let (arm_x, arm_b) = (arm_of(x), arm_of(b));
    let merge = |survivor: &str, merged: &str| app::model::MergeRequest {
        survivor: survivor.into(),
        merged: vec![merged.into()],
    };
    let first = services.merge_members(&who, merge("w001", x)).await.unwrap();
    let second = services.merge_members(&who, merge(a, b)).await.unwrap();
    let after = services.campaign_readout(&who, c.id).await.unwrap();
    let mut expected = figures(&before);
    for row in &mut expected {
        if row.0 == arm_x {
            row.2 += 1;
            row.3 += 5000;
        }
        if row.0 == arm_b {
            row.1 -= 1;
        }
    }
    assert_eq!(figures(&after), expected, "before: {:?}", figures(&before));
    let listed = services.campaigns(&who).await.unwrap();
    let mine = listed.iter().find(|l| l.id == c.id).unwrap();
    assert_eq!(mine.treatment_members + mine.control_members, 199);
    for m in first.merge_ids.iter().chain(&second.merge_ids) {
        services.undo_merge(&who, *m).await.unwrap();
    }
    let undone = services.campaign_readout(&who, c.id).await.unwrap();
    assert_eq!(figures(&undone), figures(&before));
}

/// A trigger on a campaign hands on its treatment arm alone: members of the control arm
/// who enter its condition are held back (`control`), each by the arm the draw gave them.
#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_trigger_hands_on_the_treatment_arm_alone() {
    use app::model::{Channel, MessagingChannel, Trigger, TriggerWhen};
    let (dir, analytics) = campaign_store();
    let services = services(&dir, &analytics).await;
    let who = Caller::system();
    let c = services.create_campaign(&who, campaign("触达", "reactivation", 3)).await.unwrap();
    let channel = MessagingChannel {
        id: 0,
        name: "sink".into(),
        channel: Channel::Webhook { url: "https://hooks.example.com/sink".into() },
        personal_fields: false,
    };
    let channel =
        server::triggers::saved::create_channel(&services.ops, analytics.seal(), &channel, "test").await.unwrap();
    let when = TriggerWhen::NoPurchase { days: 30 };
    let t = Trigger { campaign: Some(c.id), ..Trigger::new("唤醒", when, vec![channel]) };
    let t = services.create_trigger(&who, t).await.unwrap();
    services.run_triggers().await.unwrap();
    // T moves from 04-06 to 04-12: the 50 members who last bought on 03-10 reach 30 days.
    common::add(
        &analytics,
        "INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
             VALUES ('t-move', TIMESTAMP '2024-04-12 10:00:00', 10, 'E', 'store')",
    );
    services.run_triggers().await.unwrap();
    let delivered: Vec<(String, String)> =
        sqlx::query_as("SELECT member_id, status FROM trigger_deliveries WHERE trigger_id = ? ORDER BY member_id")
            .bind(t.id)
            .fetch_all(&services.ops)
            .await
            .unwrap();
    let entered: Vec<&(String, String)> = delivered.iter().filter(|(m, _)| m.starts_with('c')).collect();
    assert_eq!(entered.len(), 50, "{delivered:?}");
    let arms = arms(&analytics, c.id);
    let arm_of = |m: &str| arms.iter().find(|(id, _, _)| id == m).map(|(_, a, _)| a.as_str()).unwrap();
    for (m, status) in &entered {
        let expected = if arm_of(m) == "control" { "control" } else { "queued" };
        assert_eq!(status, expected, "{m}");
    }
    assert!(entered.iter().any(|(_, s)| s == "control") && entered.iter().any(|(_, s)| s == "queued"));
}
