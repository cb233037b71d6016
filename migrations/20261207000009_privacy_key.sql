-- The check value of the privacy key alert channels are sealed with (crate::store::seal):
-- a start with another key stops before a channel is read or written.
CREATE TABLE privacy_key (
    key_check TEXT NOT NULL,
    set_at    TEXT NOT NULL
);
