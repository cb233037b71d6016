//! The per-member summary: each member's join day, first and last purchase, purchases, net revenue,
//! returns and points, kept up to date as data lands so that member-level questions do
//! not rescan every order. The raw tables stay the truth: [`rebuild`] derives the whole
//! summary from them, and the tests check that the kept and the rebuilt summaries agree.
//!
//! Each aggregate is defined once ([`ORDER_FACTS`], [`POINT_FACTS`]) and used both to
//! rebuild and to fold in newly landed rows.
//!
//! Two day-grained tables carry the metric catalogue's hot path, so that a dashboard
//! question reads a few thousand rows of a day range instead of scanning every order:
//!
//! - `member_days`: per member and calendar day, the purchases (all, in store, online),
//!   the net revenue in cents (returns included), the member's join day, and the
//!   member's previous and next purchase day. With those two links, "the member's first
//!   purchase in W", "a second purchase day in W" or "the last purchase before W" are
//!   conditions on one row, and metrics count rows instead of grouping by member.
//! - `points_days`: per member and day, the points earned, redeemed, expired and adjusted.
//!
//! Both are stored sorted by day (DuckDB skips the row groups outside a range). When rows
//! land, the affected members' days are derived again from the raw tables.
//!
//! Each member also has a number (`member_no`, in the summary and on their days), given
//! when their first row is folded in: folding joins the day table on it rather than on the
//! member id: DuckDB compares a million integers in a tenth of the time it takes to decode
//! and compare a million string ids (at a million members, a live fold's UPDATE went from
//! 300–440 ms to 70–90 ms).
//!
//! Rows land first ([`land_new`]: raw table + a [`Queue`], one transaction) and are
//! folded in after ([`fold`]): a bulk load folds in the transaction that follows its own
//! (its queue is temporary; a store left with an unfolded load is derived again on open,
//! [`recover`]), the ingest API's batches wait in `pending_<table>` and are folded
//! together at most once a second.

use duckdb::Connection;

use super::landing::{Queue, TRACKED, drop_load_queue, restore_keys, unfolded_loads};
use crate::Result;

/// Order facts per member of an orders-shaped relation `{src}`.
const ORDER_FACTS: &str = "
    SELECT member_id,
           min(ordered_at) FILTER (WHERE net_amount > 0) AS first_purchase_at,
           max(ordered_at) FILTER (WHERE net_amount > 0) AS last_purchase_at,
           count(*) FILTER (WHERE net_amount > 0) AS purchases,
           CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT) AS revenue_cents,
           CAST(coalesce(sum(net_amount) FILTER (WHERE net_amount < 0), 0) * -100 AS BIGINT) AS returns_cents,
           max(ordered_at) AS last_order_at
    FROM {src} WHERE member_id IS NOT NULL GROUP BY member_id";

/// Points facts per member of a points-shaped relation `{src}`.
const POINT_FACTS: &str = "
    SELECT member_id,
           coalesce(sum(points) FILTER (WHERE kind = 'earn'), 0) AS points_earned,
           coalesce(sum(points) FILTER (WHERE kind = 'redeem'), 0) AS points_redeemed,
           coalesce(sum(points) FILTER (WHERE kind = 'expire'), 0) AS points_expired,
           coalesce(sum(points) FILTER (WHERE kind = 'adjust'), 0) AS points_adjusted
    FROM {src} GROUP BY member_id";

/// The summary table. Rebuilding replaces it whole: re-inserting a million keys that the
/// same transaction deleted is far slower in DuckDB than filling a new table.
const TABLE: &str = "
    CREATE OR REPLACE TABLE member_summary (
        member_id         VARCHAR PRIMARY KEY,
        joined_day        DATE,
        first_purchase_at TIMESTAMP,
        last_purchase_at  TIMESTAMP,
        purchases         BIGINT NOT NULL,
        revenue_cents     BIGINT NOT NULL,
        returns_cents     BIGINT NOT NULL,
        points_earned     BIGINT NOT NULL,
        points_redeemed   BIGINT NOT NULL,
        points_expired    BIGINT NOT NULL,
        points_adjusted   BIGINT NOT NULL,
        -- The latest order of any kind (a return too): where the member's days end.
        last_order_at     TIMESTAMP,
        -- The member's number, the key folding joins on (see the module's doc).
        member_no         BIGINT NOT NULL
    );";

const COLUMNS: &str =
    "member_id, joined_day, first_purchase_at, last_purchase_at, purchases, revenue_cents, returns_cents,
                       points_earned, points_redeemed, points_expired, points_adjusted, last_order_at, member_no";

/// Per member and day, the purchases (all, in store, online) and net revenue in cents of
/// the orders-shaped relation `{src}`, for the members in `{members}` (a relation of
/// member ids and numbers, one row each).
const DAY_FACTS: &str = "
    SELECT o.member_id, k.member_no, CAST(o.ordered_at AS DATE) AS day,
           count(*) FILTER (WHERE o.net_amount > 0) AS purchases,
           count(*) FILTER (WHERE o.net_amount > 0 AND o.channel = 'store') AS store_purchases,
           count(*) FILTER (WHERE o.net_amount > 0 AND o.channel IN ('app', 'mini_program', 'web')) AS online_purchases,
           CAST(sum(o.net_amount) * 100 AS BIGINT) AS cents
    FROM {src} o JOIN (SELECT member_id, member_no FROM {members}) k USING (member_id)
    GROUP BY ALL";

fn day_facts(src: &str, members: &str) -> String {
    DAY_FACTS.replace("{src}", src).replace("{members}", members)
}

/// The `member_days` rows of the members in `{members}` (as for [`DAY_FACTS`]), derived
/// from the raw tables.
const MEMBER_DAYS: &str = "
    SELECT d.member_id, d.day, CAST(m.joined_at AS DATE) AS joined_day,
           d.purchases, d.store_purchases, d.online_purchases, d.cents,
           max(d.day) FILTER (WHERE d.purchases > 0) OVER (PARTITION BY d.member_id ORDER BY d.day
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_purchase_day,
           min(d.day) FILTER (WHERE d.purchases > 0) OVER (PARTITION BY d.member_id ORDER BY d.day
               ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_purchase_day,
           d.member_no
    FROM ({day_facts}) d
    LEFT JOIN members m USING (member_id)";

fn member_days(members: &str) -> String {
    MEMBER_DAYS.replace("{day_facts}", &day_facts("orders", members))
}

/// The `points_days` rows of the members in `{members}`.
const POINTS_DAYS: &str = "
    SELECT p.member_id, CAST(p.occurred_at AS DATE) AS day,
           CAST(coalesce(sum(p.points) FILTER (WHERE p.kind = 'earn'), 0) AS BIGINT) AS earned,
           CAST(coalesce(sum(p.points) FILTER (WHERE p.kind = 'redeem'), 0) AS BIGINT) AS redeemed,
           CAST(coalesce(sum(p.points) FILTER (WHERE p.kind = 'expire'), 0) AS BIGINT) AS expired,
           CAST(coalesce(sum(p.points) FILTER (WHERE p.kind = 'adjust'), 0) AS BIGINT) AS adjusted,
           k.member_no
    FROM points p JOIN (SELECT member_id, member_no FROM {members}) k USING (member_id)
    GROUP BY ALL";

const DAY_TABLES: &str = "
    CREATE OR REPLACE TABLE member_days (
        member_id         VARCHAR NOT NULL,
        day               DATE NOT NULL,
        joined_day        DATE,
        purchases         BIGINT NOT NULL,
        store_purchases   BIGINT NOT NULL,
        online_purchases  BIGINT NOT NULL,
        cents             BIGINT NOT NULL,
        prev_purchase_day DATE,
        next_purchase_day DATE,
        member_no         BIGINT NOT NULL
    );
    CREATE OR REPLACE TABLE points_days (
        member_id VARCHAR NOT NULL,
        day       DATE NOT NULL,
        earned    BIGINT NOT NULL,
        redeemed  BIGINT NOT NULL,
        expired   BIGINT NOT NULL,
        adjusted  BIGINT NOT NULL,
        member_no BIGINT NOT NULL
    );";

fn days_of(template: &str, members: &str) -> String {
    template.replace("{members}", members)
}

fn facts(template: &str, src: &str) -> String {
    template.replace("{src}", src)
}

/// Derives the whole summary from the raw tables (creating the table if needed).
pub fn rebuild(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "{TABLE}
         INSERT INTO member_summary ({COLUMNS})
         SELECT ids.member_id, CAST(m.joined_at AS DATE), o.first_purchase_at, o.last_purchase_at,
                coalesce(o.purchases, 0), coalesce(o.revenue_cents, 0), coalesce(o.returns_cents, 0),
                coalesce(p.points_earned, 0), coalesce(p.points_redeemed, 0),
                coalesce(p.points_expired, 0), coalesce(p.points_adjusted, 0), o.last_order_at,
                row_number() OVER ()
         FROM (SELECT member_id FROM members
               UNION SELECT member_id FROM orders WHERE member_id IS NOT NULL
               UNION SELECT member_id FROM points) ids
         LEFT JOIN members m USING (member_id)
         LEFT JOIN ({orders}) o USING (member_id)
         LEFT JOIN ({points}) p USING (member_id);
         {DAY_TABLES}
         INSERT INTO member_days SELECT * FROM ({member_days}) ORDER BY day;
         INSERT INTO points_days SELECT * FROM ({points_days}) ORDER BY day;",
        orders = facts(ORDER_FACTS, "orders"),
        points = facts(POINT_FACTS, "points"),
        member_days = member_days("member_summary"),
        points_days = days_of(POINTS_DAYS, "member_summary"),
    ))?;
    // Members are numbered again: the facts are of another numbering.
    super::facts::renumbered(conn, None)?;
    super::facts::changed(conn)
}

/// Derives again, from the raw tables, the summary rows and the days of the members whose
/// ids the temporary table `ids` (one column, `member_id`) holds: what a merge or its undo
/// changed (`crate::identity::merge`). Members keep their numbers; a member new to the
/// summary gets the next one; a member with no row left in the raw tables leaves it. Run
/// in the caller's transaction, with no landed row waiting to be folded.
pub fn derive_again(conn: &Connection, ids: &str) -> Result<()> {
    let orders = "(SELECT * FROM orders WHERE member_id IN (SELECT member_id FROM mp_again))";
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE mp_again AS
             SELECT i.member_id, coalesce(s.member_no,
                        (SELECT coalesce(max(member_no), 0) FROM member_summary)
                        + row_number() OVER (PARTITION BY s.member_no IS NULL ORDER BY i.member_id)) AS member_no
             FROM (SELECT DISTINCT member_id FROM {ids}) i LEFT JOIN member_summary s USING (member_id)
             WHERE i.member_id IN (SELECT member_id FROM members)
                OR i.member_id IN (SELECT member_id FROM orders WHERE member_id IS NOT NULL)
                OR i.member_id IN (SELECT member_id FROM points);
         DELETE FROM member_days WHERE member_id IN (SELECT member_id FROM {ids});
         DELETE FROM points_days WHERE member_id IN (SELECT member_id FROM {ids});
         DELETE FROM member_summary WHERE member_id IN (SELECT member_id FROM {ids});
         INSERT INTO member_summary ({COLUMNS})
         SELECT k.member_id, CAST(m.joined_at AS DATE), o.first_purchase_at, o.last_purchase_at,
                coalesce(o.purchases, 0), coalesce(o.revenue_cents, 0), coalesce(o.returns_cents, 0),
                coalesce(p.points_earned, 0), coalesce(p.points_redeemed, 0),
                coalesce(p.points_expired, 0), coalesce(p.points_adjusted, 0), o.last_order_at, k.member_no
         FROM mp_again k
         LEFT JOIN members m USING (member_id)
         LEFT JOIN ({orders}) o USING (member_id)
         LEFT JOIN ({points}) p USING (member_id);
         INSERT INTO member_days SELECT * FROM ({member_days}) ORDER BY day;
         INSERT INTO points_days SELECT * FROM ({points_days}) ORDER BY day;
         DROP TABLE mp_again;",
        orders = facts(ORDER_FACTS, orders),
        points = facts(POINT_FACTS, "(SELECT * FROM points WHERE member_id IN (SELECT member_id FROM mp_again))"),
        member_days = MEMBER_DAYS.replace("{day_facts}", &day_facts(orders, "mp_again")),
        points_days = days_of(POINTS_DAYS, "mp_again"),
    ))?;
    // The triggers read everyone again: a merge moves scores and identities as well as days.
    super::facts::renumbered(conn, Some(ids))?;
    super::facts::broad(conn, false)?;
    super::facts::changed(conn)
}

/// Derives the summary and the day tables again from the raw tables when a bulk load's
/// rows landed but their fold did not commit (the process died between the two, or the
/// fold failed). One transaction: the rows waiting in `pending_<table>` that it sees are
/// in the raw tables it derives from, so they leave the queue; batches landing
/// meanwhile are not seen and wait for the next fold.
pub fn recover(conn: &Connection) -> Result<()> {
    if unfolded_loads(conn)? == 0 {
        return Ok(());
    }
    tracing::warn!("a bulk load was not folded into the member summary; deriving the summary again");
    restore_keys(conn)?;
    conn.execute_batch("BEGIN TRANSACTION")?;
    let rebuilt = (|| -> Result<()> {
        rebuild(conn)?;
        // The rows it took were never folded, so no fold named their members.
        super::facts::broad(conn, false)?;
        for table in TRACKED {
            conn.execute_batch(&format!("DELETE FROM {}", Queue::Stored.table(table)))?;
        }
        conn.execute_batch("DELETE FROM unfolded_loads; COMMIT")?;
        Ok(())
    })();
    if rebuilt.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    rebuilt
}

/// Folds the queued orders and members into `member_days`; run before the summary
/// takes them, after [`name_members`] (whose `mp_named` holds each member's number and
/// last purchase and order day so far).
///
/// Orders come in time order for nearly every member: a member whose new days all fall
/// on or after their last day so far (the fast path) keeps every existing row but two
/// kinds: the row of that last day, which may gain purchases, and the rows since the
/// last purchase, whose next purchase day becomes the first new one. Two UPDATEs join
/// those, and the new days are appended with their links worked out among themselves.
/// Anyone else (an order back-dated before the member's last day, or a member row
/// arriving after their orders, which changes the join day of their days) has their
/// days derived again from the raw tables.
fn fold_member_days(conn: &Connection, queue: Queue, touched: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let ms = |since: std::time::Instant| since.elapsed().as_millis() as u64;
    let (orders, members) = (queue.table("orders"), queue.table("members"));
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE mp_days AS {days};
         CREATE OR REPLACE TEMP TABLE mp_slow AS
             SELECT d.member_id, d.member_no FROM mp_days d JOIN mp_named o USING (member_no)
             GROUP BY d.member_id, d.member_no, o.l HAVING min(d.day) < o.l
             UNION SELECT member_id, member_no FROM {members} JOIN mp_named USING (member_id) WHERE mp_named.l IS NOT NULL;
         CREATE OR REPLACE TEMP TABLE mp_fast AS
             SELECT d.member_id, d.member_no, o.p, o.l,
                    min(d.day) FILTER (WHERE d.purchases > 0) AS d1,
                    min(d.day) FILTER (WHERE d.purchases > 0 AND d.day > o.l) AS d_after_l,
                    coalesce(sum(d.purchases) FILTER (WHERE d.day = o.l), 0) AS l_purchases,
                    coalesce(sum(d.store_purchases) FILTER (WHERE d.day = o.l), 0) AS l_store,
                    coalesce(sum(d.online_purchases) FILTER (WHERE d.day = o.l), 0) AS l_online,
                    coalesce(sum(d.cents) FILTER (WHERE d.day = o.l), 0) AS l_cents
             FROM mp_days d JOIN mp_named o USING (member_no)
             WHERE d.member_no NOT IN (SELECT member_no FROM mp_slow)
             GROUP BY d.member_id, d.member_no, o.p, o.l;",
        days = day_facts(&orders, "mp_named"),
    ))?;
    let (existing, slow): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM mp_fast WHERE l IS NOT NULL), (SELECT count(*) FROM mp_slow)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (derived_ms, updating) = (ms(started), std::time::Instant::now());
    if existing > 0 {
        // Existing rows change only at or after the member's last purchase (none of them
        // has a next purchase day yet). Each UPDATE sets only what changes and is bounded
        // below by the earliest day it can touch, so DuckDB skips the older row groups
        // (the table is in day order).
        let (same_day_from, link_from): (Option<String>, Option<String>) = conn.query_row(
            "SELECT CAST(min(l) FILTER (WHERE l_purchases <> 0 OR l_cents <> 0) AS VARCHAR),
                    CAST(min(coalesce(p, DATE '0001-01-01')) FILTER (WHERE d1 IS NOT NULL) AS VARCHAR)
             FROM mp_fast WHERE l IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // New orders on the member's last day: that row's figures, and its link to the
        // first new purchase after it.
        if let Some(from) = same_day_from {
            conn.execute(
                "UPDATE member_days md SET
                     purchases = md.purchases + f.l_purchases,
                     store_purchases = md.store_purchases + f.l_store,
                     online_purchases = md.online_purchases + f.l_online,
                     cents = md.cents + f.l_cents,
                     next_purchase_day = f.d_after_l
                 FROM mp_fast f
                 WHERE md.day >= CAST(? AS DATE) AND md.next_purchase_day IS NULL
                   AND md.member_no = f.member_no AND md.day = f.l
                   AND (f.l_purchases <> 0 OR f.l_cents <> 0)",
                [from],
            )?;
        }
        // Otherwise only links: the rows since the last purchase link to the first new
        // purchase (d1), the last day's row to the first one after it.
        if let Some(from) = link_from {
            conn.execute(
                "UPDATE member_days md SET next_purchase_day = CASE WHEN md.day = f.l THEN f.d_after_l ELSE f.d1 END
                 FROM mp_fast f
                 WHERE md.day >= CAST(? AS DATE) AND md.next_purchase_day IS NULL
                   AND md.member_no = f.member_no AND md.day >= coalesce(f.p, DATE '0001-01-01')
                   AND ((md.day < f.l AND f.d1 IS NOT NULL)
                        OR (md.day = f.l AND f.d_after_l IS NOT NULL AND f.l_purchases = 0 AND f.l_cents = 0))",
                [from],
            )?;
        }
    }
    let (update_ms, inserting) = (ms(updating), std::time::Instant::now());
    // The slow members' days go, then every new row lands in one INSERT: DuckDB (1.2 to
    // at least 1.4) can lose sight of a large append to a table without a key when the
    // transaction's first append to it was empty, until the file is opened again.
    if slow > 0 {
        conn.execute_batch("DELETE FROM member_days WHERE member_no IN (SELECT member_no FROM mp_slow);")?;
    }
    let slow_days =
        if slow > 0 { format!("UNION ALL SELECT * FROM ({})", member_days("mp_slow")) } else { String::new() };
    conn.execute_batch(&format!(
        "INSERT INTO member_days
         SELECT * FROM (
             SELECT n.member_id, n.day, CAST(m.joined_at AS DATE), n.purchases, n.store_purchases, n.online_purchases,
                    n.cents, coalesce(n.prev_new, f.p), n.next_new, n.member_no
             FROM (SELECT *,
                          max(day) FILTER (WHERE purchases > 0) OVER (PARTITION BY member_id ORDER BY day
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_new,
                          min(day) FILTER (WHERE purchases > 0) OVER (PARTITION BY member_id ORDER BY day
                              ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_new
                   FROM mp_days) n
             JOIN mp_fast f USING (member_no)
             LEFT JOIN members m ON m.member_id = n.member_id
             WHERE f.l IS NULL OR n.day > f.l
             {slow_days})
         ORDER BY day;"
    ))?;
    if touched {
        super::facts::touched_days(conn, "mp_days")?;
    }
    conn.execute_batch("DROP TABLE mp_days; DROP TABLE mp_slow; DROP TABLE mp_fast;")?;
    tracing::debug!(existing, slow, derived_ms, update_ms, insert_ms = ms(inserting), "member days folded");
    Ok(())
}

/// Makes `mp_named`: each member the queued rows name, with their number and their last
/// purchase day (`p`) and last order day (`l`) before this fold; members new to the
/// summary get the next numbers and an empty summary row. Each temporary table is made
/// whole by one statement (see `fold_member_days`).
fn name_members(conn: &Connection, queue: Queue) -> Result<()> {
    let named = format!(
        "SELECT member_id FROM {} UNION SELECT member_id FROM {} WHERE member_id IS NOT NULL UNION SELECT member_id FROM {}",
        queue.table("members"),
        queue.table("orders"),
        queue.table("points"),
    );
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE mp_ids AS {named};
         CREATE OR REPLACE TEMP TABLE mp_known AS
             SELECT member_id, member_no, CAST(last_purchase_at AS DATE) AS p, CAST(last_order_at AS DATE) AS l,
                    false AS new, first_purchase_at AS first0, last_purchase_at AS last0, purchases AS purchases0
             FROM member_summary WHERE member_id IN (SELECT member_id FROM mp_ids);
         CREATE OR REPLACE TEMP TABLE mp_named AS
             SELECT * FROM mp_known
             UNION ALL
             SELECT member_id, (SELECT coalesce(max(member_no), 0) FROM member_summary) + row_number() OVER (),
                    NULL, NULL, true, NULL, NULL, 0
             FROM mp_ids WHERE member_id NOT IN (SELECT member_id FROM mp_known);
         DROP TABLE mp_known; DROP TABLE mp_ids;
         INSERT INTO member_summary ({COLUMNS})
             SELECT member_id, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, NULL, member_no FROM mp_named WHERE new;"
    ))?;
    Ok(())
}

/// The most members a fold lists as touched for the triggers; a larger one is a broad
/// change (see [`super::facts`]).
const TOUCHED_AT_MOST: i64 = 200_000;

/// How many landed rows wait for [`fold`].
pub fn pending(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM pending_members) + (SELECT count(*) FROM pending_orders)
              + (SELECT count(*) FROM pending_points)",
        [],
        |r| r.get(0),
    )?)
}

/// Folds the landed members, orders and points waiting in `queue` into the summary and
/// the day tables, then empties the queue. Only the members those rows name are
/// touched. Run it in the transaction that follows a bulk load's ([`Queue::Load`]) or in
/// one of its own (the ingest API's folder, [`Queue::Stored`]); returns how many
/// rows it folded.
pub fn fold(conn: &Connection, queue: Queue) -> Result<i64> {
    let count =
        |t: &str| -> Result<i64> { Ok(conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?) };
    let (members, orders, points) =
        (count(&queue.table("members"))?, count(&queue.table("orders"))?, count(&queue.table("points"))?);
    tracing::debug!(?queue, members, orders, points, "fold");
    let started = std::time::Instant::now();
    if members + orders + points > 0 {
        name_members(conn, queue)?;
    }
    // The members named are listed for the triggers to read alone, unless there are so
    // many (a bulk load) that reading everyone costs less.
    let touched = members + orders + points > 0
        && conn.query_row("SELECT count(*) <= ? FROM mp_named", [TOUCHED_AT_MOST], |r| r.get::<_, bool>(0))?;
    if members + orders > 0 {
        fold_member_days(conn, queue, touched)?;
    }
    let summary_from = std::time::Instant::now();
    // Each kind of row updates the named members' summary rows by one join on their
    // numbers. (DuckDB's upsert, ON CONFLICT DO UPDATE, costs several times as much.)
    let add = |source: &str, set: &str| -> Result<()> {
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE mp_facts AS
                 SELECT f.*, k.member_no FROM ({source}) f JOIN mp_named k USING (member_id);
             UPDATE member_summary s SET {set} FROM mp_facts f WHERE s.member_no = f.member_no;"
        ))?;
        Ok(())
    };
    if members > 0 {
        add(
            &format!("SELECT member_id, CAST(joined_at AS DATE) AS joined_day FROM {}", queue.table("members")),
            "joined_day = f.joined_day",
        )?;
    }
    if orders > 0 {
        add(
            &facts(ORDER_FACTS, &queue.table("orders")),
            "first_purchase_at = least(s.first_purchase_at, f.first_purchase_at),
             last_purchase_at = greatest(s.last_purchase_at, f.last_purchase_at),
             purchases = s.purchases + f.purchases,
             revenue_cents = s.revenue_cents + f.revenue_cents,
             returns_cents = s.returns_cents + f.returns_cents,
             last_order_at = greatest(s.last_order_at, f.last_order_at)",
        )?;
        // What the triggers read of the summary, as it is now (see `super::facts::touched`).
        conn.execute_batch(
            "UPDATE mp_named n SET first0 = least(n.first0, f.first_purchase_at), last0 = greatest(n.last0, f.last_purchase_at),
                                   purchases0 = n.purchases0 + f.purchases
             FROM mp_facts f WHERE n.member_no = f.member_no",
        )?;
    }
    if points > 0 {
        add(
            &facts(POINT_FACTS, &queue.table("points")),
            "points_earned = s.points_earned + f.points_earned,
             points_redeemed = s.points_redeemed + f.points_redeemed,
             points_expired = s.points_expired + f.points_expired,
             points_adjusted = s.points_adjusted + f.points_adjusted",
        )?;
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE mp_touched AS
                 SELECT member_id, member_no FROM mp_named WHERE member_id IN (SELECT member_id FROM {queued});
             DELETE FROM points_days WHERE member_no IN (SELECT member_no FROM mp_touched);
             INSERT INTO points_days SELECT * FROM ({points_days}) ORDER BY day;
             DROP TABLE mp_touched;",
            points_days = days_of(POINTS_DAYS, "mp_touched"),
            queued = queue.table("points"),
        ))?;
    }
    if members + orders + points > 0 && !touched {
        super::facts::broad(conn, false)?;
    } else if touched {
        super::facts::touched(
            conn,
            &format!(
                "SELECT n.member_id, n.member_no, m.tier, n.first0, n.last0, n.purchases0
                 FROM mp_named n LEFT JOIN {} m USING (member_id)",
                queue.table("members")
            ),
        )?;
    }
    conn.execute_batch("DROP TABLE IF EXISTS mp_named; DROP TABLE IF EXISTS mp_facts;")?;
    tracing::debug!(
        days_ms = (summary_from - started).as_millis() as u64,
        summary_ms = summary_from.elapsed().as_millis() as u64,
        "folded"
    );
    for table in TRACKED {
        match queue {
            Queue::Stored => conn.execute_batch(&format!("DELETE FROM {}", queue.table(table)))?,
            Queue::Load => drop_load_queue(conn, table)?,
        }
    }
    if queue == Queue::Load {
        conn.execute_batch("DELETE FROM unfolded_loads")?;
    }
    if members + orders + points > 0 {
        super::facts::changed(conn)?;
    }
    Ok(members + orders + points)
}
