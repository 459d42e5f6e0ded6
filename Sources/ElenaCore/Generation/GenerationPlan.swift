/// One (prompt, seed) of a `generate:` section: the graph to queue and its cache key.
package struct GenerationJob: Sendable, Hashable {
    /// Hash of the workflow as it will run (every input set, before the output prefix): a second job with the same
    /// key would make the same images, so a key with a successful record is never queued again.
    package var key: CacheKey
    /// The prompt's position in `generate.prompts`, from 1.
    package var promptNumber: Int
    /// The prompt text.
    package var prompt: String
    /// The seed.
    package var seed: Int
    /// The graph to queue: the workflow with the inputs set and every SaveImage prefix set to `filenamePrefix`.
    package var graph: JSONValue
    /// What `key` is made of: the graph before the prefix (the parameters of the job's node).
    package var keyParameters: JSONValue
    /// `<drop>_<key prefix>`: ComfyUI saves `<prefix>_00001_.png`, …
    package var filenamePrefix: String

    /// `prompt 2, seed 1001`.
    package var label: String { "prompt \(promptNumber), seed \(seed)" }

    /// The job as its node plans it.
    package var planned: PlannedJob { PlannedJob(parameters: keyParameters, label: label) }
}

/// A model file a workflow names, to check on the server before queueing.
package struct ModelRequirement: Sendable, Hashable, CustomStringConvertible {
    /// The loader node's type, e.g. `CheckpointLoaderSimple`.
    package var classType: String
    /// Its input, e.g. `ckpt_name`.
    package var input: String
    /// The file name.
    package var value: String
    /// `checkpoint` or `LoRA`.
    package var kind: String

    /// `checkpoint 'elena-base.safetensors'`.
    package var description: String { "\(kind) '\(value)'" }
}

/// What a `generate:` section asks ComfyUI for: one job per (prompt, seed), and the models they need.
package struct GenerationPlan: Sendable, Hashable {
    /// The jobs, prompt by prompt, seed by seed.
    package var jobs: [GenerationJob]
    /// Every checkpoint and LoRA the graphs name, each once.
    package var models: [ModelRequirement]

    /// Loader inputs that name model files.
    static let modelInputs: [(classType: String, input: String, kind: String)] = [
        ("CheckpointLoaderSimple", "ckpt_name", "checkpoint"), ("CheckpointLoader", "ckpt_name", "checkpoint"),
        ("UNETLoader", "unet_name", "checkpoint"), ("LoraLoader", "lora_name", "LoRA"),
        ("LoraLoaderModelOnly", "lora_name", "LoRA"),
    ]

    /// Builds the jobs. Pure: the caller reads the workflow file.
    /// - Parameters:
    ///   - spec: the manifest's `generate:` section.
    ///   - workflow: the workflow file's text.
    ///   - workflowPath: the file, for messages.
    ///   - manifest: the manifest (its drop name and key locations).
    /// - Throws: `ManifestError` pointing at the manifest key the workflow does not fit.
    /// Node ids in ComfyUI's order: numerically where they are numbers.
    static func nodeOrder(_ a: String, _ b: String) -> Bool { a.count != b.count ? a.count < b.count : a < b }

    package static func make(_ spec: GenerateSpec, workflow: String, workflowPath: String, manifest: Manifest)
        throws(ManifestError) -> GenerationPlan
    {
        func fail(_ key: String, _ message: String, hint: String? = nil) -> ManifestError {
            ManifestError(
                diagnostics: [Diagnostic(at: manifest.locations["generate.\(key)"], key: "generate.\(key)", message, hint: hint)],
                source: nil)
        }
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(workflow)
        } catch {
            throw fail("workflow", "'generate.workflow' (\(workflowPath)) is not JSON: \(error)")
        }
        guard case .object(let members) = parsed else {
            throw fail("workflow", "'generate.workflow' (\(workflowPath)) is not a ComfyUI workflow (not a JSON object)")
        }
        if parsed["nodes"]?.arrayValue != nil, parsed["links"] != nil {
            throw fail(
                "workflow", "'generate.workflow' (\(workflowPath)) is in the editor's format, not the API format",
                hint: "in ComfyUI use Workflow > Export (API) and name that file")
        }
        var nodes: [String: JSONValue] = [:]
        for member in members {
            guard member.value["class_type"]?.stringValue != nil, case .object = member.value["inputs"] else {
                throw fail(
                    "workflow",
                    "'generate.workflow' (\(workflowPath)) is not in API format: node '\(member.key)' has no class_type and inputs",
                    hint: "in ComfyUI use Workflow > Export (API)")
            }
            nodes[member.key] = member.value
        }
        guard nodes.values.contains(where: { $0["class_type"]?.stringValue == "SaveImage" }) else {
            throw fail("workflow", "'generate.workflow' (\(workflowPath)) has no SaveImage node: nothing would be saved")
        }
        // A link to a node the workflow does not have: ComfyUI reports it as a KeyError blamed on the linking input.
        for id in nodes.keys.sorted(by: Self.nodeOrder) {
            guard let node = nodes[id], case .object(let inputs) = node["inputs"] else { continue }
            for input in inputs {
                guard let link = input.value.arrayValue, link.count == 2, let source = link[0].stringValue,
                    link[1].intValue != nil, nodes[source] == nil
                else { continue }
                throw fail(
                    "workflow",
                    "'generate.workflow' (\(workflowPath)): node \(id) (\(node["class_type"]?.stringValue ?? "?")), input "
                        + "\(input.key) links to node \(source), which the workflow does not have",
                    hint: "export the workflow again from ComfyUI (Workflow > Export (API))")
            }
        }

        // Every named input must be a literal input of an existing node.
        var targets: [(key: String, target: NodeInput)] = [("inputs.prompt", spec.promptInput), ("inputs.seed", spec.seedInput)]
        if let input = spec.batchInput { targets.append(("inputs.batch", input)) }
        if let input = spec.checkpointInput { targets.append(("inputs.checkpoint", input)) }
        for (index, lora) in spec.loras.enumerated() { targets.append(("loras[\(index)].input", lora.input)) }
        for (key, target) in targets {
            guard let node = nodes[target.node] else {
                let known = nodes.keys.sorted(by: Self.nodeOrder)
                throw fail(key, "'generate.\(key)' names node \(target.node), which the workflow does not have (its nodes: \(known.joined(separator: ", ")))")
            }
            let classType = node["class_type"]?.stringValue ?? ""
            guard case .object(let inputs) = node["inputs"], let value = inputs.first(where: { $0.key == target.input })?.value else {
                let names = node["inputs"].flatMap { value -> [String]? in
                    if case .object(let inputs) = value { return inputs.map(\.key) }
                    return nil
                } ?? []
                throw fail(key, "'generate.\(key)': node \(target.node) (\(classType)) has no input '\(target.input)' (its inputs: \(names.joined(separator: ", ")))")
            }
            if let link = value.arrayValue, link.count == 2, let source = link[0].stringValue, nodes[source] != nil {
                throw fail(key, "'generate.\(key)': input \(target) (\(classType)) is linked from node \(source); name the input that holds the value itself")
            }
        }

        var jobs: [GenerationJob] = []
        for (promptIndex, prompt) in spec.prompts.enumerated() {
            for seed in spec.seeds {
                var settings: [(NodeInput, JSONValue)] = [(spec.promptInput, .string(prompt)), (spec.seedInput, .int(seed))]
                if let input = spec.batchInput, let batch = spec.batch { settings.append((input, .int(batch))) }
                if let input = spec.checkpointInput, let checkpoint = spec.checkpoint { settings.append((input, .string(checkpoint))) }
                for lora in spec.loras { settings.append((lora.input, .double(lora.strength))) }
                var graph = members
                for (target, value) in settings { set(&graph, target, value) }
                let keyParameters = JSONValue.object(graph)
                let key = CacheKey(stage: "generate", version: 1, parameters: keyParameters.serialized(canonical: true), inputs: [])
                let prefix = "\(manifest.drop)_\(key.digest.hexPrefix(12))"
                for index in graph.indices where graph[index].value["class_type"]?.stringValue == "SaveImage" {
                    set(&graph, NodeInput(node: graph[index].key, input: "filename_prefix"), .string(prefix))
                }
                jobs.append(
                    GenerationJob(
                        key: key, promptNumber: promptIndex + 1, prompt: prompt, seed: seed, graph: .object(graph),
                        keyParameters: keyParameters, filenamePrefix: prefix))
            }
        }

        var models: [ModelRequirement] = []
        for job in jobs {
            guard case .object(let graph) = job.graph else { continue }
            for node in graph {
                let classType = node.value["class_type"]?.stringValue ?? ""
                for rule in modelInputs where rule.classType == classType {
                    guard let value = node.value["inputs"]?[rule.input]?.stringValue else { continue }
                    let requirement = ModelRequirement(classType: classType, input: rule.input, value: value, kind: rule.kind)
                    if !models.contains(requirement) { models.append(requirement) }
                }
            }
        }
        return GenerationPlan(jobs: jobs, models: models)
    }

    static func set(_ graph: inout [JSONValue.Member], _ target: NodeInput, _ value: JSONValue) {
        guard let index = graph.firstIndex(where: { $0.key == target.node }),
            case .object(var node) = graph[index].value,
            let inputsIndex = node.firstIndex(where: { $0.key == "inputs" }),
            case .object(var inputs) = node[inputsIndex].value
        else { return }
        if let existing = inputs.firstIndex(where: { $0.key == target.input }) {
            inputs[existing].value = value
        } else {
            inputs.append(.init(target.input, value))
        }
        node[inputsIndex].value = .object(inputs)
        graph[index].value = .object(node)
    }
}

/// What `generate:` set for the images of one (prompt, seed): recorded with them, and part of their lineage.
package struct GeneratedFacts: Sendable, Hashable {
    package var promptID: String
    package var prompt: String
    package var seed: Int
    package var server: String
    package var checkpoint: String?
    package var loras: [ComfyLineage.LoRA]
    /// The generate step's key (its record).
    package var step: String

    /// Creates facts.
    package init(
        promptID: String, prompt: String, seed: Int, server: String, checkpoint: String?, loras: [ComfyLineage.LoRA],
        step: String
    ) {
        self.step = step
        self.promptID = promptID
        self.prompt = prompt
        self.seed = seed
        self.server = server
        self.checkpoint = checkpoint
        self.loras = loras
    }

    /// As a cache key's part.
    package var json: JSONValue {
        .object([
            "prompt_id": .string(promptID), "prompt": .string(prompt), "seed": .int(seed), "server": .string(server),
            "step": .string(step),
            "checkpoint": checkpoint.map(JSONValue.string) ?? .null,
            "loras": .array(loras.map { .object(["name": .string($0.name), "strength_model": $0.strengthModel.map(JSONValue.double) ?? .null]) }),
        ])
    }
}

extension GeneratedFacts {
    /// The facts of a job as queued: its prompt and seed, and the checkpoint and each LoRA as set in its graph.
    package init(job: GenerationJob, spec: GenerateSpec, promptID: String) {
        let graph = job.graph
        let checkpoint = spec.checkpointInput.flatMap { graph[$0.node]?["inputs"]?[$0.input]?.stringValue }
        let loras = spec.loras.compactMap { setting -> ComfyLineage.LoRA? in
            guard let name = graph[setting.input.node]?["inputs"]?["lora_name"]?.stringValue else { return nil }
            let strength = graph[setting.input.node]?["inputs"]?[setting.input.input]?.doubleValue ?? setting.strength
            return setting.input.input == "strength_clip"
                ? ComfyLineage.LoRA(name: name, strengthModel: nil, strengthClip: strength)
                : ComfyLineage.LoRA(name: name, strengthModel: strength, strengthClip: nil)
        }
        self.init(
            promptID: promptID, prompt: job.prompt, seed: job.seed, server: spec.server, checkpoint: checkpoint, loras: loras,
            step: job.key.description)
    }
}
