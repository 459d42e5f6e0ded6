import Foundation

/// Which files some process has open for writing, read from Linux's `/proc/<pid>/fd` and `fdinfo` (needs no
/// privilege for the user's own processes; root sees every process). A file still open for writing is never read:
/// ComfyUI (or a copy) may be halfway through it, however long it pauses.
package enum OpenWriters {
    /// Real paths of the files under `folders` that are open for writing (`O_WRONLY` or `O_RDWR`).
    package static func paths(under folders: [String]) -> Set<String> {
        let prefixes = folders.compactMap { FileSystem.realPath($0) }.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        guard !prefixes.isEmpty, let processes = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: Set<String> = []
        for pid in processes where !pid.isEmpty && pid.allSatisfy(\.isNumber) {
            let descriptors = "/proc/\(pid)/fd"
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: descriptors) else { continue }
            for descriptor in entries {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: descriptors + "/" + descriptor),
                    prefixes.contains(where: { target.hasPrefix($0) }), !found.contains(target)
                else { continue }
                if isWriting(pid: pid, descriptor: descriptor) { found.insert(target) }
            }
        }
        return found
    }

    /// Whether `/proc/<pid>/fdinfo/<fd>` says the descriptor was opened for writing.
    static func isWriting(pid: String, descriptor: String) -> Bool {
        // procfs files report a size of 0: read to the end rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/fdinfo/\(descriptor)") else { return false }
        defer { try? handle.close() }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
            let flags = Int(line.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        else { return false }
        return flags & 0o3 != 0
    }
}
