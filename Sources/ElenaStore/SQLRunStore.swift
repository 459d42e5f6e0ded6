import ElenaCore
import Foundation

/// The ledger on any `SQLDatabase`: SQLite by default, PostgreSQL for shared use. Every query is written once,
/// in the SQL both understand.
package final class SQLRunStore: StoreConnection {
    /// The connection.
    package let database: any SQLDatabase
    package let displayName: String
    package let isReadOnly: Bool

    /// Wraps an open database. Call `Migrator.migrate` first (or open with `open`).
    package init(database: any SQLDatabase, displayName: String, readOnly: Bool) {
        self.database = database
        self.displayName = displayName
        self.isReadOnly = readOnly
    }

    /// Whether this is a read of a SQLite file in place that another process wrote meanwhile (see
    /// `SQLiteDatabase.snapshotWasDisturbed`): read again with `open(_:readOnly:inPlace:)`, `inPlace` false.
    package var snapshotWasDisturbed: Bool { (database as? SQLiteDatabase)?.snapshotWasDisturbed ?? false }

    /// Opens the database a URL names and brings its schema up to date.
    /// - Parameters:
    ///   - url: SQLite file or PostgreSQL server.
    ///   - readOnly: for dry runs: a SQLite file is read in place as immutable when its schema is current and no
    ///     transaction waits in its log, else through a private copy (an older schema is migrated in the copy);
    ///     nothing beside it changes either way. A PostgreSQL schema is checked but never changed.
    ///   - inPlace: false reads a SQLite file through a copy even when it could be read in place.
    package static func open(_ url: DatabaseURL, readOnly: Bool, inPlace: Bool = true) async throws -> SQLRunStore {
        switch url.kind {
        case .sqlite(let path):
            // A dry run reads the file in place when it can (its schema current, nothing waiting in its log).
            if readOnly, inPlace, let inPlace = SQLiteDatabase.openInPlace(path) {
                if (try? await Migrator.currentVersion(inPlace)) == Migrator.latestVersion {
                    return SQLRunStore(database: inPlace, displayName: url.description, readOnly: true)
                }
                await inPlace.close()
            }
            let database = readOnly ? try SQLiteDatabase.openSnapshot(of: path) : try SQLiteDatabase.open(path: path)
            do {
                if try await !Migrator.migrate(database).isEmpty { database.schemaChanged() }
            } catch {
                await database.close()
                throw error
            }
            return SQLRunStore(database: database, displayName: url.description, readOnly: readOnly)
        case .postgres:
            let database = try await PostgresDatabase.connect(url)
            do {
                if readOnly {
                    let version = try await Migrator.currentVersion(database)
                    if version > Migrator.latestVersion {
                        throw StoreError(
                            "the database is at schema version \(version), newer than this elena-run understands "
                                + "(\(Migrator.latestVersion)); upgrade elena-run before using this database")
                    }
                    if version < Migrator.latestVersion {
                        throw StoreError(
                            "the database at \(url) has not been set up for this version of elena-run; "
                                + "run a drop once without --dry-run to create its tables")
                    }
                } else {
                    try await Migrator.migrate(database)
                }
            } catch {
                await database.close()
                throw error
            }
            return SQLRunStore(database: database, displayName: url.description, readOnly: readOnly)
        }
    }

    func write(_ statements: [SQLStatement]) async throws {
        try refuseInDryRun()
        try await database.transaction(statements)
    }

    /// A writing statement that returns rows (`… RETURNING`), refused in a dry run like `write`.
    func writeQuery(_ statement: SQLStatement) async throws -> [SQLRow] {
        try refuseInDryRun()
        return try await database.writeQuery(statement)
    }

    /// Refuses any write when the store was opened for a dry run.
    func refuseInDryRun() throws {
        guard !isReadOnly else { throw StoreError("internal error: a dry run tried to write to the database (a bug)") }
    }

    static func json(_ strings: [String]) -> String { JSONValue.array(strings.map(JSONValue.string)).serialized() }

    /// A JSON array of strings as the ledger keeps them (flags, tags): most rows hold none, read without parsing.
    static func strings(_ text: String?) -> [String] {
        guard let text, text != "[]", let value = try? JSONValue.parse(text), let array = value.arrayValue else { return [] }
        return array.compactMap(\.stringValue)
    }

    package func close() async { await database.close() }
}
