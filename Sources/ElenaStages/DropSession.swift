package import ElenaCore
package import ElenaEngine
import Foundation

/// The source folder named by a manifest does not exist (or is not a folder).
package struct MissingSourceError: Error, Sendable, CustomStringConvertible {
    /// A compiler-style diagnostic pointing at `source.dir`.
    package var diagnostic: Diagnostic
    /// The diagnostic.
    package var description: String { diagnostic.description }
}

/// One run of one manifest against one library: discovery, planning and execution, wired to real stages.
package struct DropSession: Sendable {
    /// The decoded manifest.
    package var manifest: Manifest
    /// The manifest's absolute folder (relative paths in it are resolved against this).
    package var manifestFolder: String
    /// The user's home folder, for `~`.
    package var home: String
    /// What every run needs (library, ledger, clock, progress).
    package var environment: RunEnvironment
    /// What this product's stages use (codec, detector, outbox, Fanvue).
    package var services: DropServices
    /// The upload stage (its part size and polling are tuned by the caller).
    package var uploadStage = UploadStage()
    /// Makes the ComfyUI client of a server, for a manifest with `generate:` (a dry run never calls it).
    package var comfy: (@Sendable (String) -> any ComfyGenerating)?
    /// Source files to leave for a later run because they are still being written (`watch`).
    package var notReady: Set<String> = []
    /// Whether `run` runs the `generate:` section (`watch` runs it once, then only picks files up).
    package var generates = true
    /// Stages added to the product's pipeline, each right after the stage named (a test's stand-in stage).
    package var addedStages: [(after: StageName, entry: Pipeline.Entry)] = []
    /// How many items the runner takes at a time: their finished steps are read from the run cache together, and
    /// once they are settled their rows are read, compared and written together (one query each by the items' ids).
    package var cacheReadPart = 1_500

    /// Creates a session.
    package init(
        manifest: Manifest, manifestFolder: String, home: String, environment: RunEnvironment, services: DropServices
    ) {
        self.services = services
        self.manifest = manifest
        self.manifestFolder = manifestFolder
        self.home = home
        self.environment = environment
    }

    /// The absolute source folder.
    package var sourceFolder: String { Self.sourceFolder(for: manifest, manifestFolder: manifestFolder, home: home) }

    /// The absolute source folder a manifest names.
    package static func sourceFolder(for manifest: Manifest, manifestFolder: String, home: String) -> String {
        PathText.resolve(manifest.source.dir, relativeTo: manifestFolder, home: home)
    }

    /// The outbox a manifest asks for, resolved (the default lives in the library).
    package static func outbox(for manifest: Manifest, manifestFolder: String, home: String, layout: LibraryLayout) -> String {
        manifest.publish.outbox.map { PathText.resolve($0, relativeTo: manifestFolder, home: home) }
            ?? layout.defaultOutbox(drop: manifest.drop)
    }

    /// Checks the source folder exists.
    /// - Throws: `MissingSourceError` pointing at `source.dir`.
    package func checkSource() throws(MissingSourceError) {
        try Self.checkSource(sourceFolder, manifest: manifest)
    }

    /// Checks that `sourceFolder` (the manifest's resolved `source.dir`) is a folder. With `generate:` a missing
    /// folder is fine: the run creates it (a dry run sees it empty).
    /// - Throws: `MissingSourceError` pointing at `source.dir`.
    package static func checkSource(_ sourceFolder: String, manifest: Manifest) throws(MissingSourceError) {
        guard FileSystem.isDirectory(sourceFolder) || (manifest.generate != nil && !FileSystem.exists(sourceFolder)) else {
            let location = manifest.locations["source.dir"]
            let exists = FileSystem.exists(sourceFolder)
            throw MissingSourceError(
                diagnostic: Diagnostic(
                    at: location, key: "source.dir",
                    exists
                        ? "'source.dir' is not a folder: \(sourceFolder)"
                        : "'source.dir' names a folder that does not exist: \(sourceFolder)"))
        }
    }

    /// The jobs of the manifest's `generate:` section (nil when it has none).
    /// - Throws: `ManifestError` when the workflow file is missing or does not fit the section.
    package func generationPlan() throws -> GenerationPlan? {
        guard let spec = manifest.generate else { return nil }
        let path = PathText.resolve(spec.workflow, relativeTo: manifestFolder, home: home)
        guard let data = try? FileSystem.read(path), let text = String(data: data, encoding: .utf8) else {
            throw ManifestError(
                diagnostics: [
                    Diagnostic(
                        at: manifest.locations["generate.workflow"], key: "generate.workflow",
                        FileSystem.exists(path)
                            ? "'generate.workflow' cannot be read as UTF-8 text: \(path)"
                            : "'generate.workflow' names a file that does not exist: \(path)")
                ], source: nil)
        }
        return try GenerationPlan.make(spec, workflow: text, workflowPath: spec.workflow, manifest: manifest)
    }

    /// Runs the `generate:` section as the pipeline's job nodes, one per (prompt, seed), through the runner: a pair
    /// recorded with its images still in the source folder is a cache hit; the others are queued on ComfyUI and their
    /// images downloaded into the source folder. A dry run only plans. Nil when the manifest has no `generate:`.
    /// - Throws: `ManifestError` for a workflow that does not fit, `GenerationInterrupted` when cancelled.
    package func generate() async throws -> GenerationSummary? {
        guard generates, let spec = manifest.generate, let plan = try generationPlan() else { return nil }
        guard let client = comfy else { throw GenerationError(description: "no ComfyUI client was given for generate:") }
        if !environment.dryRun { try FileSystem.makeDirectory(sourceFolder) }
        let tally = Tally(jobs: plan.jobs.count, reporter: environment.reporter)
        let board = JobBoard(tally: tally)
        var stage = GenerateStage()
        stage.jobs = plan.jobs
        stage.sourceFolder = sourceFolder
        stage.board = board
        let pipeline = pipeline(generate: stage)
        let sourcePlan = Planner.sourcePlan(manifest, jobs: plan.jobs.map(\.planned), pipeline: pipeline.shape)
        let store = try services.store
        let cacheIndex = try await store.cacheRecords(keys: plan.jobs.map(\.key)).mapValues(CachedStep.init)
        // A dry run reports a pair that failed last time as failed, with that error.
        var failedBefore: [CacheKey: StageRecord] = [:]
        if environment.dryRun {
            for record in try await store.failures(drop: manifest.drop) where record.stage == .generate {
                failedBefore[record.key] = record
            }
        }
        // The generator says its own progress and errors; every pair may be out at once (the servers' queues pace them).
        var nodes = environment
        nodes.reporter = GeneratorSpeaks(environment.reporter)
        nodes.concurrency = max(1, plan.jobs.count)
        let generator = Generator(
            plan: plan, spec: spec, clients: spec.servers.map { ($0, client($0)) }, sourceFolder: sourceFolder)
        let runner = Runner(pipeline)
        let (environment, nodeEnvironment, failed) = (self.environment, nodes, failedBefore)
        let report = await withTaskGroup(of: Void.self) { group in
            if !environment.dryRun {
                group.addTask { await generator.serve(board: board, tally: tally, environment: environment) }
            }
            // The nodes run where Ctrl-C does not reach them: the generator answers each (an interrupted pair as not
            // queued), and what finished is recorded before this returns.
            let report = await Task.detached {
                await runner.run(sourcePlan, environment: nodeEnvironment, cacheIndex: cacheIndex, failedBefore: failed)
            }.value
            await board.close()
            return report
        }
        if let interrupted = await tally.interrupted {
            throw GenerationInterrupted(cancelled: interrupted.cancelled, finished: interrupted.finished)
        }
        if let stopped = report.stopped { throw GenerationError(description: stopped) }
        var summary = await tally.summary
        summary.pairs = plan.jobs.map { GenerationSummary.Pair(label: $0.label, images: []) }
        for (node, state) in report.states {
            guard let index = node.job else { continue }
            let job = plan.jobs[index]
            if let output = state.output {
                let facts = Self.facts(of: job, spec: spec, output: output.summary.value)
                summary.facts.merge(facts) { first, _ in first }
                summary.pairs[index].images = facts.keys.sorted()
            }
            switch state {
            case .cached:
                summary.cached += 1
            case .planned:
                summary.planned += 1
            case .failed(let message) where environment.dryRun:
                summary.planned += 1
                summary.previousFailures.append(.init(label: job.label, prompt: job.prompt, message: message))
            default:
                break
            }
        }
        return summary
    }

    /// What `generate:` set for each image of a pair, by the image's path in the source folder, from the output
    /// its generate step recorded.
    static func facts(of job: GenerationJob, spec: GenerateSpec, output: JSONValue) -> [String: GeneratedFacts] {
        guard let promptID = output["prompt_id"]?.stringValue else { return [:] }
        var made = GeneratedFacts(job: job, spec: spec, promptID: promptID)
        if let server = output["server"]?.stringValue { made.server = server }
        var facts: [String: GeneratedFacts] = [:]
        for image in output["images"]?.arrayValue?.compactMap(\.stringValue) ?? [] { facts[image] = made }
        return facts
    }

    /// What `generate:` set for each image it made, by the image's path in the source folder (from the generate
    /// steps' records: every image of each (prompt, seed) made before), for a run that does not generate (`watch`).
    func generatedFacts() async throws -> [String: GeneratedFacts] {
        guard let spec = manifest.generate, let plan = try generationPlan() else { return [:] }
        let records = try await services.store.cacheRecords(keys: plan.jobs.map(\.key))
        var facts: [String: GeneratedFacts] = [:]
        for job in plan.jobs {
            guard let record = records[job.key], record.status == .succeeded else { continue }
            facts.merge(Self.facts(of: job, spec: spec, output: record.output.value)) { first, _ in first }
        }
        return facts
    }

    /// Discovers, plans and runs (or, in a dry run, plans without side effects). Generation runs first, unless the
    /// caller ran `generate()` already and passes its summary.
    package func run(generation: GenerationSummary? = nil) async throws -> RunReport {
        var profile = PhaseClock(enabled: ProcessInfo.processInfo.environment["ELENA_PROFILE"] == "1")
        defer { profile.report(environment.reporter) }
        try checkSource()
        var generation = generation
        if generation == nil { generation = try await generate() }
        var services = self.services
        if let generation {
            services.generated = generation.facts
        } else {
            services.generated = try await generatedFacts()
        }
        let store = try services.store
        let found = try await discover(store: store)
        profile.lap("discover (\(found.files.count) files, \(found.hashed) hashed; stat cache read meanwhile)")
        let (unreadable, hashed, newStatEntries) = (found.unreadable, found.hashed, found.newStatEntries)
        // The plan, and what the graph's run reads besides it and the run cache, read while the plan is made.
        let (plan, inputs, inOtherDrops) = try await plan(consume found, services: services, store: store)
        profile.lap("plan (\(plan.graph.nodes.count) nodes; read meanwhile: \(inputs.summary))")

        if !environment.dryRun, !newStatEntries.isEmpty { try await store.saveStatEntries(newStatEntries) }
        for (path, reason) in unreadable {
            // A name with a newline or a control character is shown escaped, on one line.
            let shown = path.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }
                .joined()
            environment.reporter.note("error: \(shown): \(reason)")
        }

        let started = environment.now()
        // The item rows follow the run a part of the items at a time, as the runner settles each part. Their version
        // is read before any of them is.
        var projector: ItemRowProjector?
        if !environment.dryRun {
            let rows = try await store.itemRowState(drop: manifest.drop)
            projector = ItemRowProjector(store: store, drop: manifest.drop, plan: plan, rows: rows, now: environment.now)
        }
        var report = try await runGraph(plan, inputs: consume inputs, services: services, settled: projector.map { $0.add })
        profile.lap("run graph (item rows projected meanwhile)")
        report.unreadable = unreadable
        report.generation = generation
        report.inOtherDrops = inOtherDrops
        profile.lap("report (\(report.ignored.count) ignored)")
        if let projector {
            do {
                try await recordOutcome(&report, projector: projector, hashed: hashed, started: started, profile: &profile)
            } catch let error as any RunStopping where error.stopReason != nil {
                // The ledger went away at the end: the item rows catch up on the next run (they are derived).
                report.stopped = report.stopped ?? error.stopReason
            }
        }
        return report
    }
}

extension DropSession {
    /// Plans the drop from the files found, with what the graph's run reads besides the plan and the run cache (the
    /// reviews, the review folders, what people set per item) read from the start, beside the query for the files
    /// other drops own and the planning: the store reads on its own threads, the folders are listed on the other
    /// core. The files other drops own are left out of the plan, and returned for the report. (A function of its
    /// own: a task started with `async let` keeps what it returned until the scope that started it ends, and the
    /// run lets go of the reviews once the gate has them.)
    private func plan(
        _ found: consuming SourceDiscovery.Result, services: DropServices, store: any LibraryLedger
    ) async throws -> (DropPlan, RunInputs, inOtherDrops: [(path: String, drop: String, status: String)]) {
        // Every file's digest: the reads may hold files the plan will not (the extra entries are never looked up).
        let digests = Array(Set(found.files.map(\.digest)))
        async let reads = readForRun(items: digests, store: store)
        // A picture is reviewed and published with the first drop that took it: the same bytes in this drop are
        // left out, and the report says where they are.
        let elsewhere = Dictionary(
            try await store.items(digests, ownedByOtherThan: manifest.drop).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let files = found.files.filter { elsewhere[$0.digest] == nil }
        let inOtherDrops = found.files.compactMap { file in
            elsewhere[file.digest].map { (path: file.relativePath, drop: $0.drop, status: $0.status.rawValue) }
        }
        _ = consume found
        if !environment.dryRun {
            // (The review folders' listing skips dot-files: the temporaries it may meet as they go are not taken.)
            for folder in [ReviewFolder.review, .approved, .rejected] {
                try FileSystem.makeDirectory(environment.layout.absolute(folder.rawValue))
            }
        }
        // Half-written files of a run that was killed (never renamed into place) go before anything is written:
        // looked for while the plan is made (a big drop's folders hold 100,000 files each), and done before it is
        // handed on.
        let (layout, drop, outbox, dryRun) = (environment.layout, manifest.drop, services.outbox, environment.dryRun)
        async let cleared: Void = {
            guard !dryRun else { return }
            for top in LibraryLayout.topFolders {
                FileSystem.removeAbandonedTemporaries(in: layout.absolute("\(top)/\(drop)"))
                FileSystem.removeAbandonedTemporaries(in: layout.absolute(top))
            }
            FileSystem.removeAbandonedTemporaries(in: outbox)
        }()
        let plan = try Planner.plan(manifest, files: files, pipeline: pipeline(services: services).shape)
        await cleared
        let inputs = try await reads
        return (plan.applying(inputs.overrides), inputs, inOtherDrops)
    }

    /// Finds the source files, with the stat cache read from the ledger (on its thread) while the folder is walked
    /// (on this one). The stat cache goes when this returns: it is as big as the folder.
    private func discover(store: any LibraryLedger) async throws -> SourceDiscovery.Result {
        // A drop that generates may not have its folder yet (a dry run creates nothing).
        guard FileSystem.isDirectory(sourceFolder) else { return .empty }
        var discovery = SourceDiscovery(folder: sourceFolder, source: manifest.source)
        discovery.notReady = notReady
        let prefix = sourceFolder + "/"
        let statCache = Task { try await store.statEntries(prefix: prefix) }
        do {
            return try await discovery.run(statCache: { try await statCache.value }, concurrency: environment.concurrency)
        } catch {
            statCache.cancel()
            throw error
        }
    }
}

/// What a graph's run reads before it starts, besides the plan and the run cache.
struct RunInputs: Sendable {
    /// The drop's review records.
    var reviews: [ReviewRecord]
    /// The review folders as listed.
    var folders: ReviewFolderIndex
    /// A dry run's failed stage runs by key: a node that would run again with the same key is reported as failed
    /// with last time's message instead of planned (a real run retries it).
    var failedBefore: [CacheKey: StageRecord]
    /// Cut lines, vault, price and tags people set per item.
    var overrides: ItemOverrides

    /// What was read, for the profile.
    var summary: String {
        "\(reviews.count) reviews, \(folders.count) review files"
    }
}

extension DropSession {
    /// Reads what the graph's run needs before it starts (the reviews, the review folders, the items' overrides),
    /// each read beside the others. `items` may hold more than the plan will (a file a rule skips): the extra
    /// entries are never looked up. What was read is let go when the run returns, before its outcome is recorded.
    private func readForRun(items: [Digest], store: any LibraryLedger) async throws -> RunInputs {
        async let reviews = store.reviews(drop: manifest.drop)
        async let lines = store.lineOverrides(items: items)
        async let publish = store.publishOverrides(items: items)
        async let failures = environment.dryRun ? store.failures(drop: manifest.drop) : []
        let folders = try await ReviewFolderIndex.scan(environment.layout, drop: manifest.drop, catalog: store)
        var failedBefore: [CacheKey: StageRecord] = [:]
        for record in try await failures { failedBefore[record.key] = record }
        return RunInputs(
            reviews: try await reviews, folders: folders, failedBefore: failedBefore,
            overrides: ItemOverrides(lines: try await lines, publish: try await publish))
    }

    /// Runs the graph with what was read for it.
    private func runGraph(
        _ plan: DropPlan, inputs: consuming RunInputs, services: DropServices, settled: (@Sendable (SettledItems) async -> Void)?
    ) async throws -> RunReport {
        // The gate keeps the reviews in its own order; the run's inputs let go of them (held twice, they were
        // 40 MB of a 100,000-item drop's run).
        var inputs = inputs
        let reviews = inputs.reviews
        inputs.reviews = []
        let gate = ReviewGateStage(reviews: consume reviews, index: inputs.folders)
        var report = await Runner(pipeline(gate: gate, services: services)).run(
            plan, environment: environment, cache: .store(try services.store, partSize: cacheReadPart),
            failedBefore: inputs.failedBefore, settled: settled)
        report.notes = gate.notes.withLock { $0 }.sorted { $0.item < $1.item }.map(\.text)
        report.ignored = Self.strayFiles(inputs.folders)
        return report
    }
}

extension DropSession {
    /// The product's pipeline with this session's instances (and any added stages). Its shape does not depend on
    /// the gate given, so the plan may be made before the gate has read the reviews.
    func pipeline(
        gate: ReviewGateStage = ReviewGateStage(), generate: GenerateStage = GenerateStage(), services: DropServices? = nil
    ) -> Pipeline {
        var pipeline = ElenaPipeline.pipeline(
            services: services ?? self.services, generate: generate, gate: gate, upload: uploadStage)
        for (stage, entry) in addedStages { pipeline = pipeline.inserting(entry, after: stage) }
        return pipeline
    }

    /// The item rows follow the outputs the manifest implies now, cache hits included; then the run's event.
    private func recordOutcome(
        _ report: inout RunReport, projector: ItemRowProjector, hashed: Int,
        started: Date, profile: inout PhaseClock
    ) async throws {
        let store = try services.store
        let plan = report.plan
        // The parts' rows were brought in line while the run went on; what is left is the flags of the items waiting
        // for review, now that the lookalikes among them can be known.
        let projected = try await projector.finish()
        let lookalikes = try await Self.lookalikes(report, drop: manifest.drop, store: store)
        report.warnings += lookalikes.sentences
        let flags = ItemProjection.flagUpdates(projected.waiting, lookalikes: Set(lookalikes.items))
        if !flags.isEmpty { try await store.updateItems(flags, at: environment.now()) }
        let changed = projected.changed + flags.count
        // A run that found every row in line keeps what it found, for the next to compare with instead of the rows
        // (kept only if no row changed since their version was read, by this run or anyone).
        if changed == 0, !projected.asKept, !projected.found.isEmpty {
            let check = ItemRowCheck(drop: manifest.drop, rowsVersion: projector.rowsVersion, parts: projected.found)
            try await store.saveItemRowCheck(check)
        }
        profile.lap("project items (\(changed) changed)")
        try await store.append([
            EventRecord(
                kind: "run.finished", drop: manifest.drop,
                message: "run of \(manifest.drop): \(plan.items.count) items, exit \(report.exitCode)",
                data: .object([
                    "items": .int(plan.items.count),
                    "hashed": .int(hashed),
                    "failed": .int(report.failureCount),
                    "waiting": .int(report.waitingItems.count),
                    "started_at": .string(Timestamp.format(started)),
                ]), at: environment.now())
        ])
        profile.lap("record run")
    }

    /// The items waiting for review that show a picture already approved or published (in any drop, other than
    /// themselves), with a sentence for each naming the other: a person should see it before approving.
    /// The drop's last look is what holds while the library's decided pictures (their version, which the database
    /// keeps) and the drop's waiting items and their fingerprints are as it found them: a rerun in a library of 100,000
    /// decided pictures then reads none of them. Otherwise they are looked at again, and the look is kept.
    static func lookalikes(
        _ report: RunReport, drop: String, store: any LibraryLedger
    ) async throws -> (items: [Digest], sentences: [String]) {
        let waitingItems = report.plan.items.indices.filter { index in
            if case .waiting? = report.states[NodeID(.review, item: index)] { true } else { false }
        }
        // Nothing waits: nothing to flag, and nothing is read. Nothing approved or published anywhere: nothing to look
        // like, and the waiting items' fingerprints are not read either (0.2 s of a 100,000-item drop's no-op rerun).
        guard !waitingItems.isEmpty else { return ([], []) }
        let state = try await store.lookalikeState(drop: drop)
        guard state.anyDecided else { return ([], []) }
        // What the look is made from, without reading the fingerprints: the rule, each waiting item, and the digest of
        // its fingerprint step's output (which holds them).
        var builder = DigestBuilder()
        builder.update(Data(NearDuplicates.rule.utf8))
        for index in waitingItems {
            builder.update(report.plan.items[index].id)
            if let output = report.states[NodeID(.fingerprint, item: index)]?.output?.digest {
                builder.update(output)
            } else {
                builder.update(Data([0]))
            }
        }
        let key = builder.finalize()
        let found: [Lookalike]
        if let last = state.last, last.decidedVersion == state.version, last.waiting == key {
            found = last.found
        } else {
            found = try await look(report, waitingItems: waitingItems, store: store)
            // Kept with the version read before the decided pictures were: a change made meanwhile makes the next
            // run look again.
            try await store.saveLookalikeCheck(LookalikeCheck(drop: drop, decidedVersion: state.version, waiting: key, found: found))
        }
        let names = Dictionary(report.plan.items.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var sentences: [String] = []
        for entry in found.prefix(20) {
            sentences.append(
                "\(names[entry.item] ?? entry.item.hex) looks like \(entry.name) (drop \(entry.drop), \(entry.status.rawValue)): "
                    + "flagged near_duplicate")
        }
        if found.count > sentences.count {
            sentences.append("\(found.count - sentences.count) more look like pictures already approved or published: flagged near_duplicate")
        }
        return (found.map(\.item), sentences)
    }

    /// Compares the waiting items with the library's decided pictures: the nearest of those each looks like, in the
    /// order of the drop.
    private static func look(_ report: RunReport, waitingItems: [Int], store: any LibraryLedger) async throws -> [Lookalike] {
        let decided = try await store.decidedStructures()
        guard !decided.isEmpty else { return [] }
        var waiting: [(id: Digest, prints: ItemFingerprints)] = []
        for index in waitingItems {
            guard let prints = report.states[NodeID(.fingerprint, item: index)]?.output.flatMap(FingerprintStage.prints(of:))
            else { continue }
            waiting.append((report.plan.items[index].id, prints))
        }
        let lookalikes = try await store.lookalikes(of: waiting, among: decided)
        return waiting.compactMap { entry in lookalikes[entry.id].map { Lookalike(item: entry.id, other: $0) } }
    }

    /// Files in the review folders that are not review copies (named `<name>.<8 hex digits>.<jpg|png>`): a run
    /// never takes them for a decision, and says so.
    static func strayFiles(_ index: ReviewFolderIndex) -> [String] {
        index.locations.filter { $0.folder != .uploaded && !isReviewCopyName(PathText.lastComponent($0.path)) }
            .map(\.path).sorted().map { "ignored \($0): not a review copy (those are named <name>.<8 hex digits>.jpg or .png)" }
    }

    package static func isReviewCopyName(_ name: String) -> Bool {
        // Read as bytes (every byte the pattern names is ASCII): a drop of 100,000 items has as many copies.
        let bytes = Array(name.utf8)
        let dot = UInt8(ascii: ".")
        guard bytes.count >= 14, bytes[0] != dot, bytes[bytes.count - 4] == dot, bytes[bytes.count - 13] == dot else {
            return false
        }
        let ext = bytes[(bytes.count - 3)...]
        guard ext.elementsEqual("jpg".utf8) || ext.elementsEqual("png".utf8) else { return false }
        return bytes[(bytes.count - 12)..<(bytes.count - 4)].allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// The generator's own lines (its progress, each failed pair said once or twice) stand for its nodes: their
/// `finished` calls are not said again.
struct GeneratorSpeaks: RunReporter {
    let base: any RunReporter
    init(_ base: any RunReporter) { self.base = base }
    func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, progress: RunProgress) {}
    func note(_ text: String) { base.note(text) }
    func generating(_ progress: GenerationProgress) { base.generating(progress) }
    func stopping(_ reason: String) { base.stopping(reason) }
}

/// Wall-clock time per phase, the processor time the process spent in it (on every core: more than the wall time
/// when both were busy) and the memory the process holds after it, printed with ELENA_PROFILE=1 (for benchmarks and
/// performance work).
struct PhaseClock {
    let enabled: Bool
    private var last = ContinuousClock.now
    private var lastCPU = PhaseClock.processorTime()
    private var laps: [(name: String, wall: Duration, cpu: Double, resident: Int)] = []

    init(enabled: Bool) { self.enabled = enabled }

    mutating func lap(_ name: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let cpu = Self.processorTime()
        laps.append((name, now - last, cpu - lastCPU, Self.residentMegabytes()))
        last = now
        lastCPU = cpu
    }

    func report(_ reporter: any RunReporter) {
        guard enabled else { return }
        for lap in laps {
            let milliseconds = Double(lap.wall.components.attoseconds) / 1e15 + Double(lap.wall.components.seconds) * 1000
            reporter.note(
                String(format: "profile: %8.1f ms %8.1f ms cpu %6d MB  %@", milliseconds, lap.cpu * 1000, lap.resident, lap.name))
        }
    }

    /// The processor time the process has used so far (user and system, every thread), in seconds.
    static func processorTime() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The resident set now, from /proc (0 where there is none).
    static func residentMegabytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}
