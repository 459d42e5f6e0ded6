import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The ledger's database and the library's disk failing under a 60-image drop run by the real binary: a
/// PostgreSQL server restarted, crashed for longer than the run waits, cut, or frozen; a full disk; a read-only
/// library; a SQLite ledger locked by a `sqlite3` shell. Each time: no hang (every wait is bounded here), one
/// clear line, nothing lost, no half-written file, and the next run completes. Seeds are printed;
/// `ELENA_FAULT_SEED` replays one.
@Suite(.serialized) struct StoreFaultTests {
    static let images = 60

    /// A 60-image folder drop whose library and ledger the test chooses.
    struct FaultDrop {
        let folder: TemporaryDirectory
        var library: String
        var database: String?
        var environment: [String: String] = [:]

        static func make(library: String? = nil, database: String? = nil) throws -> FaultDrop {
            let folder = try TemporaryDirectory("elena-fault")
            try SourceFixtures.writeImages(into: folder, count: StoreFaultTests.images, width: 480, height: 640)
            try folder.write(
                """
                version: 1
                drop: faults
                source: {dir: src}
                crop: {strategy: top_fraction, top_fraction: 0.3, aspect: "4:5"}
                publish: {to: folder, vault: elena-ppv, price: 12.00}
                """, to: "drop.yaml")
            return FaultDrop(folder: folder, library: library ?? folder("library"), database: database)
        }

        var runner: CommandLineRunner {
            var environment = self.environment
            environment["ELENA_LIBRARY"] = library
            environment["ELENA_CONFIG_DIR"] = folder("config")
            if let database { environment["DATABASE_URL"] = database }
            return CommandLineRunner(environment: environment, workingDirectory: folder.path)
        }

        func run(_ arguments: [String] = []) async throws -> CommandLineRunner.Result {
            try await runner.run(["drop.yaml"] + arguments)
        }

        func start(_ arguments: [String] = []) throws -> RunningCommand {
            try runner.start(["drop.yaml", "--jobs", "1"] + arguments, logPath: folder("run-\(UUID().uuidString.prefix(6)).log"))
        }

        func count(_ folderName: String) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: library + "/" + folderName + "/faults")) ?? [])
                .filter { !$0.hasPrefix(".") }.count
        }

        /// Half-written files left anywhere in the library.
        var leftovers: [String] {
            (FileManager.default.subpaths(atPath: library) ?? []).filter { PathText.lastComponent($0).hasPrefix(".tmp-") }
        }

        /// Waits until at least `crops` crops exist (or the run ended); whether the run still runs.
        func waitForCrops(_ crops: Int, of process: RunningCommand) async throws -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && count("2_cropped") < crops && Date() < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            return process.isRunning
        }
    }

    static func seed() -> UInt64 {
        ProcessInfo.processInfo.environment["ELENA_FAULT_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
    }

    /// The run has finished within `seconds` (else it hung: killed, and the test fails with its log).
    static func finished(_ process: RunningCommand, within seconds: Double) async -> Int32? {
        if let code = await process.wait(atMost: seconds) { return code }
        let log = process.log
        process.kill()
        await process.wait()
        Issue.record("the run did not finish within \(Int(seconds)) s (it hung); its log:\n\(log)")
        return nil
    }

    /// After the fault is gone: the next run completes with every item in review, nothing redone twice, no
    /// half-written file; and the database holds one item row per image.
    static func nextRunCompletes(_ drop: FaultDrop, store url: String, _ context: String) async throws {
        let next = try await drop.run(["--json"])
        #expect(next.exitCode == 3, "the next run completes to the review gate (\(context))\n\(next)")
        let document = try JSONValue.parse(next.standardOutput)
        #expect(document["waiting_for_review"]?.arrayValue?.count == images, "\(context): \(next.standardOutput.prefix(600))")
        #expect(document["failures"]?.arrayValue?.isEmpty == true, "\(context)")
        #expect(drop.count("3_review") == images, "\(context): every image has its review copy")
        #expect(drop.count("2_cropped") == images, "\(context): one crop per image")
        #expect(drop.leftovers.isEmpty, "\(context): no half-written file: \(drop.leftovers)")
        let store = try await SQLRunStore.open(try DatabaseURL(parsing: url), readOnly: false)
        let items = try await store.items(drop: "faults")
        #expect(items.count == images, "\(context): one item row per image")
        #expect(items.allSatisfy { $0.status == .inReview }, "\(context): \(Set(items.map(\.status)))")
        if store.database.dialect == .sqlite {
            let check = try await store.database.query("PRAGMA integrity_check")
            #expect(check.first?.string("integrity_check") == "ok", "\(context): \(check)")
        } else {
            let invalid = try await store.database.query("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid")
            #expect(invalid.first?.int("n") == 0, "\(context)")
        }
        await store.close()
    }

    /// No raw driver text, errno dump or password reaches the user.
    static func wordsOnly(_ text: String, password: String? = nil, _ context: String) {
        // ELENA_TRACE_DB=1 (diagnosing a failure of these tests) prints the driver's detail on "db: " lines.
        let text = text.split(separator: "\n").filter { !$0.hasPrefix("db: ") }.joined(separator: "\n")
        for raw in ["PSQLError", "Generic description", "errno", "serverClosedConnection", "String(reflecting"] {
            #expect(!text.contains(raw), "\(context): '\(raw)' reached the user:\n\(text)")
        }
        if let password { #expect(!text.contains(password), "\(context): the password was printed") }
    }

    enum Route: String, CaseIterable, CustomStringConvertible {
        case direct, pooler
        var description: String { rawValue }
    }

    // MARK: PostgreSQL

    @Test(arguments: Route.allCases)
    func aPostgreSQLRestartAndACutConnectionMidDropAreWaitedForAndTheRunCompletes(_ route: Route) async throws {
        let seed = Self.seed()
        print("postgres restart mid-drop (\(route)): seed \(seed) (replay with ELENA_FAULT_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        let server = try await ScratchPostgres.start(pooler: route == .pooler)
        try await withCleanup({ await server.remove() }) {
            let url = route == .pooler ? try #require(server.poolerURL) : server.url
            let drop = try FaultDrop.make(database: url)
            defer { drop.folder.remove() }
            let password = URLComponents(string: server.url)?.password

            let process = try drop.start()
            let restartAt = Int.random(in: 3...20, using: &random)
            let cutAt = Int.random(in: (restartAt + 5)...45, using: &random)
            // The run is frozen while the server restarts, so the fault lands mid-run however busy the machine is.
            #expect(try await drop.waitForCrops(restartAt, of: process), "the run was still going at the restart")
            try await process.paused { try await server.restart() }
            let cutWhileRunning = try await drop.waitForCrops(cutAt, of: process)
            try await process.paused { try await server.cutConnections() }
            let code = await Self.finished(process, within: 60)
            let log = process.log
            #expect(code == 3, "the run went on to the review gate after the restart (restart at \(restartAt) crops, cut at \(cutAt)); log:\n\(log)")
            if route == .direct {
                // Lost mid-operation (waited for) or between two (found closed): said on one line either way.
                #expect(
                    log.contains("ledger database: lost the connection to") && log.contains("ledger database: back after")
                        || log.contains("ledger database: the connection to postgres://test@127.0.0.1"),
                    "the loss and the return are said:\n\(log)")
            }
            #expect(!log.contains("error:"), "no item failed:\n\(log)")
            Self.wordsOnly(log, password: password, "restart")
            print("restart at \(restartAt) crops, cut at \(cutAt) (run still going: \(cutWhileRunning))")
            try await Self.nextRunCompletes(drop, store: url, "after a restart")
        }
    }

    @Test func aPostgreSQLServerGoneLongerThanTheRunWaitsStopsItCleanlyAndTheNextRunCompletes() async throws {
        let seed = Self.seed()
        print("postgres gone: seed \(seed) (replay with ELENA_FAULT_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        let server = try await ScratchPostgres.start()
        try await withCleanup({ await server.remove() }) {
            var drop = try FaultDrop.make(database: server.url)
            defer { drop.folder.remove() }
            drop.environment["ELENA_DB_WAIT"] = "2"
            let password = URLComponents(string: server.url)?.password

            let process = try drop.start()
            let crashAt = Int.random(in: 3...40, using: &random)
            #expect(try await drop.waitForCrops(crashAt, of: process))
            try await process.paused { try await server.crash() }
            let code = await Self.finished(process, within: 60)
            let log = process.log
            #expect(code == 1, "exit 1 once the database stayed away past ELENA_DB_WAIT; log:\n\(log)")
            #expect(log.contains("Stopped early: lost the ledger database at postgres://test@127.0.0.1"), "\(log)")
            #expect(log.contains("nothing was lost; run again when it is back"), "\(log)")
            #expect(log.contains("drop faults: 60 items"), "the summary so far is printed:\n\(log)")
            let errorLines = log.split(separator: "\n").filter { $0.hasPrefix("error:") }
            #expect(errorLines.count == 1, "one line for the lost database, not one per item:\n\(errorLines.joined(separator: "\n"))")
            Self.wordsOnly(log, password: password, "gone")

            try await server.revive()
            try await Self.nextRunCompletes(drop, store: server.url, "after the database came back (crash at \(crashAt))")
        }
    }

    /// SIGTERM and Ctrl-C end a run at once, whatever it waits on: a database that refuses connections (the run
    /// is in its reconnect wait) or one that stopped answering without closing anything (a frozen server: the
    /// query never returns).
    @Test(arguments: ["refusing", "frozen"])
    func aSignalEndsARunWaitingForItsDatabasePromptly(_ how: String) async throws {
        let server = try await ScratchPostgres.start()
        try await withCleanup({ await server.remove() }) {
            var drop = try FaultDrop.make(database: server.url)
            defer { drop.folder.remove() }
            drop.environment["ELENA_DB_WAIT"] = "600"

            let process = try drop.start()
            #expect(try await drop.waitForCrops(8, of: process))
            let postmaster = try Self.postmaster(server)
            try await process.paused {
                if how == "refusing" {
                    try await server.crash()
                } else {
                    Self.freeze(postmaster, true)
                }
            }
            // The run is now stuck on the database: it still runs a second later.
            try await Task.sleep(for: .seconds(1))
            #expect(process.isRunning, "the run waits for its database")
            // SIGTERM for one, Ctrl-C's SIGINT for the other: both end the run.
            let signal = how == "frozen" ? "Ctrl-C (SIGINT)" : "SIGTERM"
            if how == "frozen" { process.interrupt() } else { process.terminate() }
            let code = await process.wait(atMost: 10)
            if how == "frozen" { Self.freeze(postmaster, false) }
            #expect(code != nil, "\(signal) ended the run within 10 s (\(how)); log:\n\(process.log)")
            if code == nil {
                process.kill()
                await process.wait()
            }
            #expect(process.wasKilled, "it ends by the signal")
            #expect(process.log.contains("elena-run: stopped by \(signal)"), "and says so:\n\(process.log)")

            if how == "refusing" { try await server.revive() }
            try await Self.nextRunCompletes(drop, store: server.url, "after \(signal) (\(how))")
        }
    }

    /// The server's main process id, from its pid file.
    static func postmaster(_ server: ScratchPostgres) throws -> pid_t {
        let text = try String(contentsOfFile: server.folder + "/data/postmaster.pid", encoding: .utf8)
        return try #require(text.split(separator: "\n").first.flatMap { pid_t($0) })
    }

    /// SIGSTOP (or SIGCONT) to the server and every process it started.
    static func freeze(_ postmaster: pid_t, _ frozen: Bool) {
        let signal = frozen ? SIGSTOP : SIGCONT
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        for pid in pids { kill(pid, signal) }
    }

    // MARK: The library's disk

    /// A size-limited tmpfs mounted for the test (the tests run as root, as `make test` does on the build machines).
    final class SmallDisk: Sendable {
        let path: String
        init(megabytes: Int) async throws {
            path = NSTemporaryDirectory() + "elena-disk-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try await Self.mount(["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        }
        func remount(_ options: String) async throws { try await Self.mount(["-o", "remount," + options, path]) }
        /// Unmounts (lazily, so a file still open does not keep it) and deletes the mount point.
        func remove() async {
            try? await Self.mount(["-l", path], command: "/bin/umount")
            try? FileManager.default.removeItem(atPath: path)
        }
        static func mount(_ arguments: [String], command: String = "/bin/mount") async throws {
            let result = try await Subprocess.run(command, arguments)
            guard result.status == 0 else {
                throw StoreError(
                    "\(command) \(arguments.joined(separator: " ")) failed (status \(result.status): \(result.error)); "
                        + "the fault tests need root, as make test runs on the build machines")
            }
        }
    }

    @Test func aFullDiskStopsTheRunWithOneLineAndTheNextRunCompletesOnceThereIsSpace() async throws {
        let disk = try await SmallDisk(megabytes: 3)
        try await withCleanup({ await disk.remove() }) {
            // The library and its SQLite ledger both on the small disk: the ledger's writes fail too.
            let drop = try FaultDrop.make(library: disk.path + "/library")
            defer { drop.folder.remove() }
            let first = try await drop.run()
            #expect(first.exitCode == 1, "the disk filled up\n\(first)")
            let lines = first.standardError.split(separator: "\n").filter { !$0.hasPrefix("progress:") }
            let full = lines.filter { $0.contains("is full") }
            #expect(full.count == 1, "one line for the full disk, not one per item and step:\n\(first.standardError)")
            // The first write to fail names its folder and the space: an image (needed and free) or the ledger (free).
            #expect(full.first?.contains("the disk holding \(disk.path)/library") == true && full.first?.contains("free") == true, "\(full)")
            if full.first?.contains("ledger") == false { #expect(full.first?.contains("needs") == true, "\(full)") }
            #expect(lines.count <= 3, "the full disk, the stop, nothing else:\n\(first.standardError)")
            #expect(first.standardOutput.contains("Stopped early: the disk holding \(disk.path)/library"), "\(first.standardOutput)")
            #expect(first.standardOutput.contains("not started"), "\(first.standardOutput)")
            Self.wordsOnly(first.standardOutput + first.standardError, "full disk")
            #expect(drop.leftovers.isEmpty, "no half-written file: \(drop.leftovers)")
            let reviewed = drop.count("3_review")
            #expect(reviewed > 0 && reviewed < Self.images, "some items got through before the disk filled (\(reviewed))")

            try await disk.remount("size=300m")
            try await Self.nextRunCompletes(drop, store: disk.path + "/library/elena.db", "after the disk grew")
        }
    }

    @Test func aReadOnlyLibraryIsRefusedBeforeAnyWork() async throws {
        let disk = try await SmallDisk(megabytes: 4)
        try await withCleanup({ await disk.remove() }) {
            try FileManager.default.createDirectory(atPath: disk.path + "/library", withIntermediateDirectories: true)
            try await disk.remount("ro")
            let drop = try FaultDrop.make(library: disk.path + "/library")
            defer { drop.folder.remove() }
            let result = try await drop.run()
            #expect(result.exitCode == 4, "refused before starting\n\(result)")
            #expect(
                result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                    == "error: the library \(disk.path)/library is on a read-only file system; make it writable (or choose another with --library) and run again",
                "\(result.standardError)")
            #expect(result.standardOutput.isEmpty)
        }
    }

    @Test func aLibraryRemountedReadOnlyMidRunStopsItAndTheNextRunCompletes() async throws {
        let seed = Self.seed()
        print("read-only mid-run: seed \(seed) (replay with ELENA_FAULT_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        let disk = try await SmallDisk(megabytes: 200)
        try await withCleanup({ await disk.remove() }) {
            // The ledger off the disk: a mounted file system with a file open for writing cannot become read-only.
            let ledger = try TemporaryDirectory("elena-fault-ledger")
            defer { ledger.remove() }
            let drop = try FaultDrop.make(library: disk.path + "/library", database: ledger("elena.db"))
            defer { drop.folder.remove() }
            let process = try drop.start()
            let at = Int.random(in: 3...30, using: &random)
            #expect(try await drop.waitForCrops(at, of: process))
            // A write in progress makes the remount fail (busy): try until it lands between two writes.
            var remounted = false
            for _ in 0..<400 where !remounted && process.isRunning {
                remounted = await process.paused { (try? await disk.remount("ro")) != nil }
                if !remounted { try await Task.sleep(for: .milliseconds(5)) }
            }
            let code = await Self.finished(process, within: 60)
            let log = process.log
            if remounted {
                #expect(code == 1, "the read-only library stopped the run\n\(log)")
                let lines = log.split(separator: "\n").filter { $0.contains("read-only file system") && $0.hasPrefix("error:") }
                #expect(lines.count == 1, "one line:\n\(log)")
                #expect(log.contains("Stopped early: \(disk.path)/library/"), "\(log)")
                Self.wordsOnly(log, "read-only")
                try await disk.remount("rw")
            } else {
                Issue.record("the library could not be made read-only while the run wrote (seed \(seed))")
            }
            try await Self.nextRunCompletes(drop, store: ledger("elena.db"), "after the library was writable again")
        }
    }

    // MARK: SQLite held by another process

    /// A `sqlite3` shell holding the ledger's write lock for `seconds`; its process id (`Subprocess.wait` reaps it).
    static func holdLock(_ path: String, seconds: Int) throws -> pid_t {
        try Subprocess.start(
            "/usr/bin/sqlite3", [path, "BEGIN IMMEDIATE;", "CREATE TABLE IF NOT EXISTS held (x);", ".shell sleep \(seconds)", "COMMIT;"])
    }

    @Test func aSQLiteLedgerLockedByAnotherProcessIsWaitedForNamingItAndNeverCorrupted() async throws {
        var drop = try FaultDrop.make()
        defer { drop.folder.remove() }
        let ledger = drop.library + "/elena.db"
        #expect(try await drop.run().exitCode == 3)
        try FileManager.default.removeItem(atPath: drop.library + "/2_cropped")  // work for the next run

        // Held longer than the run waits: it stops, naming the shell.
        drop.environment["ELENA_DB_WAIT"] = "2"
        let long = try Self.holdLock(ledger, seconds: 8)
        try await Task.sleep(for: .milliseconds(300))
        let refused = try await drop.run()
        #expect(refused.exitCode == 4 || refused.exitCode == 1, "\(refused)")
        #expect(refused.standardError.contains("locked by sqlite3 (pid \(long))"), "names the holder:\n\(refused.standardError)")
        #expect(refused.standardError.contains("nothing was lost"), "\(refused.standardError)")
        Self.wordsOnly(refused.standardOutput + refused.standardError, "locked")
        await Subprocess.wait(long)

        // Held for less than the run waits: it waits, says who it waits for, and completes.
        drop.environment["ELENA_DB_WAIT"] = "30"
        let process = try drop.start()
        #expect(try await drop.waitForCrops(3, of: process))
        let short = try await process.paused {
            let pid = try Self.holdLock(ledger, seconds: 3)
            try await Task.sleep(for: .milliseconds(300))  // the shell has the lock
            return pid
        }
        let heldWhileRunning = process.isRunning
        let code = await Self.finished(process, within: 60)
        await Subprocess.wait(short)
        #expect(code == 3, "\(process.log)")
        if heldWhileRunning {
            #expect(process.log.contains("is locked by sqlite3 (pid \(short)); waiting up to 30 s"), "\(process.log)")
        }
        #expect(!process.log.contains("error:"), "\(process.log)")
        try await Self.nextRunCompletes(drop, store: ledger, "after the lock was let go")
    }
}
