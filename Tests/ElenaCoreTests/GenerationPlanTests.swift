import ElenaCore
import Foundation
import Testing

/// The `generate:` section and the jobs it gives: decoding, the cache key of each (prompt, seed), and the workflow
/// checks that point at the manifest key at fault.
@Suite struct GenerationPlanTests {
    static let manifest = """
        version: 1
        drop: d1
        source: {dir: src}
        generate:
          workflow: wf.json
          inputs: {prompt: 6.text, seed: 3.seed, batch: 5.batch_size}
          prompts: ["elena, red dress", "elena, blue dress"]
          seeds: {from: 7, count: 3}
          batch: 2
          loras: [{input: 10.strength_model, strength: 0.5}]
        crop: {strategy: keep}
        publish: {to: folder}
        """

    static let workflow = """
        {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "positive": ["6", 0], "model": ["10", 0]}},
         "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
         "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
         "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["10", 1]}},
         "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "face.safetensors", "strength_model": 1, "model": ["4", 0], "clip": ["4", 1]}},
         "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["3", 0]}}}
        """

    static func plan(_ manifestText: String = manifest, workflow: String = workflow) throws -> GenerationPlan {
        let (manifest, _) = try ManifestDecoder.decode(manifestText, file: "m.yaml")
        let spec = try #require(manifest.generate)
        return try GenerationPlan.make(spec, workflow: workflow, workflowPath: "wf.json", manifest: manifest)
    }

    @Test func everyPromptWithEverySeedIsOneJobWithItsInputsSet() throws {
        let plan = try Self.plan()
        #expect(plan.jobs.map(\.label) == (1...2).flatMap { p in (7...9).map { "prompt \(p), seed \($0)" } })
        let job = plan.jobs[4]
        #expect(job.graph["6"]?["inputs"]?["text"]?.stringValue == "elena, blue dress")
        #expect(job.graph["3"]?["inputs"]?["seed"]?.intValue == 8)
        #expect(job.graph["5"]?["inputs"]?["batch_size"]?.intValue == 2)
        #expect(job.graph["10"]?["inputs"]?["strength_model"]?.doubleValue == 0.5)
        #expect(job.graph["9"]?["inputs"]?["filename_prefix"]?.stringValue == job.filenamePrefix)
        #expect(job.filenamePrefix == "d1_" + String(job.key.description.prefix(12)))
        #expect(Set(plan.jobs.map(\.key)).count == 6, "every job has its own key")
        #expect(plan.models.map(\.description) == ["checkpoint 'base.safetensors'", "LoRA 'face.safetensors'"])
    }

    @Test func theKeyFollowsTheWorkflowAndTheInputsNotTheirSpelling() throws {
        let keys = try Self.plan().jobs.map(\.key)
        // The same workflow written with other spacing and key order: the same keys.
        let reordered = Self.workflow.replacingOccurrences(of: "\"steps\": 20, \"positive\"", with: "\"positive\"")
            .replacingOccurrences(of: "\"seed\": 1,", with: "\"steps\": 20, \"seed\": 1,")
        #expect(try Self.plan(workflow: reordered).jobs.map(\.key) == keys)
        // A changed workflow (more steps) or a changed strength: new keys.
        let more = Self.workflow.replacingOccurrences(of: "\"steps\": 20", with: "\"steps\": 30")
        #expect(Set(try Self.plan(workflow: more).jobs.map(\.key)).isDisjoint(with: keys))
        let stronger = Self.manifest.replacingOccurrences(of: "strength: 0.5", with: "strength: 0.6")
        #expect(Set(try Self.plan(stronger).jobs.map(\.key)).isDisjoint(with: keys))
        // The workflow's own SaveImage prefix is part of the graph as written, so of the key (elena-run then
        // replaces it with its own).
        let prefixed = Self.workflow.replacingOccurrences(of: "\"ComfyUI\"", with: "\"mine\"")
        #expect(try Self.plan(workflow: prefixed).jobs.map(\.key) != keys)
    }

    /// `servers:` lists a pool; `server:` is a pool of one; both at once, or a server twice, is an error.
    @Test func serversMakeAPool() throws {
        let pool = Self.manifest.replacingOccurrences(
            of: "  workflow: wf.json", with: "  servers: [http://gpu1:8188, http://gpu2:8188]\n  workflow: wf.json")
        #expect(try ManifestDecoder.decode(pool, file: "m.yaml").0.generate?.servers == ["http://gpu1:8188", "http://gpu2:8188"])
        #expect(try ManifestDecoder.decode(Self.manifest, file: "m.yaml").0.generate?.servers == [GenerateSpec.defaultServer])
        let both = pool.replacingOccurrences(of: "  workflow: wf.json", with: "  server: http://gpu3:8188\n  workflow: wf.json")
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(both, file: "m.yaml") }
        #expect(error.description.contains("give 'generate.server' or 'generate.servers', not both"), "\(error)")
        let twice = Self.manifest.replacingOccurrences(
            of: "  workflow: wf.json", with: "  servers: [http://gpu1:8188, http://gpu1:8188]\n  workflow: wf.json")
        let repeated = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(twice, file: "m.yaml") }
        #expect(repeated.description.contains("'generate.servers' names a server twice"), "\(repeated)")
    }

    @Test func aWorkflowThatDoesNotFitIsALocatedError() throws {
        func message(_ manifestText: String = Self.manifest, workflow: String = Self.workflow) -> String? {
            do {
                let (manifest, _) = try ManifestDecoder.decode(manifestText, file: "m.yaml")
                guard let spec = manifest.generate else { return "no generate section" }
                _ = try GenerationPlan.make(spec, workflow: workflow, workflowPath: "wf.json", manifest: manifest)
                return nil
            } catch {
                return error.diagnostics.map(\.description).joined(separator: "\n")
            }
        }
        #expect(message(Self.manifest.replacingOccurrences(of: "prompt: 6.text", with: "prompt: 66.text"))
            == "m.yaml:6:20: error: 'generate.inputs.prompt' names node 66, which the workflow does not have (its nodes: 3, 4, 5, 6, 9, 10)")
        #expect(message(Self.manifest.replacingOccurrences(of: "seed: 3.seed", with: "seed: 3.noise_seed"))?
            .contains("'generate.inputs.seed': node 3 (KSampler) has no input 'noise_seed' (its inputs: seed, steps, positive, model)") == true)
        #expect(message(Self.manifest.replacingOccurrences(of: "prompt: 6.text", with: "prompt: 3.positive"))?
            .contains("input 3.positive (KSampler) is linked from node 6") == true)
        #expect(message(workflow: "{\"nodes\": [], \"links\": []}")?.contains("is in the editor's format, not the API format") == true)
        #expect(message(workflow: "not json")?.contains("'generate.workflow' (wf.json) is not JSON") == true)
        #expect(message(workflow: Self.workflow.replacingOccurrences(of: "SaveImage", with: "PreviewImage"))?
            .contains("has no SaveImage node") == true)
        // A link to a node the workflow lacks (ComfyUI answers it with a KeyError blamed on another input).
        #expect(message(workflow: Self.workflow.replacingOccurrences(of: "\"images\": [\"3\", 0]", with: "\"images\": [\"99\", 0]"))
            == "m.yaml:5:13: error: 'generate.workflow' (wf.json): node 9 (SaveImage), input images links to node 99, which "
            + "the workflow does not have (export the workflow again from ComfyUI (Workflow > Export (API)))")
    }

    @Test func valuesWithoutTheirInputAreRefusedWhenDecoding() throws {
        let text = Self.manifest.replacingOccurrences(of: ", batch: 5.batch_size", with: "") + "\n"
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "m.yaml") }
        #expect(error.diagnostics.map(\.description) == [
            "m.yaml:9:3: error: 'generate.batch' needs 'generate.inputs.batch': name the node input that takes it, like 5.batch_size"
        ])
        let seeds = try #require(throws: ManifestError.self) {
            try ManifestDecoder.decode(Self.manifest.replacingOccurrences(of: "count: 3", with: "count: 0"), file: "m.yaml")
        }
        #expect(seeds.diagnostics.first?.keyPath == "generate.seeds.count")
    }
}
