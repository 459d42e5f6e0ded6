public import Foundation

/// Size, modification time and inode of a file: if all three are unchanged, its bytes are assumed unchanged
/// (the rule git's index uses), so the file is not hashed again.
public struct FileStamp: Sendable, Hashable, Codable {
    /// Size in bytes.
    public var size: Int64
    /// Modification time in nanoseconds since 1970.
    public var mtimeNanoseconds: Int64
    /// Inode number.
    public var inode: Int64

    /// Creates a stamp.
    public init(size: Int64, mtimeNanoseconds: Int64, inode: Int64) {
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.inode = inode
    }
}

/// A remembered file digest.
public struct StatEntry: Sendable, Hashable {
    /// Absolute path.
    public var path: String
    /// The stamp when it was hashed.
    public var stamp: FileStamp
    /// The digest of its bytes then.
    public var digest: Digest

    /// Creates an entry.
    public init(path: String, stamp: FileStamp, digest: Digest) {
        self.path = path
        self.stamp = stamp
        self.digest = digest
    }
}

/// The outcome of one node's work, as recorded in `stage_runs`: the run cache.
public struct StageRecord: Sendable, Hashable {
    /// Succeeded or failed.
    public enum Status: String, Sendable, Hashable {
        case succeeded
        case failed
    }

    /// The cache key.
    public var key: CacheKey
    /// The stage.
    public var stage: StageName
    /// The item, for item-level nodes.
    public var itemID: Digest?
    /// The drop that ran it.
    public var drop: String
    /// Succeeded or failed.
    public var status: Status
    /// Digest of the output (the bytes written, or the canonical JSON of a decision).
    public var outputDigest: Digest?
    /// Library-relative path of the file the next stage reads, if any.
    public var artifactPath: String?
    /// The artifact's stamp when written, to check it is still intact.
    public var artifactStamp: FileStamp?
    /// A small JSON summary of the output (the crop decision, the detections, the lineage…).
    public var output: JSONText
    /// The error, for failed runs.
    public var error: String?
    /// When the work started.
    public var startedAt: Date
    /// How long it took.
    public var durationMilliseconds: Int

    /// Creates a record.
    public init(
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
public enum ItemStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case ingested, cropped
    case inReview = "in_review"
    case approved, rejected, published, failed
}

/// A content item: the ledger's central row (the seed table's fields plus lineage and crop facts).
public struct ItemRecord: Sendable, Hashable {
    public var id: Digest
    public var drop: String
    public var originalName: String
    public var originalPath: String
    public var rawPath: String?
    public var croppedName: String?
    public var croppedDigest: Digest?
    public var status: ItemStatus
    public var fanvueMediaUUID: String?
    public var vault: String?
    public var category: String?
    public var tags: [String]
    public var description: String?
    public var priceCents: Int?
    public var timesPurchased: Int
    public var revenueCents: Int
    public var width: Int?
    public var height: Int?
    public var lineage: JSONValue?
    public var flags: [String]
    public var error: String?
    public var createdAt: Date
    public var updatedAt: Date

    /// Creates an item row.
    public init(
        id: Digest, drop: String, originalName: String, originalPath: String, rawPath: String? = nil,
        croppedName: String? = nil, croppedDigest: Digest? = nil, status: ItemStatus, fanvueMediaUUID: String? = nil,
        vault: String? = nil, category: String? = nil, tags: [String] = [], description: String? = nil,
        priceCents: Int? = nil, timesPurchased: Int = 0, revenueCents: Int = 0, width: Int? = nil,
        height: Int? = nil, lineage: JSONValue? = nil, flags: [String] = [], error: String? = nil,
        createdAt: Date, updatedAt: Date
    ) {
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
public struct ItemUpdate: Sendable, Hashable {
    public var status: ItemStatus?
    public var rawPath: String?
    public var croppedName: String?
    public var croppedDigest: Digest?
    public var vault: String?
    public var category: String?
    public var tags: [String]?
    public var description: String?
    public var priceCents: Int?
    public var flags: [String]?
    /// `.some(nil)` clears the error.
    public var error: String??

    /// No changes.
    public init(
        status: ItemStatus? = nil, rawPath: String? = nil, croppedName: String? = nil, croppedDigest: Digest? = nil,
        vault: String? = nil, category: String? = nil, tags: [String]? = nil, description: String? = nil,
        priceCents: Int? = nil, flags: [String]? = nil, error: String?? = nil
    ) {
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
public enum ReviewDecision: String, Sendable, Hashable, Codable {
    case pending, approved, rejected
}

/// The review folders of the library, in the order a file moves through them.
public enum ReviewFolder: String, Sendable, Hashable, CaseIterable, Codable {
    case review = "3_review"
    case approved = "4_approved"
    case uploaded = "5_uploaded"
    case rejected = "rejected"

    /// The decision a file in this folder stands for.
    public var decision: ReviewDecision {
        switch self {
        case .review: return .pending
        case .approved, .uploaded: return .approved
        case .rejected: return .rejected
        }
    }
}

/// The review state of one crop, kept in step with the folders.
public struct ReviewRecord: Sendable, Hashable {
    public var itemID: Digest
    public var cropDigest: Digest
    public var drop: String
    public var decision: ReviewDecision
    /// The review copy's file name (unique per crop version).
    public var fileName: String
    /// The folder where the tool last saw or put the file.
    public var folder: ReviewFolder
    /// Who decided: `folder`, `page` or `cli`.
    public var decidedBy: String?
    public var decidedAt: Date?

    /// Creates a review record.
    public init(
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
public struct PublicationRecord: Sendable, Hashable {
    /// `folder` or `fanvue`.
    public var target: String
    /// The outbox folder or the vault.
    public var destination: String
    /// Digest of the published bytes.
    public var contentDigest: Digest
    public var itemID: Digest
    public var drop: String
    /// Remote id (Fanvue media uuid) or the outbox file name.
    public var reference: String?
    /// The metadata sent with it (vault, price, tags, caption).
    public var metadata: JSONValue
    public var publishedAt: Date

    /// Creates a publication record.
    public init(
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
public struct PublishOverride: Sendable, Hashable {
    public var vault: String?
    public var priceCents: Int?
    public var tags: [String]?

    /// Creates an override.
    public init(vault: String? = nil, priceCents: Int? = nil, tags: [String]? = nil) {
        self.vault = vault
        self.priceCents = priceCents
        self.tags = tags
    }

    /// Whether it changes nothing.
    public var isEmpty: Bool { vault == nil && priceCents == nil && tags == nil }
}

/// An entry of the append-only event log.
public struct EventRecord: Sendable, Hashable {
    public var kind: String
    public var drop: String?
    public var itemID: Digest?
    public var stage: StageName?
    public var message: String
    public var data: JSONValue?
    public var at: Date

    /// Creates an event.
    public init(
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
