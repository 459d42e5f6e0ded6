import ElenaStore
import ElenaTestKit
import Foundation

/// A PostgreSQL server of a test's own (scripts/postgres), for tests that crash, stop and restart it: the shared
/// test server cannot be restarted under the other tests. Commits are durable (synchronous_commit on), as on a
/// real server, so a crash loses nothing that was acknowledged. Optionally with PgBouncer in transaction mode in
/// front, as Supabase's pooler.
package final class ScratchPostgres: Sendable {
    /// The server's folder (data, logs, password).
    package let folder: String
    /// The server's URL (contains its password: never print it).
    package let url: String
    /// PgBouncer's URL in front of it, when started with `pooler: true`.
    package let poolerURL: String?

    private init(folder: String, url: String, poolerURL: String?) {
        self.folder = folder
        self.url = url
        self.poolerURL = poolerURL
    }

    /// Starts a server (and PgBouncer in front of it with `pooler`); scripts/postgres installs PostgreSQL 15 and
    /// PgBouncer when they are missing, so a test using this never skips.
    package static func start(pooler: Bool = false) async throws -> ScratchPostgres {
        let folder = NSTemporaryDirectory() + "elena-scratch-pg." + UUID().uuidString.prefix(8)
        let url = try await script(["start", folder], environment: ["ELENA_PG_SYNCHRONOUS_COMMIT": "on"])
        var poolerURL: String?
        if pooler { poolerURL = try await script(["pooler", folder]) }
        return ScratchPostgres(folder: folder, url: url, poolerURL: poolerURL)
    }

    /// Stops the server in immediate mode: every connection is cut as by a crash.
    package func crash() async throws { _ = try await Self.script(["crash", folder]) }

    /// Starts the crashed server again on its port.
    package func revive() async throws { _ = try await Self.script(["revive", folder]) }

    /// Crashes and starts again at once.
    package func restart() async throws { _ = try await Self.script(["restart", folder]) }

    /// Ends every other session on the server (the connection cut under the client, the server staying up).
    package func cutConnections() async throws {
        let admin = try await PostgresDatabase.connect(try DatabaseURL(parsing: url))
        _ = try? await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'")
        await admin.close()
    }

    /// Stops everything and deletes the folder.
    package func remove() async {
        _ = try? await Self.script(["stop", folder])
    }

    /// Runs `scripts/postgres ARGS`; its output.
    static func script(_ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        let root = CommandLineRunner.repositoryRoot()
        let result = try await Subprocess.run(root + "/scripts/postgres", arguments, environment: environment)
        guard result.status == 0 else {
            throw StoreError("scripts/postgres \(arguments[0]) failed (status \(result.status)): \(result.error)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
