import ElenaCore
import ElenaTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A fake ComfyUI for tests, on 127.0.0.1 over real HTTP (`comfyui-api.md` §1a–1b): `/system_stats`,
/// `/object_info/{class}`, `POST /prompt` with graph validation (400 with `node_errors` naming node and input),
/// runs that write real PNGs named the way SaveImage names them with the graph in a `prompt` text chunk,
/// `/history/{id}`, `/view`, `POST /queue {delete}` and `POST /interrupt`. Runtime errors can be injected.
/// (The websocket is not served yet: clients poll `/history`.)
public final class FakeComfy: Sendable {
    /// How the fake behaves.
    public struct Configuration: Sendable {
        /// Checkpoints on "disk" (`CheckpointLoaderSimple.ckpt_name`).
        public var checkpoints = ["elena-base.safetensors"]
        /// LoRAs on "disk" (`LoraLoader.lora_name`).
        public var loras = ["elena-face.safetensors"]
        /// How long a run takes.
        public var runSeconds = 0.05
        /// Where SaveImage writes.
        public var outputFolder: String

        /// Creates a configuration writing into `outputFolder`.
        public init(outputFolder: String) {
            self.outputFolder = outputFolder
        }
    }

    struct State {
        var port = 0
        var server: Task<Void, any Error>?
        var history: [String: JSONValue] = [:]
        var queued: [String] = []
        var cancelled: [String] = []
        var failures: [String] = []
        var counters: [String: Int] = [:]
        var prompts = 0
        var held = false
        var settled = 0
    }

    public let configuration: Configuration
    let state = Mutex(State())

    /// Node types the fake knows.
    static let known: Set<String> = [
        "CheckpointLoaderSimple", "LoraLoader", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage",
    ]

    /// Creates a fake (call `start()`).
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(state.withLock { $0.port })" }
    /// Prompts accepted so far.
    public var acceptedPrompts: Int { state.withLock { $0.prompts } }
    /// Prompt ids removed from the queue by `POST /queue {delete}`.
    public var cancelled: [String] { state.withLock { $0.cancelled } }
    /// Prompts queued and not yet finished.
    public var queued: [String] { state.withLock { $0.queued } }

    /// Runs wait (queued, not started) until `releaseRuns()`: a test can act on a queue that surely has not moved.
    public func holdRuns() { state.withLock { $0.held = true } }
    /// Lets held runs go.
    public func releaseRuns() { state.withLock { $0.held = false } }
    /// Runs that ended in any way (finished, failed, or found cancelled).
    public var settledRuns: Int { state.withLock { $0.settled } }

    /// The next run fails in its sampler with this message (`execution_error`).
    public func failNextRun(_ message: String) { state.withLock { $0.failures.append(message) } }

    /// Starts listening on a free port.
    public func start() async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "fake-comfyui"),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: Logger(label: "elena.comfy.fake", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task {
            defer { continuation.finish() }
            try await application.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw CancellationError()
        }
        state.withLock {
            $0.port = port
            $0.server = task
        }
    }

    /// Stops the server.
    public func stop() async {
        let task = state.withLock { state -> Task<Void, any Error>? in
            defer { state.server = nil }
            return state.server
        }
        task?.cancel()
        _ = try? await task?.value
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/system_stats") { _, _ in
            Self.json(
                .ok,
                .object([
                    "system": .object([
                        "os": .string("posix"), "comfyui_version": .string("0.3.64"), "python_version": .string("3.11"),
                        "embedded_python": .bool(false),
                    ]),
                    "devices": .array([.object(["name": .string("cpu"), "type": .string("cpu"), "index": .int(0)])]),
                ]))
        }
        router.get("/object_info/:class") { _, context in
            let name = context.parameters.get("class") ?? ""
            guard Self.known.contains(name) else { return Self.json(.ok, .object([:])) }
            var required: [JSONValue.Member] = []
            if name == "CheckpointLoaderSimple" {
                required.append(.init("ckpt_name", .array([.array(self.configuration.checkpoints.map(JSONValue.string)), .object([:])])))
            }
            if name == "LoraLoader" {
                required.append(.init("lora_name", .array([.array(self.configuration.loras.map(JSONValue.string)), .object([:])])))
            }
            return Self.json(.ok, .object([.init(name, .object(["input": .object(["required": .object(required)])]))]))
        }
        router.post("/prompt") { request, _ in
            let body = try await request.body.collect(upTo: 16 << 20)
            return self.queue(try? JSONValue.parse(String(buffer: body)))
        }
        router.get("/history/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let entry = self.state.withLock({ $0.history[id] }) else { return Self.json(.ok, .object([:])) }
            return Self.json(.ok, .object([.init(id, entry)]))
        }
        router.get("/view") { request, _ in
            let query = request.uri.queryParameters
            let name = query.get("filename") ?? ""
            let subfolder = query.get("subfolder") ?? ""
            guard !name.isEmpty, !name.hasPrefix("/"), !name.contains(".."), !name.contains("/") else {
                return Response(status: .badRequest)
            }
            guard !subfolder.hasPrefix("/"), !subfolder.split(separator: "/").contains("..") else {
                return Response(status: .forbidden)
            }
            let path = self.configuration.outputFolder + "/" + (subfolder.isEmpty ? "" : subfolder + "/") + name
            guard let data = FileManager.default.contents(atPath: path) else { return Response(status: .notFound) }
            return Response(
                status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/queue") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            let ids = (try? JSONValue.parse(String(buffer: body)))?["delete"]?.arrayValue?.compactMap(\.stringValue) ?? []
            self.state.withLock { state in
                for id in ids where state.queued.contains(id) {
                    state.queued.removeAll { $0 == id }
                    state.cancelled.append(id)
                }
            }
            return Response(status: .ok)
        }
        router.post("/interrupt") { _, _ in Response(status: .ok) }
        return router
    }

    static func nodeError(_ type: String, _ message: String, input: String) -> JSONValue {
        .object([
            "type": .string(type), "message": .string(message), "details": .string(input),
            "extra_info": .object(["input_name": .string(input)]),
        ])
    }

    /// Validates the graph as ComfyUI does (the parts a drop's workflow uses), then queues it.
    func queue(_ body: JSONValue?) -> Response {
        guard case .object(let nodes) = body?["prompt"] else {
            return Self.json(
                .badRequest,
                .object([
                    "error": .object(["type": .string("no_prompt"), "message": .string("No prompt provided"), "details": .string(""), "extra_info": .object([:])]),
                    "node_errors": .object([:]),
                ]))
        }
        func refuse(_ type: String, _ message: String, _ nodeErrors: [JSONValue.Member] = []) -> Response {
            Self.json(
                .badRequest,
                .object([
                    "error": .object(["type": .string(type), "message": .string(message), "details": .string(""), "extra_info": .object([:])]),
                    "node_errors": .object(nodeErrors),
                ]))
        }
        let ids = Set(nodes.map(\.key))
        for node in nodes {
            let classType = node.value["class_type"]?.stringValue ?? ""
            guard Self.known.contains(classType) else {
                return refuse("invalid_prompt", "Cannot execute because node \(classType) does not exist.")
            }
        }
        guard nodes.contains(where: { $0.value["class_type"]?.stringValue == "SaveImage" }) else {
            return refuse("prompt_no_outputs", "Prompt has no outputs")
        }
        var nodeErrors: [JSONValue.Member] = []
        for node in nodes {
            let classType = node.value["class_type"]?.stringValue ?? ""
            var errors: [JSONValue] = []
            if case .object(let inputs) = node.value["inputs"] {
                for input in inputs {
                    if let link = input.value.arrayValue, link.count == 2, let source = link[0].stringValue, !ids.contains(source) {
                        errors.append(Self.nodeError("bad_linked_input", "Bad linked input, must be a length-2 list of [string, int]", input: input.key))
                    }
                }
            }
            if classType == "CheckpointLoaderSimple", let name = node.value["inputs"]?["ckpt_name"]?.stringValue,
                !configuration.checkpoints.contains(name)
            {
                errors.append(Self.nodeError("value_not_in_list", "Value not in list", input: "ckpt_name"))
            }
            if classType == "LoraLoader", let name = node.value["inputs"]?["lora_name"]?.stringValue, !configuration.loras.contains(name) {
                errors.append(Self.nodeError("value_not_in_list", "Value not in list", input: "lora_name"))
            }
            if classType == "KSampler", let seed = node.value["inputs"]?["seed"]?.intValue, seed < 0 {
                errors.append(Self.nodeError("value_smaller_than_min", "Value -1 smaller than min of 0", input: "seed"))
            }
            if !errors.isEmpty {
                nodeErrors.append(
                    .init(
                        node.key,
                        .object(["errors": .array(errors), "dependent_outputs": .array([]), "class_type": .string(classType)])))
            }
        }
        if !nodeErrors.isEmpty { return refuse("prompt_outputs_failed_validation", "Prompt outputs failed validation", nodeErrors) }
        let id = UUID().uuidString.lowercased()
        state.withLock {
            $0.queued.append(id)
            $0.prompts += 1
        }
        let graph = JSONValue.object(nodes)
        Task { await self.run(id, graph: graph) }
        return Self.json(.ok, .object(["prompt_id": .string(id), "number": .int(acceptedPrompts), "node_errors": .object([:])]))
    }

    /// Runs a queued prompt: waits, then writes the images (or fails as injected) and records the history.
    func run(_ id: String, graph: JSONValue) async {
        defer { state.withLock { $0.settled += 1 } }
        while state.withLock({ $0.held }) { try? await Task.sleep(nanoseconds: 10_000_000) }
        try? await Task.sleep(nanoseconds: UInt64(configuration.runSeconds * 1_000_000_000))
        let (stillQueued, failure) = state.withLock { state -> (Bool, String?) in
            guard state.queued.contains(id) else { return (false, nil) }
            return (true, state.failures.isEmpty ? nil : state.failures.removeFirst())
        }
        guard stillQueued else { return }
        guard case .object(let nodes) = graph else { return }
        let now = Int(Date().timeIntervalSince1970 * 1000)
        if let failure {
            let sampler = nodes.first { $0.value["class_type"]?.stringValue == "KSampler" }?.key ?? "?"
            let entry = JSONValue.object([
                "prompt": .array([.int(0), .string(id), graph, .object([:]), .array([])]),
                "outputs": .object([:]),
                "status": .object([
                    "status_str": .string("error"), "completed": .bool(false),
                    "messages": .array([
                        .array([.string("execution_start"), .object(["prompt_id": .string(id), "timestamp": .int(now)])]),
                        .array([
                            .string("execution_error"),
                            .object([
                                "prompt_id": .string(id), "node_id": .string(sampler), "node_type": .string("KSampler"),
                                "exception_message": .string(failure), "exception_type": .string("RuntimeError"),
                                "timestamp": .int(now),
                            ]),
                        ]),
                    ]),
                ]),
            ])
            state.withLock {
                $0.queued.removeAll { $0 == id }
                $0.history[id] = entry
            }
            return
        }
        var outputs: [JSONValue.Member] = []
        let latent = nodes.first { $0.value["class_type"]?.stringValue == "EmptyLatentImage" }?.value["inputs"]
        let width = min(512, latent?["width"]?.intValue ?? 512)
        let height = min(768, latent?["height"]?.intValue ?? 768)
        let batch = max(1, latent?["batch_size"]?.intValue ?? 1)
        let seed = nodes.first { $0.value["class_type"]?.stringValue == "KSampler" }?.value["inputs"]?["seed"]?.intValue ?? 0
        for save in nodes where save.value["class_type"]?.stringValue == "SaveImage" {
            let prefix = save.value["inputs"]?["filename_prefix"]?.stringValue ?? "ComfyUI"
            let subfolder = prefix.contains("/") ? String(prefix[..<(prefix.lastIndex(of: "/") ?? prefix.endIndex)]) : ""
            let stem = prefix.split(separator: "/").last.map(String.init) ?? "ComfyUI"
            var images: [JSONValue] = []
            for index in 0..<batch {
                let counter = state.withLock { state -> Int in
                    state.counters[prefix, default: 0] += 1
                    return state.counters[prefix] ?? 1
                }
                let name = String(format: "%@_%05d_.png", stem, counter)
                let folder = configuration.outputFolder + (subfolder.isEmpty ? "" : "/" + subfolder)
                let pixels = (try? SyntheticImage(width: width, height: height, seed: UInt64(max(0, seed + index))).encoded(.png)) ?? Data()
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try? ComfyMetadata.png(pixels, prompt: graph.serialized()).write(to: URL(fileURLWithPath: folder + "/" + name))
                images.append(.object(["filename": .string(name), "subfolder": .string(subfolder), "type": .string("output")]))
            }
            outputs.append(.init(save.key, .object(["images": .array(images)])))
        }
        let entry = JSONValue.object([
            "prompt": .array([.int(0), .string(id), graph, .object([:]), .array([])]),
            "outputs": .object(outputs),
            "status": .object([
                "status_str": .string("success"), "completed": .bool(true),
                "messages": .array([
                    .array([.string("execution_start"), .object(["prompt_id": .string(id), "timestamp": .int(now)])]),
                    .array([.string("execution_success"), .object(["prompt_id": .string(id), "timestamp": .int(now)])]),
                ]),
            ]),
        ])
        state.withLock {
            $0.queued.removeAll { $0 == id }
            $0.history[id] = entry
        }
    }
}
