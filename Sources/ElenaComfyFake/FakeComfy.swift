package import ElenaCore
package import ElenaFakeServer
import ElenaTestKit
import ElenaTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// A fake ComfyUI for tests, on 127.0.0.1 over real HTTP (`comfyui-api.md` §1a–1b): `/system_stats`,
/// `/object_info/{class}`, `POST /prompt` with graph validation (400 with `node_errors` naming node and input),
/// runs that write real PNGs named the way SaveImage names them with the graph in a `prompt` text chunk,
/// `/history/{id}`, `/view`, `POST /queue {delete}` and `POST /interrupt`, and the websocket `/ws?clientId=` with
/// the documented event sequence (`status`, `execution_start`, `execution_cached`, `executing`, `progress`,
/// `executed`, `execution_success` or `execution_error`, then `executing` with a null node). Runtime errors,
/// dropped sockets and refused sockets can be injected.
package final class FakeComfy: Sendable {
    /// How the fake behaves.
    package struct Configuration: Sendable {
        /// Checkpoints on "disk" (`CheckpointLoaderSimple.ckpt_name`).
        package var checkpoints = ["elena-base.safetensors"]
        /// LoRAs on "disk" (`LoraLoader.lora_name`).
        package var loras = ["elena-face.safetensors"]
        /// How long a run takes.
        package var runSeconds = 0.05
        /// Sends a binary preview frame (type 1, a JPEG's first bytes) at every sampler step, as ComfyUI does with
        /// `--preview-method`.
        package var previews = false
        /// Where SaveImage writes.
        package var outputFolder: String
        /// The port to listen on (0: any free port).
        package var port = 0
        /// The fake's clock: run times, answer delays and timestamps follow it (`FakeTime.manual()` in tests that
        /// must not wait).
        package var time = FakeTime.system

        /// Creates a configuration writing into `outputFolder`.
        package init(outputFolder: String) {
            self.outputFolder = outputFolder
        }
    }

    struct State {
        var port = 0
        var server: LoopbackServer.Running?
        var history: [String: JSONValue] = [:]
        var queued: [String] = []
        var cancelled: [String] = []
        /// Injected sampler failures, each for the next run whose graph has a text containing `match` (any run when nil).
        var failures: [(message: String, match: String?)] = []
        var counters: [String: Int] = [:]
        /// The prompt running now, and the node it is at.
        var running: (prompt: String, node: String)?
        /// Prompts `POST /interrupt` stopped (they end at their next node or step).
        var interrupts: Set<String> = []
        /// The outputs of every graph run to success, by its text: the same graph again is all cached (ComfyUI
        /// keeps its nodes' results) and answers with the same files.
        var ranGraphs: [String: [JSONValue.Member]] = [:]
        var prompts = 0
        var held = false
        var settled = 0
        /// The client id each prompt was queued with (events go only to that client's sockets).
        var clients: [String: String] = [:]
        /// Open sockets: id, client id, and where their frames go (nil closes the connection abruptly).
        var sockets: [Int: (client: String, send: AsyncStream<SocketFrame?>.Continuation)] = [:]
        var nextSocket = 0
        var socketsOpened = 0
        var dropAtNextStart = false
        var refuseSockets = false
        var historyReads = 0
        var refusals: [(input: String, message: String, match: String?)] = []
        var answerDelay = 0.0
        /// The run started last: runs go one at a time, in queue order, as on ComfyUI.
        var lastRun: Task<Void, Never>?
    }

    package let configuration: Configuration
    let state = Mutex(State())

    /// Node types the fake knows.
    static let known: Set<String> = [
        "CheckpointLoaderSimple", "LoraLoader", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage",
        // The model-free graph of the recordings (Tests/Fixtures/comfyui-0.3.64): noise on a plain image.
        "EmptyImage", "ImageAddNoise", "PrimitiveStringMultiline", "PreviewAny", "ImageToMask", "MaskToImage", "ImageBlur",
        "ImageSharpen",
    ]

    /// Creates a fake (call `start()`).
    package init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// `http://127.0.0.1:<port>`.
    package var baseURL: String { "http://127.0.0.1:\(state.withLock { $0.port })" }
    /// Prompts accepted so far.
    package var acceptedPrompts: Int { state.withLock { $0.prompts } }
    /// Prompt ids removed from the queue by `POST /queue {delete}`.
    package var cancelled: [String] { state.withLock { $0.cancelled } }
    /// Prompts queued and not yet finished.
    package var queued: [String] { state.withLock { $0.queued } }

    /// Runs wait (queued, not started) until `releaseRuns()`: a test can act on a queue that surely has not moved.
    package func holdRuns() { state.withLock { $0.held = true } }
    /// Lets held runs go.
    package func releaseRuns() { state.withLock { $0.held = false } }
    /// Runs that ended in any way (finished, failed, or found cancelled).
    package var settledRuns: Int { state.withLock { $0.settled } }

    /// Websocket connections accepted so far.
    package var socketsOpened: Int { state.withLock { $0.socketsOpened } }
    /// `GET /history/{id}` requests answered so far (a client following the socket reads each prompt once).
    package var historyReads: Int { state.withLock { $0.historyReads } }
    /// The next run closes every open socket (without a close frame) right after `execution_start`.
    package func dropSocketsAtNextRunStart() { state.withLock { $0.dropAtNextStart = true } }
    /// `/ws` stops upgrading (as if a proxy in front of ComfyUI did not pass websockets).
    package func refuseSockets() { state.withLock { $0.refuseSockets = true } }

    /// `POST /prompt` answers this many seconds after taking the prompt (a client interrupted in between must still
    /// learn the prompt's id to cancel it).
    package func delayPromptAnswers(by seconds: Double) { state.withLock { $0.answerDelay = seconds } }

    /// The next prompt that has a node with this input (whose text contains `whoseTextContains`, when given) is refused
    /// at validation, naming that node and input (`custom_validation_failed`).
    package func refuseNextPrompt(input: String, message: String, whoseTextContains match: String? = nil) {
        state.withLock { $0.refusals.append((input, message, match)) }
    }

    /// The next run fails in its sampler with this message (`execution_error`); with `whoseTextContains`, the next run
    /// of a graph with a string input containing it (a client may queue several prompts at once, in any order).
    package func failNextRun(_ message: String, whoseTextContains match: String? = nil) {
        state.withLock { $0.failures.append((message, match)) }
    }

    /// Starts listening on a free port.
    package func start() async throws {
        let running = try await LoopbackServer.start("the fake ComfyUI server") { running in
            Application(
                router: makeRouter(),
                server: .http1WebSocketUpgrade { request, channel, _ in
                    guard request.path?.hasPrefix("/ws") == true, !self.state.withLock({ $0.refuseSockets }) else { return .dontUpgrade }
                    let query = request.path.map { String($0.drop { $0 != "?" }.dropFirst()) } ?? ""
                    let client =
                        query.split(separator: "&").first { $0.hasPrefix("clientId=") }
                        .map { String($0.dropFirst("clientId=".count)).removingPercentEncoding ?? "" } ?? UUID().uuidString
                    return .upgrade([:]) { inbound, outbound, _ in
                        await self.serveSocket(client: client, channel: channel, inbound: inbound, outbound: outbound)
                    }
                },
                configuration: .init(address: .hostname("127.0.0.1", port: configuration.port), serverName: "fake-comfyui"),
                onServerRunning: running,
                logger: Logger(label: "elena.comfy.fake", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
        state.withLock {
            $0.port = running.port
            $0.server = running
        }
    }

    /// Stops the server: its websockets are dropped first (as a ComfyUI that goes away drops them), so the graceful
    /// shutdown does not wait for them.
    package func stop() async {
        let running = state.withLock { state -> LoopbackServer.Running? in
            defer { state.server = nil }
            for socket in state.sockets.values { socket.send.yield(nil) }
            return state.server
        }
        await running?.stop()
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
            let response = self.queue(try? JSONValue.parse(String(buffer: body)))
            let delay = self.state.withLock { $0.answerDelay }
            await self.configuration.time.pause(delay)
            return response
        }
        // The queue's length, running prompt included (every client's), as ComfyUI answers it.
        router.get("/prompt") { _, _ in
            let remaining = self.state.withLock { $0.queued.count }
            return Self.json(.ok, .object(["exec_info": .object(["queue_remaining": .int(remaining)])]))
        }
        router.get("/history/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            self.state.withLock { $0.historyReads += 1 }
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
        // Stops the running prompt (the one named, or whichever runs): it ends with execution_interrupted.
        router.post("/interrupt") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            let named = (try? JSONValue.parse(String(buffer: body)))?["prompt_id"]?.stringValue
            self.state.withLock { state in
                if let running = state.running?.prompt, named == nil || named == running { state.interrupts.insert(running) }
            }
            return Response(status: .ok)
        }
        return router
    }

    /// One websocket: a `status` message with the session id first, then every event for `client`, until the client
    /// goes or a fault drops the connection.
    func serveSocket(client: String, channel: any Channel, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let (frames, continuation) = AsyncStream.makeStream(of: SocketFrame?.self)
        let id = state.withLock { state -> Int in
            state.nextSocket += 1
            state.socketsOpened += 1
            state.sockets[state.nextSocket] = (client, continuation)
            return state.nextSocket
        }
        defer { _ = state.withLock { $0.sockets.removeValue(forKey: id) } }
        let queued = state.withLock { $0.queued.count }
        let status = Self.message("status", .object(["status": .object(["exec_info": .object(["queue_remaining": .int(queued)])]), "sid": .string(client)]))
        guard (try? await outbound.write(.text(status))) != nil else { return }
        // Reconnected while its prompt runs: ComfyUI says which node runs now, without a prompt id.
        if let running = state.withLock({ state in state.running.flatMap { state.clients[$0.prompt] == client ? $0 : nil } }) {
            continuation.yield(.text(Self.message("executing", .object(["node": .string(running.node), "display_node": .string(running.node)]))))
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        // ComfyUI answers a client's feature_flags with its own (and only then sends them).
                        guard case .text(let text) = message, (try? JSONValue.parse(text))?["type"]?.stringValue == "feature_flags"
                        else { continue }
                        continuation.yield(
                            .text(Self.message("feature_flags", .object(["supports_preview_metadata": .bool(true), "max_upload_size": .int(104_857_600)]))))
                    }
                } catch {}
            }
            group.addTask {
                for await frame in frames {
                    guard let frame else {
                        // A dropped connection: no close frame, the TCP connection just ends.
                        try? await channel.close()
                        return
                    }
                    switch frame {
                    case .text(let text): guard (try? await outbound.write(.text(text))) != nil else { return }
                    case .binary(let bytes): guard (try? await outbound.write(.binary(ByteBuffer(bytes: bytes)))) != nil else { return }
                    }
                }
            }
            _ = await group.next()
            group.cancelAll()
            continuation.finish()
        }
    }

    static func message(_ type: String, _ data: JSONValue) -> String {
        JSONValue.object(["type": .string(type), "data": data]).serialized()
    }

    /// Sends an event to the sockets of the prompt's client (every socket for `status`).
    func emit(_ promptID: String?, _ type: String, _ data: JSONValue) {
        let frame = SocketFrame.text(Self.message(type, data))
        state.withLock { state in
            let client = promptID.flatMap { state.clients[$0] }
            for socket in state.sockets.values where promptID == nil || socket.client == client {
                socket.send.yield(frame)
            }
        }
    }

    func emitQueueStatus() {
        let remaining = state.withLock { $0.queued.count }
        emit(nil, "status", .object(["status": .object(["exec_info": .object(["queue_remaining": .int(remaining)])])]))
    }

    /// Whether an injected fault is for this value: any fault without `match`, else one that some string anywhere in
    /// the value (a graph's texts, file names, class names; an input's text) contains.
    static func names(_ value: JSONValue, _ match: String?) -> Bool {
        guard let match else { return true }
        switch value {
        case .string(let text): return text.contains(match)
        case .array(let values): return values.contains { names($0, match) }
        case .object(let members): return members.contains { names($0.value, match) }
        default: return false
        }
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
        func refuse(_ type: String, _ message: String, _ nodeErrors: [JSONValue.Member] = [], details: String = "") -> Response {
            Self.json(
                .badRequest,
                .object([
                    "error": .object([
                        "type": .string(type), "message": .string(message), "details": .string(details), "extra_info": .object([:]),
                    ]),
                    "node_errors": .object(nodeErrors),
                ]))
        }
        let ids = Set(nodes.map(\.key))
        for node in nodes {
            let classType = node.value["class_type"]?.stringValue ?? ""
            guard Self.known.contains(classType) else {
                // As ComfyUI 0.3.64: the node id only in `details`.
                return refuse(
                    "invalid_prompt", "Cannot execute because node \(classType) does not exist.", details: "Node ID '#\(node.key)'")
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
                        // As ComfyUI 0.3.64: a KeyError raised while validating the input that links there.
                        errors.append(
                            .object([
                                "type": .string("exception_during_inner_validation"),
                                "message": .string("Exception when validating inner node"), "details": .string("'\(source)'"),
                                "extra_info": .object([
                                    "input_name": .string(input.key), "exception_message": .string("'\(source)'"),
                                    "exception_type": .string("KeyError"),
                                ]),
                            ]))
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
        // Each output node runs when every node it depends on is valid; ComfyUI refuses the prompt (400) only when
        // no output is left, and otherwise answers 200, runs the valid outputs and names the rest in node_errors.
        func upstream(_ id: String) -> Set<String> {
            var seen: Set<String> = [id]
            var stack = [id]
            while let next = stack.popLast() {
                guard case .object(let inputs) = nodes.first(where: { $0.key == next })?.value["inputs"] else { continue }
                for input in inputs {
                    if let link = input.value.arrayValue, link.count == 2, let source = link[0].stringValue, ids.contains(source),
                        seen.insert(source).inserted
                    {
                        stack.append(source)
                    }
                }
            }
            return seen
        }
        func refused(_ node: JSONValue.Member, _ refusal: (input: String, message: String, match: String?)) -> Bool {
            guard let value = node.value["inputs"]?[refusal.input] else { return false }
            return Self.names(value, refusal.match)
        }
        let refusal = state.withLock { state -> (input: String, message: String, match: String?)? in
            guard let first = state.refusals.first, nodes.contains(where: { refused($0, first) }) else { return nil }
            return state.refusals.removeFirst()
        }
        if let refusal, let node = nodes.first(where: { refused($0, refusal) }) {
            nodeErrors.append(
                .init(
                    node.key,
                    .object([
                        "errors": .array([Self.nodeError("custom_validation_failed", refusal.message, input: refusal.input)]),
                        "dependent_outputs": .array([]), "class_type": node.value["class_type"] ?? .null,
                    ])))
        }
        let broken = Set(nodeErrors.map(\.key))
        let outputs = nodes.filter { $0.value["class_type"]?.stringValue == "SaveImage" }.map(\.key)
        let dependsOn = Dictionary(uniqueKeysWithValues: outputs.map { ($0, upstream($0)) })
        let valid = Set(outputs.filter { dependsOn[$0]?.isDisjoint(with: broken) ?? true })
        nodeErrors = nodeErrors.map { member in
            var entry = member.value
            let dependents = outputs.filter { !valid.contains($0) && dependsOn[$0]?.contains(member.key) == true }
            if case .object(var fields) = entry {
                fields.removeAll { $0.key == "dependent_outputs" }
                fields.append(.init("dependent_outputs", .array(dependents.map(JSONValue.string))))
                entry = .object(fields)
            }
            return .init(member.key, entry)
        }
        if valid.isEmpty { return refuse("prompt_outputs_failed_validation", "Prompt outputs failed validation", nodeErrors) }
        let id = UUID().uuidString.lowercased()
        let client = body?["client_id"]?.stringValue
        state.withLock {
            $0.queued.append(id)
            $0.prompts += 1
            if let client { $0.clients[id] = client }
        }
        // ComfyUI 0.3.64 sends the queue's status twice for a queued prompt.
        emitQueueStatus()
        emitQueueStatus()
        let graph = JSONValue.object(nodes)
        state.withLock { state in
            let previous = state.lastRun
            state.lastRun = Task {
                await previous?.value
                await self.run(id, graph: graph, outputs: valid)
            }
        }
        return Self.json(.ok, .object(["prompt_id": .string(id), "number": .int(acceptedPrompts), "node_errors": .object(nodeErrors)]))
    }

    /// Runs a queued prompt: waits, emits the event sequence, writes the images (or fails as injected) and records
    /// the history before the final `executing` with a null node, as ComfyUI does.
    func run(_ id: String, graph: JSONValue, outputs valid: Set<String>) async {
        defer { state.withLock { $0.settled += 1 } }
        while state.withLock({ $0.held }) { try? await Task.sleep(nanoseconds: 10_000_000) }
        let (stillQueued, failure, drop) = state.withLock { state -> (Bool, String?, Bool) in
            guard state.queued.contains(id) else { return (false, nil, false) }
            defer { state.dropAtNextStart = false }
            let index = state.failures.firstIndex { Self.names(graph, $0.match) }
            return (true, index.map { state.failures.remove(at: $0).message }, state.dropAtNextStart)
        }
        guard stillQueued, case .object(let nodes) = graph else { return }
        let prompt = JSONValue.string(id)
        func now() -> JSONValue { .int(Int(configuration.time.now.timeIntervalSince1970 * 1000)) }
        let signature = graph.serialized()
        let cachedOutputs = state.withLock { $0.ranGraphs[signature] }
        emit(id, "execution_start", .object(["prompt_id": prompt, "timestamp": now()]))
        let cachedNodes = cachedOutputs == nil ? [] : nodes.map { JSONValue.string($0.key) }
        emit(id, "execution_cached", .object(["nodes": .array(cachedNodes), "prompt_id": prompt, "timestamp": now()]))
        if drop {
            state.withLock { state in
                for socket in state.sockets.values { socket.send.yield(nil) }
            }
        }
        state.withLock { $0.running = (id, "") }
        defer { state.withLock { $0.running = nil } }
        var executed: [String] = []
        /// Stopped by `POST /interrupt`: ends as ComfyUI does (execution_interrupted, the history entry, the queue's
        /// status, the final executing).
        func interrupted(at node: String, type: String) -> Bool {
            guard state.withLock({ $0.interrupts.remove(id) != nil }) else { return false }
            let data = JSONValue.object([
                "prompt_id": prompt, "node_id": .string(node), "node_type": .string(type),
                "executed": .array(executed.reversed().map(JSONValue.string)), "timestamp": now(),
            ])
            record(id, graph: graph, outputs: [], status: "error", messages: [
                .array([.string("execution_start"), .object(["prompt_id": prompt, "timestamp": now()])]),
                .array([.string("execution_interrupted"), data]),
            ])
            emit(id, "execution_interrupted", data)
            emitQueueStatus()
            emit(id, "executing", .object(["node": .null, "prompt_id": prompt]))
            return true
        }
        /// A node raising at run time: execution_error (its message ending in a newline, as ComfyUI's does), the
        /// history entry, the queue's status, the final executing.
        func fail(_ node: String, _ nodeType: String, _ message: String, type: String) {
            let error = JSONValue.object([
                "prompt_id": prompt, "node_id": .string(node), "node_type": .string(nodeType),
                "executed": .array(executed.reversed().map(JSONValue.string)),
                "exception_message": .string(message + "\n"), "exception_type": .string(type), "timestamp": now(),
            ])
            messages.append(.array([.string("execution_error"), error]))
            record(id, graph: graph, outputs: [], status: "error", messages: messages)
            emit(id, "execution_error", error)
            emitQueueStatus()
            emit(id, "executing", .object(["node": .null, "prompt_id": prompt]))
        }
        // progress_state, as ComfyUI 0.3.64 sends it on every node's start, step and end: every node so far.
        var progressNodes: [JSONValue.Member] = []
        func progressState(_ node: String, _ state: String, value: Int = 0, max: Int = 1) {
            let entry = JSONValue.object([
                "value": .int(value), "max": .int(max), "state": .string(state), "node_id": .string(node),
                "prompt_id": prompt, "display_node_id": .string(node), "parent_node_id": .null, "real_node_id": .string(node),
            ])
            if let index = progressNodes.firstIndex(where: { $0.key == node }) {
                progressNodes[index] = .init(node, entry)
            } else {
                progressNodes.append(.init(node, entry))
            }
            emit(id, "progress_state", .object(["prompt_id": prompt, "nodes": .object(progressNodes)]))
        }
        var messages: [JSONValue] = [
            .array([.string("execution_start"), .object(["prompt_id": prompt, "timestamp": now()])])
        ]
        func finish(_ outputs: [JSONValue.Member]) {
            messages.append(.array([.string("execution_success"), .object(["prompt_id": prompt, "timestamp": now()])]))
            record(id, graph: graph, outputs: outputs, status: "success", messages: messages)
            state.withLock { $0.ranGraphs[signature] = outputs }
            emit(id, "execution_success", .object(["prompt_id": prompt, "timestamp": now()]))
            emitQueueStatus()
            emit(id, "executing", .object(["node": .null, "prompt_id": prompt]))
        }
        if let cachedOutputs {
            // Every node cached: the outputs are announced (no `executing`), with the files made before.
            for output in cachedOutputs {
                emit(id, "executed", .object(["node": .string(output.key), "display_node": .string(output.key), "output": output.value, "prompt_id": prompt]))
                progressState(output.key, "finished", value: 1)
            }
            finish(cachedOutputs)
            return
        }
        let sampler = nodes.first { $0.value["class_type"]?.stringValue == "KSampler" }
        let steps = max(1, min(5, sampler?.value["inputs"]?["steps"]?.intValue ?? 4))
        let latent = nodes.first {
            ["EmptyLatentImage", "EmptyImage"].contains($0.value["class_type"]?.stringValue ?? "")
        }?.value["inputs"]
        let width = min(512, latent?["width"]?.intValue ?? 512)
        let height = min(768, latent?["height"]?.intValue ?? 768)
        let batch = max(1, latent?["batch_size"]?.intValue ?? 1)
        let seed = sampler?.value["inputs"]?["seed"]?.intValue
            ?? nodes.first { $0.value["class_type"]?.stringValue == "ImageAddNoise" }?.value["inputs"]?["seed"]?.intValue ?? 0
        var outputs: [JSONValue.Member] = []
        for key in Self.executionOrder(nodes, outputs: valid) {
            guard let node = nodes.first(where: { $0.key == key }) else { continue }
            let classType = node.value["class_type"]?.stringValue ?? ""
            if classType == "SaveImage" { guard state.withLock({ $0.queued.contains(id) }) else { return } }
            if interrupted(at: node.key, type: classType) { return }
            state.withLock { $0.running = (id, node.key) }
            progressState(node.key, "running")
            emit(id, "executing", .object(["node": .string(node.key), "display_node": .string(node.key), "prompt_id": prompt]))
            var output: JSONValue?
            switch classType {
            case "ImageToMask" where node.value["inputs"]?["channel"]?.stringValue == "alpha":
                // As ComfyUI: the images here have no alpha channel (the recording's runtime error).
                fail(node.key, classType, "index 3 is out of bounds for dimension 3 with size 3", type: "IndexError")
                return
            case "KSampler" where node.key == sampler?.key:
                if let failure {
                    fail(node.key, classType, failure, type: "RuntimeError")
                    return
                }
                for step in 1...steps {
                    await configuration.time.pause(configuration.runSeconds / Double(steps))
                    if interrupted(at: node.key, type: classType) { return }
                    emit(id, "progress", .object(["value": .int(step), "max": .int(steps), "prompt_id": prompt, "node": .string(node.key)]))
                    progressState(node.key, "running", value: step, max: steps)
                    if configuration.previews {
                        // Type 1 (a preview image), then a JPEG's first bytes: the client has no use for it.
                        let frame = SocketFrame.binary([0, 0, 0, 1, 0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0, count: 64))
                        state.withLock { state in
                            for socket in state.sockets.values where socket.client == state.clients[id] { socket.send.yield(frame) }
                        }
                    }
                }
            case "PreviewAny":
                // A text output (PreviewAny shows a value): an `executed` without images.
                output = .object(["text": .array([.string(node.value["inputs"]?["source"].map { $0.serialized() } ?? "")])])
            case "SaveImage":
                let prefix = node.value["inputs"]?["filename_prefix"]?.stringValue ?? "ComfyUI"
                let subfolder = prefix.contains("/") ? String(prefix[..<(prefix.lastIndex(of: "/") ?? prefix.endIndex)]) : ""
                let stem = prefix.split(separator: "/").last.map(String.init) ?? "ComfyUI"
                var images: [JSONValue] = []
                for index in 0..<batch {
                    let folder = configuration.outputFolder + (subfolder.isEmpty ? "" : "/" + subfolder)
                    // As ComfyUI: the counter goes on from the files already in the folder (a restarted server too).
                    let highest = Self.highestCounter(stem: stem, in: folder)
                    let counter = state.withLock { state -> Int in
                        state.counters[prefix] = max(state.counters[prefix] ?? 0, highest) + 1
                        return state.counters[prefix] ?? 1
                    }
                    let name = String(format: "%@_%05d_.png", stem, counter)
                    let imageSeed = UInt64(max(0, seed + index))
                    // Encoding is CPU work: off the cooperative pool, which the servers and clients of the tests share.
                    let file = await offCooperativePool {
                        ComfyMetadata.png(
                            (try? SyntheticImage(width: width, height: height, seed: imageSeed).encoded(.png)) ?? Data(),
                            prompt: graph.serialized())
                    }
                    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    try? file.write(to: URL(fileURLWithPath: folder + "/" + name))
                    images.append(.object(["filename": .string(name), "subfolder": .string(subfolder), "type": .string("output")]))
                }
                output = .object(["images": .array(images)])
            default:
                break
            }
            if let output {
                outputs.append(.init(node.key, output))
                emit(id, "executed", .object(["node": .string(node.key), "display_node": .string(node.key), "output": output, "prompt_id": prompt]))
            }
            progressState(node.key, "finished", value: 1)
            executed.append(node.key)
        }
        guard state.withLock({ $0.queued.contains(id) }) else { return }
        finish(outputs)
    }

    /// The order ComfyUI 0.3.64 runs a graph in: the output nodes (SaveImage that validated, PreviewAny) by how
    /// many nodes each needs, fewest first, each after what it depends on; nodes no output needs do not run.
    static func executionOrder(_ nodes: [JSONValue.Member], outputs valid: Set<String>) -> [String] {
        let byKey = Dictionary(nodes.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        func dependencies(_ key: String) -> [String] {
            guard case .object(let inputs)? = byKey[key]?["inputs"] else { return [] }
            return inputs.compactMap { input in
                guard let link = input.value.arrayValue, link.count == 2, let source = link[0].stringValue, byKey[source] != nil
                else { return nil }
                return source
            }
        }
        func needed(_ key: String, _ seen: inout [String]) {
            guard !seen.contains(key) else { return }
            for dependency in dependencies(key) { needed(dependency, &seen) }
            seen.append(key)
        }
        let outputs = nodes.filter { member in
            let type = member.value["class_type"]?.stringValue
            return (type == "SaveImage" && valid.contains(member.key)) || type == "PreviewAny"
        }.map { key -> (key: String, size: Int) in
            var chain: [String] = []
            needed(key.key, &chain)
            return (key.key, chain.count)
        }.sorted { ($0.size, $0.key.count, $0.key) < ($1.size, $1.key.count, $1.key) }
        var order: [String] = []
        for output in outputs { needed(output.key, &order) }
        return order
    }

    /// The highest `<stem>_NNNNN_` counter among a folder's files (0 when none).
    static func highestCounter(stem: String, in folder: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix(stem + "_") else { return nil }
            return Int(name.dropFirst(stem.count + 1).prefix { $0.isNumber })
        }.max() ?? 0
    }

    /// Moves a prompt from the queue into `/history`.
    func record(_ id: String, graph: JSONValue, outputs: [JSONValue.Member], status: String, messages: [JSONValue]) {
        let entry = JSONValue.object([
            "prompt": .array([.int(0), .string(id), graph, .object([:]), .array([])]),
            "outputs": .object(outputs),
            "status": .object([
                "status_str": .string(status), "completed": .bool(status == "success"), "messages": .array(messages),
            ]),
        ])
        state.withLock {
            $0.queued.removeAll { $0 == id }
            $0.history[id] = entry
        }
    }

    /// A fake started on a free port: `seconds` a prompt, binary previews when `previews`, and the same port as a
    /// server that went away when `port` is given.
    package static func started(
        outputFolder: String, seconds: Double = 0.05, previews: Bool = false, loras: [String]? = nil, port: Int = 0
    ) async throws -> FakeComfy {
        var configuration = Configuration(outputFolder: outputFolder)
        configuration.runSeconds = seconds
        configuration.previews = previews
        configuration.port = port
        if let loras { configuration.loras = loras }
        let fake = FakeComfy(configuration: configuration)
        try await fake.start()
        return fake
    }

    /// A drop generating `prompts` prompts × `seeds` seeds with the sample workflow (in
    /// `workflows/portrait.api.json` beside it) on `servers`, cropped by a fixed fraction into a folder outbox.
    package static func poolManifest(drop: String, servers: [String], prompts: Int, seeds: Int = 1, library: String? = nil)
        -> String
    {
        let list = (1...prompts).map { "    - \"elena, pose \($0)\"" }.joined(separator: "\n")
        return """
            version: 1
            drop: \(drop)
            \(library.map { "library: \($0)" } ?? "")
            source: {dir: src}
            generate:
              servers: [\(servers.joined(separator: ", "))]
              workflow: workflows/portrait.api.json
              inputs: {prompt: 6.text, seed: 3.seed}
              prompts:
            \(list)
              seeds: {from: 100, count: \(seeds)}
              loras:
                - {input: 10.strength_model, strength: 0.65}
            crop: {strategy: top_fraction}
            publish: {to: folder}
            """
    }

    /// A text-to-image workflow in API format, as ComfyUI's "Save (API)" writes it.
    package static func sampleWorkflow(checkpoint: String = "elena-base.safetensors", lora: String = "elena-face.safetensors", seed: Int = 42, batch: Int = 1)
        -> JSONValue
    {
        .object([
            "4": .object(["class_type": .string("CheckpointLoaderSimple"), "inputs": .object(["ckpt_name": .string(checkpoint)])]),
            "10": .object([
                "class_type": .string("LoraLoader"),
                "inputs": .object([
                    "lora_name": .string(lora), "strength_model": .double(0.8), "strength_clip": .double(0.8),
                    "model": .array([.string("4"), .int(0)]), "clip": .array([.string("4"), .int(1)]),
                ]),
            ]),
            "6": .object([
                "class_type": .string("CLIPTextEncode"),
                "inputs": .object(["text": .string("elena, red dress, mirror"), "clip": .array([.string("10"), .int(1)])]),
            ]),
            "7": .object([
                "class_type": .string("CLIPTextEncode"),
                "inputs": .object(["text": .string("blurry"), "clip": .array([.string("10"), .int(1)])]),
            ]),
            "5": .object([
                "class_type": .string("EmptyLatentImage"),
                "inputs": .object(["width": .int(256), "height": .int(384), "batch_size": .int(batch)]),
            ]),
            "3": .object([
                "class_type": .string("KSampler"),
                "inputs": .object([
                    "seed": .int(seed), "steps": .int(20), "cfg": .double(7), "sampler_name": .string("euler"),
                    "scheduler": .string("normal"), "denoise": .double(1),
                    "model": .array([.string("10"), .int(0)]), "positive": .array([.string("6"), .int(0)]),
                    "negative": .array([.string("7"), .int(0)]), "latent_image": .array([.string("5"), .int(0)]),
                ]),
            ]),
            "8": .object([
                "class_type": .string("VAEDecode"),
                "inputs": .object(["samples": .array([.string("3"), .int(0)]), "vae": .array([.string("4"), .int(2)])]),
            ]),
            "9": .object([
                "class_type": .string("SaveImage"),
                "inputs": .object(["filename_prefix": .string("elena/drop03"), "images": .array([.string("8"), .int(0)])]),
            ]),
        ])
    }
}

/// A websocket frame the fake sends: JSON text, or a binary preview.
enum SocketFrame: Sendable {
    case text(String)
    case binary([UInt8])
}

