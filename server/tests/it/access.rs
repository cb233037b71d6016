//! Roles against the real server: every API route and every server function asked
//! without a session and as each role (allowed ones answer, the others 401/403 with no
//! data); masking in the list, the member 360 and the CSV; the audit log; executives'
//! small groups; tokens' scopes and revocation; CSRF; sign-in rate limit and lockout;
//! the security headers.

use reqwest::{Client, redirect::Policy};
use serde_json::{Value, json};

use crate::common;

use crate::common::{Site, Who, add_user, refused};

const EXECUTIVE: usize = 0;
const OPERATOR: usize = 1;
const ADMIN: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_server_function_checks_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (name, role) in [("ada", "admin"), ("otto", "operator"), ("eve", "executive"), ("lou", "executive")] {
        add_user(&data, name, role, &format!("{name}-password-1"));
    }
    // Executives see no figures of groups under 1,000 members: every filtered view here.
    let server = common::serve(&data, &["--demo-members", "600", "--min-group-size", "1000"]);
    let site = Site { base: server.base.clone(), http: Client::builder().redirect(Policy::none()).build().unwrap() };

    // Sign-in: a cookie and back to `next`; wrong passwords go back to the form.
    let mut sessions = Vec::new();
    for name in ["eve", "otto", "ada"] {
        let (status, location, cookie) = site.sign_in(name, &format!("{name}-password-1")).await;
        assert_eq!((status, location.as_str()), (303, "/members"), "{name}");
        sessions.push(Who::Cookie(cookie.unwrap()));
    }
    let (exec, oper, admin) = (&sessions[EXECUTIVE], &sessions[OPERATOR], &sessions[ADMIN]);
    // The language is remembered per user: the next sign-in sets it.
    assert_eq!(site.ask(oper, "POST", "/api/save_language", Some(&json!({ "lang": "en" }))).await.0, 200);
    let again = site
        .http
        .post(format!("{}/auth/signin", site.base))
        .header("origin", &site.base)
        .form(&[("name", "otto"), ("password", "otto-password-1")])
        .send()
        .await
        .unwrap();
    let set: Vec<&str> = again.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(set.iter().any(|c| c.starts_with("lang=en;")), "{set:?}");

    // Lockout: five wrong passwords lock the account; the right one is then refused too.
    // (Four sign-ins so far from this address, all within the minute.)
    for _ in 0..5 {
        assert_eq!(site.sign_in("lou", "wrong-password").await.1, "/signin?error=wrong&next=/members");
    }
    let (_, location, cookie) = site.sign_in("lou", "lou-password-1").await;
    assert_eq!((location.as_str(), cookie), ("/signin?error=locked&next=/members", None));
    let (_, users, _) = site.ask(admin, "GET", "/api/v1/users", None).await;
    let lou = users.as_array().unwrap().iter().find(|u| u["name"] == "lou").unwrap();
    assert!(lou["locked_until"].is_string(), "{lou}");
    // Rate limit: that was the tenth attempt a minute from this address; the next is refused.
    let (_, location, cookie) = site.sign_in("ada", "ada-password-1").await;
    assert_eq!((location.as_str(), cookie), ("/signin?error=busy&next=/members", None));
    let (_, me, _) = site.ask(oper, "GET", "/api/v1/session", None).await;
    assert_eq!(me, json!({ "name": "otto", "role": "operator" }));

    // Tokens: a read token (operator), an ingest token, one to revoke.
    let token = |scope: &str, role: &str| {
        let (site, admin) = (&site, admin.clone());
        let body = json!({ "name": format!("{scope}-{role}"), "scope": scope, "role": role });
        async move {
            let (status, t, _) = site.ask(&admin, "POST", "/api/v1/tokens", Some(&body)).await;
            assert_eq!(status, 201, "{t}");
            (t["id"].as_i64().unwrap(), Who::Token(t["secret"].as_str().unwrap().to_string()))
        }
    };
    let (_, read) = token("read", "operator").await;
    let (_, ingest) = token("ingest", "executive").await;
    let (doomed_id, doomed) = token("read", "executive").await;

    let rules = site.ask(admin, "GET", "/api/v1/rfm-rules", None).await.1;
    let rule = site.ask(admin, "GET", "/api/v1/alerts/rules/1", None).await.1;
    let member_id = site.ask(admin, "GET", "/api/v1/members?page_size=1", None).await.1["rows"][0]["member_id"]
        .as_str()
        .unwrap()
        .to_string();
    let new_rule = json!({ "id": 0, "name": "t", "metric": "churn_rate", "segment": null, "comparison": "above",
        "threshold": 0.9, "window_days": 30, "schedule_minutes": 60, "severity": "info", "channels": [],
        "renotify_minutes": 60, "enabled": false });

    // (method, path, body, the least role allowed; None: ingest tokens only)
    let routes: Vec<(&str, String, Option<Value>, Option<usize>)> = vec![
        ("GET", "/api/v1/overview".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/breakdown?metric=churn_rate&dimension=region".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/trend".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/metrics".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/cohorts?cohorts=3".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/tiers/migration".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/model".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/model/holdout".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/segments".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/segments/nope".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/rfm-rules".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/alerts".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/alerts/1".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/session".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/members".into(), None, Some(OPERATOR)),
        ("GET", "/api/v1/members.csv".into(), None, Some(OPERATOR)),
        ("GET", format!("/api/v1/members/{member_id}"), None, Some(OPERATOR)),
        (
            "POST",
            "/api/v1/segments".into(),
            Some(json!({ "key": "k", "name_zh": "k", "name_en": "k", "filters": "tier:gold" })),
            Some(OPERATOR),
        ),
        (
            "PUT",
            "/api/v1/segments/k".into(),
            Some(json!({ "key": "k", "name_zh": "k", "name_en": "k", "filters": "tier:silver" })),
            Some(OPERATOR),
        ),
        ("DELETE", "/api/v1/segments/k".into(), None, Some(OPERATOR)),
        ("GET", "/api/v1/alerts/rules".into(), None, Some(OPERATOR)),
        ("GET", "/api/v1/alerts/rules/1".into(), None, Some(OPERATOR)),
        ("POST", "/api/v1/alerts/rules".into(), Some(new_rule.clone()), Some(OPERATOR)),
        ("PUT", "/api/v1/alerts/rules/1".into(), Some(rule.clone()), Some(OPERATOR)),
        ("DELETE", "/api/v1/alerts/rules/999".into(), None, Some(OPERATOR)),
        ("POST", "/api/v1/alerts/999/acknowledge".into(), None, Some(OPERATOR)),
        ("POST", "/api/v1/alerts/evaluate".into(), None, Some(OPERATOR)),
        ("GET", "/api/v1/loads".into(), None, Some(ADMIN)),
        ("POST", "/api/v1/loads/upload".into(), Some(json!({})), Some(ADMIN)),
        ("PUT", "/api/v1/rfm-rules".into(), Some(rules.clone()), Some(ADMIN)),
        ("POST", "/api/v1/model/fit".into(), Some(json!({ "as_of": "2026-13-01" })), Some(ADMIN)),
        ("GET", "/api/v1/users".into(), None, Some(ADMIN)),
        (
            "POST",
            "/api/v1/users".into(),
            Some(json!({ "name": "newbie", "role": "executive", "password": "newbie-password-1" })),
            Some(ADMIN),
        ),
        ("PUT", "/api/v1/users/lou".into(), Some(json!({ "name": "lou", "role": "operator" })), Some(ADMIN)),
        ("GET", "/api/v1/tokens".into(), None, Some(ADMIN)),
        ("POST", "/api/v1/tokens".into(), Some(json!({ "name": "x", "scope": "read" })), Some(ADMIN)),
        ("DELETE", "/api/v1/tokens/999".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/audit".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/audit.csv".into(), None, Some(ADMIN)),
        ("POST", "/api/v1/privacy/access".into(), Some(json!({ "member_id": "no-such-member" })), Some(ADMIN)),
        (
            "POST",
            "/api/v1/privacy/erase".into(),
            Some(json!({ "member_id": "no-such-member", "reason": "t" })),
            Some(ADMIN),
        ),
        ("GET", "/api/v1/privacy/retention?days=365".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/identity/rules".into(), None, Some(ADMIN)),
        (
            "POST",
            "/api/v1/identity/rules".into(),
            Some(json!({ "name": "same app account", "match_on": ["app_account"] })),
            Some(ADMIN),
        ),
        (
            "PUT",
            "/api/v1/identity/rules/999".into(),
            Some(json!({ "name": "x", "match_on": ["pos_card"] })),
            Some(ADMIN),
        ),
        ("DELETE", "/api/v1/identity/rules/999".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/identity/candidates".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/identity/merges".into(), None, Some(ADMIN)),
        (
            "POST",
            "/api/v1/identity/merges".into(),
            Some(json!({ "survivor": "no-such-member", "merged": ["nor-this-one"] })),
            Some(ADMIN),
        ),
        ("POST", "/api/v1/identity/merges/automatic".into(), None, Some(ADMIN)),
        ("POST", "/api/v1/identity/merges/999/undo".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/campaigns".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/campaigns/999".into(), None, Some(EXECUTIVE)),
        ("GET", "/api/v1/campaigns/999/readout".into(), None, Some(EXECUTIVE)),
        (
            "POST",
            "/api/v1/campaigns".into(),
            Some(json!({ "name": "x", "segment": "none", "start": "2026-01-01", "window_days": 0,
                         "goal": "repurchase", "control_share": 0.1 })),
            Some(OPERATOR),
        ),
        ("DELETE", "/api/v1/campaigns/999".into(), None, Some(OPERATOR)),
        ("PUT", "/api/v1/campaigns/999/arms".into(), None, Some(OPERATOR)),
        ("GET", "/api/v1/triggers".into(), None, Some(OPERATOR)),
        (
            "POST",
            "/api/v1/triggers".into(),
            Some(json!({ "name": "x", "when": { "kind": "no_purchase", "days": 0 }, "channels": [] })),
            Some(OPERATOR),
        ),
        (
            "PUT",
            "/api/v1/triggers/999".into(),
            Some(json!({ "name": "x", "when": { "kind": "no_purchase", "days": 0 }, "channels": [] })),
            Some(OPERATOR),
        ),
        ("DELETE", "/api/v1/triggers/999".into(), None, Some(OPERATOR)),
        ("GET", "/api/v1/messaging-channels".into(), None, Some(OPERATOR)),
        (
            "POST",
            "/api/v1/messaging-channels".into(),
            Some(json!({ "name": "", "channel": { "kind": "webhook", "url": "http://127.0.0.1:1/x" } })),
            Some(ADMIN),
        ),
        (
            "PUT",
            "/api/v1/messaging-channels/999".into(),
            Some(json!({ "name": "", "channel": { "kind": "webhook", "url": "http://127.0.0.1:1/x" } })),
            Some(ADMIN),
        ),
        ("DELETE", "/api/v1/messaging-channels/999".into(), None, Some(ADMIN)),
        ("GET", "/api/v1/contact-policy".into(), None, Some(OPERATOR)),
        ("PUT", "/api/v1/contact-policy".into(), Some(json!({ "max_contacts": 999, "per_days": 7 })), Some(ADMIN)),
        ("POST", "/api/v1/ingest/orders".into(), Some(json!([])), None),
    ];
    let mut checked = 0;
    for (method, path, body, least) in &routes {
        let (status, answer, _) = site.ask(&Who::Nobody, method, path, body.as_ref()).await;
        assert_eq!(status, 401, "{method} {path} without a session: {answer}");
        assert!(refused(&answer), "{method} {path}: {answer}");
        for (role, who) in sessions.iter().enumerate() {
            let (status, answer, _) = site.ask(who, method, path, body.as_ref()).await;
            if least.is_some_and(|l| role >= l) {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{method} {path} as role {role}: {status} {answer}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} as role {role}: {answer}");
                assert!(refused(&answer), "{method} {path} as role {role}: {answer}");
            }
            checked += 1;
        }
        // Tokens: read tokens only GET the API (as their role), ingest tokens only ingest.
        let (status, _, _) = site.ask(&read, method, path, body.as_ref()).await;
        let read_may = *method == "GET" && least.is_some_and(|l| l <= OPERATOR);
        assert_eq!(read_may, ![401, 403].contains(&status), "{method} {path} with a read token: {status}");
        let (status, _, _) = site.ask(&ingest, method, path, body.as_ref()).await;
        assert_eq!(least.is_none(), ![401, 403].contains(&status), "{method} {path} with an ingest token: {status}");
    }
    assert_eq!(checked, routes.len() * 3);
    // A consent change: operators and admins, and ingest tokens (a till relays it).
    let consent = json!({ "consent": true, "channel": "store" });
    let path = format!("/api/v1/members/{member_id}/consent");
    for (who, allowed) in
        [(exec, false), (oper, true), (admin, true), (&read, false), (&ingest, true), (&Who::Nobody, false)]
    {
        let (status, answer, _) = site.ask(who, "POST", &path, Some(&consent)).await;
        assert_eq!(allowed, status == 200, "consent: {status} {answer}");
        if !allowed {
            assert!([401, 403].contains(&status) && refused(&answer), "consent: {status} {answer}");
        }
    }
    // A file path only the CLI on this machine names (its local secret): no session or token.
    let named = json!({ "path": "/etc/passwd", "mapping": { "kind": "orders" } });
    for who in sessions.iter().chain([&read, &ingest]) {
        let (status, answer, _) = site.ask(who, "POST", "/api/v1/loads", Some(&named)).await;
        assert_eq!(status, 403, "{answer}");
        assert!(refused(&answer), "{answer}");
    }
    // The live stream (endless, so not in the table) is refused without a session too.
    assert_eq!(site.ask(&Who::Nobody, "GET", "/api/v1/alerts/stream", None).await.0, 401);

    // Every server function, the same way (POST /api/<name>, JSON arguments).
    let functions: Vec<(&str, Value, Option<usize>)> = vec![
        ("get_overview", json!({ "query": {} }), Some(EXECUTIVE)),
        ("get_trend", json!({ "query": {} }), Some(EXECUTIVE)),
        ("get_breakdown", json!({ "query": { "metric": "churn_rate", "dimension": "tier" } }), Some(EXECUTIVE)),
        ("get_cohorts", json!({ "query": { "cohorts": 3 } }), Some(EXECUTIVE)),
        ("get_saved_segments", json!({}), Some(EXECUTIVE)),
        ("get_segment_names", json!({}), Some(EXECUTIVE)),
        ("get_model_status", json!({}), Some(EXECUTIVE)),
        ("get_tier_migration", json!({ "query": {} }), Some(EXECUTIVE)),
        (
            "update_segment",
            json!({ "segment": { "key": "no_such_segment", "name_zh": "无", "name_en": "None", "filters": "tier:gold" } }),
            Some(OPERATOR),
        ),
        ("delete_segment", json!({ "key": "no_such_segment" }), Some(OPERATOR)),
        (
            "create_segment",
            json!({ "segment": { "key": "saved_from_view", "name_zh": "华东金卡", "name_en": "", "filters": "tier:gold" } }),
            Some(OPERATOR),
        ),
        ("get_holdout", json!({ "query": {} }), Some(EXECUTIVE)),
        ("get_alerts", json!({ "query": {} }), Some(EXECUTIVE)),
        ("get_members", json!({ "query": {} }), Some(OPERATOR)),
        ("get_member", json!({ "member_id": member_id }), Some(OPERATOR)),
        ("act_on_alert", json!({ "id": 999, "action": "acknowledge", "minutes": null }), Some(OPERATOR)),
        ("get_alert_rules", json!({}), Some(OPERATOR)),
        ("save_alert_rule", json!({ "rule": rule }), Some(OPERATOR)),
        ("get_users", json!({}), Some(ADMIN)),
        ("save_user", json!({ "change": { "name": "lou", "role": "executive" }, "create": false }), Some(ADMIN)),
        ("get_tokens", json!({}), Some(ADMIN)),
        ("create_token", json!({ "request": { "name": "y", "scope": "ingest", "role": null } }), Some(ADMIN)),
        ("revoke_token", json!({ "id": 999 }), Some(ADMIN)),
        ("get_audit", json!({ "query": {} }), Some(ADMIN)),
        ("get_loads", json!({}), Some(ADMIN)),
        ("get_load_rejects", json!({ "id": 999 }), Some(ADMIN)),
        ("get_rfm_rules", json!({}), Some(EXECUTIVE)),
        // An empty table: refused as bad input (the table stays) once the role is checked.
        ("save_rfm_rules", json!({ "rules": [] }), Some(ADMIN)),
        ("save_language", json!({ "lang": "zh" }), Some(EXECUTIVE)),
        ("privacy_access", json!({ "request": { "member_id": "no-such-member" } }), Some(ADMIN)),
        ("erase_member", json!({ "request": { "member_id": "no-such-member", "reason": "t" } }), Some(ADMIN)),
        ("get_retention_preview", json!({ "days": 365 }), Some(ADMIN)),
        ("get_identity_candidates", json!({}), Some(ADMIN)),
        ("get_merges", json!({}), Some(ADMIN)),
        ("merge_members", json!({ "request": { "survivor": "no-such-member", "merged": ["nor-this"] } }), Some(ADMIN)),
        ("undo_merge", json!({ "merge_id": 999 }), Some(ADMIN)),
        ("get_campaigns", json!({}), Some(EXECUTIVE)),
        ("get_campaign_readout", json!({ "id": 999 }), Some(EXECUTIVE)),
        (
            "create_campaign",
            json!({ "campaign": { "name": "c", "segment": "no_such_segment", "start": "2026-01-01",
                "window_days": 30, "goal": "repurchase", "control_share": 0.2 } }),
            Some(OPERATOR),
        ),
        ("get_triggers", json!({}), Some(OPERATOR)),
        (
            "save_trigger",
            json!({ "trigger": { "name": "t", "when": { "kind": "no_purchase", "days": 60 }, "channels": [999] } }),
            Some(OPERATOR),
        ),
        ("delete_trigger", json!({ "id": 999 }), Some(OPERATOR)),
        ("get_messaging_channels", json!({}), Some(OPERATOR)),
        ("get_contact_policy", json!({}), Some(OPERATOR)),
        (
            "create_messaging_channel",
            json!({ "channel": { "name": "m", "channel": { "kind": "webhook", "url": "http://10.0.0.1/x" } } }),
            Some(ADMIN),
        ),
        (
            "save_contact_policy",
            json!({ "policy": { "max_contacts": 3, "per_days": 7, "quiet_from": "21:00", "quiet_to": "09:00" } }),
            Some(ADMIN),
        ),
    ];
    for (name, args, least) in &functions {
        let path = format!("/api/{name}");
        let (status, answer, _) = site.ask(&Who::Nobody, "POST", &path, Some(args)).await;
        assert_eq!(status, 401, "{name} without a session: {answer}");
        for (role, who) in sessions.iter().enumerate() {
            let (status, answer, _) = site.ask(who, "POST", &path, Some(args)).await;
            if least.is_some_and(|l| role >= l) {
                assert!(![401, 403].contains(&status) && status < 500, "{name} as role {role}: {status} {answer}");
            } else {
                assert_eq!(status, 403, "{name} as role {role}: {answer}");
                assert!(!answer.to_string().contains("member_id"), "{name}: {answer}");
            }
        }
    }
    let (_, viewer, _) = site.ask(exec, "POST", "/api/get_viewer", Some(&json!({}))).await;
    assert_eq!(viewer, json!({ "name": "eve", "role": "executive" }));
    let (_, nobody, _) = site.ask(&Who::Nobody, "POST", "/api/get_viewer", Some(&json!({}))).await;
    assert_eq!(nobody, Value::Null);

    // Masking: operators see 张* and 138****5678; admins the stored values.
    let page = |who: Who| {
        let site = &site;
        async move { site.ask(&who, "GET", "/api/v1/members?filters=tier:gold&sort=member_id&page_size=20", None).await.1 }
    };
    let (masked, shown) = (page(oper.clone()).await, page(admin.clone()).await);
    let names = |p: &Value| {
        p["rows"].as_array().unwrap().iter().map(|r| (r["name"].clone(), r["phone"].clone())).collect::<Vec<_>>()
    };
    let (masked, shown) = (names(&masked), names(&shown));
    assert_eq!(masked.len(), shown.len());
    assert!(!shown.is_empty());
    for ((mn, mp), (sn, sp)) in masked.iter().zip(&shown) {
        let (mn, sn) = (mn.as_str().unwrap(), sn.as_str().unwrap());
        assert_eq!(mn, &server::members::mask_name(sn), "{mn} / {sn}");
        assert!(mn.chars().count() == 2 && mn.ends_with('*') && !sn.contains('*'), "{mn} / {sn}");
        if let (Some(mp), Some(sp)) = (mp.as_str(), sp.as_str()) {
            assert_eq!(mp, format!("{}****{}", &sp[..3], &sp[sp.len() - 4..]));
        }
    }
    let m360 = |who: &Who| {
        let (site, who, path) = (&site, who.clone(), format!("/api/v1/members/{member_id}"));
        async move { site.ask(&who, "GET", &path, None).await.1 }
    };
    let (om, am) = (m360(oper).await, m360(admin).await);
    assert_eq!(om["member"]["name"].as_str().unwrap().chars().skip(1).collect::<String>().trim_matches('*'), "");
    assert!(!am["member"]["name"].as_str().unwrap().contains('*'), "{}", am["member"]);
    let csv = |who: &Who| {
        let (site, who) = (&site, who.clone());
        async move { site.ask(&who, "GET", "/api/v1/members.csv?filters=tier:gold&sort=member_id", None).await.1 }
    };
    let (ocsv, acsv) = (csv(oper).await, csv(admin).await);
    let first_name = |c: &Value| c.as_str().unwrap().lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    assert_eq!(first_name(&ocsv), masked[0].0.as_str().unwrap());
    assert_eq!(first_name(&acsv), shown[0].0.as_str().unwrap());

    // Find a member by the whole phone number: the operator's answer masked, the audit's too.
    let phone = shown.iter().find_map(|(_, p)| p.as_str().map(String::from)).expect("a gold member with a phone");
    let (status, found, _) = site.ask(oper, "GET", &format!("/api/v1/members?find={phone}"), None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["rows"][0]["phone"], format!("{}****{}", &phone[..3], &phone[phone.len() - 4..]));
    let (_, part, _) = site.ask(oper, "GET", &format!("/api/v1/members?find={}", &phone[..7]), None).await;
    assert_eq!(part["total"], 0, "a part of a number finds no one: {part}");
    let (status, _, _) = site.ask(exec, "GET", &format!("/api/v1/members?find={phone}"), None).await;
    assert_eq!(status, 403);
    // A refused look-up (a control character) is a 400 and no read: nothing of it is audited.
    let (status, _, _) = site.ask(oper, "GET", &format!("/api/v1/members?find={phone}%00"), None).await;
    assert_eq!(status, 400);
    let (status, _, _) = site.ask(oper, "GET", &format!("/api/v1/members.csv?find={phone}%09"), None).await;
    assert_eq!(status, 200, "a tab is a space: the same look-up, exported");

    // The audit log holds who listed, viewed and exported members, with the filter.
    let (_, log, _) = site.ask(admin, "GET", "/api/v1/audit?action=member.&limit=1000", None).await;
    let has = |actor: &str, action: &str, needle: &str| {
        log.as_array().unwrap().iter().any(|e| {
            e["actor"] == actor
                && e["action"] == action
                && (e["filter"].as_str().unwrap_or("").contains(needle) || e["target"].as_str().unwrap_or("") == needle)
        })
    };
    assert!(has("otto", "member.list", "filters=tier:gold"), "{log}");
    assert!(has("ada", "member.export", "filters=tier:gold"), "{log}");
    assert!(has("otto", "member.view", &member_id), "{log}");
    let masked_find = format!("find={}****{}", &phone[..3], &phone[phone.len() - 4..]);
    assert!(has("otto", "member.list", &masked_find), "{log}");
    assert!(!log.to_string().contains(&phone), "no whole phone number in the audit log: {log}");
    assert!(!has("eve", "member.list", ""), "refused reads are not audited as reads");
    let (_, changes, _) = site.ask(admin, "GET", "/api/v1/audit?action=user.update", None).await;
    assert_eq!(changes[0]["target"], "lou");
    assert_eq!(changes[0]["actor"], "ada");
    let (status, log_csv, headers) = site.ask(admin, "GET", "/api/v1/audit.csv", None).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(log_csv.as_str().unwrap().contains(",otto,operator,member.list,"), "{log_csv}");

    // Executives: the unfiltered overview, but no figures of a group under the minimum.
    // (Unfiltered, a rate is shown; a count of fewer members than the minimum is not.)
    let (_, whole, _) = site.ask(exec, "GET", "/api/v1/overview?metrics=churn_rate,members", None).await;
    assert!(whole["kpis"][0]["current"]["value"].as_f64().unwrap() > 0.0, "{whole}");
    assert_eq!(whole["kpis"][1]["current"]["value"], Value::Null, "600 members: {whole}");
    let (_, small, _) =
        site.ask(exec, "GET", "/api/v1/overview?metrics=members,churn_rate&filters=tier:gold", None).await;
    for k in small["kpis"].as_array().unwrap() {
        assert_eq!(k["current"]["value"], Value::Null, "{k}");
        assert!(k["current"]["reason"].as_str().unwrap().contains("1000"), "{k}");
    }
    let (_, same, _) = site.ask(oper, "GET", "/api/v1/overview?metrics=members&filters=tier:gold", None).await;
    assert!(same["kpis"][0]["current"]["value"].as_f64().unwrap() > 0.0);
    let (_, rows, _) = site.ask(exec, "GET", "/api/v1/breakdown?metric=historical_ltv&dimension=tier", None).await;
    assert!(rows["rows"].as_array().unwrap().iter().all(|r| r["current"]["value"].is_null()), "{rows}");

    // A revoked token is refused; a signed-out session too.
    assert_eq!(site.ask(&doomed, "GET", "/api/v1/overview", None).await.0, 200);
    assert_eq!(site.ask(admin, "DELETE", &format!("/api/v1/tokens/{doomed_id}"), None).await.0, 200);
    assert_eq!(site.ask(&doomed, "GET", "/api/v1/overview", None).await.0, 401);

    // CSRF: a cookie alone does not make a change from another site.
    let segment = json!({ "key": "csrf", "name_zh": "c", "name_en": "c", "filters": "tier:gold" });
    let Who::Cookie(oc) = oper else { unreachable!() };
    for origin in [None, Some("http://evil.example")] {
        let mut req = site
            .http
            .post(format!("{}/api/v1/segments", site.base))
            .header("cookie", format!("mp_session={oc}"))
            .json(&segment);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 403, "origin {origin:?}");
    }
    assert_eq!(site.ask(oper, "GET", "/api/v1/segments/csrf", None).await.0, 404, "nothing was saved");

    // Request size: beyond 1 MiB (outside ingest) is refused.
    let big = json!({ "key": "big", "name_zh": "x".repeat(2 << 20), "name_en": "b", "filters": "tier:gold" });
    // On a client of its own: the server closes a connection whose body it refused, and a
    // pooled connection reused by the next request would race that close.
    assert_eq!(Site::new(&site.base).ask(oper, "POST", "/api/v1/segments", Some(&big)).await.0, 413);

    // Pages: without a session, to the sign-in page; with one, the nonce'd CSP.
    let (status, _, headers) = site.ask(&Who::Nobody, "GET", "/members?filters=tier:gold", None).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/signin?next=/members%3Ffilters%3Dtier%3Agold");
    // The sign-in form carries `next` in the served HTML (it works before hydrating).
    let (status, form, _) = site.ask(&Who::Nobody, "GET", "/signin?next=/members", None).await;
    assert_eq!(status, 200);
    assert!(form.as_str().unwrap().contains(r#"name="next" value="/members""#), "{form}");
    let (status, html, headers) = site.ask(admin, "GET", "/", None).await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap().to_string();
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'strict-dynamic'"), "{csp}");
    let html = html.as_str().unwrap();
    let html_tag = html.split("<html").nth(1).unwrap().split('>').next().unwrap();
    assert_eq!(html_tag.matches("lang=").count(), 1, "one language on <html{html_tag}>");
    let scripts = html.matches("<script").count();
    assert!(scripts >= 2);
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "every script carries the nonce");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (_, _, api_headers) = site.ask(admin, "GET", "/api/v1/overview", None).await;
    assert!(api_headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));

    // Sign-out ends the session.
    let r = site
        .http
        .post(format!("{}/auth/signout", site.base))
        .header("origin", &site.base)
        .header("cookie", format!("mp_session={oc}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(site.ask(oper, "GET", "/api/v1/session", None).await.0, 401);
}
