import AsyncHTTPClient
import ElenaComfyFake
import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `generate.servers`: several fake ComfyUI servers of different speeds driven as one pool by the binary.
@Suite struct GeneratePoolTests {
    /// Starts fakes taking `seconds` a prompt each (and `loras` installed), writes a drop of `prompts` × `seeds`
    /// over all of them, runs `body`, and stops them.
    static func withPool(
        _ seconds: [Double], loras: [[String]]? = nil, prompts: Int = 4, seeds: Int = 3,
        _ body: (TemporaryDirectory, [FakeComfy], CommandLineRunner) async throws -> Void
    ) async throws {
        let folder = try TemporaryDirectory("elena-pool")
        defer { folder.remove() }
        var fakes: [FakeComfy] = []
        for (index, time) in seconds.enumerated() {
            fakes.append(try await FakeComfy.started(outputFolder: folder("comfy-\(index)"), seconds: time, loras: loras?[index]))
        }
        try folder.write(FakeComfy.sampleWorkflow().pretty(), to: "workflows/portrait.api.json")
        try folder.write(FakeComfy.poolManifest(drop: "pool", servers: fakes.map(\.baseURL), prompts: prompts, seeds: seeds), to: "drop.yaml")
        let runner = CommandLineRunner(
            environment: ["ELENA_LIBRARY": folder("library"), "ELENA_CONFIG_DIR": folder("config"), "ELENA_COMFY_WAIT": "1"],
            workingDirectory: folder.path)
        do {
            try await body(folder, fakes, runner)
        } catch {
            for fake in fakes { await fake.stop() }
            throw error
        }
        for fake in fakes { await fake.stop() }
    }

    static func sources(_ folder: TemporaryDirectory) -> [String] { folder.files(under: "src").filter { $0.hasSuffix(".png") } }

    /// Twelve prompts over three servers: each made once, and the fastest server made the most (the slowest takes 2.5 s
    /// a prompt: on a loaded machine, when every step of the run is slow, it still makes fewer than the fastest).
    @Test func thePoolMakesEachPromptOnceAndAFasterServerTakesMore() async throws {
        try await Self.withPool([0.05, 0.3, 2.5]) { folder, fakes, runner in
            let run = try await runner.run(["drop.yaml"])
            #expect(run.exitCode == 3, "\(run)")
            #expect(run.standardOutput.contains("generate     12 generated (12 images)"), "\(run)")
            let taken = fakes.map(\.acceptedPrompts)
            #expect(taken.reduce(0, +) == 12, "each prompt queued once: \(taken)")
            #expect(taken[0] > taken[2], "the fastest server took more: \(taken)")
            #expect(Self.sources(folder).count == 12)
            // Which server made an image is in its lineage, not in its key: a rerun queues nothing.
            let again = try await runner.run(["drop.yaml"])
            #expect(again.standardOutput.contains("12 cached"), "\(again)")
            #expect(fakes.map(\.acceptedPrompts).reduce(0, +) == 12)
        }
    }

    /// A server already busy with another client's prompts (its GET /prompt says so) takes fewer of the run's:
    /// the pool reads each server's own queue, not only what it queued there itself.
    @Test func aServerBusyWithOthersPromptsTakesFewer() async throws {
        try await Self.withPool([0.3, 0.3], prompts: 4, seeds: 2) { folder, fakes, runner in
            // Twenty of someone else's (6 s of work): still queued when the idle server has made the run's other seven,
            // however loaded the machine (eight, 2.4 s, were outlasted once).
            for seed in 1...20 {
                var request = HTTPClientRequest(url: fakes[0].baseURL + "/prompt")
                request.method = .POST
                let graph = FakeComfy.sampleWorkflow(seed: seed).serialized()
                request.body = .bytes(ByteBuffer(string: "{\"prompt\": \(graph), \"client_id\": \"someone-else\"}"))
                let answer = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                #expect(answer.status == .ok)
            }
            let run = try await runner.run(["drop.yaml"])
            #expect(run.exitCode == 3, "\(run)")
            // The busy server takes one (none is left idle) and no second while its queue is long; the idle one the rest.
            let ours = (busy: fakes[0].acceptedPrompts - 20, idle: fakes[1].acceptedPrompts)
            #expect(ours.busy == 1 && ours.idle == 7, "\(ours)")
        }
    }

    /// A server missing a LoRA is left out with one line; the others make everything.
    @Test func aServerMissingALoRAIsLeftOut() async throws {
        try await Self.withPool([0.05, 0.05], loras: [["elena-face.safetensors"], []], prompts: 2, seeds: 2) { folder, fakes, runner in
            let run = try await runner.run(["drop.yaml"])
            #expect(run.exitCode == 3, "\(run)")
            #expect(
                run.standardError.contains("generate: ComfyUI at \(fakes[1].baseURL) is left out: LoRA 'elena-face.safetensors' is not installed"),
                "\(run)")
            #expect(fakes[1].acceptedPrompts == 0 && fakes[0].acceptedPrompts == 4)
            #expect(Self.sources(folder).count == 4)
        }
    }

    /// A server that goes away mid-run: its unfinished prompts go to the others, and the drop completes with every
    /// prompt made once.
    @Test func aServerLostMidRunHandsItsPromptsToTheOthers() async throws {
        try await Self.withPool([0.3, 0.3, 0.3]) { folder, fakes, runner in
            let command = try runner.start(["drop.yaml"], logPath: folder("run.log"))
            let deadline = Date().addingTimeInterval(60)
            while fakes[1].acceptedPrompts == 0 && Date() < deadline && command.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            await fakes[1].stop()
            let code = await command.wait()
            #expect(code == 3, "\(command.log)")
            #expect(command.log.contains("ComfyUI at \(fakes[1].baseURL) stopped answering"), "\(command.log)")
            #expect(command.log.contains("generate     12 generated (12 images)"), "\(command.log)")
            let made = Set(Self.sources(folder).map { $0.split(separator: "_").dropLast(2).joined(separator: "_") })
            #expect(made.count == 12, "every (prompt, seed) was made: \(made.count)")
        }
    }

    /// The fast server has made its share and has nothing left when the slow one goes away holding two prompts:
    /// it stays for them and makes them (it used to stop when the board was empty, and they failed).
    @Test func aServerThatRanOutOfWorkTakesThePromptsOfOneThatGoesAway() async throws {
        try await Self.withPool([0.05, 3.0], prompts: 2, seeds: 2) { folder, fakes, runner in
            // The slow server never finishes what it holds (on a loaded machine, 3 s could see one through). The
            // fast one holds its first two until the slow one has taken the other two: each takes two at most while
            // they wait, whichever asks the board first (free, the fast one could make one and take a third first).
            fakes[1].holdRuns()
            fakes[0].holdRuns()
            let command = try runner.start(["drop.yaml"], logPath: folder("run.log"))
            let deadline = Date().addingTimeInterval(60)
            while (fakes[1].acceptedPrompts < 2 || fakes[0].acceptedPrompts < 2) && Date() < deadline && command.isRunning {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(fakes[1].acceptedPrompts == 2 && fakes[0].acceptedPrompts == 2, "\(command.log)")
            fakes[0].releaseRuns()
            while Self.sources(folder).count < 2 && Date() < deadline && command.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            #expect(Self.sources(folder).count == 2, "the fast server made its two")
            await fakes[1].stop()
            #expect(await command.wait() == 3, "\(command.log)")
            #expect(command.log.contains("generate     4 generated (4 images)"), "\(command.log)")
            #expect(fakes[0].acceptedPrompts == 4, "the fast server made the two the slow one held")
        }
    }

    /// Ctrl-C cancels what the run queued on every server of the pool.
    @Test func ctrlCEmptiesEveryServersQueue() async throws {
        try await Self.withPool([0.05, 0.05], prompts: 3, seeds: 2) { folder, fakes, runner in
            for fake in fakes { fake.holdRuns() }
            let command = try runner.start(["drop.yaml"], logPath: folder("run.log"))
            let deadline = Date().addingTimeInterval(60)
            while fakes.contains(where: { $0.acceptedPrompts < 2 }) && Date() < deadline && command.isRunning {
                try await Task.sleep(for: .milliseconds(20))
            }
            command.interrupt()
            #expect(await command.wait() == 130, "\(command.log)")
            for fake in fakes {
                #expect(fake.queued.isEmpty && fake.cancelled.count == fake.acceptedPrompts, "\(fake.baseURL): \(fake.cancelled)")
            }
        }
    }
}
