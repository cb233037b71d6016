//! The access document (PIPL art. 45): everything MemberPulse holds on one member, as one
//! JSON document, and the same as a readable HTML page. This module reads the analytics
//! store's part; the service adds what the operational store holds (saved segments,
//! alert events, audit rows).

use duckdb::{Connection, params};
use serde_json::{Value, json};

use crate::{
    Result,
    members::{self, Personal},
    metrics::{MetricConfig, rfm::RfmRule},
};

/// The analytics store's part of the document: the profile unmasked, the summary, stage,
/// RFM, scores, consent history, tier history, orders with their items and points.
/// None when no member has the id.
pub fn analytics_part(
    conn: &Connection,
    member_id: &str,
    cfg: MetricConfig,
    rules: &[RfmRule],
) -> Result<Option<Value>> {
    let Some(profile) = members::profile(conn, member_id, cfg, rules, Personal::Shown)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT i.order_id, i.line_no, i.sku, i.quantity, CAST(i.amount * 100 AS BIGINT), i.category
         FROM order_items i JOIN orders o USING (order_id) WHERE o.member_id = ? ORDER BY i.order_id, i.line_no",
    )?;
    let items = stmt
        .query_map(params![member_id], |r| {
            Ok(json!({
                "order_id": r.get::<_, String>(0)?, "line_no": r.get::<_, i32>(1)?, "sku": r.get::<_, String>(2)?,
                "quantity": r.get::<_, i32>(3)?, "amount_cents": r.get::<_, i64>(4)?,
                "category": r.get::<_, Option<String>>(5)?,
            }))
        })?
        .collect::<duckdb::Result<Vec<_>>>()?;
    // The merges that made this person of several members (their identities are in the profile).
    let merges = crate::identity::merge::of_person(conn, member_id)?;
    // The campaigns they are in, and in which arm.
    let mut stmt =
        conn.prepare("SELECT campaign_id, arm FROM campaign_arms WHERE member_id = ? ORDER BY campaign_id")?;
    let arms = stmt
        .query_map(params![member_id], |r| {
            Ok(json!({ "campaign_id": r.get::<_, i64>(0)?, "arm": r.get::<_, String>(1)? }))
        })?
        .collect::<duckdb::Result<Vec<_>>>()?;
    Ok(Some(json!({ "profile": profile, "order_items": items, "merges": merges, "campaign_arms": arms })))
}

/// The document as a page a person reads: every object a table of its fields, every list
/// of objects a table with a row each; all text escaped.
pub fn html(document: &Value) -> String {
    let title = "MemberPulse — 个人信息查阅 / access document (PIPL art. 45)";
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:.5em 0}}\
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}th{{background:#f4f4f4}}</style>\
         </head><body><h1>{title}</h1>{}</body></html>",
        render(document)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn render(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => escape(s),
        Value::Object(fields) => {
            let rows: String =
                fields.iter().map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), render(v))).collect();
            format!("<table>{rows}</table>")
        }
        Value::Array(items) if items.is_empty() => "(none)".into(),
        Value::Array(items) => match items.first() {
            Some(Value::Object(first)) => {
                let keys: Vec<&String> = first.keys().collect();
                let head: String = keys.iter().map(|k| format!("<th>{}</th>", escape(k))).collect();
                let rows: String = items
                    .iter()
                    .map(|item| {
                        let cells: String =
                            keys.iter().map(|k| format!("<td>{}</td>", render(&item[k.as_str()]))).collect();
                        format!("<tr>{cells}</tr>")
                    })
                    .collect();
                format!("<p>{} rows</p><table><tr>{head}</tr>{rows}</table>", items.len())
            }
            _ => items.iter().map(render).collect::<Vec<_>>().join(", "),
        },
        other => escape(&other.to_string()),
    }
}
