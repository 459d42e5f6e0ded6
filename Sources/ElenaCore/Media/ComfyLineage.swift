/// How an image was generated, read from the `prompt` graph ComfyUI stores in its PNGs. Shown in review and kept
/// in the ledger; it never leaves the machine.
package struct ComfyLineage: Sendable, Hashable, Codable {
    /// One LoRA as applied, in chain order from the checkpoint outwards.
    package struct LoRA: Sendable, Hashable, Codable {
        package var name: String
        package var strengthModel: Double?
        package var strengthClip: Double?
    }

    package var seed: Int?
    package var steps: Int?
    package var cfg: Double?
    package var sampler: String?
    package var scheduler: String?
    package var denoise: Double?
    package var positive: String?
    package var negative: String?
    package var checkpoint: String?
    package var loras: [LoRA]
    package var width: Int?
    package var height: Int?
    package var batchSize: Int?
    /// The SaveImage `filename_prefix`.
    package var filenamePrefix: String?
    /// Whether a `workflow` chunk (the editor's graph) was present too.
    package var hasWorkflow: Bool
    /// The ComfyUI prompt that made it, when elena-run's `generate:` queued it.
    package var promptID: String?
    /// The ComfyUI server that made it, when elena-run's `generate:` queued it.
    package var server: String?
    /// The key of the `generate` step that made it (its record in the ledger).
    package var generateStep: String?

    /// An empty lineage.
    package init() {
        loras = []
        hasWorkflow = false
    }

    /// Whether anything was found.
    package var isEmpty: Bool { seed == nil && positive == nil && checkpoint == nil && loras.isEmpty && promptID == nil }

    /// What a drop's `generate:` set for an image it queued: the prompt, the seed, the checkpoint and the LoRAs'
    /// strengths as queued, the prompt id and the server. They complete what the graph shows (a graph without a
    /// sampler shows none of them) and win over it: they are what was asked for.
    package func completed(with generated: GeneratedFacts) -> ComfyLineage {
        var lineage = self
        lineage.positive = generated.prompt
        lineage.seed = generated.seed
        lineage.promptID = generated.promptID
        lineage.server = generated.server
        lineage.generateStep = generated.step
        if let checkpoint = generated.checkpoint { lineage.checkpoint = ComfyLineage.modelName(checkpoint) }
        for lora in generated.loras {
            if let index = lineage.loras.firstIndex(where: { $0.name == ComfyLineage.modelName(lora.name) }) {
                lineage.loras[index].strengthModel = lora.strengthModel ?? lineage.loras[index].strengthModel
                lineage.loras[index].strengthClip = lora.strengthClip ?? lineage.loras[index].strengthClip
            } else {
                lineage.loras.append(
                    LoRA(name: ComfyLineage.modelName(lora.name), strengthModel: lora.strengthModel, strengthClip: lora.strengthClip))
            }
        }
        return lineage
    }

    static let samplerTypes: Set<String> = ["KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"]

    /// Reads a ComfyUI API-format graph.
    /// - Parameters:
    ///   - prompt: the `prompt` chunk's JSON text.
    ///   - hasWorkflow: whether a `workflow` chunk exists.
    /// - Returns: nil when the text is not a ComfyUI graph.
    package static func parse(prompt: String, hasWorkflow: Bool = false) -> ComfyLineage? {
        guard case .object(let members)? = try? JSONValue.parse(prompt) else { return nil }
        var graph: [String: JSONValue] = [:]
        for member in members where member.value["class_type"]?.stringValue != nil { graph[member.key] = member.value }
        guard !graph.isEmpty else { return nil }
        return Reader(graph: graph).read(hasWorkflow: hasWorkflow)
    }

    private struct Reader {
        let graph: [String: JSONValue]

        func classType(_ id: String) -> String { graph[id]?["class_type"]?.stringValue ?? "" }
        func inputs(_ id: String) -> JSONValue? { graph[id]?["inputs"] }

        /// `["4", 0]` → "4".
        func link(_ value: JSONValue?) -> String? {
            guard let array = value?.arrayValue, array.count == 2, let id = array[0].stringValue ?? array[0].intValue.map(String.init)
            else { return nil }
            return graph[id] == nil ? nil : id
        }

        /// A literal input, following links to simple value nodes (primitives, seed nodes).
        func literal(_ id: String, _ key: String, depth: Int = 0) -> JSONValue? {
            guard depth < 16, let value = inputs(id)?[key] else { return nil }
            if let target = link(value) {
                guard case .object(let members)? = inputs(target) else { return nil }
                let scalars = members.filter { link($0.value) == nil && $0.value.arrayValue == nil }
                if let same = scalars.first(where: { $0.key == key }) { return same.value }
                if scalars.count == 1 { return scalars[0].value }
                for name in ["value", "seed", "noise_seed", "text", "string", "int", "float"] {
                    if let found = scalars.first(where: { $0.key == name }) { return found.value }
                }
                return nil
            }
            return value
        }

        /// Follows links breadth-first from `start` until a node satisfies `accept`.
        func search(from start: String, through keys: [String]? = nil, accept: (String) -> Bool) -> String? {
            var queue = [start]
            var seen: Set<String> = [start]
            while !queue.isEmpty {
                let id = queue.removeFirst()
                if accept(id) { return id }
                guard case .object(let members)? = inputs(id) else { continue }
                for member in members where keys == nil || keys?.contains(member.key) == true {
                    if let next = link(member.value), seen.insert(next).inserted { queue.append(next) }
                }
            }
            return nil
        }

        func text(from value: JSONValue?) -> String? {
            guard let start = link(value) else { return value?.stringValue }
            guard let node = search(from: start, accept: { inputs($0)?["text"] != nil }) else { return nil }
            return literal(node, "text")?.stringValue
        }

        func read(hasWorkflow: Bool) -> ComfyLineage {
            var lineage = ComfyLineage()
            lineage.hasWorkflow = hasWorkflow
            let ids = graph.keys.sorted { (Int($0) ?? Int.max, $0) < (Int($1) ?? Int.max, $1) }
            let save = ids.first { classType($0) == "SaveImage" }
            lineage.filenamePrefix = save.flatMap { literal($0, "filename_prefix")?.stringValue }
            let sampler =
                save.flatMap { search(from: $0, accept: { ComfyLineage.samplerTypes.contains(classType($0)) }) }
                ?? ids.first { ComfyLineage.samplerTypes.contains(classType($0)) }
            guard let sampler else { return lineage }

            var seed = literal(sampler, "seed") ?? literal(sampler, "noise_seed")
            if seed == nil, let noise = link(inputs(sampler)?["noise"]) { seed = literal(noise, "noise_seed") }
            lineage.seed = seed?.intValue
            lineage.steps = literal(sampler, "steps")?.intValue
            lineage.cfg = literal(sampler, "cfg")?.doubleValue
            lineage.sampler = literal(sampler, "sampler_name")?.stringValue
            lineage.scheduler = literal(sampler, "scheduler")?.stringValue
            lineage.denoise = literal(sampler, "denoise")?.doubleValue
            if let samplerSelect = link(inputs(sampler)?["sampler"]) {
                lineage.sampler = lineage.sampler ?? literal(samplerSelect, "sampler_name")?.stringValue
            }
            if let sigmas = link(inputs(sampler)?["sigmas"]) {
                lineage.scheduler = lineage.scheduler ?? literal(sigmas, "scheduler")?.stringValue
                lineage.steps = lineage.steps ?? literal(sigmas, "steps")?.intValue
            }

            var positiveSource = inputs(sampler)?["positive"]
            var negativeSource = inputs(sampler)?["negative"]
            if positiveSource == nil, let guider = link(inputs(sampler)?["guider"]) {
                positiveSource = inputs(guider)?["positive"] ?? inputs(guider)?["conditioning"]
                negativeSource = inputs(guider)?["negative"]
            }
            lineage.positive = text(from: positiveSource)
            lineage.negative = text(from: negativeSource)

            // Walk the model chain back to the loader, collecting LoRAs (outermost first, then reversed).
            var current = link(inputs(sampler)?["model"])
            if current == nil, let guider = link(inputs(sampler)?["guider"]) { current = link(inputs(guider)?["model"]) }
            var loras: [LoRA] = []
            var steps = 0
            while let id = current, steps < 64 {
                steps += 1
                let type = classType(id)
                if type.hasPrefix("LoraLoader") {
                    if let name = literal(id, "lora_name")?.stringValue {
                        loras.append(
                            LoRA(
                                name: ComfyLineage.modelName(name),
                                strengthModel: literal(id, "strength_model")?.doubleValue,
                                strengthClip: literal(id, "strength_clip")?.doubleValue))
                    }
                } else if let checkpoint = literal(id, "ckpt_name")?.stringValue ?? literal(id, "unet_name")?.stringValue {
                    // Named like the LoRAs: without the file's extension.
                    lineage.checkpoint = ComfyLineage.modelName(checkpoint)
                    break
                }
                current = link(inputs(id)?["model"])
            }
            lineage.loras = loras.reversed()

            if let latent = link(inputs(sampler)?["latent_image"]),
                let sizeNode = search(from: latent, accept: { inputs($0)?["width"] != nil && inputs($0)?["height"] != nil })
            {
                lineage.width = literal(sizeNode, "width")?.intValue
                lineage.height = literal(sizeNode, "height")?.intValue
                lineage.batchSize = literal(sizeNode, "batch_size")?.intValue
            }
            return lineage
        }
    }

    /// `elena_body_v3.safetensors` → `elena_body_v3`.
    package static func displayName(_ file: String) -> String { modelName(file) }

    /// `elena_body_v3.safetensors` → `elena_body_v3`.
    static func modelName(_ file: String) -> String {
        for suffix in [".safetensors", ".ckpt", ".pt", ".bin"] where file.hasSuffix(suffix) {
            return String(file.dropLast(suffix.count))
        }
        return file
    }
}
