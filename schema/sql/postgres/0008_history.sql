-- elena-run ledger, schema version 8 (PostgreSQL / Supabase): what Fanvue itself holds. The media in the creator's chats that
-- elena-run did not upload, what each chat shows the creator sent, how far each chat has been read, and the
-- campaigns (mass messages) with their audience and results. `reconcile` fills them; the guards read `sends`,
-- which they feed.

-- A Fanvue media uploaded outside elena-run (by hand, another tool), and the item it turned out to be, if any.
CREATE TABLE external_media (
    account    text NOT NULL,
    media_uuid text NOT NULL,
    item_id    text REFERENCES items (id),
    sha256     text,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (account, media_uuid)
);

-- Every media the creator sent in a chat, as Fanvue shows it (by any path).
CREATE TABLE chat_media (
    account      text NOT NULL,
    fan_uuid     text NOT NULL,
    message_uuid text NOT NULL,
    media_uuid   text NOT NULL,
    path         text NOT NULL,
    price_cents  bigint,
    sent_at      timestamptz NOT NULL,
    purchased_at timestamptz,
    PRIMARY KEY (account, fan_uuid, message_uuid, media_uuid)
);
CREATE INDEX chat_media_media ON chat_media (media_uuid);

-- How far each chat has been read: its newest message then, and when.
CREATE TABLE chat_cursors (
    account         text NOT NULL,
    fan_uuid        text NOT NULL,
    newest_message  text,
    reconciled_at   timestamptz NOT NULL,
    PRIMARY KEY (account, fan_uuid)
);

-- One mass message elena-run sent (or means to): its audience, and what Fanvue later says about it.
CREATE TABLE campaigns (
    id              text PRIMARY KEY,
    account         text NOT NULL,
    list_id         text NOT NULL,
    list_name       text NOT NULL,
    exclusion_list  text,
    excluded        bigint NOT NULL DEFAULT 0,
    intended        bigint NOT NULL,
    media_uuids     text NOT NULL,
    text            text,
    price_cents     bigint,
    scheduled_at    timestamptz,
    mass_message_id text UNIQUE,
    status          text NOT NULL,
    recipient_count bigint,
    view_count      bigint,
    purchase_count  bigint,
    revenue_cents   bigint,
    drop_name       text,
    via             text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- The campaign a send belongs to (its claim is made before the mass message goes out).
ALTER TABLE sends ADD COLUMN campaign_id text;
CREATE INDEX sends_campaign ON sends (campaign_id);

-- On Supabase, the API roles get nothing of these tables (as for every other table of the ledger).
DO $$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        FOREACH t IN ARRAY ARRAY['external_media', 'chat_media', 'chat_cursors', 'campaigns'] LOOP
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
VALUES (8, '0008_history', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
