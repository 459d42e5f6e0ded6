-- elena-run ledger, schema version 3 (PostgreSQL / Supabase): per-item vault, price and tags set in review.
-- They win over the manifest when the item is published.

CREATE TABLE publish_overrides (
    item_id     text PRIMARY KEY REFERENCES items (id),
    vault       text,
    price_cents bigint CHECK (price_cents IS NULL OR price_cents >= 300),
    tags        jsonb,
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE publish_overrides ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON publish_overrides FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (3, '0003_publish_overrides', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
