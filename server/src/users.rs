//! Accounts and API tokens in the operational store: argon2id password hashes, session
//! and token secrets kept only as SHA-256 digests, the lockout after wrong passwords.

use app::model::{ApiToken, Role, TokenRequest, User, UserChange};
use sqlx::Row;

use crate::{Error, Result, operational::Pool};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Wrong passwords in a row before sign-in is refused for [`LOCKOUT_MINUTES`].
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
    let ok = (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_param("name", "1 to 64 letters, digits, '.', '_', '-' or '@'"))
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::bad_param(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
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
    let inserted = sqlx::query("INSERT INTO users (name, password_hash, role) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
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
    let row = sqlx::query("SELECT name, role, disabled, locked_until, created_at FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {name:?}")))?;
    Ok(user(&row))
}

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
    let rows = sqlx::query("SELECT name, role, disabled, locked_until, created_at FROM users ORDER BY name")
        .fetch_all(pool)
        .await?;
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
        sqlx::query("UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL WHERE name = ?")
            .bind(hash)
            .bind(&change.name)
            .execute(&mut *tx)
            .await?;
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
    Ok(sqlx::query("SELECT lang FROM users WHERE name = ?").bind(name).fetch_optional(pool).await?.and_then(|r| r.get(0)))
}

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown user, wrong password or a disabled account: the same answer for all three.
    Wrong,
    /// Too many wrong passwords: refused until this time (UTC).
    Locked(String),
}

/// Checks a name and password; on success starts a session and answers its secret.
/// Each wrong password counts; the [`MAX_FAILED_ATTEMPTS`]th locks the account for
/// [`LOCKOUT_MINUTES`], and while locked even the right password is refused.
pub async fn sign_in(pool: &Pool, name: &str, password: &str) -> Result<std::result::Result<(String, User), Refusal>> {
    let row = sqlx::query(
        "SELECT id, password_hash, disabled, failed_attempts,
                CASE WHEN locked_until > strftime('%Y-%m-%dT%H:%M:%SZ', 'now') THEN locked_until END
         FROM users WHERE name = ?",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        // The same work as a real check, so that timing does not tell names apart.
        let _ = verify_password(password.to_string(), DUMMY_HASH.to_string()).await;
        return Ok(Err(Refusal::Wrong));
    };
    let (id, hash, disabled, locked): (i64, String, i64, Option<String>) = (row.get(0), row.get(1), row.get(2), row.get(4));
    if let Some(until) = locked {
        return Ok(Err(Refusal::Locked(until)));
    }
    let right = verify_password(password.to_string(), hash).await?;
    if !right || disabled != 0 {
        if !right {
            sqlx::query(
                "UPDATE users SET failed_attempts = failed_attempts + 1,
                        locked_until = CASE WHEN failed_attempts + 1 >= ?
                            THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) END
                 WHERE id = ?",
            )
            .bind(MAX_FAILED_ATTEMPTS)
            .bind(format!("+{LOCKOUT_MINUTES} minutes"))
            .bind(id)
            .execute(pool)
            .await?;
        }
        return Ok(Err(Refusal::Wrong));
    }
    let token = secret("mps_");
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now')")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?))",
    )
    .bind(digest(&token))
    .bind(id)
    .bind(format!("+{SESSION_HOURS} hours"))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok((token, get(pool, name).await?)))
}

/// An argon2id hash of a random password nobody knows, for unknown names.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0kMHRn0qJx6Ls9cGq8e4Hb0ZpDqcvHkPqO+0H0b7Y2k";

/// The user of a live session (not expired, not disabled).
pub async fn session_user(pool: &Pool, token: &str) -> Result<Option<(String, Role)>> {
    let row = sqlx::query(
        "SELECT u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now') AND u.disabled = 0",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), role_of(r.get::<&str, _>(1)))))
}

pub async fn sign_out(pool: &Pool, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(digest(token))
        .execute(pool)
        .await?;
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
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) WHERE id = ?",
    )
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
    let row = sqlx::query(
        "UPDATE api_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
         WHERE token_hash = ? AND revoked_at IS NULL RETURNING id, name, scope, role",
    )
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
