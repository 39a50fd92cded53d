import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// PostObject: a browser's HTML form upload (`POST /bucket` with multipart/form-data).
/// The credentials are form fields, so the request is authenticated here rather than by
/// ``RequestAuthenticator``: the signature covers the base64 policy, whose conditions
/// every field must meet. The file streams to the same ``ObjectWriter`` PutObject uses,
/// so ETag, checksums and durability are identical; nothing is committed unless the
/// whole body arrived and every check passed.
extension S3RequestHandler {
    /// The most bytes the form fields before the file may take together.
    static let maxPostFieldBytes = 64 * 1024
    /// The most form fields before the file.
    static let maxPostFields = 256

    /// The bucket of a browser POST upload (a POST on a bucket, no sub-resource, a
    /// multipart/form-data body); nil for any other request.
    static func postObjectBucket(_ request: S3Request) -> String? {
        guard request.method == .POST, let bucket = request.bucket, request.key == nil,
              !(bucket == adminPath && !request.virtualHosted),
              S3Operation.subresource(of: request) == nil,
              let type = request.header("content-type"), type.lowercased().hasPrefix("multipart/form-data") else { return nil }
        return bucket
    }

    /// The form fields read before the file, by lowercased name (a repeated field keeps
    /// its first value).
    struct PostForm {
        var fields: [String: String] = [:]
        var bytes = 0
        var parts = 0

        subscript(_ name: String) -> String? { fields[name] }
    }

    /// - Parameter accessKey: set to the form's verified access key id (for the access log).
    func postObject(_ request: S3Request, bucket: String, body: RequestBody, accessKey: inout String,
                    remoteAddress: String? = nil) async throws -> S3Response {
        guard (1...63).contains(bucket.utf8.count) else { throw S3Error.invalidBucketName(bucket: bucket) }
        guard let boundary = MultipartFormParser.boundary(contentType: request.header("content-type") ?? "") else {
            throw S3Error.malformedPOSTRequest()
        }
        if let length = request.header("content-length").flatMap({ Int64($0) }),
           length > Self.maxSinglePut + Int64(Self.maxPostFieldBytes) + 64 * 1024 {
            throw S3Error.entityTooLarge(proposedSize: length, maxSizeAllowed: Self.maxSinglePut)
        }
        var parser = MultipartFormParser(boundary: boundary)
        var form = PostForm()
        var current: MultipartFormParser.PartHeaders?
        var value: [UInt8] = []
        var upload: PostUpload?
        var fileDone = false
        do {
            while let piece = try await body.next() {
                for event in try parser.feed(piece) {
                    switch event {
                    case .partStart(let headers):
                        current = headers
                        value = []
                        if !fileDone {
                            // Part headers count toward the limit too, so a form of many
                            // empty fields cannot grow without bound.
                            form.bytes += headers.name.utf8.count + 64
                            form.parts += 1
                            guard form.bytes <= Self.maxPostFieldBytes, form.parts <= Self.maxPostFields else {
                                throw S3Error.maxPostPreDataLengthExceeded
                            }
                        }
                        if !fileDone, headers.name.lowercased() == "file" {
                            upload = try await startPostUpload(request, bucket: bucket, form: form, file: headers,
                                                               remoteAddress: remoteAddress)
                            accessKey = upload!.accessKeyId ?? "-"
                        }
                    case .data(let data):
                        if let active = upload, !fileDone, current?.name.lowercased() == "file" {
                            try await active.write(data)
                        } else if !fileDone {
                            form.bytes += data.readableBytes
                            guard form.bytes <= Self.maxPostFieldBytes else { throw S3Error.maxPostPreDataLengthExceeded }
                            value += data.readableBytesView
                        }
                        // Fields after the file are ignored, as S3 does.
                    case .partEnd:
                        guard let part = current else { break }
                        if upload != nil, !fileDone, part.name.lowercased() == "file" {
                            fileDone = true
                        } else if !fileDone {
                            let name = part.name.lowercased()
                            if form.fields[name] == nil { form.fields[name] = String(decoding: value, as: UTF8.self) }
                        }
                        current = nil
                    }
                }
            }
            try parser.finish()
            guard let upload, fileDone else {
                throw S3Error.invalidArgument("POST requires exactly one file upload per request.", name: "file", value: "0")
            }
            let info = try await upload.finish()
            var response = postResponse(request, bucket: bucket, form: form, info: info)
            Self.addVersionHeader(info, versioning: upload.writer.versioning, to: &response.headers)
            ObjectHeaders.addEncryption(info.encryption, customerKeyMD5: upload.customerKeyMD5, context: true, to: &response.headers)
            return response
        } catch {
            upload?.writer.abort()
            throw error
        }
    }

    /// Everything about the form is checked here, when the file part begins and before
    /// any of its bytes is stored: signature, policy, conditions, key, headers.
    private func startPostUpload(_ request: S3Request, bucket: String, form: PostForm,
                                 file: MultipartFormParser.PartHeaders, remoteAddress: String?) async throws -> PostUpload {
        let fields = PostPolicy.substitutingFilename(in: form.fields, filename: file.filename)
        // A form without a policy and a signature is an anonymous upload (S3: allowed
        // where the bucket lets anonymous callers write).
        var accessKeyId: String?
        var policy: PostPolicy?
        if let policyText = fields["policy"] {
            accessKeyId = try verifyPostSignature(fields: fields, policy: policyText)
            policy = try PostPolicy.parse(base64: policyText)
            try policy!.check(fields: fields, bucket: bucket, now: Int64(Date().timeIntervalSince1970))
        } else if fields["x-amz-signature"] != nil || fields["signature"] != nil {
            throw S3Error.invalidArgument("Bucket POST must contain a field named 'policy'.", name: "policy", value: "")
        }

        guard let key = fields["key"] else {
            throw S3Error.invalidArgument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
                                          name: "key", value: "")
        }
        guard !key.isEmpty else { throw S3Error.invalidArgument("User key must have a length greater than 0.", name: "key", value: "") }
        if key.utf8.count > S3Operation.maxKeyBytes {
            throw S3Error.keyTooLongError(size: key.utf8.count, maxSizeAllowed: S3Operation.maxKeyBytes)
        }

        // A form upload is not an ``S3Operation``: the signer (or the anonymous caller)
        // needs s3:PutObject on bucket/key, decided here as for a PUT.
        let principal = try accessKeyId.map { try self.principal($0) } ?? .anonymous
        let auth = AuthenticatedRequest(accessKeyId: accessKeyId ?? "", method: .browserForm, payload: .unsignedPayload,
                                        scope: nil, chunkSigning: nil, securityToken: nil)
        let requester = Requester(request: request, principal: principal, auth: auth, remoteAddress: remoteAddress,
                                  now: Date(), formFields: fields)
        let access = try await authorize(AccessRule.bucket("s3:PutObject", .write), bucket: bucket, key: key, requester)
        var acl: [UInt8] = []
        if let bucketSettings = access.bucket {
            let requested = try fields["acl"].map {
                try AccessControlList.canned($0, owner: principal.isAnonymous ? bucketSettings.owner : principal.canonicalId,
                                             bucketOwner: bucketSettings.owner)
            }
            acl = try objectACL(requested: requested, cannedName: fields["acl"], principal: principal, bucket: bucketSettings)
        }
        // The other fields S3 reads as the headers of a PUT, checked and stored alike.
        var headers = HTTPHeaders()
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            switch name {
            case "tagging": continue  // a <Tagging> document, not the header's query form: below
            case "acl", "policy", "key", "success_action_status", "success_action_redirect", "redirect": continue
            default: headers.add(name: name, value: value)
            }
        }
        let metadata = try ObjectHeaders.metadata(from: headers)
        let contentMD5 = try fields["content-md5"].map { value in
            guard let digest = MD5Hasher.decodeContentMD5(value) else { throw S3Error.invalidDigest(contentMD5: value) }
            return digest
        }
        var checks: [(algorithm: ChecksumAlgorithm, digest: [UInt8]?)] = []
        for (name, value) in fields where name.hasPrefix("x-amz-checksum-") {
            if name == "x-amz-checksum-algorithm" {
                guard let algorithm = ChecksumAlgorithm(wireName: value) else {
                    throw S3Error.invalidRequest("Checksum algorithm \(value) is not supported")
                }
                checks.append((algorithm, nil))
            } else if let algorithm = ChecksumAlgorithm(headerName: name) {
                guard let digest = ChecksumHasher.decodeHeaderValue(value, for: algorithm) else {
                    throw S3Error.invalidRequest("Value for \(algorithm.headerName) header is invalid.")
                }
                checks.append((algorithm, digest))
            } else {
                throw S3Error.invalidRequest("The checksum field \(name) is not supported")
            }
        }
        if checks.filter({ $0.digest != nil }).count > 1 {
            throw S3Error.invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
        }
        if let given = checks.first(where: { $0.digest != nil }) {
            checks.removeAll { $0.digest == nil && $0.algorithm != given.algorithm }
        }
        // S3's form field `tagging` is a <Tagging> document (the header is a query string).
        let tags = try fields["tagging"].map { try TagSet.parse(Array($0.utf8), kind: .object).tags } ?? [:]
        let sealing = try await sealing(bucket: bucket, { headers.first(name: $0) }, checksMD5: contentMD5 != nil,
                                        remoteAddress: remoteAddress)
        let lock = try await lockForWrite(bucket: bucket, { headers.first(name: $0) },
                                          integrityChecked: contentMD5 != nil || checks.contains { $0.digest != nil })
        let writer = try await store.makeWriter(bucket: bucket, key: key, metadata: metadata, acl: acl, tags: tags,
                                                sealing: sealing, lock: lock)
        let upload = PostUpload(accessKeyId: accessKeyId, writer: writer, contentLength: policy?.contentLength, contentMD5: contentMD5,
                                checks: checks.map { ($0.algorithm, $0.digest, ChecksumHasher($0.algorithm)) })
        upload.customerKeyMD5 = headers.first(name: CustomerKey.prefix + "key-md5")
        return upload
    }

    /// Checks the form's signature of the policy: SigV4 (`x-amz-signature`, the hex HMAC
    /// of the base64 policy under the scope's signing key) or SigV2 (`signature`, base64
    /// HMAC-SHA1 with the secret).
    /// - Returns: the access key id that signed.
    private func verifyPostSignature(fields: [String: String], policy: String) throws -> String {
        if let provided = fields["x-amz-signature"] {
            guard fields["x-amz-algorithm"] == SigV4.algorithm else {
                throw S3Error.invalidArgument("The only supported algorithm is \(SigV4.algorithm)",
                                              name: "x-amz-algorithm", value: fields["x-amz-algorithm"] ?? "")
            }
            guard let credential = fields["x-amz-credential"], let scope = CredentialScope(credential: credential) else {
                throw S3Error.invalidArgument("Invalid credential in POST form", name: "x-amz-credential",
                                              value: fields["x-amz-credential"] ?? "")
            }
            guard let date = fields["x-amz-date"], AmzDate.parseISO8601Basic(date) != nil else {
                throw S3Error.invalidArgument("Invalid x-amz-date in POST form", name: "x-amz-date", value: fields["x-amz-date"] ?? "")
            }
            // The credential's scope is for the day the form was signed.
            guard date.hasPrefix(scope.date) else {
                throw S3Error.invalidArgument("The credential scope date does not match x-amz-date", name: "x-amz-credential",
                                              value: credential)
            }
            let secret = try authenticator.secret(for: scope.accessKeyId)
            let key = authenticator.keyCache.signingKey(secret: secret, date: scope.date, region: scope.region,
                                                        service: scope.service)
            let expected = SigV4.signature(signingKey: key, stringToSign: policy)
            guard SigV4.constantTimeEquals(expected, provided) else {
                throw S3Error.signatureDoesNotMatch(accessKeyId: scope.accessKeyId, stringToSign: policy,
                                                    signatureProvided: provided, canonicalRequest: "")
            }
            return scope.accessKeyId
        } else if let provided = fields["signature"], let accessKeyId = fields["awsaccesskeyid"] {
            let secret = try authenticator.secret(for: accessKeyId)
            let expected = SigV2.signature(secret: secret, stringToSign: policy)
            guard expected.utf8.count == provided.utf8.count,
                  SigV4.constantTimeEquals(Array(expected.utf8), Array(provided.utf8)) else {
                throw S3Error.signatureDoesNotMatch(accessKeyId: accessKeyId, stringToSign: policy,
                                                    signatureProvided: provided, canonicalRequest: "")
            }
            return accessKeyId
        } else {
            throw S3Error.invalidArgument("Bucket POST must contain a field named 'x-amz-signature'.",
                                          name: "x-amz-signature", value: "")
        }
    }

    /// The answer to a successful POST: a 303 to `success_action_redirect`, or the
    /// `success_action_status` (200, 201 with a PostResponse document, default 204).
    private func postResponse(_ request: S3Request, bucket: String, form: PostForm, info: ObjectInfo) -> S3Response {
        let etag = "\"\(info.etag)\""
        let host = request.header("host") ?? "\(configuration.host):\(configuration.port)"
        let scheme = configuration.tls == nil ? "http" : "https"
        let encodedKey = SigV4.uriEncode(Array(info.key.utf8), keepSlash: true)
        let location = request.virtualHosted ? "\(scheme)://\(host)/\(encodedKey)"
                                             : "\(scheme)://\(host)/\(SigV4.uriEncode(Array(bucket.utf8)))/\(encodedKey)"
        var response: S3Response
        if let redirect = form["success_action_redirect"] ?? form["redirect"],
           let url = URL(string: redirect), url.scheme == "http" || url.scheme == "https" {
            let query = "bucket=\(SigV4.uriEncode(Array(bucket.utf8)))&key=\(SigV4.uriEncode(Array(info.key.utf8)))"
                + "&etag=\(SigV4.uriEncode(Array(etag.utf8)))"
            response = S3Response(status: .seeOther)
            response.headers.add(name: "Location", value: redirect + (redirect.contains("?") ? "&" : "?") + query)
        } else {
            switch form["success_action_status"] {
            case "200":
                response = S3Response(status: .ok)
            case "201":
                var xml = XMLWriter()
                xml.open("PostResponse")
                xml.element("Location", location)
                xml.element("Bucket", bucket)
                xml.element("Key", info.key)
                xml.element("ETag", etag)
                xml.close()
                response = S3Response.xml(xml, status: .created)
            default:
                response = S3Response(status: .noContent)
            }
            response.headers.add(name: "Location", value: location)
        }
        response.headers.add(name: "ETag", value: etag)
        ObjectHeaders.addChecksums(info, to: &response.headers)
        return response
    }
}

/// The file of a POST upload on its way to the store: size limits checked as it
/// streams, checksums computed over the same bytes.
final class PostUpload: @unchecked Sendable {
    /// Who signed the form (nil: anonymous).
    let accessKeyId: String?
    let writer: ObjectWriter
    /// The form's `x-amz-server-side-encryption-customer-key-MD5`, echoed for SSE-C.
    var customerKeyMD5: String?
    private let contentLength: ClosedRange<Int64>?
    private let contentMD5: [UInt8]?
    private var checks: [(algorithm: ChecksumAlgorithm, digest: [UInt8]?, hasher: ChecksumHasher)]
    private var length: Int64 = 0

    init(accessKeyId: String?, writer: ObjectWriter, contentLength: ClosedRange<Int64>?, contentMD5: [UInt8]?,
         checks: [(algorithm: ChecksumAlgorithm, digest: [UInt8]?, hasher: ChecksumHasher)]) {
        self.accessKeyId = accessKeyId
        self.writer = writer
        self.contentLength = contentLength
        self.contentMD5 = contentMD5
        self.checks = checks
    }

    func write(_ data: ByteBuffer) async throws {
        length += Int64(data.readableBytes)
        if let contentLength, length > contentLength.upperBound {
            throw S3Error.entityTooLarge(maxSizeAllowed: contentLength.upperBound)
        }
        if length > S3RequestHandler.maxSinglePut {
            throw S3Error.entityTooLarge(maxSizeAllowed: S3RequestHandler.maxSinglePut)
        }
        for index in checks.indices { checks[index].hasher.update(data) }
        try await writer.write(data)
    }

    /// Commits the object once the whole body has arrived.
    func finish() async throws -> ObjectInfo {
        if let contentLength, length < contentLength.lowerBound {
            throw S3Error.entityTooSmall(proposedSize: length, minSizeAllowed: contentLength.lowerBound)
        }
        var checksums: [String: String] = [:]
        for check in checks {
            if let digest = check.digest {
                guard SigV4.constantTimeEquals(check.hasher.finalize(), digest) else {
                    throw S3Error.badDigest("The \(check.algorithm.wireName) you specified did not match the calculated checksum.")
                }
            }
            checksums[check.algorithm.wireName] = check.hasher.finalizeBase64()
        }
        return try await writer.finish(contentMD5: contentMD5, checksums: checksums)
    }
}
