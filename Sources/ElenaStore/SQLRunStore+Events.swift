package import ElenaCore
import Foundation

/// The append-only event log.
extension SQLRunStore: EventLog {
    package func append(_ events: [EventRecord]) async throws {
        try await write(Self.eventStatements(events))
    }

    static func eventStatements(_ events: [EventRecord]) -> [SQLStatement] {
        events.map { event in
            SQLStatement(
                "INSERT INTO events (at, kind, drop_name, item_id, stage, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    .date(event.at), .text(event.kind), .text(event.drop), .text(event.itemID?.hex),
                    .text(event.stage?.rawValue), .text(event.message), .json(event.data?.serialized()),
                ])
        }
    }

    package func events(drop: String?, limit: Int) async throws -> [EventRecord] {
        let rows: [SQLRow]
        let columns = "at, kind, drop_name, item_id, stage, message, data"
        if let drop {
            rows = try await database.query(
                "SELECT \(columns) FROM events WHERE drop_name = ? ORDER BY id DESC LIMIT ?", [.text(drop), .int(Int64(limit))])
        } else {
            rows = try await database.query("SELECT \(columns) FROM events ORDER BY id DESC LIMIT ?", [.int(Int64(limit))])
        }
        return rows.reversed().map { row in
            EventRecord(
                kind: row.string("kind") ?? "", drop: row.string("drop_name"),
                itemID: row.digest("item_id"),
                stage: row.string("stage").map(StageName.init(rawValue:)), message: row.string("message") ?? "",
                data: row.string("data").flatMap { try? JSONValue.parse($0) },
                at: row.date("at") ?? Date(timeIntervalSince1970: 0))
        }
    }
}
