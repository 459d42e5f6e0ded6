package import ElenaCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension SQLRunStore {
    /// Locks shared by every runner of this database: advisory locks in PostgreSQL (runners on other machines see
    /// them), file locks beside a SQLite file (runners on this machine see them).
    package static func workLocks(for url: DatabaseURL) -> any WorkLocks {
        switch url.kind {
        case .sqlite(let path):
            let folder = (path as NSString).deletingLastPathComponent
            return FileWorkLocks(folder: (folder.isEmpty ? "." : folder) + "/.elena-locks")
        case .postgres:
            return PostgresWorkLocks(url: url)
        }
    }
}

/// Exclusive `flock` on one file per key. The kernel frees a lock when its process dies, however it dies.
package struct FileWorkLocks: WorkLocks {
    /// Where the lock files live.
    package let folder: String

    /// Creates locks in `folder` (made when first needed).
    package init(folder: String) {
        self.folder = folder
    }

    package func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + String(Digest.of(key).hex.prefix(32)) + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw StoreError("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            try await Task.sleep(nanoseconds: 15_000_000)
        }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }
}

/// Transaction-scoped advisory locks (`pg_advisory_xact_lock`) on a connection of their own. Scoped to a
/// transaction, they work through Supabase's pooler in transaction mode, and a runner that dies drops its
/// connection, which ends the transaction and frees the lock.
package struct PostgresWorkLocks: WorkLocks {
    private let url: DatabaseURL
    private static let lossSaid = Atomic<Bool>(false)

    /// Creates locks on the server `url` names.
    package init(url: DatabaseURL) {
        self.url = url
    }

    /// The 64-bit advisory lock key of a name.
    static func lockKey(_ key: String) -> Int64 {
        Int64(bitPattern: UInt64(Digest.of("elena-run lock:" + key).hex.prefix(16), radix: 16) ?? 0)
    }

    package func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withLocks([key], body)
    }

    /// Every key on one connection, in one transaction, in ascending order of the 64-bit keys (so two holders never
    /// wait on each other); the server queues waiters. The connection is closed when the locks are released
    /// (PostgresNIO requires every connection to be closed before it goes away, so none is kept idle).
    ///
    /// A connection lost while waiting for the locks is replaced and the waiting starts again. A connection lost
    /// while `body` runs has lost the locks with it (the server ends a dead connection's transaction): `body` goes
    /// on, because what it does is guarded again by the ledger's claims (a claim left unconfirmed is checked on
    /// Fanvue before anything is sent again), and the loss is said on one line.
    package func withLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        // Connected by its first statement, within the outage window: the server may be restarting right now.
        let database = PostgresDatabase.connectingLater(url, resilience: PostgresDatabase.Resilience.standard.unlimited)
        do {
            try await database.begin(Set(keys.map(Self.lockKey)).sorted().map { SQLStatement("SELECT pg_advisory_xact_lock(?)", [.int($0)]) })
        } catch {
            await database.close()
            throw error
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        if await database.isOpen {
            await database.endQuietly()
        } else if Self.lossSaid.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            // Said once per run: every lock held across one restart is lost the same way.
            PostgresDatabase.Resilience.standard.notice(
                "the connection holding \(keys.count == 1 ? "a lock" : "\(keys.count) locks") was lost while the work ran; "
                    + "the ledger's claims kept it from being done twice")
        }
        await database.close()
        return try result.get()
    }
}
