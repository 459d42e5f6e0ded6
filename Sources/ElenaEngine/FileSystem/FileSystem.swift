package import ElenaCore
package import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file-system failure, naming the path and what was being done. A full disk and a read-only file system are
/// said in words with what to do, and stop the run (`stopReason`): every later write would fail the same way.
package struct FileSystemError: RunStopping, Sendable, CustomStringConvertible {
    /// What was being done, e.g. "write".
    package var operation: String
    /// The path concerned.
    package var path: String
    /// The system's reason.
    package var reason: String
    /// The `errno` value, when the failure came from the system.
    package var code: Int32?
    /// Bytes the operation needed to write, when known.
    package var needed: Int?

    /// Creates an error.
    package init(operation: String, path: String, reason: String, code: Int32? = nil, needed: Int? = nil) {
        self.operation = operation
        self.path = path
        self.reason = reason
        self.code = code
        self.needed = needed
    }

    /// `cannot write /path: Permission denied`; for a full or read-only disk, the sentence of `stopReason`.
    package var description: String { stopReason ?? "cannot \(operation) \(path): \(reason)" }

    package var stopReason: String? {
        let folder = PathText.directory(of: path)
        switch code {
        case ENOSPC?, EDQUOT?:
            var space = ""
            if let needed { space = "it needs \(FileSystem.text(bytes: needed))" }
            if let free = FileSystem.freeBytes(folder) {
                space += (space.isEmpty ? "" : ", ") + "\(FileSystem.text(bytes: free)) \(free == 0 ? "is" : "are") free"
            }
            return "the disk holding \(folder) is full (cannot \(operation) \(PathText.lastComponent(path))"
                + (space.isEmpty ? "" : "; \(space)") + "); free some space and run again"
        case EROFS?:
            return "\(folder) is on a read-only file system (cannot \(operation) \(PathText.lastComponent(path))); "
                + "make it writable and run again"
        default:
            return nil
        }
    }

}

/// The file operations the engine and stages need, on the real file system. Plain functions over paths; every
/// failure says which path and operation.
package enum FileSystem {
    /// "1.2 MB": a size in the words of messages and reports.
    package static func text(bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) bytes" }
        if bytes < 1024 * 1024 { return String(format: "%.0f KB", Double(bytes) / 1024) }
        return String(format: "%.1f MB", Double(bytes) / 1024 / 1024)
    }

    static func failure(_ operation: String, _ path: String, _ code: Int32 = errno, needed: Int? = nil) -> FileSystemError {
        FileSystemError(operation: operation, path: path, reason: String(cString: strerror(code)), code: code, needed: needed)
    }

    /// Bytes an unprivileged writer may still use on the file system holding `folder` (nil when unknown).
    package static func freeBytes(_ folder: String) -> Int? {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Whether `folder` is on a file system mounted read-only.
    package static func isReadOnlyFileSystem(_ folder: String) -> Bool {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return false }
        return info.f_flag & UInt(ST_RDONLY) != 0
    }

    /// The stamp of a regular file, or nil when it does not exist or is not a regular file.
    package static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return stamp(of: info)
    }

    /// Reads the stamps of many files in a few folders: each folder is opened once and its files are looked up by
    /// name in it, instead of walking every file's whole path from the root (a no-op rerun of 100,000 items checks
    /// the stamps of 200,000 recorded files). A stamp is what `stamp(_:)` gives; a file whose folder cannot be opened
    /// has none.
    package final class StampReader {
        /// Every folder opened so far, by its path's bytes.
        private var folders: [[UInt8]: Int32] = [:]
        /// The few folders used last, compared byte for byte before any hashing: a run's artifacts lie in a few
        /// folders, and splitting and hashing each path as a `String` took a third of the time outside the calls.
        private var recent: [(path: [UInt8], descriptor: Int32)] = []

        /// A reader with no folder open yet.
        package init() {}

        deinit {
            for descriptor in folders.values where descriptor >= 0 { close(descriptor) }
        }

        /// The stamp of the regular file at an absolute path, or nil.
        package func stamp(_ path: String) -> FileStamp? {
            path.withCString { start -> FileStamp? in
                guard let slash = strrchr(start, Int32(UInt8(ascii: "/"))), slash != start else {
                    return FileSystem.stamp(path)
                }
                let length = UnsafePointer(slash) - start
                let descriptor = descriptor(of: UnsafeRawBufferPointer(start: start, count: length))
                guard descriptor >= 0 else { return nil }
                var info = stat()
                guard fstatat(descriptor, slash + 1, &info, 0) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
                return FileSystem.stamp(of: info)
            }
        }

        /// The open folder at `path` (its bytes), opening it the first time; negative when it cannot be opened.
        private func descriptor(of path: UnsafeRawBufferPointer) -> Int32 {
            for folder in recent where folder.path.count == path.count {
                if folder.path.withUnsafeBytes({ memcmp($0.baseAddress!, path.baseAddress!, path.count) == 0 }) {
                    return folder.descriptor
                }
            }
            let bytes = [UInt8](path)
            let descriptor: Int32
            if let known = folders[bytes] {
                descriptor = known
            } else {
                descriptor = open(String(decoding: bytes, as: UTF8.self), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                folders[bytes] = descriptor
            }
            if recent.count == 4 { recent.removeLast() }
            recent.insert((bytes, descriptor), at: 0)
            return descriptor
        }
    }

    /// The stamp of a file as `stat` described it.
    static func stamp(of info: stat) -> FileStamp {
        #if canImport(Darwin)
            let nanoseconds = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
            let nanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
        return FileStamp(size: Int64(info.st_size), mtimeNanoseconds: nanoseconds, inode: Int64(bitPattern: UInt64(info.st_ino)))
    }

    /// Whether a directory exists at `path`.
    package static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether anything exists at `path`.
    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Reads a whole file.
    package static func read(_ path: String) throws(FileSystemError) -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .uncached)
        } catch {
            var info = stat()
            if lstat(path, &info) != 0, errno == ENOENT {
                throw FileSystemError(operation: "read", path: path, reason: "the file is gone (removed or renamed after the run listed it)")
            }
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            throw FileSystemError(operation: "read", path: path, reason: code.map { String(cString: strerror(Int32($0))) } ?? "\(error.localizedDescription)")
        }
    }

    /// Hashes a file in 1 MiB chunks without holding it in memory.
    package static func digest(_ path: String) throws(FileSystemError) -> Digest {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("read", path) }
        defer { close(descriptor) }
        var builder = DigestBuilder()
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, size)
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if count == 0 { break }
            builder.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return builder.finalize()
    }

    /// Why a folder cannot be made, in words: a file in the way (named), no permission (whose folder), else the
    /// system's words for the error (never Foundation's "The operation could not be completed").
    static func folderProblem(_ path: String, code: Int32?) -> String {
        var prefix = path
        while !prefix.isEmpty && prefix != "/" {
            var info = stat()
            if lstat(prefix, &info) == 0 {
                if info.st_mode & S_IFMT != S_IFDIR { return "\(prefix) is a file, not a folder: move it away or choose another path" }
                break
            }
            prefix = (prefix as NSString).deletingLastPathComponent
        }
        if code == EACCES || code == EPERM {
            return "no permission to write in \(prefix): choose a folder you own, or change its permissions"
        }
        if code == EROFS { return "\(prefix) is on a read-only file system" }
        return code.map { String(cString: strerror($0)) } ?? "the system refused"
    }

    /// Creates a folder and its parents.
    package static func makeDirectory(_ path: String) throws(FileSystemError) {
        if isDirectory(path) { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            // Foundation wraps the system's errno; keep it, so a full or read-only disk is recognised.
            let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
            let code = underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying?.code ?? 0) : nil
            throw FileSystemError(operation: "create folder", path: path, reason: Self.folderProblem(path, code: code), code: code)
        }
    }

    /// The name of a directory entry as `readdir` gave it, read where it is. A record is only as long as its name
    /// (`d_reclen`), not the 256 bytes `d_name` is declared with: copying the field read past the record's end, and
    /// where the entry was the last before unmapped memory the process crashed (now and then, listing the folders of a
    /// big drop).
    package static func entryName(_ entry: UnsafePointer<dirent>) -> UnsafePointer<CChar> {
        UnsafeRawPointer(entry).advanced(by: MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 0).assumingMemoryBound(to: CChar.self)
    }

    /// Deletes the temporary files of `writeAtomically` left in `folder` by writers that were killed (their pid no
    /// longer runs); a live writer's temporary file is left alone. Returns how many were deleted.
    @discardableResult
    package static func removeAbandonedTemporaries(in folder: String) -> Int {
        // A drop's folders hold a file per item: the entries are read as bytes and only a temporary's name becomes a
        // string (Foundation's listing made 300,000 strings for a 100,000-item drop's no-op rerun, 0.15 s).
        guard let directory = opendir(folder) else { return 0 }
        defer { closedir(directory) }
        let prefix = Array(".tmp-".utf8)
        var names: [String] = []
        while let item = readdir(directory) {
            let name = entryName(item)
            // The look stops at the name's end: its terminating zero is no prefix byte.
            let bytes = UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self)
            if prefix.indices.allSatisfy({ bytes[$0] == prefix[$0] }) { names.append(String(cString: name)) }
        }
        var removed = 0
        for name in names {
            let fields = name.dropFirst(5).split(separator: "-", maxSplits: 2)
            guard fields.count == 3, let pid = pid_t(fields[0]), pid > 0 else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH, unlink(folder + "/" + name) == 0 { removed += 1 }
        }
        return removed
    }

    /// Writes data to `path` atomically: a temporary file in the same folder, then a rename, so a reader (or a
    /// killed process) never sees half a file.
    /// - Parameters:
    ///   - permissions: file mode, e.g. 0o600 for secrets.
    ///   - durable: fsync the file and the folder (for files whose loss would lose work, such as tokens).
    package static func writeAtomically(_ data: Data, to path: String, permissions: mode_t = 0o644, durable: Bool = false)
        throws(FileSystemError)
    {
        let folder = PathText.directory(of: path)
        try makeDirectory(folder)
        // The writer's pid is in the name, so a later run can tell a killed writer's leftover from a live one's.
        let temporary = folder + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-" + PathText.lastComponent(path)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw failure("write", path, needed: data.count) }
        var failed: FileSystemError?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress?.advanced(by: offset), raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failed = failure("write", path, needed: raw.count)
                    return
                }
                offset += written
            }
        }
        if failed == nil, fchmod(descriptor, permissions) != 0 { failed = failure("set permissions on", path) }
        if failed == nil, durable, fsync(descriptor) != 0 { failed = failure("sync", path, needed: data.count) }
        // A full disk may show only here (a file system that writes on close); a failed close loses the data too.
        if close(descriptor) != 0, failed == nil { failed = failure("write", path, needed: data.count) }
        if let failed {
            unlink(temporary)
            throw failed
        }
        guard rename(temporary, path) == 0 else {
            let error = failure("rename into", path)
            unlink(temporary)
            throw error
        }
        if durable { syncDirectory(folder) }
    }

    static func syncDirectory(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Puts a copy of `source` at `destination`: a hard link when both are on one file system (no extra space),
    /// else a byte copy written atomically. An existing destination is replaced.
    /// - Returns: true when a hard link was made.
    @discardableResult
    package static func linkOrCopy(_ source: String, to destination: String) throws(FileSystemError) -> Bool {
        try makeDirectory(PathText.directory(of: destination))
        // Named as `writeAtomically` names its temporary files, so a killed run's leftover is recognised and removed.
        let temporary =
            PathText.directory(of: destination) + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-"
            + PathText.lastComponent(destination)
        if link(source, temporary) == 0 {
            guard rename(temporary, destination) == 0 else {
                let error = failure("rename into", destination)
                unlink(temporary)
                throw error
            }
            // When the destination already was a link to the same file, rename does nothing and succeeds (POSIX):
            // the temporary name would stay behind.
            unlink(temporary)
            return true
        }
        try copy(source, to: destination)
        return false
    }

    /// Copies bytes from `source` to `destination` atomically (never a link: the copy may be edited by people).
    package static func copy(_ source: String, to destination: String) throws(FileSystemError) {
        let data = try read(source)
        try writeAtomically(data, to: destination)
    }

    /// Moves a file, creating the destination folder; falls back to copy and delete across file systems.
    package static func move(_ source: String, to destination: String) throws(FileSystemError) {
        try makeDirectory(PathText.directory(of: destination))
        if rename(source, destination) == 0 { return }
        guard errno == EXDEV else { throw failure("move", source) }
        try copy(source, to: destination)
        unlink(source)
    }

    /// Deletes a file if it exists.
    package static func remove(_ path: String) throws(FileSystemError) {
        if unlink(path) != 0, errno != ENOENT { throw failure("delete", path) }
    }

    /// One entry found by `walk`.
    package struct Entry: Sendable {
        /// Absolute path.
        package var path: String
        /// Path relative to the walked folder.
        package var relativePath: String
        /// The file's stamp.
        package var stamp: FileStamp
    }

    /// Lists the relative paths of the regular files under `folder`, recursively, without reading their stamps
    /// (the directory entries' types are used, so there is no `stat` per file). Hidden entries are skipped.
    /// - Parameter descend: whether to look into a sub-folder, by its path relative to `folder` (all of them by default).
    package static func listFiles(_ folder: String, descendingInto descend: (String) -> Bool = { _ in true }) -> [String] {
        var found: [String] = []
        var pending: [String] = [""]
        while let relativeFolder = pending.popLast() {
            let absoluteFolder = relativeFolder.isEmpty ? folder : folder + "/" + relativeFolder
            guard let directory = opendir(absoluteFolder) else { continue }
            defer { closedir(directory) }
            while let item = readdir(directory) {
                let name = String(cString: entryName(item))
                if name.hasPrefix(".") { continue }
                let relative = relativeFolder.isEmpty ? name : relativeFolder + "/" + name
                var type = Int32(item.pointee.d_type)
                if type == Int32(DT_UNKNOWN) || type == Int32(DT_LNK) {
                    var info = stat()
                    guard stat(folder + "/" + relative, &info) == 0 else { continue }
                    type = (info.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR) : (info.st_mode & S_IFMT) == S_IFREG ? Int32(DT_REG) : -1
                    if type == Int32(DT_DIR) {
                        var linkInfo = stat()
                        if lstat(folder + "/" + relative, &linkInfo) != 0 || (linkInfo.st_mode & S_IFMT) != S_IFDIR { continue }
                    }
                }
                if type == Int32(DT_DIR) {
                    if descend(relative) { pending.append(relative) }
                } else if type == Int32(DT_REG) {
                    found.append(relative)
                }
            }
        }
        return found.sorted()
    }

    /// Lists the regular files under `folder` (following no symlinked folders), sorted by relative path.
    /// Hidden files and folders (starting with `.`) are skipped.
    /// - Parameter recursive: descend into sub-folders.
    package static func walk(_ folder: String, recursive: Bool) throws(FileSystemError) -> [Entry] {
        try survey(folder, recursive: recursive).entries
    }

    /// What `fstatat` told of a name (`error` 0), or its `errno`.
    private struct Look {
        var mode: mode_t = 0
        var stamp = FileStamp(size: 0, mtimeNanoseconds: 0, inode: 0)
        var error: Int32 = 0
    }

    /// `fstatat` (not following a symbolic link) of each of `names` in the open folder `folder`, in their order. A
    /// folder of many files is looked at by as many threads as there are cores (up to 8): a big drop's discovery
    /// makes 100,000 of these calls, and the kernel answers them side by side.
    private static func lookUp(_ names: [String], in folder: Int32) -> [Look] {
        var looks = [Look](repeating: Look(), count: names.count)
        let threads = names.count < 4_096 ? 1 : max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
        let share = (names.count + threads - 1) / threads
        looks.withUnsafeMutableBufferPointer { looks in
            // Each thread writes its own share of the slots.
            nonisolated(unsafe) let slots = looks
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                for index in (thread * share)..<min(names.count, (thread + 1) * share) {
                    var info = stat()
                    slots[index] =
                        fstatat(folder, names[index], &info, AT_SYMLINK_NOFOLLOW) == 0
                        ? Look(mode: info.st_mode, stamp: stamp(of: info)) : Look(error: errno)
                }
            }
        }
        return looks
    }

    /// Like `walk`, and also says what it could not take and why, instead of skipping it in silence: a sub-folder
    /// it cannot read, a name that is not UTF-8, a dangling symbolic link, a symbolic link to a file outside
    /// `folder` (never followed out). A symbolic link to a file inside `folder` is listed with the file's real path.
    package static func survey(_ folder: String, recursive: Bool) throws(FileSystemError)
        -> (entries: [Entry], problems: [(relativePath: String, reason: String)])
    {
        var entries: [Entry] = []
        var problems: [(relativePath: String, reason: String)] = []
        let root = realPath(folder) ?? folder
        var pending: [String] = [""]
        while let relativeFolder = pending.popLast() {
            let absoluteFolder = relativeFolder.isEmpty ? folder : folder + "/" + relativeFolder
            guard let directory = opendir(absoluteFolder) else {
                if relativeFolder.isEmpty { throw failure("list", folder) }
                problems.append((relativeFolder + "/", "cannot read this folder (\(String(cString: strerror(errno))))"))
                continue
            }
            defer { closedir(directory) }
            var names: [String] = []
            while let item = readdir(directory) {
                let entry = entryName(item)
                let raw = Array(UnsafeRawBufferPointer(start: entry, count: strlen(entry)))
                let name = String(decoding: raw, as: UTF8.self)
                if name.hasPrefix(".") { continue }
                guard Array(name.utf8) == raw else {
                    let relative = relativeFolder.isEmpty ? name : relativeFolder + "/" + name
                    problems.append((relative, "the file name is not valid UTF-8; rename the file"))
                    continue
                }
                names.append(name)
            }
            // One `fstatat` by name within the open folder for an ordinary file or folder (no path walked from the
            // root, no second look); a symbolic link is then followed by its path.
            let looks = lookUp(names, in: dirfd(directory))
            for (name, look) in zip(names, looks) {
                let relative = relativeFolder.isEmpty ? name : relativeFolder + "/" + name
                let absolute = folder + "/" + relative
                guard look.error == 0 else {
                    problems.append((relative, "cannot read it (\(String(cString: strerror(look.error))))"))
                    continue
                }
                let isLink = (look.mode & S_IFMT) == S_IFLNK
                var kind = look.mode & S_IFMT
                if isLink {
                    var info = stat()
                    guard stat(absolute, &info) == 0 else {
                        problems.append((relative, "a symbolic link to a file that does not exist"))
                        continue
                    }
                    kind = info.st_mode & S_IFMT
                }
                if kind == S_IFDIR {
                    if recursive, !isLink { pending.append(relative) }
                } else if kind == S_IFREG {
                    if isLink {
                        guard let target = realPath(absolute), target.hasPrefix(root + "/") else {
                            problems.append((relative, "a symbolic link to a file outside the source folder; not followed"))
                            continue
                        }
                        if let stamp = stamp(target) { entries.append(Entry(path: target, relativePath: relative, stamp: stamp)) }
                    } else {
                        entries.append(Entry(path: absolute, relativePath: relative, stamp: look.stamp))
                    }
                } else {
                    // A pipe, socket or device: reading it could block forever or never end.
                    problems.append((relative, "not a regular file (a pipe, socket or device); not read"))
                }
            }
        }
        return (entries.sorted { $0.relativePath < $1.relativePath }, problems.sorted { $0.relativePath < $1.relativePath })
    }

    /// The canonical absolute path (symbolic links resolved), if the file exists.
    package static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
