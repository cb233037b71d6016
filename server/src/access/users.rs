//! Accounts and API tokens in the operational store: argon2id password hashes, session
//! and token secrets kept only as SHA-256 digests, the lockout after wrong passwords
//! (per name and client address, for known and unknown names alike).

use app::model::{ApiToken, Role, TokenRequest, User, UserChange};
use sqlx::Row;

use crate::store::operational::now_sql;
use crate::{
    Error, Result,
    store::operational::{Pool, stamp},
};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Wrong passwords in a row (for one name from one address, within [`LOCKOUT_MINUTES`])
/// before sign-in is refused there for [`LOCKOUT_MINUTES`].
pub const MAX_FAILED_ATTEMPTS: i64 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;
/// How long a session lasts after sign-in.
pub const SESSION_HOURS: i64 = 12;

/// A fresh secret: 32 random bytes as hex, with a prefix saying what it is.
pub fn secret(prefix: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex(&bytes))
}

/// The SHA-256 of a secret, as stored.
pub fn digest(secret: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2id PHC string (random salt, the crate's default cost), computed off the runtime.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hash: {e}")))
    })
    .await?
}

/// Whether `password` matches the stored hash (constant time inside argon2).
pub async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::Internal(format!("stored password hash: {e}")))?;
        Ok(argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
}

fn check_name(name: &str) -> Result<()> {
    let ok =
        (1..=64).contains(&name.chars().count()) && name.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok { Ok(()) } else { Err(Error::bad_param("name", "1 to 64 letters, digits, '.', '_', '-' or '@'")) }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::bad_param("password", format!("at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

fn role_of(text: &str) -> Role {
    // The table's CHECK admits only the three keys.
    Role::parse(text).unwrap_or(Role::Executive)
}

pub async fn add(pool: &Pool, name: &str, role: Role, password: &str) -> Result<User> {
    check_name(name)?;
    check_password(password)?;
    let hash = hash_password(password.to_string()).await?;
    let inserted =
        sqlx::query("INSERT INTO users (name, password_hash, role) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(hash)
            .bind(role.key())
            .execute(pool)
            .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::Conflict(format!("user {name:?} exists")));
    }
    get(pool, name).await
}

pub async fn get(pool: &Pool, name: &str) -> Result<User> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?"))
        .bind(name)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {name:?}")))?;
    Ok(user(&row))
}

/// A user as listed: `locked_until` is the latest lock of their name from any address.
const USER_COLUMNS: &str = concat!(
    "name, role, disabled,
    (SELECT max(f.locked_until) FROM sign_in_failures f
     WHERE f.name = users.name AND f.locked_until > ",
    now_sql!(),
    "),
    created_at"
);

fn user(r: &sqlx::sqlite::SqliteRow) -> User {
    User {
        name: r.get(0),
        role: role_of(r.get::<&str, _>(1)),
        disabled: r.get::<i64, _>(2) != 0,
        locked_until: r.get(3),
        created_at: r.get(4),
    }
}

pub async fn list(pool: &Pool) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name")).fetch_all(pool).await?;
    Ok(rows.iter().map(user).collect())
}

pub async fn count(pool: &Pool) -> Result<i64> {
    Ok(sqlx::query("SELECT count(*) FROM users").fetch_one(pool).await?.get(0))
}

/// Changes a user's role, password or disabled flag. A new password or disabling ends
/// the user's sessions; a new password also lifts a lockout.
pub async fn change(pool: &Pool, change: &UserChange) -> Result<User> {
    let before = get(pool, &change.name).await?;
    let mut tx = pool.begin().await?;
    if let Some(role) = change.role {
        sqlx::query("UPDATE users SET role = ? WHERE name = ?")
            .bind(role.key())
            .bind(&change.name)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(password) = &change.password {
        check_password(password)?;
        let hash = hash_password(password.clone()).await?;
        sqlx::query("UPDATE users SET password_hash = ? WHERE name = ?")
            .bind(hash)
            .bind(&change.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE name = ?").bind(&change.name).execute(&mut *tx).await?;
    }
    if let Some(disabled) = change.disabled {
        sqlx::query("UPDATE users SET disabled = ? WHERE name = ?")
            .bind(i64::from(disabled))
            .bind(&change.name)
            .execute(&mut *tx)
            .await?;
    }
    if change.password.is_some() || change.disabled == Some(true) || change.role.is_some_and(|r| r != before.role) {
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)")
            .bind(&change.name)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    get(pool, &change.name).await
}

/// Keeps a user's language (`zh` or `en`), set again as the `lang` cookie at sign-in.
pub async fn set_language(pool: &Pool, name: &str, lang: &str) -> Result<()> {
    if !["zh", "en"].contains(&lang) {
        return Err(Error::bad_param("lang", "zh or en"));
    }
    sqlx::query("UPDATE users SET lang = ? WHERE name = ?").bind(lang).bind(name).execute(pool).await?;
    Ok(())
}

/// A user's kept language, if any.
pub async fn language(pool: &Pool, name: &str) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT lang FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .and_then(|r| r.get(0)))
}

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown user, wrong password or a disabled account: the same answer for all three.
    Wrong,
    /// Too many wrong passwords: refused until this time (UTC).
    Locked(String),
}

/// Checks a name and password from a client `address`; on success starts a session and
/// answers its secret. Each wrong password counts for that name from that address, known
/// name or not; the [`MAX_FAILED_ATTEMPTS`]th locks it there for [`LOCKOUT_MINUTES`], and
/// while locked even the right password is refused. Every answer costs the same argon2
/// work, so neither the answer nor its time tells a real name from an unknown one.
pub async fn sign_in(
    pool: &Pool,
    name: &str,
    password: &str,
    address: &str,
) -> Result<std::result::Result<(String, User), Refusal>> {
    let now = chrono::Utc::now();
    let locked: Option<String> =
        sqlx::query("SELECT locked_until FROM sign_in_failures WHERE name = ? AND address = ? AND locked_until > ?")
            .bind(name)
            .bind(address)
            .bind(stamp(now))
            .fetch_optional(pool)
            .await?
            .map(|r| r.get(0));
    let row = sqlx::query("SELECT id, password_hash, disabled FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    let hash = row.as_ref().map_or(DUMMY_HASH.to_string(), |r| r.get(1));
    let right = verify_password(password.to_string(), hash).await? && row.is_some();
    if let Some(until) = locked {
        return Ok(Err(Refusal::Locked(until)));
    }
    if !right {
        failed(pool, name, address, now).await?;
        return Ok(Err(Refusal::Wrong));
    }
    let Some(row) = row else { return Ok(Err(Refusal::Wrong)) };
    let (id, disabled): (i64, i64) = (row.get(0), row.get(2));
    if disabled != 0 {
        return Ok(Err(Refusal::Wrong));
    }
    let token = secret("mps_");
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE name = ? AND address = ?")
        .bind(name)
        .bind(address)
        .execute(&mut *tx)
        .await?;
    sqlx::query(concat!("DELETE FROM sessions WHERE expires_at <= ", now_sql!())).execute(&mut *tx).await?;
    sqlx::query(concat!(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         VALUES (?, ?, ",
        now_sql!(),
        ", strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?))"
    ))
    .bind(digest(&token))
    .bind(id)
    .bind(format!("+{SESSION_HOURS} hours"))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok((token, get(pool, name).await?)))
}

/// Counts a wrong password for `name` from `address`. The count starts again when a lock
/// has ended or the last failure is older than the lockout time (a lock that ended does
/// not come back after one more wrong try). Failures a day old are forgotten.
async fn failed(pool: &Pool, name: &str, address: &str, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let window = chrono::Duration::minutes(LOCKOUT_MINUTES);
    let (now_s, until, stale) = (stamp(now), stamp(now + window), stamp(now - window));
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO sign_in_failures (name, address, failed_attempts, locked_until, last_failed_at)
         VALUES (?1, ?2, 1, CASE WHEN 1 >= ?3 THEN ?5 END, ?4)
         ON CONFLICT (name, address) DO UPDATE SET
           failed_attempts = CASE WHEN locked_until <= ?4 OR last_failed_at <= ?6 THEN 1 ELSE failed_attempts + 1 END,
           locked_until = CASE WHEN (CASE WHEN locked_until <= ?4 OR last_failed_at <= ?6 THEN 1 ELSE failed_attempts + 1 END) >= ?3
                               THEN ?5 END,
           last_failed_at = ?4",
    )
    .bind(name)
    .bind(address)
    .bind(MAX_FAILED_ATTEMPTS)
    .bind(&now_s)
    .bind(&until)
    .bind(&stale)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE last_failed_at < ? AND (locked_until IS NULL OR locked_until < ?)")
        .bind(stamp(now - chrono::Duration::days(1)))
        .bind(&now_s)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An argon2id hash of a random password nobody knows, for unknown names.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0kMHRn0qJx6Ls9cGq8e4Hb0ZpDqcvHkPqO+0H0b7Y2k";

/// The user of a live session (not expired, not disabled).
pub async fn session_user(pool: &Pool, token: &str) -> Result<Option<(String, Role)>> {
    let row = sqlx::query(concat!(
        "SELECT u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > ",
        now_sql!(),
        " AND u.disabled = 0"
    ))
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), role_of(r.get::<&str, _>(1)))))
}

pub async fn sign_out(pool: &Pool, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(digest(token)).execute(pool).await?;
    Ok(())
}

/// The scopes a token may have.
pub const SCOPES: [&str; 2] = ["ingest", "read"];

/// Makes a token; the answer carries its secret, which is stored only as a digest.
pub async fn add_token(pool: &Pool, request: &TokenRequest, created_by: &str) -> Result<ApiToken> {
    if request.name.trim().is_empty() || request.name.chars().count() > 64 {
        return Err(Error::bad_param("name", "1 to 64 characters"));
    }
    if !SCOPES.contains(&request.scope.as_str()) {
        return Err(Error::bad_param("scope", format!("{:?}: expected ingest or read", request.scope)));
    }
    let role = request.role.unwrap_or(Role::Executive);
    let secret = secret("mpt_");
    let id: i64 = sqlx::query(
        "INSERT INTO api_tokens (name, token_hash, scope, role, created_by) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(request.name.trim())
    .bind(digest(&secret))
    .bind(&request.scope)
    .bind(role.key())
    .bind(created_by)
    .fetch_one(pool)
    .await?
    .get(0);
    let mut token = tokens(pool, Some(id)).await?.pop().ok_or_else(|| Error::Internal("token vanished".into()))?;
    token.secret = Some(secret);
    Ok(token)
}

/// Every token (or one), newest first; never their secrets.
pub async fn tokens(pool: &Pool, id: Option<i64>) -> Result<Vec<ApiToken>> {
    let rows = sqlx::query(
        "SELECT id, name, scope, role, created_by, created_at, last_used_at, revoked_at FROM api_tokens
         WHERE ?1 IS NULL OR id = ?1 ORDER BY id DESC",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| ApiToken {
            id: r.get(0),
            name: r.get(1),
            scope: r.get(2),
            role: role_of(r.get::<&str, _>(3)),
            created_by: r.get(4),
            created_at: r.get(5),
            last_used_at: r.get(6),
            revoked_at: r.get(7),
            secret: None,
        })
        .collect())
}

pub async fn revoke_token(pool: &Pool, id: i64) -> Result<ApiToken> {
    let done =
        sqlx::query(concat!("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ", now_sql!(), ") WHERE id = ?"))
            .bind(id)
            .execute(pool)
            .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no token {id}")));
    }
    tokens(pool, Some(id)).await?.pop().ok_or_else(|| Error::NotFound(format!("no token {id}")))
}

/// The live token with this secret: (id, name, scope, role); its last use is noted.
pub async fn token_of(pool: &Pool, secret: &str) -> Result<Option<(i64, String, String, Role)>> {
    let row = sqlx::query(concat!(
        "UPDATE api_tokens SET last_used_at = ",
        now_sql!(),
        "
         WHERE token_hash = ? AND revoked_at IS NULL RETURNING id, name, scope, role"
    ))
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), role_of(r.get::<&str, _>(3)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_dummy_hash_parses_and_matches_nothing_simple() {
        assert!(!verify_password("password".into(), DUMMY_HASH.into()).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery".into()).await.unwrap();
        let b = hash_password("correct horse battery".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify_password("correct horse battery".into(), a.clone()).await.unwrap());
        assert!(!verify_password("correct horse batterz".into(), a).await.unwrap());
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(secret("x_"), secret("x_"));
    }
}
