import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaStages
import ElenaStore
import ElenaVision
import Foundation
internal import ArgumentParser
import Logging
import Yams

/// A manifest that was read and decoded, with where it came from.
struct LoadedManifest {
    var manifest: Manifest
    /// The path as the user gave it (shown in errors).
    var displayPath: String
    /// Absolute path.
    var path: String
    /// Absolute folder of the manifest.
    var folder: String
    var warnings: [Diagnostic]
    /// The manifest's text, for the source line and caret under a later error.
    var text: String
}

/// Builds the real services from flags and the environment: the one place that knows every module.
enum Wiring {
    /// A logger to standard error at the level `ELENA_LOG` names (trace, debug, info, notice, warning, error,
    /// critical; `--verbose` sets debug); silent when it is unset or names no level.
    static func logger(_ label: String) -> Logger {
        guard let name = ProcessInfo.processInfo.environment["ELENA_LOG"], let level = Logger.Level(rawValue: name.lowercased())
        else { return Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() }) }
        var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        return logger
    }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The running binary's own file: what /proc/self/exe names (a name found on PATH, or a symlink to the
    /// binary, is not where the binary and its models are), else argv[0].
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
    }

    static var home: String { environment["HOME"] ?? NSHomeDirectory() }

    static var workingDirectory: String { FileManager.default.currentDirectoryPath }

    /// Reads and decodes a manifest.
    /// - Throws: `CLIError` with exit code 2 for a missing file or any manifest error.
    static func loadManifest(_ argument: String) throws -> LoadedManifest {
        let path = PathText.resolve(argument, relativeTo: workingDirectory, home: home)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            // A mistyped command reads as a manifest name: say which command was meant.
            let commands = ElenaRunCommand.configuration.subcommands.compactMap { $0.configuration.commandName }
            if !argument.contains("/"), !argument.contains("."), let command = Suggestion.closest(to: argument, in: commands) {
                throw CLIError.usage("'\(argument)' is neither a command nor a manifest file; did you mean `elena-run \(command)`?")
            }
            throw CLIError.usage("\(argument): no such manifest file")
        }
        if isFolder.boolValue {
            let yamls = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
            throw CLIError.usage(
                "\(argument) is a folder; give a manifest file"
                    + (yamls.isEmpty ? " (a drop's .yaml, such as pipelines/demo.yaml)" : ": " + yamls.map { (argument.hasSuffix("/") ? argument : argument + "/") + $0 }.joined(separator: ", ")))
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let data = FileManager.default.contents(atPath: path)
            throw CLIError.usage(
                data == nil
                    ? "\(argument): cannot read the manifest (no permission to read it)"
                    : "\(argument): the manifest is not UTF-8 text (a binary file, or saved as UTF-16?): save it as UTF-8")
        }
        let shared = try sharedPersona()
        do {
            let (manifest, warnings) = try ManifestDecoder.decode(text, file: argument, sharedPersona: shared)
            return LoadedManifest(
                manifest: manifest, displayPath: argument, path: path, folder: PathText.directory(of: path),
                warnings: warnings, text: text)
        } catch {
            throw CLIError.manifest(error)
        }
    }

    /// The persona every drop shares: `<config>/persona.yaml` (`references: [...]`, relative to that folder,
    /// `keep_above`, `lips_above`), or nil. A manifest's own `persona:` wins.
    static func sharedPersona() throws -> PersonaSpec? {
        let path = configFolder + "/persona.yaml"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let mapping: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: text) as? [String: Any] else {
                throw CLIError.usage("\(path): expected references: [photos], keep_above and lips_above")
            }
            mapping = (loaded["persona"] as? [String: Any]) ?? loaded
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.usage(yamlProblem(error, path: path))
        }
        guard let references = mapping["references"] as? [String], references.count >= 2 else {
            throw CLIError.usage("\(path): 'references' must list at least two photos of the persona")
        }
        func number(_ key: String) -> Double? { (mapping[key] as? Double) ?? (mapping[key] as? Int).map(Double.init) }
        return PersonaSpec(
            references: references.map { PathText.resolve($0, relativeTo: configFolder, home: home) },
            keepAbove: number("keep_above") ?? PersonaSpec.defaultKeepAbove,
            lipsAbove: number("lips_above") ?? PersonaSpec.defaultLipsAbove)
    }

    /// The library folder: --library, else $ELENA_LIBRARY, else the manifest's `library:`, else the default.
    static func libraryRoot(option: String?, manifest: LoadedManifest?) -> String {
        if let option { return PathText.resolve(option, relativeTo: workingDirectory, home: home) }
        if let value = environment["ELENA_LIBRARY"], !value.isEmpty {
            return PathText.resolve(value, relativeTo: workingDirectory, home: home)
        }
        if let manifest, let library = manifest.manifest.library {
            return PathText.resolve(library, relativeTo: manifest.folder, home: home)
        }
        return PathText.resolve("~/elena-content-pipeline", relativeTo: workingDirectory, home: home)
    }

    /// The database: --database, else $DATABASE_URL, else the library's SQLite file.
    static func databaseURL(option: String?, layout: LibraryLayout) throws -> DatabaseURL {
        let text = option ?? environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        guard let text else { return DatabaseURL(sqlitePath: layout.defaultDatabase) }
        do {
            var url = try DatabaseURL(parsing: text)
            if case .sqlite(let path) = url.kind {
                url = DatabaseURL(sqlitePath: PathText.resolve(path, relativeTo: workingDirectory, home: home))
            }
            return url
        } catch let error as StoreError {
            throw CLIError.usage("--database / DATABASE_URL: \(error.description)")
        }
    }

    /// Opens the store.
    static func openStore(_ url: DatabaseURL, readOnly: Bool, inPlace: Bool = true) async throws -> SQLRunStore {
        do {
            return try await SQLRunStore.open(url, readOnly: readOnly, inPlace: inPlace)
        } catch let error as StoreError {
            throw CLIError.cannotStart(error.description)
        } catch let error as LedgerUnavailable {
            throw CLIError.cannotStart(error.description)
        }
    }

    static func concurrency(_ jobs: Int?) -> Int { jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Configuration and secrets: `$ELENA_CONFIG_DIR`, else `~/.config/elena-run`.
    static var configFolder: String {
        let configured = environment["ELENA_CONFIG_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "~/.config/elena-run"
        return PathText.resolve(configured, relativeTo: workingDirectory, home: home)
    }

    /// A YAML file of the configuration folder that does not parse, on one line: where, what, and what to do.
    static func yamlProblem(_ error: any Error, path: String) -> String {
        guard let diagnostic = SchemaValidator.yamlDiagnostic(of: error, file: path) else { return "\(path): cannot read it as YAML" }
        return diagnostic.description.replacingOccurrences(of: ": error: ", with: ": ")
    }

    /// The Fanvue settings: each of FANVUE_CLIENT_ID, FANVUE_CLIENT_SECRET, FANVUE_REDIRECT_URI, FANVUE_API_URL and
    /// FANVUE_AUTH_URL from the environment, else from `<config>/config.yaml` (same names). Nil without a client id.
    static func fanvueConfiguration() throws -> FanvueConfiguration? {
        var file: [String: String] = [:]
        let path = configFolder + "/config.yaml"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            do {
                if let mapping = try Yams.load(yaml: text) as? [String: Any] {
                    for (key, value) in mapping { file[key] = "\(value)" }
                }
            } catch {
                throw CLIError.usage(yamlProblem(error, path: path))
            }
        }
        func value(_ name: String) -> String? {
            environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? file[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let clientID = value("FANVUE_CLIENT_ID") else { return nil }
        var configuration = FanvueConfiguration(
            clientID: clientID, clientSecret: value("FANVUE_CLIENT_SECRET"),
            redirectURI: value("FANVUE_REDIRECT_URI") ?? FanvueConfiguration.defaultRedirectURI,
            apiURL: value("FANVUE_API_URL") ?? FanvueConfiguration.defaultAPIURL,
            authURL: value("FANVUE_AUTH_URL") ?? FanvueConfiguration.defaultAuthURL)
        // Tuning knobs (tests and slow networks): retry backoff and the request timeout.
        if let base = value("ELENA_FANVUE_RETRY_BASE_MS").flatMap(Double.init) { configuration.retry.baseDelay = base / 1000 }
        if let cap = value("ELENA_FANVUE_RETRY_MAX_MS").flatMap(Double.init) { configuration.retry.maxDelay = cap / 1000 }
        if let attempts = value("ELENA_FANVUE_RETRY_ATTEMPTS").flatMap(Int.init) { configuration.retry.maxAttempts = attempts }
        if let timeout = value("ELENA_FANVUE_TIMEOUT_S").flatMap(Double.init) { configuration.requestTimeout = timeout }
        return configuration
    }

    /// The Fanvue client a run needs, when the manifest publishes to fanvue. Without settings or a login the run
    /// still ingests, crops and fills the review folder (a note says what is missing); the Fanvue nodes, which run
    /// only after approval, then fail with the same advice.
    /// - Throws: `CLIError.failure` for an unreadable token file.
    static func fanvue(for manifest: Manifest, dryRun: Bool, reporter: any RunReporter) throws
        -> (client: FanvueClient?, target: String)
    {
        guard manifest.publish.to == .fanvue else { return (nil, "") }
        guard let configuration = try fanvueConfiguration() else {
            reporter.note(
                "note: publishing to fanvue needs the app's settings: set FANVUE_CLIENT_ID and FANVUE_CLIENT_SECRET "
                    + "(or put them in \(configFolder)/config.yaml), then run `elena-run auth login`")
            return (nil, "unconfigured")
        }
        let target = configuration.apiURL + " " + configuration.clientID
        guard let client = try loggedInClient(configuration) else {
            reporter.note("note: not logged in to Fanvue; run `elena-run auth login` before approved items can be published")
            return (nil, target)
        }
        return (client, target)
    }

    /// The Fanvue client for commands that need one (`send`, `sync`).
    /// - Throws: `CLIError.failure` saying what is missing (settings or login).
    static func fanvueClient(for command: String) throws -> FanvueClient {
        guard let configuration = try fanvueConfiguration() else {
            throw CLIError.failure(
                "`\(command)` talks to Fanvue and needs the app's settings: set FANVUE_CLIENT_ID and FANVUE_CLIENT_SECRET "
                    + "(or put them in \(configFolder)/config.yaml), then run `elena-run auth login`")
        }
        guard let client = try loggedInClient(configuration) else {
            throw CLIError.failure("`\(command)` needs a Fanvue login: run `elena-run auth login` first")
        }
        return client
    }

    /// A client over the saved login, or nil when there is none.
    /// - Throws: `CLIError.failure` for an unreadable (or too readable) token file.
    static func loggedInClient(_ configuration: FanvueConfiguration) throws -> FanvueClient? {
        let store = TokenStore(configFolder: configFolder)
        do {
            guard try store.load() != nil else { return nil }
        } catch {
            throw CLIError.failure("\(error)")
        }
        return FanvueClient(
            configuration: configuration, tokens: TokenProvider(store: store, oauth: OAuthClient(configuration: configuration)),
            logger: logger("elena.fanvue"))
    }

    /// Opens the library's store for a command without a manifest.
    static func openLibraryStore(_ options: any LibraryLocating, readOnly: Bool) async throws -> (SQLRunStore, DatabaseURL) {
        let (_, url) = try options.locate(manifest: nil)
        if case .sqlite(let path) = url.kind, !FileManager.default.fileExists(atPath: path) {
            throw CLIError.failure(
                "no ledger at \(path): run a drop first (elena-run pipelines/<drop>.yaml), or give --library / --database")
        }
        return (try await openStore(url, readOnly: readOnly), url)
    }

    /// The upload stage tuned from the environment (ELENA_FANVUE_FIRST_POLL_MS, ELENA_FANVUE_PART_SIZE).
    static var uploadStage: UploadStage {
        UploadStage(
            partSize: environment["ELENA_FANVUE_PART_SIZE"].flatMap(Int.init) ?? 8 * 1024 * 1024,
            firstPoll: (environment["ELENA_FANVUE_FIRST_POLL_MS"].flatMap(Double.init) ?? 1000) / 1000,
            longestPoll: (environment["ELENA_FANVUE_LONGEST_POLL_MS"].flatMap(Double.init) ?? 15000) / 1000)
    }

    /// The folder holding the face models, if they are installed.
    static var modelsFolder: String? {
        MediaPipeFaceDetector.locate(environment: environment, executable: executablePath)
    }

    /// The face detector, loaded only when the manifest uses a face strategy.
    /// - Throws: `CLIError.failure` when a real run needs the models and they are missing or altered.
    static func faceDetector(for manifest: Manifest, dryRun: Bool, reporter: any RunReporter) throws -> (any FaceDetector)? {
        let needsFaces =
            manifest.crop.strategy.needsFaces || manifest.items.contains { $0.crop.strategy?.needsFaces == true }
        guard needsFaces else { return nil }
        guard let folder = modelsFolder else {
            let searched = MediaPipeFaceDetector.candidateFolders(
                environment: environment, executable: executablePath)
            let message =
                "the face strategies (no_face, lips_only, auto) need the face models, which are not installed; "
                + "run 'make models' (or scripts/install-models DIR and set ELENA_MODELS_DIR). Looked in: "
                + searched.joined(separator: ", ")
            if dryRun {
                reporter.note("note: \(message)")
                return nil
            }
            throw CLIError.cannotStart(message)
        }
        do {
            MediaPipeFaceDetector.setOpenCVThreads(1)
            return try MediaPipeFaceDetector(modelsFolder: folder)
        } catch {
            throw CLIError.cannotStart("\(error)")
        }
    }
}

extension Wiring {
    /// Whether any item of the manifest crops by the persona (`auto`).
    static func decidesByPersona(_ manifest: Manifest) -> Bool {
        manifest.crop.strategy == .auto || manifest.items.contains { $0.crop.strategy == .auto }
    }

    /// The identity model and the persona enrolled from the manifest's references, when some item crops by `auto`.
    /// - Throws: `CLIError.cannotStart` when the identity model is missing or altered, `CLIError.usage` when the
    ///   references cannot be enrolled (unreadable, fewer than two agreeing).
    static func persona(
        for loaded: LoadedManifest, layout: LibraryLayout, detector: (any FaceDetector)?, dryRun: Bool, reporter: any RunReporter
    ) throws -> (identifier: any FaceIdentifier, profile: PersonaProfile)? {
        guard decidesByPersona(loaded.manifest), let spec = loaded.manifest.persona, let detector else { return nil }
        let identifier: SFaceIdentifier
        do {
            // The detector was found, so the models folder was too.
            identifier = try SFaceIdentifier(modelsFolder: modelsFolder ?? "")
        } catch {
            if dryRun {
                reporter.note("note: \(error)")
                return nil
            }
            throw CLIError.cannotStart("\(error)")
        }
        do {
            let profile = try PersonaEnrolment(
                codec: OpenCVCodec(), detector: detector, identifier: identifier,
                cacheFolder: layout.absolute(".elena-cache"), writesCache: !dryRun
            ).enrol(spec, relativeTo: loaded.folder, home: home)
            return (identifier, profile)
        } catch let error as PersonaError {
            throw CLIError.usage("\(loaded.path): \(error.description)")
        }
    }
}

/// Errors the CLI turns into a message and an exit code.
enum CLIError: Error, CustomStringConvertible {
    /// Bad arguments or an unusable manifest: exit 2.
    case usage(String)
    /// Manifest diagnostics: exit 2.
    case manifest(ManifestError)
    /// Anything else that stops the command: exit 1.
    case failure(String)
    /// Something the run needs is missing or unusable before any item is touched (the face models, the database,
    /// the library folder): exit 4, so a script can tell it from "some items failed".
    case cannotStart(String)
    /// Stopped by Ctrl-C after cleaning up: exit 130, as a shell reports a SIGINT.
    case interrupted(String)

    /// The sentence alone, without `error: ` (for a line of `doctor`, say).
    var message: String {
        switch self {
        case .usage(let message), .failure(let message), .cannotStart(let message), .interrupted(let message): return message
        case .manifest(let error): return error.description
        }
    }

    var description: String {
        switch self {
        case .usage, .failure, .cannotStart: return "error: \(message)"
        case .interrupted(let message): return message
        case .manifest(let error): return error.description
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage, .manifest: return 2
        case .failure: return 1
        case .cannotStart: return 4
        case .interrupted: return 130
        }
    }
}
