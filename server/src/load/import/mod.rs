//! Loads CSV and Parquet files into the analytics tables, read by DuckDB's own readers.
//!
//! A [`Mapping`] (TOML) says which column of the file feeds which field, so a retailer's
//! export loads as it is. Every row is validated; a bad row is reported with its line,
//! field, value and reason while the good rows land, all in one transaction. Rows whose
//! id is already stored are skipped, so loading the same file twice changes nothing.
//!
//! Nothing from the file or the mapping is pasted into SQL: the path, constants, formats
//! and messages are bound parameters, and a column name is used only after it was found
//! among the file's own columns, then quoted as an identifier.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use duckdb::{Connection, params_from_iter, types::Value};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    derive::summary::{self, Queue},
};

/// What a file holds: one of the data-contract tables, or invoice lines that become
/// orders, order items and (optionally) members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Stores,
    Members,
    Orders,
    OrderItems,
    Points,
    OrderLines,
    TierChanges,
}

impl Kind {
    pub fn parse(text: &str) -> Result<Kind> {
        Ok(match text {
            "stores" => Kind::Stores,
            "members" => Kind::Members,
            "orders" => Kind::Orders,
            "order_items" => Kind::OrderItems,
            "points" => Kind::Points,
            "order_lines" => Kind::OrderLines,
            "tier_changes" => Kind::TierChanges,
            _ => {
                return Err(Error::bad_param(
                    "table",
                    format!(
                        "expected stores, members, orders, order_items, points, tier_changes or order_lines, got {text:?}"
                    ),
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Stores => "stores",
            Kind::Members => "members",
            Kind::Orders => "orders",
            Kind::OrderItems => "order_items",
            Kind::Points => "points",
            Kind::OrderLines => "order_lines",
            Kind::TierChanges => "tier_changes",
        }
    }

    pub(crate) fn fields(self) -> &'static [Field] {
        use Type::*;
        const fn f(name: &'static str, ty: Type, required: bool) -> Field {
            Field { name, ty, required }
        }
        const CHANNELS: &[&str] = &["store", "app", "mini_program", "web"];
        const STORES: &[Field] = &[
            f("store_id", Text, true),
            f("name", Text, false),
            f("region", Text, false),
            f("city", Text, false),
            f("kind", Enum(&["store", "online"]), false),
        ];
        const MEMBERS: &[Field] = &[
            f("member_id", Text, true),
            f("joined_at", Timestamp, true),
            f("join_channel", Enum(CHANNELS), false),
            f("home_store_id", Text, false),
            f("region", Text, false),
            f("tier", Text, false),
            f("gender", Text, false),
            f("birth_year", Int, false),
            f("name", Text, false),
            f("phone", Text, false),
        ];
        const ORDERS: &[Field] = &[
            f("order_id", Text, true),
            f("ordered_at", Timestamp, true),
            f("net_amount", Money, true),
            f("member_id", Text, false),
            f("channel", Enum(CHANNELS), false),
            f("store_id", Text, false),
            f("item_count", Int, false),
            f("discount_amount", Money, false),
            f("coupon_id", Text, false),
        ];
        const ORDERITEMS: &[Field] = &[
            f("order_id", Text, true),
            f("sku", Text, true),
            f("quantity", Int, true),
            f("amount", Money, true),
            f("category", Text, false),
            f("line_no", Int, false),
        ];
        const POINTS: &[Field] = &[
            f("entry_id", Text, true),
            f("member_id", Text, true),
            f("occurred_at", Timestamp, true),
            f("kind", Enum(&["earn", "redeem", "expire", "adjust"]), true),
            f("points", Int, true),
            f("source", Enum(&["purchase", "review", "referral", "check_in", "campaign"]), false),
            f("order_id", Text, false),
        ];
        const ORDERLINES: &[Field] = &[
            f("order_id", Text, true),
            f("ordered_at", Timestamp, true),
            f("sku", Text, true),
            f("quantity", Int, true),
            f("unit_price", Price, true),
            f("member_id", Text, false),
            f("channel", Enum(CHANNELS), false),
            f("store_id", Text, false),
            f("category", Text, false),
            f("region", Text, false),
        ];
        const TIERCHANGES: &[Field] =
            &[f("member_id", Text, true), f("changed_at", Timestamp, true), f("tier", Text, true)];
        match self {
            Kind::TierChanges => TIERCHANGES,
            Kind::Stores => STORES,
            Kind::Members => MEMBERS,
            Kind::Orders => ORDERS,
            Kind::OrderItems => ORDERITEMS,
            Kind::Points => POINTS,
            Kind::OrderLines => ORDERLINES,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Type {
    Text,
    Timestamp,
    /// Exact to the cent: DECIMAL(18,2).
    Money,
    /// A unit price, kept to 1/10000 until multiplied by a quantity.
    Price,
    /// A whole number; `6.0` reads as 6, `6.5` is rejected.
    Int,
    Enum(&'static [&'static str]),
}

impl Type {
    pub(crate) fn describe(self) -> String {
        match self {
            Type::Text => "text".into(),
            Type::Timestamp => "a date-time from 1900-01-01 to 2999-12-31".into(),
            Type::Money => "an amount with at most 2 decimals, below 10,000,000,000".into(),
            Type::Price => "a price below 10,000,000,000 with at most 4 decimals".into(),
            Type::Int => "a whole number below 1,000,000,000".into(),
            Type::Enum(values) => format!("one of {}", values.join(", ")),
        }
    }

    /// For money, prices and whole numbers: the type their values are kept as, the
    /// decimals it keeps, and the digits before the point (values lie below 10^digits) —
    /// money below 1e10 with at most 2 decimals, prices below 1e10 with 4, whole numbers
    /// below 1e9. The bounds leave room for what adds them up: whole numbers fit the
    /// INTEGER columns (quantities, line numbers), and a member's summed cents or points
    /// stay far inside BIGINT.
    pub(crate) fn number_shape(self) -> Option<(&'static str, u32, u32)> {
        match self {
            Type::Money => Some(("DECIMAL(18,2)", 2, 10)),
            Type::Price => Some(("DECIMAL(18,4)", 4, 10)),
            Type::Int => Some(("BIGINT", 0, 9)),
            _ => None,
        }
    }

    /// 10^digits of [`Type::number_shape`], written as an exact integer in SQL (a DOUBLE
    /// 1e15 would round 999999999999999.99 up to it).
    pub(crate) fn number_bound(self) -> u64 {
        self.number_shape().map_or(0, |(_, _, digits)| 10u64.pow(digits))
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) ty: Type,
    pub(crate) required: bool,
}

/// Where a field's value comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Source {
    /// `field = "Column"`
    Column(String),
    Spec(SourceSpec),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The file's column.
    pub column: Option<String>,
    /// A constant used for every row instead of a column.
    pub value: Option<String>,
    /// For date-times: a strptime format such as `%d/%m/%Y %H:%M`.
    pub format: Option<String>,
    /// For ids exported as numbers (`17850.0`): drop a trailing `.0`.
    #[serde(default)]
    pub integer: bool,
}

/// How a retailer's file maps onto MemberPulse's tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub kind: Kind,
    /// Field → source. Fields not listed are read from a column of the same name, if any.
    #[serde(default)]
    pub fields: BTreeMap<String, Source>,
    /// CSV field separator (default `,`).
    pub delimiter: Option<String>,
    /// For order lines: orders whose id starts with this prefix are returns; their
    /// amounts count as negative whatever the sign in the file.
    pub return_prefix: Option<String>,
    /// For orders and order lines: members not yet stored are created from their orders,
    /// joined at their first order.
    #[serde(default)]
    pub derive_members: bool,
}

impl Mapping {
    pub fn identity(kind: Kind) -> Mapping {
        Mapping { kind, fields: BTreeMap::new(), delimiter: None, return_prefix: None, derive_members: false }
    }

    pub fn from_file(path: &Path) -> Result<Mapping> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Load(format!("{}: cannot read mapping: {e}", path.display())))?;
        Mapping::from_toml(&text, &path.display().to_string())
    }

    /// A mapping from its TOML text; errors name `origin` (the file, or an upload's field).
    pub fn from_toml(text: &str, origin: &str) -> Result<Mapping> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| Error::Load(format!("{origin}: {e}")))?;
        for name in mapping.fields.keys() {
            if !mapping.kind.fields().iter().any(|f| f.name == name) {
                let known: Vec<_> = mapping.kind.fields().iter().map(|f| f.name).collect();
                return Err(Error::Load(format!(
                    "{origin}: unknown field {name:?} for {}; fields are {}",
                    mapping.kind.name(),
                    known.join(", ")
                )));
            }
        }
        Ok(mapping)
    }
}

/// A load to run: a file and how to read it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoadRequest {
    /// The file: for `POST /api/v1/loads`, inside the server's import folder (relative
    /// to it, or in full).
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub mapping: Mapping,
    /// How reports and errors name the file (an upload's own name, or the path the CLI was
    /// given); its path by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl LoadRequest {
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.path.display().to_string())
    }
}

/// One rejected row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reject {
    /// Line in the file (the header is line 1); for Parquet, the row number.
    pub line: i64,
    pub field: String,
    pub value: Option<String>,
    pub reason: String,
}

/// What a load did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoadReport {
    pub file: String,
    pub target: String,
    pub rows_read: i64,
    /// New rows per table: `[["orders", 120], …]`.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub inserted: Vec<(String, i64)>,
    /// Rows per table skipped because their id was already stored (or repeated in the file).
    #[schema(value_type = Vec<Vec<Object>>)]
    pub duplicates: Vec<(String, i64)>,
    pub rejected: Vec<Reject>,
    /// Until the rows were committed to the raw tables, their keys indexed.
    pub seconds: f64,
    /// Folding them into the member summary after (dashboards show them then).
    #[serde(default)]
    pub fold_seconds: f64,
}

impl LoadReport {
    pub fn inserted_total(&self) -> i64 {
        self.inserted.iter().map(|(_, n)| n).sum()
    }

    pub fn duplicates_total(&self) -> i64 {
        self.duplicates.iter().map(|(_, n)| n).sum()
    }

    pub fn inserted_into(&self, table: &str) -> i64 {
        self.inserted.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n)
    }

    /// A human summary, one line per table and one per reject (first `max_rejects`).
    pub fn summary(&self, max_rejects: usize) -> String {
        let mut out = format!(
            "{} → {}: {} rows read and landed in {:.2}s ({:.0} rows/s), folded into the member summary in {:.2}s more\n",
            self.file,
            self.target,
            self.rows_read,
            self.seconds,
            self.rows_read as f64 / self.seconds.max(1e-9),
            self.fold_seconds
        );
        for ((table, n), (_, d)) in self.inserted.iter().zip(&self.duplicates) {
            out.push_str(&format!("  {table}: {n} inserted, {d} already present\n"));
        }
        out.push_str(&format!("  rejected: {} rows\n", self.rejected.len()));
        for r in self.rejected.iter().take(max_rejects) {
            out.push_str(&format!(
                "    {}:{}: {} = {:?}: {}\n",
                self.file,
                r.line,
                r.field,
                r.value.as_deref().unwrap_or(""),
                r.reason
            ));
        }
        if self.rejected.len() > max_rejects {
            out.push_str(&format!("    … and {} more\n", self.rejected.len() - max_rejects));
        }
        out
    }
}

/// Reports the stage a load has reached (for a terminal spinner).
pub type Progress<'a> = Option<&'a dyn Fn(&str)>;

/// Runs a load on the writer connection: validates every row, lands the good ones in
/// one transaction, reports the rest, then folds what landed into the member summary.
pub fn load(conn: &mut Connection, request: &LoadRequest, progress: Progress) -> Result<LoadReport> {
    land(conn, request, progress)?.fold(progress)
}

/// A load whose rows are committed to the raw tables but not yet folded into the member
/// summary and the day tables: [`Landed::fold`] does that in a transaction begun right
/// after the landing's commit, which therefore sees exactly the landed rows — not
/// ingest batches landing meanwhile, which wait for the folder as always. The store
/// records the load as unfolded until that fold commits; a store opened with an
/// unfolded load rebuilds its summary (`summary::recover`).
pub struct Landed<'c> {
    conn: &'c Connection,
    report: LoadReport,
    /// The fold's transaction is open.
    open: bool,
}

impl Landed<'_> {
    /// Folds the landed rows and commits; the report gains the fold's time. Should the
    /// fold fail, the summary is derived again from the raw tables instead.
    pub fn fold(mut self, progress: Progress) -> Result<LoadReport> {
        if let Some(p) = progress {
            p("folding into the member summary")
        }
        let started = Instant::now();
        let folded = summary::fold(self.conn, Queue::Load).and_then(|_| Ok(self.conn.execute_batch("COMMIT")?));
        self.open = false;
        if let Err(e) = folded {
            let _ = self.conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, file = %self.report.file, "folding a load failed; deriving the summary again");
            summary::recover(self.conn)?;
        }
        let mut report = std::mem::take(&mut self.report);
        report.fold_seconds = started.elapsed().as_secs_f64();
        tracing::debug!(seconds = report.seconds, fold_seconds = report.fold_seconds, "load folded");
        Ok(report)
    }
}

impl Drop for Landed<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Validates every row of the file and lands the good ones in one transaction (see
/// [`Landed`]).
pub fn land<'c>(conn: &'c mut Connection, request: &LoadRequest, progress: Progress) -> Result<Landed<'c>> {
    let started = Instant::now();
    let stage = |s: &str| {
        tracing::debug!(stage = s, at = started.elapsed().as_secs_f64(), "load");
        if let Some(p) = progress {
            p(s)
        }
    };
    let file = request.display_name();
    if !request.path.is_file() {
        return Err(Error::Load(format!("{file}: no such file")));
    }
    let mapping = &request.mapping;
    stage("reading");
    let (raw, columns) = read_raw(conn, &request.path, mapping)
        .map_err(|e| Error::Load(format!("{file}: cannot read: {}", duckdb_message(&e))))?;
    let result = (|| -> Result<LoadReport> {
        stage("validating");
        let plan = Plan::new(mapping, &columns).map_err(|m| Error::Load(format!("{file}: {m}")))?;
        let typed = plan.typed(&raw, &[]);
        let check = plan.check(conn, &typed)?;
        stage("checking");
        // A clean file is read straight from its typed rows (its tidy text as it is); one
        // with bad rows is materialised once to name each reject.
        let (rejected, good) = if check.clean() {
            (Vec::new(), plan.typed(&raw, &check.tidy))
        } else {
            conn.execute(
                &format!("CREATE OR REPLACE TEMP TABLE mp_typed AS SELECT * FROM {}", typed.sql),
                params_from_iter(&typed.params),
            )?;
            (plan.find_rejects(conn)?, Relation::table("mp_good"))
        };
        stage("inserting");
        let tx = conn.transaction()?;
        let mut rejected = rejected;
        let (inserted, duplicates) = insert(&tx, mapping, &good, check.keys_distinct(), &mut rejected)?;
        rejected.sort_by_key(|r| r.line);
        stage("committing");
        tx.commit()?;
        stage("committed");
        Ok(LoadReport {
            file: file.clone(),
            target: mapping.kind.name().to_string(),
            rows_read: check.rows + check.structural,
            inserted,
            duplicates,
            rejected,
            seconds: 0.0,
            fold_seconds: 0.0,
        })
    })();
    let _ = conn.execute_batch("DROP TABLE IF EXISTS mp_raw; DROP TABLE IF EXISTS mp_typed; DROP TABLE IF EXISTS mp_rejects; DROP TABLE IF EXISTS mp_good; DROP TABLE IF EXISTS mp_structural;");
    let mut report = result?;
    let conn: &Connection = conn;
    stage("indexing keys");
    summary::restore_keys(conn)?;
    stage("keyed");
    report.seconds = started.elapsed().as_secs_f64();
    conn.execute_batch("BEGIN TRANSACTION")?;
    let landed = Landed { conn, report, open: true };
    // DuckDB takes a transaction's snapshot when it first reads the store, not at BEGIN:
    // read now, while ingest batches are still held back.
    summary::unfolded_loads(conn)?;
    Ok(landed)
}

/// DuckDB's message without the SQL it quotes (`LINE 2: FROM read_csv(…)`).
fn duckdb_message(e: &duckdb::Error) -> String {
    let text = e.to_string();
    let text = text.split("\nLINE ").next().unwrap_or_default();
    text.split("\nPossible fixes").next().unwrap_or_default().trim().to_string()
}

/// Rows in SQL — a table's name or a parenthesised query — and the values its `?`s take,
/// in order.
struct Relation {
    sql: String,
    params: Vec<Value>,
}

impl Relation {
    fn table(name: &str) -> Relation {
        Relation { sql: name.to_string(), params: Vec::new() }
    }
}

/// The file's rows (a CSV's values as text, a Parquet file's as typed, each with its
/// line as `mp_line`) and columns. A CSV is read into `mp_raw`; a Parquet file is read
/// where it lies, each time its rows are needed.
fn read_raw(conn: &Connection, path: &Path, mapping: &Mapping) -> duckdb::Result<(Relation, Vec<Column>)> {
    let name = path.to_string_lossy().to_lowercase();
    let path_text = path.to_string_lossy().to_string();
    conn.execute_batch("DROP TABLE IF EXISTS mp_raw")?;
    if name.ends_with(".parquet") {
        conn.execute_batch(
            "DROP TABLE IF EXISTS mp_structural;
             CREATE TEMP TABLE mp_structural (line BIGINT, j BIGINT, value VARCHAR, reason VARCHAR);",
        )?;
        // The row's number in the file from the reader itself (read in parallel), unless
        // the file has a column of that name: then by counting rows as read, once, into
        // `mp_raw` (a count in a query read twice may not number rows the same way).
        let own: bool = conn.query_row(
            "SELECT count(*) > 0 FROM parquet_schema(?) WHERE lower(name) = 'file_row_number'",
            [&path_text],
            |r| r.get(0),
        )?;
        if own {
            conn.execute(
                "CREATE TEMP TABLE mp_raw AS SELECT row_number() OVER () AS mp_line, * FROM read_parquet(?)",
                [&path_text],
            )?;
            return Ok((Relation::table("mp_raw"), raw_columns(conn)?));
        }
        let rows = Relation {
            sql: "(SELECT file_row_number + 1 AS mp_line, * EXCLUDE (file_row_number)
                   FROM read_parquet(?, file_row_number = true))"
                .into(),
            params: vec![Value::Text(path_text)],
        };
        // Parquet columns keep their types: a typed column a field can take as it is is
        // not turned into text and parsed back (see `native`).
        conn.execute(
            &format!("CREATE TEMP TABLE mp_raw AS SELECT * FROM {} LIMIT 0", rows.sql),
            params_from_iter(&rows.params),
        )?;
        let columns = raw_columns(conn)?;
        conn.execute_batch("DROP TABLE mp_raw")?;
        Ok((rows, columns))
    } else {
        let delim = match mapping.delimiter.as_deref().unwrap_or(",") {
            "\\t" | "\t" => "\\t",
            ";" => ";",
            "|" => "|",
            _ => ",",
        };
        // Rows that do not parse (too many or too few columns) are set aside by DuckDB
        // with their line; the others are numbered in file order.
        conn.execute_batch(
            "DROP TABLE IF EXISTS mp_csv_rejects; DROP TABLE IF EXISTS mp_csv_scans; DROP TABLE IF EXISTS mp_parsed;",
        )?;
        conn.execute(
            &format!(
                "CREATE TEMP TABLE mp_parsed AS SELECT row_number() OVER () AS mp_rn, *
                 FROM read_csv(?, header = true, all_varchar = true, delim = '{delim}', quote = '\"', escape = '\"',
                               store_rejects = true, rejects_table = 'mp_csv_rejects', rejects_scan = 'mp_csv_scans')"
            ),
            [&path_text],
        )?;
        conn.execute_batch(
            "DROP TABLE IF EXISTS mp_structural;
             CREATE TEMP TABLE mp_structural AS
                 SELECT line, CAST(row_number() OVER (ORDER BY line) AS BIGINT) AS j,
                        any_value(csv_line) AS value, string_agg(DISTINCT error_message, '; ') AS reason
                 FROM mp_csv_rejects GROUP BY line;
             DROP TABLE mp_csv_rejects; DROP TABLE mp_csv_scans;
             -- The header is line 1. A parsed row's line is its position + 1, plus the
             -- set-aside lines before it: set-aside line r_j precedes parsed row k when
             -- r_j - j <= k.
             CREATE TEMP TABLE mp_raw AS
                 SELECT mp_rn + 1 + (SELECT count(*) FROM mp_structural s WHERE s.line - s.j <= p.mp_rn) AS mp_line,
                        p.* EXCLUDE (mp_rn)
                 FROM mp_parsed p;
             DROP TABLE mp_parsed;",
        )?;
        Ok((Relation::table("mp_raw"), raw_columns(conn)?))
    }
}

/// The file's columns in `mp_raw`, with their DuckDB types (all `VARCHAR` from a CSV).
fn raw_columns(conn: &Connection) -> duckdb::Result<Vec<Column>> {
    let mut stmt = conn.prepare(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'mp_raw' AND column_name <> 'mp_line' ORDER BY column_index",
    )?;
    let cols =
        stmt.query_map([], |r| Ok(Column { name: r.get(0)?, ty: r.get(1)? }))?.collect::<duckdb::Result<Vec<_>>>()?;
    Ok(cols)
}

/// A column of the file as read.
struct Column {
    name: String,
    ty: String,
}

/// Whether a field of type `field` takes a file column of DuckDB type `column` as it
/// is: timestamps and dates for times, exact numbers (decimals, integers) for money and
/// counts. Anything else (text, floating point, zoned times) is read as text, so it is
/// checked by the same rules as a CSV's value.
fn native(field: Type, column: &str) -> bool {
    const EXACT: [&str; 9] =
        ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"];
    match field {
        Type::Timestamp => column == "DATE" || (column.starts_with("TIMESTAMP") && !column.contains("TIME ZONE")),
        Type::Money | Type::Price | Type::Int => column.starts_with("DECIMAL") || EXACT.contains(&column),
        Type::Text | Type::Enum(_) => false,
    }
}

/// The typed value of `r` (a file column of DuckDB type `column`, taken as it is) for a
/// field of type `field` when a cast and at most a range check make it — integers and
/// decimals with few enough decimals for money, prices and counts — so such a column's
/// values are never turned into text and parsed back (that cost a million decimals a
/// quarter of a second).
fn exact_cast(field: Type, column: &str, r: &str) -> Option<String> {
    const SMALL: [&str; 6] = ["TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"];
    const LARGE: [&str; 4] = ["BIGINT", "HUGEINT", "UBIGINT", "UHUGEINT"];
    let decimal = column
        .strip_prefix("DECIMAL(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|shape| shape.split_once(','))
        .and_then(|(w, s)| Some((w.trim().parse::<u32>().ok()?, s.trim().parse::<u32>().ok()?)));
    let (target, scale, digits) = field.number_shape()?;
    let cast = format!("CAST({r} AS {target})");
    if SMALL.contains(&column) || decimal.is_some_and(|(w, s)| s <= scale && w - s <= digits) {
        Some(cast)
    } else if LARGE.contains(&column) || decimal.is_some_and(|(_, s)| s <= scale) {
        let bound = field.number_bound();
        Some(format!("CASE WHEN {r} > -{bound} AND {r} < {bound} THEN {cast} END"))
    } else {
        None
    }
}

/// Quotes an identifier that is known to be one of the file's own columns.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A rule a row of `mp_typed` can break (SQL over its columns, built from field names).
struct Rule {
    broken: String,
    field: &'static str,
    value: String,
    reason: String,
    rank: i64,
}

/// How each target field is read from the file's rows.
struct Plan {
    kind: Kind,
    fields: Vec<(Field, Option<Input>)>,
}

/// What one pass over a file's typed rows found.
struct Check {
    rows: i64,
    /// Rows breaking a rule.
    broken: i64,
    /// Distinct keys (-1 for kinds not checked).
    keys: i64,
    /// Rows the CSV reader set aside.
    structural: i64,
    /// Fields whose text needs no tidying (see `Plan::typed`).
    tidy: Vec<&'static str>,
}

impl Check {
    fn clean(&self) -> bool {
        self.broken == 0 && self.structural == 0
    }

    /// Every row's key differs (so no first-row-wins ranking is needed).
    fn keys_distinct(&self) -> bool {
        self.clean() && self.keys == self.rows
    }
}

enum Input {
    Column {
        column: String,
        /// The column's DuckDB type.
        ty: String,
        format: Option<String>,
        integer: bool,
    },
    Constant(String),
}

impl Input {
    /// The text column read as it is (no format, no `.0` to drop), if this is one.
    fn text_column(&self) -> Option<&str> {
        match self {
            Input::Column { column, ty, format: None, integer: false } if ty == "VARCHAR" => Some(column),
            _ => None,
        }
    }
}

impl Plan {
    fn new(mapping: &Mapping, columns: &[Column]) -> std::result::Result<Plan, String> {
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let find = |wanted: &str| columns.iter().find(|c| c.name.eq_ignore_ascii_case(wanted));
        let column_input = |c: &Column, format: Option<String>, integer: bool| Input::Column {
            column: c.name.clone(),
            ty: c.ty.clone(),
            format,
            integer,
        };
        let mut fields = Vec::new();
        for field in mapping.kind.fields() {
            let input = match mapping.fields.get(field.name) {
                Some(Source::Column(col)) => {
                    let c = find(col).ok_or_else(|| no_column(field.name, col, &names))?;
                    Some(column_input(c, None, false))
                }
                Some(Source::Spec(spec)) => match (&spec.column, &spec.value) {
                    (Some(col), None) => {
                        let c = find(col).ok_or_else(|| no_column(field.name, col, &names))?;
                        Some(column_input(c, spec.format.clone(), spec.integer))
                    }
                    (None, Some(v)) => Some(Input::Constant(v.clone())),
                    _ => {
                        return Err(format!("field {}: give exactly one of column or value", field.name));
                    }
                },
                None => find(field.name).map(|c| column_input(c, None, false)),
            };
            if input.is_none() && field.required {
                return Err(format!(
                    "required field {} has no column (the file has {}); map it in the mapping file",
                    field.name,
                    names.join(", ")
                ));
            }
            fields.push((*field, input));
        }
        Ok(Plan { kind: mapping.kind, fields })
    }

    /// The typed rows of `raw`: for each field `r_<name>` (the trimmed text, or the typed
    /// value a field takes as it is) and `<name>` (typed; NULL when `r_<name>` breaks its
    /// rule), and `c_<name>` for a field read from a text column (the column as it is).
    /// The fields in `tidy` are known to be valid and their column's text trimmed,
    /// non-empty and (for an enumeration) lower-case: it is taken as it is.
    fn typed(&self, raw: &Relation, tidy: &[&str]) -> Relation {
        let (mut raw_exprs, mut raw_params) = (Vec::new(), Vec::new());
        let (mut typed_exprs, mut typed_params) = (Vec::new(), Vec::new());
        let mut columns = Vec::new();
        for (field, input) in &self.fields {
            let text = input.as_ref().and_then(Input::text_column);
            if let Some(column) = text {
                columns.push(format!("c_{}", field.name));
                raw_exprs.push(format!("{} AS c_{}", ident(column), field.name));
            }
            let tidy = tidy.contains(&field.name);
            let raw = match input {
                _ if tidy => ident(text.unwrap_or_default()),
                None => "CAST(NULL AS VARCHAR)".to_string(),
                Some(Input::Constant(v)) => {
                    raw_params.push(Value::Text(v.clone()));
                    "NULLIF(trim(CAST(? AS VARCHAR)), '')".to_string()
                }
                Some(Input::Column { column, ty, format, integer }) => {
                    let taken_as_is = format.is_none() && !*integer && native(field.ty, ty);
                    let text =
                        if ty == "VARCHAR" { ident(column) } else { format!("CAST({} AS VARCHAR)", ident(column)) };
                    let base = format!("NULLIF(trim({text}), '')");
                    if taken_as_is {
                        ident(column)
                    } else if *integer {
                        format!("regexp_replace({base}, '\\.0*$', '')")
                    } else {
                        base
                    }
                }
            };
            let r = format!("r_{}", field.name);
            raw_exprs.push(format!("{raw} AS {r}"));
            let number = format!("TRY_CAST({r} AS DECIMAL(38,6))");
            let bound = field.ty.number_bound();
            let exact = match input {
                Some(Input::Column { ty, format: None, integer: false, .. }) => exact_cast(field.ty, ty, &r),
                _ => None,
            };
            let typed = if let Some(typed) = exact {
                typed
            } else if tidy && matches!(field.ty, Type::Enum(_)) {
                r.clone()
            } else {
                match field.ty {
                    Type::Text => r.clone(),
                    // Within the dates a caller may name (see `metrics::DATES`).
                    Type::Timestamp => {
                        let t = match input {
                            Some(Input::Column { format: Some(f), .. }) => {
                                // The expression is written three times below.
                                typed_params.extend([
                                    Value::Text(f.clone()),
                                    Value::Text(f.clone()),
                                    Value::Text(f.clone()),
                                ]);
                                format!("try_strptime({r}, ?)")
                            }
                            _ => format!("TRY_CAST({r} AS TIMESTAMP)"),
                        };
                        format!(
                            "CASE WHEN {t} >= TIMESTAMP '1900-01-01 00:00:00' AND {t} < TIMESTAMP '3000-01-01 00:00:00' THEN {t} END"
                        )
                    }
                    Type::Money => format!(
                        "CASE WHEN {number} = round({number}, 2) AND abs({number}) < {bound} THEN CAST({number} AS DECIMAL(18,2)) END"
                    ),
                    Type::Price => {
                        format!("CASE WHEN abs({number}) < {bound} THEN CAST({number} AS DECIMAL(18,4)) END")
                    }
                    Type::Int => format!(
                        "CASE WHEN {number} = trunc({number}) AND abs({number}) < {bound} THEN CAST({number} AS BIGINT) END"
                    ),
                    Type::Enum(values) => {
                        typed_params.extend(values.iter().map(|v| Value::Text((*v).to_string())));
                        let marks = vec!["?"; values.len()].join(", ");
                        format!("CASE WHEN lower({r}) IN ({marks}) THEN lower({r}) END")
                    }
                }
            };
            typed_exprs.push(format!("{typed} AS {}", field.name));
        }
        let raw_names: Vec<String> = self.fields.iter().map(|(f, _)| format!("r_{}", f.name)).collect();
        // The SQL text has the typed expressions first, then the raw ones in the subquery,
        // then the file's rows.
        let sql = format!(
            "(SELECT mp_line, {}, {} FROM (SELECT mp_line, {} FROM {}))",
            raw_names.iter().chain(&columns).cloned().collect::<Vec<_>>().join(", "),
            typed_exprs.join(", "),
            raw_exprs.join(", "),
            raw.sql,
        );
        typed_params.extend(raw_params);
        typed_params.extend(raw.params.iter().cloned());
        Relation { sql, params: typed_params }
    }

    /// Counts the `typed` rows, those breaking a rule, and whether their keys
    /// repeat, and finds the fields whose text needs no tidying, in one pass.
    fn check(&self, conn: &Connection, typed: &Relation) -> Result<Check> {
        let any_broken = self.rules().iter().map(|r| format!("({})", r.broken)).collect::<Vec<_>>().join(" OR ");
        // The key of the kinds that land as they are; others (order items, invoice lines)
        // are grouped or numbered on landing anyway.
        let distinct = match self.kind {
            Kind::Stores | Kind::Members | Kind::Orders | Kind::Points | Kind::TierChanges => {
                format!("count(DISTINCT ({}))", summary::key_of(self.kind.name()))
            }
            Kind::OrderItems | Kind::OrderLines => "-1".into(),
        };
        // A text field is tidy when its column's value is its trimmed value (and, for an
        // enumeration, in lower case) in every row.
        let texts: Vec<Field> = self
            .fields
            .iter()
            .filter(|(_, input)| input.as_ref().and_then(Input::text_column).is_some())
            .map(|(f, _)| *f)
            .collect();
        let untidy: Vec<String> = texts
            .iter()
            .map(|f| {
                let lower = if matches!(f.ty, Type::Enum(_)) {
                    format!(" OR r_{0} <> lower(r_{0})", f.name)
                } else {
                    String::new()
                };
                format!(", count(*) FILTER (WHERE r_{0} IS DISTINCT FROM c_{0}{lower})", f.name)
            })
            .collect();
        let (rows, broken, keys, tidy) = conn.query_row(
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE {any_broken}), {distinct}{} FROM {}",
                untidy.concat(),
                typed.sql
            ),
            params_from_iter(&typed.params),
            |r| {
                let mut tidy = Vec::new();
                for (i, field) in texts.iter().enumerate() {
                    if r.get::<_, i64>(3 + i)? == 0 {
                        tidy.push(field.name);
                    }
                }
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, tidy))
            },
        )?;
        let structural: i64 = conn.query_row("SELECT count(*) FROM mp_structural", [], |r| r.get(0))?;
        Ok(Check { rows, broken, keys, structural, tidy })
    }

    /// The row rules, each once: a row of `mp_typed` breaking one is rejected with that
    /// field, value and reason (the lowest rank first when it breaks several).
    fn rules(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        for (rank, (field, _)) in self.fields.iter().enumerate() {
            let (name, rank) = (field.name, rank as i64);
            if field.required {
                rules.push(Rule {
                    broken: format!("r_{name} IS NULL"),
                    field: name,
                    value: "NULL".into(),
                    reason: "missing".into(),
                    rank,
                });
            }
            rules.push(Rule {
                broken: format!("r_{name} IS NOT NULL AND {name} IS NULL"),
                field: name,
                value: format!("CAST(r_{name} AS VARCHAR)"),
                reason: format!("not {}", field.ty.describe()),
                rank,
            });
        }
        if self.has("unit_price") && self.has("quantity") {
            rules.push(Rule {
                broken: format!("abs(quantity * unit_price) >= {}", Type::Money.number_bound()),
                field: "unit_price",
                value: "CAST(r_unit_price AS VARCHAR)".into(),
                reason: "the line's amount (quantity × unit price) is 10,000,000,000 or more".into(),
                rank: 99,
            });
        }
        if self.has("points") && self.has("kind") {
            rules.push(Rule {
                broken: "points <= 0 AND kind <> 'adjust'".into(),
                field: "points",
                value: "CAST(r_points AS VARCHAR)".into(),
                reason: "must be positive (the kind gives the sign)".into(),
                rank: 100,
            });
        }
        rules
    }

    /// Fills `mp_rejects` and `mp_good` from `mp_typed` (a file with bad rows, materialised
    /// by the caller), and returns every reject, ordered by line: the rules are checked one
    /// by one, naming each reject.
    fn find_rejects(&self, conn: &Connection) -> Result<Vec<Reject>> {
        conn.execute_batch(
            "DROP TABLE IF EXISTS mp_rejects;
             CREATE TEMP TABLE mp_rejects (line BIGINT, field VARCHAR, value VARCHAR, reason VARCHAR, rank INTEGER);",
        )?;
        conn.execute_batch("INSERT INTO mp_rejects SELECT line, '(row)', value, reason, -1 FROM mp_structural;")?;
        for rule in &self.rules() {
            conn.execute(
                &format!(
                    "INSERT INTO mp_rejects SELECT mp_line, ?, {}, ?, ? FROM mp_typed WHERE {}",
                    rule.value, rule.broken
                ),
                duckdb::params![rule.field, rule.reason, rule.rank],
            )?;
        }
        if self.has("unit_price") {
            // An order lands whole or not at all: one bad line rejects its order's other lines.
            conn.execute(
                "INSERT INTO mp_rejects
                 SELECT t.mp_line, 'order_id', t.r_order_id, 'line ' || b.first_bad || ' of the same order was rejected', 200
                 FROM mp_typed t
                 JOIN (SELECT t2.r_order_id, min(r.line) AS first_bad FROM mp_rejects r JOIN mp_typed t2 ON t2.mp_line = r.line
                       WHERE t2.r_order_id IS NOT NULL GROUP BY t2.r_order_id) b ON b.r_order_id = t.r_order_id
                 WHERE t.mp_line NOT IN (SELECT line FROM mp_rejects)",
                [],
            )?;
        }
        conn.execute_batch(
            "DROP TABLE IF EXISTS mp_good;
             CREATE TEMP TABLE mp_good AS SELECT * FROM mp_typed WHERE mp_line NOT IN (SELECT line FROM mp_rejects);",
        )?;
        let mut stmt = conn.prepare(
            "SELECT line, field, value, reason FROM mp_rejects QUALIFY row_number() OVER (PARTITION BY line ORDER BY rank) = 1 ORDER BY line",
        )?;
        let rejects = stmt
            .query_map([], |r| Ok(Reject { line: r.get(0)?, field: r.get(1)?, value: r.get(2)?, reason: r.get(3)? }))?
            .collect::<duckdb::Result<Vec<_>>>()?;
        Ok(rejects)
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(f, i)| f.name == name && i.is_some())
    }
}

fn no_column(field: &str, wanted: &str, columns: &[String]) -> String {
    format!("field {field} maps to column {wanted:?}, which the file does not have (it has {})", columns.join(", "))
}

/// Lands the `good` rows in the target tables; returns (inserted, duplicates) per table.
/// The rows that land are queued for the fold (`summary::open_load_queue`). When every
/// row's key differs (`distinct`), no ranking picks the first row of a key.
fn insert(
    conn: &Connection,
    mapping: &Mapping,
    good: &Relation,
    distinct: bool,
    refused: &mut Vec<Reject>,
) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    summary::open_load_queue(conn)?;
    let mut inserted = Vec::new();
    let mut duplicates = Vec::new();
    // `candidates` counts the file's good rows for the table; `rows` yields them with the
    // table's columns, one per key; both read `source`.
    let mut land = |table: &str, source: &Relation, candidates: &str, rows: &str| -> Result<()> {
        let candidates: i64 =
            conn.query_row(&candidates.replace("{src}", &source.sql), params_from_iter(&source.params), |r| r.get(0))?;
        let rows = format!("({})", rows.replace("{src}", &source.sql));
        let new = summary::land_new(conn, table, &rows, &source.params, Queue::Load)?;
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
        Kind::Stores | Kind::Members | Kind::Orders | Kind::Points | Kind::TierChanges => {
            // These kinds are tables of the same name.
            let table = mapping.kind.name();
            let key = summary::key_of(table);
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
fn derived_member_count(source: &str) -> String {
    format!("SELECT count(DISTINCT member_id) FROM {source} WHERE member_id IS NOT NULL")
}

/// The members that orders name, joined at their first order, with the channel and
/// region of that order (for members the store does not have yet).
fn derived_members(source: &str, region: &str) -> String {
    format!(
        "SELECT member_id, min(ordered_at) AS joined_at, arg_min(channel, ordered_at) AS join_channel,
                CAST(NULL AS VARCHAR) AS home_store_id, arg_min({region}, ordered_at) AS region,
                CAST(NULL AS VARCHAR) AS tier, CAST(NULL AS VARCHAR) AS gender, CAST(NULL AS INTEGER) AS birth_year,
                CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS phone
         FROM {source} WHERE member_id IS NOT NULL GROUP BY member_id"
    )
}
