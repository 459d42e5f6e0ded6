-- elena-run ledger, schema version 7 (SQLite): `elena_content`, the one table the product idea designed for the
-- creator's own app, as a view over the ledger; the same columns as on PostgreSQL, arrays as JSON text and times
-- as ISO 8601 text. The status mapping and the meaning of each column are written in postgres/0007_elena_content.sql.

CREATE VIEW elena_content AS
SELECT
    i.id AS id,
    i.original_name AS original_filename,
    i.cropped_name AS cropped_filename,
    CASE WHEN i.cropped_name IS NULL THEN NULL ELSE '2_cropped/' || i.drop_name || '/' || i.cropped_name END
        AS local_path,
    i.fanvue_media_uuid AS fanvue_media_uuid,
    COALESCE(
        (SELECT vm.folder FROM vault_media vm WHERE vm.media_uuid = i.fanvue_media_uuid
         ORDER BY vm.attached_at LIMIT 1),
        i.vault) AS fanvue_vault,
    NULL AS fanvue_url,
    CASE
        WHEN EXISTS (SELECT 1 FROM sends s WHERE s.item_id = i.id
                     AND (s.message_uuid IS NOT NULL OR s.mass_message_id IS NOT NULL)) THEN 'sent'
        WHEN i.fanvue_media_uuid IS NOT NULL THEN 'uploaded'
        WHEN i.status IN ('approved', 'published') THEN 'approved'
        WHEN i.status IN ('cropped', 'in_review', 'rejected') THEN 'cropped'
        ELSE 'generated'
    END AS status,
    i.category AS category,
    i.tags AS tags,
    i.description AS description,
    i.price_cents AS price_cents,
    (SELECT json_group_array(fan_uuid) FROM
        (SELECT DISTINCT s.fan_uuid FROM sends s WHERE s.item_id = i.id
         AND (s.message_uuid IS NOT NULL OR s.mass_message_id IS NOT NULL) ORDER BY s.fan_uuid)) AS sent_to_users,
    (SELECT COUNT(*) FROM purchase_items p WHERE p.item_id = i.id) AS times_purchased,
    (SELECT COALESCE(SUM(p.net_cents), 0) FROM purchase_items p WHERE p.item_id = i.id) AS revenue_cents,
    COALESCE(
        (SELECT strftime('%Y-%m-%dT%H:%M:%fZ', MIN(f.mtime_ns) / 1e9, 'unixepoch')
         FROM drop_items d JOIN file_stats f ON f.path = d.source_path WHERE d.item_id = i.id),
        i.created_at) AS generated_at,
    (SELECT MIN(u.updated_at) FROM uploads u WHERE u.item_id = i.id AND u.status = 'ready') AS uploaded_at,
    i.created_at AS created_at
FROM items i;
