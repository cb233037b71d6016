-- Alerts (SPEC §7). A rule watches one metric over the latest window for all members or a
-- saved segment; each breach episode is an event, moving firing → acknowledged / snoozed →
-- resolved; what is to be sent sits in the outbox until a channel takes it, and every try
-- is recorded. Notifications are queued in the same transaction that changes an event,
-- so a restart neither loses nor repeats one.
CREATE TABLE alert_rules (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    metric           TEXT    NOT NULL,
    segment          TEXT,                 -- a saved segment's key; NULL: all members
    comparison       TEXT    NOT NULL CHECK (comparison IN ('above', 'below', 'drop_pct', 'rise_pct')),
    threshold        REAL    NOT NULL,
    window_days      INTEGER NOT NULL,
    schedule_minutes INTEGER NOT NULL,     -- evaluated this often, and after every load
    severity         TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    channels         TEXT    NOT NULL,     -- JSON array of channels
    renotify_minutes INTEGER NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1,
    evaluated_at     TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

CREATE TABLE alert_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id            INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    state              TEXT    NOT NULL CHECK (state IN ('firing', 'acknowledged', 'snoozed', 'resolved')),
    opened_at          TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    resolved_at        TEXT,
    snoozed_until      TEXT,
    notified_at        TEXT,               -- the last firing or renotify notice queued
    as_of              TEXT    NOT NULL,
    window_start       TEXT    NOT NULL,
    window_end         TEXT    NOT NULL,
    value              REAL,
    comparison_value   REAL,
    threshold          REAL    NOT NULL,
    members_total      INTEGER,            -- members behind the breach, where the metric has them
    members            TEXT,               -- JSON: the first of them, most value at stake first
    link               TEXT    NOT NULL    -- the drill-down of the breach
);
CREATE INDEX alert_events_open ON alert_events (rule_id, state);

CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    notice          TEXT    NOT NULL CHECK (notice IN ('firing', 'renotify', 'resolved')),
    channel         TEXT    NOT NULL,      -- JSON: one channel of the rule
    payload         TEXT    NOT NULL,      -- JSON: the notice, rendered per channel when sent
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_at);

CREATE TABLE alert_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id    INTEGER NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    attempted_at TEXT    NOT NULL,
    ok           INTEGER NOT NULL,
    status       INTEGER,                  -- the HTTP status, when there was one
    error        TEXT
);

-- The seeds' warnings, shipped on (no channels yet: they show in the alert centre until
-- someone adds a webhook or an address).
INSERT INTO alert_rules (name, metric, segment, comparison, threshold, window_days, schedule_minutes, severity, channels, renotify_minutes, created_at, updated_at) VALUES
    ('高价值会员流失预警 High-value members at churn risk', 'high_value_at_risk', NULL, 'above', 0, 30, 1440, 'critical', '[]', 10080, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    ('沉睡唤醒率过低 Dormant reactivation rate too low', 'reactivation_rate', NULL, 'below', 0.05, 30, 1440, 'warning', '[]', 10080, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    ('复购率下降 Repurchase rate falling', 'repurchase_rate', NULL, 'drop_pct', 10, 30, 1440, 'warning', '[]', 10080, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    ('积分使用率过低 Points-usage rate too low', 'points_usage_rate', NULL, 'below', 0.2, 30, 1440, 'warning', '[]', 10080, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
