//! The analytics store's schema: versioned DDL, applied in order when a store is opened
//! (`crate::derive::open`), each version once.

/// The columns of the tracked raw tables without their key, as version 1 makes them
/// (a test compares the two): a large load into a small table makes the table again
/// and adds the key once at the end (`crate::derive::landing::land_new`).
pub fn unkeyed_columns(table: &str) -> &'static str {
    match table {
        "members" => {
            "member_id VARCHAR NOT NULL, joined_at TIMESTAMP NOT NULL, join_channel VARCHAR, home_store_id VARCHAR,
             region VARCHAR, tier VARCHAR, gender VARCHAR, birth_year INTEGER, name VARCHAR, phone VARCHAR"
        }
        "orders" => {
            "order_id VARCHAR NOT NULL, ordered_at TIMESTAMP NOT NULL, net_amount DECIMAL(18, 2) NOT NULL,
             member_id VARCHAR, channel VARCHAR, store_id VARCHAR, item_count INTEGER,
             discount_amount DECIMAL(18, 2), coupon_id VARCHAR"
        }
        "points" => {
            "entry_id VARCHAR NOT NULL, member_id VARCHAR NOT NULL, occurred_at TIMESTAMP NOT NULL,
             kind VARCHAR NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust')),
             points BIGINT NOT NULL, source VARCHAR, order_id VARCHAR"
        }
        "order_items" => {
            "order_id VARCHAR NOT NULL, line_no INTEGER NOT NULL, sku VARCHAR NOT NULL, quantity INTEGER NOT NULL,
             amount DECIMAL(18, 2) NOT NULL, category VARCHAR"
        }
        _ => unreachable!("only members, orders, order items and points are made again"),
    }
}

/// The stored tables (not views, not temporary) of the main schema with a column named
/// `column`, by name.
pub fn tables_with_column(conn: &duckdb::Connection, column: &str) -> crate::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT c.table_name FROM duckdb_columns() c JOIN duckdb_tables() t
           ON t.schema_name = c.schema_name AND t.table_name = c.table_name
         WHERE c.schema_name = 'main' AND c.column_name = ? AND NOT t.temporary
         ORDER BY 1",
    )?;
    Ok(stmt.query_map([column], |r| r.get(0))?.collect::<duckdb::Result<Vec<String>>>()?)
}

/// Versioned DDL, applied in order on open; each version applies once.
pub(crate) const SCHEMA: &[(i32, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE stores (
        store_id VARCHAR PRIMARY KEY,
        name     VARCHAR,
        region   VARCHAR,
        city     VARCHAR,
        kind     VARCHAR CHECK (kind IS NULL OR kind IN ('store', 'online'))
    );
    CREATE TABLE members (
        member_id     VARCHAR PRIMARY KEY,
        joined_at     TIMESTAMP NOT NULL,
        join_channel  VARCHAR,
        home_store_id VARCHAR,
        region        VARCHAR,
        tier          VARCHAR,
        gender        VARCHAR,
        birth_year    INTEGER,
        name          VARCHAR,
        phone         VARCHAR
    );
    CREATE TABLE orders (
        order_id        VARCHAR PRIMARY KEY,
        ordered_at      TIMESTAMP NOT NULL,
        net_amount      DECIMAL(18, 2) NOT NULL,
        member_id       VARCHAR,
        channel         VARCHAR,
        store_id        VARCHAR,
        item_count      INTEGER,
        discount_amount DECIMAL(18, 2),
        coupon_id       VARCHAR
    );
    CREATE TABLE order_items (
        order_id VARCHAR NOT NULL,
        line_no  INTEGER NOT NULL,
        sku      VARCHAR NOT NULL,
        quantity INTEGER NOT NULL,
        amount   DECIMAL(18, 2) NOT NULL,
        category VARCHAR,
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE points (
        entry_id    VARCHAR PRIMARY KEY,
        member_id   VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL,
        kind        VARCHAR NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust')),
        points      BIGINT NOT NULL,
        source      VARCHAR,
        order_id    VARCHAR
    );
    "#,
    ),
    (
        2,
        r#"
    -- member_summary: created and filled by crate::derive::summary::rebuild (see DERIVED_VERSIONS).
    "#,
    ),
    (
        3,
        r#"
    -- member_days and points_days: created and filled by crate::derive::summary::rebuild.
    "#,
    ),
    (
        4,
        r#"
    -- A member's tier from changed_at on, until their next change. Members without
    -- any row keep members.tier throughout.
    CREATE TABLE tier_changes (
        member_id  VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL,
        tier       VARCHAR NOT NULL,
        PRIMARY KEY (member_id, changed_at)
    );
    "#,
    ),
    (
        5,
        r#"
    -- Model scores (superseded by version 6).
    CREATE TABLE IF NOT EXISTS member_scores (
        member_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL, p_alive DOUBLE NOT NULL,
        purchases_30d DOUBLE NOT NULL, purchases_90d DOUBLE NOT NULL, purchases_365d DOUBLE NOT NULL,
        spend_per_purchase DOUBLE NOT NULL, clv_12m DOUBLE NOT NULL
    );
    "#,
    ),
    (
        6,
        r#"
    -- The last model fit's member scores, replaced whole by each fit
    -- (crate::model::store_scores): one row per member with a purchase by the fit's T.
    -- historical_cents and revenue_12m_cents are the member's net revenue up to T and in
    -- the 365 days to T; high_value marks the top 20% by clv_12m or historical_cents.
    DROP TABLE IF EXISTS member_scores;
    CREATE TABLE member_scores (
        member_id VARCHAR NOT NULL, as_of DATE NOT NULL, p_alive DOUBLE NOT NULL,
        purchases_30d DOUBLE NOT NULL, purchases_90d DOUBLE NOT NULL, purchases_365d DOUBLE NOT NULL,
        spend_per_purchase DOUBLE NOT NULL, clv_12m DOUBLE NOT NULL,
        historical_cents BIGINT NOT NULL, revenue_12m_cents BIGINT NOT NULL, high_value BOOLEAN NOT NULL
    );
    "#,
    ),
    (
        7,
        r#"
    -- Rows that landed through the ingest API and are not yet folded into the member
    -- summary and the day tables (crate::derive::summary::fold). They land in the same
    -- transaction as the raw rows, so a crash between landing and folding loses nothing:
    -- the next fold (on start) takes them. The member summary gains each member's last
    -- order of any kind (rebuilt with this version).
    CREATE TABLE IF NOT EXISTS pending_members AS SELECT * FROM members LIMIT 0;
    CREATE TABLE IF NOT EXISTS pending_orders AS SELECT * FROM orders LIMIT 0;
    CREATE TABLE IF NOT EXISTS pending_points AS SELECT * FROM points LIMIT 0;
    "#,
    ),
    (
        8,
        r#"
    -- member_summary and member_days gain member_no, the number folding joins on
    -- (crate::summary): the derived tables are made again.
    "#,
    ),
    (
        9,
        r#"
    -- A bulk load's rows are committed before they are folded into the summary
    -- (crate::load::import::Landed); each load is recorded here until its fold commits, and a
    -- store opened with one recorded derives its summary again (crate::derive::summary::recover).
    CREATE TABLE IF NOT EXISTS unfolded_loads (landed_at TIMESTAMP NOT NULL);
    "#,
    ),
    (
        10,
        r#"
    -- points_days gains member_no (the derived tables are made again). member_facts
    -- (crate::derive::facts), each member's groups as of the latest day, is current while
    -- the rows of data_changes (one per change of the raw data, appended in the change's
    -- transaction) are as many as when it was made.
    CREATE TABLE IF NOT EXISTS member_facts_made (as_of DATE NOT NULL, changes BIGINT NOT NULL);
    "#,
    ),
    (
        11,
        r#"
    -- The member facts also record the settings they were made with (stage thresholds,
    -- …): a server started with others makes them again.
    ALTER TABLE member_facts_made ADD COLUMN settings VARCHAR DEFAULT '';
    DELETE FROM member_facts_made;
    "#,
    ),
    (
        12,
        r#"
    -- The member facts keep each member's churn risk, from the model's scores: they also
    -- record how many times scores had been stored (rows of score_changes) when made.
    ALTER TABLE member_facts_made ADD COLUMN scores BIGINT DEFAULT 0;
    DELETE FROM member_facts_made;
    "#,
    ),
    (
        13,
        r#"
    -- Marketing consent (PIPL; crate::derive::consent): every recorded change is a row,
    -- never overwritten; a member's consent is their latest row by given_at
    -- (crate::derive::consent::latest).
    CREATE TABLE IF NOT EXISTS consent_events (
        member_id   VARCHAR NOT NULL,
        consent     BOOLEAN NOT NULL,
        given_at    TIMESTAMP NOT NULL,
        channel     VARCHAR,
        source      VARCHAR NOT NULL,
        recorded_at TIMESTAMP NOT NULL
    );
    -- Erased members (crate::privacy::erase): the pseudonym that replaced a member id,
    -- when, by whom and why; never the erased values.
    CREATE TABLE IF NOT EXISTS erasures (
        pseudonym VARCHAR PRIMARY KEY,
        erased_at TIMESTAMP NOT NULL,
        erased_by VARCHAR NOT NULL,
        reason    VARCHAR NOT NULL
    );
    "#,
    ),
    (
        14,
        r#"
    -- Names and phones are sealed (crate::store::seal): the check value of the key they
    -- are sealed with, so that a wrong key stops the open.
    CREATE TABLE IF NOT EXISTS sealing (key_check VARCHAR NOT NULL, sealed_at TIMESTAMP NOT NULL);
    -- An erasure keeps keyed hashes of the erased id and phone, so that a later load that
    -- carries either is refused (crate::derive::personal), never the values.
    ALTER TABLE erasures ADD COLUMN member_key VARCHAR;
    ALTER TABLE erasures ADD COLUMN phone_key VARCHAR;
    -- A change that must leave no old value in the file (sealing, an erasure, retention)
    -- asks here, in its own transaction, for the file to be copied anew; the copy clears
    -- it, and an open finds any a crash left (crate::store::Analytics::rewrite).
    CREATE TABLE IF NOT EXISTS copy_wanted (wanted_at TIMESTAMP NOT NULL, why VARCHAR NOT NULL);
    "#,
    ),
    (
        15,
        r#"
    -- Identities (SPEC §11; crate::identity): a member's other ids as loaded, by kind
    -- (POS card, mini-program openid, WeChat unionid, app or web account; a phone as its
    -- keyed hash). The same identity on two members is evidence that they are one person.
    CREATE TABLE IF NOT EXISTS member_identities (
        member_id VARCHAR NOT NULL,
        kind      VARCHAR NOT NULL,
        value     VARCHAR NOT NULL,
        PRIMARY KEY (member_id, kind, value)
    );
    -- Merges (crate::identity::merge): `merged` became part of `survivor`. While a merge
    -- stands, `merged` names the survivor wherever data lands; undoing it sets undone_at.
    CREATE TABLE IF NOT EXISTS merges (
        merge_id  BIGINT PRIMARY KEY,
        survivor  VARCHAR NOT NULL,
        merged    VARCHAR NOT NULL,
        merged_at TIMESTAMP NOT NULL,
        merged_by VARCHAR NOT NULL,
        rule      VARCHAR,
        undone_at TIMESTAMP,
        undone_by VARCHAR
    );
    -- The merged member's own row (out of `members`, which holds persons) and scores,
    -- put back by an undo.
    CREATE TABLE IF NOT EXISTS merged_members AS SELECT CAST(NULL AS BIGINT) AS merge_id, * FROM members LIMIT 0;
    CREATE TABLE IF NOT EXISTS merged_scores AS SELECT CAST(NULL AS BIGINT) AS merge_id, * FROM member_scores LIMIT 0;
    -- The rows (orders, points, tier changes) a merge moved to the survivor, or that landed
    -- under the merged id while it stood: an undo gives back exactly these.
    CREATE TABLE IF NOT EXISTS merge_moves (
        merge_id BIGINT NOT NULL,
        tbl      VARCHAR NOT NULL,
        row_key  VARCHAR NOT NULL,
        PRIMARY KEY (merge_id, tbl, row_key)
    );
    "#,
    ),
    (
        16,
        r#"
    -- Campaign arms (SPEC §12; crate::campaigns): each target member's arm, `treatment` or
    -- `control`, and the RFM segment the draw stratified by (none for imported arms).
    CREATE TABLE IF NOT EXISTS campaign_arms (
        campaign_id BIGINT  NOT NULL,
        member_id   VARCHAR NOT NULL,
        arm         VARCHAR NOT NULL,
        stratum     VARCHAR,
        PRIMARY KEY (campaign_id, member_id)
    );
    -- Trigger episodes (crate::triggers): a member is in episode `episode` of a trigger's
    -- condition from `opened_at` until `closed_at` (open while NULL). `pending` marks an
    -- episode whose opening (or, for a trigger on leaving a segment, closing) is still to
    -- be handed to the operational store's deliveries; `facts` is what fired (JSON).
    CREATE TABLE IF NOT EXISTS trigger_episodes (
        trigger_id BIGINT    NOT NULL,
        member_id  VARCHAR   NOT NULL,
        episode    INTEGER   NOT NULL,
        opened_at  TIMESTAMP NOT NULL,
        closed_at  TIMESTAMP,
        facts      VARCHAR   NOT NULL,
        pending    BOOLEAN   NOT NULL
    );
    -- The triggers whose first evaluation (their baseline: nothing handed on) is done.
    CREATE TABLE IF NOT EXISTS triggers_armed (trigger_id BIGINT NOT NULL, armed_at TIMESTAMP NOT NULL);
    "#,
    ),
    (
        17,
        r#"
    -- The members whose data changed since the triggers last looked (crate::triggers):
    -- each fold and each merge appends the members it touched, and the trigger evaluation
    -- reads them and empties the table (all under the folder's connection).
    CREATE TABLE IF NOT EXISTS touched_members (member_id VARCHAR NOT NULL);
    -- Changes no member list follows (tier changes, stores, order items landed; the
    -- summary derived again): one row each; a new count makes every trigger look at every
    -- member again.
    CREATE TABLE IF NOT EXISTS broad_changes (changed_at TIMESTAMP NOT NULL);
    -- What each trigger's last whole evaluation was made on (latest day, scores, rules,
    -- its condition, the broad changes), hashed: while the same, only touched members are
    -- read again. `dirty`: data landed since, not read yet (a saved-segment trigger).
    CREATE TABLE IF NOT EXISTS trigger_marks (
        trigger_id BIGINT    NOT NULL,
        basis      VARCHAR   NOT NULL,
        whole_at   TIMESTAMP NOT NULL,
        dirty      BOOLEAN   NOT NULL DEFAULT false
    );
    "#,
    ),
    (
        18,
        r#"
    -- What a fold knows of the members it touched, for the triggers to read them alone:
    -- each one's number, the tier of a member row it landed (none: no row landed), their
    -- summary's first and last purchase and purchases after it, and `seq` (the data
    -- changes before it: a member's latest row has the figures); and the net amount
    -- (cents) of the orders it landed per member and day. Rows touched before this
    -- version are let go; the next evaluation reads everyone.
    DELETE FROM touched_members;
    DELETE FROM trigger_marks;
    ALTER TABLE touched_members ADD COLUMN member_no BIGINT;
    ALTER TABLE touched_members ADD COLUMN tier VARCHAR;
    ALTER TABLE touched_members ADD COLUMN first_purchase_at TIMESTAMP;
    ALTER TABLE touched_members ADD COLUMN last_purchase_at TIMESTAMP;
    ALTER TABLE touched_members ADD COLUMN purchases BIGINT;
    ALTER TABLE touched_members ADD COLUMN seq BIGINT;
    -- Each episode's member by number too (the touched members are read by number), those
    -- opened before included (member_summary is made at version 2).
    ALTER TABLE trigger_episodes ADD COLUMN member_no BIGINT;
    UPDATE trigger_episodes e SET member_no = s.member_no FROM member_summary s WHERE s.member_id = e.member_id;
    CREATE TABLE IF NOT EXISTS touched_days (member_no BIGINT NOT NULL, day DATE NOT NULL, cents BIGINT NOT NULL);
    "#,
    ),
    (
        19,
        r#"
    -- Changes of what only saved segments read (stores, order items, identities landed):
    -- member-level triggers go on reading the touched members alone.
    ALTER TABLE broad_changes ADD COLUMN segments_only BOOLEAN DEFAULT false;
    "#,
    ),
    (
        20,
        r#"
    -- Until when (the operational store's `created_at` of deliveries, UTC) every delivery
    -- recorded is stored in trigger_episodes (crate::triggers::kept): a read of the touched
    -- members records its openings first and stores them after, and what was recorded since
    -- is stored again when the evaluator starts or after a failed write. Set at the first
    -- evaluation after this version (what was recorded before was stored first).
    CREATE TABLE IF NOT EXISTS trigger_stored (through VARCHAR NOT NULL);
    "#,
    ),
];

/// The versions that add derived tables, filled from the raw tables when applied.
pub(crate) const DERIVED_VERSIONS: [i32; 5] = [2, 3, 7, 8, 10];

/// The tables of the data contract, in load order.
pub const TABLES: [&str; 7] =
    ["stores", "members", "orders", "order_items", "points", "tier_changes", "member_identities"];
