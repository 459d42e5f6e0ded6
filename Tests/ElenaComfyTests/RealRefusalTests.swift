import ElenaComfy
import ElenaComfyFake
import ElenaCore
import ElenaTestKit
import Foundation
import Testing

/// What a real ComfyUI 0.3.64 answered to broken graphs (Tests/Fixtures/comfyui-0.3.64, recorded from the real
/// server), read as the client reads it, and the fake answering in the same shapes.
@Suite struct RealRefusalTests {
    static func recorded(_ file: String) throws -> JSONValue {
        let path = CommandLineRunner.repositoryRoot() + "/Tests/Fixtures/comfyui-0.3.64/" + file
        return try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
    }

    /// Every recorded refusal reads as one line naming the node; an unknown class names its node (ComfyUI gives
    /// the id only in `details`), and a link to a missing node says so (ComfyUI says KeyError '99').
    @Test func recordedRefusalsReadAsOneLineNamingTheNode() throws {
        for file in ["refusals.json", "refusals_single_output.json"] {
            guard case .object(let cases) = try Self.recorded(file) else { Issue.record("\(file) is not an object"); continue }
            for entry in cases {
                let accepted = entry.value["status"]?.intValue == 200
                let error = ComfyClient.validationError(entry.value["body"], accepted: accepted)
                #expect(!error.description.contains("\n"), "\(file) \(entry.key): \(error)")
                #expect(!error.nodeErrors.isEmpty || error.type == "prompt_no_outputs", "\(file) \(entry.key) names a node: \(error)")
                if accepted {
                    #expect(error.description.hasPrefix("ComfyUI left out output node"), "\(file) \(entry.key): \(error)")
                }
            }
        }
        guard case .object(let cases) = try Self.recorded("refusals.json") else { return }
        let unknown = ComfyClient.validationError(cases.first { $0.key == "unknown_class_extra_node" }?.value["body"])
        #expect(unknown.nodeErrors.map(\.node) == ["6"] && unknown.nodeErrors.first?.classType == "NoSuchNode", "\(unknown)")
        #expect(unknown.description.contains("node 6 (NoSuchNode): this server has no node type NoSuchNode"), "\(unknown)")
        let missing = ComfyClient.validationError(cases.first { $0.key == "link_to_missing_node" }?.value["body"], accepted: true)
        #expect(missing.description.contains("a link of the workflow points at node 99, which the workflow does not have"), "\(missing)")
    }

    /// A 200 with node_errors: the prompt runs without the outputs named (ComfyUI answers this when at least one
    /// output is valid); the client says which were left out and why.
    @Test func aRecordedAcceptanceWithNodeErrorsNamesTheOutputsLeftOut() throws {
        let answer = try Self.recorded("two_saves_post.json")
        let error = ComfyClient.validationError(answer["body"], accepted: true)
        #expect(error.droppedOutputs == ["8"])
        #expect(
            error.description == "ComfyUI left out output node 8 of the workflow (it runs the others); node 7 (ImageInvert), "
                + "input image: Return type mismatch between linked nodes: image, received_type(STRING) mismatch "
                + "input_type(IMAGE) (return_type_mismatch)", "\(error)")
    }

    /// The fake answers as the real server: two SaveImage branches with one broken is accepted (200) with the
    /// broken one named, and only the valid branch saves images.
    @Test func theFakeRunsOnlyTheValidOutputs() async throws {
        try await ComfyClientTests.withFake { _, client, _ in
            guard case .object(var nodes) = ComfyClientTests.workflow() else { return }
            nodes.append(.init("11", .object(["class_type": .string("CheckpointLoaderSimple"), "inputs": .object(["ckpt_name": .string("missing.safetensors")])])))
            nodes.append(.init("12", .object(["class_type": .string("VAEDecode"), "inputs": .object(["samples": .array([.string("3"), .int(0)]), "vae": .array([.string("11"), .int(2)])])])))
            nodes.append(.init("13", .object(["class_type": .string("SaveImage"), "inputs": .object(["filename_prefix": .string("other"), "images": .array([.string("12"), .int(0)])])])))
            let answer = try await client.queue(.object(nodes), clientID: "t")
            let leftOut = try #require(answer.leftOut, "a 200 with node_errors")
            #expect(leftOut.droppedOutputs == ["13"] && leftOut.nodeErrors.map(\.node) == ["11"], "\(leftOut)")
            guard case .succeeded(let images) = try await ComfyClientTests.waitForEnd(client, answer.promptID) else {
                Issue.record("the valid output ran")
                return
            }
            #expect(images.count == 1 && images[0].subfolder == "elena", "only node 9's image: \(images)")
        }
    }
}
