import Foundation

/// Where the ledger lives: a SQLite file or a PostgreSQL server. Printing it never shows the password.
package struct DatabaseURL: Sendable, CustomStringConvertible {
    /// The two kinds of database.
    package enum Kind: Sendable {
        case sqlite(path: String)
        case postgres(host: String, port: Int, user: String, password: String?, database: String, sslMode: String)
    }

    /// The kind and its parameters.
    package var kind: Kind

    /// A SQLite file.
    package init(sqlitePath: String) { kind = .sqlite(path: sqlitePath) }

    /// Parses `postgres://user:password@host:port/database?sslmode=require`, `postgresql://…`,
    /// `sqlite:///absolute/path.db` or a plain file path.
    /// - Throws: `StoreError` for a URL it cannot use.
    package init(parsing text: String) throws {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
                throw StoreError("cannot read the database URL (expected postgres://user:password@host:port/database)")
            }
            let database = String(components.path.drop(while: { $0 == "/" }))
            let query = components.queryItems ?? []
            let sslMode = query.first { $0.name == "sslmode" }?.value ?? "prefer"
            let allowed = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
            guard allowed.contains(sslMode) else {
                throw StoreError("unsupported sslmode '\(sslMode)'; use one of \(allowed.joined(separator: ", "))")
            }
            kind = .postgres(
                host: host, port: components.port ?? 5432,
                user: components.user?.removingPercentEncoding ?? "postgres",
                password: components.password?.removingPercentEncoding,
                database: database.isEmpty ? "postgres" : (database.removingPercentEncoding ?? database),
                sslMode: sslMode == "allow" ? "prefer" : sslMode)
        } else if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard path.hasPrefix("/") else { throw StoreError("a sqlite URL needs an absolute path: sqlite:///path/to/elena.db") }
            kind = .sqlite(path: path)
        } else if text.contains("://") {
            throw StoreError("unsupported database URL scheme; use postgres://… or a SQLite file path")
        } else {
            kind = .sqlite(path: text)
        }
    }

    /// `postgres://user@host:port/db` (no password) or `sqlite /path`.
    package var description: String {
        switch kind {
        case .sqlite(let path): return "sqlite \(path)"
        case .postgres(let host, let port, let user, _, let database, let sslMode):
            return "postgres://\(user)@\(host):\(port)/\(database)" + (sslMode == "prefer" ? "" : "?sslmode=\(sslMode)")
        }
    }
}
