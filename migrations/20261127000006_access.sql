-- Who may sign in, their sessions, the API tokens, and the audit log (SPEC §1).

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- argon2id, PHC string (salt and parameters inside)
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('executive', 'operator', 'admin')),
    lang TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- wrong passwords in a row, and until when sign-in is refused after too many
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's secret: a stolen database holds no usable session
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    -- 'ingest' (POST /api/v1/ingest/*) or 'read' (GET requests, as `role`)
    scope TEXT NOT NULL CHECK (scope IN ('ingest', 'read')),
    role TEXT NOT NULL CHECK (role IN ('executive', 'operator', 'admin')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    last_used_at TEXT,
    revoked_at TEXT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    -- e.g. member.view, member.list, member.export, user.create, rule.update
    action TEXT NOT NULL,
    -- what it was about: a member id, a user, a rule id
    target TEXT,
    -- the filter or query of a list or export, as asked
    filter TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
