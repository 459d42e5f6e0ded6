-- elena-run ledger, schema version 7 (PostgreSQL / Supabase): `elena_content`, the one table the product idea
-- designed for the creator's own app, as a view over the ledger: one row per item, with the idea's column names.
-- status: 'generated' (ingested, failed), 'cropped' (in review or rejected), 'approved' (approved, or published to a
-- local outbox), 'uploaded' (on Fanvue), 'sent' (sent to at least one fan). sent_to_users: every fan a confirmed
-- send reached. local_path: the crop, relative to the library folder. fanvue_url: always null (Fanvue's media URLs
-- are signed and short-lived; resolve them from fanvue_media_uuid). generated_at: the source file's modification
-- time as last seen, else when it was first ingested.
-- It runs with the caller's rights (security_invoker), so the tables' row-level security applies; on Supabase
-- neither anon nor authenticated may read it. elena_grant_content_reader(role) lets one role read it.

CREATE VIEW elena_content WITH (security_invoker = true) AS
SELECT
    i.id::text AS id,
    i.original_name::text AS original_filename,
    i.cropped_name::text AS cropped_filename,
    CASE WHEN i.cropped_name IS NULL THEN NULL ELSE '2_cropped/' || i.drop_name || '/' || i.cropped_name END::text
        AS local_path,
    i.fanvue_media_uuid::text AS fanvue_media_uuid,
    COALESCE(
        (SELECT vm.folder FROM vault_media vm WHERE vm.media_uuid = i.fanvue_media_uuid
         ORDER BY vm.attached_at LIMIT 1),
        i.vault)::text AS fanvue_vault,
    NULL::text AS fanvue_url,
    (CASE
        WHEN EXISTS (SELECT 1 FROM sends s WHERE s.item_id = i.id
                     AND (s.message_uuid IS NOT NULL OR s.mass_message_id IS NOT NULL)) THEN 'sent'
        WHEN i.fanvue_media_uuid IS NOT NULL THEN 'uploaded'
        WHEN i.status IN ('approved', 'published') THEN 'approved'
        WHEN i.status IN ('cropped', 'in_review', 'rejected') THEN 'cropped'
        ELSE 'generated'
    END)::text AS status,
    i.category::text AS category,
    ARRAY(SELECT jsonb_array_elements_text(i.tags))::text[] AS tags,
    i.description::text AS description,
    i.price_cents::integer AS price_cents,
    ARRAY(SELECT DISTINCT s.fan_uuid FROM sends s WHERE s.item_id = i.id
          AND (s.message_uuid IS NOT NULL OR s.mass_message_id IS NOT NULL) ORDER BY s.fan_uuid)::text[] AS sent_to_users,
    (SELECT COUNT(*) FROM purchase_items p WHERE p.item_id = i.id)::integer AS times_purchased,
    (SELECT COALESCE(SUM(p.net_cents), 0) FROM purchase_items p WHERE p.item_id = i.id)::integer AS revenue_cents,
    COALESCE(
        (SELECT to_timestamp(MIN(f.mtime_ns)::double precision / 1e9) FROM drop_items d JOIN file_stats f ON f.path = d.source_path
         WHERE d.item_id = i.id),
        i.created_at) AS generated_at,
    (SELECT MIN(u.updated_at) FROM uploads u WHERE u.item_id = i.id AND u.status = 'ready') AS uploaded_at,
    i.created_at AS created_at
FROM items i;

-- Lets one role (the creator's app) read elena_content and nothing else: the view runs with the reader's rights,
-- so the reader gets SELECT on exactly the columns the view is made of, and, where row-level security is on
-- (Supabase), a read-only policy on those tables. No write, no other table, no other column.
--   SELECT elena_grant_content_reader('elena_app');
CREATE FUNCTION elena_grant_content_reader(reader name) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    grants text[][] := ARRAY[
        ['items', 'id, drop_name, original_name, cropped_name, status, fanvue_media_uuid, vault, category, tags, '
                  || 'description, price_cents, created_at'],
        ['sends', 'item_id, fan_uuid, message_uuid, mass_message_id'],
        ['purchase_items', 'item_id, net_cents'],
        ['uploads', 'item_id, status, updated_at'],
        ['vault_media', 'media_uuid, folder, attached_at'],
        ['drop_items', 'item_id, source_path'],
        ['file_stats', 'path, mtime_ns']];
    pair text[];
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), reader);
    EXECUTE format('GRANT SELECT ON elena_content TO %I', reader);
    FOREACH pair SLICE 1 IN ARRAY grants LOOP
        EXECUTE format('GRANT SELECT (%s) ON %I TO %I', pair[2], pair[1], reader);
        IF (SELECT relrowsecurity FROM pg_class WHERE oid = pair[1]::regclass) THEN
            EXECUTE format('DROP POLICY IF EXISTS %I ON %I', 'elena_content_' || reader, pair[1]);
            EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO %I USING (true)', 'elena_content_' || reader, pair[1],
                           reader);
        END IF;
    END LOOP;
END;
$$;
REVOKE ALL ON FUNCTION elena_grant_content_reader(name) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON elena_content FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (7, '0007_elena_content', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
