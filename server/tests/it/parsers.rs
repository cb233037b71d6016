//! Property tests of the parsers that take what callers send: filters (`region:华东|华南;
//! revenue:1000..`), column mappings (TOML), ingest bodies and webhook URLs. Whatever
//! comes in, they answer a value or an error — never a panic — and a filter that parses
//! compiles to SQL that runs (its values are bound, never pasted in).

use crate::common;

use app::model::{Dimension, MemberMeasure};
use proptest::prelude::*;
use server::{load::import::Mapping, metrics::scope};

/// Text that looks like a filter: dimension and measure keys (and near misses), values
/// with separators, ranges, quotes, SQL and odd characters.
fn filter_text() -> impl Strategy<Value = String> {
    let keys: Vec<String> = Dimension::ALL
        .iter()
        .map(|d| d.key().to_string())
        .chain(MemberMeasure::ALL.iter().map(|m| m.key().to_string()))
        .chain(["regio", "", "REGION", "tier ", "p_alive"].map(String::from))
        .collect();
    let value = prop_oneof![
        "[a-z0-9_]{0,8}",
        "[0-9.\\-]{0,10}\\.\\.[0-9.\\-]{0,10}",
        Just("华东".to_string()),
        Just("'; DROP TABLE members; --".to_string()),
        Just("(none)".to_string()),
        ".{0,12}",
    ];
    let part = (proptest::sample::select(keys), proptest::collection::vec(value, 0..4), any::<bool>())
        .prop_map(|(k, vs, colon)| format!("{k}{}{}", if colon { ":" } else { "" }, vs.join("|")));
    prop_oneof![proptest::collection::vec(part, 0..5).prop_map(|p| p.join(";")), ".{0,40}"]
}

/// Text that looks like a mapping file.
fn mapping_text() -> impl Strategy<Value = String> {
    let kind = proptest::sample::select(vec!["orders", "members", "order_lines", "points", "stores", "nope", ""]);
    let field = (
        "[a-z_]{0,12}",
        prop_oneof![
            "\"[A-Za-z ]{0,10}\"".boxed(),
            "\\{ column = \"[A-Za-z]{0,6}\", format = \"[%a-zA-Z/: ]{0,12}\" \\}".boxed(),
            "\\{ value = \"[a-z]{0,5}\", integer = (true|false) \\}".boxed(),
            "[0-9]{1,3}".boxed(),
            "\\{ bogus = 1 \\}".boxed(),
        ],
    );
    (kind, proptest::collection::vec(field, 0..5), ".{0,3}").prop_map(|(kind, fields, noise)| {
        let lines: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!("kind = \"{kind}\"\ndelimiter = \";\"\n[fields]\n{}\n{noise}", lines.join("\n"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn filters_parse_or_say_why(text in filter_text()) {
        if let Err(e) = scope::parse(&text) {
            prop_assert_eq!(e.status().as_u16(), 400, "{}", e);
        }
    }

    #[test]
    fn mappings_parse_or_say_why(text in prop_oneof![mapping_text(), ".{0,60}"]) {
        if let Err(e) = Mapping::from_toml(&text, "m.toml") {
            prop_assert_eq!(e.status().as_u16(), 400, "{}", e);
            prop_assert!(e.to_string().starts_with("m.toml"), "{}", e);
        }
    }

    #[test]
    fn ingest_bodies_parse_or_say_why(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "\\[(\\{\"order_id\": \"[a-z]{0,3}\", \"net_amount\": [0-9e.\\-]{0,6}, \"ordered_at\": \"[0-9T:\\-]{0,20}\"\\},?){0,3}\\]?".prop_map(String::into_bytes),
        "(\\{\"[a-z_]{0,10}\": (null|true|[0-9]{0,4}|\"[^\"]{0,8}\"|\\[\\])\\}\n){0,4}".prop_map(String::into_bytes),
    ]) {
        for kind in server::load::ingest::TABLES {
            if let Ok(records) = server::load::ingest::records(&body) {
                let n = records.len();
                let (good, rejected) = server::load::ingest::validate(kind, records, chrono_tz::UTC);
                prop_assert_eq!(good.len() + rejected.iter().map(|r| r.index).collect::<std::collections::BTreeSet<_>>().len(), n);
            }
        }
    }

    #[test]
    fn webhook_urls_are_checked_without_panic(url in prop_oneof![
        ".{0,40}",
        "(http|https|ftp)://[a-z0-9.:\\[\\]@%-]{0,30}/[a-z?=&]{0,10}",
    ]) {
        let _ = server::alerts::webhook::check_before_send(&url, false);
        let _ = server::alerts::webhook::redact(&url);
    }
}

/// A filter that parses compiles to SQL that runs, whatever its values (they are bound).
#[test]
fn every_parsed_filter_runs() {
    let (_dir, a) = common::retailer();
    let conn = a.reader().unwrap();
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 3, 31).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 128, ..ProptestConfig::default() });
    runner
        .run(&filter_text(), |text| {
            if let Ok(criteria) = scope::parse(&text) {
                let scope = scope::Scope::of(criteria, Some(Dimension::Region));
                scope.prepare(&conn, as_of, common::CFG).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            }
            Ok(())
        })
        .unwrap();
}
