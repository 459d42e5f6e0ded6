-- elena-run ledger, schema version 14 (PostgreSQL / Supabase): the stat cache's paths in byte order too.
-- Every run reads the stat cache of its source folder: the entries whose path starts with the folder's. The primary
-- key orders paths by the database's collation, which need not be their bytes' order (under en_US, "/" and "." are
-- passed over at first), so a range of it cannot bound a prefix, and the query read every entry of the library (18 ms
-- of a 500-item drop's no-op beside 20,000 other items). Under "C" a prefix's paths are one range of this index.
CREATE INDEX file_stats_path_bytes ON file_stats (path COLLATE "C");

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (14, '0014_stat_paths_in_byte_order', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
