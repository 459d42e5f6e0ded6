-- elena-run ledger, schema version 5 (PostgreSQL / Supabase): sales. Who got what (and through which path),
-- what was bought, the fans, and the guard that keeps an item sold as pay-per-view out of the feed.

-- Where a send came from and what carried it: a one-to-one message or a mass message to a list.
ALTER TABLE sends ADD COLUMN account text;
ALTER TABLE sends ADD COLUMN drop_name text;
ALTER TABLE sends ADD COLUMN via text;
ALTER TABLE sends ADD COLUMN mass_message_id text;
ALTER TABLE sends ADD COLUMN list_name text;
CREATE INDEX sends_message_uuid ON sends (message_uuid);
CREATE INDEX sends_fan_uuid ON sends (fan_uuid);

-- A feed post may show items already sold as pay-per-view only when its manifest said so.
ALTER TABLE posts ADD COLUMN allow_ppv boolean NOT NULL DEFAULT false;

-- Purchases from Fanvue's earnings, one row per transaction (sync is idempotent on it).
CREATE TABLE purchases (
    transaction_id text PRIMARY KEY,
    account        text,
    fan_uuid       text,
    source         text NOT NULL,
    message_uuid   text,
    post_uuid      text,
    gross_cents    bigint NOT NULL,
    net_cents      bigint NOT NULL,
    currency       text,
    status         text,
    purchased_at   timestamptz NOT NULL,
    synced_at      timestamptz NOT NULL
);
CREATE INDEX purchases_message_uuid ON purchases (message_uuid);

-- Each purchase's share per item (a message or post with several items splits its amount).
CREATE TABLE purchase_items (
    transaction_id text NOT NULL REFERENCES purchases (transaction_id),
    item_id        text NOT NULL REFERENCES items (id),
    gross_cents    bigint NOT NULL,
    net_cents      bigint NOT NULL,
    PRIMARY KEY (transaction_id, item_id)
);

-- The creator's fans as last synced.
CREATE TABLE fans (
    account      text NOT NULL,
    uuid         text NOT NULL,
    handle       text,
    display_name text,
    subscriber   boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (account, uuid)
);

-- Where the last sync stopped.
CREATE TABLE sync_state (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The guard, in the schema itself: no item with a priced send goes into a post that does not allow it.
CREATE FUNCTION elena_post_items_no_ppv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (SELECT allow_ppv FROM posts WHERE id = NEW.post_id)
        AND EXISTS (SELECT 1 FROM sends WHERE item_id = NEW.item_id AND price_cents IS NOT NULL) THEN
        RAISE EXCEPTION 'elena-run guard: item % was sent or sold as pay-per-view and the post does not allow it',
            NEW.item_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER post_items_no_ppv BEFORE INSERT ON post_items
    FOR EACH ROW EXECUTE FUNCTION elena_post_items_no_ppv();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE purchases ENABLE ROW LEVEL SECURITY;
        ALTER TABLE purchase_items ENABLE ROW LEVEL SECURITY;
        ALTER TABLE fans ENABLE ROW LEVEL SECURITY;
        ALTER TABLE sync_state ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON purchases, purchase_items, fans, sync_state FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (5, '0005_ledger', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
