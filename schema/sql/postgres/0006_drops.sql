-- elena-run ledger, schema version 6 (PostgreSQL / Supabase): which manifest runs each drop. Two manifests with one
-- drop name would merge their items and decisions; a run refuses a drop name another manifest already runs.

CREATE TABLE drops (
    name          text PRIMARY KEY,
    manifest_path text NOT NULL,
    first_run_at  timestamptz NOT NULL,
    last_run_at   timestamptz NOT NULL
);
