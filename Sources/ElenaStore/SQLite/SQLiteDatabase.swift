import ElenaCore
import Foundation
internal import GRDB
internal import GRDBSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// SQLite through GRDB: one file, WAL mode, so reads never wait for the writer.
///
/// Another process holding the file's write lock (a second runner, a `sqlite3` shell in a transaction) is waited
/// for up to `LedgerUnavailable.window`, with one line naming that process when `/proc` shows it; past the window,
/// and on a full or read-only disk, operations fail with `LedgerUnavailable`, which stops the run. SQLite never
/// leaves a half-written transaction, so nothing is corrupted and the next run goes on.
package final class SQLiteDatabase: SQLDatabase {
    package let dialect = SQLDialect.sqlite
    private let writer: any DatabaseWriter
    /// The file (the original's path for a snapshot).
    private let path: String
    /// How the file is read: the file itself, or a snapshot (a private copy, or the file read in place).
    private let access: Access
    private let waits: BusyWaits

    private enum Access {
        /// The file itself, read and written (a run).
        case file
        /// A private copy in a temporary folder, deleted on close.
        case copy(folder: String)
        /// The file read in place as immutable, as it was when opened (its stamp then).
        case inPlace(FileStamp)
    }

    /// A file's stamp (size, modification time, inode): what tells that it changed.
    private static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(
            size: Int64(info.st_size), mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            inode: Int64(bitPattern: UInt64(info.st_ino)))
    }

    private init(writer: any DatabaseWriter, path: String, access: Access, waits: BusyWaits) {
        self.writer = writer
        self.path = path
        self.access = access
        self.waits = waits
    }

    /// A snapshot read in place whose file another process has written since (a checkpoint of a run going on
    /// beside): what was read may mix two states, so the reader should read again through a copy.
    package var snapshotWasDisturbed: Bool {
        guard case .inPlace(let stamp) = access else { return false }
        return Self.stamp(path) != stamp || Self.walHasFrames(path)
    }

    /// Whether the file's write-ahead log holds transactions not yet folded into the file.
    private static func walHasFrames(_ path: String) -> Bool {
        var info = stat()
        return stat(path + "-wal", &info) == 0 && info.st_size > 0
    }

    private static func configuration(path: String, waits: BusyWaits) -> Configuration {
        var configuration = Configuration()
        let window = LedgerUnavailable.window
        let limit = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        configuration.busyMode = .callback { tries in
            // Called by SQLite while another connection holds the lock: wait 20 ms and try again, until the window.
            if tries == 0 { waits.started(path: path) }
            guard waits.elapsed < limit, !waits.gaveUp else { return false }
            usleep(20_000)
            return true
        }
        configuration.prepareDatabase { db in
            // The writer keeps a 32 MB page cache (a big run's records go into indexes all over the file). A reader
            // looks rows up by id and rarely comes back to a page, and every reader of the pool had a cache as big:
            // 70 MB of a 100,000-item drop's no-op rerun for no time gained. Readers keep SQLite's default 2 MB.
            let kilobytes = db.configuration.readonly ? 2_048 : 32_768
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -\(kilobytes)")
        }
        return configuration
    }

    /// Time spent waiting for another process's lock, and the one line that says who holds it.
    private final class BusyWaits: Sendable {
        private struct State {
            var since = Date()
            var said = Date.distantPast
            var stopped = false
        }
        private let state = Locked(State())

        /// Once a wait has timed out, later ones give up at once.
        func giveUp() { state.withLock { $0.stopped = true } }

        var gaveUp: Bool { state.withLock { $0.stopped } }

        func started(path: String) {
            let say = state.withLock { state -> Bool in
                state.since = Date()
                let say = state.since.timeIntervalSince(state.said) > 5
                if say { state.said = state.since }
                return say
            }
            if say {
                let holders = SQLiteDatabase.holders(of: path)
                LedgerUnavailable.notice(
                    "\(path) is locked by \(holders.isEmpty ? "another process" : holders.joined(separator: ", ")); "
                        + "waiting up to \(LedgerUnavailable.seconds(LedgerUnavailable.window)) for it")
            }
        }

        var elapsed: Double { Date().timeIntervalSince(state.withLock { $0.since }) }
    }

    /// Other processes that have the database file (or its WAL) open, as "sqlite3 (pid 123)", from `/proc`.
    static func holders(of path: String) -> [String] {
        let files = Set([path, path + "-wal", path + "-shm"].map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path })
        let me = getpid()
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me else { continue }
            let fds = "/proc/\(entry)/fd"
            guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: fds) else { continue }
            let opens = descriptors.contains { descriptor in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + descriptor)).map(files.contains) ?? false
            }
            guard opens else { continue }
            let name = (try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "a process"
            found.append("\(name) (pid \(pid))")
        }
        return found.sorted()
    }

    /// Opens (creating if needed) a database file in WAL mode.
    /// - Throws: `StoreError` naming the file.
    package static func open(path: String) throws -> SQLiteDatabase {
        let waits = BusyWaits()
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            return SQLiteDatabase(
                writer: try DatabasePool(path: path, configuration: configuration(path: path, waits: waits)), path: path,
                access: .file, waits: waits)
        } catch let error as DatabaseError {
            let translated = failure("cannot open the SQLite database \(path)", error, path: path, waits: waits)
            if let unavailable = translated as? LedgerUnavailable { throw StoreError(unavailable.description) }
            throw translated
        } catch {
            throw StoreError("cannot open the SQLite database \(path): \(Self.describe(error))")
        }
    }

    /// Opens a database file for reading only, in place, without touching it or creating anything beside it:
    /// as immutable (no locks, no shared memory), which holds only while no transaction waits in its write-ahead
    /// log. Nil when that is not the case (the caller reads through a copy instead); `snapshotWasDisturbed` says
    /// afterwards whether another process wrote the file meanwhile. Reading in place costs what is read, where a
    /// copy costs the whole ledger (a dry run of a small drop in a library of 100,000 items copied 290 MB).
    package static func openInPlace(_ path: String) -> SQLiteDatabase? {
        guard let stamp = stamp(path), stamp.size > 0, !walHasFrames(path) else { return nil }
        var configuration = configuration(path: path, waits: BusyWaits())
        configuration.readonly = true
        // A URI file name (this SQLite interprets them): `immutable` reads the file alone, with no -shm or -wal.
        var uri = URLComponents()
        uri.scheme = "file"
        uri.path = path
        uri.queryItems = [URLQueryItem(name: "immutable", value: "1")]
        guard let name = uri.string,
            let queue = try? DatabaseQueue(path: name, configuration: configuration),
            (try? queue.read({ try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") })) != nil
        else { return nil }
        return SQLiteDatabase(writer: queue, path: path, access: .inPlace(stamp), waits: BusyWaits())
    }

    /// Opens a private copy of a database file, so that nothing the caller does can change the original or
    /// create files beside it (dry runs). A missing file gives an empty database.
    package static func openSnapshot(of path: String) throws -> SQLiteDatabase {
        let folder = NSTemporaryDirectory() + "elena-snapshot-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let copy = folder + "/snapshot.db"
            if FileManager.default.fileExists(atPath: path) {
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                if FileManager.default.fileExists(atPath: path + "-wal") {
                    try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
                }
            }
            let waits = BusyWaits()
            return SQLiteDatabase(
                writer: try DatabaseQueue(path: copy, configuration: configuration(path: copy, waits: waits)), path: path,
                access: .copy(folder: folder), waits: waits)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw StoreError("cannot read the SQLite database \(path): \(Self.describe(error))")
        }
    }

    /// The error a failed operation throws: `LedgerUnavailable` when no later operation can succeed either (locked
    /// past the window, a full or read-only disk), else a `StoreError` saying what was being done.
    private func failure(_ doing: String, _ error: any Error) -> any Error {
        Self.failure(doing, error, path: path, waits: waits)
    }

    private static func failure(_ doing: String, _ error: any Error, path: String, waits: BusyWaits) -> any Error {
        let folder = (path as NSString).deletingLastPathComponent
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                waits.giveUp()  // closing (a checkpoint) must not wait all over again
                let holders = holders(of: path)
                return LedgerUnavailable(
                    "the ledger database \(path) stayed locked by "
                        + (holders.isEmpty ? "another process" : holders.joined(separator: ", "))
                        + " for \(LedgerUnavailable.seconds(LedgerUnavailable.window)); nothing was lost; "
                        + "run again when it is done (ELENA_DB_WAIT sets how long to wait)")
            case .SQLITE_FULL:
                let free = FileManagerFree.bytes(folder).map { "; \($0) \($0.hasPrefix("0 ") ? "is" : "are") free" } ?? ""
                return LedgerUnavailable(
                    "the disk holding \(folder) is full (cannot write the ledger database "
                        + "\((path as NSString).lastPathComponent)\(free)); nothing was lost; free some space and run again")
            case .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN:
                guard FileManagerFree.isReadOnly(folder) else { break }
                return LedgerUnavailable(
                    "the ledger database \(path) is on a read-only file system; nothing was lost; "
                        + "make it writable and run again")
            default:
                break
            }
        }
        return StoreError("\(doing): \(describe(error))")
    }

    /// SQLite's answer in words, with what to do for the ones a person can fix.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DatabaseError else { return "\(error)" }
        switch error.resultCode.primaryResultCode {
        case .SQLITE_NOTADB:
            return "it is not an SQLite database (is --database or DATABASE_URL pointing at another file?)"
        case .SQLITE_CORRUPT:
            return "the file is damaged (database disk image is malformed); restore it from a backup, or move it away "
                + "and run again to start a new ledger"
        case .SQLITE_READONLY:
            return "it is read-only for you (its file or folder belongs to another user): fix the permissions, or use "
                + "another --library"
        case .SQLITE_CANTOPEN:
            return "it cannot be opened (a folder, a missing folder on the way, or no permission to create it)"
        default:
            return error.message ?? "SQLite error \(error.resultCode.rawValue)"
        }
    }

    private static func arguments(_ binds: [SQLValue]) -> StatementArguments {
        StatementArguments(
            binds.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .null: return nil
                case .int(let number): return number
                case .double(let number): return number
                case .text(let text), .json(let text): return text
                case .date(let date): return ISO8601.format(date)
                case .bool(let flag): return flag ? Int64(1) : Int64(0)
                case .digest(let digest): return digest.hex
                case .bytes(let bytes): return Data(bytes)
                }
            })
    }

    /// Reads the rows of a statement straight from SQLite's columns: one value per column, made once (a drop of
    /// 100,000 items reads 300,000 run-cache rows on every start).
    private static func fetch<T>(_ db: Database, _ statement: SQLStatement, map: (SQLRow) -> T?) throws -> [T] {
        let prepared = try db.makeStatement(sql: statement.sql)
        try prepared.setArguments(Self.arguments(statement.binds))
        let handle = prepared.sqliteStatement
        let count = sqlite3_column_count(handle)
        let names = (0..<count).map { String(cString: sqlite3_column_name(handle, $0)) }
        var rows: [T] = []
        // The cursor steps the statement; each row is read from the statement where it stands.
        let cursor = try Row.fetchCursor(prepared)
        while try cursor.next() != nil {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for index in 0..<count {
                switch sqlite3_column_type(handle, index) {
                case SQLITE_NULL: values.append(.null)
                case SQLITE_INTEGER: values.append(.int(sqlite3_column_int64(handle, index)))
                case SQLITE_FLOAT: values.append(.double(sqlite3_column_double(handle, index)))
                case SQLITE_BLOB:
                    // The pointer first, then its length (as for text below); an empty blob has no pointer.
                    let bytes = sqlite3_column_blob(handle, index)
                    let length = Int(sqlite3_column_bytes(handle, index))
                    values.append(.bytes(bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []))
                default:
                    // Text.
                    // The pointer first, then its length (SQLite's documented order).
                    guard let bytes = sqlite3_column_blob(handle, index) else {
                        values.append(.text(""))
                        continue
                    }
                    let length = Int(sqlite3_column_bytes(handle, index))
                    let buffer = UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self)
                    if length == 64, let digest = Digest(lowercaseHex: buffer) {
                        values.append(.digest(digest))
                    } else {
                        values.append(.text(String(decoding: buffer, as: UTF8.self)))
                    }
                }
            }
            if let mapped = map(SQLRow(names: names, values: values)) { rows.append(mapped) }
        }
        return rows
    }

    private static func fetch(_ db: Database, _ statement: SQLStatement) throws -> [SQLRow] {
        try fetch(db, statement) { $0 }
    }

    package func query<T: Sendable>(_ statement: SQLStatement, map: @escaping @Sendable (SQLRow) -> T?) async throws -> [T] {
        do {
            return try await writer.read { db in try Self.fetch(db, statement, map: map) }
        } catch {
            throw failure("SQLite query failed", error)
        }
    }

    package func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        do {
            return try await writer.read { db in try Self.fetch(db, statement) }
        } catch {
            throw failure("SQLite query failed", error)
        }
    }

    package func writeQuery(_ statement: SQLStatement) async throws -> [SQLRow] {
        do {
            return try await writer.write { db in try Self.fetch(db, statement) }
        } catch {
            throw failure("SQLite write failed", error)
        }
    }

    package func transaction(_ statements: [SQLStatement]) async throws {
        guard !statements.isEmpty else { return }
        do {
            try await writer.write { db in
                for statement in statements {
                    try db.execute(sql: statement.sql, arguments: Self.arguments(statement.binds))
                }
            }
        } catch {
            throw failure("SQLite write failed", error)
        }
    }

    package func runScript(_ script: String, then statements: [SQLStatement]) async throws {
        do {
            try await writer.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try db.execute(sql: script)
                    for statement in statements {
                        try db.execute(sql: statement.sql, arguments: Self.arguments(statement.binds))
                    }
                    return .commit
                }
            }
        } catch {
            throw failure("SQLite migration failed", error)
        }
    }

    /// Lets go of the pages the writing connection keeps (the file system still caches them): after writing something
    /// big that this connection will not read back soon.
    package func releaseWriterMemory() async {
        _ = try? await writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA shrink_memory") }
    }

    /// Closes the reading connections, so the next reads plan their queries on the schema as it is now: a reader
    /// opened before a migration added an index went on scanning the table the index was for.
    package func schemaChanged() {
        (writer as? DatabasePool)?.invalidateReadOnlyConnections()
    }

    package func close() async {
        // Fold the write-ahead log back into the database file, so the file alone holds everything.
        if case .file = access {
            _ = try? await writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        }
        try? writer.close()
        if case .copy(let folder) = access { try? FileManager.default.removeItem(atPath: folder) }
    }
}

/// Free space and read-only mounts, for the ledger's own error sentences (ElenaStore does not see the engine's
/// `FileSystem`).
enum FileManagerFree {
    /// "3.2 MB", the space an unprivileged writer may still use on the file system holding `folder`.
    static func bytes(_ folder: String) -> String? {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return nil }
        let free = Double(info.f_bavail) * Double(info.f_frsize)
        return free < 1024 * 1024 ? String(format: "%.0f KB", free / 1024) : String(format: "%.1f MB", free / 1024 / 1024)
    }

    static func isReadOnly(_ folder: String) -> Bool {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return false }
        return info.f_flag & UInt(ST_RDONLY) != 0
    }
}
