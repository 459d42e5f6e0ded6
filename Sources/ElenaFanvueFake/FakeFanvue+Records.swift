public import Foundation

extension FakeFanvue {
    /// One request the fake received, in arrival order.
    public struct Call: Sendable, Hashable, CustomStringConvertible {
        /// `GET`, `POST`, …
        public var method: String
        /// The path as sent (still percent-encoded), without the query.
        public var path: String
        /// The raw query, if any.
        public var query: String?
        /// The status answered; 0 while the request is in flight, and for a dropped connection (no answer).
        public var status: Int
        /// Whether the request carried `Authorization: Bearer …`.
        public var hadBearer: Bool
        /// The `X-Fanvue-API-Version` header, if sent.
        public var apiVersion: String?
        /// Bytes in the request body.
        public var bodySize: Int
        /// When it arrived.
        public var at: Date

        /// Creates a record.
        public init(
            method: String, path: String, query: String?, status: Int, hadBearer: Bool, apiVersion: String?,
            bodySize: Int, at: Date
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.status = status
            self.hadBearer = hadBearer
            self.apiVersion = apiVersion
            self.bodySize = bodySize
            self.at = at
        }

        /// `PUT /storage/… → 200`.
        public var description: String { "\(method) \(path)\(query.map { "?" + $0 } ?? "") → \(status)" }
    }

    /// One media item created with `POST /media/uploads`, and what its upload received.
    public struct Media: Sendable, Hashable {
        /// The media's lifecycle, as `GET /media/{uuid}` reports it.
        public enum Status: String, Sendable, Hashable {
            /// Upload session open.
            case created
            /// Upload completed, not processed yet.
            case processing
            /// Processed; usable in vault folders, posts and messages.
            case ready
            /// Processing failed (see `markMediaFailed`).
            case error
        }

        /// One part stored through its presigned URL.
        public struct Part: Sendable, Hashable {
            /// Bytes received.
            public var size: Int
            /// The `ETag` answered, with its quotes (`"<md5 hex>"`).
            public var etag: String
        }

        /// The media uuid.
        public var uuid: String
        /// The multipart upload id.
        public var uploadID: String
        /// Display name.
        public var name: String
        /// File name.
        public var filename: String
        /// `image`, `video`, `audio` or `document`.
        public var mediaType: String
        /// Where it is in its lifecycle.
        public var status: Status
        /// Parts stored so far, by part number (a part put twice keeps the last bytes, as in S3).
        public var parts: [Int: Part]
        /// Bytes of the assembled file, once the upload is completed.
        public var size: Int?
        /// SHA-256 (lowercase hex) of the assembled file, once the upload is completed.
        public var sha256: String?
        /// Pixel size read from the assembled file's header, when it is an image.
        public var width: Int?
        /// Pixel size read from the assembled file's header, when it is an image.
        public var height: Int?
        /// When the upload session was created.
        public var createdAt: Date
    }
}
