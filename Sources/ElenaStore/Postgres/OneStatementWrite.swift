/// A transaction of a few plain writes to different tables, sent to PostgreSQL as one statement: each part but the
/// last in a `WITH`, the last as the statement itself. A statement is a transaction of its own, so there is no
/// `BEGIN` and no `COMMIT`: a write that took five round trips takes one. Against a hosted server 20 ms away, a
/// first run's review gate (a review, the item's status, an event: per item) and its items (the item, the drop's hold
/// on it) were most of its time.
///
/// The parts of one statement see the database as it was before the statement, not one another's rows. So only
/// writes that cannot tell the difference are joined:
/// - each changes a different table, one of `tables`, and
/// - none reads anything (no `SELECT`, no `RETURNING`, no `WITH` of its own), so none can look at another's table.
///
/// Foreign keys and the deferred triggers are checked as the statement ends, after every part (an item and the drop's
/// row pointing at it may come in one statement). Anything else runs as before, statement after statement in a
/// transaction.
package enum OneStatementWrite {
    /// The tables whose writes may be joined: no trigger of theirs runs before a row is written and reads another
    /// table (`post_items`' does: it reads the item's price, which a part of the same statement could be changing).
    package static let tables: Set<String> = ["items", "drop_items", "reviews", "events", "stage_runs", "file_stats"]

    /// The one statement `statements` can be sent as, or nil when they must run one after another.
    package static func joined(_ statements: [SQLStatement]) -> SQLStatement? {
        guard statements.count > 1, let last = statements.last else { return nil }
        var written: Set<String> = []
        for statement in statements {
            guard let table = table(writtenBy: statement.sql), tables.contains(table), written.insert(table).inserted
            else { return nil }
        }
        let parts = statements.dropLast().enumerated().map { position, statement in
            "write\(position) AS (\n\(statement.sql)\n)"
        }
        return SQLStatement(
            "WITH " + parts.joined(separator: ",\n") + "\n" + last.sql, statements.flatMap(\.binds))
    }

    /// The table a plain `INSERT INTO`, `UPDATE` or `DELETE FROM` changes; nil for anything else, or for one that
    /// reads (a word `SELECT`, `RETURNING` or `WITH` anywhere in it, even inside a name: better not joined than wrong).
    package static func table(writtenBy sql: String) -> String? {
        let upper = sql.uppercased()
        guard !["SELECT", "RETURNING", "WITH"].contains(where: upper.contains) else { return nil }
        let words = sql.split(whereSeparator: { $0.isWhitespace || $0 == "(" }).prefix(3).map { $0.lowercased() }
        switch words.first {
        case "insert" where words.count == 3 && words[1] == "into": return words[2]
        case "update" where words.count >= 2: return words[1]
        case "delete" where words.count == 3 && words[1] == "from": return words[2]
        default: return nil
        }
    }
}
