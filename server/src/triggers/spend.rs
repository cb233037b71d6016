//! What near-next-tier triggers read of the members a fold touched, kept in memory between
//! evaluations: each member's net spend over the 365 days to the latest day, whether they
//! have a day in them, and their tier as the tier dimension reads it (`scope::tier_of`).
//! Reading those for 15,000 touched members from the day table costs a scan of its last
//! year (about 100 ms at a million members); the book is made from everyone once per basis
//! (a new latest day, a broad change: see `crate::service::triggers`) and then only adds
//! what folds landed — their orders' cents per member and day, and the tier of a member
//! row — which is what changes either while the basis stays the same.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use duckdb::Connection;

use crate::{
    Result,
    metrics::scope,
    store::sql::{Sql, day, midnight},
};

/// One member's figures.
#[derive(Clone, Copy, Debug)]
struct Entry {
    cents: i64,
    active: bool,
    /// The tier comes from tier changes (a member row landed later does not move it).
    history: bool,
    tier: u32,
}

/// The spend and tiers of every member (see the module), made on `on`.
#[derive(Debug, Default)]
pub struct Book {
    on: String,
    members: HashMap<i64, Entry>,
    tiers: Vec<String>,
    /// The numbers of the members touched in this evaluation.
    touched: Vec<i64>,
}

impl Book {
    fn tier(&mut self, name: &str) -> u32 {
        match self.tiers.iter().position(|t| t == name) {
            Some(i) => i as u32,
            None => {
                self.tiers.push(name.to_string());
                (self.tiers.len() - 1) as u32
            }
        }
    }
}

/// The 365 days to `as_of`, bound as `$from` and `$as_of`.
fn window(sql: String, as_of: NaiveDate) -> Sql {
    Sql::new(sql).bind("from", day(as_of - Days::new(365))).bind("as_of", day(as_of))
}

/// Whether `book` was made on another basis than `on` (or not at all): the next [`keep`]
/// makes it from [`table`].
pub fn stale(book: &Option<Book>, on: &str) -> bool {
    book.as_ref().is_none_or(|b| b.on != on)
}

/// Makes the temp table `mp_book` that a stale book is made from, as of `as_of`. Run in
/// the transaction that takes the touched members off their lists, so that it sees
/// exactly the folds whose touched members it took (a fold committed between the two
/// would count twice).
pub fn table(conn: &Connection, as_of: NaiveDate) -> Result<()> {
    window(
        format!(
            "CREATE OR REPLACE TEMP TABLE mp_book AS
             SELECT s.member_no, coalesce(x.cents, 0) AS cents, x.member_no IS NOT NULL AS active,
                    th.member_id IS NOT NULL AS history, {tier} AS tier
             FROM member_summary s
             LEFT JOIN (SELECT member_no, sum(cents) AS cents FROM member_days
                        WHERE day > $from AND day <= $as_of GROUP BY member_no) x USING (member_no)
             LEFT JOIN members m ON m.member_id = s.member_id
             LEFT JOIN (SELECT member_id, arg_max(tier, changed_at) FILTER (WHERE changed_at < CAST($after AS TIMESTAMP)) AS tier
                        FROM tier_changes GROUP BY member_id) th ON th.member_id = s.member_id",
            tier = scope::tier_of("th"),
        ),
        as_of,
    )
    .bind("after", midnight(as_of + Days::new(1)))
    .execute(conn)?;
    Ok(())
}

/// Brings `book` up to date for `on` as of `as_of` (see the module): made from `mp_book`
/// ([`table`]) when [`stale`], else the touched members (`mp_touched`) and their landed
/// days (`mp_touched_days`) added.
pub fn keep(conn: &Connection, book: &mut Option<Book>, on: &str, as_of: NaiveDate) -> Result<()> {
    let made = stale(book, on);
    if made {
        // Tiers by number, and three integers a member (fetching a million names costs
        // seconds).
        let tiers =
            Sql::new("SELECT DISTINCT tier FROM mp_book ORDER BY tier").rows(conn, |r| r.get::<_, String>(0))?;
        let rows = Sql::new(
            "SELECT b.member_no, b.cents, (t.n * 4 + CAST(b.active AS INTEGER) * 2 + CAST(b.history AS INTEGER))::BIGINT
             FROM mp_book b JOIN (SELECT tier, CAST(row_number() OVER (ORDER BY tier) - 1 AS BIGINT) AS n
                                  FROM (SELECT DISTINCT tier FROM mp_book)) t USING (tier)",
        )
        .rows(conn, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        conn.execute_batch("DROP TABLE mp_book")?;
        let mut made =
            Book { on: on.to_string(), members: HashMap::with_capacity(rows.len()), tiers, ..Book::default() };
        for (no, cents, flags) in rows {
            let entry = Entry { cents, active: flags & 2 != 0, history: flags & 1 != 0, tier: (flags >> 2) as u32 };
            made.members.insert(no, entry);
        }
        *book = Some(made);
    }
    let Some(book) = book.as_mut() else { return Ok(()) };
    let touched = window(
        "SELECT t.member_no, t.tier, d.cents, d.member_no IS NOT NULL
         FROM mp_touched t
         LEFT JOIN (SELECT member_no, sum(cents) AS cents FROM mp_touched_days
                    WHERE day > $from AND day <= $as_of GROUP BY member_no) d USING (member_no)"
            .to_string(),
        as_of,
    )
    .rows(conn, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<i64>>(2)?, r.get::<_, bool>(3)?))
    })?;
    book.touched.clear();
    for (no, tier, cents, landed) in touched {
        book.touched.push(no);
        if made {
            // Made from everyone just now: what they landed is in it.
            continue;
        }
        let named = tier.as_deref().map(|t| book.tier(t));
        let none = book.tier("(none)");
        let e = book.members.entry(no).or_insert(Entry { cents: 0, active: false, history: false, tier: none });
        if landed {
            e.cents += cents.unwrap_or(0);
            e.active = true;
        }
        if let (Some(tier), false) = (named, e.history) {
            e.tier = tier;
        }
    }
    Ok(())
}

/// Fills `mp_near (member_no, cents)` with the touched members of `book` within
/// `within_yuan` below `threshold_yuan` of spend, not already in `next_tier`.
pub fn near(conn: &Connection, book: &Book, next_tier: &str, threshold_yuan: f64, within_yuan: f64) -> Result<()> {
    conn.execute_batch("CREATE OR REPLACE TEMP TABLE mp_near (member_no BIGINT, cents BIGINT)")?;
    let mut app = conn.appender("mp_near")?;
    for no in &book.touched {
        let Some(e) = book.members.get(no) else { continue };
        let cents = e.cents as f64;
        if e.active
            && book.tiers[e.tier as usize] != next_tier
            && cents >= (threshold_yuan - within_yuan) * 100.0
            && cents < threshold_yuan * 100.0
        {
            app.append_row(duckdb::params![no, e.cents])?;
        }
    }
    app.flush()?;
    Ok(())
}
