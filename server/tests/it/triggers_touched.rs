//! Triggers on a generated store, read as folds land: the touched members alone, from
//! what the folds recorded and what the evaluator keeps between evaluations (the spend
//! book, each trigger's episodes, the members refusing consent: `server::triggers::kept`)
//! comes to what reading everyone does; what only saved segments read leaves member-level
//! triggers on the touched members; a repeat is not a contact; openings handed on but not
//! stored (a crash between) are stored when the next process starts, and an edited
//! trigger's numbers go on.

use app::model::{Channel, ContactPolicy, MessagingChannel, Trigger, TriggerWhen};
use server::{access::Caller, metrics::MetricConfig, service::Services, store::operational, triggers};

use crate::{
    common,
    triggers::{deliveries, np},
};

/// A generated store of `members` members (seed `seed`) with its services and one webhook
/// channel (never sent to: these tests evaluate and record, no sender runs).
async fn generated_with_a_channel(
    members: u64,
    seed: u64,
) -> (tempfile::TempDir, server::store::analytics::Analytics, Services, i64) {
    let (dir, analytics) = common::generated(members, seed);
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let services = Services::new(analytics.clone(), ops.clone(), MetricConfig::default());
    let channel = MessagingChannel {
        id: 0,
        name: "sink".into(),
        channel: Channel::Webhook { url: "https://hooks.example.com/sink".into() },
        personal_fields: false,
    };
    let channel = triggers::saved::create_channel(&ops, analytics.seal(), &channel, "test").await.unwrap();
    (dir, analytics, services, channel)
}

/// Within one latest day the evaluation reads only the members folds touched, from what
/// the folds recorded and the spend book it keeps (`server::triggers::spend`); reading
/// everyone again must come to the same episodes. Rounds of orders through the ingest
/// path — known members on T and back-dated, new members with a member row (half of them
/// landing in the next tier already) — each folded and evaluated; then every trigger reads
/// everyone and opens and closes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn reading_the_touched_members_comes_to_what_reading_everyone_does() {
    use rand::{Rng, SeedableRng};
    let (_dir, analytics, services, channel) = generated_with_a_channel(3_000, 11).await;
    let whens = [
        TriggerWhen::FirstPurchase { within_days: 7 },
        TriggerWhen::NoPurchase { days: 30 },
        TriggerWhen::NearNextTier { next_tier: "gold".into(), threshold_yuan: 5000.0, within_yuan: 5000.0 },
    ];
    for when in whens {
        let t = Trigger::new(when.key(), when, vec![channel]);
        services.create_trigger(&Caller::system(), t).await.unwrap();
    }
    services.run_triggers().await.unwrap();
    let t = analytics.read(server::metrics::latest_order_date).await.unwrap().unwrap();
    let back = t - chrono::Days::new(40);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let (mut opened, mut closed) = (0, 0);
    for round in 0..4 {
        let (mut members, mut orders) = (String::new(), String::new());
        for i in 0..20 {
            let tier = if i % 2 == 0 { "gold" } else { "bronze" };
            members.push_str(&format!(
                "{{\"member_id\":\"N{round}-{i}\",\"joined_at\":\"{t}T09:00:00\",\"tier\":\"{tier}\"}}\n"
            ));
            orders.push_str(&format!(
                "{{\"order_id\":\"n{round}-{i}\",\"ordered_at\":\"{t}T10:00:00\",\"net_amount\":\"{}.00\",\"member_id\":\"N{round}-{i}\",\"channel\":\"app\"}}\n",
                rng.gen_range(10..3000)
            ));
        }
        for i in 0..300 {
            let day = if i % 10 == 0 { back } else { t };
            orders.push_str(&format!(
                "{{\"order_id\":\"k{round}-{i}\",\"ordered_at\":\"{day}T11:00:00\",\"net_amount\":\"{}.00\",\"member_id\":\"M{:07}\",\"channel\":\"store\"}}\n",
                rng.gen_range(10..3000),
                rng.gen_range(1..=3000)
            ));
        }
        services.ingest(&Caller::cli(), server::load::import::Kind::Members, None, members.into()).await.unwrap();
        services.ingest(&Caller::cli(), server::load::import::Kind::Orders, None, orders.into()).await.unwrap();
        server::jobs::folder::fold(&services).await.unwrap();
        let run = services.run_triggers().await.unwrap();
        (opened, closed) = (opened + run.opened, closed + run.closed);
    }
    assert!(opened > 0 && closed > 0, "the touched members moved: opened {opened}, closed {closed}");
    let open = |a: &server::store::analytics::Analytics| -> i64 {
        a.writer().query_row("SELECT count(*) FROM trigger_episodes WHERE closed_at IS NULL", [], |r| r.get(0)).unwrap()
    };
    let before = open(&analytics);
    analytics.writer().execute_batch("DELETE FROM trigger_marks").unwrap();
    let run = services.run_triggers().await.unwrap();
    assert_eq!((run.opened, run.closed), (0, 0), "reading everyone changed nothing: {run:?}");
    assert_eq!(open(&analytics), before);
}

/// Stores, order items and identities landing are read by saved segments alone: a
/// member-level trigger goes on reading the touched members (its basis stays), a segment
/// trigger reads everyone; a tier change landing makes every trigger read everyone (near
/// next tier reads tiers).
#[tokio::test(flavor = "multi_thread")]
async fn what_only_segments_read_leaves_member_level_triggers_on_the_touched_members() {
    let (_dir, analytics, services, channel) = generated_with_a_channel(500, 3).await;
    let who = Caller::system();
    let segment = app::model::Segment {
        key: "at_risk".into(),
        name_zh: "流失风险".into(),
        name_en: "At risk".into(),
        filters: "rfm_segment:at_risk".into(),
    };
    services.create_segment(&who, segment).await.unwrap();
    let first = Trigger::new("welcome", TriggerWhen::FirstPurchase { within_days: 7 }, vec![channel]);
    let first = services.create_trigger(&who, first).await.unwrap().id;
    let when = TriggerWhen::EntersSegment { segment: "at_risk".into() };
    let enters = services.create_trigger(&who, Trigger::new("at risk", when, vec![channel])).await.unwrap().id;
    services.run_triggers().await.unwrap();
    let bases = || async {
        let marks = analytics.read(triggers::episodes::marks).await.unwrap();
        let of = |id: i64| marks.iter().find(|(t, _)| *t == id).map(|(_, m)| m.basis.clone()).unwrap();
        (of(first), of(enters))
    };
    let before = bases().await;
    let t = analytics.read(server::metrics::latest_order_date).await.unwrap().unwrap();
    let cli = Caller::cli();
    let land = |kind, body: String| services.ingest(&cli, kind, None, body.into());
    use server::load::import::Kind;
    let mut last = before;
    for (kind, row) in [
        (Kind::Stores, "{\"store_id\":\"S-NEW\",\"name\":\"新店\",\"region\":\"东区\"}"),
        (Kind::OrderItems, "{\"order_id\":\"X1\",\"sku\":\"SKU-1\",\"quantity\":1,\"amount\":\"9.90\"}"),
        (Kind::MemberIdentities, "{\"member_id\":\"M0000002\",\"kind\":\"pos_card\",\"value\":\"C-1\"}"),
    ] {
        land(kind, format!("{row}\n")).await.unwrap();
        services.run_triggers().await.unwrap();
        let now = bases().await;
        assert_eq!(now.0, last.0, "{kind:?}: the welcome trigger reads the touched members alone");
        assert_ne!(now.1, last.1, "{kind:?}: the segment trigger read everyone");
        last = now;
    }
    let after_items = last;
    land(
        Kind::TierChanges,
        format!("{{\"member_id\":\"M0000001\",\"changed_at\":\"{t}T09:00:00\",\"tier\":\"gold\"}}\n"),
    )
    .await
    .unwrap();
    services.run_triggers().await.unwrap();
    let after_tiers = bases().await;
    assert_ne!(after_tiers.0, after_items.0, "a tier change makes the welcome trigger read everyone");
}

/// A repeated episode (recorded before a crash or an error, its mark still on) is not a
/// new contact: with a cap of two, a member contacted once whose recorded episode comes
/// again beside a new one gets the new one.
#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_episode_does_not_count_against_the_cap() {
    use triggers::{episodes::Pending, hand_on};
    let dir = tempfile::tempdir().unwrap();
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let t = Trigger { id: 1, ..np("cap", 30, 1) };
    let policy = ContactPolicy { max_contacts: 2, per_days: 7, quiet_from: None, quiet_to: None };
    let episode = |n: i64| Pending {
        member_id: "A".into(),
        episode: n,
        facts: "{}".into(),
        consent: true,
        treated: true,
        stored: true,
    };
    let record = |pending: Vec<Pending>| {
        let (ops, t, policy) = (ops.clone(), t.clone(), policy.clone());
        async move {
            hand_on::record(&ops, &t, &[], &pending, &policy, chrono_tz::Asia::Shanghai, chrono::Utc::now())
                .await
                .unwrap()
        }
    };
    let first = record(vec![episode(1)]).await;
    assert_eq!((first.queued, first.held_back, first.repeated), (1, 0, 0));
    let again = record(vec![episode(1), episode(2)]).await;
    assert_eq!((again.queued, again.held_back, again.repeated), (1, 0, 1), "{again:?}");
    let statuses: Vec<(i64, String)> =
        sqlx::query_as("SELECT episode, status FROM trigger_deliveries ORDER BY episode")
            .fetch_all(&ops)
            .await
            .unwrap();
    assert_eq!(statuses, vec![(1, "queued".to_string()), (2, "queued".to_string())]);
}

/// A touched read hands its openings on before it stores them (`server::triggers::kept`):
/// if the process dies between the two, the episodes are in the operational store and not
/// in DuckDB. Reading everyone when it starts opens them again under the same numbers, and
/// their deliveries are refused as repeats: nothing goes out twice, and later openings go
/// on as before.
#[tokio::test(flavor = "multi_thread")]
async fn openings_handed_on_but_not_stored_are_refused_as_repeats_after_a_restart() {
    let (_dir, analytics, services, channel) = generated_with_a_channel(1_000, 13).await;
    let welcome = Trigger::new("welcome", TriggerWhen::FirstPurchase { within_days: 7 }, vec![channel]);
    let id = services.create_trigger(&Caller::system(), welcome).await.unwrap().id;
    services.run_triggers().await.unwrap();
    let t = analytics.read(server::metrics::latest_order_date).await.unwrap().unwrap();
    let buyers = |tag: &'static str, n: usize| {
        let (mut members, mut orders) = (String::new(), String::new());
        for i in 0..n {
            members.push_str(&format!("{{\"member_id\":\"{tag}{i}\",\"joined_at\":\"{t}T09:00:00\"}}\n"));
            orders.push_str(&format!(
                "{{\"order_id\":\"{tag}o{i}\",\"ordered_at\":\"{t}T10:00:00\",\"net_amount\":\"20.00\",\"member_id\":\"{tag}{i}\",\"channel\":\"app\"}}\n"
            ));
        }
        (members, orders)
    };
    let land = |(members, orders): (String, String)| async {
        let cli = Caller::cli();
        services.ingest(&cli, server::load::import::Kind::Members, None, members.into()).await.unwrap();
        services.ingest(&cli, server::load::import::Kind::Orders, None, orders.into()).await.unwrap();
        server::jobs::folder::fold(&services).await.unwrap();
        services.run_triggers().await.unwrap()
    };
    let outbox = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM trigger_outbox").fetch_one(&services.ops).await.unwrap()
    };
    let first = land(buyers("NA", 30)).await;
    assert_eq!((first.opened, first.queued, first.repeated), (30, 30, 0), "{first:?}");
    let stored = |a: &server::store::analytics::Analytics| -> (i64, i64) {
        a.writer()
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE pending) FROM trigger_episodes
                 WHERE trigger_id = ? AND member_id LIKE 'NA%' AND episode = 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(stored(&analytics), (30, 0), "stored once handed on, unmarked");
    let (batches, recorded) = (outbox().await, deliveries(&services.ops).await.len());
    // The write after the hand-on lost, then the process started again.
    analytics.writer().execute("DELETE FROM trigger_episodes WHERE member_id LIKE 'NA%'", []).unwrap();
    analytics.watch(triggers::episodes::unmark).await.unwrap();
    let again = services.run_triggers().await.unwrap();
    assert_eq!((again.opened, again.queued, again.repeated), (30, 0, 30), "{again:?}");
    assert_eq!(stored(&analytics), (30, 0), "the same episodes stored again, unmarked");
    assert_eq!((outbox().await, deliveries(&services.ops).await.len()), (batches, recorded), "nothing twice");
    let later = land(buyers("NB", 10)).await;
    assert_eq!((later.opened, later.queued, later.repeated), (10, 10, 0), "{later:?}");
}

/// The members whose consent is a refusal are kept between evaluations while no consent
/// event lands (`server::triggers::kept`); one landing has the next evaluations read the
/// events again. Either way a refusal holds the member back.
#[tokio::test(flavor = "multi_thread")]
async fn consent_holds_whether_read_from_what_was_kept_or_from_the_events() {
    let (_dir, analytics, services, channel) = generated_with_a_channel(1_000, 17).await;
    let t = analytics.read(server::metrics::latest_order_date).await.unwrap().unwrap();
    let cli = Caller::cli();
    // `n` new members, the first `refusing` of them refusing marketing; then their orders.
    let members = |tag: &str, n: usize, refusing: usize| {
        let mut rows = String::new();
        for i in 0..n {
            let consent = if i < refusing { ",\"marketing_consent\":false" } else { "" };
            rows.push_str(&format!("{{\"member_id\":\"{tag}{i}\",\"joined_at\":\"{t}T09:00:00\"{consent}}}\n"));
        }
        services.ingest(&cli, server::load::import::Kind::Members, None, rows.into())
    };
    let buy = |tag: &'static str, n: usize| {
        let services = services.clone();
        async move {
            let mut rows = String::new();
            for i in 0..n {
                rows.push_str(&format!(
                    "{{\"order_id\":\"{tag}o{i}\",\"ordered_at\":\"{t}T10:00:00\",\"net_amount\":\"20.00\",\"member_id\":\"{tag}{i}\",\"channel\":\"app\"}}\n"
                ));
            }
            services.ingest(&Caller::cli(), server::load::import::Kind::Orders, None, rows.into()).await.unwrap();
            server::jobs::folder::fold(&services).await.unwrap();
            services.run_triggers().await.unwrap()
        }
    };
    // NA's refusals land before the first evaluation reads any consent: they are in what
    // it keeps, and no consent event lands before NA and NB buy.
    members("NA", 10, 4).await.unwrap();
    members("NB", 6, 0).await.unwrap();
    let welcome = Trigger::new("welcome", TriggerWhen::FirstPurchase { within_days: 7 }, vec![channel]);
    services.create_trigger(&Caller::system(), welcome).await.unwrap();
    services.run_triggers().await.unwrap();
    for (tag, n, refusing) in [("NA", 10, 4), ("NB", 6, 0)] {
        let run = buy(tag, n).await;
        assert_eq!((run.queued, run.held_back), (n - refusing, refusing), "{tag}: {run:?}");
    }
    // A refusal lands: read from the members' events.
    members("NC", 5, 2).await.unwrap();
    let run = buy("NC", 5).await;
    assert_eq!((run.queued, run.held_back), (3, 2), "NC: {run:?}");
    let held: Vec<String> =
        deliveries(&services.ops).await.into_iter().filter(|d| d.3 == "no_consent").map(|d| d.1).collect();
    assert_eq!(held, ["NA0", "NA1", "NA2", "NA3", "NC0", "NC1"]);
}

/// An opening recorded but never stored (the process died before the write) is stored
/// when the next process starts — the trigger edited meanwhile or not — even if the
/// member has left the condition meanwhile:
/// their next entry takes the next number and is handed on, not refused as a repeat of
/// the one recorded.
#[tokio::test(flavor = "multi_thread")]
async fn an_opening_recorded_but_not_stored_does_not_swallow_the_members_next_one() {
    let (_dir, analytics, services, channel) = generated_with_a_channel(1_000, 19).await;
    let id = services.create_trigger(&Caller::system(), np("30 天未购", 30, channel)).await.unwrap().id;
    services.run_triggers().await.unwrap();
    let t = analytics.read(server::metrics::latest_order_date).await.unwrap().unwrap();
    let cli = Caller::cli();
    let order = |services: &Services, id: &str, member: &str, day: chrono::NaiveDate| {
        let (services, cli) = (services.clone(), cli.clone());
        let row = format!(
            "{{\"order_id\":\"{id}\",\"ordered_at\":\"{day}T10:00:00\",\"net_amount\":\"20.00\",\"member_id\":\"{member}\",\"channel\":\"app\"}}\n"
        );
        async move {
            services.ingest(&cli, server::load::import::Kind::Orders, None, row.into()).await.unwrap();
            server::jobs::folder::fold(&services).await.unwrap();
            services.run_triggers().await.unwrap()
        }
    };
    // XA's first order is 40 days old: a touched read opens their first episode.
    order(&services, "xa1", "XA", t - chrono::Days::new(40)).await;
    let of_xa = || async {
        deliveries(&services.ops).await.into_iter().filter(|d| d.1 == "XA").map(|d| (d.2, d.3)).collect::<Vec<_>>()
    };
    assert_eq!(of_xa().await, [(1, "queued".to_string())]);
    // The write after the hand-on lost: neither the episode nor the mark of what is stored.
    analytics.writer().execute_batch("DELETE FROM trigger_episodes WHERE member_id = 'XA'").unwrap();
    analytics.writer().execute_batch("UPDATE trigger_stored SET through = '2000-01-01T00:00:00Z'").unwrap();
    analytics.watch(triggers::episodes::unmark).await.unwrap();
    // An operator edits the trigger meanwhile (a new baseline; the numbers go on).
    services.update_trigger(&Caller::system(), id, np("30 天未购", 31, channel)).await.unwrap();
    // A new process; XA buys before its first evaluation (leaves the condition) ...
    let restarted = Services::new(analytics.clone(), services.ops.clone(), MetricConfig::default());
    order(&restarted, "xa2", "XA", t).await;
    // ... and stays away 31 days: a second episode, handed on.
    order(&restarted, "xb1", "XB", t + chrono::Days::new(31)).await;
    assert_eq!(of_xa().await, [(1, "queued".to_string()), (2, "queued".to_string())]);
}

/// A trigger whose condition is edited starts from a new baseline, but its members'
/// episodes go on being numbered: a member handed on under the old condition who enters
/// the new one later is handed on again, not refused as a repeat of episode 1.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_trigger_numbers_its_members_next_episodes_after_the_old_ones() {
    let (_dir, analytics, services, channel) = generated_with_a_channel(1_000, 23).await;
    let who = Caller::system();
    let id = services.create_trigger(&who, np("未购", 30, channel)).await.unwrap().id;
    services.run_triggers().await.unwrap();
    let t = analytics.read(server::metrics::latest_order_date).await.unwrap().unwrap();
    let order = |id: &str, member: &str, day: chrono::NaiveDate| {
        let row = format!(
            "{{\"order_id\":\"{id}\",\"ordered_at\":\"{day}T10:00:00\",\"net_amount\":\"20.00\",\"member_id\":\"{member}\",\"channel\":\"app\"}}\n"
        );
        let services = services.clone();
        async move {
            services.ingest(&Caller::cli(), server::load::import::Kind::Orders, None, row.into()).await.unwrap();
            server::jobs::folder::fold(&services).await.unwrap();
            services.run_triggers().await.unwrap()
        }
    };
    // XA enters at 30 days (episode 1, handed on), then buys and leaves.
    order("xa1", "XA", t - chrono::Days::new(40)).await;
    order("xa2", "XA", t).await;
    // The condition becomes 60 days: a new baseline, which XA is not in.
    services.update_trigger(&who, id, np("未购", 60, channel)).await.unwrap();
    services.run_triggers().await.unwrap();
    // 61 days on, XA enters the new condition.
    order("xb1", "XB", t + chrono::Days::new(61)).await;
    let of_xa: Vec<(i64, String)> =
        deliveries(&services.ops).await.into_iter().filter(|d| d.1 == "XA").map(|d| (d.2, d.3)).collect();
    assert_eq!(of_xa, [(1, "queued".to_string()), (2, "queued".to_string())]);
}
