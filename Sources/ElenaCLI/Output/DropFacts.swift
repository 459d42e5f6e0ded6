import ElenaCore
import ElenaEngine
import Foundation

/// What a run (or a dry run, or `status`) says about a drop in words: decisions, flags, failures. Computed once
/// from the report, so the text and the JSON say the same thing.
struct DropFacts {
    /// Items by where they stand in review, by source file.
    var approved: [String] = []
    var published: [String] = []
    var rejected: [String] = []
    /// A review copy waits in `3_review/` now.
    var waiting: [String] = []
    /// Dry run: the crop is still to be made, and will then wait for review.
    var toReview: [String] = []
    /// Crop flags (human recrops excepted) with the files that carry them, most common first.
    var flags: [(flag: String, files: [String])] = []
    /// Items recropped by hand.
    var byHand: [String] = []
    /// Failed nodes: the file (or the drop), the stage and why.
    var failures: [(subject: String, stage: String, message: String)] = []

    init(_ report: RunReport) {
        let plan = report.plan
        let publication: StageName = plan.manifest.publish.to == .fanvue ? .upload : .publish
        var flagged: [String: [String]] = [:]
        for index in plan.items.indices {
            let name = plan.items[index].source.relativePath
            let cropState = report.states[NodeID(.crop, item: index)]
            if let crop = cropState?.output {
                for flag in CropDecision.recordedFlags(in: crop.summary) {
                    if flag == CropFlag.humanOverride.rawValue { byHand.append(name) } else { flagged[flag, default: []].append(name) }
                }
            }
            switch report.states[NodeID(.review, item: index)] {
            case .ran?, .cached?:
                if report.states[NodeID(publication, item: index)]?.output != nil { published.append(name) } else { approved.append(name) }
            case .skipped?: rejected.append(name)
            case .waiting?:
                if case .planned? = cropState { toReview.append(name) } else { waiting.append(name) }
            default: break
            }
        }
        flags = flagged.map { ($0.key, $0.value) }.sorted { $0.files.count != $1.files.count ? $0.files.count > $1.files.count : $0.flag < $1.flag }
        failures = report.failures.map { (plan.subject($0.node), $0.node.stage.rawValue, $0.message) }
    }

    /// Files named in a sentence: the first few, then a count.
    static func names(_ files: [String], limit: Int = 4) -> String {
        let shown = files.prefix(limit).joined(separator: ", ")
        return files.count > limit ? "\(shown) and \(files.count - limit) more" : shown
    }

    /// `no_face_found` → `no face found`.
    static func words(_ flag: String) -> String { flag.replacingOccurrences(of: "_", with: " ") }

    /// "3 flagged: 2 no face found (a.png, b.png), 1 small crop (c.png)", or nil when nothing is.
    var flagLine: String? {
        guard !flags.isEmpty else { return nil }
        let items = Set(flags.flatMap(\.files)).count
        let parts = flags.map { "\($0.files.count) \(Self.words($0.flag)) (\(Self.names($0.files)))" }
        return "\(items) flagged for a closer look in review: " + parts.joined(separator: ", ")
    }

    /// The review stage in words: "1 published, 2 approved, 1 rejected, 4 waiting".
    func reviewWords(blocked: Int) -> String {
        var parts: [String] = []
        if !published.isEmpty { parts.append("\(published.count) published") }
        if !approved.isEmpty { parts.append("\(approved.count) approved") }
        if !rejected.isEmpty { parts.append("\(rejected.count) rejected") }
        if !waiting.isEmpty { parts.append("\(waiting.count) waiting") }
        if !toReview.isEmpty { parts.append("\(toReview.count) to review once cropped") }
        if blocked > 0 { parts.append("\(blocked) not cropped") }
        return parts.isEmpty ? "nothing to review" : parts.joined(separator: ", ")
    }

    var json: JSONValue {
        func list(_ files: [String]) -> JSONValue { .array(files.map(JSONValue.string)) }
        return .object([
            "published": list(published),
            "approved": list(approved),
            "rejected": list(rejected),
            "waiting": list(waiting),
            "to_review_once_cropped": list(toReview),
            "recropped_by_hand": list(byHand),
        ])
    }

    var flagsJSON: JSONValue {
        .object(flags.map { JSONValue.Member($0.flag, .array($0.files.map(JSONValue.string))) })
    }
}
