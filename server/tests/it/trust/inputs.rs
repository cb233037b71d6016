//! Findings 3–6: files the server reads, lockout, where sign-in returns, heavy reads.

use serde_json::{Value, json};

use super::{TWO_MEMBERS, generated_server, local, write};
use crate::common::{self, Site, Who, add_user};

/// Finding 3: an admin session could make the server read any file (`/etc/passwd`) through
/// `POST /api/v1/loads`; now only the CLI's secret names a path, inside the import folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_local_cli_names_a_file_and_only_inside_the_import_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, site, [exec, oper, admin], data) = generated_server(dir.path(), 0, &[]).await;
    let load = |path: &str| json!({ "path": path, "mapping": { "kind": "members" } });
    for path in ["/etc/passwd", "/proc/self/environ", "../../etc/passwd"] {
        for who in [&admin, &oper, &exec] {
            let (status, body, _) = site.ask(who, "POST", "/api/v1/loads", Some(&load(path))).await;
            assert_eq!(status, 403, "{path}: {body}");
            assert!(!body.to_string().contains("root:") && !body.to_string().contains("PATH="), "{body}");
        }
    }
    let cli = local(&data);
    let imports = data.join("imports");
    let outside = dir.path().join("outside.csv");
    write(&outside, TWO_MEMBERS);
    // Outside the folder, directly or through a link or `..`: refused, nothing read.
    std::fs::create_dir_all(&imports).unwrap();
    std::os::unix::fs::symlink(&outside, imports.join("link.csv")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", imports.join("passwd.csv")).unwrap();
    for path in [
        outside.display().to_string(),
        "link.csv".into(),
        "passwd.csv".into(),
        imports.join("link.csv").display().to_string(),
        "../outside.csv".into(),
        "/etc/passwd".into(),
    ] {
        let (status, body, _) = site.ask(&cli, "POST", "/api/v1/loads", Some(&load(&path))).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["param"], "path", "{body}");
        assert!(!body.to_string().contains("root:"), "{body}");
        // The same answer whether something is there or not.
        assert!(body["message"].as_str().unwrap().contains("no such file inside the server's import folder"), "{body}");
    }
    // Inside it, by name or full path: loaded.
    write(&imports.join("members.csv"), TWO_MEMBERS);
    let (status, report, _) = site.ask(&cli, "POST", "/api/v1/loads", Some(&load("members.csv"))).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["inserted"], json!([["members", 2]]), "{report}");

    // Everyone else uploads the file (admins): the same report; others are refused.
    let upload = |who: Who, name: &str, text: &str| {
        let site = &site;
        let form = reqwest::multipart::Form::new()
            .text("table", "members")
            .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_string()));
        async move {
            let mut req = site
                .http
                .post(format!("{}/api/v1/loads/upload", site.base))
                .header("origin", &site.base)
                .multipart(form);
            if let Who::Cookie(c) = who {
                req = req.header("cookie", format!("mp_session={c}"));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let more = "member_id,joined_at,region\nup-1,2024-02-01,North\nup-2,not a date,South\n";
    let (status, report) = upload(admin.clone(), "more.csv", more).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["inserted"], json!([["members", 1]]), "{report}");
    assert_eq!(report["rejected"][0]["line"], 3, "{report}");
    assert_eq!(report["file"], "more.csv", "the report names the upload, not a server path: {report}");
    let long = format!("{}.csv", "很长的文件名".repeat(60));
    let (status, report) = upload(admin.clone(), &long, "member_id,joined_at\nup-3,2024-02-02\n").await;
    assert_eq!(status, 200, "a 1,000-byte name: {report}");
    assert_eq!(report["inserted"], json!([["members", 1]]), "{report}");
    assert_eq!(upload(oper.clone(), "more.csv", more).await.0, 403);
    assert_eq!(upload(exec.clone(), "more.csv", more).await.0, 403);
    // Nothing of the upload stays behind in the folder.
    let mut left: Vec<_> =
        std::fs::read_dir(&imports).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["link.csv", "members.csv", "passwd.csv"]);
}

/// Finding 4: one wrong try after a lock ended locked the account again; only real names
/// ever answered "locked"; behind a proxy every sign-in shared one rate bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_cannot_be_used_as_a_weapon_nor_tell_names_apart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    add_user(&data, "lou", "executive", "lou-password-1");
    let server = common::serve(&data, &["--trusted-proxy", "127.0.0.1"]);
    let site = Site::new(&server.base);
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    let reason = |location: &str| {
        location.split("error=").nth(1).map(|r| r.split('&').next().unwrap().to_string()).unwrap_or_default()
    };

    // Five wrong passwords from one address lock the name there, known or not, alike.
    // (Each name from its own address: one address may try ten sign-ins a minute.)
    for (name, ip) in [("lou", "10.0.0.1"), ("ghost", "10.0.0.5")] {
        for _ in 0..5 {
            let (_, location, _) = site.sign_in_with(name, "wrong-password", "/", &from(ip)).await;
            assert_eq!(reason(&location), "wrong", "{name}");
        }
        let (_, location, cookie) = site.sign_in_with(name, &format!("{name}-password-1"), "/", &from(ip)).await;
        assert_eq!((reason(&location), cookie.is_some()), ("locked".to_string(), false), "{name}");
    }
    // Another address is not locked out by those tries: lou signs in from there.
    let (_, location, cookie) = site.sign_in_with("lou", "lou-password-1", "/", &from("10.0.0.2")).await;
    assert!(cookie.is_some(), "{location}");

    // When the lock ends, the count starts again: one wrong try does not lock again.
    let ops = server::store::operational::connect(&format!("sqlite://{}", data.join("memberpulse.sqlite").display()))
        .await
        .unwrap();
    sqlx::query("UPDATE sign_in_failures SET locked_until = '2000-01-01T00:00:00Z'").execute(&ops).await.unwrap();
    let (_, location, _) = site.sign_in_with("lou", "wrong-password", "/", &from("10.0.0.1")).await;
    assert_eq!(reason(&location), "wrong");
    let (_, location, cookie) = site.sign_in_with("lou", "lou-password-1", "/", &from("10.0.0.1")).await;
    assert!(cookie.is_some(), "{location}");

    // The per-address rate limit counts the client a trusted proxy names.
    for i in 0..10 {
        let (_, location, _) = site.sign_in_with("ghost2", "wrong-password", "/", &from("10.0.0.3")).await;
        assert_ne!(reason(&location), "busy", "try {i}");
    }
    let (_, location, _) = site.sign_in_with("ghost3", "wrong-password", "/", &from("10.0.0.3")).await;
    assert_eq!(reason(&location), "busy");
    let (_, location, _) = site.sign_in_with("ghost3", "wrong-password", "/", &from("10.0.0.4")).await;
    assert_eq!(reason(&location), "wrong", "another client behind the proxy");
    drop(server);

    // Without --trusted-proxy the header is ignored: anyone could claim any address.
    let server = common::serve(&data, &[]);
    let site = Site::new(&server.base);
    for i in 0..10 {
        let ip = [
            "10.9.0.1",
            "10.9.0.2",
            "10.9.0.3",
            "10.9.0.4",
            "10.9.0.5",
            "10.9.0.6",
            "10.9.0.7",
            "10.9.0.8",
            "10.9.0.9",
            "10.9.0.10",
        ][i];
        let (_, location, _) = site.sign_in_with("ghost4", "wrong-password", "/", &[("x-forwarded-for", ip)]).await;
        assert_ne!(reason(&location), "busy", "try {i}");
    }
    let (_, location, _) =
        site.sign_in_with("ghost4", "wrong-password", "/", &[("x-forwarded-for", "10.9.0.11")]).await;
    assert_eq!(reason(&location), "busy");
}

/// Finding 5: `next=/<TAB>/evil.example` passed the local-path check and the browser went to
/// `//evil.example` after sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_returns_only_to_a_path_on_this_site() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    add_user(&data, "ada", "admin", "ada-password-1");
    let server = common::serve(&data, &[]);
    let site = Site::new(&server.base);
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/ok\u{7f}x",
        "\t/members",
    ] {
        let (status, location, cookie) = site.sign_in_with("ada", "ada-password-1", next, &[]).await;
        assert_eq!((status, location.as_str()), (303, "/"), "{next:?}");
        assert!(cookie.is_some());
    }
    let (_, location, _) = site.sign_in_with("ada", "ada-password-1", "/members?filters=tier:gold", &[]).await;
    assert_eq!(location, "/members?filters=tier:gold");
}

/// Finding 6: the holdout check refitted the model on every request; executives saw its
/// buckets however few members they held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holdout_check_is_computed_once_per_fit_and_days() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, site, [exec, oper, _], _) = generated_server(dir.path(), 600, &["--min-group-size", "1000"]).await;
    let (status, first, _) = site.ask(&oper, "GET", "/api/v1/model/holdout?days=60", None).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["computed_at"].is_string(), "{first}");
    let (_, again, _) = site.ask(&oper, "GET", "/api/v1/model/holdout?days=60", None).await;
    assert_eq!(again, first, "the same answer, computed once");
    let (_, other, _) = site.ask(&oper, "GET", "/api/v1/model/holdout?days=90", None).await;
    assert_eq!(other["days"], 90);
    // Executives: every bucket here is under 1,000 members.
    let (_, seen, _) = site.ask(&exec, "GET", "/api/v1/model/holdout?days=60", None).await;
    for b in seen["buckets"].as_array().unwrap().iter().chain([&seen["total"]]) {
        assert!(b["members"].is_null() && b["actual"].is_null() && b["predicted"].is_null(), "{b}");
    }
    assert!(first["buckets"][0]["members"].as_i64().unwrap() > 0);
}
