//! Encryption at rest (issue 21): names and phones sealed in the DuckDB file, a store that
//! opens only with its key (a wrong or missing key stops cleanly and changes nothing), a
//! store of plain names sealed when opened, and alert channels sealed in SQLite.

use std::path::Path;

use server::store::{
    Analytics, Seal,
    seal::{KEY_FILE, KeySource},
};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_memberpulse");

fn bytes_of(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The first generated member's name and phone, opened.
fn first_member(a: &Analytics) -> (String, String) {
    a.reader()
        .unwrap()
        .query_row("SELECT mp_open(name), mp_open(phone) FROM members ORDER BY member_id LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
}

#[test]
fn a_store_opens_only_with_its_key_and_holds_no_name_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("memberpulse.duckdb");
    let key = dir.path().join(KEY_FILE);
    let (name, phone) = {
        let a = Analytics::open(&store).unwrap();
        let opts = server::load::generate::Options { members: 300, seed: 3, ..Default::default() };
        server::load::generate::generate(&a, &opts, false).unwrap();
        first_member(&a)
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(phone.len() == 11 && name.chars().count() >= 2, "{name} {phone}");
    // No file holds the name or the phone (the store, its WAL, the key's directory).
    assert_eq!(common::files_holding(dir.path(), phone.as_bytes()), Vec::<String>::new());
    assert_eq!(common::files_holding(dir.path(), name.as_bytes()), Vec::<String>::new());

    // Without its key: a clear error, and the file is as it was.
    let before = bytes_of(&store);
    std::fs::rename(&key, dir.path().join("kept.key")).unwrap();
    let err = Analytics::open(&store).err().expect("no key, no store").to_string();
    assert!(
        err.contains("sealed with a privacy key, and none was found") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!key.exists(), "no new key is made for a sealed store");
    assert!(bytes_of(&store) == before, "the store is untouched");

    // With another key: the same, through the command line too.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, format!("{}\n", "5a".repeat(32))).unwrap();
    let err = Analytics::open_with(&store, &KeySource { file: Some(wrong.clone()) }).err().unwrap().to_string();
    assert!(err.contains("is not the key this store's personal data is sealed with"), "{err}");
    let out = std::process::Command::new(BIN)
        .args(["rebuild-summary", "--data-dir"])
        .arg(dir.path())
        .arg("--privacy-key-file")
        .arg(&wrong)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("is not the key"), "{stderr}");
    std::fs::write(&wrong, "not a key\n").unwrap();
    let err = Analytics::open_with(&store, &KeySource { file: Some(wrong) }).err().unwrap().to_string();
    assert!(err.contains("must be 64 hex digits"), "{err}");
    assert!(bytes_of(&store) == before, "the store is untouched");

    // With its key (named, or back in place): the same member as before.
    let a = Analytics::open_with(&store, &KeySource { file: Some(dir.path().join("kept.key")) }).unwrap();
    assert_eq!(first_member(&a), (name, phone));
}

#[test]
fn names_stored_in_plain_text_are_sealed_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("old.duckdb");
    {
        // A store as version 13 left it: plain names and phones, no key recorded.
        let a = Analytics::open(&store).unwrap();
        a.writer()
            .execute_batch(
                "INSERT INTO members (member_id, joined_at, name, phone) VALUES
                   ('M1', TIMESTAMP '2024-01-01 00:00:00', '司马相如', '13712340001'),
                   ('M2', TIMESTAMP '2024-01-02 00:00:00', NULL, '13712340002');
                 INSERT INTO pending_members (member_id, joined_at, name, phone)
                   VALUES ('M3', TIMESTAMP '2024-01-03 00:00:00', '卓文君', NULL);
                 DELETE FROM sealing; CHECKPOINT;",
            )
            .unwrap();
    }
    assert!(!common::files_holding(dir.path(), "司马相如".as_bytes()).is_empty());
    let a = Analytics::open(&store).unwrap();
    for plain in ["司马相如", "13712340001", "13712340002", "卓文君"] {
        assert_eq!(common::files_holding(dir.path(), plain.as_bytes()), Vec::<String>::new(), "{plain}");
    }
    let conn = a.reader().unwrap();
    let opened: Vec<(String, Option<String>, Option<String>)> = conn
        .prepare(
            "SELECT member_id, mp_open(name), mp_open(phone) FROM members
             UNION ALL SELECT member_id, mp_open(name), mp_open(phone) FROM pending_members ORDER BY 1",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let s = |t: &str| Some(t.to_string());
    assert_eq!(
        opened,
        [
            ("M1".into(), s("司马相如"), s("13712340001")),
            ("M2".into(), None, s("13712340002")),
            ("M3".into(), s("卓文君"), None)
        ]
    );
    // Found by phone through its keyed hash.
    let found: String = conn
        .query_row(
            "SELECT member_id FROM members WHERE starts_with(phone, mp_phone_key('137 1234 0002') || ':')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, "M2");
}

#[test]
fn a_key_seals_alike_only_where_asked() {
    let seal = Seal::from_master(&[9u8; 32], "test");
    assert_ne!(seal.seal("x"), seal.seal("x"));
    assert_eq!(seal.seal_fixed("x"), seal.seal_fixed("x"));
    assert_eq!(seal.phone_key("138-1234-5678"), seal.phone_key("13812345678"));
    assert_ne!(seal.phone_key("13812345678"), Seal::from_master(&[8u8; 32], "other").phone_key("13812345678"));
}
