/// Pure path arithmetic on strings: `~` expansion and resolving against a base folder. No file system access.
package enum PathText {
    /// Expands a leading `~` and makes `path` absolute against `base`, then normalises `.` and `..`.
    /// - Parameters:
    ///   - path: as written by the user.
    ///   - base: an absolute folder (the manifest's folder, or the working directory).
    ///   - home: the user's home folder.
    package static func resolve(_ path: String, relativeTo base: String, home: String) -> String {
        var expanded = path
        if expanded == "~" {
            expanded = home
        } else if expanded.hasPrefix("~/") {
            expanded = home + expanded.dropFirst(1)
        }
        if !expanded.hasPrefix("/") { expanded = base + "/" + expanded }
        return normalize(expanded)
    }

    /// Removes `.` and empty components and applies `..`.
    package static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The folder part of a path (`/a/b/c.yaml` → `/a/b`).
    package static func directory(of path: String) -> String {
        // `/` is one byte that never occurs inside another character's UTF-8: found among the bytes, not by walking
        // characters (a drop of 100,000 files asks this for every file).
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path.utf8[..<slash]) ?? String(path[..<slash])
    }

    /// The last component (`/a/b/c.png` → `c.png`).
    package static func lastComponent(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        let after = path.utf8.index(after: slash)
        return String(path.utf8[after...]) ?? String(path[after...])
    }

    /// Splits `name.ext` into (`name`, `ext`); the extension is empty when there is none.
    package static func splitExtension(_ name: String) -> (stem: String, ext: String) {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }

    /// `path` relative to `base` when it lies inside it, else `path` unchanged.
    package static func relative(_ path: String, to base: String) -> String {
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// Whether a relative path stays inside the folder it is relative to: not absolute, no `..`, no empty name.
    package static func isSafeRelative(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.contains("\0")
            && path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != ".." && $0 != "." }
    }
}
