package import Foundation
import ElenaCore

/// An OAuth token set as saved on disk.
package struct TokenSet: Sendable, Hashable, Codable {
    package var accessToken: String
    package var refreshToken: String?
    /// When the access token stops working.
    package var expiresAt: Date
    package var scope: String?
    package var tokenType: String
    /// When this set was obtained.
    package var obtainedAt: Date

    /// Creates a token set.
    package init(accessToken: String, refreshToken: String?, expiresAt: Date, scope: String?, tokenType: String, obtainedAt: Date) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.scope = scope
        self.tokenType = tokenType
        self.obtainedAt = obtainedAt
    }

    /// Safe to print: never the tokens themselves.
    package var summary: String {
        let remaining = Int(expiresAt.timeIntervalSinceNow)
        let expiry = remaining > 0 ? "expires in \(remaining / 60) min" : "expired \(-remaining / 60) min ago"
        return "access token \(expiry); refresh token \(refreshToken == nil ? "absent" : "present"); scope: \(scope ?? "-")"
    }
}

/// The token file: `<config>/fanvue-token.json`, mode 0600, replaced atomically and synced to disk, so a crash can
/// never leave the old (and, with rotating refresh tokens, already dead) refresh token behind.
package struct TokenStore: Sendable {
    /// The file.
    package let path: String

    /// Creates a store for a configuration folder.
    package init(configFolder: String) { path = configFolder + "/fanvue-token.json" }

    /// The saved tokens, if any.
    /// - Throws: when the file exists but cannot be read or is readable by others.
    package func load() throws -> TokenSet? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else {
            throw FanvueError(
                .authentication, message: String(format: "%@ is readable by others (mode %o); run chmod 600 on it or log in again", path, mode),
                request: "token file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FanvueError(
                .authentication, message: "cannot read the Fanvue login file \(path) (no permission, or not a file)",
                request: "token file")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            return try decoder.decode(TokenSet.self, from: data)
        } catch {
            throw FanvueError(
                .authentication, message: "the Fanvue login file \(path) is damaged (not the file elena-run saves)",
                request: "token file")
        }
    }

    /// Saves atomically with mode 0600 (the folder is created with 0700).
    package func save(_ tokens: TokenSet) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(tokens), to: path, permissions: 0o600)
    }

    /// Deletes the file.
    package func delete() throws {
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// A durable atomic file replacement: temporary file in the same folder, fsync, rename, fsync of the folder.
enum AtomicFile {
    static func write(_ data: Data, to path: String, permissions: mode_t) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = folder + "/.tmp-\(UInt64.random(in: 0...UInt64.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress?.advanced(by: offset), raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
        ok = ok && fchmod(descriptor, permissions) == 0 && fsync(descriptor) == 0
        close(descriptor)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let folderDescriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }
}
