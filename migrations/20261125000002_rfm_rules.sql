-- Named RFM segments (SPEC §5): a member takes the first rule, by priority, whose score
-- ranges (1–5, inclusive) hold their R, F and M scores. Editable; these are the defaults.
CREATE TABLE rfm_rules (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    priority INTEGER NOT NULL UNIQUE,
    key      TEXT    NOT NULL UNIQUE,
    name_zh  TEXT    NOT NULL,
    name_en  TEXT    NOT NULL,
    r_min INTEGER NOT NULL CHECK (r_min BETWEEN 1 AND 5), r_max INTEGER NOT NULL CHECK (r_max BETWEEN r_min AND 5),
    f_min INTEGER NOT NULL CHECK (f_min BETWEEN 1 AND 5), f_max INTEGER NOT NULL CHECK (f_max BETWEEN f_min AND 5),
    m_min INTEGER NOT NULL CHECK (m_min BETWEEN 1 AND 5), m_max INTEGER NOT NULL CHECK (m_max BETWEEN m_min AND 5)
);

INSERT INTO rfm_rules (priority, key, name_zh, name_en, r_min, r_max, f_min, f_max, m_min, m_max) VALUES
    (10, 'high_value_loyal', '高价值忠诚', 'High-value loyal', 4, 5, 4, 5, 4, 5),
    (20, 'new',              '新客',       'New',              4, 5, 1, 1, 1, 5),
    (30, 'potential',        '潜力培育',   'Potential',        3, 5, 1, 3, 1, 5),
    (40, 'at_risk',          '流失风险',   'At risk',          1, 2, 3, 5, 1, 5),
    (50, 'dormant',          '沉睡唤醒',   'Dormant',          2, 2, 1, 5, 1, 5),
    (60, 'lost',             '已流失',     'Lost',             1, 1, 1, 5, 1, 5);
