//! Where rows land for members merged into others (`crate::identity::merge`): while a
//! merge stands, the merged member's id is an alias of the survivor's. Orders, points and
//! tier changes that name an alias land on the person it now belongs to (following merges
//! of merges), and are recorded as moved by each merge on the way, so that undoing one
//! gives them back exactly; a members row with an alias's id does not land (the member
//! is kept, merged, until the merge is undone).

use duckdb::{Connection, params_from_iter, types::Value};

use crate::Result;

/// Every standing merge's chain: (alias, merge_id, person, depth) for each merge between
/// a merged id and the person it belongs to now.
const CHAIN: &str = "
    WITH RECURSIVE chain(alias, merge_id, person, depth) AS (
        SELECT merged, merge_id, survivor, 1 FROM merges WHERE undone_at IS NULL
        UNION ALL
        SELECT c.alias, m.merge_id, m.survivor, c.depth + 1
        FROM chain c JOIN merges m ON m.merged = c.person AND m.undone_at IS NULL)
    SELECT * FROM chain";

/// (alias, person): each merged id and the person it belongs to now.
pub fn aliases() -> String {
    format!("(SELECT alias, arg_max(person, depth) AS person FROM ({CHAIN}) GROUP BY alias)")
}

/// (alias, merge_id): each merged id and every standing merge between it and its person.
pub fn chain() -> String {
    format!("(SELECT alias, merge_id FROM ({CHAIN}))")
}

/// The person `member_id` belongs to now: itself, or the member it was merged into.
pub fn person_of(conn: &Connection, member_id: &str) -> Result<String> {
    use duckdb::OptionalExt;
    let person: Option<String> = conn
        .query_row(&format!("SELECT person FROM {} WHERE alias = ?", aliases()), [member_id], |r| r.get(0))
        .optional()?;
    Ok(person.unwrap_or_else(|| member_id.to_string()))
}

/// Whether any merge stands (landing looks up aliases only then).
pub fn any(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT count(*) > 0 FROM merges WHERE undone_at IS NULL", [], |r| r.get(0))?)
}

/// The text key (SQL over the row `r`) a moved row of `table` is recorded by in
/// `merge_moves`: its key without the member id, which is what moves.
pub fn row_key(table: &str, r: &str) -> Option<String> {
    match table {
        "orders" => Some(format!("{r}.order_id")),
        "points" => Some(format!("{r}.entry_id")),
        "tier_changes" => Some(format!("CAST({r}.changed_at AS VARCHAR)")),
        _ => None,
    }
}

/// `rows` (a relation of `table`'s columns) as it lands when merges stand: an alias's
/// rows name its person; members rows of an alias are left out. Other tables, or no
/// merge standing: `rows` as it is.
pub fn resolve(conn: &Connection, table: &str, rows: &str) -> Result<String> {
    if !(table == "members" || row_key(table, "r").is_some()) || !any(conn)? {
        return Ok(rows.to_string());
    }
    let aliases = aliases();
    Ok(if table == "members" {
        format!("(SELECT * FROM {rows} WHERE member_id NOT IN (SELECT alias FROM {aliases}))")
    } else {
        format!(
            "(SELECT r.* REPLACE (coalesce(a.person, r.member_id) AS member_id)
              FROM {rows} r LEFT JOIN {aliases} a ON a.alias = r.member_id)"
        )
    })
}

/// Records the new rows of `rows` (as given, before [`resolve`]; orders and points whose
/// key is not stored yet, tier changes) that name an alias as moved by each standing
/// merge on the way to its person. Run in the landing's transaction, before it lands.
pub fn record(conn: &Connection, table: &str, rows: &str, values: &[Value]) -> Result<()> {
    let Some(key) = row_key(table, "r") else { return Ok(()) };
    if !any(conn)? {
        return Ok(());
    }
    let new = match table {
        // A tier change is new when its person has none at that instant.
        "tier_changes" => format!(
            "AND NOT EXISTS (SELECT 1 FROM tier_changes t JOIN {aliases} a ON a.person = t.member_id
                             WHERE a.alias = r.member_id AND t.changed_at = r.changed_at)",
            aliases = aliases()
        ),
        _ => format!(
            "AND NOT EXISTS (SELECT 1 FROM {table} t WHERE {} = {key})",
            row_key(table, "t").unwrap_or_default()
        ),
    };
    conn.execute(
        &format!(
            "INSERT OR IGNORE INTO merge_moves
             SELECT DISTINCT c.merge_id, '{table}', {key} FROM {rows} r JOIN {chain} c ON c.alias = r.member_id
             WHERE true {new}",
            chain = chain()
        ),
        params_from_iter(values),
    )?;
    Ok(())
}
