//! The per-member summary kept as data lands equals the one rebuilt from the raw tables,
//! after random loads that re-send, repeat and return.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use server::{
    derive::{landing, summary},
    load::import::{self, Kind, LoadRequest, Mapping},
    store::analytics::Analytics,
};

use crate::common;
use crate::common::differences;

fn load(a: &Analytics, path: &Path, kind: Kind) {
    let request = LoadRequest { path: path.to_path_buf(), mapping: Mapping::identity(kind), name: None };
    import::load(&mut a.writer(), &request, None).unwrap();
}

#[test]
fn kept_summary_equals_rebuilt_after_random_loads() {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("s.duckdb")).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    for round in 0..12 {
        // A small id space, so that later rounds re-send rows already stored.
        let mut orders = String::from("order_id,ordered_at,net_amount,member_id,channel\n");
        for _ in 0..rng.gen_range(1..40) {
            let member = if rng.gen_bool(0.2) { String::new() } else { format!("m{}", rng.gen_range(0..12)) };
            let cents: i64 = if rng.gen_bool(0.15) { -rng.gen_range(1..5_000) } else { rng.gen_range(1..20_000) };
            orders.push_str(&format!(
                "o{},2024-{:02}-{:02} {:02}:00:00,{}.{:02},{member},{}\n",
                rng.gen_range(0..150),
                rng.gen_range(1..13),
                rng.gen_range(1..29),
                rng.gen_range(0..24),
                cents / 100,
                (cents % 100).abs(),
                ["store", "app", "web", ""][rng.gen_range(0..4)]
            ));
        }
        let mut points = String::from("entry_id,member_id,occurred_at,kind,points\n");
        for _ in 0..rng.gen_range(1..30) {
            let kind = ["earn", "redeem", "expire", "adjust"][rng.gen_range(0..4)];
            points.push_str(&format!(
                "p{},m{},2024-03-{:02} 10:00:00,{kind},{}\n",
                rng.gen_range(0..120),
                rng.gen_range(0..15),
                rng.gen_range(1..29),
                rng.gen_range(1..500)
            ));
        }
        let mut members = String::from("member_id,joined_at\n");
        for _ in 0..rng.gen_range(0..5) {
            members.push_str(&format!("m{},2023-01-01 00:00:00\n", rng.gen_range(0..20)));
        }
        let orders_csv = dir.path().join(format!("orders{round}.csv"));
        let points_csv = dir.path().join(format!("points{round}.csv"));
        let members_csv = dir.path().join(format!("members{round}.csv"));
        std::fs::write(&orders_csv, orders).unwrap();
        std::fs::write(&points_csv, points).unwrap();
        std::fs::write(&members_csv, members).unwrap();
        load(&a, &members_csv, Kind::Members);
        load(&a, &orders_csv, Kind::Orders);
        load(&a, &points_csv, Kind::Points);
        if round % 3 == 0 {
            // Re-sending a whole file changes nothing.
            load(&a, &orders_csv, Kind::Orders);
        }
        assert_eq!(differences(&a), 0, "round {round}");
    }
    let conn = a.reader().unwrap();
    let (rows, purchases, revenue): (i64, i64, i64) = conn
        .query_row("SELECT count(*), sum(purchases), sum(revenue_cents) FROM member_summary", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let (orders, cents): (i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE net_amount > 0), CAST(sum(net_amount) * 100 AS BIGINT)
             FROM orders WHERE member_id IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rows > 10);
    assert_eq!((purchases, revenue), (orders, cents));
}

#[test]
fn online_retail_summary_is_kept_while_loading() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = std::env::var_os("MEMBERPULSE_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data"))
        .join("online_retail.csv.gz");
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("s.duckdb")).unwrap();
    let mapping = Mapping::from_file(&root.join("mappings/online_retail.toml")).unwrap();
    import::load(&mut a.writer(), &LoadRequest { path: data, mapping, name: None }, None).unwrap();
    let n: i64 = a.reader().unwrap().query_row("SELECT count(*) FROM member_summary", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 4_372);
    assert_eq!(differences(&a), 0);
}

/// Orders arriving in time order take the fold's fast path (the last day's row gains
/// purchases, the rows since the last purchase link to the new one, new days appended);
/// a back-dated order and a member row arriving after its orders take the slow one.
/// After every step the kept tables equal a rebuild.
#[test]
fn folding_batch_by_batch_equals_a_rebuild() {
    use server::load::ingest;
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("f.duckdb")).unwrap();
    let order = |id: &str, day: &str, amount: &str, member: &str, channel: &str| {
        format!(
            r#"{{"order_id":"{id}","ordered_at":"2024-03-{day}T10:00:00","net_amount":"{amount}","member_id":"{member}","channel":"{channel}"}}"#
        )
    };
    let steps: Vec<(Kind, Vec<String>)> = vec![
        (Kind::Members, vec![r#"{"member_id":"a","joined_at":"2024-01-01"}"#.into()]),
        (Kind::Orders, vec![order("1", "01", "10", "a", "store"), order("2", "01", "5", "b", "app")]),
        // A return two days after the last purchase: a return-only day.
        (Kind::Orders, vec![order("3", "03", "-4", "a", "store")]),
        // A purchase on that same day, and one later: both rows link up.
        (
            Kind::Orders,
            vec![
                order("4", "03", "7", "a", "app"),
                order("5", "05", "8", "a", "web"),
                order("6", "09", "1", "b", "store"),
            ],
        ),
        // Same day again, plus a return after it.
        (Kind::Orders, vec![order("7", "05", "2", "a", "store"), order("8", "06", "-1", "a", "store")]),
        // Back-dated: before the member's last day.
        (Kind::Orders, vec![order("9", "02", "3", "a", "web"), order("10", "10", "4", "b", "app")]),
        // Member b's row arrives after their orders: their join day changes.
        (Kind::Members, vec![r#"{"member_id":"b","joined_at":"2024-02-15"}"#.into()]),
        (Kind::Orders, vec![order("11", "12", "6", "b", "store"), order("12", "12", "-6", "a", "store")]),
    ];
    for (i, (kind, rows)) in steps.into_iter().enumerate() {
        let body = rows.join("\n");
        let (good, rejected) = ingest::validate(kind, ingest::records(body.as_bytes()).unwrap(), chrono_tz::UTC);
        assert!(rejected.is_empty(), "{rejected:?}");
        {
            let mut w = a.writer();
            ingest::land(&mut w, kind, &[&good]).unwrap();
            summary::fold(&w, landing::Queue::Stored).unwrap();
        }
        assert_eq!(differences(&a), 0, "after step {i}");
    }
}

/// Loads big enough that DuckDB writes row groups before the commit (over 122,880 rows),
/// from typed Parquet: into an empty store (the orders table is made again with its key
/// built at the end), then back-dated orders for the same members (every member's days
/// derived again), then a re-send. Each time every order is there and the kept summary
/// equals the rebuilt one, within the same process.
#[test]
fn big_parquet_loads_are_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("s.duckdb")).unwrap();
    let files = duckdb::Connection::open_in_memory().unwrap();
    let write = |name: &str, prefix: &str, start: &str| {
        let path = dir.path().join(name);
        files
            .execute_batch(&format!(
                "COPY (SELECT '{prefix}' || i AS order_id,
                              TIMESTAMP '{start}' + INTERVAL (i % 300) DAY + INTERVAL (i % 24) HOUR AS ordered_at,
                              CAST(((i * 7919) % 50000) / 100.0 - 20 AS DECIMAL(18, 2)) AS net_amount,
                              'm' || (i % 20000) AS member_id,
                              CASE i % 3 WHEN 0 THEN 'store' WHEN 1 THEN 'app' ELSE 'web' END AS channel
                       FROM range(150000) t(i)) TO '{}' (FORMAT parquet)",
                path.display()
            ))
            .unwrap();
        path
    };
    let recent = write("recent.parquet", "r", "2025-01-01");
    let earlier = write("earlier.parquet", "e", "2024-01-01");
    let stored = |a: &Analytics| -> (i64, i64) {
        a.reader()
            .unwrap()
            .query_row("SELECT count(*), CAST(sum(net_amount) * 100 AS BIGINT) FROM orders", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    };
    let expected: i64 = files
        .query_row(
            &format!("SELECT CAST(sum(net_amount) * 100 AS BIGINT) FROM read_parquet('{}')", recent.display()),
            [],
            |r| r.get(0),
        )
        .unwrap();
    load(&a, &recent, Kind::Orders);
    assert_eq!(stored(&a), (150_000, expected));
    assert_eq!(differences(&a), 0, "after the first load");
    load(&a, &earlier, Kind::Orders);
    assert_eq!(stored(&a).0, 300_000);
    assert_eq!(differences(&a), 0, "after the back-dated load");
    load(&a, &recent, Kind::Orders);
    assert_eq!(stored(&a).0, 300_000);
    assert_eq!(differences(&a), 0, "after the re-send");
}

/// A bulk import killed (SIGKILL) part-way leaves the store whole. Killed while its rows
/// land, nothing of it is stored: the orders table (made again when a load outnumbers
/// it) keeps its rows and its key, the summary equals a rebuild. Killed once its rows are
/// committed but before the table's key is built again and the rows are folded, the
/// next open gives the key back and derives the summary again; every row is there once.
/// The import run again then changes nothing.
#[test]
fn an_import_killed_midway_leaves_the_store_whole() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let big = dir.path().join("big.parquet");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT 'k' || i AS order_id, TIMESTAMP '2025-01-01' + INTERVAL (i % 300) DAY AS ordered_at,
                          CAST((i % 9000) / 100.0 + 1 AS DECIMAL(18, 2)) AS net_amount,
                          'm' || (i % 50000) AS member_id, 'store' AS channel
                   FROM range(1000000) t(i)) TO '{}' (FORMAT parquet)",
            big.display()
        ))
        .unwrap();
    let store = data.join("memberpulse.duckdb");
    std::fs::create_dir_all(&data).unwrap();
    let count = |sql: &str| -> i64 {
        let a = Analytics::open(&store).unwrap();
        a.reader().unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    };
    {
        let a = Analytics::open(&store).unwrap();
        common::add(
            &a,
            "INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
                         SELECT 'early' || i, TIMESTAMP '2024-06-01', 10.00, 'm' || i, 'web' FROM range(1000) t(i)",
        );
    }
    // Runs the import, killing it as soon as it reports reaching `stage`.
    let import_killed_at = |stage: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_memberpulse"))
            .args(["import", "--table", "orders", "--data-dir"])
            .arg(&data)
            .arg(&big)
            .env("RUST_LOG", "server::load::import=debug")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let wanted = format!("\"{stage}\"");
        let reached = std::io::BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(|line| line.ok())
            .any(|line| line.contains(&wanted));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(reached, "the import never reported {stage}");
    };
    let keyed = || {
        let a = Analytics::open(&store).unwrap();
        a.writer().execute_batch("INSERT INTO orders SELECT * FROM orders LIMIT 1").is_err()
    };

    import_killed_at("inserting");
    assert_eq!(count("SELECT count(*) FROM orders"), 1000, "nothing of the load killed while landing");
    assert!(keyed());
    assert_eq!(differences(&Analytics::open(&store).unwrap()), 0);

    import_killed_at("committed");
    // Opening the store gives the key back and derives the summary again.
    assert_eq!(count("SELECT count(*) FROM orders"), 1_001_000, "the committed load whole");
    assert_eq!(count("SELECT count(*) FROM unfolded_loads"), 0);
    assert!(keyed(), "the key is back: the same order again is refused");
    let a = Analytics::open(&store).unwrap();
    assert_eq!(
        a.reader().unwrap().query_row("SELECT sum(purchases) FROM member_summary", [], |r| r.get::<_, i64>(0)).unwrap(),
        1_001_000
    );
    assert_eq!(differences(&a), 0);
    drop(a);

    let again = std::process::Command::new(env!("CARGO_BIN_EXE_memberpulse"))
        .args(["import", "--table", "orders", "--data-dir"])
        .arg(&data)
        .arg(&big)
        .output()
        .unwrap();
    assert!(again.status.success());
    let report = String::from_utf8_lossy(&again.stdout);
    assert!(report.contains("0 inserted, 1000000 already present"), "{report}");
    assert_eq!(count("SELECT count(*) FROM orders"), 1_001_000);
    assert_eq!(differences(&Analytics::open(&store).unwrap()), 0);
}
