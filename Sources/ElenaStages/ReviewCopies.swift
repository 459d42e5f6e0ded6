import ElenaCore
import ElenaEngine
import Foundation

/// Moves an approved review copy from `4_approved/` to `5_uploaded/` once its crop is published, and records it.
enum ReviewCopies {
    static func markPublished(_ approved: NodeOutput, item: PlannedItem, drop: String, environment: RunEnvironment) async throws {
        guard let copy = approved.summary.value["copy"]?.stringValue, copy.hasPrefix(ReviewFolder.approved.rawValue + "/") else {
            return
        }
        let destination = environment.layout.folder(.uploaded, drop: drop) + "/" + PathText.lastComponent(copy)
        if FileSystem.exists(environment.layout.absolute(copy)) {
            try FileSystem.move(environment.layout.absolute(copy), to: environment.layout.absolute(destination))
        }
        try await environment.store.setReviewFolder(itemID: item.id, cropDigest: approved.digest, folder: .uploaded)
    }
}
