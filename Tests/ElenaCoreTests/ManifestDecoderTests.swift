import ElenaCore
import Testing

/// A manifest that must be rejected, with the diagnostic the user must see.
struct BadManifest: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var keyPath: String
    var line: Int
    var column: Int
    var message: String
    var hint: String? = nil

    var testDescription: String { name }
}

@Suite struct ManifestDecoderTests {
    /// Every section and key the format knows, with values that differ from the defaults.
    static let full = yaml(
        "version: 1",  // 1
        "drop: drop-03",  // 2
        "library: ~/elena-lib",  // 3
        "source:",  // 4
        "  dir: ~/ComfyUI/output/elena",  // 5
        "  include: [\"*.png\", \"*.jpg\"]",  // 6
        "  exclude: \"*_tmp.png\"",  // 7
        "  recursive: false",  // 8
        "crop:",  // 9
        "  strategy: no_face",  // 10
        "  fallback: keep",  // 11
        "  top_fraction: 0.25",  // 12
        "  margin: 0.05",  // 13
        "  aspect: \"4:5\"",  // 14
        "  min_height: 900",  // 15
        "  format: png",  // 16
        "  quality: 80",  // 17
        "publish:",  // 18
        "  to: fanvue",  // 19
        "  vault: elena-ppv",  // 20
        "  price: 12.00",  // 21
        "  tags: [lingerie, mirror]",  // 22
        "  caption: \"Golden hour, new set\"",  // 23
        "  category: sets",  // 24
        "  disclosure: \"#madewithAI\"",  // 25
        "items:",  // 26
        "  - match: \"ComfyUI_0004*\"",  // 27
        "    crop: {strategy: lips_only, margin: 0.1}",  // 28
        "    price: 20.00",  // 29
        "  - match: \"*_bad.png\"",  // 30
        "    skip: true",  // 31
        "  - match: \"sub/*.png\"",  // 32
        "    tags: [special]",  // 33
        "    caption: other caption",  // 34
        "    vault: elena-free",  // 35
        "    category: teasers"  // 36
    )

    /// The smallest valid manifest, lines 1 to 8; error cases edit it.
    static let minimalLines = [
        "version: 1", "drop: drop-03", "source:", "  dir: ~/in", "crop:", "  strategy: no_face", "publish:", "  to: folder",
    ]

    /// `minimalLines` with line `number` (1-based) replaced by `replacement` (which may hold several lines).
    static func minimal(replacing number: Int, with replacement: [String]) -> String {
        var lines = minimalLines
        lines.replaceSubrange((number - 1)...(number - 1), with: replacement)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `minimalLines` with `extra` lines inserted after line `number`.
    static func minimal(inserting extra: [String], after number: Int) -> String {
        var lines = minimalLines
        lines.insert(contentsOf: extra, at: number)
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Valid manifests

    @Test func fullManifestDecodesEveryField() throws {
        let (manifest, warnings) = try ManifestDecoder.decode(Self.full, file: "pipelines/drop-03.yaml")
        #expect(warnings.isEmpty)
        #expect(manifest.version == 1)
        #expect(manifest.drop == "drop-03")
        #expect(manifest.library == "~/elena-lib")

        #expect(manifest.source.dir == "~/ComfyUI/output/elena")
        #expect(manifest.source.include == ["*.png", "*.jpg"])
        #expect(manifest.source.exclude == ["*_tmp.png"], "a single string is a one-element list")
        #expect(manifest.source.recursive == false)

        let crop = manifest.crop
        #expect(crop.strategy == .noFace)
        #expect(crop.fallback == .keep)
        #expect(crop.topFraction == 0.25)
        #expect(crop.margin == 0.05)
        #expect(crop.aspect == AspectRatio(width: 4, height: 5))
        #expect(crop.minHeight == 900)
        #expect(crop.format == .png)
        #expect(crop.quality == 80)

        let publish = manifest.publish
        #expect(publish.to == .fanvue)
        #expect(publish.vault == "elena-ppv")
        #expect(publish.priceCents == 1200)
        #expect(publish.tags == ["lingerie", "mirror"])
        #expect(publish.caption == "Golden hour, new set")
        #expect(publish.category == "sets")
        #expect(publish.disclosure == "#madewithAI")
        #expect(publish.outbox == nil)

        try #require(manifest.items.count == 3)
        let first = manifest.items[0]
        #expect(first.match.pattern == "ComfyUI_0004*")
        #expect(first.match.caseInsensitive, "item patterns ignore case like include patterns")
        #expect(first.skip == false)
        #expect(first.crop.strategy == .lipsOnly)
        #expect(first.crop.margin == 0.1)
        #expect(first.crop.quality == nil, "keys not written stay nil so the drop's value is kept")
        #expect(first.priceCents == 2000)
        #expect(first.tags == nil)

        #expect(manifest.items[1].match.pattern == "*_bad.png")
        #expect(manifest.items[1].skip)

        let third = manifest.items[2]
        #expect(third.tags == ["special"])
        #expect(third.caption == "other caption")
        #expect(third.vault == "elena-free")
        #expect(third.category == "teasers")
        #expect(third.priceCents == nil)
    }

    @Test func fullManifestRecordsWhereEveryKeyIsWritten() throws {
        let (manifest, _) = try ManifestDecoder.decode(Self.full, file: "pipelines/drop-03.yaml")
        let aspect = try #require(manifest.locations["crop.aspect"])
        #expect(aspect == ElenaCore.SourceLocation(file: "pipelines/drop-03.yaml", line: 14, column: 11))
        #expect(manifest.locations["publish.price"]?.line == 21)
        #expect(manifest.locations["publish.price"]?.column == 10)
        #expect(manifest.locations["items[0].match"]?.line == 27)
        #expect(manifest.locations["items[0].match"]?.column == 12)
        #expect(manifest.locations["items[2].tags[0]"]?.line == 33)
        #expect(manifest.locations["source.include[1]"]?.line == 6)
    }

    @Test func omittedKeysTakeTheirDefaults() throws {
        let text = yaml(
            "version: 1", "drop: drop-03", "source:", "  dir: in", "crop:", "  strategy: lips_only", "  aspect: \"4:5\"",
            "publish:", "  to: folder", "  price: 12.00")
        let (manifest, _) = try ManifestDecoder.decode(text, file: "m.yaml")
        #expect(manifest.source.include == ["*.png", "*.jpg", "*.jpeg", "*.webp"])
        #expect(manifest.source.exclude == [])
        #expect(manifest.source.recursive == true)
        #expect(manifest.library == nil)
        #expect(manifest.crop.strategy == .lipsOnly)
        #expect(manifest.crop.aspect?.width == 4)
        #expect(manifest.crop.aspect?.height == 5)
        #expect(manifest.crop.fallback == .topFraction)
        #expect(manifest.crop.topFraction == 0.30)
        #expect(manifest.crop.margin == 0.02)
        #expect(manifest.crop.format == .jpeg)
        #expect(manifest.crop.quality == 92)
        #expect(manifest.crop.minHeight == nil)
        #expect(manifest.publish.to == .folder)
        #expect(manifest.publish.priceCents == 1200)
        #expect(manifest.publish.vault == nil)
        #expect(manifest.publish.tags == [])
        #expect(manifest.publish.caption == nil)
        #expect(manifest.publish.disclosure == "#AIgenerated")
        #expect(manifest.items.isEmpty)
    }

    @Test func aKeyWithNoValueMeansTheDefault() throws {
        let text = Self.minimal(inserting: ["  margin:", "  quality:"], after: 6)
        let (manifest, _) = try ManifestDecoder.decode(text, file: "m.yaml")
        #expect(manifest.crop.margin == 0.02)
        #expect(manifest.crop.quality == 92)
    }

    @Test(arguments: [
        ("3", 300), ("3.00", 300), ("12.10", 1210), ("19.99", 1999), ("0012.5", 1250), ("10000", 1_000_000),
    ])
    func pricesBecomeWholeCents(written: String, cents: Int) throws {
        let text = Self.minimal(inserting: ["  price: \(written)"], after: 8)
        let (manifest, _) = try ManifestDecoder.decode(text, file: "m.yaml")
        #expect(manifest.publish.priceCents == cents)
    }

    @Test func anIntegerIsAcceptedWhereANumberIsExpected() throws {
        let text = Self.minimal(inserting: ["  margin: 0", "  top_fraction: 0"], after: 6)
        let (manifest, _) = try ManifestDecoder.decode(text, file: "m.yaml")
        #expect(manifest.crop.margin == 0)
        #expect(manifest.crop.topFraction == 0)
    }

    // MARK: - One error each

    static let badManifests: [BadManifest] = [
        BadManifest(
            name: "misspelt key under crop", text: minimal(replacing: 6, with: ["  stratgy: no_face"]),
            keyPath: "crop.stratgy", line: 6, column: 3,
            message:
                "unknown key 'stratgy' in 'crop'; valid keys are strategy, fallback, top_fraction, margin, aspect, min_height, format, quality",
            hint: "did you mean 'strategy'?"),
        BadManifest(
            name: "unknown top-level key", text: minimal(inserting: ["colour: red"], after: 2),
            keyPath: "colour", line: 3, column: 1,
            message: "unknown key 'colour' at the top level; valid keys are version, drop, library, source, generate, crop, persona, publish, items"),
        BadManifest(
            name: "misspelt top-level key", text: minimal(inserting: ["librari: ~/lib"], after: 2),
            keyPath: "librari", line: 3, column: 1, message: "unknown key 'librari' at the top level",
            hint: "did you mean 'library'?"),
        BadManifest(
            name: "text where a number is expected", text: minimal(inserting: ["  margin: abc"], after: 6),
            keyPath: "crop.margin", line: 7, column: 11, message: "'crop.margin' must be a number, found 'abc'"),
        BadManifest(
            name: "a scalar where a list is expected", text: minimal(inserting: ["  tags: lingerie"], after: 8),
            keyPath: "publish.tags", line: 9, column: 9, message: "'publish.tags' must be a list, found 'lingerie'"),
        BadManifest(
            name: "a number where a mapping is expected", text: yaml(
                "version: 1", "drop: drop-03", "source: 3", "crop:", "  strategy: no_face", "publish:", "  to: folder"),
            keyPath: "source", line: 3, column: 9, message: "'source' must be a mapping of keys, found '3'"),
        BadManifest(
            name: "a list where a string is expected", text: minimal(replacing: 2, with: ["drop: [a, b]"]),
            keyPath: "drop", line: 2, column: 7, message: "'drop' must be a string, found a list"),
        BadManifest(
            name: "text where true or false is expected", text: minimal(inserting: ["  recursive: maybe"], after: 4),
            keyPath: "source.recursive", line: 5, column: 14,
            message: "'source.recursive' must be true or false, found 'maybe'"),
        BadManifest(
            name: "a decimal where a whole number is expected", text: minimal(inserting: ["  quality: 92.5"], after: 6),
            keyPath: "crop.quality", line: 7, column: 12, message: "'crop.quality' must be a whole number, found '92.5'"),
        BadManifest(
            name: "bad enum value", text: minimal(replacing: 6, with: ["  strategy: no_fase"]),
            keyPath: "crop.strategy", line: 6, column: 13,
            message: "'crop.strategy' must be 'no_face', 'lips_only', 'keep', 'top_fraction' or 'auto', not 'no_fase'",
            hint: "did you mean 'no_face'?"),
        BadManifest(
            name: "bad publish target", text: minimal(replacing: 8, with: ["  to: fanveu"]),
            keyPath: "publish.to", line: 8, column: 7, message: "'publish.to' must be 'folder' or 'fanvue', not 'fanveu'",
            hint: "did you mean 'fanvue'?"),
        BadManifest(
            name: "top_fraction above its exclusive maximum", text: minimal(inserting: ["  top_fraction: 1.5"], after: 6),
            keyPath: "crop.top_fraction", line: 7, column: 17, message: "'crop.top_fraction' is 1.5; it must be less than 0.95"),
        BadManifest(
            name: "top_fraction exactly at its exclusive maximum",
            text: minimal(inserting: ["  top_fraction: 0.95"], after: 6), keyPath: "crop.top_fraction", line: 7,
            column: 17, message: "'crop.top_fraction' is 0.95; it must be less than 0.95"),
        BadManifest(
            name: "quality zero", text: minimal(inserting: ["  quality: 0"], after: 6),
            keyPath: "crop.quality", line: 7, column: 12, message: "'crop.quality' is 0, below the minimum of 1"),
        BadManifest(
            name: "quality above 100", text: minimal(inserting: ["  quality: 101"], after: 6),
            keyPath: "crop.quality", line: 7, column: 12, message: "'crop.quality' is 101; it must be at most 100"),
        BadManifest(
            name: "negative margin", text: minimal(inserting: ["  margin: -0.1"], after: 6),
            keyPath: "crop.margin", line: 7, column: 11, message: "'crop.margin' is -0.1, below the minimum of 0"),
        BadManifest(
            name: "version 2", text: minimal(replacing: 1, with: ["version: 2"]),
            keyPath: "version", line: 1, column: 10, message: "'version' is 2; it must be at most 1"),
        BadManifest(
            name: "price below Fanvue's minimum", text: minimal(inserting: ["  price: 2.50"], after: 8),
            keyPath: "publish.price", line: 9, column: 10,
            message: "'publish.price' is 2.50, below the minimum of 3 (Fanvue's minimum price is 3.00 USD)"),
        BadManifest(
            name: "item price below Fanvue's minimum",
            text: minimal(inserting: ["items:", "  - match: \"a*\"", "    price: 1"], after: 8),
            keyPath: "items[0].price", line: 11, column: 12,
            message: "'items[0].price' is 1, below the minimum of 3 (Fanvue's minimum price is 3.00 USD)"),
        BadManifest(
            name: "price with three decimals", text: minimal(inserting: ["  price: 12.345"], after: 8),
            keyPath: "publish.price", line: 9, column: 10, message: "'publish.price' has more than two decimals (12.345)"),
        BadManifest(
            name: "item price with three decimals",
            text: minimal(inserting: ["items:", "  - match: \"a*\"", "    price: 4.999"], after: 8),
            keyPath: "items[0].price", line: 11, column: 12,
            message: "'items[0].price' has more than two decimals (4.999)"),
        BadManifest(
            name: "aspect that is not a ratio", text: minimal(inserting: ["  aspect: 4x5"], after: 6),
            keyPath: "crop.aspect", line: 7, column: 11, message: "'crop.aspect' must be a ratio like 4:5, not '4x5'"),
        BadManifest(
            name: "drop name with a space", text: minimal(replacing: 2, with: ["drop: \"drop 03\""]),
            keyPath: "drop", line: 2, column: 7,
            message:
                "'drop' must be a name of letters, digits, '.', '_' or '-' (at most 64), like drop-03, not 'drop 03'"),
        BadManifest(
            name: "the same tag twice", text: minimal(inserting: ["  tags: [lingerie, lingerie]"], after: 8),
            keyPath: "publish.tags[1]", line: 9, column: 20, message: "'publish.tags' lists 'lingerie' twice"),
        BadManifest(
            name: "missing drop", text: minimal(replacing: 2, with: []),
            keyPath: "drop", line: 1, column: 1,
            message: "missing required key 'drop': the drop's name, used for folders and in the ledger"),
        BadManifest(
            name: "missing source.dir", text: minimal(replacing: 4, with: ["  recursive: true"]),
            keyPath: "source.dir", line: 3, column: 1, message: "missing required key 'source.dir'"),
        BadManifest(
            name: "missing crop.strategy", text: minimal(replacing: 6, with: ["  margin: 0.1"]),
            keyPath: "crop.strategy", line: 5, column: 1, message: "missing required key 'crop.strategy'"),
        BadManifest(
            name: "missing publish.to", text: minimal(replacing: 8, with: ["  vault: elena-ppv"]),
            keyPath: "publish.to", line: 7, column: 1,
            message: "missing required key 'publish.to': folder (a local outbox) or fanvue"),
        BadManifest(
            name: "missing item match", text: minimal(inserting: ["items:", "  - skip: true"], after: 8),
            keyPath: "items[0].match", line: 10, column: 5, message: "missing required key 'items[0].match'"),
        BadManifest(
            name: "required section left empty", text: minimal(replacing: 6, with: []),
            keyPath: "crop", line: 5, column: 6, message: "'crop' must be a mapping of keys, found nothing (null)"),
        BadManifest(
            name: "fanvue without a vault", text: minimal(replacing: 8, with: ["  to: fanvue"]),
            keyPath: "publish.vault", line: 7, column: 1,
            message: "'publish.vault' is required when publishing to fanvue: name the vault folder"),
        BadManifest(
            name: "a feed post and a PPV message of the same items",
            text: minimal(
                replacing: 8,
                with: [
                    "  to: fanvue", "  vault: v", "  post: {audience: subscribers}",
                    "  message: {to: [7c1b1c1e-1111-4aaa-8bbb-000000000001]}",
                ]),
            keyPath: "publish.post", line: 10, column: 3,
            message:
                "'publish.post' and 'publish.message' would post to the feed the items this drop sells as pay-per-view; "
                + "set 'publish.post.allow_ppv_items: true' to do both, or use two drops"),
        BadManifest(
            // Found by the manifest fuzzer (seed 876583): a bare tag reads as an empty audience.
            name: "a priced post whose audience is a bare YAML tag",
            text: minimal(
                replacing: 8, with: ["  to: fanvue", "  vault: v", "  post: {audience: !subscribers, price: 15.00}"]),
            keyPath: "publish.post.audience", line: 10, column: 10,
            message: "'publish.post.audience' is required: name who sees the post"),
        BadManifest(
            name: "a list instead of a mapping at the top", text: yaml("- version: 1", "- drop: d"),
            keyPath: "", line: 1, column: 1, message: "the manifest must be a mapping of keys, found a list"),
        BadManifest(
            name: "YAML with a tab for indentation", text: minimal(replacing: 4, with: ["\tdir: ~/in"]),
            keyPath: "", line: 4, column: 1, message: "invalid YAML: found character that cannot start any token",
            hint: "a value starting with @, ` or a tab must be quoted, and indentation uses spaces"),
        BadManifest(
            name: "YAML with an unclosed flow list", text: minimal(inserting: ["  tags: [lingerie, mirror"], after: 8),
            keyPath: "", line: 10, column: 1, message: "invalid YAML: did not find expected ',' or ']'",
            hint: "inside { } or [ ], a value holding ':' or ',' must be quoted, e.g. {caption: \"New: set\"}"),
    ]

    @Test(arguments: badManifests)
    func rejects(_ bad: BadManifest) throws {
        let error = try #require(throws: ManifestError.self) {
            try ManifestDecoder.decode(bad.text, file: "drop.yaml")
        }
        #expect(error.source == bad.text)
        #expect(error.diagnostics.allSatisfy { $0.severity == .error })
        let found = error.diagnostics.first { $0.keyPath == bad.keyPath }
        let diagnostic = try #require(found, "no diagnostic for '\(bad.keyPath)' in:\n\(error)")
        #expect(diagnostic.message.hasPrefix(bad.message), "\(diagnostic.message)")
        #expect(diagnostic.location?.file == "drop.yaml")
        #expect(diagnostic.location?.line == bad.line, "\(diagnostic)")
        #expect(diagnostic.location?.column == bad.column, "\(diagnostic)")
        #expect(diagnostic.hint == bad.hint)
        #expect(error.description.contains("drop.yaml:\(bad.line):\(bad.column): error: \(bad.message)"))
    }

    @Test(arguments: ["", "   \n\n", "# only a comment\n", "\t\n"])
    func emptyFilesAreReportedAsEmpty(text: String) throws {
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "empty.yaml") }
        try #require(error.diagnostics.count == 1)
        let diagnostic = error.diagnostics[0]
        #expect(diagnostic.message == "the manifest is empty")
        #expect(diagnostic.location == ElenaCore.SourceLocation(file: "empty.yaml", line: 1, column: 1))
        #expect(diagnostic.keyPath == "")
    }

    @Test func aDocumentWithOnlyASeparatorIsANullManifest() throws {
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode("---\n", file: "empty.yaml") }
        try #require(error.diagnostics.count == 1)
        #expect(error.diagnostics[0].message == "the manifest must be a mapping of keys, found nothing (null)")
        #expect(error.diagnostics[0].location?.line == 2)
    }

    /// A misspelt required key is one error, which names the key meant; the required key is not reported missing
    /// as well (it was: two errors for one typo). A required key missing with no near miss is still an error.
    @Test func aMisspeltRequiredKeyIsOneErrorThatNamesIt() throws {
        let text = Self.minimal(replacing: 6, with: ["  stratgy: no_face"])
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        #expect(error.diagnostics.map(\.keyPath) == ["crop.stratgy"])
        #expect(error.description.contains("(did you mean 'strategy'?)"), "\(error)")
        let missing = Self.minimal(replacing: 6, with: ["  colour: red"])
        let both = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(missing, file: "drop.yaml") }
        #expect(Set(both.diagnostics.map(\.keyPath)) == ["crop.colour", "crop.strategy"])
    }

    @Test func duplicateKeyPointsAtTheSecondOccurrence() throws {
        let text = Self.minimal(inserting: ["drop: drop-04"], after: 2)
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.keyPath == "drop")
        #expect(diagnostic.location?.line == 3)
        #expect(diagnostic.location?.column == 1)
        #expect(diagnostic.message == "'drop' is given twice (first at line 2)")
        // What holds today and must keep holding: it is an error, and it names the key.
        #expect(error.diagnostics.count == 1)
        #expect(error.description.contains("'drop'"))
    }

    @Test func duplicateNestedKeyPointsAtTheSecondOccurrence() throws {
        let text = Self.minimal(inserting: ["  margin: 0.1", "  margin: 0.2"], after: 6)
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.keyPath == "crop.margin")
        #expect(diagnostic.location?.line == 8)
        #expect(diagnostic.location?.column == 3)
        #expect(diagnostic.message == "'crop.margin' is given twice (first at line 7)")
    }

    /// Found by the manifest fuzzer: lines broken by a lone carriage return (old Mac style), which YAML counts as
    /// line breaks, put the duplicate past the last "\n" line and crashed the search for it.
    @Test func duplicateKeyInCarriageReturnTextIsLocatedNotACrash() throws {
        let text = Self.minimal(inserting: ["drop: drop-04"], after: 2).split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r")
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.keyPath == "drop")
        #expect(diagnostic.location?.line == 3)
    }

    // MARK: - Several errors at once

    @Test func everySchemaErrorIsReportedSortedByLine() throws {
        let text = yaml(
            "version: 1",  // 1
            "drop: drop-03",  // 2
            "source:",  // 3
            "  dir: ~/in",  // 4
            "  recursive: maybe",  // 5
            "crop:",  // 6  (strategy missing)
            "  margin: abc",  // 7
            "  qualty: 90",  // 8
            "publish:",  // 9
            "  to: folder",  // 10
            "  price: 1",  // 11
            "extra: 1"  // 12
        )
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        let found = error.diagnostics.map { "\($0.location?.line ?? 0):\($0.keyPath)" }
        #expect(
            found == [
                "5:source.recursive", "6:crop.strategy", "7:crop.margin", "8:crop.qualty", "11:publish.price", "12:extra",
            ])
        let qualty = try #require(error.diagnostics.first { $0.keyPath == "crop.qualty" })
        #expect(qualty.hint == "did you mean 'quality'?")
        let positions = error.diagnostics.compactMap { $0.location.map { ($0.line, $0.column) } }
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(error.description.split(separator: "\n").filter { $0.hasPrefix("drop.yaml:") }.count == 6)
    }

    @Test func laterChecksAreSortedByLineToo() throws {
        // The vault rule points at `publish:` (line 7), the decimals rule at `price:` (line 9).
        let text = Self.minimal(replacing: 8, with: ["  to: fanvue", "  price: 12.345"])
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        #expect(Set(error.diagnostics.map(\.keyPath)) == ["publish.vault", "publish.price"])
        #expect(error.diagnostics.map(\.keyPath) == ["publish.vault", "publish.price"])
    }

    @Test func laterChecksRunEvenWhenTheSchemaFoundErrors() throws {
        let text = Self.minimal(replacing: 8, with: ["  to: fanvue", "  caption: hi", "  colour: red"])
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "drop.yaml") }
        #expect(error.diagnostics.contains { $0.keyPath == "publish.colour" })
        #expect(error.diagnostics.contains { $0.keyPath == "publish.vault" })
    }
}
