//! Loads through DuckDB's readers: bad rows reported by line, good rows landing once.

use std::path::{Path, PathBuf};

use server::{
    load::import::{self, Kind, LoadReport, LoadRequest, Mapping, Source},
    store::analytics::Analytics,
};

fn store() -> (tempfile::TempDir, Analytics) {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("import.duckdb")).unwrap();
    (dir, a)
}

fn load(a: &Analytics, path: &Path, mapping: Mapping) -> LoadReport {
    import::load(&mut a.writer(), &LoadRequest { path: path.to_path_buf(), mapping, name: None }, None).unwrap()
}

fn count(a: &Analytics, sql: &str) -> i64 {
    a.reader().unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// (line, field) of every reject, in line order.
fn rejected_at(report: &LoadReport) -> Vec<(i64, &str)> {
    report.rejected.iter().map(|r| (r.line, r.field.as_str())).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes the rows of `select` as a Parquet file, with a separate in-memory DuckDB.
fn write_parquet(dir: &Path, name: &str, select: &str) -> PathBuf {
    let path = dir.join(name);
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!("COPY ({select}) TO '{}' (FORMAT parquet)", path.display()))
        .unwrap();
    path
}

#[test]
fn bad_rows_are_reported_by_line_while_good_rows_land_once() {
    let (dir, a) = store();
    let csv = write(
        dir.path(),
        "orders.csv",
        "order_id,ordered_at,net_amount,member_id,channel\n\
         o1,2024-03-01 10:00:00,10.50,m1,store\n\
         ,2024-03-01 10:00:00,5.00,m1,store\n\
         o3,yesterday,5.00,m1,app\n\
         o4,2024-03-02 09:00:00,abc,,web\n\
         o5,2024-03-02 09:00:00,1.234,m2,web\n\
         o6,2024-03-02 09:00:00,7.00,m2,telepathy\n\
         o7,2024-03-03 09:00:00,-3.20,m2,STORE\n\
         o1,2024-03-09 10:00:00,99.00,m9,store\n",
    );
    let report = load(&a, &csv, Mapping::identity(Kind::Orders));
    assert_eq!(report.rows_read, 8);
    assert_eq!(
        rejected_at(&report),
        vec![(3, "order_id"), (4, "ordered_at"), (5, "net_amount"), (6, "net_amount"), (7, "channel")]
    );
    assert_eq!(report.rejected[0].reason, "missing");
    assert_eq!(report.rejected[1].value.as_deref(), Some("yesterday"));
    assert_eq!(report.rejected[1].reason, "not a date-time from 1900-01-01 to 2999-12-31");
    // o1 and o7 land; the second o1 (line 9) repeats a known id and is skipped.
    assert_eq!(report.inserted, vec![("orders".to_string(), 2)]);
    assert_eq!(report.duplicates, vec![("orders".to_string(), 1)]);
    assert_eq!(count(&a, "SELECT count(*) FROM orders"), 2);
    assert_eq!(count(&a, "SELECT CAST(sum(net_amount) * 100 AS BIGINT) FROM orders"), 1050 - 320);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id = 'o7' AND channel = 'store'"), 1);
    assert!(
        report
            .summary(10)
            .contains("orders.csv:4: ordered_at = \"yesterday\": not a date-time from 1900-01-01 to 2999-12-31")
    );

    // The same file again changes nothing.
    let again = load(&a, &csv, Mapping::identity(Kind::Orders));
    assert_eq!(again.inserted, vec![("orders".to_string(), 0)]);
    assert_eq!(count(&a, "SELECT count(*) FROM orders"), 2);
}

#[test]
fn rows_that_do_not_parse_are_reported_with_their_line() {
    let (dir, a) = store();
    let csv = write(
        dir.path(),
        "ragged.csv",
        "order_id,ordered_at,net_amount\n\
         o1,2024-01-01 10:00:00,1.00\n\
         o2,2024-01-01 10:00:00,2.00,extra,more\n\
         o3,2024-01-01 10:00:00\n\
         o4,2024-01-02 10:00:00,abc\n\
         o5,2024-01-02 10:00:00,5.00\n",
    );
    let report = load(&a, &csv, Mapping::identity(Kind::Orders));
    assert_eq!(report.rows_read, 5);
    assert_eq!(rejected_at(&report), vec![(3, "(row)"), (4, "(row)"), (5, "net_amount")]);
    assert!(report.rejected[0].reason.contains("Columns"), "{:?}", report.rejected[0]);
    assert_eq!(report.inserted, vec![("orders".to_string(), 2)]);
    assert_eq!(count(&a, "SELECT CAST(sum(net_amount) * 100 AS BIGINT) FROM orders"), 600);

    // A file DuckDB cannot read at all fails whole, naming the file, without quoting SQL.
    let broken = write(dir.path(), "broken.csv", "order_id,ordered_at,net_amount\no9,\"2024-01-01,1.00\n");
    let err = import::load(
        &mut a.writer(),
        &LoadRequest { path: broken, mapping: Mapping::identity(Kind::Orders), name: None },
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("broken.csv") && !err.contains("read_csv("), "{err}");
    assert_eq!(count(&a, "SELECT count(*) FROM orders"), 2);
}

#[test]
fn order_items_without_line_numbers_keep_every_line_once() {
    let (dir, a) = store();
    let csv = write(
        dir.path(),
        "items.csv",
        "order_id,sku,quantity,amount,category\n\
         o1,A,1,10.00,服装\n\
         o1,B,2,5.50,美妆\n\
         o1,A,1,10.00,服装\n\
         o2,C,1,3.00,\n",
    );
    let report = load(&a, &csv, Mapping::identity(Kind::OrderItems));
    // Lines are numbered per order in file order; the same sku twice is two lines.
    assert_eq!(report.inserted, vec![("order_items".to_string(), 4)]);
    assert_eq!(count(&a, "SELECT max(line_no) FROM order_items WHERE order_id = 'o1'"), 3);
    let again = load(&a, &csv, Mapping::identity(Kind::OrderItems));
    assert_eq!(again.inserted, vec![("order_items".to_string(), 0)]);
    assert_eq!(count(&a, "SELECT count(*) FROM order_items"), 4);
}

#[test]
fn points_with_an_unknown_kind_or_a_signed_amount_are_rejected() {
    let (dir, a) = store();
    let csv = write(
        dir.path(),
        "points.csv",
        "entry_id,member_id,occurred_at,kind,points,source\n\
         e1,m1,2024-01-01T08:00:00,earn,100,purchase\n\
         e2,m1,2024-01-02T08:00:00,gift,5,\n\
         e3,m1,2024-01-03T08:00:00,redeem,-20,\n\
         e4,m1,2024-01-04T08:00:00,adjust,-20,\n\
         e5,m1,2024-01-05T08:00:00,redeem,2.5,\n",
    );
    let report = load(&a, &csv, Mapping::identity(Kind::Points));
    assert_eq!(rejected_at(&report), vec![(3, "kind"), (4, "points"), (6, "points")]);
    assert_eq!(count(&a, "SELECT count(*) FROM points"), 2);
    assert_eq!(count(&a, "SELECT sum(points) FROM points"), 80);
}

#[test]
fn parquet_files_load_like_csv() {
    let (dir, a) = store();
    let parquet = write_parquet(
        dir.path(),
        "members.parquet",
        "SELECT * FROM (VALUES
            ('m1', TIMESTAMP '2023-01-01 00:00:00', 'app', '华东', 1990, '张三', '13800001234'),
            ('m2', TIMESTAMP '2023-02-01 00:00:00', 'web', '华南', NULL, '李四', NULL),
            ('',   TIMESTAMP '2023-02-01 00:00:00', 'web', '华南', NULL, NULL, NULL))
          t(member_id, joined_at, join_channel, region, birth_year, name, phone)",
    );
    let report = load(&a, &parquet, Mapping::identity(Kind::Members));
    assert_eq!(report.rows_read, 3);
    assert_eq!(report.inserted, vec![("members".to_string(), 2)]);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!((report.rejected[0].line, report.rejected[0].field.as_str()), (3, "member_id"));
    assert_eq!(count(&a, "SELECT birth_year FROM members WHERE member_id = 'm1'"), 1990);
}

/// Typed Parquet columns a field takes as they are (timestamps, dates, decimals, integers)
/// are checked as typed values; others (floating point, integer ids) as their text.
#[test]
fn typed_parquet_columns_are_checked_by_the_same_rules() {
    let (dir, a) = store();
    let parquet = write_parquet(
        dir.path(),
        "orders.parquet",
        "SELECT * FROM (VALUES
            ('o1', TIMESTAMP '2024-03-01 10:00:00', 12.34::DECIMAL(18,3), 42::BIGINT, 'Store', 3::INTEGER, 1.5::DOUBLE),
            ('o2', TIMESTAMP '2024-03-02 10:00:00', 12.345::DECIMAL(18,3), 42::BIGINT, 'app', 1::INTEGER, NULL),
            ('o3', NULL, 5::DECIMAL(18,3), 43::BIGINT, 'web', 1::INTEGER, NULL),
            ('o4', TIMESTAMP '2024-03-04 10:00:00', 7::DECIMAL(18,3), NULL, 'kiosk', 1::INTEGER, NULL),
            ('o5', TIMESTAMP '2024-03-05 10:00:00', -3.5::DECIMAL(18,3), 44::BIGINT, 'web', 2::INTEGER, 0.125::DOUBLE))
          t(order_id, ordered_at, net_amount, member_id, channel, item_count, discount_amount)",
    );
    let report = load(&a, &parquet, Mapping::identity(Kind::Orders));
    assert_eq!(
        rejected_at(&report),
        vec![(2, "net_amount"), (3, "ordered_at"), (4, "channel"), (5, "discount_amount")]
    );
    assert_eq!(report.rejected[0].value.as_deref(), Some("12.345"));
    assert_eq!(report.rejected[3].value.as_deref(), Some("0.125"));
    assert_eq!(report.inserted, vec![("orders".to_string(), 1)]);
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM orders WHERE order_id = 'o1' AND member_id = '42' AND channel = 'store'
                   AND net_amount = 12.34 AND discount_amount = 1.50 AND item_count = 3
                   AND ordered_at = TIMESTAMP '2024-03-01 10:00:00'"
        ),
        1
    );
}

/// Integer and narrow decimal columns are taken by a cast, within the same bounds as
/// text (money below 1e10, counts below 1e9); a clean file whose ids repeat keeps each id's
/// first row.
#[test]
fn parquet_numbers_are_cast_within_the_rules_bounds() {
    let (dir, a) = store();
    let parquet = write_parquet(
        dir.path(),
        "orders.parquet",
        "SELECT * FROM (VALUES
            ('o1', TIMESTAMP '2024-03-01 10:00:00', 9999999999.99::DECIMAL(18,2), 3::BIGINT, 2::INTEGER),
            ('o2', TIMESTAMP '2024-03-02 10:00:00', 10000000000.00::DECIMAL(18,2), 1::BIGINT, NULL),
            ('o3', TIMESTAMP '2024-03-03 10:00:00', 5.00::DECIMAL(18,2), 1000000000::BIGINT, NULL),
            ('o4', TIMESTAMP '2024-03-04 10:00:00', -9999999999.99::DECIMAL(18,2), -5::BIGINT, -1::INTEGER))
          t(order_id, ordered_at, net_amount, item_count, discount_amount)",
    );
    let report = load(&a, &parquet, Mapping::identity(Kind::Orders));
    assert_eq!(rejected_at(&report), vec![(2, "net_amount"), (3, "item_count")]);
    assert_eq!(report.rejected[0].value.as_deref(), Some("10000000000.00"));
    assert_eq!(report.rejected[1].reason, "not a whole number below 1,000,000,000");
    assert_eq!(
        count(&a, "SELECT count(*) FROM orders WHERE (order_id = 'o1' AND net_amount = 9999999999.99 AND item_count = 3 AND discount_amount = 2)
                                              OR (order_id = 'o4' AND net_amount = -9999999999.99 AND item_count = -5 AND discount_amount = -1)"),
        2
    );
    let repeats = write_parquet(
        dir.path(),
        "repeats.parquet",
        "SELECT * FROM (VALUES
            ('o5', TIMESTAMP '2024-03-05 10:00:00', 5.00::DECIMAL(18,2)),
            ('o1', TIMESTAMP '2024-03-06 10:00:00', 6.00::DECIMAL(18,2)),
            ('o5', TIMESTAMP '2024-03-07 10:00:00', 7.00::DECIMAL(18,2)))
          t(order_id, ordered_at, net_amount)",
    );
    let report = load(&a, &repeats, Mapping::identity(Kind::Orders));
    assert!(report.rejected.is_empty());
    assert_eq!(report.inserted, vec![("orders".to_string(), 1)]);
    assert_eq!(report.duplicates, vec![("orders".to_string(), 2)]);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id = 'o5' AND net_amount = 5.00"), 1);
    assert_eq!(count(&a, "SELECT count(*) FROM orders"), 3);
    // The same bounds for text.
    let csv = write(
        dir.path(),
        "bounds.csv",
        "order_id,ordered_at,net_amount\no6,2024-03-08,9999999999.99\no7,2024-03-09,10000000000\n",
    );
    let report = load(&a, &csv, Mapping::identity(Kind::Orders));
    assert_eq!(rejected_at(&report), vec![(3, "net_amount")]);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id = 'o6' AND net_amount = 9999999999.99"), 1);
}

/// A clean file's text is trimmed and its enumerations lower-cased, column by column,
/// unless every value already is (then it is taken as it is).
#[test]
fn clean_parquet_text_is_tidied_where_it_needs_it() {
    let (dir, a) = store();
    let parquet = write_parquet(
        dir.path(),
        "orders.parquet",
        "SELECT * FROM (VALUES
            ('o1', TIMESTAMP '2024-03-01 10:00:00', 1.00::DECIMAL(18,2), ' m1 ', 'Web', 'S1'),
            ('o2', TIMESTAMP '2024-03-02 10:00:00', 2.00::DECIMAL(18,2), '', 'store', 'S2'),
            ('o3', TIMESTAMP '2024-03-03 10:00:00', 3.00::DECIMAL(18,2), 'm3', 'APP', 'S3'))
          t(order_id, ordered_at, net_amount, member_id, channel, store_id)",
    );
    let report = load(&a, &parquet, Mapping::identity(Kind::Orders));
    assert!(report.rejected.is_empty());
    assert_eq!(report.inserted, vec![("orders".to_string(), 3)]);
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM orders WHERE (order_id, member_id, channel, store_id) IN
                   (('o1', 'm1', 'web', 'S1'), ('o3', 'm3', 'app', 'S3'))
                   OR (order_id = 'o2' AND member_id IS NULL AND channel = 'store' AND store_id = 'S2')"
        ),
        3
    );
}

#[test]
fn a_parquet_column_named_like_the_readers_row_number_is_read_as_data() {
    let (dir, a) = store();
    let parquet = write_parquet(
        dir.path(),
        "orders.parquet",
        "SELECT * FROM (VALUES
            ('o1', TIMESTAMP '2024-03-01 10:00:00', 12.34::DECIMAL(18,2), 'm1', 900::BIGINT),
            ('o2', TIMESTAMP '2024-03-02 10:00:00', 12.345::DECIMAL(18,3), 'm1', 901::BIGINT),
            ('o3', TIMESTAMP '2024-03-03 10:00:00', 5::DECIMAL(18,2), 'm2', 902::BIGINT))
          t(order_id, ordered_at, net_amount, member_id, file_row_number)",
    );
    let mut mapping = Mapping::identity(Kind::Orders);
    mapping.fields.insert("coupon_id".into(), Source::Column("file_row_number".into()));
    let report = load(&a, &parquet, mapping);
    // Rows are still named by their place in the file; the column is the file's own.
    assert_eq!(rejected_at(&report), vec![(2, "net_amount")]);
    assert_eq!(report.inserted, vec![("orders".to_string(), 2)]);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE coupon_id IN ('900', '902')"), 2);
}

#[test]
fn order_lines_with_a_bad_line_reject_the_whole_order() {
    let (dir, a) = store();
    let csv = write(
        dir.path(),
        "lines.csv",
        "Invoice,Sku,Qty,Price,When,Customer\n\
         1001,A,2,1.25,2024-01-05 10:00,7.0\n\
         1001,B,1,x,2024-01-05 10:00,7.0\n\
         1002,A,3,0.333,2024-01-06 11:00,\n\
         C1003,A,-1,1.25,2024-01-07 12:00,7.0\n",
    );
    let mapping: Mapping = toml::from_str(
        r#"
        kind = "order_lines"
        return_prefix = "C"
        derive_members = true
        [fields]
        order_id = "Invoice"
        sku = "Sku"
        quantity = "Qty"
        unit_price = "Price"
        ordered_at = { column = "When", format = "%Y-%m-%d %H:%M" }
        member_id = { column = "Customer", integer = true }
        "#,
    )
    .unwrap();
    let report = load(&a, &csv, mapping);
    let rejected: Vec<(i64, &str, &str)> =
        report.rejected.iter().map(|r| (r.line, r.field.as_str(), r.reason.as_str())).collect();
    assert_eq!(
        rejected,
        vec![
            (2, "order_id", "line 3 of the same order was rejected"),
            (3, "unit_price", "not a price below 10,000,000,000 with at most 4 decimals")
        ]
    );
    assert_eq!(report.inserted_into("orders"), 2);
    assert_eq!(report.inserted_into("order_items"), 2);
    assert_eq!(report.inserted_into("members"), 1);
    // 3 × 0.333 = 0.999 → 1.00; the C invoice is a return of 1.25.
    assert_eq!(count(&a, "SELECT CAST(net_amount * 100 AS BIGINT) FROM orders WHERE order_id = '1002'"), 100);
    assert_eq!(count(&a, "SELECT CAST(net_amount * 100 AS BIGINT) FROM orders WHERE order_id = 'C1003'"), -125);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id = '1002' AND member_id IS NULL"), 1);
    assert_eq!(
        count(&a, "SELECT count(*) FROM members WHERE member_id = '7' AND joined_at = TIMESTAMP '2024-01-07 12:00:00'"),
        1
    );
}

#[test]
fn a_mapping_that_names_a_missing_column_fails_before_anything_lands() {
    let (dir, a) = store();
    let csv = write(dir.path(), "o.csv", "id,when,amount\no1,2024-01-01,1.00\n");
    let mapping: Mapping = toml::from_str(
        "kind = \"orders\"\n[fields]\norder_id = \"id\"\nordered_at = \"when\"\nnet_amount = \"total\"\n",
    )
    .unwrap();
    let err =
        import::load(&mut a.writer(), &LoadRequest { path: csv, mapping, name: None }, None).unwrap_err().to_string();
    assert!(err.contains("net_amount") && err.contains("\"total\""), "{err}");
    assert_eq!(count(&a, "SELECT count(*) FROM orders"), 0);

    let missing = write(dir.path(), "m.csv", "member_id\nm1\n");
    let err = import::load(
        &mut a.writer(),
        &LoadRequest { path: missing, mapping: Mapping::identity(Kind::Members), name: None },
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("required field joined_at"), "{err}");

    let mapping_file = write(dir.path(), "bad.toml", "kind = \"orders\"\n[fields]\nprice = \"x\"\n");
    let err = Mapping::from_file(&mapping_file).unwrap_err().to_string();
    assert!(err.contains("unknown field \"price\""), "{err}");
}

/// The real UCI Online Retail export, through the shipped mapping. Expected figures were
/// computed independently with Python's csv and decimal modules (see README).
#[test]
fn online_retail_sample_loads_through_its_mapping() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = std::env::var_os("MEMBERPULSE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data"))
        .join("online_retail.csv.gz");
    assert!(data.is_file(), "{} is missing", data.display());
    let mapping = Mapping::from_file(&root.join("mappings/online_retail.toml")).unwrap();
    let (_dir, a) = store();
    let report = load(&a, &data, mapping.clone());
    assert_eq!(report.rows_read, 541_909);
    assert_eq!(report.rejected.len(), 0, "{:?}", &report.rejected[..report.rejected.len().min(5)]);
    assert_eq!(report.inserted_into("orders"), 25_900);
    assert_eq!(report.inserted_into("order_items"), 541_909);
    assert_eq!(report.inserted_into("members"), 4_372);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE member_id IS NULL"), 3_710);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id LIKE 'C%'"), 3_836);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id LIKE 'C%' AND net_amount >= 0"), 0);
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE net_amount > 0"), 19_960);
    assert_eq!(count(&a, "SELECT CAST(sum(net_amount) * 100 AS BIGINT) FROM orders"), 974_774_793);
    assert_eq!(
        count(&a, "SELECT CAST(sum(net_amount) * 100 AS BIGINT) FROM orders WHERE member_id IS NOT NULL"),
        830_006_581
    );
    assert_eq!(count(&a, "SELECT count(*) FROM members WHERE member_id = '17850' AND region = 'United Kingdom'"), 1);

    let again = load(&a, &data, mapping);
    assert_eq!(again.inserted_total(), 0);
    assert_eq!(again.inserted_into("orders"), 0);
    assert_eq!(count(&a, "SELECT count(*) FROM order_items"), 541_909);
}
