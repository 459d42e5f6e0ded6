internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaStore
import ElenaVision
import Foundation

/// `elena-run doctor`: checks that everything a run needs is in place.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check OpenCV, the library, the database and the configuration folder.",
        discussion: "Exit code 0 when everything required works, 1 otherwise. Each line says what to do about a problem.")

    @OptionGroup var options: LibraryOptions

    func run() async throws {
        var failed = false
        func report(_ ok: Bool, _ what: String, _ detail: String) {
            print("\(ok ? "ok  " : "FAIL") \(what): \(detail)")
            if !ok { failed = true }
        }

        let codec = OpenCVCodec()
        do {
            let image = try OpenCVCodec.image(bgr: [UInt8](repeating: 128, count: 8 * 8 * 3), width: 8, height: 8)
            let data = try image.encode(PixelRect(x: 0, y: 0, width: 8, height: 8), format: .jpeg, quality: 90)
            let header = try ImageHeader.read(data)
            let decoded = try codec.decode(data, header: header, limits: .standard)
            report(decoded.width == 8, "opencv", "\(codec.identity): encode and decode work")
        } catch {
            report(false, "opencv", "\(error) — install libopencv-dev (make deps)")
        }

        let layout = LibraryLayout(root: Wiring.libraryRoot(option: options.library, manifest: nil))
        if FileSystem.isDirectory(layout.root) {
            let writable = FileManager.default.isWritableFile(atPath: layout.root)
            report(writable, "library", "\(layout.root)\(writable ? "" : " is not writable")")
        } else {
            print("ok   library: \(layout.root) does not exist yet; the first run creates it")
        }

        do {
            let url = try Wiring.databaseURL(option: options.database, layout: layout)
            if case .sqlite(let path) = url.kind, !FileManager.default.fileExists(atPath: path) {
                print("ok   database: \(url) does not exist yet; the first run creates it")
            } else {
                let database: any SQLDatabase
                switch url.kind {
                case .sqlite(let path): database = try SQLiteDatabase.openSnapshot(of: path)
                case .postgres: database = try await PostgresDatabase.connect(url)
                }
                let version = try await Migrator.currentVersion(database)
                await database.close()
                let latest = Migrator.latestVersion
                if version > latest {
                    report(false, "database", "\(url) is at schema \(version), newer than this elena-run (\(latest))")
                } else {
                    report(
                        true, "database",
                        "\(url) at schema \(version)\(version < latest ? " (will be upgraded to \(latest) on the next run)" : "")")
                }
            }
        } catch {
            report(false, "database", "\(error)")
        }

        let config = Wiring.environment["ELENA_CONFIG_DIR"].map { PathText.resolve($0, relativeTo: Wiring.workingDirectory, home: Wiring.home) }
            ?? PathText.resolve("~/.config/elena-run", relativeTo: Wiring.workingDirectory, home: Wiring.home)
        if FileSystem.isDirectory(config) {
            let attributes = try? FileManager.default.attributesOfItem(atPath: config)
            let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? 0
            report(mode & 0o077 == 0, "config", "\(config)\(mode & 0o077 == 0 ? "" : String(format: " is readable by others (mode %o); run chmod 700", mode))")
        } else {
            print("ok   config: \(config) does not exist yet (created by `elena-run auth login`)")
        }
        if let folder = Wiring.modelsFolder {
            do {
                let detector = try MediaPipeFaceDetector(modelsFolder: folder)
                report(true, "face models", "\(folder) (\(detector.identity))")
            } catch {
                report(false, "face models", "\(error)")
            }
        } else {
            print("note face models: not installed; the no_face and lips_only strategies need them: run 'make models'")
        }
        if failed { throw ExitCode(1) }
    }
}
