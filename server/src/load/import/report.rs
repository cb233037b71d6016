//! What a load reports: the rows it landed and each row it rejected, with line, field and reason.

use super::*;

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
