import ElenaCore
import ElenaEngine
import Foundation

/// Moves an approved review copy from `4_approved/` to `5_uploaded/` once its crop is published, and records it.
enum ReviewCopies {
    static func markPublished(
        _ approved: NodeOutput, item: PlannedItem, drop: String, layout: LibraryLayout, store: any ReviewLedger
    ) async throws {
        guard let copy = (approved.value as? ApprovedCrop)?.copy, copy.hasPrefix(ReviewFolder.approved.rawValue + "/") else {
            return
        }
        let destination = layout.folder(.uploaded, drop: drop) + "/" + PathText.lastComponent(copy)
        if FileSystem.exists(layout.absolute(copy)) {
            try FileSystem.move(layout.absolute(copy), to: layout.absolute(destination))
        }
        try await store.setReviewFolder(itemID: item.id, cropDigest: approved.digest, folder: .uploaded)
    }
}
