/// A node input of a ComfyUI API-format workflow, written `<node id>.<input name>` (for example `6.text`).
package struct NodeInput: Sendable, Hashable, CustomStringConvertible {
    /// The node's id in the workflow (a key of the API-format object).
    package var node: String
    /// The input's name in the node's `inputs`.
    package var input: String

    /// Creates a reference.
    package init(node: String, input: String) {
        self.node = node
        self.input = input
    }

    /// Parses `6.text` (the node id is everything before the last dot).
    package init?(_ text: String) {
        guard let dot = text.lastIndex(of: "."), dot != text.startIndex, text.index(after: dot) != text.endIndex else {
            return nil
        }
        self.init(node: String(text[..<dot]), input: String(text[text.index(after: dot)...]))
    }

    /// `6.text`.
    package var description: String { "\(node).\(input)" }
}

/// A LoRA strength to set on every generated prompt.
package struct LoRAStrength: Sendable, Hashable {
    /// The input that takes the strength, e.g. `10.strength_model`.
    package var input: NodeInput
    /// The strength.
    package var strength: Double

    /// Creates a setting.
    package init(input: NodeInput, strength: Double) {
        self.input = input
        self.strength = strength
    }
}

/// The `generate:` section: ComfyUI makes the drop's images from a workflow, a list of prompts and a seed range.
/// Every (prompt, seed) pair is one cached node; its images are downloaded into the source folder.
package struct GenerateSpec: Sendable, Hashable {
    /// The ComfyUI servers, driven as one pool (`servers:`, or the one `server:`); at least one.
    package var servers: [String]
    /// The first server (the only one without a pool).
    package var server: String { servers.first ?? GenerateSpec.defaultServer }
    /// The workflow file in API format, as written (relative to the manifest's folder).
    package var workflow: String
    /// The input that takes each prompt's text.
    package var promptInput: NodeInput
    /// The input that takes the seed.
    package var seedInput: NodeInput
    /// The input that takes the batch size, if set.
    package var batchInput: NodeInput?
    /// The input that takes the checkpoint name, if set.
    package var checkpointInput: NodeInput?
    /// The positive prompts; each is generated with every seed.
    package var prompts: [String]
    /// The first seed.
    package var seedFrom: Int
    /// How many consecutive seeds each prompt is generated with.
    package var seedCount: Int
    /// Images per (prompt, seed) (needs `batchInput`).
    package var batch: Int?
    /// The checkpoint file (needs `checkpointInput`).
    package var checkpoint: String?
    /// LoRA strengths to set.
    package var loras: [LoRAStrength]
    /// Seconds one prompt may take before it is given up.
    package var timeoutSeconds: Int

    /// ComfyUI's default address.
    package static let defaultServer = "http://127.0.0.1:8188"
    /// Default for `timeout`.
    package static let defaultTimeout = 900

    /// Creates a section.
    package init(
        servers: [String] = [GenerateSpec.defaultServer], workflow: String, promptInput: NodeInput, seedInput: NodeInput,
        batchInput: NodeInput? = nil, checkpointInput: NodeInput? = nil, prompts: [String], seedFrom: Int = 1,
        seedCount: Int = 1, batch: Int? = nil, checkpoint: String? = nil, loras: [LoRAStrength] = [],
        timeoutSeconds: Int = GenerateSpec.defaultTimeout
    ) {
        self.servers = servers.isEmpty ? [GenerateSpec.defaultServer] : servers
        self.workflow = workflow
        self.promptInput = promptInput
        self.seedInput = seedInput
        self.batchInput = batchInput
        self.checkpointInput = checkpointInput
        self.prompts = prompts
        self.seedFrom = seedFrom
        self.seedCount = seedCount
        self.batch = batch
        self.checkpoint = checkpoint
        self.loras = loras
        self.timeoutSeconds = timeoutSeconds
    }

    /// The seeds, in order.
    package var seeds: [Int] { (0..<seedCount).map { seedFrom + $0 } }
}
