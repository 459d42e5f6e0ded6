import ElenaComfy
import ElenaCore
import ElenaTestKit
import Foundation
import Testing

/// The client reads what a real ComfyUI 0.3.64 sent on its websocket (Tests/Fixtures/comfyui-0.3.64/cap_*.jsonl):
/// every event type the real server sends, binary preview frames and all, gives the events generation follows, in
/// order, and nothing it cannot read stops it.
@Suite struct RecordedTranscriptTests {
    /// The text frames of a recording, as the socket delivered them (binary frames are skipped, as the client does).
    static func frames(_ file: String) throws -> [String] {
        let path = CommandLineRunner.repositoryRoot() + "/Tests/Fixtures/comfyui-0.3.64/" + file
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            let entry = try JSONValue.parse(String(line))
            guard entry["kind"]?.stringValue == "text", let message = entry["msg"] else { return nil }
            return message.serialized()
        }
    }

    /// The events generation follows, from a recording.
    static func events(_ file: String) throws -> [ComfyEvent] { try frames(file).compactMap(ComfyClient.event) }

    @Test func aSuccessfulRunEndsFinished() throws {
        for file in ["cap_noise.jsonl", "cap_ksampler.jsonl", "cap_ksampler_preview.jsonl"] {
            let events = try Self.events(file)
            guard case .finished? = events.last else {
                Issue.record("\(file): the last event is \(String(describing: events.last))")
                continue
            }
            #expect(!events.contains { if case .failed = $0 { true } else { false } }, "\(file)")
        }
        let steps = try Self.events("cap_ksampler.jsonl").compactMap { event -> Int? in
            if case .progress(_, let value, _) = event { return value } else { return nil }
        }
        #expect(steps.count == 28 && steps == steps.sorted(), "every sampler step, in order: \(steps)")
    }

    /// A prompt whose every node was cached sends `executed` without `executing` for its outputs: it still ends.
    @Test func aCachedRunEndsFinished() throws {
        let events = try Self.events("cap_noise_cached.jsonl")
        guard case .finished? = events.last else {
            Issue.record("the cached run never finishes: \(events)")
            return
        }
    }

    /// A node failing at run time: its node, type and message on one line (ComfyUI's ends in a newline).
    @Test func aRuntimeErrorNamesTheNodeOnOneLine() throws {
        let failures = try Self.events("cap_runtime_error.jsonl").compactMap { event -> String? in
            if case .failed(_, let message) = event { return message } else { return nil }
        }
        #expect(failures == ["node 6 (ImageToMask) failed: index 3 is out of bounds for dimension 3 with size 3"], "\(failures)")
    }

    @Test func anInterruptedRunSaysSo() throws {
        let events = try Self.events("cap_ksampler_interrupt.jsonl")
        #expect(events.contains { $0 == .failed(promptID: Self.prompt(events), message: "the run was interrupted") }, "\(events)")
    }

    static func prompt(_ events: [ComfyEvent]) -> String {
        for event in events {
            switch event {
            case .executing(let id, _), .progress(let id, _, _), .finished(let id), .failed(let id, _): return id
            default: continue
            }
        }
        return ""
    }
}
