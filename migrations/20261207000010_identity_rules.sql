-- Identity matching rules (SPEC §11; server/src/identity): members sharing every one of
-- `match_on` (identity kinds, comma-separated, and optionally birth_year) are proposed as
-- one person; an automatic rule's pairs are merged without review.
CREATE TABLE identity_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    match_on   TEXT NOT NULL,
    automatic  INTEGER NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO identity_rules (name, match_on, automatic, updated_by, updated_at) VALUES
    ('same WeChat unionid', 'wechat_unionid', 0, 'memberpulse', '2026-12-07T00:00:00Z'),
    ('same phone and birth year', 'phone,birth_year', 0, 'memberpulse', '2026-12-07T00:00:00Z');
