internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaStore
import ElenaVision
import Foundation

/// `elena-run doctor`: checks that everything a run needs is in place.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check OpenCV, the library, the database, the configuration folder, the face models and the Fanvue login.",
        discussion: """
            Exit code 0 when everything required works, 1 otherwise. Each line says what to do about a problem. \
            The Fanvue login is checked with one read-only request (GET /users/me) unless --offline.

            Examples:
              elena-run doctor
              elena-run doctor --offline --library ~/elena-content-pipeline
            """)

    @Flag(name: .long, help: "Do not call Fanvue to check the login.")
    var offline = false

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

        let layout = options.layout(manifest: nil)
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
        } catch let error as CLIError {
            report(false, "database", error.message)
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
                try detector.load()
                report(true, "face models", "\(folder) (\(detector.identity))")
            } catch {
                report(false, "face models", "\(error)")
            }
            // The identity model: only crop.strategy auto needs it, so its absence is a note.
            if FileManager.default.fileExists(atPath: folder + "/" + SFaceIdentifier.file) {
                do {
                    let identifier = try SFaceIdentifier(modelsFolder: folder)
                    try identifier.load()
                    report(true, "identity model", identifier.identity)
                } catch {
                    report(false, "identity model", "\(error)")
                }
            } else {
                print("note identity model: not installed; crop.strategy auto needs it: run 'make models'")
            }
            do {
                if let persona = try Wiring.sharedPersona() {
                    print("ok   persona: \(persona.references.count) references in the configuration folder (persona.yaml)")
                }
            } catch {
                report(false, "persona", "\(error)")
            }
        } else {
            let searched = MediaPipeFaceDetector.candidateFolders(environment: Wiring.environment, executable: Wiring.executablePath)
            print(
                "note face models: not installed; the no_face, lips_only and auto strategies need them: run 'make models' "
                    + "(looked in " + searched.joined(separator: ", ") + ")")
        }
        await checkFanvue(report)
        if failed { throw ExitCode(1) }
    }

    /// The Fanvue settings and login: optional (only a fanvue target needs them), but broken ones are failures.
    func checkFanvue(_ report: (Bool, String, String) -> Void) async {
        let configuration: FanvueConfiguration?
        do {
            configuration = try Wiring.fanvueConfiguration()
        } catch let error as CLIError {
            report(false, "fanvue", error.message)
            return
        } catch {
            report(false, "fanvue", "\(error)")
            return
        }
        guard let configuration else {
            print("note fanvue: not configured (only publish.to: fanvue needs it); see `elena-run auth --help`")
            return
        }
        let store = TokenStore(configFolder: Wiring.configFolder)
        let tokens: TokenSet?
        do {
            tokens = try store.load()
        } catch {
            report(false, "fanvue", "\(error)")
            return
        }
        guard let tokens else {
            print("note fanvue: app \(configuration.clientID) at \(configuration.apiURL), not logged in: run `elena-run auth login`")
            return
        }
        guard !offline else {
            report(true, "fanvue", "app \(configuration.clientID), token file \(store.path) (mode 600); \(tokens.summary)")
            return
        }
        let client = FanvueClient(
            configuration: configuration, tokens: TokenProvider(store: store, oauth: OAuthClient(configuration: configuration)),
            logger: Wiring.logger("elena.fanvue"))
        do {
            let account = try await client.account
            report(true, "fanvue", "logged in as account \(account) at \(configuration.apiURL); token file \(store.path) (mode 600)")
        } catch {
            report(false, "fanvue", "the login does not work (\(error)); run `elena-run auth login` again")
        }
    }
}
