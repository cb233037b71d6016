//! The hand-built retailer the metric tests work out by hand.
//!
//! Window: 30 days ending T = 2024-03-31, i.e. 2024-03-02 ..= 2024-03-31; the previous
//! window is 2024-02-01 ..= 2024-03-01.

use server::{derive::summary, metrics::MetricConfig, store::analytics::Analytics};

/// The thresholds the hand calculations assume: churn after C = 60 days.
/// (Each test file compiles this module; not all of them use every item.)
#[allow(dead_code)]
pub const CFG: MetricConfig = MetricConfig {
    churn_days: 60,
    active_days: 90,
    second_purchase_days: 90,
    new_member_days: 30,
    point_value_cents: 1,
    points_expiry_years: 1,
    at_risk_p_alive: 0.5,
    annual_discount: 0.1,
};

#[allow(dead_code)]
pub fn retailer() -> (tempfile::TempDir, Analytics) {
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::open(&dir.path().join("retailer.duckdb")).unwrap();
    {
        let conn = analytics.writer();
        conn.execute_batch(
            r#"
            INSERT INTO members (member_id, joined_at, region, gender, name, phone, tier) VALUES
                ('A', '2023-01-10 00:00:00', 'East', 'F', '张三', '13812345678', 'gold'),
                ('B', '2023-06-01 00:00:00', 'East', 'M', '李四', '13900001111', 'silver'),
                ('C', '2024-03-15 00:00:00', 'West', 'F', '王五', NULL, NULL),   -- joined inside the window, never ordered
                ('D', '2023-02-01 00:00:00', 'West', NULL, NULL, NULL, NULL),
                ('E', '2024-04-05 00:00:00', NULL, NULL, NULL, NULL, NULL),       -- joins after T
                ('F', '2023-01-01 00:00:00', NULL, 'F', NULL, NULL, NULL),
                ('G', '2023-05-01 00:00:00', NULL, 'M', NULL, NULL, NULL),
                ('H', '2023-03-01 00:00:00', 'West', 'F', NULL, NULL, NULL);
            INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel) VALUES
                ('a1', '2024-01-15 10:00:00', 200.00, 'A', 'store'),
                ('a2', '2024-02-10 12:00:00',  25.00, 'A', 'app'),
                ('a3', '2024-03-05 09:00:00', 100.00, 'A', 'store'),
                ('a4', '2024-03-05 18:00:00',  50.00, 'A', 'app'),   -- two orders on one day
                ('a5', '2024-03-20 11:00:00',  30.00, 'A', 'store'),
                ('a6', '2024-03-25 15:00:00', -20.00, 'A', 'store'), -- a return
                ('b1', '2024-03-01 23:59:59',  40.00, 'B', 'web'),   -- last second before the window
                ('b2', '2024-03-02 00:00:00',  80.00, 'B', 'web'),   -- first second of the window
                ('d1', '2023-12-20 10:00:00',  60.00, 'D', 'store'),
                ('e1', '2024-04-06 10:00:00', 500.00, 'E', 'store'),
                ('f1', '2023-06-01 10:00:00',  10.00, 'F', 'store'),
                ('g1', '2024-01-20 10:00:00',  45.00, 'G', 'store'),
                ('h1', '2024-03-31 23:59:59',  70.00, 'H', 'app'),   -- last second of the window
                ('h2', '2024-04-01 00:00:00',  35.00, 'H', 'app'),   -- first second after it
                ('x1', '2024-03-12 10:00:00', 1000.00, NULL, 'store'); -- a guest sale
            INSERT INTO points (entry_id, member_id, occurred_at, kind, points) VALUES
                ('p1', 'A', '2024-03-05 09:00:00', 'earn',   100),
                ('p2', 'A', '2024-03-20 11:00:00', 'redeem',  30),
                ('p3', 'B', '2024-03-02 00:00:00', 'earn',    50),
                ('p4', 'B', '2024-03-01 23:59:59', 'redeem',  40),
                ('p5', 'A', '2024-03-10 00:00:00', 'expire',  10),
                ('p6', 'A', '2024-02-15 00:00:00', 'earn',    80),
                ('p7', 'H', '2024-03-31 23:59:59', 'redeem',  25),
                ('p8', 'H', '2024-04-01 00:00:00', 'earn',  1000);
            "#,
        )
        .unwrap();
        server::derive::open::seal_plain(&conn).unwrap();
        summary::rebuild(&conn).unwrap();
    }
    (dir, analytics)
}

/// Adds raw rows to the retailer and derives its summary tables again, as a load would.
#[allow(dead_code)]
pub fn add(analytics: &Analytics, sql: &str) {
    let conn = analytics.writer();
    conn.execute_batch(sql).unwrap();
    // Names and phones are sealed as a load seals them.
    server::derive::open::seal_plain(&conn).unwrap();
    summary::rebuild(&conn).unwrap();
}

/// A generated retailer (`generate` with `members` members and `seed`) in a fresh store.
#[allow(dead_code)]
pub fn generated(members: u64, seed: u64) -> (tempfile::TempDir, Analytics) {
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::open(&dir.path().join("generated.duckdb")).unwrap();
    server::load::generate::generate(
        &analytics,
        &server::load::generate::Options { members, seed, ..Default::default() },
        false,
    )
    .unwrap();
    (dir, analytics)
}

/// The real `memberpulse serve`, killed when dropped.
#[allow(dead_code)]
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `data_dir` on a free port, with extra `serve` arguments (e.g. a demo size).
#[allow(dead_code)]
pub fn serve(data_dir: &std::path::Path, args: &[&str]) -> Server {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_memberpulse"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some((_, addr)) = line.split_once("http://") {
            break addr.split_whitespace().next().unwrap_or_default().to_string();
        }
    };
    let base = format!("http://{addr}");
    let info = server::http::ServerInfo::read(data_dir).expect("server.json");
    LOCAL_TOKENS.lock().unwrap().push((base.clone(), info.token));
    Server { child, base }
}

/// The local (admin) token of each server the tests started, by base URL.
static LOCAL_TOKENS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// The local token of the server a URL points to: the CLI's admin secret in its
/// data directory's `server.json`.
#[allow(dead_code)]
pub fn local_token(url: &str) -> Option<String> {
    LOCAL_TOKENS.lock().unwrap().iter().rev().find(|(base, _)| url.starts_with(base.as_str())).map(|(_, t)| t.clone())
}

/// One HTTP request with an optional JSON body, as the server's local admin (the access
/// tests sign in as each role instead): (status, JSON body or null).
#[allow(dead_code)]
pub async fn call(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(token) = local_token(url) {
        req = req.bearer_auth(token);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Rows that differ between the kept derived tables (member summary, member days,
/// points days) and a rebuild (the rebuild then stays), plus kept member numbers that are
/// not unique or not carried by the member's days.
#[allow(dead_code)]
pub fn differences(a: &Analytics) -> i64 {
    const DERIVED: [&str; 3] = ["member_summary", "member_days", "points_days"];
    let conn = a.writer();
    for t in DERIVED {
        conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE kept_{t} AS SELECT * FROM {t}")).unwrap();
    }
    // Member numbers are given in another order by a rebuild: what must hold is that each
    // member's is unique and their days carry it.
    let misnumbered: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) - count(DISTINCT member_no) FROM kept_member_summary)
                  + (SELECT count(*) FROM kept_member_days d LEFT JOIN kept_member_summary s USING (member_id)
                     WHERE s.member_no IS DISTINCT FROM d.member_no)
                  + (SELECT count(*) FROM kept_points_days d LEFT JOIN kept_member_summary s USING (member_id)
                     WHERE s.member_no IS DISTINCT FROM d.member_no)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    summary::rebuild(&conn).unwrap();
    misnumbered
        + DERIVED
            .iter()
            .map(|t| {
                let all = "* EXCLUDE (member_no)";
                conn.query_row(
                    &format!(
                        "SELECT count(*) FROM ((SELECT {all} FROM kept_{t} EXCEPT ALL SELECT {all} FROM {t})
                         UNION ALL (SELECT {all} FROM {t} EXCEPT ALL SELECT {all} FROM kept_{t}))"
                    ),
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
            })
            .sum::<i64>()
}

/// Makes a user with the CLI (`memberpulse user add --password-stdin`).
#[allow(dead_code)]
pub fn add_user(data: &std::path::Path, name: &str, role: &str, password: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_memberpulse"))
        .args(["user", "add", "--name", name, "--role", role, "--password-stdin", "--data-dir"])
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    assert!(child.wait().unwrap().success(), "user add {name}");
}

/// Who a request is from.
#[allow(dead_code)]
#[derive(Clone)]
pub enum Who {
    Nobody,
    Cookie(String),
    Token(String),
}

/// A running server asked as a browser on its own pages would ask it.
#[allow(dead_code)]
pub struct Site {
    pub base: String,
    pub http: reqwest::Client,
}

#[allow(dead_code)]
impl Site {
    /// A client that does not follow redirects, for `base`.
    pub fn new(base: &str) -> Site {
        Site {
            base: base.to_string(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        }
    }

    /// A request from this site's own pages (`Origin` is the site), as `who`.
    pub async fn ask(
        &self,
        who: &Who,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", self.base))
            .header("origin", &self.base);
        match who {
            Who::Nobody => {}
            Who::Cookie(c) => req = req.header("cookie", format!("mp_session={c}")),
            Who::Token(t) => req = req.bearer_auth(t),
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)), headers)
    }

    /// Posts the sign-in form: (status, Location, the session cookie if one was set).
    pub async fn sign_in(&self, name: &str, password: &str) -> (u16, String, Option<String>) {
        self.sign_in_with(name, password, "/members", &[]).await
    }

    /// The sign-in form with its `next` and extra headers (e.g. `X-Forwarded-For`).
    pub async fn sign_in_with(
        &self,
        name: &str,
        password: &str,
        next: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let mut req = self.http.post(format!("{}/auth/signin", self.base)).header("origin", &self.base).form(&[
            ("name", name),
            ("password", password),
            ("next", next),
        ]);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().to_string())
            .find(|c| c.starts_with("mp_session=") && !c.starts_with("mp_session=;"));
        if let Some(c) = &cookie {
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
        }
        let secret = cookie.map(|c| c.trim_start_matches("mp_session=").split(';').next().unwrap().to_string());
        (r.status().as_u16(), location, secret)
    }

    /// Signs `name` in (password `<name>-password-1`, as [`add_user`]s in the tests).
    pub async fn session(&self, name: &str) -> Who {
        let (_, location, cookie) = self.sign_in(name, &format!("{name}-password-1")).await;
        Who::Cookie(cookie.unwrap_or_else(|| panic!("{name} not signed in: {location}")))
    }
}

/// An answer refused for want of a session or a role: nothing but the error.
#[allow(dead_code)]
pub fn refused(body: &serde_json::Value) -> bool {
    body.as_object().is_some_and(|o| o.keys().all(|k| ["error", "message", "param"].contains(&k.as_str())))
        || body.as_str().is_some_and(|s| s.len() < 200 && !s.contains("member_id"))
}

/// A fixed privacy key for tests that use the operational store on its own.
pub fn seal() -> server::store::Seal {
    server::store::Seal::from_master(&[1u8; 32], "test")
}

/// Files under `dir` holding `needle`.
pub fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}
