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

/// Generation as a stage of the pipeline: one node per (prompt, seed) of `generate:`, before discovery. The runner
/// keys each node by the graph it queues (the job's key), so a pair whose images are recorded and still in the source
/// folder is a cache hit and is never queued again; the node of a pair to make hands its job to this run's
/// `Generator`, which queues it on a server of the pool and answers with the record's output or the failure.
package struct GenerateStage: Stage {
    package let name = StageName.generate
    package let version = 1
    /// The jobs of the run's source plan, in the same order (`Planner.sourcePlan`).
    package var jobs: [GenerationJob] = []
    /// Where the images go (the manifest's `source.dir`).
    package var sourceFolder = ""
    /// The board the run's generator serves (nil when planning only).
    var board: JobBoard?

    /// A stage with no jobs (the pipeline's shape).
    package init() {}

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    /// A recorded pair is intact while every image it made is still in the source folder.
    package func isIntact(_ output: NodeOutput, environment: RunEnvironment) -> Bool {
        guard let files = output.summary.value["images"]?.arrayValue?.compactMap(\.stringValue), !files.isEmpty else {
            return false
        }
        return files.allSatisfy { FileSystem.exists(sourceFolder + "/" + $0) }
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let index = context.node.job, jobs.indices.contains(index), let board else {
            throw StageError("internal error: a generate node without its job (a bug)")
        }
        let job = jobs[index]
        // The runner keys the node as generation always keyed the pair: a record made before is found.
        guard context.key == job.key else {
            throw StageError("internal error: the generate node's key is not its job's (a bug)")
        }
        switch await board.make(job) {
        case .made(let output): return .done(NodeOutput(digest: Digest.of(JSONText(output).text), summary: output))
        case .failed(let message): throw StageError(message)
        case .notQueued(let reason): return .skipped(reason)
        }
    }
}

/// How one job handed to the generator ended.
enum JobResult: Sendable {
    /// Its images are in the source folder: the record's output (prompt id, prompt, seed, images, server).
    case made(JSONValue)
    /// It gave no images, or not all (recorded as failed; the next run queues it again).
    case failed(String)
    /// It was not queued (no server could take prompts, or the run was interrupted): not a failure of the pair.
    case notQueued(String)
}

/// Serves a drop's `generate:` jobs as their nodes hand them in: each is queued on a ComfyUI server of the pool,
/// followed over the websocket (or through `/history` when the socket fails), and its images are downloaded
/// unchanged (with their `prompt` chunk, the lineage ingest reads) into the source folder.
package struct Generator: Sendable {
    /// The jobs and the models they need.
    package var plan: GenerationPlan
    /// The manifest's section.
    package var spec: GenerateSpec
    /// One ComfyUI client per server of the pool (`generate.servers`, in order; one without a pool).
    package var clients: [(server: String, client: any ComfyGenerating)]
    /// Where images are downloaded (the manifest's `source.dir`).
    package var sourceFolder: String
    /// How often `/history` is read when the socket is down (and, as a safety net, 40 times rarer when it is up).
    package var pollSeconds = 0.25
    /// How long a ComfyUI that stopped answering mid-run is waited for before its unfinished prompts fail for this
    /// run: 60 seconds, or `$ELENA_COMFY_WAIT`.
    package var lostWindow = ProcessInfo.processInfo.environment["ELENA_COMFY_WAIT"].flatMap(Double.init) ?? 60

    /// Creates a generator.
    package init(
        plan: GenerationPlan, spec: GenerateSpec, clients: [(server: String, client: any ComfyGenerating)], sourceFolder: String
    ) {
        self.plan = plan
        self.spec = spec
        self.clients = clients
        self.sourceFolder = sourceFolder
    }

    /// Serves the board until it is closed and nothing is left on it: checks the servers when the first job comes,
    /// then runs one worker per healthy server. Cancelled (Ctrl-C), it cancels the prompts it queued and answers
    /// every job still waiting as not queued; `tally.interrupted` says how many.
    func serve(board: JobBoard, tally: Tally, environment: RunEnvironment) async {
        let reporter = environment.reporter
        guard await board.waitForFirst() else {
            if Task.isCancelled { await tally.interrupt(cancelled: 0, finished: 0) }
            await board.end(.notQueued("interrupted"))
            return
        }
        // Every server is checked; one that fails is left out (said once), and the pool goes on with the others.
        var healthy: [(server: String, client: any ComfyGenerating)] = []
        var problems: [String] = []
        for entry in clients {
            if let problem = await preflight(entry.server, entry.client) {
                problems.append(problem)
                if clients.count > 1 { reporter.note("generate: ComfyUI at \(entry.server) is left out: \(problem)") }
            } else {
                healthy.append(entry)
            }
        }
        guard !healthy.isEmpty else {
            let problem = problems.count == 1 ? problems[0] : "no ComfyUI server of the pool can take the prompts: " + problems.joined(separator: "; ")
            reporter.note("error: generate: \(problem)")
            await tally.unavailable(problem)
            await board.end(.notQueued(problem))
            return
        }
        await tally.start(servers: healthy.map(\.server))
        // One server takes every prompt at once (ComfyUI queues them); a pool keeps two on each, so a faster server,
        // emptying its queue sooner, takes more.
        let depth = healthy.count == 1 ? Int.max : 2
        let pool = healthy.count > 1
        var interrupted: (cancelled: Int, finished: Int)?
        await withTaskGroup(of: WorkerEnd.self) { group in
            for entry in healthy {
                group.addTask {
                    let end = await work(
                        entry.server, entry.client, board: board, tally: tally, depth: depth, pool: pool, environment: environment)
                    if case .gone = end { await tally.serverEnded(entry.server, gone: true) }
                    if case .done = end { await tally.serverEnded(entry.server, gone: false) }
                    return end
                }
            }
            for await end in group {
                if case .interrupted(let cancelled, let finished) = end {
                    interrupted = ((interrupted?.cancelled ?? 0) + cancelled, (interrupted?.finished ?? 0) + finished)
                }
            }
        }
        if let interrupted {
            await tally.interrupt(cancelled: interrupted.cancelled, finished: interrupted.finished)
            await board.end(.notQueued("interrupted"))
            return
        }
        // Prompts no server could finish (every one went away): failed for this run.
        for (job, reason) in await board.leftOver() {
            let message = reason + "; the next run queues it again"
            await tally.fail(job, message)
            await board.answer(job, .failed(message))
        }
        await board.end(.failed("no ComfyUI server was left to make it; the next run queues it again"))
    }

    /// Whether a server of a pool can take one more prompt: its queue (every client's prompts) is shorter than the
    /// depth. Without a limit (one server), or when the server does not say, it can.
    func roomOnServer(_ client: any ComfyGenerating, open: Int, depth: Int) async -> Bool {
        guard depth != Int.max, open > 0 else { return true }
        guard let remaining = try? await client.queueRemaining() else { return true }
        return max(remaining, open) < depth
    }

    /// How a server's worker ended.
    enum WorkerEnd: Sendable {
        case done
        case gone
        case interrupted(cancelled: Int, finished: Int)
    }

    /// One server's share: takes prompts from the board (up to `depth` queued at once), follows them, downloads and
    /// records. When the server goes away, its unfinished prompts go back on the board for the others.
    func work(
        _ server: String, _ client: any ComfyGenerating, board: JobBoard, tally: Tally, depth: Int, pool: Bool,
        environment: RunEnvironment
    ) async -> WorkerEnd {
        let reporter = environment.reporter
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
        let watch = ServerWatch(name: server, window: lostWindow, say: { reporter.note($0) })
        var open: [(job: GenerationJob, promptID: String, leftOut: ComfyValidationError?)] = []
        var finished = 0
        /// A pair that gave no images (or not all): said, counted, and answered (its node records the failure).
        func fail(_ job: GenerationJob, _ message: String) async {
            await tally.fail(job, message)
            await board.answer(job, .failed(message))
        }
        func giveBack(_ reason: String, also job: GenerationJob? = nil, settled: Bool = false) async {
            for job in open.map(\.job) { await board.giveBack(job, reason: reason) }
            if let job { await board.giveBack(job, reason: reason, settled: settled) }
            open.removeAll()
        }
        do {
            while true {
                try Task.checkCancellation()
                // A pool reads the server's own queue (other clients' prompts count too) before taking one more.
                while open.count < depth, await roomOnServer(client, open: open.count, depth: depth),
                    let job = await board.next()
                {
                    do {
                        // Not cancelled half-way: once ComfyUI took the prompt, its id must come back so Ctrl-C can
                        // cancel it (a request cut short would leave a prompt nobody knows about).
                        let graph = job.graph
                        let answer = try await Task.detached { try await client.queue(graph, clientID: clientID) }.value
                        open.append((job, answer.promptID, answer.leftOut))
                    } catch let error as ComfyValidationError {
                        await board.settle()
                        await fail(job, error.description)
                    } catch is ComfyUnreachable {
                        // The server went away before taking it: waited for like any other request; back in time, the
                        // prompt is queued again, else it goes to another server (or fails at the end).
                        do {
                            _ = try await watch.reachable { try await client.systemStats() }
                            await board.giveBack(job, reason: "ComfyUI at \(server) did not take it")
                        } catch let gone as ComfyServerGone {
                            await giveBack(gone.description, also: job)
                            if pool { reporter.note("generate: the prompts of \(server) go to the other servers") }
                            return .gone
                        }
                    } catch {
                        // Interrupted while queueing: not this prompt's failure.
                        if Task.isCancelled {
                            await board.giveBack(job, reason: "interrupted")
                            throw CancellationError()
                        }
                        await board.settle()
                        await fail(job, "\(error)")
                    }
                }
                guard let (job, promptID, leftOut) = open.first else {
                    // Done here, unless a prompt still out on another server comes back for this one.
                    if await board.drained { return .done }
                    try await Task.sleep(nanoseconds: 50_000_000)
                    continue
                }
                let label = pool ? "\(job.label) on \(server)" : job.label
                // Awaited, so the terminal shows the steps in the order they came.
                let progress = { (step: (value: Int, max: Int)?) async in
                    await tally.progress(label, step: step, server: server, prompt: job.label)
                }
                await progress(nil)
                let outcome: ComfyRunState
                do {
                    outcome = try await follow(
                        promptID, client: client, follower: follower, deadline: Double(spec.timeoutSeconds), server: watch,
                        progress: progress)
                } catch let gone as ComfyServerGone {
                    await giveBack(gone.description)
                    if pool { reporter.note("generate: the prompts of \(server) go to the other servers") }
                    return .gone
                }
                open.removeFirst()
                finished += 1
                await board.settle()
                await tally.finishedOne(label)
                switch outcome {
                case .succeeded(let images):
                    do {
                        let names = try await watch.reachable { try await download(images, from: client) }
                        if let leftOut {
                            // What the valid outputs saved is kept and ingested; the prompt is a failure until the
                            // workflow is fixed, so the next run queues it again and the user sees why each time.
                            let kept = names.isEmpty ? "" : names.count == 1
                                ? " (the image of the other outputs was downloaded)"
                                : " (the \(names.count) images of the other outputs were downloaded)"
                            await tally.downloaded(names)
                            await fail(job, leftOut.description + kept)
                            continue
                        }
                        await tally.generated(names)
                        await board.answer(
                            job,
                            .made(
                                .object([
                                    "prompt_id": .string(promptID), "prompt": .string(job.prompt), "seed": .int(job.seed),
                                    "images": .array(names.map(JSONValue.string)), "server": .string(server),
                                ])))
                    } catch let gone as ComfyServerGone {
                        await giveBack(gone.description, also: job, settled: true)
                        if pool { reporter.note("generate: the prompts of \(server) go to the other servers") }
                        return .gone
                    } catch {
                        // Interrupted while downloading: the next run queues this pair again.
                        if Task.isCancelled { throw CancellationError() }
                        await fail(job, "\(error)")
                    }
                case .failed(let message):
                    await fail(job, message + (leftOut.map { "; " + $0.description } ?? ""))
                case .pending:
                    await cancel([promptID], on: client)
                    await fail(job, "no result after \(spec.timeoutSeconds) s (the prompt was cancelled; raise generate.timeout?)")
                }
            }
        } catch {
            // Ctrl-C: this server's prompts are cancelled on it.
            await cancel(open.map(\.promptID), on: client)
            return .interrupted(cancelled: open.count, finished: finished)
        }
    }

    /// Checks the server answers and has every model the graphs name; the problem, or nil.
    func preflight(_ server: String, _ client: any ComfyGenerating) async -> String? {
        do {
            _ = try await client.systemStats()
        } catch {
            return "ComfyUI does not answer at \(server): \(error)"
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
                return "\(model) is not installed on ComfyUI at \(server) (installed: \(names.isEmpty ? "none" : shown)"
                    + "\(names.count > 12 ? ", …" : ""))"
            }
        }
        return nil
    }

    /// Waits until the prompt is done: woken by the socket's `executing`-null (then `/history` says how it ended),
    /// reading `/history` every `pollSeconds` while the socket is down, and every few seconds anyway.
    func follow(
        _ promptID: String, client: any ComfyGenerating, follower: Follower, deadline: Double, server: ServerWatch,
        progress: ((value: Int, max: Int)?) async -> Void
    ) async throws -> ComfyRunState {
        let start = ContinuousClock.now
        var lastPoll = ContinuousClock.now
        var lastStep: (Int, Int)?
        while true {
            try Task.checkCancellation()
            let seen = await follower.status(of: promptID)
            if let step = seen.step, step != lastStep ?? (-1, -1) {
                lastStep = step
                await progress(step)
            }
            let interval = seen.socketUp ? pollSeconds * 40 : pollSeconds
            if seen.finished || ContinuousClock.now - lastPoll >= .seconds(interval) {
                lastPoll = ContinuousClock.now
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
    func download(_ images: [ComfyImage], from client: any ComfyGenerating) async throws -> [String] {
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
    func cancel(_ promptIDs: [String], on client: any ComfyGenerating) async {
        guard !promptIDs.isEmpty else { return }
        await Task.detached { try? await client.cancel(promptIDs) }.value
    }
}

/// Generation could not go on: no client was given, or an image could not be downloaded or placed.
struct GenerationError: Error, CustomStringConvertible {
    var description: String
}

/// The prompts to make, handed in by their nodes and shared by the servers of a pool: each is handed to one server
/// at a time; one whose server went away comes back for another (at most twice), and what nobody could make is left
/// over at the end. Every job handed in is answered once: made, failed, or not queued.
actor JobBoard {
    private var waiting: [GenerationJob] = []
    /// Jobs handed out and not yet settled (made, failed, or given back).
    private var outstanding = 0
    private var attempts: [CacheKey: Int] = [:]
    private var reasons: [CacheKey: String] = [:]
    private var abandoned: [(GenerationJob, String)] = []
    /// The nodes waiting for their job's answer.
    private var answers: [CacheKey: CheckedContinuation<JobResult, Never>] = [:]
    /// No job comes any more (every node settled).
    private var closed = false
    /// The generator stopped serving: a job handed in now gets this answer at once.
    private var ended: JobResult?
    private let tally: Tally

    init(tally: Tally) { self.tally = tally }

    /// Hands a job in and waits for its answer.
    func make(_ job: GenerationJob) async -> JobResult {
        if let ended { return ended }
        await tally.expect()
        if let ended { return ended }
        return await withCheckedContinuation { continuation in
            answers[job.key] = continuation
            waiting.append(job)
        }
    }

    /// Answers a job's node.
    func answer(_ job: GenerationJob, _ result: JobResult) {
        answers.removeValue(forKey: job.key)?.resume(returning: result)
    }

    /// The generator stops: every job not answered yet, and every one handed in later, gets `result`.
    func end(_ result: JobResult) {
        ended = ended ?? result
        waiting.removeAll()
        for continuation in answers.values { continuation.resume(returning: result) }
        answers.removeAll()
    }

    /// Every node settled: once nothing is left, the workers end.
    func close() { closed = true }

    /// Waits for the first job; false when the board closed (or the task was cancelled) before any came.
    func waitForFirst() async -> Bool {
        while waiting.isEmpty {
            if closed || Task.isCancelled { return false }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return true
    }

    func next() -> GenerationJob? {
        guard !waiting.isEmpty else { return nil }
        outstanding += 1
        return waiting.removeFirst()
    }

    /// A job handed out is made or failed for good.
    func settle() { outstanding -= 1 }

    /// No job can come any more, nothing waits and nothing is out: no job can come back for another server.
    var drained: Bool { closed && waiting.isEmpty && outstanding == 0 }

    /// A job its server could not finish: back for another server, unless it was tried three times. `settled`: it
    /// was counted as settled already (it failed while being downloaded).
    func giveBack(_ job: GenerationJob, reason: String, settled: Bool = false) {
        if !settled { outstanding -= 1 }
        attempts[job.key, default: 0] += 1
        reasons[job.key] = reason
        if attempts[job.key, default: 0] >= 3 { abandoned.append((job, reason)) } else { waiting.append(job) }
    }

    /// What no server could make, with why.
    func leftOver() -> [(GenerationJob, String)] {
        let rest = waiting.map { ($0, reasons[$0.key] ?? "no ComfyUI server was left to make it") }
        waiting.removeAll()
        let left = abandoned + rest
        abandoned.removeAll()
        return left
    }
}

/// The generation's summary as the servers' workers fill it in, and its lines on the terminal.
actor Tally {
    private(set) var summary: GenerationSummary
    /// The (prompt number, seed) of each of `summary.failures`.
    private var failedJobs: [(Int, Int)] = []
    /// Set when the run was interrupted: prompts cancelled on ComfyUI, and those finished before.
    private(set) var interrupted: (cancelled: Int, finished: Int)?
    private let reporter: any RunReporter
    /// The jobs handed in (the nodes that had work).
    private var total = 0
    private var done = 0
    private var said: [String: Int] = [:]
    /// What each server of a pool does now (empty for one server).
    private var servers: [GenerationProgress.ServerState] = []

    init(jobs: Int, reporter: any RunReporter) {
        self.summary = GenerationSummary(jobs: jobs)
        self.reporter = reporter
    }

    /// One more job was handed in.
    func expect() { total += 1 }

    /// The servers that passed the check start (a pool's are shown one line each).
    func start(servers: [String]) {
        self.servers = servers.count > 1 ? servers.map { .init(server: $0, doing: "starting") } : []
    }

    /// No server could take prompts: nothing was queued.
    func unavailable(_ problem: String) { summary.error = problem }

    /// The run was interrupted.
    func interrupt(cancelled: Int, finished: Int) { interrupted = (cancelled, finished) }

    /// A prompt came back (in any way): counted, and said (on a pipe, a line naming it).
    func finishedOne(_ label: String) {
        done += 1
        reporter.generating(GenerationProgress(done: done, total: total, current: label, servers: servers))
    }

    func progress(_ label: String, step: (value: Int, max: Int)?, server: String? = nil, prompt: String? = nil) {
        if let server, let index = servers.firstIndex(where: { $0.server == server }) {
            servers[index].doing = (prompt ?? label) + (step.map { " step \($0.value)/\($0.max)" } ?? "")
        }
        reporter.generating(GenerationProgress(done: done, total: total, current: label, step: step, servers: servers))
    }

    /// A server of the pool has nothing more to do, or went away.
    func serverEnded(_ server: String, gone: Bool) {
        guard let index = servers.firstIndex(where: { $0.server == server }) else { return }
        servers[index].doing = gone ? "gone (its prompts went to the others)" : "done"
        reporter.generating(GenerationProgress(done: done, total: total, current: "", servers: servers))
    }

    func generated(_ names: [String]) {
        summary.generated += 1
        summary.images += names
    }

    func downloaded(_ names: [String]) { summary.images += names }

    /// A prompt that gave no images (or not all): said (the same error twice, then once that more follow) and
    /// counted; its node records it, so the next run tries it again.
    func fail(_ job: GenerationJob, _ message: String) {
        said[message, default: 0] += 1
        if said[message, default: 0] <= 2 {
            reporter.note("error: generate \(job.label) (\(GenerationSummary.excerpt(job.prompt))): \(message)")
        } else if said[message] == 3 {
            reporter.note("error: more prompts fail with the same error; the summary lists them")
        }
        // Listed in the manifest's order (prompt, then seed), whatever order the prompts were queued and failed in.
        let place = failedJobs.firstIndex { $0 > (job.promptNumber, job.seed) } ?? failedJobs.count
        failedJobs.insert((job.promptNumber, job.seed), at: place)
        summary.failures.insert(.init(label: job.label, prompt: job.prompt, message: message), at: place)
    }
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
