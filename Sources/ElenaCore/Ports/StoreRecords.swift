package import Foundation

/// Size, modification time and inode of a file: if all three are unchanged, its bytes are assumed unchanged
/// (the rule git's index uses), so the file is not hashed again.
package struct FileStamp: Sendable, Hashable, Codable {
    /// Size in bytes.
    package var size: Int64
    /// Modification time in nanoseconds since 1970.
    package var mtimeNanoseconds: Int64
    /// Inode number.
    package var inode: Int64

    /// Creates a stamp.
    package init(size: Int64, mtimeNanoseconds: Int64, inode: Int64) {
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.inode = inode
    }
}

/// A remembered file digest.
package struct StatEntry: Sendable, Hashable {
    /// Absolute path.
    package var path: String
    /// The stamp when it was hashed.
    package var stamp: FileStamp
    /// The digest of its bytes then.
    package var digest: Digest

    /// Creates an entry.
    package init(path: String, stamp: FileStamp, digest: Digest) {
        self.path = path
        self.stamp = stamp
        self.digest = digest
    }
}

/// What a cache hit needs of a successful stage run, and no more: its output, and its file with the file's stamp
/// when it was written. A drop of 100,000 items holds 300,000 of these while it runs (a `StageRecord` is 2.5 times
/// the size, and reading its other columns costs as much again).
package struct CachedStep: Sendable, Hashable {
    /// Digest of the output.
    package var outputDigest: Digest?
    /// Library-relative path of the file the next stage reads, if any.
    package var artifactPath: String?
    /// The file's stamp when written.
    package var artifactStamp: FileStamp?
    /// The output's summary.
    package var output: JSONText

    /// Creates a hit.
    package init(outputDigest: Digest?, artifactPath: String?, artifactStamp: FileStamp?, output: JSONText) {
        self.outputDigest = outputDigest
        self.artifactPath = artifactPath
        self.artifactStamp = artifactStamp
        self.output = output
    }

    /// The hit of a whole record.
    package init(_ record: StageRecord) {
        self.init(
            outputDigest: record.outputDigest, artifactPath: record.artifactPath, artifactStamp: record.artifactStamp,
            output: record.output)
    }
}

/// The outcome of one node's work, as recorded in `stage_runs`: the run cache.
package struct StageRecord: Sendable, Hashable {
    /// Succeeded or failed.
    package enum Status: String, Sendable, Hashable {
        case succeeded
        case failed
    }

    /// The cache key.
    package var key: CacheKey
    /// The stage.
    package var stage: StageName
    /// The item, for item-level nodes.
    package var itemID: Digest?
    /// The drop that ran it.
    package var drop: String
    /// Succeeded or failed.
    package var status: Status
    /// Digest of the output (the bytes written, or the canonical JSON of a decision).
    package var outputDigest: Digest?
    /// Library-relative path of the file the next stage reads, if any.
    package var artifactPath: String?
    /// The artifact's stamp when written, to check it is still intact.
    package var artifactStamp: FileStamp?
    /// A small JSON summary of the output (the crop decision, the detections, the lineage…).
    package var output: JSONText
    /// The error, for failed runs.
    package var error: String?
    /// When the work started.
    package var startedAt: Date
    /// How long it took.
    package var durationMilliseconds: Int

    /// Creates a record.
    package init(
        key: CacheKey, stage: StageName, itemID: Digest?, drop: String, status: Status, outputDigest: Digest?,
        artifactPath: String?, artifactStamp: FileStamp?, output: JSONText, error: String?, startedAt: Date,
        durationMilliseconds: Int
    ) {
        self.key = key
        self.stage = stage
        self.itemID = itemID
        self.drop = drop
        self.status = status
        self.outputDigest = outputDigest
        self.artifactPath = artifactPath
        self.artifactStamp = artifactStamp
        self.output = output
        self.error = error
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
    }
}

/// Where an item stands, as shown by `status` and stored in `items.status`.
/// The fields of an item's row that a run brings in line with what it did (ElenaStages' `ItemProjection`), without
/// the rest of the row: a no-op rerun of 100,000 items compares these, and reading whole rows (lineage, paths,
/// times) cost a second and 200 MB.
package struct ItemRowFields: Sendable, Hashable {
    package var croppedName: String?
    package var croppedDigest: Digest?
    package var flags: [String]
    package var status: ItemStatus
    package var vault: String?
    package var category: String?
    package var tags: [String]
    package var priceCents: Int?
    package var description: String?
    package var error: String?
    /// The picture's fingerprint as stored (its text: a run compares it without reading it), nil before the item's
    /// first fingerprint step.
    package var fingerprint: String?
    /// The crop's, as stored.
    package var cropFingerprint: String?

    /// Every field.
    package init(
        croppedName: String?, croppedDigest: Digest?, flags: [String], status: ItemStatus, vault: String?,
        category: String?, tags: [String], priceCents: Int?, description: String?, error: String?,
        fingerprint: String? = nil, cropFingerprint: String? = nil
    ) {
        self.fingerprint = fingerprint
        self.cropFingerprint = cropFingerprint
        self.croppedName = croppedName
        self.croppedDigest = croppedDigest
        self.flags = flags
        self.status = status
        self.vault = vault
        self.category = category
        self.tags = tags
        self.priceCents = priceCents
        self.description = description
        self.error = error
    }

    /// A whole row's.
    package init(_ row: ItemRecord) {
        self.init(
            croppedName: row.croppedName, croppedDigest: row.croppedDigest, flags: row.flags, status: row.status,
            vault: row.vault, category: row.category, tags: row.tags, priceCents: row.priceCents,
            description: row.description, error: row.error, fingerprint: row.fingerprints?.picture.description,
            cropFingerprint: row.fingerprints?.crop?.description)
    }
}

package enum ItemStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case ingested, cropped
    case inReview = "in_review"
    case approved, rejected, published, failed
}

/// A content item: the ledger's central row (the seed table's fields plus lineage and crop facts).
package struct ItemRecord: Sendable, Hashable {
    package var id: Digest
    package var drop: String
    package var originalName: String
    package var originalPath: String
    package var rawPath: String?
    package var croppedName: String?
    package var croppedDigest: Digest?
    package var status: ItemStatus
    package var fanvueMediaUUID: String?
    package var vault: String?
    package var category: String?
    package var tags: [String]
    package var description: String?
    package var priceCents: Int?
    package var timesPurchased: Int
    package var revenueCents: Int
    package var width: Int?
    package var height: Int?
    package var lineage: JSONValue?
    package var flags: [String]
    package var error: String?
    package var createdAt: Date
    package var updatedAt: Date
    /// The picture's and the crop's fingerprints (nil before the item's first fingerprint step).
    package var fingerprints: ItemFingerprints?

    /// Creates an item row.
    package init(
        id: Digest, drop: String, originalName: String, originalPath: String, rawPath: String? = nil,
        croppedName: String? = nil, croppedDigest: Digest? = nil, status: ItemStatus, fanvueMediaUUID: String? = nil,
        vault: String? = nil, category: String? = nil, tags: [String] = [], description: String? = nil,
        priceCents: Int? = nil, timesPurchased: Int = 0, revenueCents: Int = 0, width: Int? = nil,
        height: Int? = nil, lineage: JSONValue? = nil, flags: [String] = [], error: String? = nil,
        createdAt: Date, updatedAt: Date, fingerprints: ItemFingerprints? = nil
    ) {
        self.fingerprints = fingerprints
        self.id = id
        self.drop = drop
        self.originalName = originalName
        self.originalPath = originalPath
        self.rawPath = rawPath
        self.croppedName = croppedName
        self.croppedDigest = croppedDigest
        self.status = status
        self.fanvueMediaUUID = fanvueMediaUUID
        self.vault = vault
        self.category = category
        self.tags = tags
        self.description = description
        self.priceCents = priceCents
        self.timesPurchased = timesPurchased
        self.revenueCents = revenueCents
        self.width = width
        self.height = height
        self.lineage = lineage
        self.flags = flags
        self.error = error
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Changes to an item row; nil fields are left as they are.
package struct ItemUpdate: Sendable, Hashable {
    package var status: ItemStatus?
    package var rawPath: String?
    package var croppedName: String?
    package var croppedDigest: Digest?
    package var vault: String?
    package var category: String?
    package var tags: [String]?
    package var description: String?
    package var priceCents: Int?
    package var flags: [String]?
    /// `.some(nil)` clears the error.
    package var error: String??
    /// New fingerprints (both columns).
    package var fingerprints: ItemFingerprints?

    /// No changes.
    package init(
        status: ItemStatus? = nil, rawPath: String? = nil, croppedName: String? = nil, croppedDigest: Digest? = nil,
        vault: String? = nil, category: String? = nil, tags: [String]? = nil, description: String? = nil,
        priceCents: Int? = nil, flags: [String]? = nil, error: String?? = nil, fingerprints: ItemFingerprints? = nil
    ) {
        self.fingerprints = fingerprints
        self.status = status
        self.rawPath = rawPath
        self.croppedName = croppedName
        self.croppedDigest = croppedDigest
        self.vault = vault
        self.category = category
        self.tags = tags
        self.description = description
        self.priceCents = priceCents
        self.flags = flags
        self.error = error
    }
}

/// A human decision on one crop (identified by its digest).
package enum ReviewDecision: String, Sendable, Hashable, Codable {
    case pending, approved, rejected
}

/// The review folders of the library, in the order a file moves through them.
package enum ReviewFolder: String, Sendable, Hashable, CaseIterable, Codable {
    case review = "3_review"
    case approved = "4_approved"
    case uploaded = "5_uploaded"
    case rejected = "rejected"

    /// The decision a file in this folder stands for.
    package var decision: ReviewDecision {
        switch self {
        case .review: return .pending
        case .approved, .uploaded: return .approved
        case .rejected: return .rejected
        }
    }
}

/// The review state of one crop, kept in step with the folders.
package struct ReviewRecord: Sendable, Hashable {
    package var itemID: Digest
    package var cropDigest: Digest
    package var drop: String
    package var decision: ReviewDecision
    /// The review copy's file name (unique per crop version).
    package var fileName: String
    /// The folder where the tool last saw or put the file.
    package var folder: ReviewFolder
    /// Who decided: `folder`, `page` or `cli`.
    package var decidedBy: String?
    package var decidedAt: Date?

    /// Creates a review record.
    package init(
        itemID: Digest, cropDigest: Digest, drop: String, decision: ReviewDecision, fileName: String,
        folder: ReviewFolder, decidedBy: String?, decidedAt: Date?
    ) {
        self.itemID = itemID
        self.cropDigest = cropDigest
        self.drop = drop
        self.decision = decision
        self.fileName = fileName
        self.folder = folder
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
    }
}

/// One published copy of some bytes at one destination.
package struct PublicationRecord: Sendable, Hashable {
    /// `folder` or `fanvue`.
    package var target: String
    /// The outbox folder or the vault.
    package var destination: String
    /// Digest of the published bytes.
    package var contentDigest: Digest
    package var itemID: Digest
    package var drop: String
    /// Remote id (Fanvue media uuid) or the outbox file name.
    package var reference: String?
    /// The metadata sent with it (vault, price, tags, caption).
    package var metadata: JSONValue
    package var publishedAt: Date

    /// Creates a publication record.
    package init(
        target: String, destination: String, contentDigest: Digest, itemID: Digest, drop: String, reference: String?,
        metadata: JSONValue, publishedAt: Date
    ) {
        self.target = target
        self.destination = destination
        self.contentDigest = contentDigest
        self.itemID = itemID
        self.drop = drop
        self.reference = reference
        self.metadata = metadata
        self.publishedAt = publishedAt
    }
}

/// Vault, price and tags set for one item in review; nil fields keep the manifest's value.
package struct PublishOverride: Sendable, Hashable {
    package var vault: String?
    package var priceCents: Int?
    package var tags: [String]?

    /// Creates an override.
    package init(vault: String? = nil, priceCents: Int? = nil, tags: [String]? = nil) {
        self.vault = vault
        self.priceCents = priceCents
        self.tags = tags
    }

    /// Whether it changes nothing.
    package var isEmpty: Bool { vault == nil && priceCents == nil && tags == nil }
}

/// An entry of the append-only event log.
package struct EventRecord: Sendable, Hashable {
    package var kind: String
    package var drop: String?
    package var itemID: Digest?
    package var stage: StageName?
    package var message: String
    package var data: JSONValue?
    package var at: Date

    /// Creates an event.
    package init(
        kind: String, drop: String?, itemID: Digest? = nil, stage: StageName? = nil, message: String,
        data: JSONValue? = nil, at: Date
    ) {
        self.kind = kind
        self.drop = drop
        self.itemID = itemID
        self.stage = stage
        self.message = message
        self.data = data
        self.at = at
    }
}
