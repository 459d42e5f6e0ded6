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

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (2, '0002_crop_overrides', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
