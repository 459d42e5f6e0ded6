import ElenaComfy
import ElenaComfyFake
import ElenaCore
import ElenaTestKit
import Foundation
import Logging
import Testing
import WSClient

/// The fake ComfyUI sends what the real one does: the recorded graph queued on the fake gives the same websocket
/// message types in the same order as the recording of the real server (Tests/Fixtures/comfyui-0.3.64), run once
/// and queued again (all cached), so the two cannot drift apart silently.
@Suite struct FakeTranscriptTests {
    static func fixture(_ file: String) throws -> String {
        try String(contentsOfFile: CommandLineRunner.repositoryRoot() + "/Tests/Fixtures/comfyui-0.3.64/" + file, encoding: .utf8)
    }

    /// The message types of a recording (text frames, and `binary` for a preview frame; the connect status first).
    static func recordedTypes(_ file: String) throws -> [String] {
        try fixture(file).split(separator: "\n").compactMap { line in
            let entry = try JSONValue.parse(String(line))
            if entry["kind"]?.stringValue == "binary" { return "binary" }
            return entry["kind"]?.stringValue == "text" ? entry["msg"]?["type"]?.stringValue : nil
        }
    }

    /// Sampler steps as a comparable shape: progress_state left out, a run of steps (progress and preview frames)
    /// counted once, since the fake takes at most five steps.
    static func steps(_ types: [String]) -> [String] {
        types.filter { $0 != "progress_state" }.reduce(into: [String]()) { kept, type in
            let step = type == "progress" || type == "binary"
            if !(step && (kept.last == "steps")) { kept.append(step ? "steps" : type) }
        }
    }

    /// The message types the fake sends to one client while `body` runs (the connect status first).
    static func fakeTypes(
        _ fake: FakeComfy, hello: String? = nil, until done: @escaping @Sendable ([String]) -> Bool,
        _ body: @Sendable (_ seen: @Sendable () -> [String]) async throws -> Void
    ) async throws -> [String] {
        let types = Locked<[String]>([])
        let url = fake.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/ws?clientId=transcript"
        let listener = Task {
            try await WebSocketClient.connect(url: url, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })) {
                inbound, outbound, _ in
                if let hello { try await outbound.write(.text(hello)) }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .binary = message {
                        types.withLock { $0.append("binary") }
                        continue
                    }
                    guard case .text(let text) = message, let type = try? JSONValue.parse(text)["type"]?.stringValue else { continue }
                    let all = types.withLock { $0.append(type); return $0 }
                    if done(all) { return }
                }
            }
        }
        while types.withLock({ $0.count < (hello == nil ? 1 : 2) }) { try await Task.sleep(for: .milliseconds(10)) }
        try await body { types.withLock { $0 } }
        let deadline = Date().addingTimeInterval(20)
        while !done(types.withLock { $0 }) && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        listener.cancel()
        return types.withLock { $0 }
    }

    /// The slow graph (blur and sharpen on a batch of four, an unused primitive): exactly the recorded messages.
    @Test func theRecordedSlowGraphGivesTheRecordedMessages() async throws {
        try await ComfyClientTests.withFake { fake, client, _ in
            let graph = try JSONValue.parse(Self.fixture("g_slow.json"))
            let finished = { @Sendable (types: [String]) in types.last == "executing" && types.contains("execution_success") }
            let seen = try await Self.fakeTypes(fake, until: finished) { _ in _ = try await client.queue(graph, clientID: "transcript") }
            let recorded = try Self.recordedTypes("cap_slow.jsonl")
            #expect(seen == recorded, "\n  fake:     \(seen)\n  recorded: \(recorded)")
        }
    }

    @Test func theRecordedGraphGivesTheRecordedMessagesRunAndCached() async throws {
        try await ComfyClientTests.withFake { fake, client, _ in
            let graph = try JSONValue.parse(Self.fixture("g_noise.json"))
            let finished = { @Sendable (types: [String]) in types.last == "executing" && types.contains("execution_success") }
            for recording in ["cap_noise.jsonl", "cap_noise_cached.jsonl"] {
                let seen = try await Self.fakeTypes(fake, until: finished) { _ in
                    _ = try await client.queue(graph, clientID: "transcript")
                }
                let recorded = try Self.recordedTypes(recording)
                #expect(seen == recorded, "\(recording):\n  fake:     \(seen)\n  recorded: \(recorded)")
            }
        }
    }

    /// The sampler graph: the fake takes at most five steps where the recording took 28, so the comparison leaves out
    /// progress_state and counts a run of `progress` once; every other message matches type for type.
    @Test func theRecordedSamplerGraphGivesTheRecordedMessages() async throws {
        try await ComfyClientTests.withFake { fake, client, _ in
            let graph = try JSONValue.parse(Self.fixture("g_ksampler.json"))
            let finished = { @Sendable (types: [String]) in types.last == "executing" && types.contains("execution_success") }
            let seen = try await Self.fakeTypes(fake, until: finished) { _ in _ = try await client.queue(graph, clientID: "transcript") }
            let recorded = try Self.recordedTypes("cap_ksampler.jsonl")
            #expect(Self.steps(seen) == Self.steps(recorded), "\n  fake:     \(Self.steps(seen))\n  recorded: \(Self.steps(recorded))")
            #expect(seen.contains("progress_state") && seen.contains("progress"))
        }
    }

    /// With previews (`--preview-method`): binary frames among the steps, as the recording has them.
    @Test func theRecordedPreviewRunGivesTheRecordedMessages() async throws {
        let folder = try TemporaryDirectory("elena-comfy-previews")
        defer { folder.remove() }
        let fake = try await FakeComfy.started(outputFolder: folder("output"), previews: true)
        let client = ComfyClient(baseURL: fake.baseURL, timeout: 60)
        let graph = try JSONValue.parse(Self.fixture("g_ksampler_preview.json"))
        let finished = { @Sendable (types: [String]) in types.last == "executing" && types.contains("execution_success") }
        let seen = try await Self.fakeTypes(fake, until: finished) { _ in _ = try await client.queue(graph, clientID: "transcript") }
        await fake.stop()
        let recorded = try Self.recordedTypes("cap_ksampler_preview.jsonl")
        #expect(Self.steps(seen) == Self.steps(recorded), "\n  fake:     \(Self.steps(seen))\n  recorded: \(Self.steps(recorded))")
        #expect(seen.contains("binary") && recorded.contains("binary"))
    }

    /// Interrupted while sampling, by a client that announced its feature flags: the recording's shape (ComfyUI ran
    /// fewer nodes there, having cached the others, so a run of `executing` counts once).
    @Test func theRecordedInterruptGivesTheRecordedMessages() async throws {
        let folder = try TemporaryDirectory("elena-comfy-interrupt-shape")
        defer { folder.remove() }
        let fake = try await FakeComfy.started(outputFolder: folder("output"), seconds: 4)
        let client = ComfyClient(baseURL: fake.baseURL, timeout: 60)
        let graph = try JSONValue.parse(Self.fixture("g_ksampler_int.json"))
        let hello = #"{"type": "feature_flags", "data": {"supports_preview_metadata": true}}"#
        let ended = { @Sendable (types: [String]) in types.last == "executing" && types.contains("execution_interrupted") }
        let seen = try await Self.fakeTypes(fake, hello: hello, until: ended) { seen in
            let id = try await client.queue(graph, clientID: "transcript").promptID
            let deadline = Date().addingTimeInterval(20)
            while !seen().contains("progress") && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            try await client.cancel([id])
        }
        await fake.stop()
        func shape(_ types: [String]) -> [String] {
            Self.steps(types).reduce(into: [String]()) { kept, type in
                if !(type == "executing" && kept.last == "executing") { kept.append(type) }
            }
        }
        let recorded = try Self.recordedTypes("cap_ksampler_interrupt.jsonl")
        #expect(shape(seen) == shape(recorded), "\n  fake:     \(shape(seen))\n  recorded: \(shape(recorded))")
    }

    /// A node failing at run time (ImageToMask asked for an alpha channel the image has not): the recording's shape,
    /// and the client's one-line failure naming the node.
    @Test func theRecordedRuntimeErrorGivesTheRecordedMessages() async throws {
        try await ComfyClientTests.withFake { fake, client, _ in
            let graph = try JSONValue.parse(Self.fixture("g_runtime_error.json"))
            let ended = { @Sendable (types: [String]) in types.last == "executing" && types.contains("execution_error") }
            let id = Locked("")
            let seen = try await Self.fakeTypes(fake, until: ended) { _ in
                let queued = try await client.queue(graph, clientID: "transcript").promptID
                id.withLock { $0 = queued }
            }
            func shape(_ types: [String]) -> [String] {
                types.filter { $0 != "progress_state" }.reduce(into: [String]()) { kept, type in
                    if !(type == "executing" && kept.last == "executing") { kept.append(type) }
                }
            }
            let recorded = try Self.recordedTypes("cap_runtime_error.jsonl")
            #expect(shape(seen) == shape(recorded), "\n  fake:     \(shape(seen))\n  recorded: \(shape(recorded))")
            #expect(try await client.state(of: id.withLock { $0 }) == .failed("node 6 (ImageToMask) failed: index 3 is out of bounds for dimension 3 with size 3"))
        }
    }
}

