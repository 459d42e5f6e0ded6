package import ElenaCore
package import ElenaEngine
import Foundation

/// What the ledger's `items` row says about an item is derived from the run's node states, whichever way each node
/// finished: ran now or a cache hit. A stage that wrote the row only when it ran left the row behind whenever a
/// manifest flipped back to settings whose outputs were cached (the review page and `status` then showed an older
/// crop, and approvals made on it were discarded). This is the one place the crop, review and publish outcomes
/// reach the row; the session applies it after every run that is not a dry run.
package enum ItemProjection {
    /// The fields of an item row that follow from one run.
    package struct Fields: Sendable, Hashable {
        package var croppedName: String?
        package var croppedDigest: Digest?
        package var flags: [String]?
        package var status: ItemStatus?
        package var publish: ItemPublish?
        package var caption: String?
        /// The fingerprints' texts as the ledger keeps them (read from a cached step's summary without parsing it all).
        package var fingerprints: (picture: String, crop: String?)?

        package static func == (lhs: Fields, rhs: Fields) -> Bool {
            lhs.croppedName == rhs.croppedName && lhs.croppedDigest == rhs.croppedDigest && lhs.flags == rhs.flags
                && lhs.status == rhs.status && lhs.publish == rhs.publish && lhs.caption == rhs.caption
                && lhs.fingerprints?.picture == rhs.fingerprints?.picture && lhs.fingerprints?.crop == rhs.fingerprints?.crop
        }

        package func hash(into hasher: inout Hasher) {
            hasher.combine(croppedDigest)
            hasher.combine(fingerprints?.picture)
        }
    }

    /// What the run says about item `index` (nil fields: the run settled nothing about them).
    package static func fields(
        of plan: DropPlan, states: some NodeStateLookup, item index: Int, captions: inout [String?: String]
    ) -> Fields {
        let item = plan.items[index]
        var fields = Fields()
        if case let output? = states[NodeID(.ingest, item: index)]?.output, output.digest == item.id {
            fields.publish = item.publish
            // Most items share the drop's caption: the disclosure is added to each caption once.
            if let known = captions[item.publish.caption] {
                fields.caption = known
            } else {
                let caption = Disclosure.apply(item.publish.caption, disclosure: plan.manifest.publish.disclosure)
                captions[item.publish.caption] = caption
                fields.caption = caption
            }
        }
        fields.fingerprints = states[NodeID(.fingerprint, item: index)]?.output.flatMap(FingerprintStage.texts(of:))
        guard let crop = states[NodeID(.crop, item: index)]?.output, let path = crop.artifactPath else {
            return fields
        }
        fields.croppedName = PathText.lastComponent(path)
        fields.croppedDigest = crop.digest
        fields.flags = cropFlags(crop)
        let publication: StageName = plan.manifest.publish.to == .fanvue ? .upload : .publish
        switch states[NodeID(.review, item: index)] {
        case .waiting?, .planned?: fields.status = .inReview
        case .skipped?: fields.status = .rejected
        case .ran?, .cached?:
            fields.status = states[NodeID(publication, item: index)]?.output != nil ? .published : .approved
        default: break
        }
        return fields
    }

    /// The flags a crop's recorded decision carries.
    static func cropFlags(_ output: NodeOutput) -> [String] {
        CropDecision.recordedFlags(in: output.summary)
    }

    /// The flags an item waiting for review has without `near_duplicate`, and the flags its row holds: whether it
    /// looks like a picture already decided is known only once the whole run is settled.
    package struct WaitingFlags: Sendable {
        /// The item's index in the plan, and its id.
        package var item: Int
        package var id: Digest
        package var flags: [String]
        package var stored: [String]?
    }

    /// What a run projects onto one item's row.
    package struct Projected: Sendable {
        /// The item's index in the plan.
        package var index: Int
        package var fields: Fields
        /// Whether the item waits for review (its flags are settled once the whole run is).
        package var waiting: Bool

        /// What is left to settle of a waiting item's flags: those the run gives it, and `stored`, those its row
        /// holds. Nil for an item that does not wait for review, or whose crop the run did not settle: its flags
        /// are compared at once.
        package func waitingFlags(id: Digest, stored: [String]?) -> WaitingFlags? {
            guard waiting, let flags = fields.flags else { return nil }
            return WaitingFlags(item: index, id: id, flags: flags, stored: stored)
        }
    }

    /// What the run projects onto each of `items` (the plan's indices), in their order.
    package static func projected(_ plan: DropPlan, states: some NodeStateLookup, items: Range<Int>) -> [Projected] {
        var captions: [String?: String] = [:]
        return items.map { index in
            let waiting: Bool
            if case .waiting? = states[NodeID(.review, item: index)] { waiting = true } else { waiting = false }
            return Projected(index: index, fields: fields(of: plan, states: states, item: index, captions: &captions), waiting: waiting)
        }
    }

    /// A digest of the items and everything `updates` compares their rows with: two parts with the same digest, compared
    /// with the same rows, give the same changes. Each value is marked present or absent, then laid out as
    /// `DigestParts` says.
    package static func digest(_ plan: DropPlan, _ projected: [Projected]) -> Digest {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + projected.count * 512)
        func add(_ text: String?) {
            guard let text else { return bytes.append(0) }
            bytes.append(1)
            DigestParts.append(text, to: &bytes)
        }
        func add(_ digest: Digest?) {
            guard let digest else { return bytes.append(0) }
            bytes.append(1)
            digest.append(to: &bytes)
        }
        func add(_ list: [String]?) {
            guard let list else { return bytes.append(0) }
            bytes.append(1)
            DigestParts.append(count: list.count, to: &bytes)
            for text in list { add(text) }
        }
        add("elena-run/item-rows/1")
        for entry in projected {
            let fields = entry.fields
            add(plan.items[entry.index].id)
            bytes.append(entry.waiting ? 1 : 0)
            add(fields.croppedName)
            add(fields.croppedDigest)
            add(fields.flags)
            add(fields.status?.rawValue)
            if let publish = fields.publish {
                bytes.append(1)
                add(publish.vault)
                add(publish.category)
                add(publish.tags)
                add(publish.priceCents.map { String($0) })
                add(publish.caption)
            } else {
                bytes.append(0)
            }
            add(fields.caption)
            add(fields.fingerprints?.picture)
            add(fields.fingerprints?.crop)
        }
        var builder = DigestBuilder()
        bytes.withUnsafeBytes { builder.update($0) }
        return builder.finalize()
    }

    /// The changes that bring the rows in line with the run: only fields that differ, only items that need any.
    /// - Parameter projected: what the run projects onto some of the plan's items (`projected(_:states:items:)`).
    /// - Parameter rows: their rows as stored.
    /// - Returns: the changes, and the flags of the items waiting for review: whether one shows a picture already
    ///   approved or published (flagged `near_duplicate`) is known once the whole run is settled, so their flags
    ///   are left out of the changes and handed back for `flagUpdates`.
    package static func updates(
        _ plan: DropPlan, _ projected: [Projected], rows: [Digest: ItemRowFields]
    ) -> (updates: [(Digest, ItemUpdate)], waiting: [WaitingFlags]) {
        var updates: [(Digest, ItemUpdate)] = []
        var waiting: [WaitingFlags] = []
        for entry in projected {
            let index = entry.index
            let id = plan.items[index].id
            guard let row = rows[id] else { continue }
            let fields = entry.fields
            var update = ItemUpdate()
            var changed = false
            if let name = fields.croppedName, name != row.croppedName { update.croppedName = name; changed = true }
            if let digest = fields.croppedDigest, digest != row.croppedDigest { update.croppedDigest = digest; changed = true }
            if let flags = entry.waitingFlags(id: id, stored: row.flags) {
                waiting.append(flags)
            } else if let flags = fields.flags, flags != row.flags {
                update.flags = flags
                changed = true
            }
            if let status = fields.status, status != row.status { update.status = status; changed = true }
            if let publish = fields.publish {
                // An update can set a column but not clear it: a value the manifest no longer names stays.
                if let vault = publish.vault, vault != row.vault { update.vault = vault; changed = true }
                if let category = publish.category, category != row.category { update.category = category; changed = true }
                if publish.tags != row.tags { update.tags = publish.tags; changed = true }
                if let price = publish.priceCents, price != row.priceCents { update.priceCents = price; changed = true }
                if let caption = fields.caption, caption != row.description { update.description = caption; changed = true }
            }
            if let texts = fields.fingerprints, texts.picture != row.fingerprint || texts.crop != row.cropFingerprint,
                let picture = PictureFingerprint(text: texts.picture)
            {
                update.fingerprints = ItemFingerprints(picture: picture, crop: texts.crop.flatMap(PictureFingerprint.init(text:)))
                changed = true
            }
            if fields.croppedDigest != nil, row.error != nil { update.error = .some(nil); changed = true }
            if changed { updates.append((id, update)) }
        }
        return (updates, waiting)
    }

    /// The flag changes of items that waited for review, once the lookalikes among them are known.
    package static func flagUpdates(_ waiting: [WaitingFlags], lookalikes: Set<Digest>) -> [(Digest, ItemUpdate)] {
        waiting.compactMap { entry in
            let flags = entry.flags + (lookalikes.contains(entry.id) ? [CropFlag.nearDuplicate.rawValue] : [])
            guard flags != entry.stored else { return nil }
            var update = ItemUpdate()
            update.flags = flags
            return (entry.id, update)
        }
    }
}
