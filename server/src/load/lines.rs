//! Order lines that come without their own numbers (SPEC §2 `order_items`, and invoice
//! lines) are numbered 1, 2, … per order in the order they arrive. That is safe only when
//! an order's lines arrive together: the lines of an order that already has stored lines,
//! or a batch numbering some lines of an order and not others, could take numbers already
//! used, be counted "already present" and be lost. Such rows are refused with the reason
//! instead (an order's rows all together). A batch whose lines equal the stored ones
//! exactly (the same batch sent again) passes, and its rows are duplicates: re-sending
//! changes nothing. A numbered line whose number is stored (or came earlier in the batch)
//! with another sku, quantity, amount or category is refused too: the same key with the
//! same content is a line sent again, with other content it would be lost.

use duckdb::{Connection, params_from_iter, types::Value};

use crate::Result;

/// Finds the colliding rows of `batch` into the temp table `mp_collide (key BIGINT,
/// order_id VARCHAR, reason VARCHAR)`; answers how many. `batch` is SQL (with `params`)
/// yielding `key` (a row's number in its request or file), `order_id`, `line_no` (NULL
/// when not given), `sku`, `quantity` (INTEGER), `amount` (DECIMAL(18,2)), `category`.
pub fn find_collisions(conn: &Connection, batch: &str, params: &[Value]) -> Result<i64> {
    // Two lines differ when any of sku, quantity, amount or category does.
    let differ = |a: &str, b: &str| {
        format!(
            "({a}.sku IS DISTINCT FROM {b}.sku OR {a}.quantity IS DISTINCT FROM {b}.quantity
              OR {a}.amount IS DISTINCT FROM {b}.amount OR {a}.category IS DISTINCT FROM {b}.category)"
        )
    };
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
                 WHERE order_id IN (SELECT order_id FROM batch) GROUP BY order_id),
             -- unnumbered lines of an order with stored lines: refused unless they are the
             -- stored lines exactly (the batch sent again)
             differing AS (
                 SELECT x.order_id FROM bare x JOIN stored st USING (order_id)
                 LEFT JOIN order_items s ON s.order_id = x.order_id AND s.line_no = x.n
                 GROUP BY x.order_id, st.lines
                 HAVING count(*) <> st.lines OR bool_or(s.order_id IS NULL OR {stored_differs})),
             -- numbered lines whose number is stored, or came earlier in the batch, with
             -- other content
             renumbered AS (
                 SELECT n.key, 'order ' || n.order_id || ' line ' || n.line_no
                               || ' is already stored with another sku, quantity, amount or category' AS reason
                 FROM batch n JOIN order_items s ON s.order_id = n.order_id AND s.line_no = n.line_no
                 WHERE n.line_no IS NOT NULL AND {numbered_differs}
                 UNION ALL
                 SELECT n.key, 'order ' || n.order_id || ' line ' || n.line_no
                               || ' comes twice in this batch with other content'
                 FROM batch n JOIN batch f ON f.order_id = n.order_id AND f.line_no = n.line_no AND f.key < n.key
                 WHERE n.line_no IS NOT NULL AND {repeat_differs}
                   -- a stored line is the one each is held against, above
                   AND NOT EXISTS (SELECT 1 FROM order_items s WHERE s.order_id = n.order_id AND s.line_no = n.line_no))
             SELECT b.key, b.order_id,
                    CASE WHEN o.bare > 0 AND o.numbered > 0
                         THEN 'order ' || b.order_id || ': give line_no on every line of an order or on none '
                              || '(lines without one are numbered 1, 2, … and could take a number another line has)'
                         ELSE 'order ' || b.order_id || ' already has ' || st.lines || ' lines from an earlier batch or file: '
                              || 'send all of an order''s lines together, or number them (line_no)' END AS reason
             FROM batch b JOIN per_order o USING (order_id) LEFT JOIN stored st USING (order_id)
             WHERE (o.bare > 0 AND o.numbered > 0) OR b.order_id IN (SELECT order_id FROM differing)
             UNION ALL
             SELECT r.key, b.order_id, min(r.reason) FROM renumbered r JOIN batch b USING (key)
             WHERE b.order_id NOT IN (SELECT order_id FROM per_order WHERE bare > 0 AND numbered > 0)
             GROUP BY r.key, b.order_id",
            stored_differs = differ("s", "x"),
            numbered_differs = differ("s", "n"),
            repeat_differs = differ("f", "n"),
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
