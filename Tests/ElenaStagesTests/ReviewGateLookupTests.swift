import ElenaCore
import ElenaStages
import Foundation
import Testing

/// The review gate finds an item's records (every crop version of it) among the drop's, whatever order they were
/// read in, and none for an item without any: before, after and between the others.
@Suite struct ReviewGateLookupTests {
    @Test func eachItemGetsExactlyItsOwnRecords() {
        var generator = SystemRandomNumberGenerator()
        let items = (0..<40).map { Digest.of("item \($0)") }
        var records: [ReviewRecord] = []
        var expected: [Digest: Set<Digest>] = [:]
        // Every other item has records: one to four crop versions each.
        for (index, item) in items.enumerated() where index % 2 == 0 {
            for version in 0..<(1 + index % 4) {
                let crop = Digest.of("crop \(index) \(version)")
                records.append(
                    ReviewRecord(
                        itemID: item, cropDigest: crop, drop: "d", decision: .pending, fileName: "f\(index).\(version).jpg",
                        folder: .review, decidedBy: nil, decidedAt: nil))
                expected[item, default: []].insert(crop)
            }
        }
        records.shuffle(using: &generator)
        let gate = ReviewGateStage(reviews: records)
        for item in items {
            let found = gate.reviews(of: item)
            #expect(found.allSatisfy { $0.itemID == item })
            #expect(Set(found.map(\.cropDigest)) == expected[item, default: []], "item \(item.hex.prefix(8))")
            #expect(found.count == expected[item, default: []].count)
        }
        #expect(ReviewGateStage(reviews: []).reviews(of: items[0]).isEmpty)
    }
}
