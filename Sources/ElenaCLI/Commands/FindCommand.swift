internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaStore
import ElenaVision
import Foundation

/// `elena-run find <image>`: where a copy of a picture comes from (a screenshot of a leak, a file sent back, a
/// download from Fanvue), and every fan who received it or a near-duplicate of it.
struct FindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Name the item a picture comes from and every fan who received it (or a near-duplicate of it).",
        discussion: """
            The picture is compared by what it looks like, not by its bytes: a resized, re-encoded, slightly \
            cropped, captioned or mirrored copy, or a screenshot of it, is found within the limits the README's \
            near-duplicates table states. Nothing leaves the machine; no Fanvue call is made (the ledger says who \
            received what, including sends found by `reconcile`).

            Examples:
              elena-run find ~/Downloads/leak.jpg
              elena-run find screenshot.png --json
            """)

    @Argument(help: ArgumentHelp("The picture to look for (PNG, JPEG, WebP…).", valueName: "image"))
    var image: String

    @Flag(name: .long, help: "Print the answer as JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func run() async throws {
        let copy = try Self.fingerprints(of: image)
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: true)
        let answer: Answer
        do {
            answer = try await Self.find(copy, in: store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        print(json ? answer.json.serialized() : answer.text(image: image))
        if answer.matches.isEmpty { throw ExitCode(1) }
    }

    /// The picture's fingerprints, as it is and mirrored.
    static func fingerprints(of path: String) throws -> [PictureFingerprint] {
        let data: Data
        do {
            data = try FileSystem.read(PathText.resolve(path, relativeTo: FileManager.default.currentDirectoryPath, home: Wiring.home))
        } catch {
            throw CLIError.failure("cannot read \(path): \(error)")
        }
        do {
            return try NearDuplicates.fingerprints(of: data, codec: OpenCVCodec(), mirrored: true)
        } catch let error as ImageHeaderError {
            throw CLIError.failure("\(path): \(error.description)")
        } catch let error as ImageCodecError {
            throw CLIError.failure("\(path): cannot decode the image: \(error.message)")
        }
    }

    /// One item the picture is a copy of.
    struct Match {
        var item: ItemRecord
        var distance: Int
        var sends: [SendRecord]
    }

    /// What `find` found.
    struct Answer {
        var matches: [Match]
        /// The nearest item when none is near enough, with its distance.
        var nearest: (item: ItemRecord, distance: Int)?
        var fans: [String: FanRecord]

        func text(image: String) -> String {
            guard let best = matches.first else {
                let closest = nearest.map {
                    " (the closest, \($0.item.originalName) in drop \($0.item.drop), is \($0.distance) bits away in structure)"
                } ?? ""
                return "\(image): no item of the library shows this picture\(closest); two copies of one picture are at most "
                    + "\(NearDuplicates.threshold) of \(NearDuplicates.kind.bits) bits apart"
            }
            var lines = ["\(image) is \(describe(best))"]
            for other in matches.dropFirst() { lines.append("  also near: \(describe(other))") }
            let sends = matches.flatMap { match in match.sends.map { (match.item, $0) } }.sorted { $0.1.sentAt < $1.1.sentAt }
            if sends.isEmpty {
                lines.append("No fan has received it or a near-duplicate of it.")
            } else {
                let count = Set(sends.map(\.1.fan)).count
                lines.append("Received by \(count) fan\(count == 1 ? "" : "s"):")
                for (item, send) in sends {
                    lines.append("  \(fanName(send.fan)): \(item.originalName), \(how(send))")
                }
            }
            return lines.joined(separator: "\n")
        }

        func describe(_ match: Match) -> String {
            let item = match.item
            return "\(item.originalName) (item \(item.id.hex.prefix(12))) in drop \(item.drop), \(item.status.rawValue): "
                + "\(match.distance) of \(NearDuplicates.kind.bits) bits from it"
                + (match.distance == 0 ? " (the same picture)" : " (a near-duplicate)")
        }

        func fanName(_ uuid: String) -> String {
            guard let fan = fans[uuid] else { return "fan \(uuid)" }
            if let handle = fan.handle { return "@\(handle) (\(uuid))" }
            return fan.displayName.map { "\($0) (\(uuid))" } ?? "fan \(uuid)"
        }

        /// How and when a send happened: "sent by drop drop-03 on 2026-11-02, pay-per-view $12.00, bought".
        func how(_ send: SendRecord) -> String {
            var text = Sender.reason(send)
            if text.hasPrefix("had it: ") { text.removeFirst("had it: ".count) }
            if let price = send.priceCents { text += ", pay-per-view \(Money.describe(price))" }
            if send.purchasedAt != nil { text += ", bought" }
            return text
        }

        var json: JSONValue {
            .object([
                "threshold_bits": .int(NearDuplicates.threshold),
                "matches": .array(
                    matches.map { match in
                        .object([
                            "item": .string(match.item.id.hex), "name": .string(match.item.originalName),
                            "drop": .string(match.item.drop), "status": .string(match.item.status.rawValue),
                            "distance_bits": .int(match.distance),
                            "sends": .array(
                                match.sends.map { send in
                                    .object([
                                        "fan": .string(send.fan), "handle": fans[send.fan]?.handle.map(JSONValue.string) ?? .null,
                                        "via": send.via.map(JSONValue.string) ?? .null,
                                        "sent_at": .string(Timestamp.format(send.sentAt)),
                                        "price_cents": send.priceCents.map { .int($0) } ?? .null,
                                        "purchased": .bool(send.purchasedAt != nil), "how": .string(how(send)),
                                    ])
                                }),
                        ])
                    }),
            ])
        }
    }

    /// Every item within the threshold of the copy (nearest first), and the sends of each.
    static func find(_ copy: [PictureFingerprint], in store: any RunStore) async throws -> Answer {
        let library = try await store.fingerprints(items: nil).map { (id: $0.key, prints: $0.value) }
        let near = NearDuplicates.nearest(to: copy, in: library).map { ($0.id, $0.distance) }
        // Nothing near: the closest by structure alone, to say how far the library is.
        var nearest: (Digest, Int)?
        if near.isEmpty {
            for (id, prints) in library {
                let bits = copy.flatMap { print in
                    [prints.picture.structure.distance(to: print.structure), prints.crop?.structure.distance(to: print.structure)]
                }.compactMap { $0 }.min()
                if let bits, nearest.map({ bits < $0.1 }) ?? true { nearest = (id, bits) }
            }
        }
        let sends = Dictionary(grouping: try await store.sends(items: near.map(\.0)), by: \.itemID)
        var matches: [Match] = []
        for (id, distance) in near {
            guard let item = try await store.item(idPrefix: id.hex).first else { continue }
            matches.append(Match(item: item, distance: distance, sends: sends[id, default: []].sorted { $0.sentAt < $1.sentAt }))
        }
        // Nearest first; between equally near copies, the one that went furthest (published, then approved…).
        let rank: [ItemStatus: Int] = [.published: 0, .approved: 1, .inReview: 2, .cropped: 3, .ingested: 4, .rejected: 5, .failed: 6]
        matches.sort {
            ($0.distance, rank[$0.item.status] ?? 9, $0.item.originalName) < ($1.distance, rank[$1.item.status] ?? 9, $1.item.originalName)
        }
        var answer = Answer(matches: matches, nearest: nil, fans: [:])
        if matches.isEmpty, let (id, distance) = nearest, let item = try await store.item(idPrefix: id.hex).first {
            answer.nearest = (item, distance)
        }
        if !matches.isEmpty {
            answer.fans = Dictionary(try await store.fans(account: nil).map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
        }
        return answer
    }
}
