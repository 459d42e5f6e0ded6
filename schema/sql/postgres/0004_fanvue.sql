-- elena-run ledger, schema version 4 (PostgreSQL / Supabase): Fanvue uploads, vault membership, idempotent posts.

-- One upload per published content digest and account: the same bytes are never uploaded twice.
-- Written before and after every step, so a killed run continues the same upload.
CREATE TABLE uploads (
    content_digest text NOT NULL,
    account        text NOT NULL,
    item_id        text NOT NULL REFERENCES items (id),
    upload_id      text,
    media_uuid     text,
    status         text NOT NULL CHECK (status IN ('created', 'uploading', 'completed', 'ready', 'failed')),
    part_size      bigint NOT NULL,
    parts          jsonb NOT NULL DEFAULT '[]',
    error          text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (content_digest, account)
);

-- Which media are in which vault folder.
CREATE TABLE vault_media (
    account     text NOT NULL,
    folder      text NOT NULL,
    media_uuid  text NOT NULL,
    attached_at timestamptz NOT NULL,
    PRIMARY KEY (account, folder, media_uuid)
);

-- A post's request key (the drop and what it shows) makes creating it idempotent.
ALTER TABLE posts ADD COLUMN request_key text;
ALTER TABLE posts ADD COLUMN account text;
CREATE UNIQUE INDEX posts_request_key ON posts (request_key);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
        ALTER TABLE vault_media ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON uploads, vault_media FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (4, '0004_fanvue', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
