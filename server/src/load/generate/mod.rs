//! A deterministic synthetic retailer: members, stores, orders with items, guest sales
//! and a points ledger, over three years up to an end date.
//!
//! Each member buys at their own rate and may drop out after any purchase (BG/NBD-like:
//! rate ~ Gamma, dropout ~ Beta); some dropped members come back later (reactivation);
//! each member's spend per order varies around their own mean (Gamma-Gamma-like).
//! Member `i` draws from its own random stream, so the same seed gives the same data
//! whatever the number of threads.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};
use duckdb::{Connection, params};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};
use rayon::prelude::*;

use crate::{Error, Result, store::analytics::Analytics};

#[derive(Clone, Debug)]
pub struct Options {
    pub members: u64,
    pub seed: u64,
    /// The last day of generated activity.
    pub end: NaiveDate,
    /// Years of history before `end`.
    pub years: u32,
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            members: 10_000,
            seed: 42,
            end: NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date"),
            years: 3,
            progress: false,
        }
    }
}

/// Rows written per table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub stores: u64,
    pub members: u64,
    pub orders: u64,
    pub order_items: u64,
    pub points: u64,
}

const REGIONS: [(&str, [&str; 4]); 6] = [
    ("华东", ["上海", "杭州", "南京", "苏州"]),
    ("华南", ["广州", "深圳", "厦门", "南宁"]),
    ("华北", ["北京", "天津", "石家庄", "太原"]),
    ("华中", ["武汉", "长沙", "郑州", "南昌"]),
    ("西南", ["成都", "重庆", "昆明", "贵阳"]),
    ("东北", ["沈阳", "大连", "哈尔滨", "长春"]),
];
const REGION_WEIGHTS: [f64; 6] = [0.30, 0.22, 0.18, 0.12, 0.11, 0.07];
const STORES_PER_REGION: usize = 8;
const CHANNELS: [&str; 4] = ["store", "app", "mini_program", "web"];
const CHANNEL_WEIGHTS: [f64; 4] = [0.45, 0.25, 0.20, 0.10];
const ONLINE_STORES: [(&str, &str); 3] = [("ONLINE-APP", "app"), ("ONLINE-MP", "mini_program"), ("ONLINE-WEB", "web")];
const CATEGORIES: [(&str, &str); 8] = [
    ("APP", "服装"),
    ("SHO", "鞋履"),
    ("BEA", "美妆"),
    ("HOM", "家居"),
    ("FOO", "食品"),
    ("BAB", "母婴"),
    ("SPO", "运动"),
    ("DIG", "数码"),
];
const SURNAMES: &str =
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢";
const GIVEN: &str =
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁琳欣怡晨";

/// Creates the demo retailer in an empty store (or, with `replace`, instead of what is there).
pub fn generate(analytics: &Analytics, opts: &Options, replace: bool) -> Result<Summary> {
    let mut conn = analytics.writer();
    if !Analytics::is_empty(&conn)? && !replace {
        return Err(Error::Load(
            "the analytics store already has data; pass --replace to wipe it and generate anew".into(),
        ));
    }
    let tx = conn.transaction()?;
    for table in crate::store::analytics::TABLES {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    let summary = write_all(&tx, opts)?;
    tx.execute_batch(TIER_HISTORY)?;
    crate::derive::summary::rebuild(&tx)?;
    tx.commit()?;
    Ok(summary)
}

/// Tier history from the generated orders: bronze on joining, then silver, gold and
/// platinum from the order that takes cumulative net spend to 1,000 / 5,000 / 20,000
/// (tiers never go down); the members' current tier is their last.
const TIER_HISTORY: &str = "
    INSERT INTO tier_changes
    SELECT member_id, changed_at, arg_max(tier, rank) FROM (
        SELECT member_id, joined_at AS changed_at, 'bronze' AS tier, 0 AS rank FROM members
        UNION ALL
        SELECT c.member_id, min(c.ordered_at), l.tier, l.rank
        FROM (SELECT member_id, ordered_at,
                     sum(net_amount) OVER (PARTITION BY member_id ORDER BY ordered_at, order_id
                                           ROWS UNBOUNDED PRECEDING) AS spent
              FROM orders WHERE member_id IS NOT NULL) c
        JOIN (VALUES ('silver', 1, 1000), ('gold', 2, 5000), ('platinum', 3, 20000)) l(tier, rank, threshold)
          ON c.spent >= l.threshold
        GROUP BY c.member_id, l.tier, l.rank
    ) GROUP BY member_id, changed_at;
    UPDATE members SET tier = t.tier
    FROM (SELECT member_id, arg_max(tier, changed_at) AS tier FROM tier_changes GROUP BY member_id) t
    WHERE members.member_id = t.member_id;";

fn write_all(conn: &Connection, opts: &Options) -> Result<Summary> {
    let world = World::new(opts);
    let mut summary = Summary::default();

    let mut stores = conn.appender("stores")?;
    for s in &world.stores {
        stores.append_row(params![s.id, s.name, s.region, s.city, s.kind])?;
        summary.stores += 1;
    }
    stores.flush()?;
    drop(stores);

    let bar = if opts.progress {
        let bar = ProgressBar::new(opts.members);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} members ({per_sec}, eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message("generating");
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut sink = Sink {
        members: conn.appender("members")?,
        orders: conn.appender("orders")?,
        items: conn.appender("order_items")?,
        points: conn.appender("points")?,
        summary,
    };
    sink.generate(opts.members, 20_000, |i| world.member(i), |n| bar.inc(n))?;
    // Guest sales: about one sale in five has no member.
    sink.generate(opts.members * 2, 80_000, |j| world.guest(j), |_| {})?;
    bar.set_message("flushing");
    for a in [&mut sink.members, &mut sink.orders, &mut sink.items, &mut sink.points] {
        a.flush()?;
    }
    let summary = sink.summary;
    bar.finish_with_message("generated");
    Ok(summary)
}

/// The four appenders the generated rows go to, and what they have taken.
struct Sink<'a> {
    members: duckdb::Appender<'a>,
    orders: duckdb::Appender<'a>,
    items: duckdb::Appender<'a>,
    points: duckdb::Appender<'a>,
    summary: Summary,
}

impl Sink<'_> {
    /// Makes `count` batches, `chunk` at a time in parallel, and appends them in order.
    fn generate(
        &mut self,
        count: u64,
        chunk: u64,
        make: impl Fn(u64) -> Batch + Sync,
        mut done: impl FnMut(u64),
    ) -> Result<()> {
        let mut start = 0;
        while start < count {
            let end = (start + chunk).min(count);
            let batches: Vec<Batch> = (start..end).into_par_iter().map(&make).collect();
            for b in &batches {
                self.append(b)?;
            }
            done(end - start);
            start = end;
        }
        Ok(())
    }

    fn append(&mut self, b: &Batch) -> Result<()> {
        let summary = &mut self.summary;
        if let Some(m) = &b.member {
            self.members.append_row(params![
                m.id,
                m.joined_at,
                m.join_channel,
                m.home_store,
                m.region,
                m.tier,
                m.gender,
                m.birth_year,
                m.name,
                m.phone
            ])?;
            summary.members += 1;
        }
        for o in &b.orders {
            self.orders.append_row(params![
                o.id,
                o.at,
                cents_text(o.net_cents),
                o.member,
                o.channel,
                o.store,
                o.item_count,
                o.discount_cents.map(cents_text),
                o.coupon
            ])?;
        }
        summary.orders += b.orders.len() as u64;
        for it in &b.items {
            self.items.append_row(params![
                it.order,
                it.line,
                it.sku,
                it.quantity,
                cents_text(it.cents),
                it.category
            ])?;
        }
        summary.order_items += b.items.len() as u64;
        for p in &b.points {
            self.points.append_row(params![p.id, p.member, p.at, p.kind, p.points, p.source, p.order])?;
        }
        summary.points += b.points.len() as u64;
        Ok(())
    }
}

/// `12345` → `"123.45"`, exact.
fn cents_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

struct StoreRow {
    id: String,
    name: String,
    region: &'static str,
    city: &'static str,
    kind: &'static str,
}

struct MemberRow {
    id: String,
    joined_at: String,
    join_channel: &'static str,
    home_store: String,
    region: &'static str,
    tier: &'static str,
    gender: Option<&'static str>,
    birth_year: i32,
    name: String,
    phone: String,
}

struct OrderRow {
    id: String,
    at: String,
    net_cents: i64,
    member: Option<String>,
    channel: &'static str,
    store: String,
    item_count: i32,
    discount_cents: Option<i64>,
    coupon: Option<String>,
}

struct ItemRow {
    order: String,
    line: i32,
    sku: String,
    quantity: i32,
    cents: i64,
    category: &'static str,
}

struct PointRow {
    id: String,
    member: String,
    at: String,
    kind: &'static str,
    points: i64,
    source: Option<&'static str>,
    order: Option<String>,
}

#[derive(Default)]
struct Batch {
    member: Option<MemberRow>,
    orders: Vec<OrderRow>,
    items: Vec<ItemRow>,
    points: Vec<PointRow>,
}

/// A point event before the ledger is settled.
struct PointEvent {
    day: f64,
    kind: &'static str,
    points: i64,
    source: Option<&'static str>,
    order: Option<String>,
    /// A purchase, at which the member may redeem.
    purchase: bool,
}

struct World {
    seed: u64,
    start: NaiveDateTime,
    days: f64,
    stores: Vec<StoreRow>,
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    mean_spend: Gamma<f64>,
}

impl World {
    fn new(opts: &Options) -> World {
        let start_date = opts
            .end
            .with_year(opts.end.year() - opts.years as i32)
            .unwrap_or(opts.end - Days::new(365 * u64::from(opts.years)))
            + Days::new(1);
        let days = (opts.end - start_date).num_days() as f64 + 1.0;
        let mut stores = Vec::new();
        for (r, (region, cities)) in REGIONS.iter().enumerate() {
            for k in 0..STORES_PER_REGION {
                let city = cities[k % cities.len()];
                stores.push(StoreRow {
                    id: format!("S{:02}{:02}", r + 1, k + 1),
                    name: format!("{city}{}号店", k / cities.len() + 1),
                    region,
                    city,
                    kind: "store",
                });
            }
        }
        for (id, channel) in ONLINE_STORES {
            stores.push(StoreRow {
                id: id.into(),
                name: format!("线上 {channel}"),
                region: "线上",
                city: "",
                kind: "online",
            });
        }
        World {
            seed: opts.seed,
            start: start_date.and_hms_opt(0, 0, 0).expect("midnight"),
            days,
            stores,
            rate: Gamma::new(1.1, 1.0 / 28.0).expect("valid gamma"),
            dropout: Beta::new(1.2, 10.0).expect("valid beta"),
            mean_spend: Gamma::new(4.0, 45.0).expect("valid gamma"),
        }
    }

    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    /// A time-of-day between 09:00 and 22:00 on day offset `day`, as text.
    fn timestamp(&self, day: f64, rng: &mut ChaCha8Rng) -> String {
        let day = day.floor().clamp(0.0, self.days - 1.0) as i64;
        let seconds = rng.gen_range(9 * 3600..22 * 3600);
        let at = self.start + chrono::Duration::days(day) + chrono::Duration::seconds(seconds);
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// A join day skewed towards recent dates (the programme grows).
    fn join_day(&self, rng: &mut ChaCha8Rng) -> f64 {
        (self.days * rng.r#gen::<f64>().powf(0.7)).floor()
    }

    fn physical_store(&self, region: usize, rng: &mut ChaCha8Rng) -> &StoreRow {
        &self.stores[region * STORES_PER_REGION + rng.gen_range(0..STORES_PER_REGION)]
    }

    fn member(&self, i: u64) -> Batch {
        let mut rng = self.rng(i);
        let rng = &mut rng;
        let id = format!("M{:07}", i + 1);
        let joined_day = self.join_day(rng);
        let join_channel = CHANNELS[pick(&CHANNEL_WEIGHTS, rng)];
        let region = pick(&REGION_WEIGHTS, rng);
        let home = self.physical_store(region, rng).id.clone();
        let gender = match rng.r#gen::<f64>() {
            x if x < 0.61 => Some("F"),
            x if x < 0.98 => Some("M"),
            _ => None,
        };
        let birth_year = rng.gen_range(1960..=2006);
        let name = format!("{}{}", nth_char(SURNAMES, rng), nth_char(GIVEN, rng));
        let phone = format!("1{}{:09}", rng.gen_range(3..=9), rng.gen_range(0..1_000_000_000u64));
        let mut joined_at = self.timestamp(joined_day, rng);

        let mut batch = Batch::default();
        let mut events: Vec<PointEvent> = Vec::new();
        let mut spend_cents: i64 = 0;
        if rng.r#gen::<f64>() < 0.88 {
            let rate = self.rate.sample(rng).max(1e-4);
            let dropout = self.dropout.sample(rng);
            let mean_spend = self.mean_spend.sample(rng).max(8.0);
            let spend = Gamma::new(5.0, mean_spend / 5.0).expect("valid gamma");
            let favourite = rng.gen_range(0..CATEGORIES.len());
            let preferred = if rng.r#gen::<f64>() < 0.7 { join_channel } else { CHANNELS[pick(&CHANNEL_WEIGHTS, rng)] };
            let gap = Exp::new(rate).expect("valid rate");
            let mut t = joined_day
                + if rng.r#gen::<f64>() < 0.6 { 0.0 } else { Exp::new(1.0 / 14.0).expect("rate").sample(rng) };
            let mut k = 0;
            while t < self.days {
                k += 1;
                let order_id = format!("O{:07}-{k}", i + 1);
                let at = self.timestamp(t, rng);
                let channel = if rng.r#gen::<f64>() < 0.75 { preferred } else { CHANNELS[pick(&CHANNEL_WEIGHTS, rng)] };
                let store = self.store_for(channel, region, &home, rng);
                let cents = ((spend.sample(rng) * 100.0).round() as i64).max(100);
                let (discount, coupon) = if rng.r#gen::<f64>() < 0.25 {
                    let d = (cents as f64 * rng.gen_range(0.05..0.2)).round() as i64;
                    (Some(d), Some(format!("CP{}", &at[..7].replace('-', ""))))
                } else {
                    (None, None)
                };
                let lines = self.items(&order_id, cents, favourite, rng);
                let item_count = lines.iter().map(|l| l.quantity).sum();
                let first_sku = lines[0].sku.clone();
                let first_category = lines[0].category;
                batch.items.extend(lines);
                batch.orders.push(OrderRow {
                    id: order_id.clone(),
                    at,
                    net_cents: cents,
                    member: Some(id.clone()),
                    channel,
                    store: store.clone(),
                    item_count,
                    discount_cents: discount,
                    coupon,
                });
                spend_cents += cents;
                events.push(PointEvent {
                    day: t,
                    kind: "earn",
                    points: cents / 100,
                    source: Some("purchase"),
                    order: Some(order_id.clone()),
                    purchase: true,
                });
                if rng.r#gen::<f64>() < 0.08 {
                    events.push(PointEvent {
                        day: t + rng.gen_range(1.0..10.0),
                        kind: "earn",
                        points: 20,
                        source: Some("review"),
                        order: Some(order_id.clone()),
                        purchase: false,
                    });
                }
                // About 4% of purchases are partly or wholly returned within two weeks.
                if rng.r#gen::<f64>() < 0.04 {
                    let rt = t + rng.gen_range(1.0..14.0);
                    if rt < self.days {
                        let back = if rng.r#gen::<bool>() {
                            cents
                        } else {
                            (cents as f64 * rng.gen_range(0.2..0.8)).round() as i64
                        };
                        let return_id = format!("R{:07}-{k}", i + 1);
                        let rat = self.timestamp(rt, rng);
                        batch.items.push(ItemRow {
                            order: return_id.clone(),
                            line: 1,
                            sku: first_sku,
                            quantity: -1,
                            cents: -back,
                            category: first_category,
                        });
                        batch.orders.push(OrderRow {
                            id: return_id.clone(),
                            at: rat,
                            net_cents: -back,
                            member: Some(id.clone()),
                            channel,
                            store,
                            item_count: 1,
                            discount_cents: None,
                            coupon: None,
                        });
                        spend_cents -= back;
                        events.push(PointEvent {
                            day: rt,
                            kind: "adjust",
                            points: -(back / 100),
                            source: None,
                            order: Some(return_id),
                            purchase: false,
                        });
                    }
                }
                if rng.r#gen::<f64>() < dropout {
                    // Dropped out; three in ten are won back after a long silence.
                    if rng.r#gen::<f64>() < 0.3 {
                        t += Exp::new(1.0 / 270.0).expect("rate").sample(rng);
                    } else {
                        break;
                    }
                }
                t += gap.sample(rng).max(0.5);
            }
            if rng.r#gen::<f64>() < 0.04 {
                let day = joined_day + rng.gen_range(0.0..200.0);
                if day < self.days {
                    events.push(PointEvent {
                        day,
                        kind: "earn",
                        points: 200,
                        source: Some("referral"),
                        order: None,
                        purchase: false,
                    });
                }
            }
        }
        // A member joins at the latest with their first order.
        if let Some(first) = batch.orders.iter().map(|o| &o.at).min()
            && *first < joined_at
        {
            joined_at = first.clone();
        }
        batch.points = self.ledger(&id, events, rng);
        let tier = match spend_cents {
            c if c >= 2_000_000 => "platinum",
            c if c >= 500_000 => "gold",
            c if c >= 100_000 => "silver",
            _ => "bronze",
        };
        batch.member = Some(MemberRow {
            id,
            joined_at,
            join_channel,
            home_store: home,
            region: REGIONS[region].0,
            tier,
            gender,
            birth_year,
            name,
            phone,
        });
        batch
    }

    fn store_for(&self, channel: &str, region: usize, home: &str, rng: &mut ChaCha8Rng) -> String {
        match channel {
            "store" if rng.r#gen::<f64>() < 0.85 => home.to_string(),
            "store" => self.physical_store(region, rng).id.clone(),
            other => ONLINE_STORES.iter().find(|(_, c)| *c == other).map(|(id, _)| id.to_string()).unwrap_or_default(),
        }
    }

    /// One to five lines whose amounts add up to `cents` exactly.
    fn items(&self, order: &str, cents: i64, favourite: usize, rng: &mut ChaCha8Rng) -> Vec<ItemRow> {
        let n = pick(&[0.35, 0.3, 0.2, 0.1, 0.05], rng) + 1;
        let n = n.min(cents.max(1) as usize);
        let weights: Vec<f64> = (0..n).map(|_| rng.gen_range(0.2..1.0)).collect();
        let total: f64 = weights.iter().sum();
        let mut left = cents;
        (0..n)
            .map(|k| {
                let part =
                    if k + 1 == n { left } else { ((cents as f64 * weights[k] / total).floor() as i64).min(left) };
                left -= part;
                let cat = if rng.r#gen::<f64>() < 0.5 { favourite } else { rng.gen_range(0..CATEGORIES.len()) };
                ItemRow {
                    order: order.to_string(),
                    line: k as i32 + 1,
                    sku: format!("{}-{:04}", CATEGORIES[cat].0, rng.gen_range(1..400)),
                    quantity: rng.gen_range(1..=3),
                    cents: part,
                    category: CATEGORIES[cat].1,
                }
            })
            .collect()
    }

    /// Settles a member's point events in time order: redemptions when the balance allows,
    /// and expiry of points not used by the end of the year after they were earned.
    fn ledger(&self, member: &str, mut events: Vec<PointEvent>, rng: &mut ChaCha8Rng) -> Vec<PointRow> {
        events.retain(|e| e.day < self.days);
        events.sort_by(|a, b| a.day.total_cmp(&b.day));
        let mut ledger = Ledger { member, rows: Vec::new(), lots: Vec::new() };
        for e in events {
            let at = self.timestamp(e.day, rng);
            let year: i32 = at[..4].parse().expect("year");
            ledger.expire_before(year);
            match e.kind {
                "earn" if e.points > 0 => {
                    ledger.push(at.clone(), "earn", e.points, e.source, e.order.clone());
                    match ledger.lots.last_mut() {
                        Some((y, left)) if *y == year => *left += e.points,
                        _ => ledger.lots.push((year, e.points)),
                    }
                }
                "adjust" => {
                    // A return takes back the points of the amount returned, as far as
                    // they have not been used already.
                    let balance: i64 = ledger.lots.iter().map(|(_, l)| l).sum();
                    let back = (-e.points).min(balance);
                    if back > 0 {
                        ledger.push(at.clone(), "adjust", -back, None, e.order.clone());
                        ledger.take(back);
                    }
                }
                _ => {}
            }
            let balance: i64 = ledger.lots.iter().map(|(_, l)| l).sum();
            if e.purchase && balance >= 300 && rng.r#gen::<f64>() < 0.4 {
                let redeem = ((balance as f64 * rng.gen_range(0.3..1.0)) as i64 / 100 * 100).max(100);
                ledger.push(at, "redeem", redeem, None, e.order);
                ledger.take(redeem);
            }
        }
        let end = self.start + chrono::Duration::days(self.days as i64 - 1);
        ledger.expire_before(end.year());
        ledger.rows
    }

    fn guest(&self, j: u64) -> Batch {
        let mut rng = self.rng(u64::MAX / 2 + j);
        let rng = &mut rng;
        let day = self.join_day(rng);
        let id = format!("G{:08}", j + 1);
        let region = pick(&REGION_WEIGHTS, rng);
        let channel = if rng.r#gen::<f64>() < 0.8 { "store" } else { CHANNELS[pick(&CHANNEL_WEIGHTS, rng)] };
        let store = self.store_for(channel, region, &self.physical_store(region, rng).id.clone(), rng);
        let spend: f64 = Gamma::new(4.0, 30.0).expect("gamma").sample(rng);
        let cents = ((spend * 100.0).round() as i64).max(100);
        let items = self.items(&id, cents, rng.gen_range(0..CATEGORIES.len()), rng);
        let item_count = items.iter().map(|l| l.quantity).sum();
        let at = self.timestamp(day, rng);
        Batch {
            member: None,
            orders: vec![OrderRow {
                id,
                at,
                net_cents: cents,
                member: None,
                channel,
                store,
                item_count,
                discount_cents: None,
                coupon: None,
            }],
            items,
            points: Vec::new(),
        }
    }
}

/// A member's points: the rows written so far and the lots not yet used, oldest first.
struct Ledger<'a> {
    member: &'a str,
    rows: Vec<PointRow>,
    /// (year earned, points left)
    lots: Vec<(i32, i64)>,
}

impl Ledger<'_> {
    fn push(
        &mut self,
        at: String,
        kind: &'static str,
        points: i64,
        source: Option<&'static str>,
        order: Option<String>,
    ) {
        let id = format!("P{}-{}", &self.member[1..], self.rows.len() + 1);
        self.rows.push(PointRow { id, member: self.member.to_string(), at, kind, points, source, order });
    }

    /// Points earned in year Y expire at the end of Y + 1: expires every lot that has by `year`.
    fn expire_before(&mut self, year: i32) {
        while let Some(&(earned, left)) = self.lots.first() {
            if earned + 1 >= year {
                break;
            }
            self.lots.remove(0);
            if left > 0 {
                self.push(format!("{}-12-31 23:59:59", earned + 1), "expire", left, None, None);
            }
        }
    }

    /// Takes `points` from the oldest lots first.
    fn take(&mut self, mut points: i64) {
        for (_, left) in self.lots.iter_mut() {
            let used = points.min(*left);
            *left -= used;
            points -= used;
            if points <= 0 {
                break;
            }
        }
    }
}

fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut x = rng.r#gen::<f64>() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn nth_char(s: &str, rng: &mut ChaCha8Rng) -> char {
    let n = s.chars().count();
    s.chars().nth(rng.gen_range(0..n)).expect("in range")
}
