-- elena-run ledger, schema version 8 (SQLite): what Fanvue itself holds. The media in the creator's chats that
-- elena-run did not upload, what each chat shows the creator sent, how far each chat has been read, and the
-- campaigns (mass messages) with their audience and results. `reconcile` fills them; the guards read `sends`,
-- which they feed.

-- A Fanvue media uploaded outside elena-run (by hand, another tool), and the item it turned out to be, if any.
CREATE TABLE external_media (
    account    TEXT NOT NULL,
    media_uuid TEXT NOT NULL,
    item_id    TEXT REFERENCES items (id),
    sha256     TEXT,
    seen_at    TEXT NOT NULL,
    PRIMARY KEY (account, media_uuid)
);

-- Every media the creator sent in a chat, as Fanvue shows it (by any path).
CREATE TABLE chat_media (
    account      TEXT NOT NULL,
    fan_uuid     TEXT NOT NULL,
    message_uuid TEXT NOT NULL,
    media_uuid   TEXT NOT NULL,
    path         TEXT NOT NULL,
    price_cents  INTEGER,
    sent_at      TEXT NOT NULL,
    purchased_at TEXT,
    PRIMARY KEY (account, fan_uuid, message_uuid, media_uuid)
);
CREATE INDEX chat_media_media ON chat_media (media_uuid);

-- How far each chat has been read: its newest message then, and when.
CREATE TABLE chat_cursors (
    account         TEXT NOT NULL,
    fan_uuid        TEXT NOT NULL,
    newest_message  TEXT,
    reconciled_at   TEXT NOT NULL,
    PRIMARY KEY (account, fan_uuid)
);

-- One mass message elena-run sent (or means to): its audience, and what Fanvue later says about it.
CREATE TABLE campaigns (
    id              TEXT PRIMARY KEY,
    account         TEXT NOT NULL,
    list_id         TEXT NOT NULL,
    list_name       TEXT NOT NULL,
    exclusion_list  TEXT,
    excluded        INTEGER NOT NULL DEFAULT 0,
    intended        INTEGER NOT NULL,
    media_uuids     TEXT NOT NULL,
    text            TEXT,
    price_cents     INTEGER,
    scheduled_at    TEXT,
    mass_message_id TEXT UNIQUE,
    status          TEXT NOT NULL,
    recipient_count INTEGER,
    view_count      INTEGER,
    purchase_count  INTEGER,
    revenue_cents   INTEGER,
    drop_name       TEXT,
    via             TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- The campaign a send belongs to (its claim is made before the mass message goes out).
ALTER TABLE sends ADD COLUMN campaign_id TEXT;
CREATE INDEX sends_campaign ON sends (campaign_id);
