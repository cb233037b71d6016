-- Saved segments (SPEC §5): a named, typed filter over the member dimensions, in the text
-- form the API takes (`region:华东|华南;tier:gold`), validated by the server when saved.
CREATE TABLE segments (
    key        TEXT PRIMARY KEY,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    filters    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
