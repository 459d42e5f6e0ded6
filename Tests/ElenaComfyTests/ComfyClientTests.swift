import ElenaComfy
import ElenaComfyFake
import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The ComfyUI client against the fake ComfyUI over real HTTP: queue a workflow, follow it to the end, download
/// what SaveImage wrote (with the graph in its `prompt` chunk), and report refusals and failures per node.
@Suite struct ComfyClientTests {
    static func workflow(checkpoint: String = "elena-base.safetensors", lora: String = "elena-face.safetensors", seed: Int = 42, batch: Int = 1)
        -> JSONValue
    {
        FakeComfy.sampleWorkflow(checkpoint: checkpoint, lora: lora, seed: seed, batch: batch)
    }

    static func withFake(_ body: (FakeComfy, ComfyClient, TemporaryDirectory) async throws -> Void) async throws {
        let folder = try TemporaryDirectory("elena-comfy")
        let fake = FakeComfy(configuration: .init(outputFolder: folder("output")))
        try await fake.start()
        do {
            try await body(fake, ComfyClient(baseURL: fake.baseURL, timeout: 60), folder)
        } catch {
            await fake.stop()
            folder.remove()
            throw error
        }
        await fake.stop()
        folder.remove()
    }

    static func waitForEnd(_ client: ComfyClient, _ id: String) async throws -> ComfyRunState {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let state = try await client.state(of: id)
            if state != .pending { return state }
            try await Task.sleep(for: .milliseconds(20))
        }
        return .pending
    }

    @Test func aQueuedWorkflowSavesImagesNamedLikeSaveImageWithTheGraphInside() async throws {
        try await Self.withFake { fake, client, folder in
            let stats = try await client.systemStats()
            #expect(stats["system"]?["comfyui_version"]?.stringValue == "0.3.64")
            #expect(try await client.allowedValues(classType: "CheckpointLoaderSimple", input: "ckpt_name") == ["elena-base.safetensors"])
            #expect(try await client.allowedValues(classType: "LoraLoader", input: "lora_name") == ["elena-face.safetensors"])

            let graph = Self.workflow(seed: 7, batch: 2)
            let id = try await client.queue(graph, clientID: "elena-run-test").promptID
            guard case .succeeded(let images) = try await Self.waitForEnd(client, id) else {
                Issue.record("the run did not succeed")
                return
            }
            #expect(images.map(\.filename) == ["drop03_00001_.png", "drop03_00002_.png"])
            #expect(images.allSatisfy { $0.subfolder == "elena" && $0.type == "output" })
            #expect(FileManager.default.fileExists(atPath: folder("output/elena/drop03_00002_.png")))
            let data = try await client.image(images[0])
            let prompt = PNGChunks.texts(data).first { $0.keyword == "prompt" }?.text
            // The graph travels in the prompt chunk (numbers may come back as integers: 7.0 is written 7).
            let saved = try #require(try prompt.map(JSONValue.parse))
            #expect(saved["3"]?["inputs"]?["seed"]?.intValue == 7)
            #expect(saved["6"]?["inputs"]?["text"]?.stringValue == "elena, red dress, mirror")
            #expect(saved["10"]?["inputs"]?["lora_name"]?.stringValue == "elena-face.safetensors")
            guard case .object(let nodes) = saved else {
                Issue.record("the prompt chunk is not a JSON object: \(saved)")
                return
            }
            #expect(Set(nodes.map(\.key)) == ["3", "4", "5", "6", "7", "8", "9", "10"])
            // The next run continues the counter.
            let next = try await client.queue(Self.workflow(seed: 8), clientID: "elena-run-test").promptID
            guard case .succeeded(let more) = try await Self.waitForEnd(client, next) else {
                Issue.record("the second run did not succeed")
                return
            }
            #expect(more.map(\.filename) == ["drop03_00003_.png"])
            #expect(fake.acceptedPrompts == 2)
        }
    }

    @Test func aRefusedWorkflowNamesTheNodeAndTheInput() async throws {
        try await Self.withFake { fake, client, _ in
            let error = await #expect(throws: ComfyValidationError.self) {
                _ = try await client.queue(Self.workflow(checkpoint: "missing.safetensors", lora: "gone.safetensors", seed: -1), clientID: "t").promptID
            }
            #expect(error?.type == "prompt_outputs_failed_validation")
            #expect(error?.nodeErrors.map(\.node) == ["3", "4", "10"], "in the workflow's (numeric) order")
            let checkpoint = error?.nodeErrors.first { $0.node == "4" }
            #expect(checkpoint?.input == "ckpt_name" && checkpoint?.type == "value_not_in_list")
            #expect(error?.description.contains("node 4 (CheckpointLoaderSimple), input ckpt_name: Value not in list") == true, "\(String(describing: error))")
            #expect(error?.description.contains("node 3 (KSampler), input seed") == true)
            #expect(fake.acceptedPrompts == 0)

            var noOutput = Self.workflow()
            if case .object(var nodes) = noOutput {
                nodes.removeAll { $0.key == "9" }
                noOutput = .object(nodes)
            }
            let none = await #expect(throws: ComfyValidationError.self) { _ = try await client.queue(noOutput, clientID: "t").promptID }
            #expect(none?.type == "prompt_no_outputs")
        }
    }

    @Test func aRunThatFailsReportsTheNodeAndItsMessage() async throws {
        try await Self.withFake { fake, client, _ in
            fake.failNextRun("CUDA out of memory")
            let id = try await client.queue(Self.workflow(), clientID: "t").promptID
            let state = try await Self.waitForEnd(client, id)
            #expect(state == .failed("node 3 (KSampler) failed: CUDA out of memory"))
            // The next one runs.
            let next = try await client.queue(Self.workflow(seed: 9), clientID: "t").promptID
            guard case .succeeded = try await Self.waitForEnd(client, next) else {
                Issue.record("the run after a failure did not succeed")
                return
            }
        }
    }

    @Test func cancelledPromptsNeverRun() async throws {
        try await Self.withFake { fake, client, folder in
            fake.holdRuns()
            let ids = [try await client.queue(Self.workflow(seed: 1), clientID: "t").promptID, try await client.queue(Self.workflow(seed: 2), clientID: "t").promptID]
            try await client.cancel(ids)
            #expect(fake.cancelled == ids)
            fake.releaseRuns()
            let deadline = Date().addingTimeInterval(30)
            while fake.settledRuns < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(fake.settledRuns == 2)
            #expect(try await client.state(of: ids[0]) == .pending, "no history: it never ran")
            #expect(!FileManager.default.fileExists(atPath: folder("output/elena")), "nothing was written")
        }
    }

    /// Cancelling a prompt while it samples (binary previews on the socket, as with --preview-method): ComfyUI
    /// interrupts it; the socket says so, then the null node; /history records it as interrupted.
    @Test func aPromptCancelledWhileSamplingEndsInterrupted() async throws {
        let folder = try TemporaryDirectory("elena-comfy-interrupt")
        defer { folder.remove() }
        let fake = try await FakeComfy.started(outputFolder: folder("output"), seconds: 5, previews: true)
        let client = ComfyClient(baseURL: fake.baseURL, timeout: 60)
        var iterator = client.events(clientID: "mine").makeAsyncIterator()
        #expect(await iterator.next() == .connected)
        let id = try await client.queue(Self.workflow(), clientID: "mine").promptID
        var seen: [ComfyEvent] = []
        while let event = await iterator.next() {
            seen.append(event)
            if case .progress = event { break }
        }
        try await client.cancel([id])
        seen += await Self.events(until: id, from: &iterator)
        let state = try await client.state(of: id)
        await fake.stop()
        #expect(seen.contains(.failed(promptID: id, message: "the run was interrupted")), "\(seen)")
        #expect(seen.last == .finished(promptID: id), "\(seen)")
        #expect(state == .failed("the run was interrupted"))
    }

    /// Collects a prompt's events until its `executing`-null (or the socket's end).
    static func events(until id: String, from iterator: inout AsyncStream<ComfyEvent>.Iterator) async -> [ComfyEvent] {
        var seen: [ComfyEvent] = []
        while let event = await iterator.next() {
            seen.append(event)
            if event == .finished(promptID: id) { break }
            if case .closed = event { break }
        }
        return seen
    }

    @Test func theWebsocketCarriesTheDocumentedEventSequence() async throws {
        try await Self.withFake { fake, client, _ in
            var iterator = client.events(clientID: "mine").makeAsyncIterator()
            #expect(await iterator.next() == .connected)
            let id = try await client.queue(Self.workflow(), clientID: "mine").promptID
            let seen = await Self.events(until: id, from: &iterator)
            #expect(seen.first == .executing(promptID: id, node: "4") || seen.contains(.executing(promptID: id, node: "3")), "\(seen)")
            let steps = seen.filter { if case .progress = $0 { true } else { false } }
            #expect(steps == (1...5).map { ComfyEvent.progress(promptID: id, value: $0, max: 5) }, "\(seen)")
            #expect(seen.last == .finished(promptID: id), "\(seen)")
            guard case .succeeded(let images) = try await client.state(of: id) else {
                Issue.record("history has no success after the final event")
                return
            }
            #expect(images.count == 1)

            fake.failNextRun("CUDA out of memory")
            let failing = try await client.queue(Self.workflow(seed: 5), clientID: "mine").promptID
            let failed = await Self.events(until: failing, from: &iterator)
            #expect(failed.contains(.failed(promptID: failing, message: "node 3 (KSampler) failed: CUDA out of memory")), "\(failed)")
            #expect(failed.last == .finished(promptID: failing), "the null node comes after a failure too")

            // A connection dropped mid-run ends the stream with .closed; the prompt still finishes (in /history).
            fake.dropSocketsAtNextRunStart()
            let orphan = try await client.queue(Self.workflow(seed: 6), clientID: "mine").promptID
            let cut = await Self.events(until: orphan, from: &iterator)
            guard case .closed? = cut.last else {
                Issue.record("the stream did not report the dropped socket: \(cut)")
                return
            }
            #expect(await iterator.next() == nil, "nothing comes after .closed")
            guard case .succeeded = try await Self.waitForEnd(client, orphan) else {
                Issue.record("the run whose socket dropped did not finish")
                return
            }
            #expect(fake.socketsOpened == 1)
        }
    }

    @Test func aServerThatIsNotThereIsAClearError() async throws {
        let client = ComfyClient(baseURL: "http://127.0.0.1:9", timeout: 2)
        let error = await #expect(throws: ComfyUnreachable.self) { _ = try await client.systemStats() }
        #expect(
            error?.description == "ComfyUI at http://127.0.0.1:9 did not answer GET /system_stats: the connection was refused (is it running?)",
            "\(String(describing: error))")
    }
}
