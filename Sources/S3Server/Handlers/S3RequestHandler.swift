import Crypto
import Foundation
import Logging
import Synchronization
import NIOCore
import NIOHTTP1
import ObjectStore

/// Turns one HTTP request into one S3 response: parses the target, verifies the
/// signature, routes to the operation and renders any error as an S3 error document.
final class S3RequestHandler: Sendable {
    let slot: StoreSlot
    let configuration: S3ServerConfiguration
    let logger: Logger
    let authenticator: RequestAuthenticator
    let metrics = ServerMetrics()
    let settingsCache = BucketSettingsCache()

    /// The open store. `handle` answers 503 before routing while it is not open yet, so
    /// operations never see it missing.
    var store: ObjectStore { slot.store! }

    init(slot: StoreSlot, configuration: S3ServerConfiguration, logger: Logger) {
        self.slot = slot
        self.configuration = configuration
        self.logger = logger
        let users = configuration.users
        // Without a configured signing region any region in the credential scope is
        // accepted (the signature still covers it). With one, others are refused naming it,
        // and clients that guess (s3cmd's default "US") sign again with it.
        self.authenticator = RequestAuthenticator(region: configuration.signingRegion) { users.secret(accessKeyId: $0) }
    }

    /// Who may sign requests.
    var users: UserDirectory { configuration.users }

    /// Everything an operation needs about the request being served.
    struct Context {
        let request: S3Request
        let signing: SigningRequest
        let auth: AuthenticatedRequest
        let body: RequestBody
        /// Who sent it (``Principal/anonymous`` without a signature).
        let principal: Principal
        /// The access decision so far; object operations finish it with
        /// ``RequestAccess/authorize(object:)`` once they have read the object.
        let access: RequestAccess
        /// The client's IP address, when known (`aws:SourceIp`).
        let remoteAddress: String?

        var bucket: String { request.bucket! }
        var key: String { request.key! }
    }

    /// An owner as listings and ACLs show it: the canonical id and the user's display name.
    struct Owner {
        let id: String
        let displayName: String

        init(_ principal: Principal) {
            id = principal.canonicalId
            displayName = principal.displayName
        }

        init(canonicalId: String, users: UserDirectory) {
            id = canonicalId
            displayName = users.displayName(canonicalId: canonicalId)
        }
    }

    func handle(_ head: HTTPRequestHead, body: RequestBody, remoteAddress: String? = nil) async -> S3Response {
        let requestId = Self.makeRequestId()
        let started = ContinuousClock.now
        var resource = String(Self.path(of: head.uri))
        var uploadId: String?
        var accessKey = "-"
        var operation = "Other"
        var response: S3Response
        var parsed: S3Request?
        if let health = healthResponse(head) { return health }
        if let metricsPage = await metricsResponse(head) { return metricsPage }
        var access: RequestAccess?
        do {
            guard slot.store != nil else {
                throw S3Error.serviceUnavailable("Strata is still opening its data directory (recovery); try again shortly")
            }
            let request = try S3Request(head: head, domain: configuration.domain)
            operation = request.operationName
            resource = request.resource
            uploadId = request.query("uploadId")
            parsed = request
            // Requests whose credentials are not in the usual places: a CORS preflight
            // carries none (browsers never send them), a browser POST upload carries them
            // as form fields in its body.
            if head.method == .OPTIONS {
                response = try await preflight(request)
            } else if Self.isPostObject(request) {
                response = try await postObject(request, body: body, accessKey: &accessKey, remoteAddress: remoteAddress)
            } else {
                response = try await authenticateAndRoute(request, head: head, body: body, remoteAddress: remoteAddress,
                                                          accessKey: &accessKey, access: &access)
            }
        } catch {
            var error = error
            // S3 answers a read of a missing key with 403 to a caller who may not list
            // the bucket, so keys cannot be probed.
            if let access, access.rule.needsObject, Self.isNoSuchKey(error), !access.mayListBucket {
                error = S3Error.accessDenied()
            }
            response = errorResponse(error, resource: resource, uploadId: uploadId, requestId: requestId,
                                     isHead: head.method == .HEAD)
        }
        if let request = parsed, head.method != .OPTIONS {
            await addCORSHeaders(for: request, to: &response)
        }
        response.headers.add(name: "x-amz-request-id", value: requestId)
        response.headers.add(name: "x-amz-id-2", value: requestId)
        response.headers.add(name: "Server", value: "Strata")
        response.headers.add(name: "Date", value: HTTPDateCache.now())
        logRequest(head, operation: operation, resource: resource, response: response, requestId: requestId,
                   accessKey: accessKey, bytesIn: body.bytesRead, duration: ContinuousClock.now - started)
        return response
    }

    /// Verifies the request's signature (none: anonymous), decides whether the caller may
    /// make it, and runs the operation it addresses.
    private func authenticateAndRoute(_ request: S3Request, head: HTTPRequestHead, body: RequestBody, remoteAddress: String?,
                                      accessKey: inout String, access: inout RequestAccess?) async throws -> S3Response {
        let signing = SigningRequest(method: head.method.rawValue, rawPath: request.rawPath,
                                     rawQuery: request.rawQuery, headers: head.headers.map { ($0.name, $0.value) },
                                     queryParameters: request.queryAsSigned)
        let now = Date()
        let auth: AuthenticatedRequest
        let principal: Principal
        if let signed = try authenticator.authenticate(signing, now: now,
                                                       virtualHostedBucket: request.virtualHosted ? request.bucket : nil) {
            auth = signed
            principal = try self.principal(signed.accessKeyId)
            accessKey = signed.accessKeyId
        } else {
            auth = try AuthenticatedRequest.anonymous(signing)
            principal = .anonymous
        }
        let op = try self.operation(for: request)
        let requestAccess = try await authorize(op.rule, request: request, principal: principal, auth: auth,
                                                remoteAddress: remoteAddress, now: now)
        access = requestAccess
        return try await op.run(Context(request: request, signing: signing, auth: auth, body: body,
                                        principal: principal, access: requestAccess, remoteAddress: remoteAddress))
    }

    /// The user a verified access key belongs to.
    func principal(_ accessKeyId: String) throws -> Principal {
        guard let user = users.principal(accessKeyId: accessKeyId) else {
            throw S3Error.invalidAccessKeyId(accessKeyId: accessKeyId)
        }
        return user
    }

    private static func isNoSuchKey(_ error: Error) -> Bool {
        if let s3 = error as? S3Error { return s3.code == "NoSuchKey" }
        if let store = error as? StoreError { return store.code == .noSuchKey }
        return false
    }

    /// The access log, one line per request (info level with `--access-log`, else debug),
    /// and the request metrics. The duration is the time to the response head; a streamed
    /// body may take longer.
    /// `bytesIn` is the body bytes read from the connection (as sent, aws-chunked framing
    /// included), not what the client's headers claim.
    private func logRequest(_ head: HTTPRequestHead, operation: String, resource: String, response: S3Response,
                            requestId: String, accessKey: String, bytesIn: Int64, duration: Duration) {
        let bytesOut: Int
        switch response.body {
        case .none: bytesOut = 0
        case .bytes(let buffer): bytesOut = buffer.readableBytes
        case .object(let reader, _): bytesOut = reader.range.count
        }
        metrics.request(operation: operation, status: response.status.code, duration: duration,
                        bytesIn: Int(bytesIn), bytesOut: bytesOut)
        let level: Logger.Level = configuration.accessLog ? .info : .debug
        guard logger.logLevel <= level else { return }
        let parts = resource.dropFirst().split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let (seconds, attoseconds) = duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        logger.log(level: level, "\(head.method.rawValue) \(resource) \(response.status.code)", metadata: [
            "method": "\(head.method.rawValue)",
            "bucket": "\(parts.first.map(String.init) ?? "")",
            "key": "\(parts.count > 1 ? String(parts[1]) : "")",
            "status": .stringConvertible(Int(response.status.code)),
            "bytes_in": .stringConvertible(bytesIn),
            "bytes_out": .stringConvertible(bytesOut),
            "duration_ms": .stringConvertible((milliseconds * 1000).rounded() / 1000),
            "request_id": "\(requestId)",
            "access_key": "\(accessKey)",
        ])
    }

    // MARK: - Routing

    /// Query parameters that select a sub-resource (an operation other than the plain one).
    static let subresources: Set<String> = [
        "abac", "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
        "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
        "metadataConfiguration", "metadataTable", "metrics", "notification", "object-lock",
        "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock",
        "renameObject", "replication", "requestPayment", "restore", "retention", "select",
        "session", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions", "website",
    ]

    /// One S3 operation: who may call it and what runs it.
    struct Operation {
        let rule: AccessRule
        let run: (Context) async throws -> S3Response

        init(_ rule: AccessRule, _ run: @escaping (Context) async throws -> S3Response) {
            self.rule = rule
            self.run = run
        }
    }

    /// The operation a request asks for. Every route names the IAM action a bucket policy
    /// sees and what grants it without one (see ``AccessRule``).
    private func operation(for request: S3Request) throws -> Operation {
        let method = request.method
        let subresource = Self.subresource(of: request)
        guard let bucket = request.bucket else {
            guard method == .GET, subresource == nil else { throw notImplemented(request, subresource) }
            return Operation(.authenticated("s3:ListAllMyBuckets")) { try await self.listBuckets($0) }
        }
        if bucket == Self.adminPath, !request.virtualHosted {
            return Operation(.handler("strata:Admin")) { try await self.admin($0) }
        }
        // No bucket can have a longer name (CreateBucket enforces S3's rules), and the
        // index's key encoding relies on it.
        guard (1...63).contains(bucket.utf8.count) else { throw S3Error.invalidBucketName(bucket: bucket) }
        if request.key == nil {
            switch (method, subresource) {
            case (.GET, nil):
                return Operation(.bucket("s3:ListBucket", .read)) {
                    $0.request.query("list-type") == "2" ? try await self.listObjectsV2($0) : try await self.listObjectsV1($0)
                }
            case (.GET, "location"): return Operation(.bucketOwner("s3:GetBucketLocation")) { try await self.getBucketLocation($0) }
            case (.PUT, nil): return Operation(.authenticated("s3:CreateBucket")) { try await self.createBucket($0) }
            case (.HEAD, nil): return Operation(.bucket("s3:ListBucket", .read)) { try await self.headBucket($0) }
            case (.DELETE, nil): return Operation(.bucketOwner("s3:DeleteBucket")) { try await self.deleteBucket($0) }
            case (.POST, "delete"): return Operation(.handler("s3:DeleteObject")) { try await self.deleteObjects($0) }
            case (.PUT, "lifecycle"):
                return Operation(.bucketOwner("s3:PutLifecycleConfiguration")) { try await self.putBucketLifecycle($0) }
            case (.GET, "lifecycle"):
                return Operation(.bucketOwner("s3:GetLifecycleConfiguration")) { try await self.getBucketLifecycle($0) }
            case (.DELETE, "lifecycle"):
                return Operation(.bucketOwner("s3:PutLifecycleConfiguration")) { try await self.deleteBucketLifecycle($0) }
            case (.GET, "uploads"):
                return Operation(.bucket("s3:ListBucketMultipartUploads", .read)) { try await self.listMultipartUploads($0) }
            case (.PUT, "versioning"):
                return Operation(.bucketOwner("s3:PutBucketVersioning")) { try await self.putBucketVersioning($0) }
            case (.GET, "versioning"):
                return Operation(.bucketOwner("s3:GetBucketVersioning")) { try await self.getBucketVersioning($0) }
            case (.GET, "versions"):
                return Operation(.bucket("s3:ListBucketVersions", .read)) { try await self.listObjectVersions($0) }
            case (.PUT, "tagging"): return Operation(.bucketOwner("s3:PutBucketTagging")) { try await self.putBucketTagging($0) }
            case (.GET, "tagging"): return Operation(.bucketOwner("s3:GetBucketTagging")) { try await self.getBucketTagging($0) }
            case (.DELETE, "tagging"):
                return Operation(.bucketOwner("s3:PutBucketTagging")) { try await self.deleteBucketTagging($0) }
            case (.PUT, "cors"): return Operation(.bucketOwner("s3:PutBucketCORS")) { try await self.putBucketCors($0) }
            case (.GET, "cors"): return Operation(.bucketOwner("s3:GetBucketCORS")) { try await self.getBucketCors($0) }
            case (.DELETE, "cors"): return Operation(.bucketOwner("s3:PutBucketCORS")) { try await self.deleteBucketCors($0) }
            case (.GET, "acl"): return Operation(.bucket("s3:GetBucketAcl", .readACP)) { try await self.getBucketAcl($0) }
            case (.PUT, "acl"): return Operation(.bucket("s3:PutBucketAcl", .writeACP)) { try await self.putBucketAcl($0) }
            case (.GET, "policy"): return Operation(.bucketOwnerOnly("s3:GetBucketPolicy")) { try await self.getBucketPolicy($0) }
            case (.PUT, "policy"): return Operation(.bucketOwnerOnly("s3:PutBucketPolicy")) { try await self.putBucketPolicy($0) }
            case (.DELETE, "policy"):
                return Operation(.bucketOwnerOnly("s3:DeleteBucketPolicy")) { try await self.deleteBucketPolicy($0) }
            case (.GET, "policyStatus"):
                return Operation(.bucketOwnerOnly("s3:GetBucketPolicyStatus")) { try await self.getBucketPolicyStatus($0) }
            case (.GET, "publicAccessBlock"):
                return Operation(.bucketOwnerOnly("s3:GetBucketPublicAccessBlock")) { try await self.getPublicAccessBlock($0) }
            case (.PUT, "publicAccessBlock"):
                return Operation(.bucketOwnerOnly("s3:PutBucketPublicAccessBlock")) { try await self.putPublicAccessBlock($0) }
            case (.DELETE, "publicAccessBlock"):
                return Operation(.bucketOwnerOnly("s3:PutBucketPublicAccessBlock")) { try await self.deletePublicAccessBlock($0) }
            case (.GET, "ownershipControls"):
                return Operation(.bucketOwnerOnly("s3:GetBucketOwnershipControls")) { try await self.getOwnershipControls($0) }
            case (.PUT, "ownershipControls"):
                return Operation(.bucketOwnerOnly("s3:PutBucketOwnershipControls")) { try await self.putOwnershipControls($0) }
            case (.DELETE, "ownershipControls"):
                return Operation(.bucketOwnerOnly("s3:PutBucketOwnershipControls")) { try await self.deleteOwnershipControls($0) }
            default: throw notImplemented(request, subresource)
            }
        }
        // A malformed version id is InvalidArgument on every object operation.
        _ = try Self.requestedVersion(request)
        // S3 checks the key length on every object operation, reads included: a GET or
        // HEAD of a 1025-byte key is 400 KeyTooLongError, not 404.
        if let key = request.key, key.utf8.count > Self.maxKeyBytes {
            throw S3Error.keyTooLongError(size: key.utf8.count, maxSizeAllowed: Self.maxKeyBytes)
        }
        let versioned = request.has("versionId")
        switch (method, subresource) {
        case (.GET, nil), (.GET, "partNumber"):
            return Operation(AccessRule.object("s3:GetObject", .read).forVersion(versioned)) { try await self.getObject($0, isHead: false) }
        case (.HEAD, nil), (.HEAD, "partNumber"):
            return Operation(AccessRule.object("s3:GetObject", .read).forVersion(versioned)) { try await self.getObject($0, isHead: true) }
        case (.PUT, nil):
            // CopyObject also needs s3:GetObject on its source, checked when it reads it.
            return Operation(.bucket("s3:PutObject", .write)) {
                $0.request.header("x-amz-copy-source") != nil ? try await self.copyObject($0) : try await self.putObject($0)
            }
        case (.DELETE, nil):
            return Operation(AccessRule.bucket("s3:DeleteObject", .write).forVersion(versioned)) { try await self.deleteObject($0) }
        case (.POST, "uploads"): return Operation(.bucket("s3:PutObject", .write)) { try await self.createMultipartUpload($0) }
        case (.PUT, "uploadId"):
            return Operation(.bucket("s3:PutObject", .write)) {
                $0.request.header("x-amz-copy-source") != nil ? try await self.uploadPartCopy($0) : try await self.uploadPart($0)
            }
        case (.POST, "uploadId"): return Operation(.bucket("s3:PutObject", .write)) { try await self.completeMultipartUpload($0) }
        case (.DELETE, "uploadId"):
            return Operation(.uploadParty("s3:AbortMultipartUpload")) { try await self.abortMultipartUpload($0) }
        case (.GET, "uploadId"):
            return Operation(.uploadParty("s3:ListMultipartUploadParts")) { try await self.listParts($0) }
        case (.GET, "acl"):
            return Operation(AccessRule.object("s3:GetObjectAcl", .readACP).forVersion(versioned)) { try await self.getObjectAcl($0) }
        case (.PUT, "acl"):
            return Operation(AccessRule.object("s3:PutObjectAcl", .writeACP).forVersion(versioned)) { try await self.putObjectAcl($0) }
        case (.GET, "tagging"):
            return Operation(AccessRule.object("s3:GetObjectTagging", .read).forVersion(versioned)) { try await self.getObjectTagging($0) }
        case (.PUT, "tagging"):
            return Operation(AccessRule.objectOwner("s3:PutObjectTagging").forVersion(versioned)) { try await self.putObjectTagging($0) }
        case (.DELETE, "tagging"):
            return Operation(AccessRule.objectOwner("s3:DeleteObjectTagging").forVersion(versioned)) {
                try await self.deleteObjectTagging($0)
            }
        default: throw notImplemented(request, subresource)
        }
    }

    /// The sub-resource a request addresses. The multipart parameters come in any order
    /// (`?partNumber=1&uploadId=…`), so they name the operation only when no other
    /// sub-resource does, and `uploadId` outranks `partNumber`.
    static func subresource(of request: S3Request) -> String? {
        let multipart = ["uploadId", "uploads", "partNumber"]
        if let other = request.query.first(where: { subresources.contains($0.name) && !multipart.contains($0.name) }) {
            return other.name
        }
        return multipart.first { request.has($0) }
    }

    /// S3's limit on the UTF-8 length of an object key.
    static let maxKeyBytes = 1024

    private func notImplemented(_ request: S3Request, _ subresource: String?) -> S3Error {
        let what = subresource.map { "\(request.method.rawValue) ?\($0)" } ?? "\(request.method.rawValue) on this resource"
        return S3Error.notImplemented("\(what) is not implemented by Strata yet")
    }

    // MARK: - Errors

    func errorResponse(_ error: Error, resource: String, uploadId: String? = nil, requestId: String,
                       isHead: Bool) -> S3Response {
        let s3: S3Error
        switch error {
        case let e as S3Error: s3 = e
        case let e as StoreError: s3 = Self.s3Error(e, resource: resource, uploadId: uploadId)
        default:
            logger.error("internal error on \(resource): \(error)", metadata: ["request_id": "\(requestId)"])
            s3 = S3Error.internalError()
        }
        if s3.status == .internalServerError {
            logger.error("\(resource): \(s3.message)", metadata: ["request_id": "\(requestId)", "cause": "\(error)"])
        }
        var response = S3Response(status: s3.status)
        for field in s3.responseHeaders { response.headers.add(name: field.name, value: field.value) }
        if s3.status.code == 405, !response.headers.contains(name: "Allow") {
            response.headers.add(name: "Allow", value: "GET, PUT, HEAD, DELETE, POST")
        }
        guard s3.hasBody, !isHead else {
            if isHead { response.headers.add(name: "x-amz-error-code", value: s3.code) }
            return response
        }
        let document = s3.xmlDocument(resource: resource, requestId: requestId, hostId: requestId)
        response.headers.add(name: "Content-Type", value: "application/xml")
        response.body = .bytes(ByteBuffer(string: document))
        return response
    }

    /// The S3 error for an engine error, naming the resource (and multipart upload) it is about.
    static func s3Error(_ error: StoreError, resource: String, uploadId: String? = nil) -> S3Error {
        let parts = resource.dropFirst().split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = parts.first.map(String.init) ?? ""
        let key = parts.count > 1 ? String(parts[1]) : ""
        switch error.code {
        case .noSuchBucket: return .noSuchBucket(bucket: bucket)
        case .bucketAlreadyOwnedByYou: return .bucketAlreadyOwnedByYou(bucket: bucket)
        case .bucketNotEmpty: return .bucketNotEmpty(bucket: bucket)
        case .noSuchKey:
            // The current version is a delete marker: S3 says so in headers.
            var s3 = S3Error.noSuchKey(key: key)
            s3.responseHeaders = deleteMarkerHeaders(error.deleteMarker, lastModified: false)
            return s3
        case .noSuchVersion: return .noSuchVersion(key: key, versionId: "")
        case .methodNotAllowed:
            var s3 = S3Error.methodNotAllowed(method: "GET", resourceType: "DeleteMarker")
            s3.responseHeaders = deleteMarkerHeaders(error.deleteMarker, lastModified: true)
            return s3
        case .preconditionFailed: return .preconditionFailed()
        case .invalidBucketName: return .invalidBucketName(bucket: bucket)
        case .keyTooLong: return .keyTooLongError(size: key.utf8.count)
        case .invalidArgument: return .invalidArgument(error.message)
        case .badDigest: return .badDigest()
        case .invalidRange: return .invalidRange()
        case .noSuchUpload: return .noSuchUpload(uploadId: uploadId ?? "")
        case .invalidPart: return .invalidPart()
        case .invalidPartOrder: return .invalidPartOrder
        case .entityTooSmall: return .entityTooSmall()
        case .outOfSpace: return .insufficientStorage()
        case .readOnly: return .serviceUnavailable(error.message)
        case .slowDown: return .slowDown
        case .corrupt, .internalError: return .internalError(error.message)
        }
    }

    /// A request id unique within the process: a random start and a counter, spread by
    /// an odd multiplier so consecutive ids do not look alike. (Eight bytes from the
    /// system's random source per request cost eight `getrandom` system calls.)
    static func makeRequestId() -> String {
        let n = requestCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        let value = (requestIdSeed &+ n) &* 0x9E37_79B9_7F4A_7C15
        return Hex.encode(withUnsafeBytes(of: value.bigEndian) { Array($0) }).uppercased()
    }
    private static let requestIdSeed = UInt64.random(in: 0...UInt64.max)
    private static let requestCounter = Atomic<UInt64>(0)
}
