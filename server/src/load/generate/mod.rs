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

use crate::{
    Error, Result,
    derive::landing::{REMADE, restore_keys},
    store::{Seal, analytics::Analytics, schema::unkeyed_columns},
};

mod world;

use world::*;

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
///
/// It streams: the rows are committed a chunk of members at a time into tables made again
/// without their keys, and the keys, the tier history and the member summary are built
/// once at the end, each in a transaction of its own. So memory stays bounded whatever
/// the number of members (one transaction of everything ran DuckDB out of 12 GB at 5M
/// members). Until the summary is built the store is marked as holding an unfolded load,
/// so a generation cut short is completed on the next open (keys and summary), and
/// `--replace` starts it again.
pub fn generate(analytics: &Analytics, opts: &Options, replace: bool) -> Result<Summary> {
    let mut conn = analytics.writer();
    if !Analytics::is_empty(&conn)? && !replace {
        return Err(Error::Load(
            "the analytics store already has data; pass --replace to wipe it and generate anew".into(),
        ));
    }
    let bar = progress(opts);
    {
        let tx = conn.transaction()?;
        for table in crate::store::analytics::TABLES.iter().chain(&["consent_events", "erasures"]) {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        for table in REMADE {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} RENAME TO mp_{table}_old; CREATE TABLE {table} ({columns}); DROP TABLE mp_{table}_old;",
                columns = unkeyed_columns(table)
            ))?;
        }
        tx.execute_batch("INSERT INTO unfolded_loads VALUES (current_timestamp)")?;
        tx.commit()?;
    }
    let summary = write_all(&conn, opts, analytics.seal(), &bar)?;
    bar.set_message("keys");
    restore_keys(&conn)?;
    bar.set_message("tier history");
    let tx = conn.transaction()?;
    tx.execute_batch(TIER_HISTORY)?;
    tx.execute_batch(CONSENT)?;
    tx.commit()?;
    bar.set_message("member summary");
    let tx = conn.transaction()?;
    crate::derive::summary::rebuild(&tx)?;
    tx.execute_batch("DELETE FROM unfolded_loads")?;
    tx.commit()?;
    bar.finish_with_message("generated");
    Ok(summary)
}

fn progress(opts: &Options) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(opts.members);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} members ({per_sec}, eta {eta}) {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("generating");
    bar
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

/// Marketing consent: about two in three members give it when they join, through the
/// channel they join by; one in ten of those withdraws it later. Drawn from a hash of the
/// member id, so the same members always do.
const CONSENT: &str = "
    INSERT INTO consent_events
    SELECT member_id, true, joined_at, join_channel, 'load', joined_at FROM members WHERE hash(member_id) % 100 < 66;
    INSERT INTO consent_events
    SELECT member_id, false, joined_at + INTERVAL (30 + hash(member_id || 'w') % 400) DAY, 'app', 'load',
           joined_at + INTERVAL (30 + hash(member_id || 'w') % 400) DAY
    FROM members WHERE hash(member_id) % 100 < 66 AND hash(member_id || 'w') % 10 = 0;";

/// Appends every row (names and phones sealed with `seal`), committing each chunk of members (the appenders' flush commits
/// outside a transaction).
fn write_all(conn: &Connection, opts: &Options, seal: &Seal, bar: &ProgressBar) -> Result<Summary> {
    let world = World::new(opts);
    let mut summary = Summary::default();

    let mut stores = conn.appender("stores")?;
    for s in &world.stores {
        stores.append_row(params![s.id, s.name, s.region, s.city, s.kind])?;
        summary.stores += 1;
    }
    stores.flush()?;
    drop(stores);

    let mut sink = Sink {
        members: conn.appender("members")?,
        orders: conn.appender("orders")?,
        items: conn.appender("order_items")?,
        points: conn.appender("points")?,
        summary,
    };
    // Names and phones are sealed as they are made (`crate::store::seal`).
    let member = |i| {
        let mut batch = world.member(i);
        if let Some(m) = &mut batch.member {
            m.name = seal.seal(&m.name);
            m.phone = seal.seal_phone(&m.phone);
        }
        batch
    };
    sink.generate(opts.members, 20_000, member, |n| bar.inc(n))?;
    // Guest sales: about one sale in five has no member.
    bar.set_message("guest sales");
    sink.generate(opts.members * 2, 80_000, |j| world.guest(j), |_| {})?;
    Ok(sink.summary)
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
    /// Makes `count` batches, `chunk` at a time in parallel, and appends them in order,
    /// committing each chunk.
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
            for a in [&mut self.members, &mut self.orders, &mut self.items, &mut self.points] {
                a.flush()?;
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
