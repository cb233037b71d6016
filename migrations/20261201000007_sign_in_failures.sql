-- Wrong passwords, counted per name as typed (known user or not, so that the answers do
-- not tell real names from unknown ones) and per client address (so that one address
-- cannot lock a user out everywhere). After MAX_FAILED_ATTEMPTS within the lockout time
-- that name is refused from that address until `locked_until`; when the lock has ended,
-- or the last failure is older than the lockout time, the count starts again.
CREATE TABLE sign_in_failures (
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    -- UTC, YYYY-MM-DDTHH:MM:SSZ
    locked_until TEXT,
    last_failed_at TEXT NOT NULL,
    PRIMARY KEY (name, address)
);
CREATE INDEX sign_in_failures_last ON sign_in_failures (last_failed_at);

-- Counted per user only before; the counts move to the table above.
ALTER TABLE users DROP COLUMN failed_attempts;
ALTER TABLE users DROP COLUMN locked_until;
