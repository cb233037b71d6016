-- The members of a rule's segment when it was read (NULL for all members), and whether
-- executives' view of it was shown then: executives see no value of a segment whose
-- figures they may not see (docs/security.md).
ALTER TABLE alert_events ADD COLUMN population INTEGER;
ALTER TABLE alert_events ADD COLUMN executives_see INTEGER NOT NULL DEFAULT 1;
