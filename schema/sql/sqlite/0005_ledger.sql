-- elena-run ledger, schema version 5 (SQLite): sales. Who got what (and through which path), what was bought,
-- the fans, and the guard that keeps an item sold as pay-per-view out of the feed.

-- Where a send came from and what carried it: a one-to-one message or a mass message to a list.
ALTER TABLE sends ADD COLUMN account TEXT;
ALTER TABLE sends ADD COLUMN drop_name TEXT;
ALTER TABLE sends ADD COLUMN via TEXT;
ALTER TABLE sends ADD COLUMN mass_message_id TEXT;
ALTER TABLE sends ADD COLUMN list_name TEXT;
CREATE INDEX sends_message_uuid ON sends (message_uuid);
CREATE INDEX sends_fan_uuid ON sends (fan_uuid);

-- A feed post may show items already sold as pay-per-view only when its manifest said so.
ALTER TABLE posts ADD COLUMN allow_ppv INTEGER NOT NULL DEFAULT 0;

-- Purchases from Fanvue's earnings, one row per transaction (sync is idempotent on it).
CREATE TABLE purchases (
    transaction_id TEXT PRIMARY KEY,
    account        TEXT,
    fan_uuid       TEXT,
    source         TEXT NOT NULL,
    message_uuid   TEXT,
    post_uuid      TEXT,
    gross_cents    INTEGER NOT NULL,
    net_cents      INTEGER NOT NULL,
    currency       TEXT,
    status         TEXT,
    purchased_at   TEXT NOT NULL,
    synced_at      TEXT NOT NULL
);
CREATE INDEX purchases_message_uuid ON purchases (message_uuid);

-- Each purchase's share per item (a message or post with several items splits its amount).
CREATE TABLE purchase_items (
    transaction_id TEXT NOT NULL REFERENCES purchases (transaction_id),
    item_id        TEXT NOT NULL REFERENCES items (id),
    gross_cents    INTEGER NOT NULL,
    net_cents      INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, item_id)
);

-- The creator's fans as last synced.
CREATE TABLE fans (
    account      TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    handle       TEXT,
    display_name TEXT,
    subscriber   INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (account, uuid)
);

-- Where the last sync stopped.
CREATE TABLE sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The guard, in the schema itself: no item with a priced send goes into a post that does not allow it.
CREATE TRIGGER post_items_no_ppv BEFORE INSERT ON post_items
WHEN (SELECT allow_ppv FROM posts WHERE id = NEW.post_id) = 0
    AND EXISTS (SELECT 1 FROM sends WHERE item_id = NEW.item_id AND price_cents IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'elena-run guard: item was sent or sold as pay-per-view and the post does not allow it');
END;
