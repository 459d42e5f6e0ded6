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
