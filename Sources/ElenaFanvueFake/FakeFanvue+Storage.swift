import Crypto
import ElenaCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The presigned-URL storage (S3 semantics): `PUT` a part, `GET` a processed media. No bearer allowed.
extension FakeFanvue {
    func addStorageRoutes(to router: Router<FakeRequestContext>) {
        router.put("/storage/:uploadId/:part") { request, context in try self.putPart(request, context) }
        router.get("/storage/media/:uuid/:variant") { request, context in try self.download(request, context) }
    }

    /// Checks what every storage request needs: no `Authorization`, a valid signature of `resource`.
    func checkStorage(_ request: Request, resource: String) throws(FakeHTTPError) {
        guard request.headers[.authorization] == nil else {
            throw .storage(
                400, "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
                    + "parameter or the Authorization header should be specified")
        }
        guard let signature = FakeHTTP.form(request.uri.query ?? "")["X-Amz-Signature"] else {
            throw .storage(403, "AccessDenied", "Query-string authentication requires the X-Amz-Signature parameter")
        }
        let expected = Array(sign(resource).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count, zip(expected, given).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw .storage(
                403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.")
        }
    }

    /// `PUT /storage/<uploadId>/<n>?X-Amz-Signature=…`: stores the part, answers its `ETag`.
    func putPart(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        let uploadID = context.parameters.get("uploadId") ?? ""
        let partText = context.parameters.get("part") ?? ""
        try checkStorage(request, resource: "PUT /storage/\(uploadID)/\(partText)")
        guard let part = Int(partText), (1...10_000).contains(part) else {
            throw .storage(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        }
        let bytes = Array(context.body.readableBytesView)
        let etag = "\"" + FakeRandom.hex(Insecure.MD5.hash(data: bytes)) + "\""
        try state.withLock { state throws(FakeHTTPError) in
            guard let uuid = state.uploads[uploadID], var record = state.media[uuid], !record.completed else {
                throw .storage(
                    404, "NoSuchUpload",
                    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
                        + "aborted or completed.")
            }
            record.partBytes[part] = bytes
            record.info.parts[part] = Media.Part(size: bytes.count, etag: etag)
            state.media[uuid] = record
        }
        return FakeHTTP.respond(200, "", type: "application/xml", headers: [("ETag", etag)])
    }

    /// `GET /storage/media/<uuid>/<variant>?X-Amz-Signature=…`: the uploaded bytes of a ready media.
    func download(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        let uuid = context.parameters.get("uuid") ?? ""
        let variant = context.parameters.get("variant") ?? ""
        try checkStorage(request, resource: "GET /storage/media/\(uuid)/\(variant)")
        let found = state.withLock { state -> ([UInt8], String)? in
            guard let record = state.media[uuid], record.info.status == .ready, let bytes = record.bytes else {
                return nil
            }
            return (bytes, record.info.filename)
        }
        guard let (bytes, filename) = found else {
            throw .storage(404, "NoSuchKey", "The specified key does not exist.")
        }
        let lower = filename.lowercased()
        let type =
            lower.hasSuffix(".png")
            ? "image/png"
            : lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") ? "image/jpeg" : "application/octet-stream"
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.eTag] = "\"" + FakeRandom.hex(Insecure.MD5.hash(data: bytes)) + "\""
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
