package import Foundation

/// Where one upload stands. Written to the store before and after every step, so a run killed at any point
/// continues the same upload (or, when it must start over, never leaves two ready copies).
package struct UploadRecord: Sendable, Hashable {
    /// The steps of an upload.
    package enum Status: String, Sendable, Hashable, Codable {
        case created, uploading, completed, ready, failed
    }

    /// One part received by storage.
    package struct Part: Sendable, Hashable, Codable {
        package var number: Int
        package var etag: String
        package var size: Int

        /// Creates a part.
        package init(number: Int, etag: String, size: Int) {
            self.number = number
            self.etag = etag
            self.size = size
        }
    }

    package var contentDigest: Digest
    package var account: String
    package var itemID: Digest
    package var uploadID: String?
    package var mediaUUID: String?
    package var status: Status
    package var partSize: Int
    package var parts: [Part]
    package var error: String?
    package var createdAt: Date
    package var updatedAt: Date

    /// Creates a record.
    package init(
        contentDigest: Digest, account: String, itemID: Digest, uploadID: String?, mediaUUID: String?, status: Status,
        partSize: Int, parts: [Part], error: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.contentDigest = contentDigest
        self.account = account
        self.itemID = itemID
        self.uploadID = uploadID
        self.mediaUUID = mediaUUID
        self.status = status
        self.partSize = partSize
        self.parts = parts
        self.error = error
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A feed post to create.
package struct PostRequest: Sendable, Hashable {
    /// `subscribers` or `followers-and-subscribers`.
    package var audience: String
    /// The text (with the AI disclosure).
    package var text: String
    package var mediaUUIDs: [String]
    /// Price in cents (a locked post), at least 300, only with media.
    package var priceCents: Int?
    /// When to publish (nil: now).
    package var publishAt: Date?

    /// Creates a post request.
    package init(audience: String, text: String, mediaUUIDs: [String], priceCents: Int?, publishAt: Date?) {
        self.audience = audience
        self.text = text
        self.mediaUUIDs = mediaUUIDs
        self.priceCents = priceCents
        self.publishAt = publishAt
    }
}

/// An error from a remote service that may carry an HTTP status.
package protocol RemoteError: Error, CustomStringConvertible {
    /// The HTTP status, when the server answered.
    var statusCode: Int? { get }
    /// Whether the login itself failed (a refused refresh token): nothing about the request can be concluded.
    var isAuthentication: Bool { get }
}

extension RemoteError {
    package var isAuthentication: Bool { false }
}

/// What the Fanvue stages need from the Fanvue API. The real implementation is `FanvueClient` (ElenaFanvue);
/// tests run it against a fake server over real HTTP.
package protocol FanvuePublishing: Sendable {
    /// The account the token belongs to (part of upload keys, so two accounts never share an upload).
    var account: String { get async throws }
    /// Makes sure a vault folder exists. Returns true when it was created now.
    func ensureFolder(_ name: String) async throws -> Bool
    /// Starts a multipart upload.
    func createUpload(name: String, filename: String) async throws -> (mediaUUID: String, uploadID: String)
    /// A signed URL for one part (1-based).
    func partURL(uploadID: String, part: Int) async throws -> String
    /// Puts one part's bytes to storage (never with the bearer token); returns the ETag.
    func putPart(url: String, bytes: Data) async throws -> String
    /// Completes the upload; returns the media status (`processing`…).
    func completeUpload(uploadID: String, parts: [UploadRecord.Part]) async throws -> String
    /// A media's processing status: created, processing, ready or error.
    func mediaStatus(_ uuid: String) async throws -> String
    /// Adds media to a vault folder (at most 100 per call); returns how many were added.
    func attach(folder: String, mediaUUIDs: [String]) async throws -> Int
    /// Creates a feed post; returns its uuid.
    func createPost(_ post: PostRequest) async throws -> String
    /// A post with this text and media, if one exists (to avoid posting twice after a lost answer).
    func findPost(text: String, mediaUUIDs: [String]) async throws -> String?
    /// Sends a (pay-per-view when priced) message to one fan; returns the message uuid.
    func sendMessage(fan: String, text: String?, mediaUUIDs: [String], priceCents: Int?) async throws -> String
    /// A message to this fan with exactly these media, if one exists (to avoid sending twice after a lost answer).
    func findMessage(fan: String, mediaUUIDs: [String]) async throws -> String?
}
