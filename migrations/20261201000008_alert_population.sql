-- The members of a rule's segment when it was read (NULL for all members): executives
-- see no value of a segment under the minimum group size.
ALTER TABLE alert_events ADD COLUMN population INTEGER;
