-- elena-run ledger, schema version 6 (SQLite): which manifest runs each drop. Two manifests with one drop name
-- would merge their items and decisions; a run refuses a drop name another manifest already runs.

CREATE TABLE drops (
    name          TEXT PRIMARY KEY,
    manifest_path TEXT NOT NULL,
    first_run_at  TEXT NOT NULL,
    last_run_at   TEXT NOT NULL
);
