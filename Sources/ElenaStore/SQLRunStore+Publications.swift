package import ElenaCore
import Foundation

/// What the folder target published where.
extension SQLRunStore: PublicationLedger {
    package func publication(target: String, destination: String, digest: Digest) async throws -> PublicationRecord? {
        let rows = try await database.query(
            """
            SELECT target, destination, content_digest, item_id, drop_name, reference, metadata, published_at
            FROM publications WHERE target = ? AND destination = ? AND content_digest = ?
            """, [.text(target), .text(destination), .text(digest.hex)])
        guard let row = rows.first, let item = row.digest("item_id") else { return nil }
        return PublicationRecord(
            target: target, destination: destination, contentDigest: digest, itemID: item,
            drop: row.string("drop_name") ?? "", reference: row.string("reference"),
            metadata: row.string("metadata").flatMap { try? JSONValue.parse($0) } ?? .null,
            publishedAt: row.date("published_at") ?? Date(timeIntervalSince1970: 0))
    }

    package func savePublication(_ publication: PublicationRecord) async throws -> Bool {
        let rows = try await writeQuery(
            SQLStatement(
                """
                INSERT INTO publications (target, destination, content_digest, item_id, drop_name, reference, metadata,
                    published_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (target, destination, content_digest) DO NOTHING
                RETURNING id
                """,
                [
                    .text(publication.target), .text(publication.destination), .text(publication.contentDigest.hex),
                    .text(publication.itemID.hex), .text(publication.drop), .text(publication.reference),
                    .json(publication.metadata.serialized()), .date(publication.publishedAt),
                ]))
        if rows.isEmpty {
            try await write([
                SQLStatement(
                    "UPDATE publications SET metadata = ? WHERE target = ? AND destination = ? AND content_digest = ?",
                    [
                        .json(publication.metadata.serialized()), .text(publication.target),
                        .text(publication.destination), .text(publication.contentDigest.hex),
                    ])
            ])
        }
        return !rows.isEmpty
    }
}
