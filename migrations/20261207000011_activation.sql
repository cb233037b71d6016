-- Activation (SPEC §12; server/src/campaigns and server/src/triggers).
--
-- Campaigns: a saved segment's members on the start date, split into a treatment and a
-- control arm (the arms themselves live in DuckDB, `campaign_arms`, beside the orders
-- a readout counts).
CREATE TABLE campaigns (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    segment       TEXT    NOT NULL,
    start_day     TEXT    NOT NULL,
    window_days   INTEGER NOT NULL,
    goal          TEXT    NOT NULL CHECK (goal IN ('reactivation', 'repurchase', 'revenue_per_member', 'points_redemption')),
    control_share REAL    NOT NULL,
    seed          INTEGER NOT NULL,
    arms_from     TEXT    CHECK (arms_from IN ('drawn', 'imported')),
    created_by    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

-- Where triggered members are handed on; admins own these (the channel JSON is sealed).
CREATE TABLE messaging_channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    channel         TEXT    NOT NULL,
    personal_fields INTEGER NOT NULL DEFAULT 0,
    updated_by      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);

-- Triggers: operators set them. `condition` is the JSON of app::model::TriggerWhen,
-- `channels` a JSON array of messaging channel ids.
CREATE TABLE triggers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    condition  TEXT    NOT NULL,
    channels   TEXT    NOT NULL,
    campaign   INTEGER REFERENCES campaigns (id) ON DELETE SET NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    updated_by TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

-- One row: how often a member may be contacted across every trigger, and quiet hours.
CREATE TABLE contact_policy (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    max_contacts INTEGER NOT NULL,
    per_days     INTEGER NOT NULL,
    quiet_from   TEXT,
    quiet_to     TEXT,
    updated_by   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
INSERT INTO contact_policy VALUES (1, 3, 7, '21:00', '09:00', 'memberpulse', '2026-12-07T00:00:00Z');

-- Each member handed on (or held back) once per episode of a trigger: the key makes a
-- second hand-on of one episode impossible, whatever crashes in between.
CREATE TABLE trigger_deliveries (
    trigger_id INTEGER NOT NULL,
    member_id  TEXT    NOT NULL,
    episode    INTEGER NOT NULL,
    facts      TEXT    NOT NULL,         -- JSON: what fired
    status     TEXT    NOT NULL CHECK (status IN ('queued', 'no_consent', 'capped', 'control')),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (trigger_id, member_id, episode)
);
CREATE INDEX trigger_deliveries_member ON trigger_deliveries (member_id, created_at);

-- Batches of members waiting for a channel, sent as the alert outbox is (retries with
-- back-off, an Idempotency-Key per batch); not before `next_attempt_at` (quiet hours).
CREATE TABLE trigger_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_id      INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT
);
CREATE INDEX trigger_outbox_due ON trigger_outbox (status, next_attempt_at);
