/// Turns manifest text into a `Manifest`, or into compiler-style errors. Pure: the caller reads the file.
package enum ManifestDecoder {
    /// Decodes and validates a manifest.
    /// - Parameters:
    ///   - text: the YAML text.
    ///   - file: the file name to show in errors.
    /// - Returns: the manifest and any warnings.
    /// - Throws: `ManifestError` with every error found.
    ///   - sharedPersona: the persona of the configuration folder, used when the manifest has none.
    package static func decode(_ text: String, file: String, sharedPersona: PersonaSpec? = nil) throws(ManifestError)
        -> (Manifest, [Diagnostic])
    {
        let (root, found) = SchemaValidator(schema: ManifestSchema.root, file: file).validate(text)
        var diagnostics = found
        guard let root else { throw ManifestError(diagnostics: diagnostics, source: text) }
        // The checks that need the whole manifest run even when the schema found errors, so every problem is
        // reported at once; the tree they read holds only the values that passed the schema.
        let manifest = build(root, sharedPersona: sharedPersona, diagnostics: &diagnostics)
        diagnostics.sort { ($0.location?.line ?? 0, $0.location?.column ?? 0) < ($1.location?.line ?? 0, $1.location?.column ?? 0) }
        if diagnostics.contains(where: { $0.severity == .error }) {
            throw ManifestError(diagnostics: diagnostics, source: text)
        }
        return (manifest, diagnostics)
    }

    private static func cents(_ node: ConfigNode?, path: String, diagnostics: inout [Diagnostic]) -> Int? {
        guard let node, let value = node.double else { return nil }
        let cents = (value * 100).rounded()
        // Found by the manifest fuzzer: 1e309 or 1e20 would not fit an Int and crashed the conversion.
        guard cents.isFinite, abs(cents) <= 100_000_000 else {
            diagnostics.append(
                Diagnostic(at: node.location, key: path, "'\(path)' is not a price (\(node.string ?? "")); at most 1000000.00"))
            return nil
        }
        if abs(cents - value * 100) > 1e-6 {
            diagnostics.append(
                Diagnostic(at: node.location, key: path, "'\(path)' has more than two decimals (\(node.string ?? ""))"))
        }
        return Int(cents)
    }

    private static func cropOverride(_ node: ConfigNode?) -> CropOverride {
        var override = CropOverride()
        guard let node else { return override }
        override.strategy = node["strategy"]?.string.flatMap(CropStrategy.init(rawValue:))
        override.fallback = node["fallback"]?.string.flatMap(CropFallback.init(rawValue:))
        override.topFraction = node["top_fraction"]?.double
        override.margin = node["margin"]?.double
        override.aspect = node["aspect"]?.string.flatMap(AspectRatio.init)
        override.minHeight = node["min_height"]?.int
        override.format = node["format"]?.string.flatMap(ImageFormat.init(rawValue:))
        override.quality = node["quality"]?.int
        override.lipsLine = node["lips_line"]?.string.flatMap(LipsLine.init(rawValue:))
        override.markAI = node["mark_ai"]?.bool
        return override
    }

    private static func record(_ node: ConfigNode, path: String, into locations: inout [String: SourceLocation]) {
        locations[path] = node.location
        switch node.value {
        case .object(let entries):
            for entry in entries {
                let child = path.isEmpty ? entry.key : "\(path).\(entry.key)"
                record(entry.node, path: child, into: &locations)
            }
        case .array(let nodes):
            for (index, child) in nodes.enumerated() { record(child, path: "\(path)[\(index)]", into: &locations) }
        default:
            break
        }
    }

    private static func generateSpec(_ node: ConfigNode, diagnostics: inout [Diagnostic]) -> GenerateSpec {
        let inputs = node["inputs"]
        func input(_ key: String) -> NodeInput? { inputs?[key]?.string.flatMap(NodeInput.init) }
        let spec = GenerateSpec(
            servers: node["servers"]?.strings ?? [node["server"]?.string ?? GenerateSpec.defaultServer],
            workflow: node["workflow"]?.string ?? "",
            promptInput: input("prompt") ?? NodeInput(node: "", input: ""),
            seedInput: input("seed") ?? NodeInput(node: "", input: ""),
            batchInput: input("batch"), checkpointInput: input("checkpoint"),
            prompts: node["prompts"]?.strings ?? [],
            seedFrom: node["seeds"]?["from"]?.int ?? 1, seedCount: node["seeds"]?["count"]?.int ?? 1,
            batch: node["batch"]?.int, checkpoint: node["checkpoint"]?.string,
            loras: (node["loras"]?.list ?? []).compactMap { entry in
                guard let target = entry["input"]?.string.flatMap(NodeInput.init), let strength = entry["strength"]?.double
                else { return nil }
                return LoRAStrength(input: target, strength: strength)
            },
            timeoutSeconds: node["timeout"]?.int ?? GenerateSpec.defaultTimeout)
        if node["server"] != nil, node["servers"] != nil {
            diagnostics.append(
                Diagnostic(
                    at: node.location(ofKey: "servers"), key: "generate.servers",
                    "give 'generate.server' or 'generate.servers', not both: put every address in servers"))
        }
        let servers = node["servers"]?.strings ?? []
        if Set(servers).count != servers.count {
            diagnostics.append(
                Diagnostic(at: node.location(ofKey: "servers"), key: "generate.servers", "'generate.servers' names a server twice"))
        }
        for (value, key, inputKey) in [("batch", "batch", "batch"), ("checkpoint", "checkpoint", "checkpoint")]
        where node[value] != nil && inputs?[inputKey] == nil {
            diagnostics.append(
                Diagnostic(
                    at: node.location(ofKey: key), key: "generate.\(key)",
                    "'generate.\(key)' needs 'generate.inputs.\(inputKey)': name the node input that takes it, like "
                        + (key == "batch" ? "5.batch_size" : "4.ckpt_name")))
        }
        return spec
    }

    private static func build(_ root: ConfigNode, sharedPersona: PersonaSpec?, diagnostics: inout [Diagnostic]) -> Manifest {
        var locations: [String: SourceLocation] = [:]
        record(root, path: "", into: &locations)

        let sourceNode = root["source"]
        let source = SourceSpec(
            dir: sourceNode?["dir"]?.string ?? "",
            include: sourceNode?["include"]?.strings ?? SourceSpec.defaultInclude,
            exclude: sourceNode?["exclude"]?.strings ?? [],
            recursive: sourceNode?["recursive"]?.bool ?? true)

        let strategy = root["crop"]?["strategy"]?.string.flatMap(CropStrategy.init(rawValue:)) ?? .noFace
        let crop = cropOverride(root["crop"]).applied(to: CropSpec(strategy: strategy))

        let publishNode = root["publish"]
        var publish = PublishSpec(
            to: publishNode?["to"]?.string.flatMap(PublishTarget.init(rawValue:)) ?? .folder,
            outbox: publishNode?["outbox"]?.string,
            vault: publishNode?["vault"]?.string,
            priceCents: cents(publishNode?["price"], path: "publish.price", diagnostics: &diagnostics),
            tags: publishNode?["tags"]?.strings ?? [],
            caption: publishNode?["caption"]?.string,
            category: publishNode?["category"]?.string,
            disclosure: publishNode?["disclosure"]?.string ?? PublishSpec.defaultDisclosure,
            post: publishNode?["post"].map { node in
                PostSpec(
                    audience: node["audience"]?.string ?? "subscribers", text: node["text"]?.string,
                    priceCents: cents(node["price"], path: "publish.post.price", diagnostics: &diagnostics),
                    at: node["at"]?.string, allowPPVItems: node["allow_ppv_items"]?.bool ?? false)
            },
            message: publishNode?["message"].map { node in
                MessageSpec(
                    to: node["to"]?.strings ?? [], text: node["text"]?.string,
                    priceCents: cents(node["price"], path: "publish.message.price", diagnostics: &diagnostics),
                    reconcile: node["reconcile"]?.bool ?? true, at: node["at"]?.string)
            })
        publish.allowSimilar = publishNode?["allow_similar"]?.bool ?? false
        if publish.to == .folder, publish.post != nil || publish.message != nil {
            diagnostics.append(
                Diagnostic(
                    at: root["publish"]?.location(ofKey: publish.post != nil ? "post" : "message"),
                    key: publish.post != nil ? "publish.post" : "publish.message",
                    "'\(publish.post != nil ? "publish.post" : "publish.message")' needs 'publish.to: fanvue'"))
        }
        if let post = publish.post, publish.message != nil, !post.allowPPVItems {
            // The ledger would refuse the post once the message sells the items (or the other way round, by timing).
            diagnostics.append(
                Diagnostic(
                    at: root["publish"]?.location(ofKey: "post"), key: "publish.post",
                    "'publish.post' and 'publish.message' would post to the feed the items this drop sells as "
                        + "pay-per-view; set 'publish.post.allow_ppv_items: true' to do both, or use two drops"))
        }
        if let post = publish.post, post.priceCents != nil, post.audience.isEmpty {
            // Present but empty (a bare YAML tag such as `!subscribers` reads as ""): point at the key.
            let post = root["publish"]?["post"]
            diagnostics.append(
                Diagnostic(
                    at: post?["audience"] != nil ? post?.location(ofKey: "audience") : root["publish"]?.location(ofKey: "post"),
                    key: "publish.post.audience", "'publish.post.audience' is required: name who sees the post"))
        }
        if publish.to == .fanvue, publish.vault == nil {
            diagnostics.append(
                Diagnostic(
                    at: root.location(ofKey: "publish"), key: "publish.vault",
                    "'publish.vault' is required when publishing to fanvue: name the vault folder"))
        }

        var overrides: [ItemOverride] = []
        for (index, node) in (root["items"]?.list ?? []).enumerated() {
            let path = "items[\(index)]"
            overrides.append(
                ItemOverride(
                    match: Glob(node["match"]?.string ?? "", caseInsensitive: true),
                    skip: node["skip"]?.bool ?? false,
                    crop: cropOverride(node["crop"]),
                    priceCents: cents(node["price"], path: "\(path).price", diagnostics: &diagnostics),
                    tags: node["tags"]?.strings,
                    caption: node["caption"]?.string,
                    vault: node["vault"]?.string,
                    category: node["category"]?.string))
        }

        let generate = root["generate"].map { generateSpec($0, diagnostics: &diagnostics) }
        // The manifest's persona wins over the configuration folder's.
        let persona =
            root["persona"].map { node in
                PersonaSpec(
                    references: node["references"]?.strings ?? [],
                    keepAbove: node["keep_above"]?.double ?? PersonaSpec.defaultKeepAbove,
                    lipsAbove: node["lips_above"]?.double ?? PersonaSpec.defaultLipsAbove)
            } ?? sharedPersona
        if let persona, persona.lipsAbove > persona.keepAbove {
            diagnostics.append(
                Diagnostic(
                    at: root["persona"]?.location(ofKey: "lips_above"), key: "persona.lips_above",
                    "'persona.lips_above' (\(persona.lipsAbove)) must not be above 'persona.keep_above' (\(persona.keepAbove))"))
        }
        let wantsAuto = crop.strategy == .auto || overrides.contains { $0.crop.strategy == .auto }
        if wantsAuto && persona == nil {
            diagnostics.append(
                Diagnostic(
                    at: root["crop"]?.location(ofKey: "strategy") ?? root.location(ofKey: "crop"), key: "crop.strategy",
                    "strategy 'auto' decides by the persona's face: add 'persona: {references: [her-1.jpg, her-2.jpg]}' "
                        + "(or share one in the configuration folder's persona.yaml)"))
        }

        return Manifest(
            version: root["version"]?.int ?? 1,
            drop: root["drop"]?.string ?? "",
            library: root["library"]?.string,
            source: source,
            crop: crop,
            publish: publish,
            items: overrides,
            generate: generate,
            persona: persona,
            locations: locations)
    }
}
