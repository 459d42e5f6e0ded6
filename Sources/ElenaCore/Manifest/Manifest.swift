/// A content drop, as declared in a YAML manifest. Values are as written; paths are not yet resolved.
package struct Manifest: Sendable, Hashable {
    /// Manifest format version (always 1 for now).
    package var version: Int
    /// The drop's name, used in folder names and the ledger.
    package var drop: String
    /// Library root as written in the manifest (`library:`), if any.
    package var library: String?
    /// Where the images come from.
    package var source: SourceSpec
    /// How every image is cropped (items may override).
    package var crop: CropSpec
    /// Where approved crops go.
    package var publish: PublishSpec
    /// Per-file overrides, applied in order (later entries win).
    package var items: [ItemOverride]
    /// Images to generate with ComfyUI into the source folder before ingesting (nil: the folder is filled by hand).
    package var generate: GenerateSpec?
    /// The persona, for `crop.strategy: auto`.
    package var persona: PersonaSpec?
    /// Where each key path is written, for errors found after decoding (for example a missing folder).
    package var locations: [String: SourceLocation]

    /// Creates a manifest.
    package init(
        version: Int = 1, drop: String, library: String? = nil, source: SourceSpec, crop: CropSpec,
        publish: PublishSpec, items: [ItemOverride] = [], generate: GenerateSpec? = nil, persona: PersonaSpec? = nil,
        locations: [String: SourceLocation] = [:]
    ) {
        self.generate = generate
        self.persona = persona
        self.version = version
        self.drop = drop
        self.library = library
        self.source = source
        self.crop = crop
        self.publish = publish
        self.items = items
        self.locations = locations
    }
}

/// The `source:` section.
package struct SourceSpec: Sendable, Hashable {
    /// The folder to scan, as written (relative to the manifest's folder; `~` expands).
    package var dir: String
    /// File-name patterns to take.
    package var include: [String]
    /// File-name patterns to leave out.
    package var exclude: [String]
    /// Whether sub-folders are scanned.
    package var recursive: Bool

    /// The default include patterns.
    package static let defaultInclude = ["*.png", "*.jpg", "*.jpeg", "*.webp"]

    /// Creates a source section.
    package init(dir: String, include: [String] = SourceSpec.defaultInclude, exclude: [String] = [], recursive: Bool = true) {
        self.dir = dir
        self.include = include
        self.exclude = exclude
        self.recursive = recursive
    }
}

/// How the face is removed.
package enum CropStrategy: String, Sendable, Hashable, CaseIterable, Codable {
    /// Cut below the lowest point of every face, plus the margin.
    case noFace = "no_face"
    /// Cut between the nose and the lips, so the lips stay and nothing above them.
    case lipsOnly = "lips_only"
    /// No face cut; aspect and size rules only.
    case keep
    /// Cut a fixed fraction off the top.
    case topFraction = "top_fraction"
    /// Per image, by how much the main face is the persona's: keep it, keep only the lips, or cut it
    /// (`persona:` sets the references and thresholds); any other face is cut away.
    case auto

    /// Whether the strategy needs face detection.
    package var needsFaces: Bool { self == .noFace || self == .lipsOnly || self == .auto }
}

/// `persona:`: reference photos of the persona and the scores at which a face is hers.
package struct PersonaSpec: Sendable, Hashable {
    /// Reference photos (paths relative to the manifest's folder).
    package var references: [String]
    /// A main face scoring at least this is the persona's: it is kept.
    package var keepAbove: Double
    /// At least this (and below `keepAbove`): close; only the lips stay.
    package var lipsAbove: Double

    /// The defaults (`identity-model.md`): 0.55, and OpenCV Zoo's own same-identity threshold for SFace.
    package static let defaultKeepAbove = 0.55
    package static let defaultLipsAbove = 0.363

    /// Creates a persona.
    package init(references: [String], keepAbove: Double = defaultKeepAbove, lipsAbove: Double = defaultLipsAbove) {
        self.references = references
        self.keepAbove = keepAbove
        self.lipsAbove = lipsAbove
    }
}

/// What happens when a face strategy finds no face.
package enum CropFallback: String, Sendable, Hashable, CaseIterable, Codable {
    /// Cut `top_fraction` off the top and flag the item.
    case topFraction = "top_fraction"
    /// Keep the whole image and flag the item.
    case keep

    /// The strategy applied instead.
    package var strategy: CropStrategy { self == .keep ? .keep : .topFraction }
}

/// Where `lips_only` cuts.
package enum LipsLine: String, Sendable, Hashable, CaseIterable, Codable {
    /// Between the bottom of the nose and the top of the upper lip: both lips stay.
    case upperLip = "upper_lip"
    /// Between the lips: only the lower lip stays.
    case mouth
}

/// Output encoding of crops.
package enum ImageFormat: String, Sendable, Hashable, CaseIterable, Codable {
    case jpeg
    case png

    /// File extension, without the dot.
    package var fileExtension: String { self == .jpeg ? "jpg" : "png" }
}

/// A width:height ratio such as 4:5.
package struct AspectRatio: Sendable, Hashable, CustomStringConvertible, Codable {
    /// Width part.
    package var width: Int
    /// Height part.
    package var height: Int

    /// Creates a ratio.
    package init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `4:5`.
    package init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
        self.init(width: w, height: h)
    }

    /// Width divided by height.
    package var value: Double { Double(width) / Double(height) }
    /// `4:5`.
    package var description: String { "\(width):\(height)" }
}

/// The `crop:` section, fully resolved with defaults.
package struct CropSpec: Sendable, Hashable, Codable {
    /// The strategy.
    package var strategy: CropStrategy
    /// Used when a face strategy finds no face.
    package var fallback: CropFallback
    /// The fraction cut off the top by `top_fraction` (and the fallback).
    package var topFraction: Double
    /// Extra cut below the face line, as a fraction of the image height.
    package var margin: Double
    /// Output aspect ratio, if any.
    package var aspect: AspectRatio?
    /// Crops shorter than this are flagged.
    package var minHeight: Int?
    /// Output encoding.
    package var format: ImageFormat
    /// JPEG quality, 1 to 100.
    package var quality: Int
    /// Where `lips_only` cuts.
    package var lipsLine: LipsLine
    /// Write the IPTC/XMP digital-source-type marking "trainedAlgorithmicMedia" into the output file.
    package var markAI: Bool

    /// Defaults for every optional key.
    package static let defaults = CropSpec(strategy: .noFace)

    /// Creates a crop section.
    package init(
        strategy: CropStrategy, fallback: CropFallback = .topFraction, topFraction: Double = 0.30,
        margin: Double = 0.02, aspect: AspectRatio? = nil, minHeight: Int? = nil, format: ImageFormat = .jpeg,
        quality: Int = 92, lipsLine: LipsLine = .upperLip, markAI: Bool = false
    ) {
        self.strategy = strategy
        self.fallback = fallback
        self.topFraction = topFraction
        self.margin = margin
        self.aspect = aspect
        self.minHeight = minHeight
        self.format = format
        self.quality = quality
        self.lipsLine = lipsLine
        self.markAI = markAI
    }
}

/// Where approved crops go.
package enum PublishTarget: String, Sendable, Hashable, CaseIterable, Codable {
    /// A local outbox folder with JSON sidecars.
    case folder
    /// The Fanvue API.
    case fanvue
}

/// The `publish:` section.
package struct PublishSpec: Sendable, Hashable {
    /// Where to publish.
    package var to: PublishTarget
    /// The outbox folder as written (folder target), if not the default.
    package var outbox: String?
    /// The vault folder name.
    package var vault: String?
    /// Price in US cents.
    package var priceCents: Int?
    /// Tags.
    package var tags: [String]
    /// Caption text as written (the AI disclosure is added when published).
    package var caption: String?
    /// A category for the ledger.
    package var category: String?
    /// The disclosure appended to captions that do not already disclose AI content.
    package var disclosure: String
    /// A feed post of the drop's approved media (fanvue target).
    package var post: PostSpec?
    /// Pay-per-view messages of the drop's approved media to listed fans (fanvue target).
    package var message: MessageSpec?
    /// Whether this drop may send a fan, or post to the feed, a picture that is a near-duplicate of one the fan has
    /// (or of one sold as pay-per-view). The same item is never sent twice either way.
    package var allowSimilar = false

    /// The default AI-content disclosure.
    package static let defaultDisclosure = "#AIgenerated"

    /// Creates a publish section.
    package init(
        to: PublishTarget, outbox: String? = nil, vault: String? = nil, priceCents: Int? = nil, tags: [String] = [],
        caption: String? = nil, category: String? = nil, disclosure: String = PublishSpec.defaultDisclosure,
        post: PostSpec? = nil, message: MessageSpec? = nil
    ) {
        self.post = post
        self.message = message
        self.to = to
        self.outbox = outbox
        self.vault = vault
        self.priceCents = priceCents
        self.tags = tags
        self.caption = caption
        self.category = category
        self.disclosure = disclosure
    }
}

/// `publish.post`: one feed post with the drop's approved media, once every item is decided.
package struct PostSpec: Sendable, Hashable {
    /// `subscribers` or `followers-and-subscribers`.
    package var audience: String
    /// The post's text (default: the caption); the AI disclosure is added when missing.
    package var text: String?
    /// Price in cents for a locked post (at least 300).
    package var priceCents: Int?
    /// Scheduled publication time (ISO 8601 text as written).
    package var at: String?
    /// Post media that were already sent or sold as pay-per-view (refused unless true).
    package var allowPPVItems: Bool

    /// Creates a post spec.
    package init(audience: String, text: String? = nil, priceCents: Int? = nil, at: String? = nil, allowPPVItems: Bool = false) {
        self.audience = audience
        self.text = text
        self.priceCents = priceCents
        self.at = at
        self.allowPPVItems = allowPPVItems
    }
}

/// `publish.message`: the drop's approved media as a pay-per-view message to each listed fan, never twice.
package struct MessageSpec: Sendable, Hashable {
    /// Fan uuids.
    package var to: [String]
    /// The message text (default: the caption).
    package var text: String?
    /// Price in cents (default: the drop's price); at least 300.
    package var priceCents: Int?
    /// Read the fans' chats on Fanvue before sending (default), so sends made by hand count.
    package var reconcile: Bool
    /// When to send (ISO 8601; nil: now): a scheduled mass message.
    package var at: String?

    /// Creates a message spec.
    package init(to: [String], text: String? = nil, priceCents: Int? = nil, reconcile: Bool = true, at: String? = nil) {
        self.to = to
        self.text = text
        self.priceCents = priceCents
        self.reconcile = reconcile
        self.at = at
    }
}

/// Per-file overrides (`items:` entries).
package struct ItemOverride: Sendable, Hashable {
    /// File-name pattern.
    package var match: Glob
    /// Leave matching files out of the drop.
    package var skip: Bool
    /// Crop keys to override.
    package var crop: CropOverride
    /// Price override in cents.
    package var priceCents: Int?
    /// Tags override (replaces the drop's tags).
    package var tags: [String]?
    /// Caption override.
    package var caption: String?
    /// Vault override.
    package var vault: String?
    /// Category override.
    package var category: String?

    /// Creates an override.
    package init(
        match: Glob, skip: Bool = false, crop: CropOverride = CropOverride(), priceCents: Int? = nil,
        tags: [String]? = nil, caption: String? = nil, vault: String? = nil, category: String? = nil
    ) {
        self.match = match
        self.skip = skip
        self.crop = crop
        self.priceCents = priceCents
        self.tags = tags
        self.caption = caption
        self.vault = vault
        self.category = category
    }
}

/// Crop keys an item may override; `nil` keeps the drop's value.
package struct CropOverride: Sendable, Hashable {
    package var strategy: CropStrategy?
    package var fallback: CropFallback?
    package var topFraction: Double?
    package var margin: Double?
    package var aspect: AspectRatio?
    package var minHeight: Int?
    package var format: ImageFormat?
    package var quality: Int?
    package var lipsLine: LipsLine?
    package var markAI: Bool?

    /// No overrides.
    package init() {}

    /// `base` with these overrides applied.
    package func applied(to base: CropSpec) -> CropSpec {
        var spec = base
        if let strategy { spec.strategy = strategy }
        if let fallback { spec.fallback = fallback }
        if let topFraction { spec.topFraction = topFraction }
        if let margin { spec.margin = margin }
        if let aspect { spec.aspect = aspect }
        if let minHeight { spec.minHeight = minHeight }
        if let format { spec.format = format }
        if let quality { spec.quality = quality }
        if let lipsLine { spec.lipsLine = lipsLine }
        if let markAI { spec.markAI = markAI }
        return spec
    }
}
