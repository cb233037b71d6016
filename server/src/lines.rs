//! Order lines that come without their own numbers (SPEC §2 `order_items`, and invoice
//! lines) are numbered 1, 2, … per order in the order they arrive. That is safe only when
//! an order's lines arrive together: the lines of an order that already has stored lines,
//! or a batch numbering some lines of an order and not others, could take numbers already
//! used, be counted "already present" and be lost. Such rows are refused with the reason
//! instead (an order's rows all together). A batch whose lines equal the stored ones
//! (the same batch sent again) passes, and its rows are duplicates: re-sending changes
//! nothing.

use duckdb::{Connection, params_from_iter, types::Value};

use crate::Result;

/// Finds the colliding rows of `batch` into the temp table `mp_collide (key BIGINT,
/// order_id VARCHAR, reason VARCHAR)`; answers how many. `batch` is SQL (with `params`)
/// yielding `key` (a row's number in its request or file), `order_id`, `line_no` (NULL
/// when not given), `sku`, `quantity` (INTEGER), `amount` (DECIMAL(18,2)), `category`.
pub fn find_collisions(conn: &Connection, batch: &str, params: &[Value]) -> Result<i64> {
    conn.execute(
        &format!(
            "CREATE OR REPLACE TEMP TABLE mp_collide AS
             WITH batch AS (SELECT key, order_id, line_no, sku, quantity, amount, category FROM {batch}),
             per_order AS (
                 SELECT order_id, count(*) FILTER (WHERE line_no IS NULL) AS bare,
                        count(*) FILTER (WHERE line_no IS NOT NULL) AS numbered
                 FROM batch GROUP BY order_id),
             bare AS (
                 SELECT b.*, row_number() OVER (PARTITION BY b.order_id ORDER BY b.key) AS n
                 FROM batch b JOIN per_order o USING (order_id) WHERE o.numbered = 0),
             stored AS (
                 SELECT order_id, count(*) AS lines FROM order_items
                 WHERE order_id IN (SELECT order_id FROM bare) GROUP BY order_id),
             differing AS (
                 SELECT DISTINCT x.order_id FROM bare x JOIN stored USING (order_id)
                 LEFT JOIN order_items s ON s.order_id = x.order_id AND s.line_no = x.n
                 WHERE s.order_id IS NULL OR s.sku IS DISTINCT FROM x.sku OR s.quantity IS DISTINCT FROM x.quantity
                    OR s.amount IS DISTINCT FROM x.amount OR s.category IS DISTINCT FROM x.category)
             SELECT b.key, b.order_id,
                    CASE WHEN o.bare > 0 AND o.numbered > 0
                         THEN 'order ' || b.order_id || ': give line_no on every line of an order or on none '
                              || '(lines without one are numbered 1, 2, … and could take a number another line has)'
                         ELSE 'order ' || b.order_id || ' already has ' || st.lines || ' lines from an earlier batch or file: '
                              || 'send all of an order''s lines together, or number them (line_no)' END AS reason
             FROM batch b JOIN per_order o USING (order_id) LEFT JOIN stored st USING (order_id)
             WHERE (o.bare > 0 AND o.numbered > 0) OR b.order_id IN (SELECT order_id FROM differing)"
        ),
        params_from_iter(params),
    )?;
    Ok(conn.query_row("SELECT count(*) FROM mp_collide", [], |r| r.get(0))?)
}

/// The colliding rows found last: (key, reason), by key.
pub fn collisions(conn: &Connection) -> Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare("SELECT key, reason FROM mp_collide ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
}
