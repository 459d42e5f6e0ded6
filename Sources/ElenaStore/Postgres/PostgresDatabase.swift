import Foundation
internal import Logging
internal import NIOCore
internal import NIOSSL
internal import PostgresNIO

/// PostgreSQL (or Supabase) through PostgresNIO: one connection, used by one caller at a time so transactions
/// never interleave. (The actor alone would not ensure that: it is reentrant at every `await`, so a query could
/// slip into another caller's open transaction. `exclusive` holds each operation until it is done.)
public actor PostgresDatabase: SQLDatabase {
    public nonisolated let dialect = SQLDialect.postgres
    private let connection: PostgresConnection
    private let logger: Logger
    private let exclusive = AsyncMutex()

    private init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Connects.
    /// - Parameter url: the parsed database URL.
    /// - Throws: `StoreError` naming host and database, never the password.
    public static func connect(_ url: DatabaseURL) async throws -> PostgresDatabase {
        let logger = Self.quietLogger
        return PostgresDatabase(connection: try await openConnection(url, logger: logger), logger: logger)
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
        configuration.options.connectTimeout = .seconds(15)
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw StoreError("cannot connect to \(url): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"

        }
        if let error = error as? PostgresTransactionError {
            return describe(error.closureError ?? error.commitError ?? error.beginError ?? error)
        }
        return "\(error)"
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
        default:
            if let text = try? cell.decode(String.self) { return .text(text) }
            return .text(bytes.readString(length: bytes.readableBytes) ?? "")
        }
    }

    private func run(_ statement: SQLStatement) async throws -> [SQLRow] {
        let rows = try await connection.query(Self.query(statement), logger: logger)
        var result: [SQLRow] = []
        var columns: [String: Int]?
        for try await row in rows {
            let cells = Array(row)
            if columns == nil {
                var names: [String: Int] = [:]
                for (index, cell) in cells.enumerated() { names[cell.columnName] = index }
                columns = names
            }
            result.append(SQLRow(columns: columns ?? [:], values: cells.map(Self.value)))
        }
        return result
    }

    public func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        await exclusive.acquire()
        defer { exclusive.release() }
        do {
            return try await run(statement)
        } catch {
            throw StoreError("PostgreSQL query failed: \(Self.describe(error))")
        }
    }

    public func writeQuery(_ statement: SQLStatement) async throws -> [SQLRow] {
        await exclusive.acquire()
        defer { exclusive.release() }
        do {
            return try await run(statement)
        } catch {
            throw StoreError("PostgreSQL write failed: \(Self.describe(error))")
        }
    }

    public func transaction(_ statements: [SQLStatement]) async throws {
        guard !statements.isEmpty else { return }
        await exclusive.acquire()
        defer { exclusive.release() }
        if statements.count == 1 {
            do {
                _ = try await run(statements[0])
                return
            } catch {
                throw StoreError("PostgreSQL write failed: \(Self.describe(error))")
            }
        }
        try await inTransaction {
            for statement in statements { _ = try await self.run(statement) }
        }
    }

    private func inTransaction(_ body: () async throws -> Void) async throws {
        do {
            _ = try await run(SQLStatement("BEGIN"))
            do {
                try await body()
                _ = try await run(SQLStatement("COMMIT"))
            } catch {
                _ = try? await run(SQLStatement("ROLLBACK"))
                throw error
            }
        } catch {
            throw StoreError("PostgreSQL write failed: \(Self.describe(error))")
        }
    }

    public func runScript(_ script: String, then statements: [SQLStatement]) async throws {
        await exclusive.acquire()
        defer { exclusive.release() }
        try await inTransaction {
            // Two runners migrating at once: the second waits here, then finds the work done.
            _ = try await self.run(SQLStatement("SELECT pg_advisory_xact_lock(727274001)"))
            for statement in SQLScript.statements(script) {
                _ = try await self.connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
            }
            for statement in statements { _ = try await self.run(statement) }
        }
    }

    public func close() async {
        try? await connection.close()
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
final class AsyncMutex: @unchecked Sendable {
    // Safe: `locked` and `waiters` are only touched while holding `lock`.
    private let lock = NSLock()
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Waits until the caller holds the mutex.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if locked {
                waiters.append(continuation)
                lock.unlock()
            } else {
                locked = true
                lock.unlock()
                continuation.resume()
            }
        }
    }

    /// Hands the mutex to the next waiter, or frees it.
    func release() {
        lock.lock()
        if waiters.isEmpty {
            locked = false
            lock.unlock()
        } else {
            let next = waiters.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}
