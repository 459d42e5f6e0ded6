import ElenaComfyFake
import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A manifest with `generate:` run by the real binary against the fake ComfyUI (real HTTP and websocket on
/// 127.0.0.1): images generated, downloaded into the source folder, ingested with their seeds and prompts; a rerun
/// queues nothing; per-prompt errors; the socket failing; the server checks; Ctrl-C.
@Suite struct GenerateTests {
    struct Fixture {
        let folder: TemporaryDirectory
        let fake: FakeComfy

        var runner: CommandLineRunner {
            CommandLineRunner(
                environment: ["ELENA_LIBRARY": folder("library"), "ELENA_CONFIG_DIR": folder("config")],
                workingDirectory: folder.path)
        }

        func elena(_ arguments: [String]) async throws -> CommandLineRunner.Result { try await runner.run(arguments) }

        /// The PNGs downloaded into the source folder.
        var sources: [String] { folder.files(under: "src").filter { $0.hasSuffix(".png") }.sorted() }
        /// Review copies waiting in the library.
        var inReview: [String] { folder.files(under: "library/3_review/gen") }

        func writeManifest(prompts: [String], seeds: (from: Int, count: Int) = (100, 1), batch: Int = 1,
                           checkpoint: String = "elena-base.safetensors", server: String? = nil, inputs: String? = nil) throws {
            let list = prompts.map { "    - \"\($0)\"" }.joined(separator: "\n")
            try folder.write(
                """
                version: 1
                drop: gen
                source:
                  dir: src
                generate:
                  server: \(server ?? fake.baseURL)
                  workflow: workflows/portrait.api.json
                  inputs:
                \(inputs ?? "    prompt: 6.text\n    seed: 3.seed\n    batch: 5.batch_size\n    checkpoint: 4.ckpt_name")
                  prompts:
                \(list)
                  seeds: {from: \(seeds.from), count: \(seeds.count)}
                \(inputs == nil ? "  batch: \(batch)\n  checkpoint: \(checkpoint)" : "")
                  loras:
                    - {input: 10.strength_model, strength: 0.65}
                crop:
                  strategy: top_fraction
                publish:
                  to: folder
                  price: 9.00
                """, to: "drop.yaml")
        }
    }

    static func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        let folder = try TemporaryDirectory("elena-generate")
        let fake = FakeComfy(configuration: .init(outputFolder: folder("comfy-output")))
        try await fake.start()
        try folder.write(FakeComfy.sampleWorkflow().pretty(), to: "workflows/portrait.api.json")
        let fixture = Fixture(folder: folder, fake: fake)
        do {
            try await body(fixture)
        } catch {
            await fake.stop()
            folder.remove()
            throw error
        }
        await fake.stop()
        folder.remove()
    }

    @Test func aGenerateManifestMakesTheImagesIngestsThemWithTheirLineageAndARerunQueuesNothing() async throws {
        try await Self.withFixture { fixture in
            try fixture.writeManifest(prompts: ["elena on a balcony, red dress", "elena by the pool, white bikini"], seeds: (100, 2), batch: 2)
            let dry = try await fixture.elena(["drop.yaml", "--dry-run"])
            #expect(dry.exitCode == 0, "\(dry)")
            #expect(dry.standardOutput.contains("generate  4 to queue on ComfyUI"), "\(dry)")
            #expect(fixture.fake.acceptedPrompts == 0, "a dry run queues nothing")
            let json = try JSONValue.parse(try await fixture.elena(["drop.yaml", "--dry-run", "--json"]).standardOutput)
            #expect(json["generate"]?["prompts"]?.intValue == 4 && json["generate"]?["to_queue"]?.intValue == 4, "\(json)")
            #expect(!FileManager.default.fileExists(atPath: fixture.folder("src")), "a dry run creates nothing")

            let first = try await fixture.elena(["drop.yaml"])
            #expect(first.exitCode == 3, "stops at the review gate: \(first)")
            #expect(first.standardOutput.contains("generate     4 generated (8 images)"), "\(first)")
            #expect(fixture.fake.acceptedPrompts == 4)
            // Followed over the websocket: one socket, and /history read once per prompt (after its last event).
            #expect(fixture.fake.socketsOpened == 1)
            #expect(fixture.fake.historyReads == 4)
            #expect(fixture.sources.count == 8, "\(fixture.sources)")
            #expect(fixture.sources.allSatisfy { $0.hasPrefix("gen_") && $0.hasSuffix("_.png") })
            #expect(fixture.inReview.count == 8, "every generated image went through the drop")

            // Each image is ingested with the prompt and seed it was made with.
            var seen: Set<String> = []
            for name in fixture.sources {
                let id = Digest.of(try Data(contentsOf: URL(fileURLWithPath: fixture.folder("src/" + name)))).hex
                let detail = try await fixture.elena(["status", "--item", id, "--json"])
                #expect(detail.exitCode == 0, "\(detail)")
                let lineage = try JSONValue.parse(detail.standardOutput)["lineage"]
                let seed = try #require(lineage?["seed"]?.intValue, "\(detail)")
                let prompt = try #require(lineage?["positive"]?.stringValue, "\(detail)")
                #expect([100, 101].contains(seed))
                #expect(lineage?["checkpoint"]?.stringValue == "elena-base", "named like the LoRAs")
                #expect(lineage?["loras"]?.arrayValue?.first?["strengthModel"]?.doubleValue == 0.65, "\(detail)")
                seen.insert("\(prompt)|\(seed)")
            }
            #expect(seen == ["elena on a balcony, red dress|100", "elena on a balcony, red dress|101",
                             "elena by the pool, white bikini|100", "elena by the pool, white bikini|101"])

            let again = try await fixture.elena(["drop.yaml"])
            #expect(again.exitCode == 3, "\(again)")
            #expect(again.standardOutput.contains("generate     4 cached (up to date)"), "\(again)")
            #expect(fixture.fake.acceptedPrompts == 4, "a rerun queues nothing")
            #expect(fixture.fake.socketsOpened == 1, "nor opens a socket")
            #expect(fixture.sources.count == 8)

            // The pairs are nodes of the plan like the others: `plan --graph` draws each, feeding the items it made.
            let graph = try await fixture.elena(["plan", "drop.yaml", "--graph"]).standardOutput.split(separator: "\n")
            #expect(graph.filter { $0.contains("[label=\"generate prompt ") }.count == 4, "\(graph)")
            let fed = graph.filter { $0.hasPrefix("  \"generate#") && $0.contains(" -> ") }
            #expect(fed.count == 8 && fed.allSatisfy { $0.contains(" -> \"ingest:") }, "\(fed)")
            #expect(Set(fed.map { $0.split(separator: " ")[0] }).count == 4, "two images from each pair")
            #expect(fixture.fake.acceptedPrompts == 4, "planning queues nothing")

            // One more prompt: only it is queued.
            try fixture.writeManifest(
                prompts: ["elena on a balcony, red dress", "elena by the pool, white bikini", "elena in the snow"], seeds: (100, 2), batch: 2)
            let more = try await fixture.elena(["drop.yaml"])
            #expect(more.standardOutput.contains("generate     2 generated (4 images), 4 cached"), "\(more)")
            #expect(fixture.fake.acceptedPrompts == 6)
            #expect(fixture.inReview.count == 12)
        }
    }

    @Test func refusedAndFailingPromptsAreReportedOneByOneAndTheRestOfTheDropGoesOn() async throws {
        try await Self.withFixture { fixture in
            try fixture.writeManifest(prompts: ["elena, refused", "elena, crashes the sampler", "elena, fine"])
            // The three are handed to ComfyUI in whatever order their nodes start: each fault is for the prompt named.
            fixture.fake.refuseNextPrompt(input: "text", message: "prompt contains a banned word", whoseTextContains: "refused")
            fixture.fake.failNextRun("CUDA out of memory", whoseTextContains: "crashes the sampler")
            let run = try await fixture.elena(["drop.yaml"])
            #expect(run.exitCode == 1, "\(run)")
            #expect(
                run.standardError.contains(
                    "error: generate prompt 1, seed 100 (\"elena, refused\"): ComfyUI refused the workflow: Prompt outputs failed validation"
                ), "\(run)")
            #expect(run.standardError.contains("node 6 (CLIPTextEncode), input text: prompt contains a banned word"), "\(run)")
            #expect(
                run.standardError.contains(
                    "error: generate prompt 2, seed 100 (\"elena, crashes the sampler\"): node 3 (KSampler) failed: CUDA out of memory"),
                "\(run)")
            #expect(run.standardOutput.contains("generate     1 generated (1 image), 2 failed"), "\(run)")
            #expect(!run.standardError.contains("\n\n") && !run.standardOutput.contains("memory\n\n"), "ComfyUI's trailing newline is gone")
            #expect(run.standardOutput.contains("2 failed:"), "\(run)")
            #expect(fixture.sources.count == 1)
            #expect(fixture.inReview.count == 1, "the image that was made went on through the drop")
            let status = try await fixture.elena(["status", "drop.yaml"])
            #expect(
                status.standardOutput.contains("prompt 2, seed 100 (\"elena, crashes the sampler\") failed last time: node 3 (KSampler) failed: CUDA out of memory"),
                "failures are recorded: \(status)")

            // The next run retries only the two that failed.
            let retry = try await fixture.elena(["drop.yaml"])
            #expect(retry.exitCode == 3, "\(retry)")
            #expect(retry.standardOutput.contains("generate     2 generated (2 images), 1 cached"), "\(retry)")
            #expect(fixture.fake.acceptedPrompts == 4, "1 + 1 accepted, then 2; the refused one was never accepted")
            #expect(fixture.inReview.count == 3)
        }
    }

    /// A second sampler (node 13) of the sample workflow that fails validation (seed -1): a broken branch.
    static let brokenSampler = JSONValue.Member("13", .object(["class_type": .string("KSampler"), "inputs": .object([
        "seed": .int(-1), "steps": .int(4), "model": .array([.string("10"), .int(0)]),
        "positive": .array([.string("6"), .int(0)]), "negative": .array([.string("7"), .int(0)]),
        "latent_image": .array([.string("5"), .int(0)]),
    ])]))

    /// ComfyUI answers 200 when at least one output node is valid, runs those and names the rest in node_errors:
    /// the run says which output was left out and why (it reported "1 generated" with that branch's images silently
    /// missing), keeps what the valid output saved, and counts the prompt as failed until the workflow is fixed.
    @Test func anOutputComfyUILeavesOutIsReportedAndTheOthersAreKept() async throws {
        try await Self.withFixture { fixture in
            guard case .object(var nodes) = FakeComfy.sampleWorkflow() else { return }
            nodes.append(Self.brokenSampler)
            nodes.append(.init("14", .object(["class_type": .string("VAEDecode"), "inputs": .object([
                "samples": .array([.string("13"), .int(0)]), "vae": .array([.string("4"), .int(2)]),
            ])])))
            nodes.append(.init("15", .object(["class_type": .string("SaveImage"), "inputs": .object([
                "filename_prefix": .string("other"), "images": .array([.string("14"), .int(0)]),
            ])])))
            try fixture.folder.write(JSONValue.object(nodes).pretty(), to: "workflows/portrait.api.json")
            try fixture.writeManifest(prompts: ["elena, two outputs"])
            let run = try await fixture.elena(["drop.yaml"])
            #expect(run.exitCode == 1, "\(run)")
            #expect(
                run.standardError.contains(
                    "error: generate prompt 1, seed 100 (\"elena, two outputs\"): ComfyUI left out output node 15 of the "
                        + "workflow (it runs the others); node 13 (KSampler), input seed: Value -1 smaller than min of 0"),
                "\(run)")
            #expect(run.standardError.contains("(the image of the other outputs was downloaded)"), "\(run)")
            #expect(fixture.sources.count == 1 && fixture.inReview.count == 1, "node 9's image went on through the drop")
        }
    }

    /// ComfyUI goes away mid-run: the run says so and waits for it (bounded: ELENA_COMFY_WAIT), then fails only
    /// the prompts that had not finished, ingests and crops what was downloaded and prints the summary (it stopped
    /// the whole drop with a raw "(errno: 111)" line); the next run, with the server back, queues only the rest.
    @Test func aServerLostMidRunFailsOnlyItsUnfinishedPromptsAndTheDropGoesOn() async throws {
        let folder = try TemporaryDirectory("elena-generate-lost")
        defer { folder.remove() }
        // Three seconds a prompt: the server goes away after the first image lands and before the second prompt is
        // done, also on a loaded machine (with 1.5 s the second prompt sometimes finished first under the whole suite).
        let fake = try await FakeComfy.started(outputFolder: folder("comfy-output"), seconds: 3)
        try folder.write(FakeComfy.sampleWorkflow().pretty(), to: "workflows/portrait.api.json")
        let fixture = Fixture(folder: folder, fake: fake)
        try fixture.writeManifest(prompts: ["elena, a", "elena, b", "elena, c"])
        let runner = CommandLineRunner(
            environment: ["ELENA_LIBRARY": folder("library"), "ELENA_CONFIG_DIR": folder("config"), "ELENA_COMFY_WAIT": "2"],
            workingDirectory: folder.path)
        let command = try runner.start(["drop.yaml"], logPath: folder("run.log"))
        let deadline = Date().addingTimeInterval(60)
        while fixture.sources.isEmpty && Date() < deadline && command.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let url = fake.baseURL
        await fake.stop()
        let code = await command.wait()
        #expect(code == 1, "\(command.log)")
        #expect(command.log.contains("ComfyUI at \(url) stopped answering ("), "\(command.log)")
        #expect(command.log.contains("waiting up to 2 s for it"), "\(command.log)")
        #expect(command.log.contains("generate     1 generated (1 image), 2 failed"), "the summary: \(command.log)")
        #expect(!command.log.contains("errno"), "\(command.log)")
        #expect(fixture.inReview.count == 1, "the image made before went on through the drop")

        // The server is back on the same port: the next run queues only the two that did not finish.
        let back = try await FakeComfy.started(
            outputFolder: folder("comfy-output"), seconds: 1.5, port: Int(url.split(separator: ":").last ?? "") ?? 0)
        let retry = try await runner.run(["drop.yaml"])
        await back.stop()
        #expect(retry.exitCode == 3, "\(retry)")
        #expect(retry.standardOutput.contains("generate     2 generated (2 images), 1 cached"), "\(retry)")
        #expect(back.acceptedPrompts == 2)
    }

    /// The same refusal for every prompt is said twice as it happens, then once that more follow, and once in the
    /// summary with the prompts it hit (it was repeated for every prompt × seed and again in the summary).
    @Test func theSameRefusalForEveryPromptIsSaidOnce() async throws {
        try await Self.withFixture { fixture in
            guard case .object(var nodes) = FakeComfy.sampleWorkflow() else { return }
            nodes.append(Self.brokenSampler)
            nodes = nodes.map { member in
                guard member.key == "8" else { return member }
                return .init("8", .object(["class_type": .string("VAEDecode"), "inputs": .object([
                    "samples": .array([.string("13"), .int(0)]), "vae": .array([.string("4"), .int(2)]),
                ])]))
            }
            try fixture.folder.write(JSONValue.object(nodes).pretty(), to: "workflows/portrait.api.json")
            try fixture.writeManifest(prompts: ["elena, a", "elena, b"], seeds: (100, 2))
            let run = try await fixture.elena(["drop.yaml"])
            #expect(run.exitCode == 1, "\(run)")
            let refusal = "ComfyUI refused the workflow: Prompt outputs failed validation"
            #expect(run.standardError.components(separatedBy: refusal).count - 1 == 2, "said twice as it happens: \(run)")
            #expect(run.standardError.contains("error: more prompts fail with the same error; the summary lists them"), "\(run)")
            #expect(run.standardOutput.contains("4 failed:"), "\(run)")
            #expect(
                run.standardOutput.contains(
                    "  generate, 4 prompts (prompt 1, seed 100; prompt 1, seed 101; prompt 2, seed 100 and 1 more): \(refusal)"),
                "\(run)")
            #expect(run.standardOutput.components(separatedBy: refusal).count - 1 == 1, "once in the summary: \(run)")
        }
    }

    /// The downloads of a published pair are deleted and made again by a restarted ComfyUI (same bytes, a new
    /// counter in the name): the item stays one outbox image with one sidecar naming it (a sidecar once appeared
    /// under the new name for an image that was never written).
    @Test func regeneratedBytesUnderANewNameStayOnePublishedImage() async throws {
        try await Self.withFixture { fixture in
            try fixture.writeManifest(prompts: ["elena, once"])
            #expect(try await fixture.elena(["drop.yaml"]).exitCode == 3)
            let library = fixture.folder("library")
            for name in fixture.inReview {
                try FileManager.default.createDirectory(atPath: library + "/4_approved", withIntermediateDirectories: true)
                try FileManager.default.moveItem(atPath: library + "/3_review/gen/" + name, toPath: library + "/4_approved/" + name)
            }
            #expect(try await fixture.elena(["drop.yaml"]).exitCode == 0)
            let first = fixture.folder.files(under: "library/outbox/gen").sorted()
            #expect(first.count == 2, "\(first)")

            for name in fixture.sources { try FileManager.default.removeItem(atPath: fixture.folder("src/" + name)) }
            // ComfyUI restarted (its cache gone; its counter goes on from the files in its output folder).
            let url = fixture.fake.baseURL
            await fixture.fake.stop()
            let restarted = try await FakeComfy.started(
                outputFolder: fixture.folder("comfy-output"), port: Int(url.split(separator: ":").last ?? "") ?? 0)
            let again = try await fixture.elena(["drop.yaml"])
            #expect(again.standardOutput.contains("generate     1 generated (1 image)"), "made again: \(again)")
            #expect(fixture.sources.count == 1 && !first.contains { $0.hasPrefix(fixture.sources[0].split(separator: "/").last.map(String.init) ?? "") },
                    "under a new name: \(fixture.sources)")
            let outbox = fixture.folder.files(under: "library/outbox/gen").sorted()
            #expect(outbox == first, "one image, one sidecar: \(outbox)")
            let image = try #require(outbox.first { !$0.hasSuffix(".json") })
            let sidecar = try JSONValue.parse(String(contentsOfFile: fixture.folder("library/outbox/gen/" + image + ".json"), encoding: .utf8))
            #expect(sidecar["file"]?.stringValue == image)
            await restarted.stop()
        }
    }

    /// A graph without a sampler (the real server's model-free one: noise on a plain image): the lineage still has
    /// what generate: set (prompt, seed, prompt id, server), and status --item lists the generate step among the
    /// item's steps (it showed only filenamePrefix).
    @Test func theLineageHasWhatGenerateSetWhateverTheGraph() async throws {
        try await Self.withFixture { fixture in
            let noise = """
                {"1": {"class_type": "EmptyImage", "inputs": {"width": 512, "height": 768, "batch_size": 1, "color": 8421504}},
                 "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 4242, "strength": 0.35}},
                 "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": "wscap", "images": ["2", 0]}},
                 "4": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "ws capture"}},
                 "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}}}
                """
            try fixture.folder.write(noise, to: "workflows/portrait.api.json")
            try fixture.folder.write(
                """
                version: 1
                drop: gen
                source: {dir: src}
                generate:
                  server: \(fixture.fake.baseURL)
                  workflow: workflows/portrait.api.json
                  inputs: {prompt: 4.value, seed: 2.seed}
                  prompts: ["elena, noise"]
                  seeds: {from: 7, count: 1}
                crop: {strategy: top_fraction}
                publish: {to: folder}
                """, to: "drop.yaml")
            let run = try await fixture.elena(["drop.yaml"])
            #expect(run.exitCode == 3, "\(run)")
            let name = try #require(fixture.sources.first)
            let status = try await fixture.elena(["status", "drop.yaml", "--item", String(name.split(separator: "/").last ?? "")])
            #expect(status.exitCode == 0, "\(status)")
            let text = status.standardOutput
            #expect(text.contains("positive elena, noise") && text.contains("seed 7"), "\(text)")
            #expect(text.contains("server \(fixture.fake.baseURL)") && text.contains("promptID "), "\(text)")
            #expect(text.range(of: #"  generate  succeeded"#, options: .regularExpression) != nil, "the generate step is listed: \(text)")
        }
    }

    @Test func aDroppedOrRefusedSocketFallsBackToPollingHistory() async throws {
        try await Self.withFixture { fixture in
            try fixture.writeManifest(prompts: ["elena, one", "elena, two"])
            fixture.fake.dropSocketsAtNextRunStart()
            let dropped = try await fixture.elena(["drop.yaml"])
            #expect(dropped.exitCode == 3, "\(dropped)")
            #expect(dropped.standardOutput.contains("generate     2 generated (2 images)"), "\(dropped)")
            #expect(fixture.fake.socketsOpened == 1)

            try fixture.writeManifest(prompts: ["elena, one", "elena, two", "elena, three"])
            fixture.fake.refuseSockets()
            let refused = try await fixture.elena(["drop.yaml"])
            #expect(refused.exitCode == 3, "\(refused)")
            #expect(refused.standardOutput.contains("generate     1 generated (1 image), 2 cached"), "\(refused)")
            #expect(fixture.fake.socketsOpened == 1, "no second socket was accepted")
            #expect(fixture.inReview.count == 3)
        }
    }

    @Test func theServerAndItsModelsAreCheckedBeforeAnythingIsQueued() async throws {
        try await Self.withFixture { fixture in
            try fixture.writeManifest(prompts: ["elena"], checkpoint: "elena-v9.safetensors")
            let missing = try await fixture.elena(["drop.yaml"])
            #expect(missing.exitCode == 1, "\(missing)")
            #expect(
                missing.standardError.contains(
                    "error: generate: checkpoint 'elena-v9.safetensors' is not installed on ComfyUI at \(fixture.fake.baseURL) (installed: elena-base.safetensors)"),
                "\(missing)")
            #expect(fixture.fake.acceptedPrompts == 0)
            #expect(missing.standardOutput.contains("1 failed:\n  generate, 1 prompt not made: checkpoint"), "\(missing)")

            try fixture.writeManifest(prompts: ["elena"], server: "http://127.0.0.1:9")
            let down = try await fixture.elena(["drop.yaml"])
            #expect(down.exitCode == 1, "\(down)")
            #expect(down.standardError.contains("error: generate: ComfyUI does not answer at http://127.0.0.1:9"), "\(down)")

            // A workflow input that is not there is a located manifest error, before any network call.
            try fixture.writeManifest(prompts: ["elena"], inputs: "    prompt: 66.text\n    seed: 3.seed")
            let wrong = try await fixture.elena(["drop.yaml"])
            #expect(wrong.exitCode == 2, "\(wrong)")
            #expect(wrong.standardError.contains("drop.yaml:"), "\(wrong)")
            #expect(
                wrong.standardError.contains("'generate.inputs.prompt' names node 66, which the workflow does not have (its nodes: 3, 4, 5, 6, 7, 8, 9, 10)"),
                "\(wrong)")
            try fixture.writeManifest(prompts: ["elena"], inputs: "    prompt: 6.clip\n    seed: 3.seed")
            let linked = try await fixture.elena(["drop.yaml"])
            #expect(linked.standardError.contains("input 6.clip (CLIPTextEncode) is linked from node 10"), "\(linked)")
            #expect(fixture.fake.acceptedPrompts == 0)
        }
    }

    @Test func ctrlCCancelsThePromptsTheRunQueued() async throws {
        try await Self.withFixture { fixture in
            try fixture.writeManifest(prompts: ["elena, a", "elena, b", "elena, c"])
            fixture.fake.holdRuns()
            // Each answer comes 2 s after ComfyUI took the prompt, so Ctrl-C lands while the third is on its way:
            // that prompt is queued on the server, and the run must still learn its id and cancel it.
            fixture.fake.delayPromptAnswers(by: 2)
            let command = try fixture.runner.start(["drop.yaml"], logPath: fixture.folder("run.log"))
            let deadline = Date().addingTimeInterval(120)
            while fixture.fake.acceptedPrompts < 3 && Date() < deadline && command.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(fixture.fake.acceptedPrompts == 3, "\(command.log)")
            command.interrupt()
            let code = await command.wait()
            #expect(code == 130, "\(command.log)")
            #expect(command.log.contains("interrupted: cancelled 3 prompts this run had queued on ComfyUI"), "\(command.log)")
            #expect(Set(fixture.fake.cancelled).count == 3, "every prompt it queued was removed from ComfyUI's queue")
            fixture.fake.releaseRuns()
            while fixture.fake.settledRuns < 3 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(fixture.fake.settledRuns == 3)
            #expect(fixture.folder.files(under: "comfy-output").isEmpty, "no cancelled prompt ran")
            #expect(fixture.sources.isEmpty)
        }
    }
}
