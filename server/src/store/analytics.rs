//! The analytics store: one DuckDB file holding the SPEC §2 tables.
//!
//! One writer owns the file. Readers take their own connection (a clone of the root
//! connection) and run on blocking threads, so a long query never stalls the runtime.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
};

use duckdb::Connection;

use crate::Result;

/// The columns of the tracked raw tables without their key, as version 1 makes them
/// (a test compares the two): a large load into a small table makes the table again
/// and adds the key once at the end (`crate::derive::summary::land_new`).
pub fn unkeyed_columns(table: &str) -> &'static str {
    match table {
        "members" => {
            "member_id VARCHAR NOT NULL, joined_at TIMESTAMP NOT NULL, join_channel VARCHAR, home_store_id VARCHAR,
             region VARCHAR, tier VARCHAR, gender VARCHAR, birth_year INTEGER, name VARCHAR, phone VARCHAR"
        }
        "orders" => {
            "order_id VARCHAR NOT NULL, ordered_at TIMESTAMP NOT NULL, net_amount DECIMAL(18, 2) NOT NULL,
             member_id VARCHAR, channel VARCHAR, store_id VARCHAR, item_count INTEGER,
             discount_amount DECIMAL(18, 2), coupon_id VARCHAR"
        }
        "points" => {
            "entry_id VARCHAR NOT NULL, member_id VARCHAR NOT NULL, occurred_at TIMESTAMP NOT NULL,
             kind VARCHAR NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust')),
             points BIGINT NOT NULL, source VARCHAR, order_id VARCHAR"
        }
        _ => unreachable!("only members, orders and points are made again"),
    }
}

/// Versioned DDL, applied in order on open; each version applies once.
const SCHEMA: &[(i32, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE stores (
        store_id VARCHAR PRIMARY KEY,
        name     VARCHAR,
        region   VARCHAR,
        city     VARCHAR,
        kind     VARCHAR CHECK (kind IS NULL OR kind IN ('store', 'online'))
    );
    CREATE TABLE members (
        member_id     VARCHAR PRIMARY KEY,
        joined_at     TIMESTAMP NOT NULL,
        join_channel  VARCHAR,
        home_store_id VARCHAR,
        region        VARCHAR,
        tier          VARCHAR,
        gender        VARCHAR,
        birth_year    INTEGER,
        name          VARCHAR,
        phone         VARCHAR
    );
    CREATE TABLE orders (
        order_id        VARCHAR PRIMARY KEY,
        ordered_at      TIMESTAMP NOT NULL,
        net_amount      DECIMAL(18, 2) NOT NULL,
        member_id       VARCHAR,
        channel         VARCHAR,
        store_id        VARCHAR,
        item_count      INTEGER,
        discount_amount DECIMAL(18, 2),
        coupon_id       VARCHAR
    );
    CREATE TABLE order_items (
        order_id VARCHAR NOT NULL,
        line_no  INTEGER NOT NULL,
        sku      VARCHAR NOT NULL,
        quantity INTEGER NOT NULL,
        amount   DECIMAL(18, 2) NOT NULL,
        category VARCHAR,
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE points (
        entry_id    VARCHAR PRIMARY KEY,
        member_id   VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL,
        kind        VARCHAR NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust')),
        points      BIGINT NOT NULL,
        source      VARCHAR,
        order_id    VARCHAR
    );
    "#,
    ),
    (
        2,
        r#"
    -- member_summary: created and filled by crate::derive::summary::rebuild (see DERIVED_VERSIONS).
    "#,
    ),
    (
        3,
        r#"
    -- member_days and points_days: created and filled by crate::derive::summary::rebuild.
    "#,
    ),
    (
        4,
        r#"
    -- A member's tier from changed_at on, until their next change. Members without
    -- any row keep members.tier throughout.
    CREATE TABLE tier_changes (
        member_id  VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL,
        tier       VARCHAR NOT NULL,
        PRIMARY KEY (member_id, changed_at)
    );
    "#,
    ),
    (
        5,
        r#"
    -- Model scores (superseded by version 6).
    CREATE TABLE IF NOT EXISTS member_scores (
        member_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL, p_alive DOUBLE NOT NULL,
        purchases_30d DOUBLE NOT NULL, purchases_90d DOUBLE NOT NULL, purchases_365d DOUBLE NOT NULL,
        spend_per_purchase DOUBLE NOT NULL, clv_12m DOUBLE NOT NULL
    );
    "#,
    ),
    (
        6,
        r#"
    -- The last model fit's member scores, replaced whole by each fit
    -- (crate::model::store_scores): one row per member with a purchase by the fit's T.
    -- historical_cents and revenue_12m_cents are the member's net revenue up to T and in
    -- the 365 days to T; high_value marks the top 20% by clv_12m or historical_cents.
    DROP TABLE IF EXISTS member_scores;
    CREATE TABLE member_scores (
        member_id VARCHAR NOT NULL, as_of DATE NOT NULL, p_alive DOUBLE NOT NULL,
        purchases_30d DOUBLE NOT NULL, purchases_90d DOUBLE NOT NULL, purchases_365d DOUBLE NOT NULL,
        spend_per_purchase DOUBLE NOT NULL, clv_12m DOUBLE NOT NULL,
        historical_cents BIGINT NOT NULL, revenue_12m_cents BIGINT NOT NULL, high_value BOOLEAN NOT NULL
    );
    "#,
    ),
    (
        7,
        r#"
    -- Rows that landed through the ingest API and are not yet folded into the member
    -- summary and the day tables (crate::derive::summary::fold). They land in the same
    -- transaction as the raw rows, so a crash between landing and folding loses nothing:
    -- the next fold (on start) takes them. The member summary gains each member's last
    -- order of any kind (rebuilt with this version).
    CREATE TABLE IF NOT EXISTS pending_members AS SELECT * FROM members LIMIT 0;
    CREATE TABLE IF NOT EXISTS pending_orders AS SELECT * FROM orders LIMIT 0;
    CREATE TABLE IF NOT EXISTS pending_points AS SELECT * FROM points LIMIT 0;
    "#,
    ),
    (
        8,
        r#"
    -- member_summary and member_days gain member_no, the number folding joins on
    -- (crate::summary): the derived tables are made again.
    "#,
    ),
    (
        9,
        r#"
    -- A bulk load's rows are committed before they are folded into the summary
    -- (crate::load::import::Landed); each load is recorded here until its fold commits, and a
    -- store opened with one recorded derives its summary again (crate::derive::summary::recover).
    CREATE TABLE IF NOT EXISTS unfolded_loads (landed_at TIMESTAMP NOT NULL);
    "#,
    ),
];

/// The versions that add derived tables, filled from the raw tables when applied.
const DERIVED_VERSIONS: [i32; 4] = [2, 3, 7, 8];

/// The tables of the data contract, in load order.
pub const TABLES: [&str; 6] = [
    "stores",
    "members",
    "orders",
    "order_items",
    "points",
    "tier_changes",
];

/// The DuckDB file and its connections. Writes take one of three paths, each with its
/// own connection so that they run side by side (DuckDB's transactions keep them apart):
///
/// - [`Analytics::write`]: loads, generation, model scores. It also holds the folder's
///   lock, so a load folds its rows into the summary while no other fold runs.
/// - [`Analytics::land`]: ingest API batches, which only append raw and pending rows.
/// - [`Analytics::fold`]: the folder, which moves pending rows into the summary.
#[derive(Clone)]
pub struct Analytics {
    path: Arc<PathBuf>,
    /// The one writer of loads; a load holds it for as long as it runs.
    root: Arc<Mutex<Connection>>,
    /// Lands ingested batches.
    lander: Arc<Mutex<Connection>>,
    /// Folds landed rows into the summary.
    folder: Arc<Mutex<Connection>>,
    /// Where readers are cloned from, so that a running load never holds them up.
    readers: Arc<Mutex<Connection>>,
}

/// Holds ingest batches back while a bulk load lands; dropping it lets them land again.
pub struct Landing<'a>(#[allow(dead_code)] MutexGuard<'a, Connection>);

/// The writer connection, holding the folder's lock as well.
pub struct Writer<'a> {
    conn: MutexGuard<'a, Connection>,
    _folding: MutexGuard<'a, Connection>,
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Analytics {
    /// Opens (creating if needed) the DuckDB file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        // A checkpoint rewrites the primary-key indexes of the raw tables; at DuckDB's
        // default (every 16 MB of log) a steady ingest load checkpoints every few
        // seconds. Committed rows are in the log either way.
        conn.execute_batch("SET checkpoint_threshold = '1GB'")?;
        migrate(&conn)?;
        crate::derive::summary::recover(&conn)?;
        let readers = conn.try_clone()?;
        let lander = conn.try_clone()?;
        let folder = conn.try_clone()?;
        Ok(Analytics {
            path: Arc::new(path.to_path_buf()),
            root: Arc::new(Mutex::new(conn)),
            lander: Arc::new(Mutex::new(lander)),
            folder: Arc::new(Mutex::new(folder)),
            readers: Arc::new(Mutex::new(readers)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer connection. Blocking: call from a blocking thread or the CLI.
    pub fn writer(&self) -> Writer<'_> {
        let conn = lock(&self.root);
        Writer { conn, _folding: lock(&self.folder) }
    }

    /// A fresh reader connection on the same database; it sees what loads have committed.
    pub fn reader(&self) -> Result<Connection> {
        Ok(lock(&self.readers).try_clone()?)
    }

    /// Runs `f` with the ingest connection on a blocking thread.
    pub async fn land<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let lander = self.lander.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&lander))).await?
    }

    /// Runs `f` with the folder's connection on a blocking thread.
    pub async fn fold<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let folder = self.folder.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&folder))).await?
    }

    /// Runs `f` on a reader connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.reader()?;
        tokio::task::spawn_blocking(move || f(&conn)).await?
    }

    /// Runs `f` with the single writer connection on a blocking thread.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&mut this.writer())).await?
    }

    /// Runs a bulk load `f` with the writer while no ingest batch lands, until `f` drops
    /// the [`Landing`] it is given: a load may make a raw table again
    /// (`crate::derive::summary::land_new`), which no batch may be landing in meanwhile.
    pub async fn write_bulk<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, Landing<'_>) -> Result<T> + Send + 'static,
    {
        let lander = self.lander.clone();
        self.write(move |conn| f(conn, Landing(lock(&lander)))).await
    }

    /// Rows per table, in [`TABLES`] order.
    pub fn counts(conn: &Connection) -> Result<Vec<(&'static str, i64)>> {
        TABLES
            .iter()
            .map(|t| {
                let n: i64 =
                    conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                Ok((*t, n))
            })
            .collect()
    }

    /// Whether the store has no members and no orders yet.
    pub fn is_empty(conn: &Connection) -> Result<bool> {
        let n: i64 = conn.query_row(
            "SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM orders)",
            [],
            |r| r.get(0),
        )?;
        Ok(n == 0)
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)",
    )?;
    let current: i32 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    for (version, ddl) in SCHEMA.iter().filter(|(v, _)| *v > current) {
        let derived = DERIVED_VERSIONS.contains(version);
        conn.execute_batch("BEGIN TRANSACTION")?;
        let applied = (|| -> Result<()> {
            conn.execute_batch(ddl)?;
            if !derived {
                conn.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [version])?;
            }
            Ok(())
        })();
        match applied {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(e);
            }
        }
        if derived {
            // A store that already holds data gets its derived tables filled. Outside the
            // DDL's transaction: DuckDB (1.2) fails an internal assertion when a
            // million-member rebuild shares one. The version is recorded only once the
            // rebuild is done, so a crash in between rebuilds again on the next start
            // (these versions' DDL may run twice).
            crate::derive::summary::rebuild(conn)?;
            conn.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [version])?;
        }
        tracing::info!(version, "analytics schema applied");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_applies_once_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.duckdb");
        {
            let a = Analytics::open(&path).unwrap();
            let conn = a.writer();
            conn.execute_batch(
                "INSERT INTO stores VALUES ('S1', 'One', 'East', 'Shanghai', 'store')",
            )
            .unwrap();
        }
        let a = Analytics::open(&path).unwrap();
        let conn = a.reader().unwrap();
        let versions: i64 = conn
            .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, SCHEMA.len() as i64);
        let counts = Analytics::counts(&conn).unwrap();
        assert_eq!(counts[0], ("stores", 1));
        assert!(Analytics::is_empty(&conn).unwrap());
    }

    #[test]
    fn tables_made_again_have_the_columns_and_constraints_of_version_1() {
        let dir = tempfile::tempdir().unwrap();
        let a = Analytics::open(&dir.path().join("a.duckdb")).unwrap();
        let conn = a.writer();
        let shape = |table: &str| -> Vec<String> {
            let mut stmt = conn
                .prepare(
                    "SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
                     FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                )
                .unwrap();
            let mut rows: Vec<String> = stmt
                .query_map([table], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            let mut stmt = conn
                .prepare(
                    "SELECT constraint_type || ' ' || constraint_text || ' ' || list_sort(constraint_column_names)::VARCHAR
                     FROM duckdb_constraints() WHERE table_name = ? ORDER BY ALL",
                )
                .unwrap();
            rows.extend(
                stmt.query_map([table], |r| r.get::<_, String>(0))
                    .unwrap()
                    .map(|r| r.unwrap()),
            );
            rows
        };
        for (table, key) in [
            ("members", "member_id"),
            ("orders", "order_id"),
            ("points", "entry_id"),
        ] {
            conn.execute_batch(&format!(
                "CREATE TABLE again ({}); ALTER TABLE again ADD PRIMARY KEY ({key});",
                unkeyed_columns(table)
            ))
            .unwrap();
            assert_eq!(shape("again"), shape(table), "{table}");
            assert!(
                shape(table).iter().any(|c| c.starts_with("PRIMARY KEY")),
                "{table}"
            );
            conn.execute_batch("DROP TABLE again").unwrap();
        }
    }

    #[test]
    fn readers_are_not_held_up_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let a = Analytics::open(&dir.path().join("a.duckdb")).unwrap();
        let writer = a.writer();
        writer
            .execute_batch("BEGIN; INSERT INTO stores (store_id) VALUES ('S1');")
            .unwrap();
        // While the writer is held mid-transaction, a reader opens and sees the last commit.
        let reader = a.reader().unwrap();
        let n: i64 = reader
            .query_row("SELECT count(*) FROM stores", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        writer.execute_batch("COMMIT").unwrap();
        let n: i64 = a
            .reader()
            .unwrap()
            .query_row("SELECT count(*) FROM stores", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
