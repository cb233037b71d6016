-- Each model fit (SPEC §6): when, as of which day, on how many members, and the result.
CREATE TABLE model_fits (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    fitted_at      TEXT    NOT NULL,
    as_of          TEXT    NOT NULL,
    model          TEXT    NOT NULL CHECK (model IN ('bgnbd', 'gamma_gamma')),
    members        INTEGER NOT NULL,
    params         TEXT    NOT NULL,  -- JSON array, in the model's order
    std_errors     TEXT    NOT NULL,  -- JSON array
    log_likelihood REAL    NOT NULL,
    iterations     INTEGER NOT NULL
);
