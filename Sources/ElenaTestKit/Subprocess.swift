package import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Helper programs started with posix_spawn and waited for with waitpid, their output through files. Foundation's
/// `Process` left a script that had started a daemon (scripts/postgres start) as a zombie whose termination handler
/// never ran, so a test waited forever; this has no monitor thread to miss an exit.
package enum Subprocess {
    /// What a program did.
    package struct Result: Sendable {
        /// The exit status (128 + n when ended by signal n).
        package var status: Int32
        package var output: String
        package var error: String
    }

    /// The id of a process that ran and has ended (`/bin/true`, waited for): a pid no process holds now, like a
    /// killed writer's in the name of the file it left.
    package static func endedProcessID() throws -> pid_t {
        let pid = try start("/bin/true", [])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return pid
    }

    /// Starts `command arguments…` with the current environment plus `environment`, standard input from /dev/null
    /// and its output into the files named (created or truncated); returns its process id without waiting.
    /// - Parameters:
    ///   - replacingEnvironment: when true, `environment` is the child's whole environment.
    ///   - directory: the child's working directory (nil: this process's).
    ///   - append: output and error are appended to (not truncated).
    package static func start(
        _ command: String, _ arguments: [String], environment: [String: String] = [:], replacingEnvironment: Bool = false,
        directory: String? = nil, output: String = "/dev/null", error: String = "/dev/null", append: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, mode, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, error, mode, 0o600)
        // The child gets none of this process's other descriptors (the tests' servers' sockets, database files).
        _ = addCloseFrom.map { $0(&actions, 3) }
        // A relative path names a program from here, as Foundation's Process took it: the child's chdir below must
        // not move it (glibc applies the file actions before it looks for the program).
        let path = command.contains("/") && !command.hasPrefix("/")
            ? FileManager.default.currentDirectoryPath + "/" + command : command
        var argvList = [path] + arguments
        if let directory {
            if let addChdir {
                _ = addChdir(&actions, directory)
            } else {
                argvList = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + argvList
            }
        }
        let program = argvList[0]
        let argv = argvList.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let base = replacingEnvironment ? [:] : ProcessInfo.processInfo.environment
        let variables = base.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in variables { free(pointer) } }
        // The child starts with no signal blocked and default handlers: a test's threads block every signal, and a
        // daemon started with that mask (pgbouncer, by scripts/postgres) could never be stopped with SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        for signal in [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        var spawned = posix_spawn(&pid, program, &actions, &attributes, argv, variables)
        // A program written a moment ago (a test copies the binary into a folder of its own) can still be open for
        // writing in a child another thread started meanwhile, until that child closes what it inherited: its exec
        // fails with ETXTBSY ("Text file busy") for that moment. It is tried again, as Go's os/exec does.
        var tries = 1
        while spawned == ETXTBSY && tries < 40 {
            usleep(50_000)
            spawned = posix_spawn(&pid, program, &actions, &attributes, argv, variables)
            tries += 1
        }
        guard spawned == 0 else {
            throw CocoaError(
                .fileReadUnknown,
                userInfo: [NSLocalizedDescriptionKey: "cannot start \(command): \(String(cString: strerror(spawned)))"])
        }
        return pid
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    /// glibc's (2.29 and 2.34) `posix_spawn_file_actions_addchdir_np` and `…_addclosefrom_np`, which Swift's Glibc
    /// module does not declare: looked up once.
    private static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map {
        unsafeBitCast($0, to: AddChdir.self)
    }
    private static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: AddCloseFrom.self)
    }

    /// Waits for a child `start` began to end, without blocking a thread; its exit status.
    @discardableResult
    package static func wait(_ pid: pid_t) async -> Int32 {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped == -1 && errno != EINTR { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `command arguments…` to its end (see `start`); what it printed and its status.
    package static func run(_ command: String, _ arguments: [String], environment: [String: String] = [:]) async throws
        -> Result
    {
        let folder = NSTemporaryDirectory() + "elena-subprocess-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pid = try start(command, arguments, environment: environment, output: folder + "/out", error: folder + "/err")
        let status = await wait(pid)
        func read(_ name: String) -> String { (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? "" }
        return Result(status: status, output: read("out"), error: read("err"))
    }
}
