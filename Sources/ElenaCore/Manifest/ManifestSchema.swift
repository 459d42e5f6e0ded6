/// The manifest format, version 1: the single description that validation and `schema/manifest.schema.json`
/// both come from.
package enum ManifestSchema {
    /// Price rules shared by the drop and item overrides.
    static let price = Schema.number(
        NumberRange(min: 3.0, max: 10_000, minimumReason: "Fanvue's minimum price is 3.00 USD"))
    static let tags = Schema.array(
        of: .string(StringRule(pattern: "[^,\\n]+", meaning: "a tag without commas", maxLength: 64)), uniqueItems: true)
    static let caption = Schema.string(StringRule(maxLength: 5000))
    static let vault = Schema.string(StringRule(minLength: 1, maxLength: 255))
    static let category = Schema.string(StringRule(minLength: 1, maxLength: 64))
    static let aspect = Schema.string(StringRule(pattern: "[1-9][0-9]{0,3}:[1-9][0-9]{0,3}", meaning: "a ratio like 4:5"))

    static let nodeInput = Schema.string(
        StringRule(pattern: "[^.\\s]+\\.[A-Za-z0-9_]+", meaning: "a node id and input name, like 6.text"))

    /// The `generate:` section.
    static let generate = ObjectSchema(
        "Generate the drop's images with ComfyUI before ingesting them: every prompt with every seed.",
        [
            Property(
                "server", .string(StringRule(pattern: "https?://[^\\s]+", meaning: "an http:// or https:// address")),
                default: .string(GenerateSpec.defaultServer), "ComfyUI's address (or servers: for several)"),
            Property(
                "servers",
                .array(
                    of: .string(StringRule(pattern: "https?://[^\\s]+", meaning: "an http:// or https:// address")),
                    minItems: 1),
                "several ComfyUI servers driven as one pool: each prompt goes to the one with the shortest queue"),
            Property(
                "workflow", .string(StringRule(minLength: 1)), required: true,
                "the workflow in API format (in ComfyUI: Workflow > Export (API)), relative to the manifest's folder"),
            Property(
                "inputs",
                .object(
                    ObjectSchema(
                        "Which node input takes each value, written <node id>.<input name>.",
                        [
                            Property("prompt", nodeInput, required: true, "the positive prompt's text, e.g. 6.text"),
                            Property("seed", nodeInput, required: true, "the sampler's seed, e.g. 3.seed"),
                            Property("batch", nodeInput, "the batch size, e.g. 5.batch_size"),
                            Property("checkpoint", nodeInput, "the checkpoint file name, e.g. 4.ckpt_name"),
                        ])), required: true, "where the prompt, seed, batch size and checkpoint go in the workflow"),
            Property(
                "prompts", .array(of: .string(StringRule(minLength: 1, maxLength: 20_000)), minItems: 1), required: true,
                "the positive prompts; each is generated with every seed"),
            Property(
                "seeds",
                .object(
                    ObjectSchema(
                        "Consecutive seeds.",
                        [
                            Property(
                                "from", .integer(NumberRange(min: 0, max: 9_007_199_254_740_991)), required: true,
                                "the first seed"),
                            Property(
                                "count", .integer(NumberRange(min: 1, max: 1000)), default: .integer(1),
                                "how many seeds, from the first"),
                        ])), "the seeds each prompt is generated with (default: 1, once)"),
            Property(
                "batch", .integer(NumberRange(min: 1, max: 64)),
                "images per prompt and seed (needs inputs.batch; default: the workflow's)"),
            Property(
                "checkpoint", .string(StringRule(minLength: 1, maxLength: 255)),
                "checkpoint file (needs inputs.checkpoint; default: the workflow's)"),
            Property(
                "loras",
                .array(
                    of: .object(
                        ObjectSchema(
                            "A LoRA strength to set.",
                            [
                                Property("input", nodeInput, required: true, "the strength input, e.g. 10.strength_model"),
                                Property("strength", .number(NumberRange(min: -20, max: 20)), required: true, "the strength"),
                            ]))), "LoRA strengths to set"),
            Property(
                "timeout", .integer(NumberRange(min: 1, max: 86_400)), default: .integer(GenerateSpec.defaultTimeout),
                "seconds one prompt may take before it is given up"),
        ])

    /// The crop keys; `requireStrategy` is true for the drop-level section and false inside `items`.
    static func crop(requireStrategy: Bool) -> ObjectSchema {
        ObjectSchema(
            requireStrategy ? "How every image is cropped." : "Crop keys that differ for the matching files.",
            [
                Property(
                    "strategy", .string(StringRule(allowed: CropStrategy.allCases.map(\.rawValue))),
                    required: requireStrategy,
                    "no_face cuts below every face; lips_only keeps the lips and nothing above; keep cuts no face; "
                        + "top_fraction cuts a fixed part off the top"),
                Property(
                    "fallback", .string(StringRule(allowed: CropFallback.allCases.map(\.rawValue))),
                    default: .string("top_fraction"),
                    "what a face strategy does when it finds no face (the item is flagged for review)"),
                Property(
                    "top_fraction", .number(NumberRange(min: 0, max: 0.95, exclusiveMax: true)),
                    default: .number(0.30), "fraction of the height cut off the top by top_fraction and the fallback"),
                Property(
                    "margin", .number(NumberRange(min: 0, max: 0.5)), default: .number(0.02),
                    "extra cut below the face line, as a fraction of the image height"),
                Property("aspect", aspect, "output aspect ratio width:height, e.g. 4:5"),
                Property(
                    "min_height", .integer(NumberRange(min: 1, max: 100_000)),
                    "crops shorter than this many pixels are flagged"),
                Property(
                    "format", .string(StringRule(allowed: ImageFormat.allCases.map(\.rawValue))),
                    default: .string("jpeg"), "output encoding"),
                Property(
                    "quality", .integer(NumberRange(min: 1, max: 100)), default: .integer(92), "JPEG quality, 1 to 100"),
                Property(
                    "lips_line", .string(StringRule(allowed: LipsLine.allCases.map(\.rawValue))),
                    default: .string("upper_lip"),
                    "lips_only cuts between nose and upper lip (upper_lip: both lips stay) or between the lips (mouth)"),
                Property(
                    "mark_ai", .boolean, default: .bool(false),
                    "write the IPTC/XMP digital source type 'trainedAlgorithmicMedia' into each crop (Fanvue asks for AI disclosure)"),
            ])
    }

    /// The whole manifest.
    package static let root: Schema = .object(
        ObjectSchema(
            "An elena-run content drop: where images come from, how they are cropped and where they go.",
            [
                Property(
                    "version", .integer(NumberRange(min: 1, max: 1)), required: true, "manifest format version; 1"),
                Property(
                    "drop",
                    .string(
                        StringRule(
                            pattern: "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
                            meaning: "a name of letters, digits, '.', '_' or '-' (at most 64), like drop-03")),
                    required: true, "the drop's name, used for folders and in the ledger"),
                Property(
                    "library", .string(StringRule(minLength: 1)),
                    "library folder (default ~/elena-content-pipeline; --library and ELENA_LIBRARY win)"),
                Property(
                    "source",
                    .object(
                        ObjectSchema(
                            "Where the images come from.",
                            [
                                Property(
                                    "dir", .string(StringRule(minLength: 1)), required: true,
                                    "folder with the images, relative to the manifest's folder; ~ expands"),
                                Property(
                                    "include", .stringOrList(StringRule(minLength: 1)),
                                    default: .strings(SourceSpec.defaultInclude),
                                    "file-name patterns to take (case-insensitive)"),
                                Property(
                                    "exclude", .stringOrList(StringRule(minLength: 1)), "file-name patterns to leave out"),
                                Property("recursive", .boolean, default: .bool(true), "scan sub-folders too"),
                            ])), required: true, "where the images come from"),
                Property(
                    "generate", .object(generate),
                    "make the images with ComfyUI first; they are downloaded into source.dir and ingested from there"),
                Property("crop", .object(crop(requireStrategy: true)), required: true, "how every image is cropped"),
                Property(
                    "persona",
                    .object(
                        ObjectSchema(
                            "The persona's face, for crop.strategy auto: reference photos and the scores at which a face is hers.",
                            [
                                Property(
                                    "references", .array(of: .string(StringRule(minLength: 1)), minItems: 2, uniqueItems: true),
                                    required: true,
                                    "photos of the persona's face (paths relative to the manifest); at least two that agree"),
                                Property(
                                    "keep_above", .number(NumberRange(min: 0, max: 1)), default: .number(PersonaSpec.defaultKeepAbove),
                                    "a main face scoring at least this is hers: it is kept"),
                                Property(
                                    "lips_above", .number(NumberRange(min: 0, max: 1)), default: .number(PersonaSpec.defaultLipsAbove),
                                    "at least this (below keep_above): close, only the lips stay; below: the face is cut"),
                            ])),
                    "who the persona is (needed by crop.strategy auto)"),
                Property(
                    "publish",
                    .object(
                        ObjectSchema(
                            "Where approved crops go, and how they are described.",
                            [
                                Property(
                                    "to", .string(StringRule(allowed: PublishTarget.allCases.map(\.rawValue))),
                                    required: true, "folder (a local outbox) or fanvue"),
                                Property(
                                    "outbox", .string(StringRule(minLength: 1)),
                                    "outbox folder for the folder target (default <library>/outbox/<drop>)"),
                                Property("vault", vault, "vault folder name"),
                                Property("price", price, "price in USD, at least 3.00"),
                                Property("tags", tags, "tags"),
                                Property("caption", caption, "caption; an AI-content disclosure is added if missing"),
                                Property("category", category, "a category for the ledger"),
                                Property(
                                    "disclosure", .string(StringRule(minLength: 1, maxLength: 200)),
                                    default: .string(PublishSpec.defaultDisclosure),
                                    "the AI-content disclosure appended to captions that lack one"),
                                Property(
                                    "post",
                                    .object(
                                        ObjectSchema(
                                            "A feed post with the drop's approved media, made once every item is decided.",
                                            [
                                                Property(
                                                    "audience",
                                                    .string(StringRule(allowed: ["subscribers", "followers-and-subscribers"])),
                                                    required: true, "who sees the post"),
                                                Property("text", caption, "post text (default: the caption)"),
                                                Property("price", price, "price in USD for a locked post, at least 3.00"),
                                                Property(
                                                    "at", .string(StringRule(format: "date-time")),
                                                    "schedule, e.g. 2026-12-01T18:00:00Z (default: now)"),
                                                Property(
                                                    "allow_ppv_items", .boolean, default: .bool(false),
                                                    "allow media already sent or sold as pay-per-view in the feed post"),
                                            ])), "a feed post (fanvue target)"),
                                Property(
                                    "message",
                                    .object(
                                        ObjectSchema(
                                            "A pay-per-view message with the drop's approved media to each listed fan.",
                                            [
                                                Property(
                                                    "to",
                                                    .array(
                                                        of: .string(StringRule(pattern: "[0-9A-Za-z-]{8,64}", meaning: "a fan uuid")),
                                                        minItems: 1, uniqueItems: true),
                                                    required: true, "fan uuids"),
                                                Property("text", caption, "message text (default: the caption)"),
                                                Property("price", price, "price in USD (default: publish.price), at least 3.00"),
                                                Property(
                                                    "at", .string(StringRule(format: "date-time")),
                                                    "schedule, e.g. 2026-12-01T18:00:00Z (default: now): one mass message"),
                                                Property(
                                                    "reconcile", .boolean, default: .bool(true),
                                                    "read these fans' chats on Fanvue first, so what the creator sent by hand counts"),
                                            ])), "pay-per-view messages (fanvue target)"),
                                Property(
                                    "allow_similar", .boolean, default: .bool(false),
                                    "let this drop send a fan (or post) a near-duplicate of a picture the fan has (or of one sold as pay-per-view); never the same item twice"),
                            ])), required: true, "where approved crops go"),
                Property(
                    "items",
                    .array(
                        of: .object(
                            ObjectSchema(
                                "Overrides for the files whose name matches.",
                                [
                                    Property(
                                        "match", .string(StringRule(minLength: 1)), required: true,
                                        "file-name pattern, e.g. ComfyUI_0004*"),
                                    Property("skip", .boolean, default: .bool(false), "leave matching files out"),
                                    Property("crop", .object(crop(requireStrategy: false)), "crop keys to override"),
                                    Property("price", price, "price in USD"),
                                    Property("tags", tags, "tags (replace the drop's tags)"),
                                    Property("caption", caption, "caption"),
                                    Property("vault", vault, "vault folder name"),
                                    Property("category", category, "category"),
                                ]))), "per-file overrides; later entries win"),
            ]))
}
