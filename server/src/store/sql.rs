//! A DuckDB statement whose text and arguments travel together.
//!
//! Arguments are named in the text as `$name` and bound by name, once each however often
//! the text uses them:
//!
//! ```ignore
//! Sql::new("SELECT count(*) FROM member_days o WHERE o.day BETWEEN $start AND $end AND o.day <> $start")
//!     .bind("start", day(w.start()))
//!     .bind("end", day(w.end))
//! ```
//!
//! It is sent as `$1`, `$2`, … in the order the names appear, so no argument list is
//! kept in order by hand. Fragments (a dimension's expression, a join) carry their own
//! arguments and are combined with [`Sql::push`] and [`Sql::with`]. Only values are ever
//! bound: user text never becomes SQL.

use chrono::NaiveDate;
use duckdb::{Connection, Row, params_from_iter, types::Value};

use crate::Result;

#[derive(Clone, Debug, Default)]
pub struct Sql {
    text: String,
    names: Vec<String>,
    args: Vec<Value>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql { text: text.into(), names: Vec::new(), args: Vec::new() }
    }

    /// Binds `$name` (every use of it in the text) to `value`. Binding a name again to
    /// the same value changes nothing (two fragments may share an argument, such as T).
    pub fn bind(mut self, name: &str, value: impl Into<Value>) -> Sql {
        self.set(name, value.into());
        self
    }

    fn set(&mut self, name: &str, value: Value) {
        match self.names.iter().position(|n| n == name) {
            Some(i) => assert_eq!(self.args[i], value, "${name} bound to two values"),
            None => {
                self.names.push(name.to_string());
                self.args.push(value);
            }
        }
    }

    /// The text as written, with its `$name`s, to place inside a larger statement whose
    /// [`Sql::with`] then takes this fragment's arguments.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Takes the arguments of a fragment whose text this statement contains.
    pub fn with(mut self, fragment: &Sql) -> Sql {
        for (name, value) in fragment.names.iter().zip(&fragment.args) {
            self.set(name, value.clone());
        }
        self
    }

    /// Appends a fragment: its text and its arguments.
    pub fn push(mut self, fragment: &Sql) -> Sql {
        self.text.push_str(&fragment.text);
        self.with(fragment)
    }

    /// The text with each `$name` numbered in the order the names first appear, and the
    /// arguments in that order. Arguments bound but not used (a fragment may bind more than
    /// the statement that takes it uses) are left out.
    ///
    /// Panics in debug builds when the text names an argument that is not bound: a mistake
    /// in the code, found by its tests.
    pub fn build(&self) -> (String, Vec<Value>) {
        let mut out = String::with_capacity(self.text.len());
        let mut number = vec![0; self.names.len()];
        let mut args = Vec::new();
        let mut rest = self.text.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let name = &after[..len];
            let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic());
            match self.names.iter().position(|n| n == name) {
                Some(i) if is_name => {
                    if number[i] == 0 {
                        args.push(self.args[i].clone());
                        number[i] = args.len();
                    }
                    out.push_str(&format!("${}", number[i]));
                }
                _ => {
                    debug_assert!(!is_name, "${name} is not bound in: {}", self.text);
                    out.push('$');
                    out.push_str(name);
                }
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        (out, args)
    }

    /// Runs the statement and maps each row.
    pub fn rows<T>(&self, conn: &Connection, f: impl FnMut(&Row<'_>) -> duckdb::Result<T>) -> Result<Vec<T>> {
        let (text, args) = self.build();
        let mut stmt = conn.prepare(&text)?;
        let rows = stmt.query_map(params_from_iter(args), f)?.collect::<duckdb::Result<Vec<T>>>()?;
        Ok(rows)
    }

    /// Runs a statement of one row.
    pub fn row<T>(&self, conn: &Connection, f: impl FnOnce(&Row<'_>) -> duckdb::Result<T>) -> Result<T> {
        let (text, args) = self.build();
        Ok(conn.query_row(&text, params_from_iter(args), f)?)
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub fn execute(&self, conn: &Connection) -> Result<usize> {
        let (text, args) = self.build();
        Ok(conn.execute(&text, params_from_iter(args))?)
    }
}

/// A date as a bound date argument (`2026-06-30`).
pub fn day(d: NaiveDate) -> Value {
    Value::Text(d.to_string())
}

/// A date's midnight as a bound timestamp argument (`2026-06-30 00:00:00`).
pub fn midnight(d: NaiveDate) -> Value {
    Value::Text(format!("{d} 00:00:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_numbers_in_the_order_they_appear_and_repeat() {
        let sql = Sql::new("SELECT $b + $a * $b, '12:00'::VARCHAR, $1x").bind("a", 2i64).bind("b", 10i64);
        let (text, args) = sql.build();
        assert_eq!(text, "SELECT $1 + $2 * $1, '12:00'::VARCHAR, $1x");
        assert_eq!(args, vec![Value::BigInt(10), Value::BigInt(2)]);
        let conn = Connection::open_in_memory().unwrap();
        let n: i64 = Sql::new("SELECT $b + $a * $b").bind("a", 2i64).bind("b", 10i64).row(&conn, |r| r.get(0)).unwrap();
        assert_eq!(n, 30);
    }

    #[test]
    fn a_longer_name_is_not_taken_for_a_shorter_one() {
        let (text, _) = Sql::new("$start_day < $start").bind("start", 1i64).bind("start_day", 2i64).build();
        assert_eq!(text, "$1 < $2");
    }

    #[test]
    fn fragments_bring_their_arguments_and_share_equal_ones() {
        let as_of = Sql::new("m.joined_at < $after").bind("after", "2026-07-01".to_string());
        let sql = Sql::new(format!("SELECT count(*) FROM members m WHERE {} AND m.region = $region", as_of.text()))
            .with(&as_of)
            .bind("region", "华东".to_string())
            .push(&Sql::new(" AND m.created < $after").bind("after", "2026-07-01".to_string()))
            .bind("unused", 1i64);
        let (text, args) = sql.build();
        assert_eq!(text, "SELECT count(*) FROM members m WHERE m.joined_at < $1 AND m.region = $2 AND m.created < $1");
        assert_eq!(args, vec![Value::Text("2026-07-01".into()), Value::Text("华东".into())]);
    }

    #[test]
    #[should_panic(expected = "two values")]
    fn one_name_cannot_mean_two_values() {
        let _ = Sql::new("$a").bind("a", 1i64).push(&Sql::new("$a").bind("a", 2i64));
    }

    #[test]
    #[should_panic(expected = "not bound")]
    fn an_unbound_name_is_a_mistake() {
        let _ = Sql::new("SELECT $missing").build();
    }
}
