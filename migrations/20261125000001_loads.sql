-- History of data loads (file imports, generated demo data): who sees what landed.
CREATE TABLE loads (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at    TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    rows_read      INTEGER NOT NULL,
    rows_inserted  INTEGER NOT NULL,
    rows_duplicate INTEGER NOT NULL,
    rows_rejected  INTEGER NOT NULL,
    report         TEXT    NOT NULL
);
