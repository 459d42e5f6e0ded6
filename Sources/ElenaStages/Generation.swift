package import ElenaCore
package import ElenaEngine
import Foundation

/// The generation phase was stopped (Ctrl-C): the prompts this run had queued were cancelled on ComfyUI.
package struct GenerationInterrupted: Error, Sendable, CustomStringConvertible {
    /// Prompts removed from ComfyUI's queue (or interrupted while running).
    package var cancelled: Int
    /// Pairs finished before the interruption (their images are kept and recorded).
    package var finished: Int

    package var description: String {
        "interrupted: cancelled \(cancelled) prompt\(cancelled == 1 ? "" : "s") this run had queued on ComfyUI"
            + " (\(finished) finished before and are kept)"
    }
}

/// Runs a drop's `generate:` section: every (prompt, seed) whose images are not already recorded is queued on
/// ComfyUI, followed over the websocket (or through `/history` when the socket fails), and its images are downloaded
/// unchanged (with their `prompt` chunk, the lineage ingest reads) into the source folder. Each pair is recorded in
/// the run cache under its key, so a rerun queues nothing it already has.
package struct Generator: Sendable {
    /// The jobs and the models they need.
    package var plan: GenerationPlan
    /// The manifest's section.
    package var spec: GenerateSpec
    /// ComfyUI.
    package var client: any ComfyGenerating
    /// Where images are downloaded (the manifest's `source.dir`).
    package var sourceFolder: String
    /// The drop, for the records.
    package var drop: String
    /// How often `/history` is read when the socket is down (and, as a safety net, 40 times rarer when it is up).
    package var pollSeconds = 0.25
    /// How long a ComfyUI that stopped answering mid-run is waited for before its unfinished prompts fail for this
    /// run: 60 seconds, or `$ELENA_COMFY_WAIT`.
    package var lostWindow = ProcessInfo.processInfo.environment["ELENA_COMFY_WAIT"].flatMap(Double.init) ?? 60

    /// Creates a generator.
    package init(plan: GenerationPlan, spec: GenerateSpec, client: any ComfyGenerating, sourceFolder: String, drop: String) {
        self.plan = plan
        self.spec = spec
        self.client = client
        self.sourceFolder = sourceFolder
        self.drop = drop
    }

    /// The images a successful record lists, when they are all still in the source folder.
    func cachedImages(_ record: StageRecord?) -> [String]? {
        guard let record, record.status == .succeeded,
            let files = record.output.value["images"]?.arrayValue?.compactMap(\.stringValue), !files.isEmpty,
            files.allSatisfy({ FileSystem.exists(sourceFolder + "/" + $0) })
        else { return nil }
        return files
    }

    /// Generates what is missing.
    /// - Throws: `GenerationInterrupted` when the task is cancelled (after cancelling its prompts on ComfyUI).
    package func run(environment: RunEnvironment, cacheIndex: [CacheKey: StageRecord]) async throws -> GenerationSummary {
        let pending = plan.jobs.filter { cachedImages(cacheIndex[$0.key]) == nil }
        var summary = GenerationSummary(jobs: plan.jobs.count, cached: plan.jobs.count - pending.count)
        let reporter = environment.reporter
        if environment.dryRun {
            summary.planned = pending.count
            let failed = Dictionary(
                try await environment.cache.failures(drop: drop).filter { $0.stage == .generate }.map { ($0.key, $0) },
                uniquingKeysWith: { first, _ in first })
            summary.previousFailures = pending.compactMap { job in
                failed[job.key].map { .init(label: job.label, prompt: job.prompt, message: $0.error ?? "failed") }
            }
            return summary
        }
        guard !pending.isEmpty else { return summary }

        if let problem = await preflight() {
            reporter.note("error: generate: \(problem)")
            summary.error = problem
            return summary
        }

        let follower = Follower()
        let clientID = UUID().uuidString.lowercased()
        let events = client.events(clientID: clientID)
        let listener = Task {
            for await event in events { await follower.handle(event) }
            await follower.handle(.closed(reason: "the event stream ended"))
        }
        defer { listener.cancel() }
        // A moment for the socket to open, so the first prompt's events are not missed (polling covers them anyway).
        for _ in 0..<40 where await !follower.settled { try? await Task.sleep(nanoseconds: 25_000_000) }

        var queued: [(job: GenerationJob, promptID: String, leftOut: ComfyValidationError?)] = []
        let server = ServerWatch(name: spec.server, window: lostWindow, say: { reporter.note($0) })
        var finished = 0
        var said: [String: Int] = [:]
        func fail(_ job: GenerationJob, _ message: String, at started: Date) async throws {
            // The same error for many prompts (a refusal, a server gone): twice, then once that more follow.
            said[message, default: 0] += 1
            if said[message, default: 0] <= 2 {
                reporter.note("error: generate \(job.label) (\(GenerationSummary.excerpt(job.prompt))): \(message)")
            } else if said[message] == 3 {
                reporter.note("error: more prompts fail with the same error; the summary lists them")
            }
            summary.failures.append(.init(label: job.label, prompt: job.prompt, message: message))
            try await environment.cache.record([
                record(job, status: .failed, output: .object(["prompt": .string(job.prompt), "seed": .int(job.seed)]),
                       error: message, started: started, environment: environment)
            ])
        }
        do {
            for job in pending {
                try Task.checkCancellation()
                let started = environment.now()
                do {
                    // Not cancelled half-way: once ComfyUI took the prompt, its id must come back so Ctrl-C can
                    // cancel it (a request cut short would leave a prompt nobody knows about).
                    let client = client
                    let graph = job.graph
                    let answer = try await Task.detached { try await client.queue(graph, clientID: clientID) }.value
                    queued.append((job, answer.promptID, answer.leftOut))
                } catch let error as ComfyValidationError {
                    try await fail(job, error.description, at: started)
                } catch {
                    // Interrupted while queueing: not this prompt's failure.
                    if Task.isCancelled { throw CancellationError() }
                    try await fail(job, "\(error)", at: started)
                }
            }
            for (job, promptID, leftOut) in queued {
                let started = environment.now()
                let progress = { (step: (value: Int, max: Int)?) in
                    reporter.generating(GenerationProgress(done: finished, total: queued.count, current: job.label, step: step))
                }
                progress(nil)
                let outcome: ComfyRunState
                do {
                    outcome = try await follow(
                        promptID, follower: follower, deadline: Double(spec.timeoutSeconds), server: server, progress: progress)
                } catch let gone as ComfyServerGone {
                    // This prompt and every one after it: failed for this run; what finished is kept and goes on.
                    for (rest, _, _) in queued.dropFirst(finished) {
                        try await fail(rest, gone.description + "; the next run queues it again", at: started)
                    }
                    finished = queued.count
                    break
                }
                finished += 1
                switch outcome {
                case .succeeded(let images):
                    do {
                        let names = try await server.reachable { try await download(images) }
                        if let leftOut {
                            // What the valid outputs saved is kept and ingested; the prompt is a failure until the
                            // workflow is fixed, so the next run queues it again and the user sees why each time.
                            summary.images += names
                            let kept = names.isEmpty ? "" : names.count == 1
                                ? " (the image of the other outputs was downloaded)"
                                : " (the \(names.count) images of the other outputs were downloaded)"
                            try await fail(job, leftOut.description + kept, at: started)
                            progress(nil)
                            continue
                        }
                        try await environment.cache.record([
                            record(
                                job, status: .succeeded,
                                output: .object([
                                    "prompt_id": .string(promptID), "prompt": .string(job.prompt), "seed": .int(job.seed),
                                    "images": .array(names.map(JSONValue.string)),
                                ]), error: nil, started: started, environment: environment)
                        ])
                        summary.generated += 1
                        summary.images += names
                    } catch {
                        // Interrupted while downloading: the next run queues this pair again.
                        if Task.isCancelled { throw CancellationError() }
                        try await fail(job, "\(error)", at: started)
                    }
                case .failed(let message):
                    try await fail(job, message + (leftOut.map { "; " + $0.description } ?? ""), at: started)
                case .pending:
                    await cancel([promptID])
                    try await fail(job, "no result after \(spec.timeoutSeconds) s (the prompt was cancelled; raise generate.timeout?)", at: started)
                }
                progress(nil)
            }
        } catch {
            guard error is CancellationError || Task.isCancelled else { throw error }
            let open = queued.dropFirst(finished).map(\.promptID)
            await cancel(open)
            throw GenerationInterrupted(cancelled: open.count, finished: finished)
        }
        return summary
    }

    /// Checks the server answers and has every model the graphs name; the problem, or nil.
    func preflight() async -> String? {
        do {
            _ = try await client.systemStats()
        } catch {
            return "ComfyUI does not answer at \(spec.server): \(error)"
        }
        var installed: [String: [String]] = [:]
        for model in plan.models {
            let loader = "\(model.classType).\(model.input)"
            if installed[loader] == nil {
                do {
                    installed[loader] = try await client.allowedValues(classType: model.classType, input: model.input)
                } catch {
                    return "cannot list the installed \(model.kind)s (\(loader)): \(error)"
                }
            }
            let names = installed[loader] ?? []
            guard names.contains(model.value) else {
                let shown = names.prefix(12).joined(separator: ", ")
                return "\(model) is not installed on ComfyUI at \(spec.server) (installed: \(names.isEmpty ? "none" : shown)"
                    + "\(names.count > 12 ? ", …" : ""))"
            }
        }
        return nil
    }

    /// Waits until the prompt is done: woken by the socket's `executing`-null (then `/history` says how it ended),
    /// reading `/history` every `pollSeconds` while the socket is down, and every few seconds anyway.
    func follow(
        _ promptID: String, follower: Follower, deadline: Double, server: ServerWatch,
        progress: ((value: Int, max: Int)?) -> Void
    ) async throws -> ComfyRunState {
        let start = ContinuousClock.now
        var lastPoll = ContinuousClock.now
        var lastStep: (Int, Int)?
        while true {
            try Task.checkCancellation()
            let seen = await follower.status(of: promptID)
            if let step = seen.step, step != lastStep ?? (-1, -1) {
                lastStep = step
                progress(step)
            }
            let interval = seen.socketUp ? pollSeconds * 40 : pollSeconds
            if seen.finished || ContinuousClock.now - lastPoll >= .seconds(interval) {
                lastPoll = ContinuousClock.now
                let client = client
                let state = try await server.reachable { try await client.state(of: promptID) }
                if state != .pending { return state }
                if seen.finished, let message = seen.failure { return .failed(message) }
            }
            if ContinuousClock.now - start >= .seconds(deadline) { return .pending }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// Downloads images into the source folder, byte for byte, keeping ComfyUI's names (and sub-folders). A file
    /// already there with the same bytes is left alone; a different one is never overwritten.
    func download(_ images: [ComfyImage]) async throws -> [String] {
        var names: [String] = []
        for image in images where image.type == "output" {
            let data = try await client.image(image)
            var name = (image.subfolder.isEmpty ? "" : image.subfolder + "/") + image.filename
            guard PathText.isSafeRelative(name) else {
                throw GenerationError(description: "ComfyUI named an image outside the output folder: \(name)")
            }
            if FileSystem.exists(sourceFolder + "/" + name), (try? FileSystem.read(sourceFolder + "/" + name)) != data {
                let (stem, ext) = PathText.splitExtension(name)
                name = "\(stem)-\(Digest.of(data).hexPrefix(8))" + (ext.isEmpty ? "" : "." + ext)
            }
            let path = sourceFolder + "/" + name
            if !FileSystem.exists(path) {
                try FileSystem.makeDirectory(PathText.directory(of: path))
                try FileSystem.writeAtomically(data, to: path, durable: true)
            }
            names.append(name)
        }
        guard !names.isEmpty else { throw GenerationError(description: "the run saved no image (is the SaveImage node connected?)") }
        return names
    }

    /// Cancels prompts on ComfyUI, even from a cancelled task.
    func cancel(_ promptIDs: [String]) async {
        guard !promptIDs.isEmpty else { return }
        let client = client
        await Task.detached { try? await client.cancel(promptIDs) }.value
    }

    func record(
        _ job: GenerationJob, status: StageRecord.Status, output: JSONValue, error: String?, started: Date,
        environment: RunEnvironment
    ) -> StageRecord {
        let text = JSONText(output)
        return StageRecord(
            key: job.key, stage: .generate, itemID: nil, drop: drop, status: status,
            outputDigest: status == .succeeded ? Digest.of(text.text) : nil, artifactPath: nil, artifactStamp: nil,
            output: text, error: error, startedAt: started,
            durationMilliseconds: Int(environment.now().timeIntervalSince(started) * 1000))
    }
}

/// Generation could not go on: no client was given, or an image could not be downloaded or placed.
struct GenerationError: Error, CustomStringConvertible {
    var description: String
}

/// ComfyUI stopped answering and did not come back within the wait.
struct ComfyServerGone: Error, CustomStringConvertible {
    var description: String
}

/// Whether the server answers: a request that finds it gone waits for it, trying again with capped backoff
/// (said once on the terminal), for up to `window` seconds in all; past that, this and every later request fails
/// at once with `ComfyServerGone`.
actor ServerWatch {
    let name: String
    let window: Double
    let say: @Sendable (String) -> Void
    private var gone: String?

    init(name: String, window: Double, say: @escaping @Sendable (String) -> Void) {
        self.name = name
        self.window = window
        self.say = say
    }

    /// Runs `body` (an idempotent request), waiting out a server that does not answer.
    func reachable<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if let gone { throw ComfyServerGone(description: gone) }
        var waited = 0.0
        var delay = 0.25
        var lost: String?
        while true {
            do {
                let value = try await body()
                if lost != nil { say("ComfyUI at \(name) answers again; going on") }
                return value
            } catch let error as ComfyUnreachable {
                if lost == nil {
                    lost = error.description
                    say("ComfyUI at \(name) stopped answering (\(error.description)); waiting up to \(Int(window)) s for it")
                }
                guard waited < window else {
                    let reason = "ComfyUI at \(name) stopped answering and did not come back within \(Int(window)) s"
                    gone = reason
                    throw ComfyServerGone(description: reason)
                }
                let pause = min(delay, window - waited)
                try await Task.sleep(nanoseconds: UInt64(max(0.01, pause) * 1_000_000_000))
                waited += pause
                delay = min(delay * 2, 5)
            }
        }
    }
}

/// What the websocket has said so far, per prompt.
actor Follower {
    struct Seen {
        var finished = false
        var failure: String?
        var step: (Int, Int)?
        var socketUp = false
    }

    private var prompts: [String: Seen] = [:]
    private var socketUp = false
    /// Whether the socket opened or failed (either way, queueing can start).
    private(set) var settled = false

    func handle(_ event: ComfyEvent) {
        switch event {
        case .connected:
            socketUp = true
            settled = true
        case .closed:
            socketUp = false
            settled = true
        case .executing(let id, _):
            prompts[id, default: Seen()].finished = false
        case .progress(let id, let value, let max):
            prompts[id, default: Seen()].step = (value, max)
        case .finished(let id):
            prompts[id, default: Seen()].finished = true
        case .failed(let id, let message):
            prompts[id, default: Seen()].failure = message
        }
    }

    func status(of id: String) -> Seen {
        var seen = prompts[id] ?? Seen()
        seen.socketUp = socketUp
        return seen
    }
}
