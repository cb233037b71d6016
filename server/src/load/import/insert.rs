//! Landing the good rows: new keys only, queued for the fold into the member summary.

use super::*;

/// Lands the `good` rows in the target tables; returns (inserted, duplicates) per table.
/// The rows that land are queued for the fold (`landing::open_load_queue`). When every
/// row's key differs (`distinct`), no ranking picks the first row of a key.
pub(super) fn insert(
    conn: &Connection,
    mapping: &Mapping,
    good: &Relation,
    distinct: bool,
    refused: &mut Vec<Reject>,
) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    landing::open_load_queue(conn)?;
    let mut inserted = Vec::new();
    let mut duplicates = Vec::new();
    // `candidates` counts the file's good rows for the table; `rows` yields them with the
    // table's columns, one per key; both read `source`.
    let mut land = |table: &str, source: &Relation, candidates: &str, rows: &str| -> Result<()> {
        let candidates: i64 =
            conn.query_row(&candidates.replace("{src}", &source.sql), params_from_iter(&source.params), |r| r.get(0))?;
        let rows = format!("({})", rows.replace("{src}", &source.sql));
        let new = landing::land_new(conn, table, &rows, &source.params, Queue::Load)?;
        inserted.push((table.to_string(), new));
        duplicates.push((table.to_string(), candidates - new));
        Ok(())
    };
    let columns = |kind: Kind| kind.fields().iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    // Orders that make members read the good rows twice: they are materialised first.
    let reads_twice = mapping.derive_members && mapping.kind == Kind::Orders;
    let materialised;
    let good = if reads_twice && good.sql != "mp_good" {
        conn.execute(
            &format!("CREATE OR REPLACE TEMP TABLE mp_good AS SELECT * FROM {}", good.sql),
            params_from_iter(&good.params),
        )?;
        materialised = Relation::table("mp_good");
        &materialised
    } else {
        good
    };
    match mapping.kind {
        Kind::Stores | Kind::Members | Kind::Orders | Kind::Points | Kind::TierChanges | Kind::MemberIdentities => {
            // These kinds are tables of the same name.
            let table = mapping.kind.name();
            let key = landing::key_of(table);
            if mapping.derive_members && mapping.kind == Kind::Orders {
                land(
                    "members",
                    good,
                    &derived_member_count("{src}"),
                    &derived_members("{src}", "CAST(NULL AS VARCHAR)"),
                )?;
            }
            let first_of_key = if distinct {
                String::new()
            } else {
                format!("QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY mp_line) = 1")
            };
            land(
                table,
                good,
                "SELECT count(*) FROM {src}",
                &format!("SELECT {cols} FROM {{src}} {first_of_key}", cols = columns(mapping.kind)),
            )?;
        }
        Kind::OrderItems => {
            // Lines without numbers of an order with other lines stored are refused (see
            // `crate::lines`), not counted as present.
            let batch = format!(
                "(SELECT mp_line AS key, order_id, CAST(line_no AS INTEGER) AS line_no, sku, CAST(quantity AS INTEGER) AS quantity,
                         CAST(amount AS DECIMAL(18,2)) AS amount, category FROM {})",
                good.sql
            );
            let kept;
            let good = if crate::load::lines::find_collisions(conn, &batch, &good.params)? > 0 {
                for (line, reason) in crate::load::lines::collisions(conn)? {
                    refused.push(Reject { line, field: "line_no".into(), value: None, reason });
                }
                kept = Relation {
                    sql: format!("(SELECT * FROM {} WHERE mp_line NOT IN (SELECT key FROM mp_collide))", good.sql),
                    params: good.params.clone(),
                };
                &kept
            } else {
                good
            };
            land(
                "order_items",
                good,
                "SELECT count(*) FROM {src}",
                // Lines without a number are numbered per order in file order; then the
                // first row of each (order, line) wins.
                "SELECT order_id, line_no, sku, quantity, amount, category
                 FROM (SELECT order_id, mp_line, sku, quantity, amount, category,
                              CAST(coalesce(line_no, row_number() OVER (PARTITION BY order_id ORDER BY mp_line)) AS INTEGER) AS line_no
                       FROM {src})
                 QUALIFY row_number() OVER (PARTITION BY order_id, line_no ORDER BY mp_line) = 1",
            )?;
        }
        Kind::OrderLines => {
            let prefix = mapping.return_prefix.clone().unwrap_or_default();
            // A line's amount, exact to the cent; lines of a return invoice are negative.
            conn.execute(
                &format!(
                    "CREATE OR REPLACE TEMP TABLE mp_lines AS
                     SELECT *, CAST(CASE WHEN ? <> '' AND starts_with(order_id, ?) THEN -abs(round(quantity * unit_price, 2))
                                         ELSE round(quantity * unit_price, 2) END AS DECIMAL(18,2)) AS amount
                     FROM {}",
                    good.sql
                ),
                params_from_iter([Value::Text(prefix.clone()), Value::Text(prefix)].iter().chain(&good.params)),
            )?;
            // An invoice whose lines came in an earlier file and differ from these: refused
            // whole (its order would be derived from part of its lines).
            let batch = "(SELECT mp_line AS key, order_id, CAST(NULL AS INTEGER) AS line_no, sku, CAST(quantity AS INTEGER) AS quantity,
                                 amount, category FROM mp_lines)";
            if crate::load::lines::find_collisions(conn, batch, &[])? > 0 {
                let order_of: std::collections::HashMap<i64, String> = {
                    let mut stmt = conn.prepare("SELECT key, order_id FROM mp_collide")?;
                    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<duckdb::Result<_>>()?
                };
                for (line, reason) in crate::load::lines::collisions(conn)? {
                    refused.push(Reject {
                        line,
                        field: "order_id".into(),
                        value: order_of.get(&line).cloned(),
                        reason,
                    });
                }
                conn.execute_batch("DELETE FROM mp_lines WHERE mp_line IN (SELECT key FROM mp_collide)")?;
            }
            let lines = Relation::table("mp_lines");
            if mapping.derive_members {
                land("members", &lines, &derived_member_count("{src}"), &derived_members("{src}", "region"))?;
            }
            land(
                "orders",
                &lines,
                "SELECT count(DISTINCT order_id) FROM {src}",
                "SELECT order_id, min(ordered_at) AS ordered_at, sum(amount) AS net_amount, min(member_id) AS member_id,
                        min(channel) AS channel, min(store_id) AS store_id,
                        CAST(sum(abs(quantity)) AS INTEGER) AS item_count,
                        CAST(NULL AS DECIMAL(18,2)) AS discount_amount, CAST(NULL AS VARCHAR) AS coupon_id
                 FROM {src} GROUP BY order_id",
            )?;
            land(
                "order_items",
                &lines,
                "SELECT count(*) FROM {src}",
                "SELECT order_id, CAST(row_number() OVER (PARTITION BY order_id ORDER BY mp_line) AS INTEGER) AS line_no,
                        sku, quantity, amount, category
                 FROM {src}",
            )?;
            conn.execute_batch("DROP TABLE IF EXISTS mp_lines")?;
        }
    }
    Ok((inserted, duplicates))
}

/// How many members the orders in `source` name.
pub(super) fn derived_member_count(source: &str) -> String {
    format!("SELECT count(DISTINCT member_id) FROM {source} WHERE member_id IS NOT NULL")
}

/// The members that orders name, joined at their first order, with the channel and
/// region of that order (for members the store does not have yet).
pub(super) fn derived_members(source: &str, region: &str) -> String {
    format!(
        "SELECT member_id, min(ordered_at) AS joined_at, arg_min(channel, ordered_at) AS join_channel,
                CAST(NULL AS VARCHAR) AS home_store_id, arg_min({region}, ordered_at) AS region,
                CAST(NULL AS VARCHAR) AS tier, CAST(NULL AS VARCHAR) AS gender, CAST(NULL AS INTEGER) AS birth_year,
                CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS phone
         FROM {source} WHERE member_id IS NOT NULL GROUP BY member_id"
    )
}
