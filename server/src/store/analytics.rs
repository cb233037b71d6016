//! The analytics store: one DuckDB file holding the SPEC §2 tables and what is derived
//! from them. [`Analytics::open`] (in `crate::derive::open`) brings its schema up to date.
//!
//! One writer owns the file. Readers take their own connection (a clone of the root
//! connection) and run on blocking threads, so a long query never stalls the runtime.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, RwLock},
};

use duckdb::Connection;

use super::Seal;
use crate::Result;

pub use super::schema::TABLES;

/// The DuckDB file and its connections. Writes take one of three paths, each with its
/// own connection so that they run side by side (DuckDB's transactions keep them apart):
///
/// - [`Analytics::write`]: loads, generation, model scores. It also holds the folder's
///   lock, so a load folds its rows into the summary while no other fold runs.
/// - [`Analytics::land`]: ingest API batches, which only append raw and pending rows.
/// - [`Analytics::fold`]: the folder, which moves pending rows into the summary.
/// - [`Analytics::watch`]: the triggers' evaluation (`crate::triggers`), which reads the
///   data while folds go on and writes only its own tables.
#[derive(Clone)]
pub struct Analytics {
    path: Arc<PathBuf>,
    /// The one writer of loads; a load holds it for as long as it runs.
    root: Arc<Mutex<Connection>>,
    /// Lands ingested batches.
    lander: Arc<Mutex<Connection>>,
    /// Folds landed rows into the summary.
    folder: Arc<Mutex<Connection>>,
    /// Evaluates the triggers.
    watcher: Arc<Mutex<Connection>>,
    /// Where readers are cloned from, so that a running load never holds them up.
    readers: Arc<Mutex<Connection>>,
    /// The key personal fields are sealed with (`super::seal`).
    seal: Seal,
    /// Held (shared) by every [`Analytics::read`] while it runs, and (alone) by
    /// [`Analytics::rewrite`]: no read runs on the old file while it is swapped.
    swap: Arc<RwLock<()>>,
}

/// Holds ingest batches back while a bulk load lands; dropping it lets them land again.
pub struct Landing<'a>(#[allow(dead_code)] MutexGuard<'a, Connection>);

/// The writer connection, holding the folder's and the triggers' locks as well.
pub struct Writer<'a> {
    conn: MutexGuard<'a, Connection>,
    _folding: MutexGuard<'a, Connection>,
    _watching: MutexGuard<'a, Connection>,
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

/// Runs `f` with the connection `conn` (one of the single-purpose ones) on a blocking thread.
async fn with<T, F>(conn: &Arc<Mutex<Connection>>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
{
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&conn))).await?
}

impl Analytics {
    /// The handles of a store `conn` opened at `path` (its schema already up to date).
    pub(crate) fn from_connection(path: &Path, conn: Connection, seal: Seal) -> Result<Self> {
        let readers = conn.try_clone()?;
        let lander = conn.try_clone()?;
        let folder = conn.try_clone()?;
        let watcher = conn.try_clone()?;
        Ok(Analytics {
            path: Arc::new(path.to_path_buf()),
            root: Arc::new(Mutex::new(conn)),
            lander: Arc::new(Mutex::new(lander)),
            folder: Arc::new(Mutex::new(folder)),
            watcher: Arc::new(Mutex::new(watcher)),
            readers: Arc::new(Mutex::new(readers)),
            seal,
            swap: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key this store's personal fields are sealed with.
    pub fn seal(&self) -> &Seal {
        &self.seal
    }

    /// The writer connection. Blocking: call from a blocking thread or the CLI.
    pub fn writer(&self) -> Writer<'_> {
        let conn = lock(&self.root);
        let _folding = lock(&self.folder);
        Writer { conn, _folding, _watching: lock(&self.watcher) }
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
        with(&self.lander, f).await
    }

    /// Runs `f` with the folder's connection on a blocking thread.
    pub async fn fold<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        with(&self.folder, f).await
    }

    /// Runs `f` with the triggers' connection on a blocking thread.
    pub async fn watch<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        with(&self.watcher, f).await
    }

    /// Runs `f` on a reader connection on a blocking thread (never across a
    /// [`Analytics::rewrite`]: the connection is taken once none runs).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _no_swap = this.swap.read().unwrap_or_else(|poison| poison.into_inner());
            f(&this.reader()?)
        })
        .await?
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
    /// (`crate::derive::landing::land_new`), which no batch may be landing in meanwhile.
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
                let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                Ok((*t, n))
            })
            .collect()
    }

    /// Copies the store into a new file and puts it in the old one's place, so that
    /// nothing DuckDB has let go of (the old values of
    /// updated or deleted rows, which stay in the file's free blocks) survives on disk
    /// under this path: what an erasure needs (`crate::privacy::erase`). Clears
    /// `copy_wanted` ([`Analytics::ask_for_copy`]). Returns the
    /// file's size before and after. Blocking: writes wait for the whole copy, reads only
    /// for the swap at its end.
    pub fn rewrite(&self) -> Result<(u64, u64)> {
        // Writers wait for the whole copy (what lands meanwhile would miss the new file);
        // dashboards keep reading the old file while it is copied.
        let mut root = lock(&self.root);
        let mut folder = lock(&self.folder);
        let mut lander = lock(&self.lander);
        let mut watcher = lock(&self.watcher);
        let path = self.path.as_path();
        let fresh = path.with_extension("rewrite");
        let wal = |p: &Path| std::path::PathBuf::from(format!("{}.wal", p.display()));
        for stale in [fresh.clone(), wal(&fresh)] {
            if stale.exists() {
                std::fs::remove_file(&stale)?;
            }
        }
        let before = std::fs::metadata(path)?.len();
        let memory: String = root.query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0))?;
        let database: String = root.query_row("SELECT current_database()", [], |r| r.get(0))?;
        let quote = |s: &str| s.replace('\'', "''");
        // The copy reads one snapshot, log included; a checkpoint first only shortens the
        // old database's close (it fails while a read writes the member facts: no matter).
        let _ = root.execute_batch("CHECKPOINT");
        root.execute_batch(&format!(
            "ATTACH '{}' AS mp_fresh; COPY FROM DATABASE \"{}\" TO mp_fresh; DETACH mp_fresh;",
            quote(&fresh.display().to_string()),
            database.replace('"', "\"\""),
        ))?;
        // Then reads running on the old database finish (one that writes — the member
        // facts are made through a read — must not write to the old file's log, which
        // has the new file's name), and the old database closes before the new file
        // takes its name; reads after take the new one.
        let _swap = self.swap.write().unwrap_or_else(|poison| poison.into_inner());
        let mut readers = lock(&self.readers);
        for conn in [&mut *root, &mut *folder, &mut *lander, &mut *watcher, &mut *readers] {
            *conn = Connection::open_in_memory()?;
        }
        // Whatever the old database's close left in its log is in the copy already (every
        // write was held since before it) or derived (the member facts, made again).
        if wal(path).exists() {
            std::fs::remove_file(wal(path))?;
        }
        let opened = std::fs::rename(&fresh, path).map_err(crate::Error::from).and_then(|()| self.reopen(path, true));
        // Should the new file fail to open, the one under the path is opened again: the
        // store keeps answering (its copy is asked for again at the next open).
        let conn = match opened {
            Ok(conn) => conn,
            Err(e) => {
                tracing::error!(error = %e, "copying the store anew failed; going on with the file as it is");
                self.reopen(path, false)?
            }
        };
        conn.execute_batch(&format!("SET memory_limit = '{}'", quote(&memory)))?;
        *folder = conn.try_clone()?;
        *lander = conn.try_clone()?;
        *watcher = conn.try_clone()?;
        *readers = conn.try_clone()?;
        *root = conn;
        let after = std::fs::metadata(path)?.len();
        Ok((before, after))
    }

    /// A connection to the file at `path` as [`Analytics::rewrite`] leaves it: the SQL
    /// functions of the key, the checkpoint threshold, and (`fresh`: the new copy, which
    /// holds no old value) `copy_wanted` answered.
    fn reopen(&self, path: &Path, fresh: bool) -> Result<Connection> {
        let conn = Connection::open(path)?;
        self.seal.register(&conn)?;
        conn.execute_batch("SET checkpoint_threshold = '1GB'")?;
        if fresh {
            conn.execute_batch("DELETE FROM copy_wanted")?;
        }
        Ok(conn)
    }

    /// Asks, in the caller's transaction, for the file to be copied anew
    /// ([`Analytics::rewrite`]): a change whose old values must leave the file. A crash
    /// before the copy leaves the request, and the next open copies.
    pub fn ask_for_copy(conn: &Connection, why: &str) -> Result<()> {
        conn.execute("INSERT INTO copy_wanted VALUES (CAST(now() AS TIMESTAMP), ?)", [why])?;
        Ok(())
    }

    /// Whether the file is to be copied anew ([`Analytics::ask_for_copy`]).
    pub fn copy_wanted(conn: &Connection) -> Result<bool> {
        Ok(conn.query_row("SELECT count(*) > 0 FROM copy_wanted", [], |r| r.get(0))?)
    }

    /// Whether the store has no members and no orders yet.
    pub fn is_empty(conn: &Connection) -> Result<bool> {
        let n: i64 =
            conn.query_row("SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM orders)", [], |r| r.get(0))?;
        Ok(n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{SCHEMA, unkeyed_columns};

    #[test]
    fn schema_applies_once_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.duckdb");
        {
            let a = Analytics::open(&path).unwrap();
            let conn = a.writer();
            conn.execute_batch("INSERT INTO stores VALUES ('S1', 'One', 'East', 'Shanghai', 'store')").unwrap();
        }
        let a = Analytics::open(&path).unwrap();
        let conn = a.reader().unwrap();
        let versions: i64 = conn.query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0)).unwrap();
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
            let mut rows: Vec<String> = stmt.query_map([table], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
            let mut stmt = conn
                .prepare(
                    "SELECT constraint_type || ' ' || constraint_text || ' ' || list_sort(constraint_column_names)::VARCHAR
                     FROM duckdb_constraints() WHERE table_name = ? ORDER BY ALL",
                )
                .unwrap();
            rows.extend(stmt.query_map([table], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()));
            rows
        };
        for (table, key) in [
            ("members", "member_id"),
            ("orders", "order_id"),
            ("order_items", "order_id, line_no"),
            ("points", "entry_id"),
        ] {
            conn.execute_batch(&format!(
                "CREATE TABLE again ({}); ALTER TABLE again ADD PRIMARY KEY ({key});",
                unkeyed_columns(table)
            ))
            .unwrap();
            assert_eq!(shape("again"), shape(table), "{table}");
            assert!(shape(table).iter().any(|c| c.starts_with("PRIMARY KEY")), "{table}");
            conn.execute_batch("DROP TABLE again").unwrap();
        }
    }

    /// A copy while a read holds a write open (the member facts are made through reads)
    /// still copies: it reads one snapshot, the write's rows are not in it, and the store
    /// answers on the new file after.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_copy_goes_on_while_a_read_writes_and_answers_on_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = Analytics::open(&dir.path().join("a.duckdb")).unwrap();
        a.writer().execute_batch("INSERT INTO stores VALUES ('S1', 'One', 'East', 'Shanghai', 'store')").unwrap();
        Analytics::ask_for_copy(&a.writer(), "test").unwrap();
        let (started, finish) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let reader = a.clone();
        let reading = tokio::spawn(async move {
            reader
                .read(move |conn| {
                    conn.execute_batch("BEGIN; INSERT INTO data_changes VALUES (now())")?;
                    started.0.send(()).unwrap();
                    finish.1.recv().unwrap();
                    conn.execute_batch("COMMIT")?;
                    Ok(())
                })
                .await
        });
        started.1.recv().unwrap();
        let copy = {
            let a = a.clone();
            tokio::task::spawn_blocking(move || a.rewrite())
        };
        // The copy is made while the read runs; the swap waits for it.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(dir.path().join("a.rewrite").exists() || copy.is_finished());
        finish.0.send(()).unwrap();
        reading.await.unwrap().unwrap();
        copy.await.unwrap().unwrap();
        let conn = a.reader().unwrap();
        assert_eq!(Analytics::counts(&conn).unwrap()[0], ("stores", 1));
        assert!(!Analytics::copy_wanted(&conn).unwrap());
        assert!(!dir.path().join("a.rewrite").exists());
    }

    #[test]
    fn readers_are_not_held_up_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let a = Analytics::open(&dir.path().join("a.duckdb")).unwrap();
        let writer = a.writer();
        writer.execute_batch("BEGIN; INSERT INTO stores (store_id) VALUES ('S1');").unwrap();
        // While the writer is held mid-transaction, a reader opens and sees the last commit.
        let reader = a.reader().unwrap();
        let n: i64 = reader.query_row("SELECT count(*) FROM stores", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        writer.execute_batch("COMMIT").unwrap();
        let n: i64 = a.reader().unwrap().query_row("SELECT count(*) FROM stores", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn the_memory_limit_holds_for_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let a = Analytics::open(&dir.path().join("a.duckdb")).unwrap();
        a.limit_memory("300MB").unwrap();
        let limit: String =
            a.reader().unwrap().query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0)).unwrap();
        assert!(limit.starts_with("286") || limit.starts_with("300"), "{limit}");
        assert!(a.limit_memory("1GB'; DROP TABLE members; --").is_err());
    }
}
