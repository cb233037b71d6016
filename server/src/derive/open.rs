//! Opening the analytics store: its schema brought up to date (the derived tables filled
//! when a version adds them) and a bulk load that did not finish folding recovered.

use std::path::Path;

use duckdb::Connection;

use crate::{
    Result,
    store::{
        Analytics,
        schema::{DERIVED_VERSIONS, SCHEMA},
    },
};

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
        super::summary::recover(&conn)?;
        Analytics::from_connection(path, conn)
    }

    /// Caps DuckDB's memory (a size already checked by the command line, e.g. `8GB`); work
    /// above it spills to disk. The setting is the database's, so every connection has it.
    pub fn limit_memory(&self, size: &str) -> Result<()> {
        let ok = size.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !ok {
            return Err(crate::Error::Load(format!("{size:?} is not a memory size")));
        }
        self.writer().execute_batch(&format!("SET memory_limit = '{size}'"))?;
        Ok(())
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)",
    )?;
    // Every change of the raw data appends a row here (crate::derive::facts), the rebuilds
    // below too, so it comes before any version.
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS data_changes (changed_at TIMESTAMP NOT NULL);
         CREATE TABLE IF NOT EXISTS score_changes (changed_at TIMESTAMP NOT NULL);",
    )?;
    let current: i32 = conn.query_row("SELECT coalesce(max(version), 0) FROM schema_version", [], |r| r.get(0))?;
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
            super::summary::rebuild(conn)?;
            conn.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [version])?;
        }
        tracing::info!(version, "analytics schema applied");
    }
    Ok(())
}
