package import Foundation

/// A fresh folder under the system temporary directory, deleted by `remove()`.
package struct TemporaryDirectory: Sendable {
    /// Absolute path.
    package let path: String

    /// Creates the folder.
    package init(_ label: String = "elena-test") throws {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        path = base + "\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `path/relative`.
    package func callAsFunction(_ relative: String) -> String { path + "/" + relative }

    /// Deletes the folder and everything in it.
    package func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Writes bytes, creating folders.
    @discardableResult
    package func write(_ data: Data, to relative: String) throws -> String {
        let target = self(relative)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Writes text.
    @discardableResult
    package func write(_ text: String, to relative: String) throws -> String {
        try write(Data(text.utf8), to: relative)
    }

    /// Every regular file below the folder (relative paths, sorted), optionally below a sub-folder.
    package func files(under relative: String = "") -> [String] {
        let root = relative.isEmpty ? path : self(relative)
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [String] = []
        while let item = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + item, isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append(item)
            }
        }
        return found.sorted()
    }
}

/// Runs `body`, then `cleanup`, awaited, whether `body` returned or threw: the structured form of
/// `defer { Task { await cleanup() } }`, which let a test end (and the next begin) before its server, database or
/// disk was gone.
package func withCleanup<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async rethrows -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}
