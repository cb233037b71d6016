//! The ingest API's engine: rows posted as a JSON array or NDJSON are validated field by
//! field (the data contract of [`crate::load::import::Kind`]), and the good ones land in one
//! DuckDB transaction together with their `pending_<table>` copies (requests waiting
//! meanwhile land together, see [`Waiting`]). A folder task then
//! folds everything that landed into the member summary ([`summary::fold`]) at most every
//! [`FOLD_EVERY`], so a steady stream of small batches costs one fold per interval.
//!
//! A re-sent row with a known id is a no-op (the table's primary key decides), so a
//! client whose request failed or timed out simply sends the same batch again.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use duckdb::{Connection, appender_params_from_iter, types::Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use tokio::sync::oneshot;

use crate::{
    Error, Result,
    derive::landing::{self, Queue},
    load::import::{FALSE_TEXTS, Field, Kind, TRUE_TEXTS, Type},
    store::analytics::Analytics,
};

/// How often landed rows are folded into the summary while batches keep arriving.
pub const FOLD_EVERY: Duration = Duration::from_millis(1000);

/// How long a lander keeps the ingest connection while requests keep coming.
const LANDER_TURN: Duration = Duration::from_secs(1);

/// The tables the ingest API takes.
pub const TABLES: [Kind; 7] = [
    Kind::Stores,
    Kind::Members,
    Kind::Orders,
    Kind::OrderItems,
    Kind::Points,
    Kind::TierChanges,
    Kind::MemberIdentities,
];

/// One rejected row of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestReject {
    /// The row's position in the request, from 0 (array element or NDJSON record).
    pub index: usize,
    pub field: String,
    pub value: Option<String>,
    pub reason: String,
}

/// What one ingest request did.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub table: String,
    /// Rows in the request.
    pub received: usize,
    /// Rows that landed now.
    pub inserted: i64,
    /// Valid rows whose id was already stored or came earlier in the same request.
    pub duplicates: i64,
    pub rejected: Vec<IngestReject>,
    pub seconds: f64,
}

/// The table named in the path, if the ingest API takes it.
pub fn table(name: &str) -> Result<Kind> {
    let kind = Kind::parse(name).map_err(|_| not_ingested(name))?;
    if TABLES.contains(&kind) { Ok(kind) } else { Err(not_ingested(name)) }
}

fn not_ingested(name: &str) -> Error {
    let names: Vec<_> = TABLES.iter().map(|k| k.name()).collect();
    Error::bad_param("table", format!("expected one of {}, got {name:?}", names.join(", ")))
}

/// Splits a body into records: a JSON array, or NDJSON (one object per line, blank lines
/// skipped). A record that is not a JSON object is kept as its error.
pub fn records(body: &[u8]) -> Result<Vec<std::result::Result<Map<String, Json>, String>>> {
    let text = std::str::from_utf8(body).map_err(|e| Error::bad_param("body", format!("not UTF-8: {e}")))?;
    let object = |v: Json| match v {
        Json::Object(m) => Ok(m),
        other => Err(format!("expected a JSON object, got {}", kind_of(&other))),
    };
    if text.trim_start().starts_with('[') {
        let rows: Vec<Json> =
            serde_json::from_str(text).map_err(|e| Error::bad_param("body", format!("not a JSON array: {e}")))?;
        Ok(rows.into_iter().map(object).collect())
    } else {
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| serde_json::from_str::<Json>(line).map_err(|e| format!("not JSON: {e}")).and_then(object))
            .collect())
    }
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A valid row: each field of the table as normalised text (or NULL), in field order.
pub type Row = Vec<Option<String>>;

/// Validates every record; returns the good rows (with their index) and the rejects (the
/// first problem of each bad row).
pub fn validate(
    kind: Kind,
    records: Vec<std::result::Result<Map<String, Json>, String>>,
    zone: Tz,
) -> (Vec<(usize, Row)>, Vec<IngestReject>) {
    let fields = kind.fields();
    let mut good = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        let checked = record
            .map_err(|reason| FieldError { field: "(row)".into(), value: None, reason })
            .and_then(|r| check_row(fields, &r, zone));
        match checked {
            Ok(row) => good.push((index, row)),
            Err(FieldError { field, value, reason }) => rejected.push(IngestReject { index, field, value, reason }),
        }
    }
    (good, rejected)
}

/// A row's first problem.
struct FieldError {
    field: String,
    value: Option<String>,
    reason: String,
}

fn check_row(fields: &[Field], record: &Map<String, Json>, zone: Tz) -> std::result::Result<Row, FieldError> {
    if let Some(unknown) = record.keys().find(|k| !fields.iter().any(|f| f.name == k.as_str())) {
        let names: Vec<_> = fields.iter().map(|f| f.name).collect();
        return Err(FieldError {
            field: unknown.clone(),
            value: None,
            reason: format!("unknown field; fields are {}", names.join(", ")),
        });
    }
    let mut row = Vec::with_capacity(fields.len());
    for field in fields {
        let value = record.get(field.name).filter(|v| !v.is_null());
        let text = match value {
            None => None,
            Some(v) => check_value(field.ty, v, zone).map_err(|reason| FieldError {
                field: field.name.into(),
                value: Some(match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                }),
                reason,
            })?,
        };
        if text.is_none() && field.required {
            return Err(FieldError { field: field.name.into(), value: None, reason: "missing".into() });
        }
        row.push(text);
    }
    // Points are positive; the kind gives the sign (an adjustment may be either).
    if let (Some(k), Some(p)) =
        (fields.iter().position(|f| f.name == "kind"), fields.iter().position(|f| f.name == "points"))
        && row[k].as_deref() != Some("adjust")
        && row[p].as_deref().and_then(|p| p.parse::<i64>().ok()).is_some_and(|p| p <= 0)
    {
        return Err(FieldError {
            field: "points".into(),
            value: row[p].clone(),
            reason: "must be positive (the kind gives the sign)".into(),
        });
    }
    Ok(row)
}

/// One value as the text DuckDB casts exactly; `Ok(None)` for an empty string.
fn check_value(ty: Type, v: &Json, zone: Tz) -> std::result::Result<Option<String>, String> {
    let text = match v {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) if !matches!(ty, Type::Timestamp | Type::Enum(_)) => n.to_string(),
        Json::Bool(b) if matches!(ty, Type::Bool) => b.to_string(),
        _ => return Err(format!("not {}", ty.describe())),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("not {}", ty.describe());
    Ok(Some(match ty {
        Type::Text => text,
        Type::Timestamp => timestamp(&text, zone).ok_or_else(bad)?,
        Type::Money | Type::Price => cents(&text).ok_or_else(bad)?,
        Type::Int => whole(&text).ok_or_else(bad)?,
        Type::Enum(values) => {
            let lower = text.to_lowercase();
            values.iter().find(|v| **v == lower).ok_or_else(bad)?.to_string()
        }
        Type::Bool => {
            let lower = text.to_lowercase();
            match (TRUE_TEXTS.contains(&lower.as_str()), FALSE_TEXTS.contains(&lower.as_str())) {
                (true, _) => "true".into(),
                (_, true) => "false".into(),
                _ => return Err(bad()),
            }
        }
    }))
}

/// ISO-8601: a date, a local date-time (the retailer's), or one with an offset or `Z`,
/// turned into the retailer's local time in `zone`.
pub(crate) fn timestamp(text: &str, zone: Tz) -> Option<String> {
    let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&zone).naive_local()))
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    // Within the dates a caller may name (a year-9999 order would make every default T
    // one no date arithmetic can take).
    if !crate::metrics::DATES.contains(&local.date()) {
        return None;
    }
    Some(local.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
}

/// A decimal with at most two decimals, within money's bounds (`Type::number_shape`).
fn cents(text: &str) -> Option<String> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let frac = frac.trim_end_matches('0');
    let (_, scale, places) = Type::Money.number_shape().unwrap_or_default();
    let ok = !digits.is_empty()
        && digits.len() <= places as usize
        && digits.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= scale as usize
        && frac.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| if frac.is_empty() { whole.to_string() } else { format!("{whole}.{frac}") })
}

/// A whole number; `6.0` reads as 6.
fn whole(text: &str) -> Option<String> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    (frac.bytes().all(|b| b == b'0') && int.parse::<i64>().is_ok_and(|n| n.unsigned_abs() < Type::Int.number_bound()))
        .then(|| int.to_string())
}

/// Validated requests waiting to land. Whoever holds the ingest connection lands every
/// request waiting: consecutive requests of members, orders or points together, up to
/// [`landing::SMALL_BATCH`] rows, in one transaction, so a steady stream of small
/// requests pays one transaction (and one log write) per group rather than per request.
/// Each request still lands whole or not at all, and is answered once its rows are
/// committed. One lander at a time works through the queue; a request finding none at
/// work starts one.
#[derive(Default)]
pub struct Waiting {
    queue: Mutex<VecDeque<Request>>,
    landing: AtomicBool,
}

struct Request {
    kind: Kind,
    rows: Vec<(usize, Row)>,
    answer: oneshot::Sender<Result<Landed>>,
}

impl Waiting {
    /// Queues `rows` of `kind` to land (starting a lander unless one is at work); the
    /// answer comes once they are committed.
    pub fn submit(
        self: &Arc<Self>,
        kind: Kind,
        rows: Vec<(usize, Row)>,
        analytics: &Analytics,
    ) -> oneshot::Receiver<Result<Landed>> {
        let (answer, answered) = oneshot::channel();
        self.push(Request { kind, rows, answer }, analytics);
        answered
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Request>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a request, and starts a lander unless one is at work.
    fn push(self: &Arc<Self>, request: Request, analytics: &Analytics) {
        self.queue().push_back(request);
        if !self.landing.swap(true, Ordering::SeqCst) {
            self.start(analytics);
        }
    }

    /// Runs a lander on the ingest connection (once a bulk load, which holds it, is done).
    fn start(self: &Arc<Self>, analytics: &Analytics) {
        let (this, analytics) = (self.clone(), analytics.clone());
        tokio::spawn(async move {
            let again = analytics.clone();
            let landed = analytics
                .land(move |conn| {
                    this.land_all(conn, &again);
                    Ok(())
                })
                .await;
            if let Err(e) = landed {
                tracing::error!(error = %e, "the lander stopped");
            }
        });
    }

    /// The next requests to land together: the first waiting, and those after it of the
    /// same kind (members, orders or points, whose landed keys come back) up to the cap.
    fn next_group(&self) -> Vec<Request> {
        let mut queue = self.queue();
        let Some(first) = queue.pop_front() else { return Vec::new() };
        let (kind, mut rows) = (first.kind, first.rows.len());
        let mut group = vec![first];
        if landing::TRACKED.contains(&kind.name()) {
            while let Some(next) = queue.front()
                && next.kind == kind
                && (rows + next.rows.len()) as i64 <= landing::SMALL_BATCH
            {
                rows += next.rows.len();
                group.extend(queue.pop_front());
            }
        }
        group
    }

    /// Lands every waiting request, group by group, and answers each; then stops being
    /// the lander. After [`LANDER_TURN`] with requests still coming, it lets go of the
    /// connection and carries on in a new task, so a bulk load waiting for it gets its turn.
    fn land_all(self: &Arc<Self>, conn: &mut Connection, analytics: &Analytics) {
        // A landing that panics fails its requests, not the lander (its transaction rolls
        // back as it unwinds).
        let mut land = |kind: Kind, batches: &[&[(usize, Row)]]| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| land(conn, kind, batches)))
                .unwrap_or_else(|_| Err(Error::Internal("landing a request panicked".into())))
        };
        let began = Instant::now();
        loop {
            if began.elapsed() > LANDER_TURN {
                self.start(analytics);
                return;
            }
            let group = self.next_group();
            let Some(kind) = group.first().map(|r| r.kind) else {
                self.landing.store(false, Ordering::SeqCst);
                // A request queued between the empty look and now found a lander at
                // work: take it, unless a new lander already has.
                if self.queue().is_empty() || self.landing.swap(true, Ordering::SeqCst) {
                    return;
                }
                continue;
            };
            let started = Instant::now();
            let batches: Vec<&[(usize, Row)]> = group.iter().map(|r| r.rows.as_slice()).collect();
            match land(kind, &batches) {
                Ok(counts) => {
                    tracing::debug!(
                        requests = group.len(),
                        rows = batches.iter().map(|b| b.len()).sum::<usize>(),
                        ms = started.elapsed().as_millis() as u64,
                        "requests landed"
                    );
                    for (request, count) in group.into_iter().zip(counts) {
                        let _ = request.answer.send(Ok(count));
                    }
                }
                // One request's failure is not the others': each lands on its own.
                Err(e) if group.len() > 1 => {
                    tracing::warn!(error = %e, requests = group.len(), "a group failed to land; landing its requests one by one");
                    for request in group {
                        let landed = land(kind, &[&request.rows]).map(|mut each| each.remove(0));
                        let _ = request.answer.send(landed);
                    }
                }
                Err(e) => {
                    if let Some(request) = group.into_iter().next() {
                        let _ = request.answer.send(Err(e));
                    }
                }
            }
        }
    }
}

/// What landing one request did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Landed {
    pub inserted: i64,
    /// Valid rows whose key was already stored or came earlier.
    pub duplicates: i64,
    /// Valid rows refused when they met the store: order lines without numbers whose
    /// order has other lines stored (see [`crate::lines`]).
    pub refused: Vec<IngestReject>,
}

/// Lands the good rows of some requests of one kind in one transaction; answers what
/// became of each. Several requests only for members, orders or points. Rows naming an
/// erased member (by id or phone) are refused: the person does not come back
/// (`crate::derive::personal`).
pub fn land(conn: &mut Connection, kind: Kind, requests: &[&[(usize, Row)]]) -> Result<Vec<Landed>> {
    let erased = erased_rows(conn, kind, requests)?;
    if erased.iter().all(Vec::is_empty) {
        return land_kept(conn, kind, requests);
    }
    let kept: Vec<Vec<(usize, Row)>> = requests
        .iter()
        .zip(&erased)
        .map(|(batch, refused)| batch.iter().filter(|(i, _)| !refused.iter().any(|r| r.index == *i)).cloned().collect())
        .collect();
    let kept: Vec<&[(usize, Row)]> = kept.iter().map(Vec::as_slice).collect();
    let landed = land_kept(conn, kind, &kept)?;
    Ok(landed
        .into_iter()
        .zip(erased)
        .map(|(mut landed, mut refused)| {
            refused.append(&mut landed.refused);
            refused.sort_by_key(|r| r.index);
            Landed { refused, ..landed }
        })
        .collect())
}

/// The rows of each request that name an erased member, refused with the reason.
fn erased_rows(conn: &Connection, kind: Kind, requests: &[&[(usize, Row)]]) -> Result<Vec<Vec<IngestReject>>> {
    let mut refused: Vec<Vec<IngestReject>> = requests.iter().map(|_| Vec::new()).collect();
    let at = |name: &str| kind.fields().iter().position(|f| f.name == name);
    let (id_at, phone_at) = (at("member_id"), at("phone"));
    if id_at.is_none() && phone_at.is_none() {
        return Ok(refused);
    }
    let text = |row: &Row, at: Option<usize>| at.and_then(|i| row[i].clone());
    let rows = requests.iter().enumerate().flat_map(|(request, batch)| {
        batch.iter().map(move |(index, row)| (request, *index, text(row, id_at), text(row, phone_at)))
    });
    for (request, index, field) in crate::derive::personal::erased_in(conn, rows)? {
        let reason = crate::derive::personal::ERASED.to_string();
        refused[request].push(IngestReject { index, field: field.into(), value: None, reason });
    }
    Ok(refused)
}

fn land_kept(conn: &mut Connection, kind: Kind, requests: &[&[(usize, Row)]]) -> Result<Vec<Landed>> {
    let sizes: Vec<i64> = requests.iter().map(|r| r.len() as i64).collect();
    if sizes.iter().all(|n| *n == 0) {
        return Ok(sizes.iter().map(|_| Landed::default()).collect());
    }
    let fields = kind.fields();
    let key = landing::key_of(kind.name());
    // The first row of each key wins (in request order); the others are duplicates.
    // Single keys are de-duplicated here, remembering whose row landed; composite ones
    // (order lines may be numbered below) in SQL.
    let single = fields.iter().position(|f| f.name == key);
    let mut owner: HashMap<Option<String>, usize> = HashMap::new();
    let mut rows: Vec<&(usize, Row)> = Vec::new();
    for (request, batch) in requests.iter().enumerate() {
        for row in batch.iter() {
            match single {
                Some(k) => {
                    if let Entry::Vacant(e) = owner.entry(row.1[k].clone()) {
                        e.insert(request);
                        rows.push(row);
                    }
                }
                None => rows.push(row),
            }
        }
    }
    let columns: Vec<String> = fields.iter().map(|f| format!("{} VARCHAR", f.name)).collect();
    conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE mp_ingest (mp_index BIGINT, {})", columns.join(", ")))?;
    {
        let mut appender = conn.appender("mp_ingest")?;
        for (index, row) in &rows {
            let values = std::iter::once(Value::BigInt(*index as i64))
                .chain(row.iter().map(|v| v.as_ref().map_or(Value::Null, |t| Value::Text(t.clone()))));
            appender.append_row(appender_params_from_iter(values))?;
        }
        appender.flush()?;
    }
    // Order lines without numbers that would take numbers an order's stored lines have:
    // refused (one request at a time lands order lines; one lander lands at a time).
    let mut refused = Vec::new();
    if kind == Kind::OrderItems
        && crate::load::lines::find_collisions(
            conn,
            "(SELECT mp_index AS key, order_id, CAST(line_no AS INTEGER) AS line_no, sku, CAST(quantity AS INTEGER) AS quantity,
                     CAST(amount AS DECIMAL(18,2)) AS amount, category FROM mp_ingest)",
            &[],
        )? > 0
    {
        for (index, reason) in crate::load::lines::collisions(conn)? {
            refused.push(IngestReject { index: index as usize, field: "line_no".into(), value: None, reason });
        }
        conn.execute_batch("DELETE FROM mp_ingest WHERE mp_index IN (SELECT key FROM mp_collide)")?;
    }
    let typed: Vec<String> = fields
        .iter()
        .map(|f| {
            let ty = match f.ty {
                Type::Timestamp => "TIMESTAMP",
                Type::Money | Type::Price => "DECIMAL(18,2)",
                Type::Int => "BIGINT",
                Type::Text | Type::Enum(_) => "VARCHAR",
                Type::Bool => "BOOLEAN",
            };
            if f.name == "line_no" {
                // Lines without a number are numbered per order in request order.
                "CAST(coalesce(CAST(line_no AS INTEGER), row_number() OVER (PARTITION BY order_id ORDER BY mp_index)) AS INTEGER) AS line_no".to_string()
            } else {
                format!("CAST({0} AS {ty}) AS {0}", f.name)
            }
        })
        .collect();
    let mut rows_sql = format!("SELECT mp_index, {} FROM mp_ingest", typed.join(", "));
    if single.is_none() {
        rows_sql =
            format!("SELECT * FROM ({rows_sql}) QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY mp_index) = 1");
    }
    let rows_sql = format!("(SELECT * EXCLUDE (mp_index) FROM ({rows_sql}))");
    let tx = conn.transaction()?;
    let inserted = if requests.len() == 1 {
        vec![landing::land_new(&tx, kind.name(), &rows_sql, &[], Queue::Stored)?]
    } else {
        let mut inserted = vec![0; requests.len()];
        let landed = landing::land_indexed(&tx, kind.name(), &rows_sql)?;
        if !landed.is_empty() {
            crate::derive::facts::changed(&tx)?;
        }
        for landed in landed {
            if let Some(request) = owner.get(&Some(landed)) {
                inserted[*request] += 1;
            }
        }
        inserted
    };
    tx.execute_batch("DROP TABLE mp_ingest")?;
    tx.commit()?;
    let mut refused = Some(refused);
    Ok(inserted
        .into_iter()
        .zip(sizes)
        .map(|(i, n)| {
            // Only a lone request is ever refused rows (order lines land one by one).
            let refused = refused.take().unwrap_or_default();
            Landed { inserted: i, duplicates: n - i - refused.len() as i64, refused }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_exactly() {
        assert_eq!(cents("12.3").as_deref(), Some("12.3"));
        assert_eq!(cents("-0.50").as_deref(), Some("-0.5"));
        assert_eq!(cents("12.345"), None);
        assert_eq!(cents("1e3"), None);
        assert_eq!(whole("6.0").as_deref(), Some("6"));
        assert_eq!(whole("6.5"), None);
        let utc = chrono_tz::UTC;
        assert_eq!(timestamp("2026-06-30", utc).as_deref(), Some("2026-06-30 00:00:00.000000"));
        assert_eq!(timestamp("2026-06-30T10:00:00+08:00", utc).as_deref(), Some("2026-06-30 02:00:00.000000"));
        assert_eq!(timestamp("30/06/2026", utc), None);
        // In Shanghai's zone, a UTC evening is the next morning; a local time stays.
        let shanghai = chrono_tz::Asia::Shanghai;
        assert_eq!(timestamp("2026-06-30T20:00:00Z", shanghai).as_deref(), Some("2026-07-01 04:00:00.000000"));
        assert_eq!(timestamp("2026-06-30T07:00:00+08:00", shanghai).as_deref(), Some("2026-06-30 07:00:00.000000"));
        assert_eq!(timestamp("2026-06-30 07:00:00", shanghai).as_deref(), Some("2026-06-30 07:00:00.000000"));
    }

    #[test]
    fn each_bad_row_is_named_by_index_field_and_reason() {
        let body = br#"{"order_id":"A","ordered_at":"2026-06-30T10:00:00","net_amount":12.5,"member_id":"M1"}
{"order_id":"B","ordered_at":"yesterday","net_amount":1}
not json
{"order_id":"C","ordered_at":"2026-06-30","net_amount":"1.234"}
{"order_id":"D","ordered_at":"2026-06-30","net_amount":1,"colour":"red"}
{"ordered_at":"2026-06-30","net_amount":1}
"#;
        let (good, rejected) = validate(Kind::Orders, records(body).unwrap(), chrono_tz::UTC);
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].1[2].as_deref(), Some("12.5"));
        let got: Vec<_> = rejected.iter().map(|r| (r.index, r.field.as_str(), r.value.as_deref())).collect();
        assert_eq!(
            got,
            [
                (1, "ordered_at", Some("yesterday")),
                (2, "(row)", None),
                (3, "net_amount", Some("1.234")),
                (4, "colour", None),
                (5, "order_id", None),
            ]
        );
        assert_eq!(rejected[0].reason, "not a date-time from 1900-01-01 to 2999-12-31");
        assert_eq!(rejected[4].reason, "missing");
        assert!(rejected[1].reason.starts_with("not JSON"), "{}", rejected[1].reason);
    }
}
