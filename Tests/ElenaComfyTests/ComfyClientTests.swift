import ElenaComfy
import ElenaComfyFake
import ElenaCore
import ElenaTestSupport
import Foundation
import Testing

/// The ComfyUI client against the fake ComfyUI over real HTTP: queue a workflow, follow it to the end, download
/// what SaveImage wrote (with the graph in its `prompt` chunk), and report refusals and failures per node.
@Suite struct ComfyClientTests {
    /// A text-to-image workflow in API format, as ComfyUI's "Save (API)" writes it.
    static func workflow(checkpoint: String = "elena-base.safetensors", lora: String = "elena-face.safetensors", seed: Int = 42, batch: Int = 1)
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

    static func withFake(_ body: (FakeComfy, ComfyClient, TemporaryDirectory) async throws -> Void) async throws {
        let folder = try TemporaryDirectory("elena-comfy")
        let fake = FakeComfy(configuration: .init(outputFolder: folder("output")))
        try await fake.start()
        do {
            try await body(fake, ComfyClient(baseURL: fake.baseURL, timeout: 10), folder)
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
            let id = try await client.queue(graph, clientID: "elena-run-test")
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
            if case .object(let nodes) = saved { #expect(Set(nodes.map(\.key)) == ["3", "4", "5", "6", "7", "8", "9", "10"]) }
            // The next run continues the counter.
            let next = try await client.queue(Self.workflow(seed: 8), clientID: "elena-run-test")
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
                _ = try await client.queue(Self.workflow(checkpoint: "missing.safetensors", lora: "gone.safetensors", seed: -1), clientID: "t")
            }
            #expect(error?.type == "prompt_outputs_failed_validation")
            #expect(error?.nodeErrors.map(\.node) == ["10", "3", "4"])
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
            let none = await #expect(throws: ComfyValidationError.self) { _ = try await client.queue(noOutput, clientID: "t") }
            #expect(none?.type == "prompt_no_outputs")
        }
    }

    @Test func aRunThatFailsReportsTheNodeAndItsMessage() async throws {
        try await Self.withFake { fake, client, _ in
            fake.failNextRun("CUDA out of memory")
            let id = try await client.queue(Self.workflow(), clientID: "t")
            let state = try await Self.waitForEnd(client, id)
            #expect(state == .failed("node 3 (KSampler) failed: CUDA out of memory"))
            // The next one runs.
            let next = try await client.queue(Self.workflow(seed: 9), clientID: "t")
            guard case .succeeded = try await Self.waitForEnd(client, next) else {
                Issue.record("the run after a failure did not succeed")
                return
            }
        }
    }

    @Test func cancelledPromptsNeverRun() async throws {
        try await Self.withFake { fake, client, folder in
            fake.holdRuns()
            let ids = [try await client.queue(Self.workflow(seed: 1), clientID: "t"), try await client.queue(Self.workflow(seed: 2), clientID: "t")]
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

    @Test func aServerThatIsNotThereIsAClearError() async throws {
        let client = ComfyClient(baseURL: "http://127.0.0.1:9", timeout: 2)
        let error = await #expect(throws: ComfyError.self) { _ = try await client.systemStats() }
        #expect(error?.description.contains("ComfyUI at http://127.0.0.1:9 did not answer GET /system_stats") == true)
    }
}
