//! Opening the analytics store: its schema brought up to date (the derived tables filled
//! when a version adds them) and a bulk load that did not finish folding recovered.

use std::path::Path;

use duckdb::Connection;

use crate::{
    Error, Result,
    store::{
        Analytics, Seal,
        schema::{DERIVED_VERSIONS, SCHEMA},
        seal::{ENV_KEY, KEY_FILE, KeySource, SEALED},
    },
};

impl Analytics {
    /// Opens (creating if needed) the DuckDB file and brings its schema up to date, with
    /// the privacy key from the environment or the file's directory.
    pub fn open(path: &Path) -> Result<Self> {
        Analytics::open_with(path, &KeySource::default())
    }

    /// Opens (creating if needed) the DuckDB file with the privacy key from `source`
    /// (`crate::store::seal`) and brings its schema up to date. A key that is not the
    /// store's, or none for a store that has one, stops here, before anything is changed;
    /// a store without a key yet gets one (a new `privacy.key` if none was given), and its
    /// names and phones are sealed.
    pub fn open_with(path: &Path, source: &KeySource) -> Result<Self> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(path)?;
        let seal = match (Seal::find(source, dir)?, stored_check(&conn)?) {
            (Some(seal), Some(check)) if seal.check() != check => {
                return Err(Error::Load(format!(
                    "{}: the privacy key from {} is not the key this store's personal data is sealed with; \
                     nothing was changed (give the store's key with --privacy-key-file or {ENV_KEY})",
                    path.display(),
                    seal.origin(),
                )));
            }
            (Some(seal), _) => seal,
            (None, Some(_)) => {
                return Err(Error::Load(format!(
                    "{}: this store's personal data is sealed with a privacy key, and none was found \
                     (not in {}, --privacy-key-file or {ENV_KEY}); nothing was changed",
                    path.display(),
                    dir.join(KEY_FILE).display(),
                )));
            }
            (None, None) => Seal::create(dir)?,
        };
        seal.register(&conn)?;
        // A checkpoint rewrites the primary-key indexes of the raw tables; at DuckDB's
        // default (every 16 MB of log) a steady ingest load checkpoints every few
        // seconds. Committed rows are in the log either way.
        conn.execute_batch("SET checkpoint_threshold = '1GB'")?;
        migrate(&conn)?;
        let sealed = seal_stored(&conn, &seal)?;
        super::summary::recover(&conn)?;
        let wanted = Analytics::copy_wanted(&conn)?;
        let analytics = Analytics::from_connection(path, conn, seal)?;
        if sealed > 0 {
            tracing::info!(rows = sealed, "sealed the names and phones stored before");
        }
        if wanted {
            // Old values (plain names before sealing, an erased member's) stay in blocks
            // DuckDB has let go of until the file is copied.
            let started = std::time::Instant::now();
            let (before, after) = analytics.rewrite()?;
            tracing::info!(before, after, secs = started.elapsed().as_secs_f64(), "copied the store anew");
        }
        Ok(analytics)
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

/// The check value of the key the store is sealed with, if it has one.
fn stored_check(conn: &Connection) -> Result<Option<String>> {
    let has: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'sealing'",
        [],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(None);
    }
    Ok(conn.query_row("SELECT max(key_check) FROM sealing", [], |r| r.get(0))?)
}

/// Seals the names and phones stored in plain text (by a version before 14, or by hand);
/// returns how many rows were sealed.
pub fn seal_plain(conn: &Connection) -> Result<usize> {
    let mut n = 0;
    for table in crate::store::seal::personal_tables(conn)? {
        n += conn.execute(
            &format!(
                "UPDATE {table}
                 SET name = CASE WHEN starts_with(name, '{SEALED}') THEN name ELSE mp_seal(name) END,
                     phone = CASE WHEN contains(phone, ':{SEALED}') THEN phone ELSE mp_seal_phone(phone) END
                 WHERE NOT starts_with(name, '{SEALED}') OR NOT contains(phone, ':{SEALED}')"
            ),
            [],
        )?;
    }
    Ok(n)
}

/// Seals the names and phones a store holds in plain text (stored before version 14)
/// and records the key's check value; returns how many rows were sealed.
fn seal_stored(conn: &Connection, seal: &Seal) -> Result<usize> {
    if stored_check(conn)?.is_some() {
        return Ok(0);
    }
    conn.execute_batch("BEGIN TRANSACTION")?;
    let sealed = (|| -> Result<usize> {
        let n = seal_plain(conn)?;
        conn.execute("INSERT INTO sealing VALUES (?, CAST(now() AS TIMESTAMP))", [seal.check()])?;
        if n > 0 {
            Analytics::ask_for_copy(conn, "sealing")?;
        }
        Ok(n)
    })();
    match sealed {
        Ok(n) => {
            conn.execute_batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK")?;
            Err(e)
        }
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
