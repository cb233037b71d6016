//! Reading a file with DuckDB's own readers (CSV, Parquet), its columns, and exact casts.

use super::*;

/// Rows in SQL — a table's name or a parenthesised query — and the values its `?`s take,
/// in order.
pub(super) struct Relation {
    pub(super) sql: String,
    pub(super) params: Vec<Value>,
}

impl Relation {
    pub(super) fn table(name: &str) -> Relation {
        Relation { sql: name.to_string(), params: Vec::new() }
    }
}

/// The file's rows (a CSV's values as text, a Parquet file's as typed, each with its
/// line as `mp_line`) and columns. A CSV is read into `mp_raw`; a Parquet file is read
/// where it lies, each time its rows are needed.
pub(super) fn read_raw(conn: &Connection, path: &Path, mapping: &Mapping) -> duckdb::Result<(Relation, Vec<Column>)> {
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
pub(super) fn raw_columns(conn: &Connection) -> duckdb::Result<Vec<Column>> {
    let mut stmt = conn.prepare(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'mp_raw' AND column_name <> 'mp_line' ORDER BY column_index",
    )?;
    let cols =
        stmt.query_map([], |r| Ok(Column { name: r.get(0)?, ty: r.get(1)? }))?.collect::<duckdb::Result<Vec<_>>>()?;
    Ok(cols)
}

/// A column of the file as read.
pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: String,
}

/// Whether a field of type `field` takes a file column of DuckDB type `column` as it
/// is: timestamps and dates for times, exact numbers (decimals, integers) for money and
/// counts. Anything else (text, floating point, zoned times) is read as text, so it is
/// checked by the same rules as a CSV's value.
pub(super) fn native(field: Type, column: &str) -> bool {
    const EXACT: [&str; 9] =
        ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"];
    match field {
        Type::Timestamp => column == "DATE" || (column.starts_with("TIMESTAMP") && !column.contains("TIME ZONE")),
        Type::Money | Type::Price | Type::Int => column.starts_with("DECIMAL") || EXACT.contains(&column),
        Type::Text | Type::Enum(_) | Type::Bool => false,
    }
}

/// The typed value of `r` (a file column of DuckDB type `column`, taken as it is) for a
/// field of type `field` when a cast and at most a range check make it — integers and
/// decimals with few enough decimals for money, prices and counts — so such a column's
/// values are never turned into text and parsed back (that cost a million decimals a
/// quarter of a second).
pub(super) fn exact_cast(field: Type, column: &str, r: &str) -> Option<String> {
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
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
