import AsyncHTTPClient
package import ElenaCore
package import Foundation
package import Logging
import NIOCore
import NIOHTTP1
import WSClient

/// A failed ComfyUI call that is not a graph refusal: no answer, or an unexpected status or body.
package struct ComfyError: Error, Sendable, CustomStringConvertible {
    package var description: String
}

/// ComfyUI's HTTP API over AsyncHTTPClient (`comfyui-api.md` §1a). No token (ComfyUI has none) and no `Origin`
/// header (its origin check only looks at requests that carry one).
package struct ComfyClient: ComfyGenerating {
    /// `http://127.0.0.1:8188`, without a trailing slash.
    package let baseURL: String
    /// Deadline of one request, in seconds.
    package let timeout: Double
    /// Every request and its answer at debug level (method, path, status, time).
    let logger: Logger

    /// Creates a client.
    package init(
        baseURL: String, timeout: Double = 30,
        logger: Logger = Logger(label: "elena.comfy", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
        self.logger = logger
    }

    struct Answer {
        var status: Int
        var body: ByteBuffer
        var json: JSONValue? { try? JSONValue.parse(String(buffer: body)) }
    }

    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// One HTTP client for ComfyUI calls. A refused connection fails at once (the shared client would retry until
    /// the deadline): ComfyUI not running is the commonest problem and deserves a quick answer.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "User-Agent", value: "elena-run/0.1")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.serialized()))
        }
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let duration = ContinuousClock.now - started
            return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        do {
            let response = try await Self.http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let answer = Answer(status: Int(response.status.code), body: try await response.body.collect(upTo: 256 << 20))
            logger.debug("comfyui: \(method.rawValue) \(path) -> \(answer.status) in \(elapsed()) ms")
            return answer
        } catch {
            logger.debug("comfyui: \(method.rawValue) \(path) -> no answer after \(elapsed()) ms: \(error)")
            throw ComfyUnreachable(
                description: "ComfyUI at \(baseURL) did not answer \(method.rawValue) \(path): \(TransportWords.describe(error))")
        }
    }

    func expectOK(_ answer: Answer, _ what: String) throws {
        guard answer.status == 200 else {
            throw ComfyError(description: "ComfyUI answered \(answer.status) to \(what): \(String(String(buffer: answer.body).prefix(300)))")
        }
    }

    package func systemStats() async throws -> JSONValue {
        let answer = try await call(.GET, "/system_stats")
        try expectOK(answer, "GET /system_stats")
        guard let json = answer.json, json["system"] != nil else {
            throw ComfyError(description: "\(baseURL) answered /system_stats without a system section: is it ComfyUI?")
        }
        return json
    }

    package func allowedValues(classType: String, input: String) async throws -> [String] {
        let answer = try await call(.GET, "/object_info/" + Self.encode(classType))
        try expectOK(answer, "GET /object_info/\(classType)")
        guard let info = answer.json?[classType] else {
            throw ComfyError(description: "ComfyUI has no node type \(classType)")
        }
        for section in ["required", "optional"] {
            // A combo input is [[values…], {options}] (older builds), or ["COMBO", {"options": [values…]}].
            guard let spec = info["input"]?[section]?[input]?.arrayValue, let first = spec.first else { continue }
            if let values = first.arrayValue { return values.compactMap(\.stringValue) }
            if let options = spec.dropFirst().first?["options"]?.arrayValue { return options.compactMap(\.stringValue) }
        }
        throw ComfyError(description: "\(classType) has no list input named \(input)")
    }

    package func queue(_ graph: JSONValue, clientID: String) async throws -> ComfyQueued {
        let answer = try await call(.POST, "/prompt", json: .object(["prompt": graph, "client_id": .string(clientID)]))
        if answer.status == 400 { throw Self.validationError(answer.json) }
        try expectOK(answer, "POST /prompt")
        guard let id = answer.json?["prompt_id"]?.stringValue else {
            throw ComfyError(description: "ComfyUI accepted the prompt without a prompt_id")
        }
        // A 200 with node_errors: some outputs failed validation and will not run; the others will.
        let leftOut = Self.validationError(answer.json, accepted: true)
        return ComfyQueued(promptID: id, leftOut: leftOut.nodeErrors.isEmpty ? nil : leftOut)
    }

    /// Reads a refusal (a 400 body, or the `node_errors` of a 200): `error` is an object (or, from older builds, a
    /// string); `node_errors` an object (or `[]`). ComfyUI's texts are put on one line; an unknown node class gets
    /// the node id ComfyUI gives only in `details` ("Node ID '#6'"); a link to a node the graph lacks, which ComfyUI
    /// reports as a KeyError while validating another input, is said as what it is.
    /// - Parameter accepted: the prompt was queued anyway (a 200): the outputs named are the ones left out.
    package static func validationError(_ body: JSONValue?, accepted: Bool = false) -> ComfyValidationError {
        let error = body?["error"]
        let type = error?["type"]?.stringValue ?? "invalid_prompt"
        let message = comfyLine(error?["message"]?.stringValue ?? error?.stringValue ?? "the workflow is not valid")
        var problems: [ComfyNodeError] = []
        var dropped: Set<String> = []
        if case .object(let nodes) = body?["node_errors"] {
            for node in nodes {
                let classType = node.value["class_type"]?.stringValue
                for output in node.value["dependent_outputs"]?.arrayValue ?? [] { output.stringValue.map { _ = dropped.insert($0) } }
                for entry in node.value["errors"]?.arrayValue ?? [] {
                    let extra = entry["extra_info"]
                    var text = [entry["message"]?.stringValue, entry["details"]?.stringValue]
                        .compactMap { $0.map(comfyLine) }.filter { !$0.isEmpty }.joined(separator: ": ")
                    if entry["type"]?.stringValue == "exception_during_inner_validation",
                        extra?["exception_type"]?.stringValue == "KeyError",
                        let missing = extra?["exception_message"]?.stringValue.map(comfyLine)?.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                    {
                        text = "a link of the workflow points at node \(missing), which the workflow does not have"
                    }
                    problems.append(
                        ComfyNodeError(
                            node: node.key, classType: classType, input: extra?["input_name"]?.stringValue,
                            type: entry["type"]?.stringValue ?? "error", message: text))
                }
            }
        }
        // "Cannot execute because node NoSuchNode does not exist." with details "Node ID '#6'".
        if problems.isEmpty, let details = error?["details"]?.stringValue, let range = details.range(of: "Node ID '#") {
            let node = String(details[range.upperBound...].prefix { $0 != "'" })
            let words = message.split(separator: " ")
            let classType = words.firstIndex(of: "node").flatMap { $0 + 1 < words.count ? String(words[$0 + 1]) : nil }
            problems.append(
                ComfyNodeError(
                    node: node, classType: classType, input: nil, type: type,
                    message: "this server has no node type \(classType ?? "of that name") (a custom node not installed?)"))
        }
        return ComfyValidationError(
            type: type, message: message, nodeErrors: problems.sorted { ($0.node.count, $0.node) < ($1.node.count, $1.node) },
            droppedOutputs: accepted ? dropped.sorted { ($0.count, $0) < ($1.count, $1) } : [])
    }

    package func queueRemaining() async throws -> Int {
        let answer = try await call(.GET, "/prompt")
        try expectOK(answer, "GET /prompt")
        return answer.json?["exec_info"]?["queue_remaining"]?.intValue ?? 0
    }

    package func state(of promptID: String) async throws -> ComfyRunState {
        let answer = try await call(.GET, "/history/" + Self.encode(promptID))
        try expectOK(answer, "GET /history/\(promptID)")
        guard let entry = answer.json?[promptID] else { return .pending }
        let status = entry["status"]
        if status?["status_str"]?.stringValue == "error" {
            var reason = "the run failed"
            for message in status?["messages"]?.arrayValue ?? [] {
                guard let pair = message.arrayValue, pair.count == 2 else { continue }
                let data = pair[1]
                switch pair[0].stringValue {
                case "execution_error":
                    reason =
                        "node \(data["node_id"]?.stringValue ?? "?") (\(data["node_type"]?.stringValue ?? "?")) failed: "
                        + comfyLine(data["exception_message"]?.stringValue ?? "an error")
                case "execution_interrupted": reason = "the run was interrupted"
                default: break
                }
            }
            return .failed(reason)
        }
        guard status?["completed"]?.boolValue != false else { return .pending }
        var images: [ComfyImage] = []
        if case .object(let outputs) = entry["outputs"] {
            for output in outputs.sorted(by: { $0.key < $1.key }) {
                for image in output.value["images"]?.arrayValue ?? [] {
                    guard let name = image["filename"]?.stringValue else { continue }
                    images.append(
                        ComfyImage(
                            filename: name, subfolder: image["subfolder"]?.stringValue ?? "",
                            type: image["type"]?.stringValue ?? "output"))
                }
            }
        }
        return .succeeded(images)
    }

    package func image(_ image: ComfyImage) async throws -> Data {
        let query = "filename=\(Self.encode(image.filename))&subfolder=\(Self.encode(image.subfolder))&type=\(Self.encode(image.type))"
        let answer = try await call(.GET, "/view?" + query)
        try expectOK(answer, "GET /view for \(image.filename)")
        return Data(answer.body.readableBytesView)
    }

    package func cancel(_ promptIDs: [String]) async throws {
        guard !promptIDs.isEmpty else { return }
        let ids = JSONValue.array(promptIDs.map(JSONValue.string))
        try expectOK(try await call(.POST, "/queue", json: .object(["delete": ids])), "POST /queue")
        for id in promptIDs {
            try expectOK(try await call(.POST, "/interrupt", json: .object(["prompt_id": .string(id)])), "POST /interrupt")
        }
    }

    /// `ws://host:port/ws?clientId=…` (`wss://` for an https server).
    var socketURL: String {
        let scheme = baseURL.hasPrefix("https://") ? "wss://" : "ws://"
        let rest = baseURL.drop { $0 != ":" }.dropFirst(3)
        return scheme + rest + "/ws"
    }

    package func events(clientID: String) -> AsyncStream<ComfyEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ComfyEvent.self)
        let url = socketURL + "?clientId=" + Self.encode(clientID)
        let task = Task {
            do {
                let logger = Logger(label: "elena.comfy.ws", factory: { _ in SwiftLogNoOpLogHandler() })
                try await WebSocketClient.connect(url: url, logger: logger) { inbound, _, _ in
                    continuation.yield(.connected)
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        // Binary frames are previews; nothing here wants them.
                        guard case .text(let text) = message, let event = Self.event(text) else { continue }
                        continuation.yield(event)
                    }
                }
                continuation.yield(.closed(reason: "ComfyUI closed the websocket"))
            } catch {
                continuation.yield(.closed(reason: "the websocket failed: \(error)"))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Reads one text frame `{"type": …, "data": {…}}`; nil for the messages generation does not follow.
    package static func event(_ text: String) -> ComfyEvent? {
        guard let message = try? JSONValue.parse(text), let type = message["type"]?.stringValue else { return nil }
        let data = message["data"]
        guard let prompt = data?["prompt_id"]?.stringValue else { return nil }
        switch type {
        case "executing":
            guard let node = data?["node"], node != .null else { return .finished(promptID: prompt) }
            return .executing(promptID: prompt, node: node.stringValue ?? "\(node.intValue ?? 0)")
        case "progress":
            guard let value = data?["value"]?.intValue, let max = data?["max"]?.intValue else { return nil }
            return .progress(promptID: prompt, value: value, max: max)
        case "execution_error":
            let node = data?["node_id"]?.stringValue ?? "?"
            let type = data?["node_type"]?.stringValue ?? "?"
            let reason = comfyLine(data?["exception_message"]?.stringValue ?? "an error")
            return .failed(promptID: prompt, message: "node \(node) (\(type)) failed: \(reason)")
        case "execution_interrupted":
            return .failed(promptID: prompt, message: "the run was interrupted")
        default:
            return nil
        }
    }
}
