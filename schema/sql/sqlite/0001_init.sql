-- elena-run ledger, schema version 1 (SQLite).
-- Applied by elena-run itself; the same tables exist in postgres/0001_init.sql.

-- One row per unique image (identified by the SHA-256 of its original bytes).
CREATE TABLE items (
    id                TEXT PRIMARY KEY,
    drop_name         TEXT NOT NULL,
    original_name     TEXT NOT NULL,
    original_path     TEXT NOT NULL,
    raw_path          TEXT,
    cropped_name      TEXT,
    cropped_digest    TEXT,
    status            TEXT NOT NULL CHECK (status IN
                          ('ingested', 'cropped', 'in_review', 'approved', 'rejected', 'published', 'failed')),
    fanvue_media_uuid TEXT,
    vault             TEXT,
    category          TEXT,
    tags              TEXT NOT NULL DEFAULT '[]',
    description       TEXT,
    price_cents       INTEGER CHECK (price_cents IS NULL OR price_cents >= 300),
    times_purchased   INTEGER NOT NULL DEFAULT 0 CHECK (times_purchased >= 0),
    revenue_cents     INTEGER NOT NULL DEFAULT 0,
    width             INTEGER,
    height            INTEGER,
    lineage           TEXT,
    flags             TEXT NOT NULL DEFAULT '[]',
    error             TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX items_drop_name ON items (drop_name);

-- Which drops contain which items (the same bytes may appear in several drops).
CREATE TABLE drop_items (
    drop_name   TEXT NOT NULL,
    item_id     TEXT NOT NULL REFERENCES items (id),
    source_path TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (drop_name, item_id)
);

-- The run cache: one row per stage run, keyed by the hash of stage, version, parameters and input digests.
CREATE TABLE stage_runs (
    cache_key         TEXT PRIMARY KEY,
    stage             TEXT NOT NULL,
    item_id           TEXT,
    drop_name         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    output_digest     TEXT,
    artifact_path     TEXT,
    artifact_size     INTEGER,
    artifact_mtime_ns INTEGER,
    artifact_inode    INTEGER,
    output            TEXT,
    error             TEXT,
    started_at        TEXT NOT NULL,
    duration_ms       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX stage_runs_drop_stage ON stage_runs (drop_name, stage);
CREATE INDEX stage_runs_item ON stage_runs (item_id);

-- The stat cache: a file whose size, mtime and inode are unchanged is not hashed again.
CREATE TABLE file_stats (
    path       TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    inode      INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    checked_at TEXT NOT NULL
);

-- Human review decisions, one per crop version, kept in step with the review folders.
CREATE TABLE reviews (
    item_id     TEXT NOT NULL REFERENCES items (id),
    crop_digest TEXT NOT NULL,
    drop_name   TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('pending', 'approved', 'rejected')),
    file_name   TEXT NOT NULL,
    folder      TEXT NOT NULL CHECK (folder IN ('3_review', '4_approved', '5_uploaded', 'rejected')),
    decided_by  TEXT,
    decided_at  TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (item_id, crop_digest)
);
CREATE INDEX reviews_drop_name ON reviews (drop_name);

-- Every copy of some bytes handed to a target; the same bytes go to one destination once.
CREATE TABLE publications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    target         TEXT NOT NULL,
    destination    TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    item_id        TEXT NOT NULL REFERENCES items (id),
    drop_name      TEXT NOT NULL,
    reference      TEXT,
    metadata       TEXT,
    published_at   TEXT NOT NULL,
    UNIQUE (target, destination, content_digest)
);

-- Pay-per-view sends: an item is never sent twice to the same fan.
CREATE TABLE sends (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id      TEXT NOT NULL REFERENCES items (id),
    fan_uuid     TEXT NOT NULL,
    message_uuid TEXT,
    price_cents  INTEGER CHECK (price_cents IS NULL OR price_cents >= 300),
    sent_at      TEXT NOT NULL,
    purchased_at TEXT,
    UNIQUE (item_id, fan_uuid)
);

-- Feed posts and the items they show.
CREATE TABLE posts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    post_uuid   TEXT UNIQUE,
    drop_name   TEXT,
    audience    TEXT NOT NULL,
    price_cents INTEGER CHECK (price_cents IS NULL OR price_cents >= 300),
    text        TEXT,
    publish_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE post_items (
    post_id INTEGER NOT NULL REFERENCES posts (id),
    item_id TEXT NOT NULL REFERENCES items (id),
    PRIMARY KEY (post_id, item_id)
);

-- The append-only event log.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    drop_name TEXT,
    item_id   TEXT,
    stage     TEXT,
    message   TEXT NOT NULL,
    data      TEXT
);
CREATE INDEX events_drop_name ON events (drop_name, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
