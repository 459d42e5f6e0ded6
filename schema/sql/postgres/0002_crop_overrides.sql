-- elena-run ledger, schema version 2 (PostgreSQL / Supabase): human cut-line overrides.
-- `elena-run recrop <item> --line <fraction>` records one; every later run crops the item there.

CREATE TABLE crop_overrides (
    item_id       text PRIMARY KEY REFERENCES items (id),
    line_fraction double precision NOT NULL CHECK (line_fraction >= 0 AND line_fraction < 1),
    set_by        text NOT NULL,
    set_at        timestamptz NOT NULL,
    note          text
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE crop_overrides ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON crop_overrides FROM anon, authenticated;
    END IF;
END;
$$;
