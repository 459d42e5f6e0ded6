package import ElenaCore
import Foundation

/// Finds a drop's source files and their digests, hashing only files whose stamp changed since the last run.
package struct SourceDiscovery: Sendable {
    /// The absolute source folder.
    package var folder: String
    /// File-name patterns to take (case-insensitive).
    package var include: [Glob]
    /// File-name patterns to leave out.
    package var exclude: [Glob]
    /// Whether to descend into sub-folders.
    package var recursive: Bool
    /// Absolute paths to leave for a later run: files still being written (`watch`). They are not read at all.
    package var notReady: Set<String> = []

    /// What discovery found.
    package struct Result: Sendable {
        /// Files with digests, sorted by relative path.
        package var files: [SourceFile]
        /// Stat-cache entries that are new or changed (to save after a real run).
        package var newStatEntries: [StatEntry]
        /// Files that could not be read, with the reason.
        package var unreadable: [(path: String, reason: String)]
        /// How many files were hashed (not served by the stat cache).
        package var hashed: Int

        /// Nothing found.
        package static let empty = Result(files: [], newStatEntries: [], unreadable: [], hashed: 0)
    }

    /// Creates a discovery for a resolved source section.
    package init(folder: String, source: SourceSpec) {
        self.folder = folder
        self.include = source.include.map { Glob($0, caseInsensitive: true) }
        self.exclude = source.exclude.map { Glob($0, caseInsensitive: true) }
        self.recursive = source.recursive
    }

    func selected(_ relativePath: String) -> Bool {
        let name = PathText.lastComponent(relativePath)
        func hit(_ glob: Glob) -> Bool { glob.spansFolders ? glob.matches(relativePath) : glob.matches(name) }
        return include.contains(where: hit) && !exclude.contains(where: hit)
    }

    /// Walks the folder and resolves digests.
    /// - Parameters:
    ///   - statCache: known digests by absolute path.
    ///   - concurrency: how many files to hash at once.
    /// - Throws: `FileSystemError` when the folder itself cannot be listed.
    package func run(statCache: [String: StatEntry], concurrency: Int) async throws -> Result {
        try await run(statCache: { statCache }, concurrency: concurrency)
    }

    /// Walks the folder and resolves digests, with the stat cache read while the folder is walked.
    /// - Parameters:
    ///   - statCache: gives the known digests by absolute path; asked once the folder is walked (a library of
    ///     100,000 items reads its stat cache from the ledger while the folder's 100,000 files are looked at).
    ///   - concurrency: how many files to hash at once.
    /// - Throws: `FileSystemError` when the folder itself cannot be listed; what `statCache` throws.
    package func run(statCache read: () async throws -> [String: StatEntry], concurrency: Int) async throws -> Result {
        let survey = try FileSystem.survey(folder, recursive: recursive)
        let entries = survey.entries.filter { selected($0.relativePath) && !notReady.contains($0.path) }
        let statCache = try await read()
        var digests: [Int: Digest] = [:]
        var toHash: [Int] = []
        for (index, entry) in entries.enumerated() {
            if let known = statCache[entry.path], known.stamp == entry.stamp {
                digests[index] = known.digest
            } else {
                toHash.append(index)
            }
        }
        var unreadable: [(String, String)] = survey.problems.filter { $0.relativePath.hasSuffix("/") || selected($0.relativePath) }
            .map { ($0.relativePath, $0.reason) }
        var fresh: [StatEntry] = []
        if !toHash.isEmpty {
            let hashed = await Self.hash(toHash.map { entries[$0].path }, concurrency: concurrency)
            for (offset, index) in toHash.enumerated() {
                switch hashed[offset] {
                case .success(let digest):
                    digests[index] = digest
                    fresh.append(StatEntry(path: entries[index].path, stamp: entries[index].stamp, digest: digest))
                case .failure(let error):
                    unreadable.append((entries[index].relativePath, error.description))
                }
            }
        }
        let files = entries.enumerated().compactMap { index, entry -> SourceFile? in
            guard let digest = digests[index] else { return nil }
            return SourceFile(path: entry.path, relativePath: entry.relativePath, size: entry.stamp.size, digest: digest)
        }
        return Result(files: files, newStatEntries: fresh, unreadable: unreadable, hashed: toHash.count)
    }

    /// Hashes files with bounded parallelism, keeping their order.
    static func hash(_ paths: [String], concurrency: Int) async -> [Swift.Result<Digest, FileSystemError>] {
        var results = [Swift.Result<Digest, FileSystemError>?](repeating: nil, count: paths.count)
        await withTaskGroup(of: (Int, Swift.Result<Digest, FileSystemError>).self) { group in
            var next = 0
            func start() {
                let index = next
                next += 1
                group.addTask { (index, Swift.Result { () throws(FileSystemError) -> Digest in try FileSystem.digest(paths[index]) }) }
            }
            while next < min(max(1, concurrency), paths.count) { start() }
            while let (index, result) = await group.next() {
                results[index] = result
                if next < paths.count { start() }
            }
        }
        return results.map { $0 ?? .failure(FileSystemError(operation: "hash", path: "?", reason: "not hashed")) }
    }
}
