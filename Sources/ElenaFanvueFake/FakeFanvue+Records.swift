package import Foundation

extension FakeFanvue {
    /// One request the fake received, in arrival order.
    package struct Call: Sendable, Hashable, CustomStringConvertible {
        /// `GET`, `POST`, …
        package var method: String
        /// The path as sent (still percent-encoded), without the query.
        package var path: String
        /// The raw query, if any.
        package var query: String?
        /// The status answered; 0 while the request is in flight, and for a dropped connection (no answer).
        package var status: Int
        /// Whether the request carried `Authorization: Bearer …`.
        package var hadBearer: Bool
        /// The `X-Fanvue-API-Version` header, if sent.
        package var apiVersion: String?
        /// Bytes in the request body.
        package var bodySize: Int
        /// When it arrived.
        package var at: Date

        /// Creates a record.
        package init(
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
        package var description: String { "\(method) \(path)\(query.map { "?" + $0 } ?? "") → \(status)" }
    }

    /// One media item created with `POST /media/uploads`, and what its upload received.
    package struct Media: Sendable, Hashable {
        /// The media's lifecycle, as `GET /media/{uuid}` reports it.
        package enum Status: String, Sendable, Hashable {
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
        package struct Part: Sendable, Hashable {
            /// Bytes received.
            package var size: Int
            /// The `ETag` answered, with its quotes (`"<md5 hex>"`).
            package var etag: String
        }

        /// The media uuid.
        package var uuid: String
        /// The multipart upload id.
        package var uploadID: String
        /// Display name.
        package var name: String
        /// File name.
        package var filename: String
        /// `image`, `video`, `audio` or `document`.
        package var mediaType: String
        /// Where it is in its lifecycle.
        package var status: Status
        /// Parts stored so far, by part number (a part put twice keeps the last bytes, as in S3).
        package var parts: [Int: Part]
        /// Bytes of the assembled file, once the upload is completed.
        package var size: Int?
        /// SHA-256 (lowercase hex) of the assembled file, once the upload is completed.
        package var sha256: String?
        /// Pixel size read from the assembled file's header, when it is an image.
        package var width: Int?
        /// Pixel size read from the assembled file's header, when it is an image.
        package var height: Int?
        /// When the upload session was created.
        package var createdAt: Date
    }
}
