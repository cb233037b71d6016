//! Members: the members behind any filter, paged and sorted, and one member's 360 record.
//! Name and phone are personal data and leave this module masked unless the caller
//! passes [`Personal::Shown`] (admins).

use app::model::{
    ConsentChange, Member360, MemberOrder, MemberPage, MemberPoints, MemberPrediction, MemberRfm, MemberRow,
    MemberScore, MemberTierChange, MembersQuery,
};
use duckdb::{Connection, OptionalExt, params};

use crate::{
    Error, Result,
    derive::consent,
    metrics::rfm::RfmRule,
    metrics::scope::{self, Criteria, Scope},
    metrics::{self, MetricConfig},
    store::sql::{Sql, midnight},
};

/// Sortable columns: the key a caller names and its SQL.
const SORTS: [(&str, &str); 10] = [
    ("member_id", "s.member_id"),
    ("joined_at", "m.joined_at"),
    ("first_purchase_at", "s.first_purchase_at"),
    ("last_purchase_at", "s.last_purchase_at"),
    ("purchases", "s.purchases"),
    ("revenue", "s.revenue_cents"),
    ("points_balance", "(s.points_earned - s.points_redeemed - s.points_expired + s.points_adjusted)"),
    ("p_alive", "ps.p_alive"),
    ("clv_12m", "ps.clv_12m"),
    ("revenue_12m", "ps.revenue_12m_cents"),
];

pub const MAX_PAGE_SIZE: u32 = 500;

/// Whether names and phones leave this module as stored or masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personal {
    Masked,
    Shown,
}

impl Personal {
    fn name(self, name: String) -> String {
        match self {
            Personal::Masked => mask_name(&name),
            Personal::Shown => name,
        }
    }

    fn phone(self, phone: String) -> String {
        match self {
            Personal::Masked => mask_phone(&phone),
            Personal::Shown => phone,
        }
    }
}

/// `张三` → `张*`, `欧阳娜娜` → `欧*`, `Alice` → `A*`, `张` → `**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (None, _) => String::new(),
        // Every mask is two characters, so none tells a name's length; a one-character
        // name is hidden whole.
        (Some(_), None) => "**".to_string(),
        (Some(first), Some(_)) => format!("{first}*"),
    }
}

/// `13812345678` → `138****5678`: the first three and the last four characters around a
/// fixed `****`; a number shorter than 8 is `****` whole (no mask tells a length).
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "****".to_string();
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 4..]);
    format!("{}****{}", head.iter().collect::<String>(), tail.iter().collect::<String>())
}

const ROW: &str = "s.member_id, mp_open(m.name), mp_open(m.phone), m.region, m.tier, m.join_channel,
                   strftime(m.joined_at, '%Y-%m-%d %H:%M:%S'), strftime(s.first_purchase_at, '%Y-%m-%d %H:%M:%S'),
                   strftime(s.last_purchase_at, '%Y-%m-%d %H:%M:%S'), s.purchases, s.revenue_cents,
                   s.points_earned - s.points_redeemed - s.points_expired + s.points_adjusted AS points_balance,
                   ps.p_alive, ps.clv_12m, ps.revenue_12m_cents, ps.high_value, mc.consent";

fn row(r: &duckdb::Row<'_>, personal: Personal) -> duckdb::Result<MemberRow> {
    Ok(MemberRow {
        member_id: r.get(0)?,
        name: r.get::<_, Option<String>>(1)?.map(|n| personal.name(n)),
        phone: r.get::<_, Option<String>>(2)?.map(|p| personal.phone(p)),
        region: r.get(3)?,
        tier: r.get(4)?,
        join_channel: r.get(5)?,
        joined_at: r.get(6)?,
        first_purchase_at: r.get(7)?,
        last_purchase_at: r.get(8)?,
        purchases: r.get(9)?,
        revenue_cents: r.get(10)?,
        points_balance: r.get(11)?,
        p_alive: r.get(12)?,
        clv_12m: r.get(13)?,
        revenue_12m_cents: r.get(14)?,
        high_value: r.get(15)?,
        marketing_consent: r.get(16)?,
    })
}

/// The members matching the query's filters (as of T), with their summary, one page.
pub fn list(conn: &Connection, q: &MembersQuery, cfg: MetricConfig, rules: Vec<RfmRule>) -> Result<MemberPage> {
    let criteria = scope::parse(q.filters.as_deref().unwrap_or(""))?;
    list_in(conn, q, criteria, cfg, rules, Personal::Masked)
}

/// Like [`list`], with the filters already worked out (e.g. a saved segment's and the
/// query's, intersected); the query's own `filters` text is not read.
pub fn list_in(
    conn: &Connection,
    q: &MembersQuery,
    criteria: Criteria,
    cfg: MetricConfig,
    rules: Vec<RfmRule>,
    personal: Personal,
) -> Result<MemberPage> {
    page_of(conn, q, criteria, cfg, rules, MAX_PAGE_SIZE, personal)
}

/// The most rows a CSV export holds.
pub const MAX_EXPORT_ROWS: u32 = 100_000;

/// A CSV export, and for one meant for outreach how many members of the selection it
/// left out for want of consent.
pub struct Export {
    pub csv: String,
    pub left_out: Option<i64>,
}

/// Every member the query selects (its page and page size ignored), in its order, as
/// CSV with a UTF-8 byte-order mark (so that spreadsheet programs read the Chinese right);
/// names and phones as `personal` says. More than [`MAX_EXPORT_ROWS`] is a 400. An export
/// for outreach (`purpose=outreach`) holds only the members who gave marketing consent.
pub fn export_csv(
    conn: &Connection,
    q: &MembersQuery,
    criteria: Criteria,
    cfg: MetricConfig,
    rules: Vec<RfmRule>,
    personal: Personal,
) -> Result<Export> {
    let outreach = match q.purpose.as_deref().filter(|p| !p.is_empty()) {
        None => false,
        Some("outreach") if q.consent.as_deref().is_none_or(|c| c.is_empty() || c == "given") => true,
        Some("outreach") => {
            return Err(Error::bad_param("consent", "an export for outreach holds only members who gave consent"));
        }
        Some(other) => return Err(Error::bad_param("purpose", format!("expected outreach, got {other:?}"))),
    };
    let q = MembersQuery {
        page: Some(1),
        page_size: Some(MAX_EXPORT_ROWS),
        consent: if outreach { Some("given".into()) } else { q.consent.clone() },
        ..q.clone()
    };
    let left_out = match outreach {
        true => {
            let everyone = MembersQuery { consent: None, page_size: Some(1), ..q.clone() };
            let all = page_of(conn, &everyone, criteria.clone(), cfg, rules.clone(), MAX_EXPORT_ROWS, personal)?.total;
            Some(all)
        }
        false => None,
    };
    let page = page_of(conn, &q, criteria, cfg, rules, MAX_EXPORT_ROWS, personal)?;
    let left_out = left_out.map(|all| all - page.total);
    if page.total > i64::from(MAX_EXPORT_ROWS) {
        return Err(Error::bad_param(
            "filters",
            format!("{} members match; an export holds at most {MAX_EXPORT_ROWS}: narrow the filters", page.total),
        ));
    }
    let mut out = String::from("\u{feff}");
    out.push_str(CSV_HEADER);
    out.push('\n');
    for r in &page.rows {
        let cents = |c: i64| {
            format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.unsigned_abs() / 100, c.unsigned_abs() % 100)
        };
        let fields = [
            r.member_id.clone(),
            r.name.clone().unwrap_or_default(),
            r.phone.clone().unwrap_or_default(),
            r.region.clone().unwrap_or_default(),
            r.tier.clone().unwrap_or_default(),
            r.join_channel.clone().unwrap_or_default(),
            r.joined_at.clone().unwrap_or_default(),
            r.first_purchase_at.clone().unwrap_or_default(),
            r.last_purchase_at.clone().unwrap_or_default(),
            r.purchases.to_string(),
            cents(r.revenue_cents),
            r.points_balance.to_string(),
            r.p_alive.map(|p| format!("{p:.4}")).unwrap_or_default(),
            r.clv_12m.map(|c| format!("{c:.2}")).unwrap_or_default(),
            r.revenue_12m_cents.map(cents).unwrap_or_default(),
            r.high_value.map(|h| h.to_string()).unwrap_or_default(),
            r.marketing_consent.map(|c| c.to_string()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Ok(Export { csv: out, left_out })
}

/// The columns of [`export_csv`].
pub const CSV_HEADER: &str = "member_id,name,phone,region,tier,join_channel,joined_at,first_purchase_at,last_purchase_at,purchases,revenue,points_balance,p_alive,clv_12m,revenue_12m,high_value,marketing_consent";

/// A CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(f: &str) -> String {
    let f = neutralised(f);
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.into_owned() }
}

/// A cell a spreadsheet would take for a formula (it begins with `=`, `+`, `-`, `@`, a tab
/// or a carriage return) gets a leading `'` (OWASP's CSV-injection advice); a plain
/// number such as `-12.50` stays a number.
fn neutralised(f: &str) -> std::borrow::Cow<'_, str> {
    let formula = f.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = {
        let digits = f.strip_prefix('-').unwrap_or(f);
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, "0"));
        !whole.is_empty() && !frac.is_empty() && (whole.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
    };
    if formula && !number { std::borrow::Cow::Owned(format!("'{f}")) } else { std::borrow::Cow::Borrowed(f) }
}

fn page_of(
    conn: &Connection,
    q: &MembersQuery,
    criteria: Criteria,
    cfg: MetricConfig,
    rules: Vec<RfmRule>,
    max_page_size: u32,
    personal: Personal,
) -> Result<MemberPage> {
    let as_of = metrics::day_or_latest(conn, "as_of", q.as_of.as_deref())?;
    let sort = q.sort.clone().unwrap_or_else(|| "-revenue".to_string());
    let (key, descending) = match sort.strip_prefix('-') {
        Some(key) => (key, true),
        None => (sort.as_str(), false),
    };
    let column = SORTS.iter().find(|(k, _)| *k == key).map(|(_, c)| *c).ok_or_else(|| {
        let known: Vec<_> = SORTS.iter().map(|(k, _)| *k).collect();
        Error::bad_param("sort", format!("unknown column {key:?}; columns are {}", known.join(", ")))
    })?;
    let page = q.page.unwrap_or(1);
    if page == 0 {
        return Err(Error::bad_param("page", "pages start at 1"));
    }
    let page_size = q.page_size.unwrap_or(50);
    if !(1..=max_page_size).contains(&page_size) {
        return Err(Error::bad_param("page_size", format!("expected 1 to {max_page_size}")));
    }
    // A look-up: the member of that id and those whose phone is exactly that number, found
    // first (an index probe and one column scan); the page's tables are then read for
    // those members only.
    let found: Option<Vec<String>> = match find_key(q.find.as_deref())? {
        Some(key) => Some(
            Sql::new(
                "SELECT member_id FROM members WHERE member_id = $find
                 UNION SELECT member_id FROM members WHERE starts_with(phone, mp_phone_key($find) || ':') ORDER BY 1 LIMIT $most",
            )
            .bind("find", key)
            .bind("most", (MAX_FOUND + 1) as i64)
            .rows(conn, |r| r.get(0))?,
        ),
        None => None,
    };
    if found.as_ref().is_some_and(|ids| ids.len() > MAX_FOUND) {
        return Err(Error::bad_param(
            "find",
            format!("more than {MAX_FOUND} members have this number; filter the list instead"),
        ));
    }
    let with_consent = match q.consent.as_deref().filter(|c| !c.is_empty()) {
        None => String::new(),
        Some(given @ ("given" | "not_given")) => format!(
            "WHERE s.member_id {} IN (SELECT member_id FROM ({}) WHERE consent)",
            if given == "given" { "" } else { "NOT" },
            consent::latest(None)
        ),
        Some(other) => {
            return Err(Error::bad_param("consent", format!("expected given or not_given, got {other:?}")));
        }
    };
    let scope = Scope::of(criteria, None).with_rules(rules);
    let (total, rows) = if found.as_ref().is_some_and(Vec::is_empty) {
        // No member has that id or number: nothing to read.
        (0, Vec::new())
    } else {
        scope.prepare(conn, as_of, cfg)?;
        let join = scope.join_numbered("s");
        // A look-up reads each table for the members found only: their ids as one fragment
        // (`$found0, $found1, …`) that every statement takes with its arguments.
        let found = found.map(|ids| {
            let names: Vec<String> = (0..ids.len()).map(|i| format!("$found{i}")).collect();
            ids.into_iter()
                .enumerate()
                .fold(Sql::new(names.join(", ")), |sql, (i, id)| sql.bind(&format!("found{i}"), id))
        });
        let table = |name: &str| match &found {
            Some(ids) => format!("(SELECT * FROM {name} WHERE member_id IN ({}))", ids.text()),
            None => name.to_string(),
        };
        let summary = table("member_summary");
        // The page's members are picked with only the table the order needs beside the
        // summary, joined after the scope (so only the scope's members are looked up),
        // then read whole, each table narrowed to the page's members first: joining
        // every member's profile and scores, to keep fifty, cost most of the time.
        let needs = match column.split_once('.').map(|(alias, _)| alias.trim_start_matches('(')) {
            Some("m") => format!("LEFT JOIN {} m ON m.member_id = s.member_id", table("members")),
            Some("ps") => format!("LEFT JOIN {} ps ON ps.member_id = s.member_id", table("member_scores")),
            _ => String::new(),
        };
        let ids = found.unwrap_or_default();
        let total: i64 = Sql::new(format!("SELECT count(*) FROM {summary} s {join} {with_consent}"))
            .with(&ids)
            .row(conn, |r| r.get(0))?;
        let direction = if descending { "DESC" } else { "ASC" };
        let offset = i64::from(page - 1) * i64::from(page_size);
        let order = format!("{column} {direction} NULLS LAST, s.member_id");
        let rows = Sql::new(format!(
            "WITH page AS (
                 SELECT s.member_no, s.member_id FROM {summary} s {join} {needs} {with_consent}
                 ORDER BY {order} LIMIT $limit OFFSET $offset
             )
             SELECT {ROW} FROM page JOIN member_summary s USING (member_no)
             LEFT JOIN (SELECT * FROM members WHERE member_id IN (SELECT member_id FROM page)) m
                    ON m.member_id = s.member_id
             LEFT JOIN (SELECT * FROM member_scores WHERE member_id IN (SELECT member_id FROM page)) ps
                    ON ps.member_id = s.member_id
             LEFT JOIN ({page_consent}) mc ON mc.member_id = s.member_id
             ORDER BY {order}",
            page_consent = consent::latest(Some("SELECT member_id FROM page")),
        ))
        .with(&ids)
        .bind("limit", i64::from(page_size))
        .bind("offset", offset)
        .rows(conn, |r| row(r, personal))?;
        (total, rows)
    };
    Ok(MemberPage {
        as_of: as_of.to_string(),
        filters: scope.filters.clone(),
        ranges: scope.ranges.clone(),
        sort,
        page,
        page_size,
        total,
        rows,
    })
}

/// The longest look-up text taken (ids and phone numbers are far shorter).
const MAX_FIND: usize = 64;

/// What a look-up matches: the text without spaces (none for an empty one); a 400 past
/// [`MAX_FIND`] characters or with control characters.
pub fn find_key(find: Option<&str>) -> Result<Option<String>> {
    let Some(text) = find else { return Ok(None) };
    let key: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if key.is_empty() {
        return Ok(None);
    }
    if key.chars().count() > MAX_FIND || key.chars().any(char::is_control) {
        return Err(Error::bad_param(
            "find",
            format!("expected a member id or a whole phone number of at most {MAX_FIND} characters"),
        ));
    }
    Ok(Some(key))
}

/// A look-up key (as [`find_key`] gives it) as the audit log keeps it: one without letters
/// that holds seven or more numerals of any script — it could be a phone number, however
/// written — masked like a phone; a member id with letters as given (an all-digit member
/// id of seven or more digits is masked too).
pub fn find_for_audit(key: &str) -> String {
    let numerals = key.chars().filter(|c| c.is_numeric()).count();
    if numerals >= 7 && !key.chars().any(char::is_alphabetic) { mask_phone(key) } else { key.to_string() }
}

/// The most members one look-up may match (a look-up is for one member; a placeholder
/// phone shared by thousands is a 400 asking for filters instead).
pub const MAX_FOUND: usize = 100;

/// One member's profile, summary, orders and points, newest first.
pub fn profile(
    conn: &Connection,
    member_id: &str,
    cfg: MetricConfig,
    rules: &[RfmRule],
    personal: Personal,
) -> Result<Option<Member360>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ROW}, m.gender, m.birth_year, m.home_store_id
         FROM member_summary s LEFT JOIN members m USING (member_id)
         LEFT JOIN member_scores ps USING (member_id)
         LEFT JOIN ({}) mc USING (member_id)
         WHERE s.member_id = ?",
        consent::latest(Some("SELECT CAST(? AS VARCHAR)"))
    ))?;
    let mut rows = stmt.query(params![member_id, member_id])?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let member = row(r, personal)?;
    let (gender, birth_year, home_store_id) = (r.get(17)?, r.get(18)?, r.get(19)?);
    let as_of = metrics::day_or_latest(conn, "as_of", None)?;
    // Stage and RFM scores are read from the member facts when they are current (they
    // rank the member among all members); otherwise computed as of T.
    let kept = metrics::facts::current(conn, cfg)? == Some(as_of);
    let stage = match kept {
        true => Sql::new("SELECT stage FROM member_facts WHERE member_id = $member AND as_of = CAST($as_of AS DATE)")
            .bind("member", member_id.to_string())
            .bind("as_of", crate::store::sql::day(as_of))
            .rows(conn, |r| r.get(0))?
            .into_iter()
            .next(),
        false => scope::stage_of(conn, member_id, as_of, cfg)?,
    }
    .unwrap_or_else(|| "(not a member)".to_string());
    let orders = of_member(
        conn,
        "SELECT order_id, strftime(ordered_at, '%Y-%m-%d %H:%M:%S'), CAST(net_amount * 100 AS BIGINT), channel, store_id, item_count
         FROM orders WHERE member_id = ? ORDER BY ordered_at DESC, order_id",
        member_id,
        |r| {
            Ok(MemberOrder {
                order_id: r.get(0)?,
                ordered_at: r.get(1)?,
                net_amount_cents: r.get(2)?,
                channel: r.get(3)?,
                store_id: r.get(4)?,
                item_count: r.get(5)?,
            })
        },
    )?;
    let points = of_member(
        conn,
        "SELECT entry_id, strftime(occurred_at, '%Y-%m-%d %H:%M:%S'), kind, points, source, order_id
         FROM points WHERE member_id = ? ORDER BY occurred_at DESC, entry_id",
        member_id,
        |r| {
            Ok(MemberPoints {
                entry_id: r.get(0)?,
                occurred_at: r.get(1)?,
                kind: r.get(2)?,
                points: r.get(3)?,
                source: r.get(4)?,
                order_id: r.get(5)?,
            })
        },
    )?;
    let prediction = conn
        .query_row(
            "SELECT CAST(as_of AS VARCHAR), p_alive, purchases_30d, purchases_90d, purchases_365d,
                    spend_per_purchase, clv_12m
             FROM member_scores WHERE member_id = ?",
            params![member_id],
            |r| {
                Ok(MemberPrediction {
                    as_of: r.get(0)?,
                    score: MemberScore {
                        p_alive: r.get(1)?,
                        purchases_30d: r.get(2)?,
                        purchases_90d: r.get(3)?,
                        purchases_365d: r.get(4)?,
                        spend_per_purchase: r.get(5)?,
                        clv_12m: r.get(6)?,
                    },
                })
            },
        )
        .optional()?;
    let rfm = {
        let segment = crate::metrics::rfm::segment_expression(rules);
        let from = match kept {
            true => "member_facts rfm WHERE rfm.member_id = $member AND rfm.as_of = CAST($as_of AS DATE)".to_string(),
            false => format!("members m {} WHERE m.member_id = $member", crate::metrics::rfm::SCORES),
        };
        Sql::new(format!("SELECT rfm.r, rfm.f, rfm.m, {} FROM {from} AND rfm.r IS NOT NULL", segment.text()))
            .with(&segment)
            .bind("lookback_from", crate::metrics::rfm::lookback_from(as_of))
            .bind("after", midnight(as_of + chrono::Days::new(1)))
            .bind("as_of", crate::store::sql::day(as_of))
            .bind("member", member_id.to_string())
            .rows(conn, |r| Ok(MemberRfm { r: r.get(0)?, f: r.get(1)?, m: r.get(2)?, segment: r.get(3)? }))?
            .into_iter()
            .next()
    };
    let tier_changes = of_member(
        conn,
        "SELECT strftime(changed_at, '%Y-%m-%d %H:%M:%S'), tier FROM tier_changes
         WHERE member_id = ? ORDER BY changed_at DESC",
        member_id,
        |r| Ok(MemberTierChange { changed_at: r.get(0)?, tier: r.get(1)? }),
    )?;
    let consent_history = consent_history(conn, member_id)?;
    let mut identities = crate::identity::of_person(conn, member_id)?;
    if personal == Personal::Masked {
        identities.iter_mut().filter(|i| i.kind != "phone").for_each(|i| i.value = mask_phone(&i.value));
    }
    Ok(Some(Member360 {
        member,
        gender,
        birth_year,
        home_store_id,
        stage,
        orders,
        points,
        prediction,
        rfm,
        tier_changes,
        consent_history,
        identities,
    }))
}

/// A member's recorded consent changes, newest first.
pub fn consent_history(conn: &Connection, member_id: &str) -> Result<Vec<ConsentChange>> {
    of_member(
        conn,
        &format!(
            "SELECT consent, strftime(given_at, '%Y-%m-%d %H:%M:%S'), channel, source, strftime(recorded_at, '%Y-%m-%d %H:%M:%S')
             FROM consent_events WHERE member_id = ? ORDER BY {}",
            consent::NEWEST_FIRST
        ),
        member_id,
        |r| {
            Ok(ConsentChange {
                consent: r.get(0)?,
                given_at: r.get(1)?,
                channel: r.get(2)?,
                source: r.get(3)?,
                recorded_at: r.get(4)?,
            })
        },
    )
}

/// The rows `sql` returns for one member (its one parameter), read by `read`.
fn of_member<T>(
    conn: &Connection,
    sql: &str,
    member_id: &str,
    read: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params![member_id], read)?.collect::<duckdb::Result<Vec<_>>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_masked() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧*");
        assert_eq!(mask_name("Alice"), "A*");
        assert_eq!(mask_name("张"), "**");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12345"), "****");
    }

    #[test]
    fn csv_cells_carry_no_formulas() {
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("+8613812345678"), "'+8613812345678");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-1+1"), "'-1+1");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("=HYPERLINK(\"a\",\"b\")"), "\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\"");
        assert_eq!(csv_field("-12.50"), "-12.50");
        assert_eq!(csv_field("-3"), "-3");
        assert_eq!(csv_field("张三"), "张三");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
