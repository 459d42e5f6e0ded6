-- elena-run ledger, schema version 4 (SQLite): Fanvue uploads, vault membership, idempotent posts.

-- One upload per published content digest and account: the same bytes are never uploaded twice.
-- Written before and after every step, so a killed run continues the same upload.
CREATE TABLE uploads (
    content_digest TEXT NOT NULL,
    account        TEXT NOT NULL,
    item_id        TEXT NOT NULL REFERENCES items (id),
    upload_id      TEXT,
    media_uuid     TEXT,
    status         TEXT NOT NULL CHECK (status IN ('created', 'uploading', 'completed', 'ready', 'failed')),
    part_size      INTEGER NOT NULL,
    parts          TEXT NOT NULL DEFAULT '[]',
    error          TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (content_digest, account)
);

-- Which media are in which vault folder.
CREATE TABLE vault_media (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    media_uuid  TEXT NOT NULL,
    attached_at TEXT NOT NULL,
    PRIMARY KEY (account, folder, media_uuid)
);

-- A post's request key (the drop and what it shows) makes creating it idempotent.
ALTER TABLE posts ADD COLUMN request_key TEXT;
ALTER TABLE posts ADD COLUMN account TEXT;
CREATE UNIQUE INDEX posts_request_key ON posts (request_key);
