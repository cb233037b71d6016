//! Landing rows in the raw tables: each key once (a re-sent row is a no-op), new members,
//! orders and points queued for the fold ([`super::summary::fold`]), and a bulk load's
//! table made again with its key built once when that is cheaper than growing it.

use duckdb::{Connection, params_from_iter, types::Value};

use crate::Result;

/// The key columns of a data-contract table: a re-sent row with a known key is a no-op.
pub fn key_of(table: &str) -> &'static str {
    match table {
        "stores" => "store_id",
        "members" => "member_id",
        "orders" => "order_id",
        "points" => "entry_id",
        "tier_changes" => "member_id, changed_at",
        "member_identities" => "member_id, kind, value",
        _ => "order_id, line_no",
    }
}

/// The tables whose new rows change the member summary: they land in `pending_<table>`
/// as well, until [`fold`] takes them.
pub const TRACKED: [&str; 3] = ["members", "orders", "points"];

/// Batches up to this size land through the primary key's index (point lookups);
/// larger ones by one anti-join over the table (and, when they outnumber the stored rows
/// two to one, by making the table again with its key built at the end).
pub const SMALL_BATCH: i64 = 20_000;

/// Where landed members, orders and points wait for [`fold`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// `pending_<table>`, stored with the rows in the same transaction: the ingest API's
    /// batches, folded by its folder task (and on start, after a crash).
    Stored,
    /// `mp_new_<table>`, temporary: a bulk load's rows, so they are never written twice,
    /// folded in the transaction that follows the load's (`crate::load::import::Landed`).
    /// [`open_load_queue`] makes it.
    Load,
}

impl Queue {
    pub(super) fn table(self, table: &str) -> String {
        match self {
            Queue::Stored => format!("pending_{table}"),
            Queue::Load => format!("mp_new_{table}"),
        }
    }
}

/// Makes the load queue for a bulk load, taking over whatever waits in the stored queue
/// (in the caller's transaction): a fold must take every landed row the raw tables hold,
/// since members it derives again from them would otherwise count those rows twice.
/// Landing replaces a queue table rather than appending to it (see `fold_member_days`).
/// The load is recorded in `unfolded_loads` until its fold commits (see [`super::summary::recover`]).
pub fn open_load_queue(conn: &Connection) -> Result<()> {
    for table in TRACKED {
        drop_load_queue(conn, table)?;
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE mp_new_{table} AS SELECT * FROM pending_{table}; DELETE FROM pending_{table};"
        ))?;
    }
    conn.execute_batch("INSERT INTO unfolded_loads VALUES (current_timestamp)")?;
    Ok(())
}

/// Drops a bulk load's queue for `table`, if any: a table, or a view of the raw table a
/// load filled from empty ([`land_new`]).
pub(super) fn drop_load_queue(conn: &Connection, table: &str) -> Result<()> {
    let queued = Queue::Load.table(table);
    let view: bool =
        conn.query_row("SELECT count(*) > 0 FROM duckdb_views() WHERE temporary AND view_name = ?", [&queued], |r| {
            r.get(0)
        })?;
    conn.execute_batch(&format!("DROP {} IF EXISTS {queued}", if view { "VIEW" } else { "TABLE" }))?;
    Ok(())
}

/// How many bulk loads landed without their fold having committed.
pub fn unfolded_loads(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM unfolded_loads", [], |r| r.get(0))?)
}

/// Inserts the rows of `rows` (a table or a parenthesised query, with the values of its
/// `?`s in `values`; the target's columns, one row per key) whose key `table` does not
/// hold yet, and returns how many landed. New members, orders and points also go to the
/// `queue` for [`fold`], in the caller's transaction.
pub fn land_new(conn: &Connection, table: &str, rows: &str, values: &[Value], queue: Queue) -> Result<i64> {
    let rows = as_stored(conn, table, rows, values)?;
    let landed = land_new_rows(conn, table, &rows, values, queue)?;
    if landed > 0 {
        super::facts::changed(conn)?;
    }
    Ok(landed)
}

fn land_new_rows(conn: &Connection, table: &str, rows: &str, values: &[Value], queue: Queue) -> Result<i64> {
    let params = || params_from_iter(values);
    if !TRACKED.contains(&table) {
        let n = conn.execute(&format!("INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM {rows}"), params())?;
        if n > 0 {
            super::facts::broad(conn, super::facts::FOR_SEGMENTS_ONLY.contains(&table))?;
        }
        return Ok(n as i64);
    }
    let key = key_of(table);
    if queue == Queue::Stored {
        let count: i64 = conn.query_row(&format!("SELECT count(*) FROM {rows}"), params(), |r| r.get(0))?;
        if count <= SMALL_BATCH {
            return Ok(land_indexed_rows(conn, table, rows)?.len() as i64);
        }
    }
    let stored: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    let queued = queue.table(table);
    // Each table gets one append in this transaction (see `fold_member_days`). When more
    // rows land than are stored, building the key once over every row costs less than
    // growing it row by row: the table is made again (same columns) and its key added at
    // the end — for a bulk load after its commit ([`restore_keys`]).
    let make_again = |landing: &str, params: &[Value]| -> Result<i64> {
        conn.execute_batch(&format!(
            "ALTER TABLE {table} RENAME TO mp_{table}_old; CREATE TABLE {table} ({columns});",
            columns = crate::store::schema::unkeyed_columns(table),
        ))?;
        // One INSERT of the old rows and the new (see `fold_member_days`).
        let old = if stored == 0 { String::new() } else { format!("SELECT * FROM mp_{table}_old UNION ALL BY NAME ") };
        let all = conn.execute(
            &format!("INSERT INTO {table} BY NAME ({old}SELECT * FROM {landing})"),
            params_from_iter(params),
        )?;
        conn.execute_batch(&format!("DROP TABLE mp_{table}_old"))?;
        if queue == Queue::Stored {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD PRIMARY KEY ({key})"))?;
        }
        Ok(all as i64 - stored)
    };
    if stored == 0 && queue == Queue::Load {
        // Every row is new: they go straight in, and the load's queue is the table itself
        // (its fold's transaction sees just these rows). Nothing stored, nothing pending.
        let n = make_again(rows, values)?;
        drop_load_queue(conn, table)?;
        conn.execute_batch(&format!("CREATE TEMP VIEW {queued} AS SELECT * FROM {table}"))?;
        return Ok(n);
    }
    conn.execute(
        &format!(
            "CREATE OR REPLACE TEMP TABLE mp_landing AS
             SELECT r.* FROM {rows} r WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = r.{key})"
        ),
        params(),
    )?;
    let n: i64 = conn.query_row("SELECT count(*) FROM mp_landing", [], |r| r.get(0))?;
    if n > 2 * stored {
        make_again("mp_landing", &[])?;
    } else {
        conn.execute_batch(&format!("INSERT INTO {table} BY NAME SELECT * FROM mp_landing"))?;
    }
    match queue {
        Queue::Stored => conn
            .execute_batch(&format!("INSERT INTO {queued} BY NAME SELECT * FROM mp_landing; DROP TABLE mp_landing;"))?,
        Queue::Load => {
            // The queue holds what waited in `pending_<table>`; landing replaces it rather
            // than appending to it (see `fold_member_days`).
            let waiting: i64 = conn.query_row(&format!("SELECT count(*) FROM {queued}"), [], |r| r.get(0))?;
            let landed = if waiting == 0 {
                "mp_landing"
            } else {
                conn.execute_batch(&format!(
                    "CREATE TEMP TABLE mp_queue AS SELECT * FROM {queued} UNION ALL BY NAME SELECT * FROM mp_landing;
                     DROP TABLE mp_landing;"
                ))?;
                "mp_queue"
            };
            conn.execute_batch(&format!("DROP TABLE {queued}; ALTER TABLE {landed} RENAME TO {queued};"))?;
        }
    }
    Ok(n)
}

/// The raw tables a load or the generator may make again without their key, to build it
/// once at the end.
pub const REMADE: [&str; 4] = ["members", "orders", "order_items", "points"];

/// Gives back their primary key to the tables a bulk load or the generator made again
/// ([`land_new`], `crate::load::generate`), each in a transaction of its own after the
/// rows' commit and before any other row lands: DuckDB builds a key added in the
/// transaction that filled its table at commit — 0.9 s of commit for two million orders,
/// against 0.7 s for the same key added in a transaction of its own. The load is recorded
/// as unfolded until then, so a store left without a key gets it back on open
/// ([`super::summary::recover`]).
pub fn restore_keys(conn: &Connection) -> Result<()> {
    for table in REMADE {
        let keyed: bool = conn.query_row(
            "SELECT count(*) > 0 FROM duckdb_constraints()
             WHERE schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table],
            |r| r.get(0),
        )?;
        if !keyed {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD PRIMARY KEY ({})", key_of(table)))?;
        }
    }
    Ok(())
}

/// Inserts the rows of `rows` (members, orders or points; a few thousand, one per key)
/// whose key `table` does not hold yet through the key's index (point lookups), and
/// queues them in `pending_<table>`; returns the keys that landed.
pub fn land_indexed(conn: &Connection, table: &str, rows: &str) -> Result<Vec<String>> {
    land_indexed_rows(conn, table, &as_stored(conn, table, rows, &[])?)
}

/// `rows` of `table` (with the values of its `?`s in `values`) as the store keeps them, in
/// the landing's transaction: rows naming a merged member recorded and put on the person
/// (`super::aliases`); a members row's consent recorded as given, under the id it came
/// with, and its name and phone sealed; an identity's phone kept as its keyed hash.
fn as_stored(conn: &Connection, table: &str, rows: &str, values: &[Value]) -> Result<String> {
    super::aliases::record(conn, table, rows, values)?;
    let rows = &match table {
        "members" => super::consent::split(conn, rows, values)?,
        _ => rows.to_string(),
    };
    let rows = &super::aliases::resolve(conn, table, rows)?;
    Ok(match table {
        "members" => super::personal::seal(conn, rows, values)?,
        "member_identities" => format!(
            "(SELECT member_id, kind, CASE WHEN kind = 'phone' THEN mp_phone_key(value) ELSE trim(value) END AS value
              FROM {rows})"
        ),
        _ => rows.to_string(),
    })
}

/// [`land_indexed`] for rows whose consent fields, if any, are already recorded.
fn land_indexed_rows(conn: &Connection, table: &str, rows: &str) -> Result<Vec<String>> {
    let key = key_of(table);
    // The rows that landed come back from the insert and go to `pending_<table>` as they are.
    let mut insert =
        conn.prepare(&format!("INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM {rows} RETURNING {key}, *"))?;
    let mut landed = insert.query([])?;
    let mut pending = conn.appender(&Queue::Stored.table(table))?;
    let mut keys = Vec::new();
    while let Some(row) = landed.next()? {
        let width = row.as_ref().column_count();
        keys.push(row.get::<_, String>(0)?);
        let values = (1..width).map(|i| row.get::<_, duckdb::types::Value>(i)).collect::<duckdb::Result<Vec<_>>>()?;
        pending.append_row(duckdb::appender_params_from_iter(values))?;
    }
    pending.flush()?;
    Ok(keys)
}
