//! The plan of a load: the rules each row is checked against, and the typed rows they leave.

use super::*;

/// A rule a row of `mp_typed` can break (SQL over its columns, built from field names).
pub(super) struct Rule {
    pub(super) broken: String,
    pub(super) field: &'static str,
    pub(super) value: String,
    pub(super) reason: String,
    pub(super) rank: i64,
}

/// How each target field is read from the file's rows.
pub(super) struct Plan {
    pub(super) kind: Kind,
    pub(super) fields: Vec<(Field, Option<Input>)>,
    /// Whether members have been erased: rows naming one are then refused.
    pub(super) erased: bool,
    /// The identity kind the `member_id` field holds (`Mapping::member_identity`).
    pub(super) identity: Option<&'static str>,
}

/// What one pass over a file's typed rows found.
pub(super) struct Check {
    pub(super) rows: i64,
    /// Rows breaking a rule.
    pub(super) broken: i64,
    /// Distinct keys (-1 for kinds not checked).
    pub(super) keys: i64,
    /// Rows the CSV reader set aside.
    pub(super) structural: i64,
    /// Fields whose text needs no tidying (see `Plan::typed`).
    pub(super) tidy: Vec<&'static str>,
}

impl Check {
    pub(super) fn clean(&self) -> bool {
        self.broken == 0 && self.structural == 0
    }

    /// Every row's key differs (so no first-row-wins ranking is needed).
    pub(super) fn keys_distinct(&self) -> bool {
        self.clean() && self.keys == self.rows
    }
}

pub(super) enum Input {
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
    pub(super) fn text_column(&self) -> Option<&str> {
        match self {
            Input::Column { column, ty, format: None, integer: false } if ty == "VARCHAR" => Some(column),
            _ => None,
        }
    }
}

impl Plan {
    pub(super) fn new(mapping: &Mapping, columns: &[Column]) -> std::result::Result<Plan, String> {
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
        Ok(Plan { kind: mapping.kind, fields, erased: false, identity: mapping.identity_kind()? })
    }

    /// The typed rows of `raw`: for each field `r_<name>` (the trimmed text, or the typed
    /// value a field takes as it is) and `<name>` (typed; NULL when `r_<name>` breaks its
    /// rule), and `c_<name>` for a field read from a text column (the column as it is).
    /// The fields in `tidy` are known to be valid and their column's text trimmed,
    /// non-empty and (for an enumeration) lower-case: it is taken as it is.
    pub(super) fn typed(&self, raw: &Relation, tidy: &[&str]) -> Relation {
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
            let typed = if let (Some(kind), "member_id") = (self.identity, field.name) {
                // The member who has the identity (NULL when none or several).
                crate::derive::identities::owner(kind, &r)
            } else if let Some(typed) = exact {
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
                    Type::Bool => {
                        let list =
                            |texts: [&str; 5]| texts.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
                        format!(
                            "CASE WHEN lower({r}) IN ({}) THEN true WHEN lower({r}) IN ({}) THEN false END",
                            list(super::contract::TRUE_TEXTS),
                            list(super::contract::FALSE_TEXTS)
                        )
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
    pub(super) fn check(&self, conn: &Connection, typed: &Relation) -> Result<Check> {
        let any_broken = self.rules().iter().map(|r| format!("({})", r.broken)).collect::<Vec<_>>().join(" OR ");
        // The key of the kinds that land as they are; others (order items, invoice lines)
        // are grouped or numbered on landing anyway.
        let distinct = match self.kind {
            Kind::Stores | Kind::Members | Kind::Orders | Kind::Points | Kind::TierChanges | Kind::MemberIdentities => {
                format!("count(DISTINCT ({}))", landing::key_of(self.kind.name()))
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
    pub(super) fn rules(&self) -> Vec<Rule> {
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
            let reason = match (self.identity, name) {
                (Some(kind), "member_id") => {
                    format!("no one member has this {kind} (none has it, or members who are not merged into one do)")
                }
                _ => format!("not {}", field.ty.describe()),
            };
            rules.push(Rule {
                broken: format!("r_{name} IS NOT NULL AND {name} IS NULL"),
                field: name,
                value: format!("CAST(r_{name} AS VARCHAR)"),
                reason,
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
        for field in ["member_id", "phone"] {
            if self.erased && self.has(field) {
                rules.push(Rule {
                    broken: crate::derive::personal::erased(field, field),
                    field,
                    value: "NULL".into(),
                    reason: crate::derive::personal::ERASED.into(),
                    rank: 150,
                });
            }
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
    pub(super) fn find_rejects(&self, conn: &Connection) -> Result<Vec<Reject>> {
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

    pub(super) fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(f, i)| f.name == name && i.is_some())
    }
}

pub(super) fn no_column(field: &str, wanted: &str, columns: &[String]) -> String {
    format!("field {field} maps to column {wanted:?}, which the file does not have (it has {})", columns.join(", "))
}
