//! Data loads: the history, a file the CLI names inside the import folder, uploads.

use std::time::Instant;

use crate::load::import::Kind;
use crate::load::ingest::{IngestReport, Landed, records, validate};

use super::*;

/// How many rejected rows of one load a page lists.
pub const REJECTS_SHOWN: usize = 1000;

impl Services {
    /// The latest data loads, newest first (admins).
    pub async fn loads(&self, who: &Caller, limit: i64) -> Result<Vec<operational::LoadRecord>> {
        who.require(Role::Admin)?;
        operational::recent_loads(&self.ops, limit).await
    }

    /// The first [`REJECTS_SHOWN`] rows load `id` rejected, in file order (admins; the
    /// load's record has how many there were).
    pub async fn load_rejects(&self, who: &Caller, id: i64) -> Result<Vec<app::model::LoadReject>> {
        who.require(Role::Admin)?;
        let report = operational::load_report(&self.ops, id).await?;
        let report: LoadReport = serde_json::from_str(&report)
            .map_err(|e| Error::Internal(format!("load {id}: its stored report does not read: {e}")))?;
        Ok(report
            .rejected
            .into_iter()
            .take(REJECTS_SHOWN)
            .map(|r| app::model::LoadReject { line: r.line, field: r.field, value: r.value, reason: r.reason })
            .collect())
    }

    /// Loads one file through the single writer and records the load; `progress` hears
    /// the stages (the CLI shows them on a spinner).
    pub async fn load(
        &self,
        who: &Caller,
        request: LoadRequest,
        progress: Option<Box<dyn Fn(&str) + Send>>,
    ) -> Result<LoadReport> {
        who.require(Role::Admin)?;
        audit::record(&self.ops, who, "data.load", Some(&request.display_name()), None).await?;
        let report = self
            .analytics
            .write_bulk(move |conn, landing| {
                let progress = progress.as_deref().map(|p| p as &dyn Fn(&str));
                let landed = import::land(conn, &request, progress)?;
                // Batches land again while the load folds (they wait for the folder).
                drop(landing);
                landed.fold(progress)
            })
            .await?;
        operational::record_load(&self.ops, &report).await?;
        if report.inserted_total() > 0 {
            self.data_landed();
        }
        Ok(report)
    }

    /// A load the `memberpulse` command on this machine names (`POST /api/v1/loads` with
    /// the local secret): the file must lie inside the import folder, named relative to it
    /// or in full, with no link or `..` leading out. Nobody else names a path: they upload.
    pub async fn load_named(&self, who: &Caller, request: LoadRequest) -> Result<LoadReport> {
        if who.via != crate::access::Via::Local {
            return Err(Error::Forbidden(
                "only the memberpulse command on this machine names a file for the server to read; \
                 upload the file instead (POST /api/v1/loads/upload, or the admin page)"
                    .into(),
            ));
        }
        let path = inside(&self.import_dir, &request.path)?;
        self.load(who, LoadRequest { path, ..request }, None).await
    }

    /// Where an upload named `name` is kept until it is loaded: a fresh file in the import
    /// folder whose name keeps the upload's extension (CSV or Parquet); see [`Upload`].
    pub fn upload_file(&self, name: &str) -> Result<Upload> {
        let tidy: String = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect();
        // Short enough for any file system (with the prefix), keeping the extension.
        let tidy = tidy.trim_start_matches('.');
        let tidy = match tidy.char_indices().nth(100) {
            Some((cut, _)) => {
                let ext = tidy.rfind('.').map_or("", |i| &tidy[i..]);
                format!("{}{}", &tidy[..cut.min(tidy.len() - ext.len())], if ext.len() <= 16 { ext } else { "" })
            }
            None => tidy.to_string(),
        };
        let path = self
            .import_dir
            .join(format!(".upload-{}-{tidy}", crate::access::users::secret("").get(..16).unwrap_or("")));
        Ok(Upload { path, name: name.chars().take(200).collect() })
    }
}

/// An uploaded file kept in the import folder while it is loaded; removed when dropped.
pub struct Upload {
    pub path: PathBuf,
    /// The name it was uploaded with (what reports call it).
    pub name: String,
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `asked` (relative to `folder`, or absolute) as a file inside `folder`: every link and
/// `..` resolved first, so none leads out. A 400 naming `path` otherwise, saying nothing
/// of what is there.
pub fn inside(folder: &Path, asked: &Path) -> Result<PathBuf> {
    let root = folder.canonicalize().map_err(|_| Error::bad_param("path", "the server's import folder is missing"))?;
    // One answer whether the file is missing or lies elsewhere: nothing is told of what
    // is outside the folder.
    let bad = || {
        Error::bad_param(
            "path",
            format!("{}: no such file inside the server's import folder {}", asked.display(), root.display()),
        )
    };
    let joined = if asked.is_absolute() { asked.to_path_buf() } else { root.join(asked) };
    let real = joined.canonicalize().map_err(|_| bad())?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(bad());
    }
    Ok(real)
}

/// Request bodies parsed at once (each up to 64 MiB, its JSON tree several times that).
const PARSING: usize = 2;
static PARSE_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PARSING);

impl Services {
    /// Validates one ingest request's body for `kind` and lands its good rows (with
    /// whatever other requests wait meanwhile, see [`Waiting`]): ingest tokens and the
    /// CLI's secret only.
    pub async fn ingest(
        &self,
        who: &Caller,
        kind: Kind,
        identity: Option<&str>,
        body: axum::body::Bytes,
    ) -> Result<IngestReport> {
        who.require_ingest()?;
        let identity = match identity {
            None => None,
            Some(text) => {
                let identity = crate::derive::identities::kind("member_identity", text)?;
                if !matches!(kind, Kind::Orders | Kind::Points | Kind::TierChanges) {
                    return Err(Error::bad_param(
                        "member_identity",
                        format!(
                            "only orders, points and tier changes name members by an identity, not {}",
                            kind.name()
                        ),
                    ));
                }
                Some(identity)
            }
        };
        let services = self;
        let started = Instant::now();
        // Parsing and checking a body of up to 64 MiB is CPU work and memory (a JSON tree of
        // it): it runs on a blocking thread, at most PARSING at once (the others wait).
        let permit = PARSE_PERMITS.acquire().await.map_err(|_| Error::Internal("parse permits closed".into()))?;
        let zone = services.zone;
        let (received, good, mut rejected) = tokio::task::spawn_blocking(move || -> Result<_> {
            let records = records(&body)?;
            let received = records.len();
            let (good, rejected) = validate(kind, records, zone);
            Ok((received, good, rejected))
        })
        .await??;
        drop(permit);
        let good = match identity {
            None => good,
            Some(identity) => {
                let (named, unknown) = self.members_by_identity(kind, identity, good).await?;
                rejected.extend(unknown);
                named
            }
        };
        let landed = if good.is_empty() {
            Landed::default()
        } else {
            services
                .waiting
                .submit(kind, good, &services.analytics)
                .await
                .map_err(|_| Error::Internal("the lander stopped before answering".into()))??
        };
        let Landed { inserted, duplicates, refused } = landed;
        rejected.extend(refused);
        rejected.sort_by_key(|r| r.index);
        if inserted > 0 {
            if crate::derive::landing::TRACKED.contains(&kind.name()) {
                // Folded into the summary within a second; the fold tells the pages.
                services.landed.notify_one();
            } else {
                // Stores, order items and tier changes are not folded: they change figures
                // (tiers, favourite categories) now.
                services.data_landed();
            }
        }
        Ok(IngestReport {
            table: kind.name().to_string(),
            received,
            inserted,
            duplicates,
            rejected,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

impl Services {
    /// Rows whose `member_id` holds an identity of `identity`, with the member who has it
    /// in its place; rows no one member has are rejected by index (a row without a member,
    /// a guest sale, stays as it is).
    async fn members_by_identity(
        &self,
        kind: Kind,
        identity: &'static str,
        rows: Vec<(usize, crate::load::ingest::Row)>,
    ) -> Result<(Vec<(usize, crate::load::ingest::Row)>, Vec<crate::load::ingest::IngestReject>)> {
        let at = kind.fields().iter().position(|f| f.name == "member_id").unwrap_or_default();
        let mut values: Vec<String> = rows.iter().filter_map(|(_, r)| r[at].clone()).collect();
        values.sort();
        values.dedup();
        let owners: std::collections::HashMap<String, String> = self
            .analytics
            .read(move |conn| {
                conn.execute_batch("CREATE OR REPLACE TEMP TABLE mp_identity_values (v VARCHAR)")?;
                {
                    let mut appender = conn.appender("mp_identity_values")?;
                    for v in &values {
                        appender.append_row([v])?;
                    }
                    appender.flush()?;
                }
                let mut stmt = conn.prepare(&format!(
                    "SELECT v, owner FROM (SELECT v, {} AS owner FROM mp_identity_values) WHERE owner IS NOT NULL",
                    crate::derive::identities::owner(identity, "v")
                ))?;
                let found = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<duckdb::Result<_>>()?;
                conn.execute_batch("DROP TABLE mp_identity_values")?;
                Ok(found)
            })
            .await?;
        let (mut named, mut unknown) = (Vec::new(), Vec::new());
        for (index, mut row) in rows {
            match row[at].clone() {
                Some(value) => match owners.get(&value) {
                    Some(owner) => {
                        row[at] = Some(owner.clone());
                        named.push((index, row));
                    }
                    None => unknown.push(crate::load::ingest::IngestReject {
                        index,
                        field: "member_id".into(),
                        value: Some(value),
                        reason: format!(
                            "no one member has this {identity} (none has it, or members who are not merged into one do)"
                        ),
                    }),
                },
                None => named.push((index, row)),
            }
        }
        Ok((named, unknown))
    }
}
