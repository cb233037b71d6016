//! `memberpulse bench-triggers`: what evaluating the triggers adds to a fold. One trigger
//! of each kind is set on the store (on a messaging channel nothing is sent to: no sender
//! runs here), their baseline is taken, then each round lands `rows` orders through the
//! ingest path, folds them as the server's folder does, and evaluates every trigger as the
//! server does after a fold. Prints each round's fold and evaluation times and the medians.
//! Changes the store (orders, triggers): run it on a copy.

use std::time::Instant;

use app::model::{Channel, MessagingChannel, Segment, Trigger, TriggerWhen};
use rand::{Rng, SeedableRng};

use crate::{Result, access::Caller, load::import::Kind, service::Services};

/// One trigger of each kind, on `channel`, watching saved segment `segment`.
fn one_of_each(channel: i64, segment: &str, tag: u32) -> Vec<Trigger> {
    let whens = [
        TriggerWhen::FirstPurchase { within_days: 7 },
        TriggerWhen::NoPurchase { days: 60 },
        TriggerWhen::PAliveBelow { below: 0.5 },
        TriggerWhen::PointsExpiring { days: 30, min_points: 500 },
        TriggerWhen::NearNextTier { next_tier: "gold".into(), threshold_yuan: 5000.0, within_yuan: 500.0 },
        TriggerWhen::EntersSegment { segment: segment.into() },
        TriggerWhen::LeavesSegment { segment: segment.into() },
    ];
    whens.into_iter().map(|when| Trigger::new(format!("bench {} {tag:08x}", when.key()), when, vec![channel])).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub(super) async fn bench_triggers(services: &Services, rows: usize, rounds: usize) -> Result<()> {
    let who = Caller::cli();
    let tag: u32 = rand::random();
    let channel = MessagingChannel {
        id: 0,
        name: format!("bench {tag:08x}"),
        channel: Channel::Webhook { url: "https://hooks.example.com/memberpulse-bench".into() },
        personal_fields: false,
    };
    let channel =
        crate::triggers::saved::create_channel(&services.ops, services.analytics.seal(), &channel, "bench").await?;
    let segment = format!("bench-{tag:08x}");
    services
        .create_segment(
            &who,
            Segment {
                key: segment.clone(),
                name_zh: "基准".into(),
                name_en: "bench".into(),
                filters: "rfm_segment:at_risk".into(),
            },
        )
        .await?;
    for t in one_of_each(channel, &segment, tag) {
        services.create_trigger(&who, t).await?;
    }
    let triggers = crate::triggers::saved::triggers(&services.ops).await?.into_iter().filter(|t| t.enabled).count();
    let t = Instant::now();
    let baseline = services.run_triggers().await?;
    eprintln!(
        "{triggers} triggers; baseline taken in {:.0} ms ({} members already in their conditions)",
        t.elapsed().as_secs_f64() * 1e3,
        baseline.opened
    );
    let latest = services.analytics.read(crate::metrics::latest_order_date).await?;
    let day = latest.unwrap_or_else(|| chrono::Utc::now().date_naive()).format("%Y-%m-%dT12:00:00").to_string();
    let members = services
        .analytics
        .read(|conn| Ok(conn.query_row("SELECT count(*) FROM members", [], |r| r.get::<_, i64>(0))?))
        .await?
        .max(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(tag));
    let (mut folds, mut evaluations) = (Vec::new(), Vec::new());
    println!("round  rows landed  fold ms  triggers ms  added  opened  closed  queued  held back");
    for round in 0..=rounds {
        let mut body = String::with_capacity(rows * 120);
        for i in 0..rows {
            let cents: u32 = rng.gen_range(500..50_000);
            let member = rng.gen_range(1..=members);
            let channel = ["store", "app", "mini_program", "web"][rng.gen_range(0..4)];
            body.push_str(&format!(
                "{{\"order_id\":\"TB{tag:08x}-{round}-{i}\",\"ordered_at\":\"{day}\",\"net_amount\":\"{}.{:02}\",\"member_id\":\"M{member:07}\",\"channel\":\"{channel}\"}}\n",
                cents / 100,
                cents % 100
            ));
        }
        let landed = services.ingest(&who, Kind::Orders, None, body.into()).await?;
        let t = Instant::now();
        crate::jobs::folder::fold(services).await?;
        let fold_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let run = services.run_triggers().await?;
        let eval_ms = t.elapsed().as_secs_f64() * 1e3;
        // Round 0 warms the caches and is not counted.
        let label = if round == 0 { "warm".to_string() } else { round.to_string() };
        println!(
            "{label:>5}  {:>11}  {fold_ms:>7.0}  {eval_ms:>11.0}  {:>4.0}%  {:>6}  {:>6}  {:>6}  {:>9}",
            landed.inserted,
            100.0 * eval_ms / fold_ms.max(1e-9),
            run.opened,
            run.closed,
            run.queued,
            run.held_back
        );
        if round > 0 {
            folds.push(fold_ms);
            evaluations.push(eval_ms);
        }
    }
    let (fold, eval) = (median(folds), median(evaluations));
    println!(
        "median over {rounds} rounds of {rows} rows, {members} members, {triggers} triggers: fold {fold:.0} ms, \
         trigger evaluation {eval:.0} ms added ({:.0}% of the fold)",
        100.0 * eval / fold.max(1e-9)
    );
    Ok(())
}
