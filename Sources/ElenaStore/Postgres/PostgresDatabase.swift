import ElenaCore
import Foundation
internal import Logging
internal import NIOCore
internal import NIOSSL
internal import PostgresNIO

/// PostgreSQL (or Supabase) through PostgresNIO: one connection, used by one caller at a time so transactions
/// never interleave. (The actor alone would not ensure that: it is reentrant at every `await`, so a query could
/// slip into another caller's open transaction. `exclusive` holds each operation until it is done.)
///
/// The connection may go away mid-run (a server restart, a pooler restart, a network cut). Every operation then
/// waits for the database and runs again on a new connection, with capped backoff, for at most `Resilience.window`
/// from the moment it went away; one line says it was lost and one that it is back. Past the window every
/// operation fails at once with `LedgerUnavailable`, which stops the run. Each operation is raced against the
/// connection's closing and a time limit, because a query in flight when the server went away was seen never to
/// return (PostgresNIO 1.33 left it waiting on a closed channel: the run hung for good).
///
/// Running an operation again after a lost connection is safe because a transaction that did not commit left
/// nothing, and the store's writes are idempotent when a commit went through unseen: upserts, `DO NOTHING`
/// inserts, and claims whose repeat finds the claim taken (nothing is then sent this run; the next run finds
/// the claim unconfirmed and asks Fanvue before sending). The one visible effect is a repeated event row.
package actor PostgresDatabase: SQLDatabase {
    package nonisolated let dialect = SQLDialect.postgres
    private let url: DatabaseURL
    private var connection: PostgresConnection?
    /// Told when `connection` closes (one callback per connection, not one per operation).
    private var watch: CloseWatch?
    private let logger: Logger
    private let resilience: Resilience
    private let exclusive = AsyncMutex()
    /// Set from the moment the connection went away until an operation succeeds again.
    private var outage: (since: ContinuousClock.Instant, cause: String)?
    /// Set once the outage outlasted the window: every later operation fails with it at once.
    private var unavailable: LedgerUnavailable?

    /// How long to wait for a database that went away, and where to say so.
    package struct Resilience: Sendable {
        /// How long operations wait for the database, from the moment it went away.
        package var window: Duration
        /// An operation without an answer for this long counts as a lost connection (nil: no limit, for lock waits).
        package var operationLimit: Duration?
        /// Receives the one-line notices (lost, back).
        package var notice: @Sendable (String) -> Void

        /// Creates a policy.
        package init(window: Duration, operationLimit: Duration?, notice: @escaping @Sendable (String) -> Void) {
            self.window = window
            self.operationLimit = operationLimit
            self.notice = notice
        }

        /// `LedgerUnavailable.window` (60 s, or `ELENA_DB_WAIT`); 30 s per operation (`ELENA_DB_OPERATION_LIMIT`):
        /// far beyond any ledger statement of a run (each takes well under a second on the test server), so an
        /// operation without an answer for that long is taken to be on a connection that is gone without closing,
        /// as PgBouncer left one after its server connections were cut; notices on standard error.
        package static var standard: Resilience {
            let limit = ProcessInfo.processInfo.environment["ELENA_DB_OPERATION_LIMIT"].flatMap(Double.init) ?? 30
            return Resilience(
                window: LedgerUnavailable.window, operationLimit: .milliseconds(Int(max(1, limit) * 1000)),
                notice: LedgerUnavailable.notice)
        }

        /// The same without a limit per operation: an advisory lock may be waited for as long as its holder works.
        var unlimited: Resilience {
            var copy = self
            copy.operationLimit = nil
            return copy
        }
    }

    private init(url: DatabaseURL, connection: PostgresConnection?, logger: Logger, resilience: Resilience) {
        self.url = url
        self.connection = connection
        self.watch = connection.map(CloseWatch.init)
        self.logger = logger
        self.resilience = resilience
    }

    /// Connects. The first connection is not waited for: a database that cannot be reached at the start stops
    /// the command before any work.
    /// - Parameters:
    ///   - url: the parsed database URL.
    ///   - resilience: how a connection lost later is waited for.
    /// - Throws: `StoreError` naming host and database, never the password.
    package static func connect(_ url: DatabaseURL, resilience: Resilience = .standard) async throws -> PostgresDatabase {
        let logger = Self.quietLogger
        let connection: PostgresConnection
        do {
            connection = try await openConnection(url, logger: logger)
        } catch {
            let advice = Self.advice(error).map { "; " + $0 } ?? ""
            throw StoreError("cannot connect to \(url): \(Self.describe(error))\(advice)")
        }
        return PostgresDatabase(url: url, connection: connection, logger: logger, resilience: resilience)
    }

    /// A database whose first connection is made by its first operation, and waited for like a lost one: for the
    /// lock connections a run opens mid-run, when the server may be restarting.
    static func connectingLater(_ url: DatabaseURL, resilience: Resilience) -> PostgresDatabase {
        PostgresDatabase(url: url, connection: nil, logger: quietLogger, resilience: resilience)
    }

    static let quietLogger = Logger(label: "elena.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A new connection for `url` (TLS as its `sslmode` asks).
    static func openConnection(_ url: DatabaseURL, logger: Logger) async throws -> PostgresConnection {
        guard case .postgres(let host, let port, let user, let password, let database, let sslMode) = url.kind else {
            throw StoreError("not a PostgreSQL URL: \(url)")
        }
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch sslMode {
            case "disable":
                tls = .disable
            case "verify-full", "verify-ca":
                tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case "require":
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.certificateVerification = .none
                tls = .require(try NIOSSLContext(configuration: configuration))
            default:  // "prefer", as libpq does by default
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.certificateVerification = .none
                tls = .prefer(try NIOSSLContext(configuration: configuration))
            }
        } catch {
            throw StoreError("cannot set up TLS for \(url): \(error)")
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
    }

    static func describe(_ error: any Error) -> String {
        if let words = connectionWords(error) { return words }
        if let psql = error as? PSQLError, psql.code == .sslUnsupported {
            return "the server does not offer TLS: remove sslmode=require from the URL, or turn TLS on at the server"
        }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            // Never the error itself: PostgresNIO's text is "PSQLError – Generic description…".
            if let underlying = error.underlying, !(underlying is PSQLError) {
                return "\(error.code): \(describe(underlying))"
            }
            return "\(error.code)"
        }
        if let error = error as? PostgresTransactionError {
            return describe(error.closureError ?? error.commitError ?? error.beginError ?? error)
        }
        return "\(error)"
    }

    /// What to do about a first connection that failed, when the cause says it.
    static func advice(_ error: any Error) -> String? {
        if let psql = error as? PSQLError, psql.code == .server, let state = psql.serverInfo?[.sqlState] {
            switch state {
            case "28P01", "28000": return "check the user name and password in --database or DATABASE_URL"
            case "3D000": return "create that database, or correct its name at the end of the URL"
            default: return nil
            }
        }
        switch connectionWords(error) {
        case Words.refused:
            return "is PostgreSQL running at that host and port? (without --database and DATABASE_URL the "
                + "ledger is the library's SQLite file)"
        case Words.unreachable, Words.silent:
            return "check the host name and port in the URL, and the network"
        default: return nil
        }
    }

    /// `?` placeholders become `$1`, `$2`… (outside quoted text).
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.count + 16)
        var counter = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                counter += 1
                out += "$\(counter)"
            } else {
                out.append(character)
            }
        }
        return out
    }

    private static func query(_ statement: SQLStatement) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: statement.binds.count)
        for value in statement.binds {
            switch value {
            case .null: bindings.appendNull()
            case .int(let number): bindings.append(number)
            case .double(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .date(let date): bindings.append(date)
            case .json(let text): bindings.append(JSONB(text: text))
            case .bool(let flag): bindings.append(flag)
            case .digest(let digest): bindings.append(digest.hex)
            case .bytes(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        return PostgresQuery(unsafeSQL: numbered(statement.sql), binds: bindings)
    }

    private static func value(_ cell: PostgresCell) -> SQLValue {
        guard var bytes = cell.bytes else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return (try? cell.decode(Int64.self)).map(SQLValue.int) ?? .null
        case .float4, .float8:
            return (try? cell.decode(Double.self)).map(SQLValue.double) ?? .null
        case .numeric:
            return (try? cell.decode(Double.self)).map(SQLValue.double) ?? .null
        case .bool:
            return (try? cell.decode(Bool.self)).map(SQLValue.bool) ?? .null
        case .timestamptz, .timestamp, .date:
            return (try? cell.decode(Date.self)).map(SQLValue.date) ?? .null
        case .jsonb:
            if cell.format == .binary, bytes.readableBytes > 0 { bytes.moveReaderIndex(forwardBy: 1) }
            return .json(bytes.readString(length: bytes.readableBytes) ?? "null")
        case .json:
            return .json(bytes.readString(length: bytes.readableBytes) ?? "null")
        case .bytea:
            // Binary, as every statement's results are read (extended protocol); anything else reads as nothing (the
            // only bytes stored, the run cache's compact parts, are then read from their rows).
            guard cell.format == .binary else { return .null }
            return .bytes(bytes.readBytes(length: bytes.readableBytes) ?? [])
        default:
            if cell.dataType == .text || cell.dataType == .varchar, bytes.readableBytes == 64,
                let digest = bytes.withUnsafeReadableBytes({ Digest(lowercaseHex: $0.bindMemory(to: UInt8.self)) })
            {
                return .digest(digest)
            }
            if let text = try? cell.decode(String.self) { return .text(text) }
            return .text(bytes.readString(length: bytes.readableBytes) ?? "")
        }
    }

    /// `ELENA_TRACE_DB=1`: every statement and every failure in full on standard error (for diagnosing a
    /// database problem; never bound values).
    static let tracing = ProcessInfo.processInfo.environment["ELENA_TRACE_DB"] == "1"

    static func trace(_ text: @autoclosure () -> String) {
        if tracing { FileHandle.standardError.write(Data(("db: " + text() + "\n").utf8)) }
    }

    private static func run(_ statement: SQLStatement, on connection: PostgresConnection, logger: Logger) async throws
        -> [SQLRow]
    {
        trace("> \(statement.sql.prefix(60).replacingOccurrences(of: "\n", with: " "))")
        defer { trace("<") }
        let rows = try await connection.query(Self.query(statement), logger: logger)
        // Rows arriving are answers too: a long read (300,000 run-cache rows over a slow link) is not a silence. A
        // beat is a clock read and a lock, small beside decoding the row.
        let heartbeat = Self.answered
        var result: [SQLRow] = []
        var names: [String]?
        for try await row in rows {
            heartbeat?.beat()
            let cells = Array(row)
            if names == nil { names = cells.map(\.columnName) }
            result.append(SQLRow(names: names ?? [], values: cells.map(Self.value)))
        }
        heartbeat?.beat()
        return result
    }

    /// Runs `statements` in one transaction on `connection` (none for a single statement), rolling back on error.
    private static func transact(
        _ statements: [SQLStatement], on connection: PostgresConnection, logger: Logger, commit: Bool = true
    ) async throws -> [SQLRow] {
        if statements.count == 1 && commit { return try await run(statements[0], on: connection, logger: logger) }
        _ = try await run(SQLStatement("BEGIN"), on: connection, logger: logger)
        var last: [SQLRow] = []
        do {
            for statement in statements { last = try await run(statement, on: connection, logger: logger) }
            if commit { _ = try await run(SQLStatement("COMMIT"), on: connection, logger: logger) }
        } catch {
            if !isConnectionLoss(error) { _ = try? await run(SQLStatement("ROLLBACK"), on: connection, logger: logger) }
            throw error
        }
        return last
    }

    // MARK: Operations, each waited for across a lost connection

    /// Runs `body` on a live connection, one operation at a time; after a lost connection, waits and runs it again
    /// on a new one (see the type's documentation), until the window is over.
    private func perform<T: Sendable>(
        _ failure: String, unlimited: Bool = false,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        await exclusive.acquire()
        defer { exclusive.release() }
        var delay = Duration.milliseconds(200)
        while true {
            if let unavailable { throw unavailable }
            try Task.checkCancellation()
            do {
                let live: PostgresConnection
                if let connection, !connection.isClosed {
                    live = connection
                } else {
                    // Closed between two operations (a restart while the run worked on files), or lost before.
                    let closedQuietly = connection != nil && outage == nil
                    connection = nil
                    do {
                        live = try await Self.openConnection(url, logger: logger)
                    } catch {
                        // While the database is away, any failure to connect is part of the same outage.
                        throw ConnectionLost(cause: Self.describe(error))
                    }
                    connection = live
                    watch = CloseWatch(live)
                    if closedQuietly { resilience.notice("the connection to \(url) had closed; reconnected; going on") }
                }
                let logger = self.logger
                let watch = self.watch ?? CloseWatch(live)
                self.watch = watch
                let result = try await Self.race(watch, limit: unlimited ? nil : resilience.operationLimit) {
                    try await body(live, logger)
                }
                if let outage {
                    resilience.notice("back after \(Self.seconds(ContinuousClock.now - outage.since)); going on")
                    self.outage = nil
                }
                return result
            } catch let error where Self.isConnectionLoss(error) {
                Self.trace("lost: \(String(reflecting: error))")
                let cause = Self.describe(error)
                if let dead = connection {
                    connection = nil
                    Task { try? await dead.close() }  // not awaited: a dead connection may never answer
                }
                if outage == nil {
                    outage = (ContinuousClock.now, cause)
                    resilience.notice(
                        "lost the connection to \(url) (\(cause)); "
                            + "waiting up to \(Self.seconds(resilience.window)) for it to come back")
                }
                let waited = ContinuousClock.now - outage!.since
                if waited >= resilience.window {
                    let given = LedgerUnavailable.lost(url.description, cause: outage!.cause, waited: waited)
                    unavailable = given
                    throw given
                }
                try await Task.sleep(for: min(delay, resilience.window - waited))
                delay = min(delay * 2, .seconds(5))
            } catch let error as LedgerUnavailable {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw StoreError("\(failure): \(Self.describe(error))")
            }
        }
    }

    /// Where the statements of the operation under way note each answer (`run`), for `race`'s limit.
    @TaskLocal private static var answered: Heartbeat?

    /// `body`'s result, or a `ConnectionLost` as soon as the connection closes or nothing answers `body` for `limit`
    /// (from its start, or from the last statement or rows it had answered), whichever comes first. A transaction of many
    /// statements may take longer than `limit` as long as they keep being answered (the first run of a 100,000-file
    /// drop saved its stat cache in one transaction of 100,000 statements, 33-36 s here, and was taken for lost three
    /// times, then stopped). A body stuck on a dead connection is left behind rather than waited for.
    private static func race<T: Sendable>(
        _ watch: CloseWatch, limit: Duration?, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let once = Once<T>()
        let heartbeat = Heartbeat()
        let result: T = try await withCheckedThrowingContinuation { continuation in
            once.arm(continuation)
            let work = Task {
                do {
                    once.resume(with: .success(try await Self.$answered.withValue(heartbeat) { try await body() }))
                } catch {
                    once.resume(with: .failure(error))
                }
            }
            once.onResume { work.cancel() }
            watch.arm { once.resume(with: .failure(ConnectionLost(cause: "the server closed the connection"))) }
            once.onResume { watch.disarm() }
            if let limit {
                let timer = Task {
                    var wait = limit
                    while true {
                        try await Task.sleep(for: wait)
                        let silent = heartbeat.silence
                        if silent >= limit { break }
                        wait = limit - silent
                    }
                    once.resume(with: .failure(ConnectionLost(cause: "no answer for \(seconds(limit))")))
                }
                once.onResume { timer.cancel() }
            }
        }
        return result
    }

    /// Whether an error means the connection (or the server behind a pooler) is gone, not that the statement is wrong.
    static func isConnectionLoss(_ error: any Error) -> Bool {
        if error is ConnectionLost { return true }
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(isConnectionLoss) ?? false }
        }
        if let error = error as? PSQLError {
            switch error.code {
            case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown:
                return true
            case .server:
                // Class 08: connection exceptions (PgBouncer's "server conn crashed?" too); 57P0x: the server is
                // shutting down, crashed or still starting.
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
            default:
                return false
            }
        }
        // Connecting failed (refused, reset, timed out): NIO's errors.
        return error is IOError || error is ChannelError || error is NIOConnectionError
    }

    package func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        try await perform("PostgreSQL query failed", ) { connection, logger in
            try await Self.run(statement, on: connection, logger: logger)
        }
    }

    package func writeQuery(_ statement: SQLStatement) async throws -> [SQLRow] {
        try await perform("PostgreSQL write failed", ) { connection, logger in
            try await Self.run(statement, on: connection, logger: logger)
        }
    }

    package func transaction(_ statements: [SQLStatement]) async throws {
        guard !statements.isEmpty else { return }
        // A few plain writes to different tables go as one statement: one round trip instead of one each and two.
        let sent = OneStatementWrite.joined(statements).map { [$0] } ?? statements
        _ = try await perform("PostgreSQL write failed", ) { connection, logger in
            try await Self.transact(sent, on: connection, logger: logger)
        }
    }

    /// Begins a transaction that stays open (for advisory locks scoped to it) until `close`. Waited for without a
    /// limit per operation: a lock may be held by another runner for as long as its work takes. After a lost
    /// connection the whole beginning runs again on the new one.
    func begin(_ statements: [SQLStatement]) async throws {
        _ = try await perform("PostgreSQL lock failed", unlimited: true) { connection, logger in
            try await Self.transact(statements, on: connection, logger: logger, commit: false)
        }
    }

    /// Whether the connection a `begin` opened is still the one open (false after it was lost and replaced, when the
    /// server has ended that transaction and its locks).
    var isOpen: Bool { connection.map { !$0.isClosed } ?? false }

    /// Commits what `begin` opened, once and without waiting for a lost connection (closing it ends it anyway).
    func endQuietly() async {
        guard let connection, let watch, !connection.isClosed else { return }
        _ = try? await Self.race(watch, limit: .seconds(10)) {
            try await Self.run(SQLStatement("COMMIT"), on: connection, logger: Self.quietLogger)
        }
    }

    package func runScript(_ script: String, then statements: [SQLStatement]) async throws {
        try await perform("PostgreSQL migration failed", unlimited: true) { connection, logger in
            _ = try await Self.run(SQLStatement("BEGIN"), on: connection, logger: logger)
            do {
                // Two runners migrating at once: the second waits here, then finds the work done.
                _ = try await Self.run(SQLStatement("SELECT pg_advisory_xact_lock(727274001)"), on: connection, logger: logger)
                for statement in SQLScript.statements(script) {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                for statement in statements { _ = try await Self.run(statement, on: connection, logger: logger) }
                _ = try await Self.run(SQLStatement("COMMIT"), on: connection, logger: logger)
            } catch {
                if !Self.isConnectionLoss(error) {
                    _ = try? await Self.run(SQLStatement("ROLLBACK"), on: connection, logger: logger)
                }
                throw error
            }
        }
    }

    package func close() async {
        guard let connection else { return }
        self.connection = nil
        try? await connection.close()
    }

    // MARK: Words

    static func seconds(_ duration: Duration) -> String { LedgerUnavailable.seconds(duration) }

    /// A failure to reach the server in words (no errno dump, no type names), or nil when it is something else.
    /// The words of the connection failures `advice` has something to say about.
    enum Words {
        static let refused = "the server refuses connections"
        static let unreachable = "the server cannot be reached"
        static let silent = "the server does not answer"
    }

    static func connectionWords(_ error: any Error) -> String? {
        var error = error
        if let psql = error as? PSQLError {
            if psql.code == .serverClosedConnection || psql.code == .uncleanShutdown { return "the server closed the connection" }
            if psql.code == .clientClosedConnection { return "the connection was closed" }
            if psql.code == .server, let state = psql.serverInfo?[.sqlState] {
                switch state {
                case "57P01": return "the server is shutting down"
                case "57P02": return "the server crashed"
                case "57P03": return "the server is starting up"
                // Class 08, connection exceptions: what PgBouncer answers when it lost or cannot reach its server.
                case _ where state.hasPrefix("08"): return "the connection to the server failed (\(psql.serverInfo?[.message] ?? state))"
                default: return nil
                }
            }
            guard psql.code == .connectionError, let underlying = psql.underlying else { return nil }
            error = underlying
        }
        if let connect = error as? NIOConnectionError {
            guard let first = connect.connectionErrors.first else { return Words.unreachable }
            error = first.error
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return Words.refused
            case ECONNRESET, EPIPE: return "the server closed the connection"
            case ETIMEDOUT: return Words.silent
            case EHOSTUNREACH, ENETUNREACH: return Words.unreachable
            default: return "the connection failed (\(String(cString: strerror(io.errnoCode))))"
            }
        }
        if case ChannelError.connectTimeout = error { return Words.silent }
        if error is ChannelError { return "the connection failed" }
        return nil
    }
}

/// The connection went away (closed, or no answer within the limit) while an operation ran.
struct ConnectionLost: Error, CustomStringConvertible {
    var cause: String
    var description: String { cause }
}

/// Calls the handler armed for the operation in flight when its connection closes (a little later, so that an answer
/// that arrived just before the close wins), or at once when it is armed on a closed connection.
private final class CloseWatch: Sendable {
    private let state = Locked<(closed: Bool, handler: (@Sendable () -> Void)?)>((false, nil))

    init(_ connection: PostgresConnection) {
        connection.closeFuture.whenComplete { [weak self] _ in self?.fire() }
    }

    func arm(_ handler: @escaping @Sendable () -> Void) {
        let already = state.withLock { state -> Bool in
            if !state.closed { state.handler = handler }
            return state.closed
        }
        if already { handler() }
    }

    func disarm() { state.withLock { $0.handler = nil } }

    private func fire() {
        let armed = state.withLock { state -> (@Sendable () -> Void)? in
            state.closed = true
            defer { state.handler = nil }
            return state.handler
        }
        guard let armed else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { armed() }
    }
}

/// When an operation was last answered (a statement done, or rows of one received; its start until the first).
private final class Heartbeat: Sendable {
    private let last = Locked(ContinuousClock.now)

    /// An answer came.
    func beat() { last.withLock { $0 = .now } }

    /// How long since the last answer.
    var silence: Duration { ContinuousClock.now - last.withLock { $0 } }
}

/// Resumes a continuation once, from whichever racer comes first, and runs the clean-ups registered for that moment.
private final class Once<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var done = false
        var cleanups: [@Sendable () -> Void] = []
    }
    private let state = Locked(State())

    func arm(_ continuation: CheckedContinuation<T, any Error>) { state.withLock { $0.continuation = continuation } }

    func onResume(_ cleanup: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if !state.done { state.cleanups.append(cleanup) }
            return state.done
        }
        if now { cleanup() }
    }

    func resume(with result: Result<T, any Error>) {
        let taken = state.withLock { state -> (CheckedContinuation<T, any Error>, [@Sendable () -> Void])? in
            guard !state.done, let continuation = state.continuation else { return nil }
            state.done = true
            state.continuation = nil
            defer { state.cleanups = [] }
            return (continuation, state.cleanups)
        }
        guard let (continuation, pending) = taken else { return }
        continuation.resume(with: result)
        for cleanup in pending { cleanup() }
    }
}

/// A JSON string bound as `jsonb`.
struct JSONB: PostgresNonThrowingEncodable, PostgresDynamicTypeEncodable {
    var text: String
    static var psqlType: PostgresDataType { .jsonb }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(UInt8(1))
        byteBuffer.writeString(text)
    }
}

/// A lock for async code that never blocks a thread: waiters queue and are resumed one at a time, in order.
final class AsyncMutex: Sendable {
    private let state = Locked<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Waits until the caller holds the mutex.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state -> Bool in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if free { continuation.resume() }
        }
    }

    /// Hands the mutex to the next waiter, or frees it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
