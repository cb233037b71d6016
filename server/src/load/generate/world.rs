//! The simulated retailer: its stores and members, and each member's life of orders,
//! items, points and tier changes, drawn from a seeded generator.

use super::*;

pub(super) struct StoreRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) region: &'static str,
    pub(super) city: &'static str,
    pub(super) kind: &'static str,
}

pub(super) struct MemberRow {
    pub(super) id: String,
    pub(super) joined_at: String,
    pub(super) join_channel: &'static str,
    pub(super) home_store: String,
    pub(super) region: &'static str,
    pub(super) tier: &'static str,
    pub(super) gender: Option<&'static str>,
    pub(super) birth_year: i32,
    pub(super) name: String,
    pub(super) phone: String,
}

pub(super) struct OrderRow {
    pub(super) id: String,
    pub(super) at: String,
    pub(super) net_cents: i64,
    pub(super) member: Option<String>,
    pub(super) channel: &'static str,
    pub(super) store: String,
    pub(super) item_count: i32,
    pub(super) discount_cents: Option<i64>,
    pub(super) coupon: Option<String>,
}

pub(super) struct ItemRow {
    pub(super) order: String,
    pub(super) line: i32,
    pub(super) sku: String,
    pub(super) quantity: i32,
    pub(super) cents: i64,
    pub(super) category: &'static str,
}

pub(super) struct PointRow {
    pub(super) id: String,
    pub(super) member: String,
    pub(super) at: String,
    pub(super) kind: &'static str,
    pub(super) points: i64,
    pub(super) source: Option<&'static str>,
    pub(super) order: Option<String>,
}

#[derive(Default)]
pub(super) struct Batch {
    pub(super) member: Option<MemberRow>,
    pub(super) orders: Vec<OrderRow>,
    pub(super) items: Vec<ItemRow>,
    pub(super) points: Vec<PointRow>,
}

/// A point event before the ledger is settled.
pub(super) struct PointEvent {
    pub(super) day: f64,
    pub(super) kind: &'static str,
    pub(super) points: i64,
    pub(super) source: Option<&'static str>,
    pub(super) order: Option<String>,
    /// A purchase, at which the member may redeem.
    pub(super) purchase: bool,
}

pub(super) struct World {
    pub(super) seed: u64,
    pub(super) start: NaiveDateTime,
    pub(super) days: f64,
    pub(super) stores: Vec<StoreRow>,
    pub(super) rate: Gamma<f64>,
    pub(super) dropout: Beta<f64>,
    pub(super) mean_spend: Gamma<f64>,
}

impl World {
    pub(super) fn new(opts: &Options) -> World {
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

    pub(super) fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    /// A time-of-day between 09:00 and 22:00 on day offset `day`, as text.
    pub(super) fn timestamp(&self, day: f64, rng: &mut ChaCha8Rng) -> String {
        let day = day.floor().clamp(0.0, self.days - 1.0) as i64;
        let seconds = rng.gen_range(9 * 3600..22 * 3600);
        let at = self.start + chrono::Duration::days(day) + chrono::Duration::seconds(seconds);
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// A join day skewed towards recent dates (the programme grows).
    pub(super) fn join_day(&self, rng: &mut ChaCha8Rng) -> f64 {
        (self.days * rng.r#gen::<f64>().powf(0.7)).floor()
    }

    pub(super) fn physical_store(&self, region: usize, rng: &mut ChaCha8Rng) -> &StoreRow {
        &self.stores[region * STORES_PER_REGION + rng.gen_range(0..STORES_PER_REGION)]
    }

    pub(super) fn member(&self, i: u64) -> Batch {
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

    pub(super) fn store_for(&self, channel: &str, region: usize, home: &str, rng: &mut ChaCha8Rng) -> String {
        match channel {
            "store" if rng.r#gen::<f64>() < 0.85 => home.to_string(),
            "store" => self.physical_store(region, rng).id.clone(),
            other => ONLINE_STORES.iter().find(|(_, c)| *c == other).map(|(id, _)| id.to_string()).unwrap_or_default(),
        }
    }

    /// One to five lines whose amounts add up to `cents` exactly.
    pub(super) fn items(&self, order: &str, cents: i64, favourite: usize, rng: &mut ChaCha8Rng) -> Vec<ItemRow> {
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
    pub(super) fn ledger(&self, member: &str, mut events: Vec<PointEvent>, rng: &mut ChaCha8Rng) -> Vec<PointRow> {
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

    pub(super) fn guest(&self, j: u64) -> Batch {
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
pub(super) struct Ledger<'a> {
    pub(super) member: &'a str,
    pub(super) rows: Vec<PointRow>,
    /// (year earned, points left)
    pub(super) lots: Vec<(i32, i64)>,
}

impl Ledger<'_> {
    pub(super) fn push(
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
    pub(super) fn expire_before(&mut self, year: i32) {
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
    pub(super) fn take(&mut self, mut points: i64) {
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

pub(super) fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut x = rng.r#gen::<f64>() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

pub(super) fn nth_char(s: &str, rng: &mut ChaCha8Rng) -> char {
    let n = s.chars().count();
    s.chars().nth(rng.gen_range(0..n)).expect("in range")
}
