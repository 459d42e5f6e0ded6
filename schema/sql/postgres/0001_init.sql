-- elena-run ledger, schema version 1 (PostgreSQL / Supabase).
-- elena-run applies this itself; it can also be applied as is with `psql -f` or placed in supabase/migrations/.
-- The same tables exist in sqlite/0001_init.sql.

-- One row per unique image (identified by the SHA-256 of its original bytes).
CREATE TABLE items (
    id                text PRIMARY KEY,
    drop_name         text NOT NULL,
    original_name     text NOT NULL,
    original_path     text NOT NULL,
    raw_path          text,
    cropped_name      text,
    cropped_digest    text,
    status            text NOT NULL CHECK (status IN
                          ('ingested', 'cropped', 'in_review', 'approved', 'rejected', 'published', 'failed')),
    fanvue_media_uuid text,
    vault             text,
    category          text,
    tags              jsonb NOT NULL DEFAULT '[]',
    description       text,
    price_cents       bigint CHECK (price_cents IS NULL OR price_cents >= 300),
    times_purchased   bigint NOT NULL DEFAULT 0 CHECK (times_purchased >= 0),
    revenue_cents     bigint NOT NULL DEFAULT 0,
    width             bigint,
    height            bigint,
    lineage           jsonb,
    flags             jsonb NOT NULL DEFAULT '[]',
    error             text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX items_drop_name ON items (drop_name);

-- Which drops contain which items (the same bytes may appear in several drops).
CREATE TABLE drop_items (
    drop_name   text NOT NULL,
    item_id     text NOT NULL REFERENCES items (id),
    source_path text NOT NULL,
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (drop_name, item_id)
);

-- The run cache: one row per stage run, keyed by the hash of stage, version, parameters and input digests.
CREATE TABLE stage_runs (
    cache_key         text PRIMARY KEY,
    stage             text NOT NULL,
    item_id           text,
    drop_name         text NOT NULL,
    status            text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    output_digest     text,
    artifact_path     text,
    artifact_size     bigint,
    artifact_mtime_ns bigint,
    artifact_inode    bigint,
    output            jsonb,
    error             text,
    started_at        timestamptz NOT NULL,
    duration_ms       bigint NOT NULL DEFAULT 0
);
CREATE INDEX stage_runs_drop_stage ON stage_runs (drop_name, stage);
CREATE INDEX stage_runs_item ON stage_runs (item_id);

-- The stat cache: a file whose size, mtime and inode are unchanged is not hashed again.
CREATE TABLE file_stats (
    path       text PRIMARY KEY,
    size       bigint NOT NULL,
    mtime_ns   bigint NOT NULL,
    inode      bigint NOT NULL,
    digest     text NOT NULL,
    checked_at timestamptz NOT NULL
);

-- Human review decisions, one per crop version, kept in step with the review folders.
CREATE TABLE reviews (
    item_id     text NOT NULL REFERENCES items (id),
    crop_digest text NOT NULL,
    drop_name   text NOT NULL,
    decision    text NOT NULL CHECK (decision IN ('pending', 'approved', 'rejected')),
    file_name   text NOT NULL,
    folder      text NOT NULL CHECK (folder IN ('3_review', '4_approved', '5_uploaded', 'rejected')),
    decided_by  text,
    decided_at  timestamptz,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (item_id, crop_digest)
);
CREATE INDEX reviews_drop_name ON reviews (drop_name);

-- Every copy of some bytes handed to a target; the same bytes go to one destination once.
CREATE TABLE publications (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target         text NOT NULL,
    destination    text NOT NULL,
    content_digest text NOT NULL,
    item_id        text NOT NULL REFERENCES items (id),
    drop_name      text NOT NULL,
    reference      text,
    metadata       jsonb,
    published_at   timestamptz NOT NULL,
    UNIQUE (target, destination, content_digest)
);

-- Pay-per-view sends: an item is never sent twice to the same fan.
CREATE TABLE sends (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id      text NOT NULL REFERENCES items (id),
    fan_uuid     text NOT NULL,
    message_uuid text,
    price_cents  bigint CHECK (price_cents IS NULL OR price_cents >= 300),
    sent_at      timestamptz NOT NULL,
    purchased_at timestamptz,
    UNIQUE (item_id, fan_uuid)
);

-- Feed posts and the items they show.
CREATE TABLE posts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_uuid   text UNIQUE,
    drop_name   text,
    audience    text NOT NULL,
    price_cents bigint CHECK (price_cents IS NULL OR price_cents >= 300),
    text        text,
    publish_at  timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE TABLE post_items (
    post_id bigint NOT NULL REFERENCES posts (id),
    item_id text NOT NULL REFERENCES items (id),
    PRIMARY KEY (post_id, item_id)
);

-- The append-only event log.
CREATE TABLE events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    kind      text NOT NULL,
    drop_name text,
    item_id   text,
    stage     text,
    message   text NOT NULL,
    data      jsonb
);
CREATE INDEX events_drop_name ON events (drop_name, id);
CREATE FUNCTION elena_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION elena_events_append_only();

-- Supabase exposes the public schema through its Data API: keep these tables private to the owner
-- (elena-run connects as the owner, which row level security does not restrict). Plain PostgreSQL has no
-- anon/authenticated roles, so the block does nothing there.
DO $$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        FOREACH t IN ARRAY ARRAY['items', 'drop_items', 'stage_runs', 'file_stats', 'reviews', 'publications',
                                 'sends', 'posts', 'post_items', 'events'] LOOP
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
            EXECUTE format('REVOKE ALL ON %I FROM anon, authenticated', t);
        END LOOP;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (1, '0001_init', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
