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
//! Rows land first ([`land_new`]: raw table + `pending_<table>`, one transaction) and
//! are folded in after ([`fold`]): a bulk load does both in one transaction, the ingest
//! API folds the batches that landed in the last half second together.

use duckdb::Connection;

use crate::Result;

/// Order facts per member of an orders-shaped relation `{src}`.
const ORDER_FACTS: &str = "
    SELECT member_id,
           min(ordered_at) FILTER (WHERE net_amount > 0) AS first_purchase_at,
           max(ordered_at) FILTER (WHERE net_amount > 0) AS last_purchase_at,
           count(*) FILTER (WHERE net_amount > 0) AS purchases,
           CAST(coalesce(sum(net_amount), 0) * 100 AS BIGINT) AS revenue_cents,
           CAST(coalesce(sum(net_amount) FILTER (WHERE net_amount < 0), 0) * -100 AS BIGINT) AS returns_cents
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
        points_adjusted   BIGINT NOT NULL
    );";

const COLUMNS: &str =
    "member_id, joined_day, first_purchase_at, last_purchase_at, purchases, revenue_cents, returns_cents,
                       points_earned, points_redeemed, points_expired, points_adjusted";

/// The `member_days` rows of the members in `{members}` (a relation of member ids),
/// derived from the raw tables.
const MEMBER_DAYS: &str = "
    SELECT d.member_id, d.day, CAST(m.joined_at AS DATE) AS joined_day,
           d.purchases, d.store_purchases, d.online_purchases, d.cents,
           max(d.day) FILTER (WHERE d.purchases > 0) OVER (PARTITION BY d.member_id ORDER BY d.day
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_purchase_day,
           min(d.day) FILTER (WHERE d.purchases > 0) OVER (PARTITION BY d.member_id ORDER BY d.day
               ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_purchase_day
    FROM (SELECT member_id, CAST(ordered_at AS DATE) AS day,
                 count(*) FILTER (WHERE net_amount > 0) AS purchases,
                 count(*) FILTER (WHERE net_amount > 0 AND channel = 'store') AS store_purchases,
                 count(*) FILTER (WHERE net_amount > 0 AND channel IN ('app', 'mini_program', 'web')) AS online_purchases,
                 CAST(sum(net_amount) * 100 AS BIGINT) AS cents
          FROM orders WHERE member_id IN (SELECT member_id FROM {members})
          GROUP BY ALL) d
    LEFT JOIN members m USING (member_id)";

/// The `points_days` rows of the members in `{members}`.
const POINTS_DAYS: &str = "
    SELECT member_id, CAST(occurred_at AS DATE) AS day,
           CAST(coalesce(sum(points) FILTER (WHERE kind = 'earn'), 0) AS BIGINT) AS earned,
           CAST(coalesce(sum(points) FILTER (WHERE kind = 'redeem'), 0) AS BIGINT) AS redeemed,
           CAST(coalesce(sum(points) FILTER (WHERE kind = 'expire'), 0) AS BIGINT) AS expired,
           CAST(coalesce(sum(points) FILTER (WHERE kind = 'adjust'), 0) AS BIGINT) AS adjusted
    FROM points WHERE member_id IN (SELECT member_id FROM {members})
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
        next_purchase_day DATE
    );
    CREATE OR REPLACE TABLE points_days (
        member_id VARCHAR NOT NULL,
        day       DATE NOT NULL,
        earned    BIGINT NOT NULL,
        redeemed  BIGINT NOT NULL,
        expired   BIGINT NOT NULL,
        adjusted  BIGINT NOT NULL
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
                coalesce(p.points_expired, 0), coalesce(p.points_adjusted, 0)
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
        member_days = days_of(MEMBER_DAYS, "member_summary"),
        points_days = days_of(POINTS_DAYS, "member_summary"),
    ))?;
    Ok(())
}

/// The key columns of a data-contract table: a re-sent row with a known key is a no-op.
pub fn key_of(table: &str) -> &'static str {
    match table {
        "stores" => "store_id",
        "members" => "member_id",
        "orders" => "order_id",
        "points" => "entry_id",
        "tier_changes" => "member_id, changed_at",
        _ => "order_id, line_no",
    }
}

/// The tables whose new rows change the member summary: they land in `pending_<table>`
/// as well, until [`fold`] takes them.
const TRACKED: [&str; 3] = ["members", "orders", "points"];

/// Inserts the rows of the query `rows` whose key `table` does not hold yet (the table's
/// primary key decides, without scanning the table) and returns how many landed. New
/// members, orders and points are also kept in `pending_<table>` for [`fold`], in the
/// caller's transaction.
pub fn land_new(conn: &Connection, table: &str, rows: &str) -> Result<i64> {
    if !TRACKED.contains(&table) {
        let n = conn.execute(
            &format!("INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM ({rows})"),
            [],
        )?;
        return Ok(n as i64);
    }
    let key = key_of(table);
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE mp_rows AS {rows};
         CREATE OR REPLACE TEMP TABLE mp_landed (k VARCHAR);"
    ))?;
    let landed = {
        let mut stmt = conn.prepare(&format!(
            "INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM mp_rows RETURNING {key}"
        ))?;
        let keys = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<duckdb::Result<Vec<_>>>()?;
        let mut appender = conn.appender("mp_landed")?;
        for k in &keys {
            appender.append_row([k])?;
        }
        appender.flush()?;
        keys.len() as i64
    };
    conn.execute_batch(&format!(
        "INSERT INTO pending_{table} BY NAME SELECT * FROM mp_rows WHERE {key} IN (SELECT k FROM mp_landed);
         DROP TABLE mp_rows; DROP TABLE mp_landed;"
    ))?;
    Ok(landed)
}

/// How many landed rows wait for [`fold`].
pub fn pending(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM pending_members) + (SELECT count(*) FROM pending_orders)
              + (SELECT count(*) FROM pending_points)",
        [],
        |r| r.get(0),
    )?)
}

/// Folds the landed rows waiting in `pending_members`, `pending_orders` and
/// `pending_points` into the summary and the day tables, then empties them. Only the
/// members those rows name are touched. Run it in the transaction that landed the rows
/// (bulk loads) or in one of its own (the ingest API's folder); returns how many rows
/// it folded.
pub fn fold(conn: &Connection) -> Result<i64> {
    let count = |t: &str| -> Result<i64> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?)
    };
    let (members, orders, points) = (
        count("pending_members")?,
        count("pending_orders")?,
        count("pending_points")?,
    );
    if members > 0 {
        conn.execute_batch(&format!(
            "INSERT INTO member_summary ({COLUMNS})
             SELECT member_id, CAST(joined_at AS DATE), NULL, NULL, 0, 0, 0, 0, 0, 0, 0 FROM pending_members
             ON CONFLICT (member_id) DO UPDATE SET joined_day = excluded.joined_day;"
        ))?;
    }
    if orders > 0 {
        conn.execute_batch(&format!(
            "INSERT INTO member_summary ({COLUMNS})
             SELECT member_id, NULL, first_purchase_at, last_purchase_at, purchases, revenue_cents, returns_cents, 0, 0, 0, 0
             FROM ({orders})
             ON CONFLICT (member_id) DO UPDATE SET
                 first_purchase_at = least(member_summary.first_purchase_at, excluded.first_purchase_at),
                 last_purchase_at = greatest(member_summary.last_purchase_at, excluded.last_purchase_at),
                 purchases = member_summary.purchases + excluded.purchases,
                 revenue_cents = member_summary.revenue_cents + excluded.revenue_cents,
                 returns_cents = member_summary.returns_cents + excluded.returns_cents;",
            orders = facts(ORDER_FACTS, "pending_orders"),
        ))?;
    }
    if points > 0 {
        conn.execute_batch(&format!(
            "INSERT INTO member_summary ({COLUMNS})
             SELECT member_id, NULL, NULL, NULL, 0, 0, 0, points_earned, points_redeemed, points_expired, points_adjusted
             FROM ({points})
             ON CONFLICT (member_id) DO UPDATE SET
                 points_earned = member_summary.points_earned + excluded.points_earned,
                 points_redeemed = member_summary.points_redeemed + excluded.points_redeemed,
                 points_expired = member_summary.points_expired + excluded.points_expired,
                 points_adjusted = member_summary.points_adjusted + excluded.points_adjusted;",
            points = facts(POINT_FACTS, "pending_points"),
        ))?;
    }
    // The members whose days change: new orders or points, or a join day now known.
    let mut touched = Vec::new();
    for (table, n, days) in [
        ("pending_members", members, "member_days"),
        ("pending_orders", orders, "member_days"),
        ("pending_points", points, "points_days"),
    ] {
        if n > 0 {
            touched.push(format!(
                "SELECT member_id, '{days}' AS days FROM {table} WHERE member_id IS NOT NULL"
            ));
        }
    }
    if !touched.is_empty() {
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE mp_touched AS SELECT DISTINCT * FROM ({});
             CREATE OR REPLACE TEMP VIEW mp_touched_orders AS SELECT member_id FROM mp_touched WHERE days = 'member_days';
             CREATE OR REPLACE TEMP VIEW mp_touched_points AS SELECT member_id FROM mp_touched WHERE days = 'points_days';
             DELETE FROM member_days WHERE member_id IN (SELECT member_id FROM mp_touched_orders);
             INSERT INTO member_days SELECT * FROM ({member_days}) ORDER BY day;
             DELETE FROM points_days WHERE member_id IN (SELECT member_id FROM mp_touched_points);
             INSERT INTO points_days SELECT * FROM ({points_days}) ORDER BY day;
             DROP VIEW mp_touched_orders; DROP VIEW mp_touched_points; DROP TABLE mp_touched;",
            touched.join(" UNION ALL "),
            member_days = days_of(MEMBER_DAYS, "mp_touched_orders"),
            points_days = days_of(POINTS_DAYS, "mp_touched_points"),
        ))?;
    }
    conn.execute_batch("DELETE FROM pending_members; DELETE FROM pending_orders; DELETE FROM pending_points;")?;
    Ok(members + orders + points)
}
