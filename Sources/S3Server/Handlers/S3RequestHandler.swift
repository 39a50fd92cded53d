import Crypto
import Foundation
import Logging
import Synchronization
import NIOCore
import NIOHTTP1
import ObjectStore

/// Turns one HTTP request into one S3 response: parses the target, routes it to an
/// ``S3Operation``, verifies the signature, authorizes and runs the operation, and renders
/// any error as an S3 error document. The operations themselves are in the
/// `S3RequestHandler+<Resource>.swift` files.
final class S3RequestHandler: Sendable {
    let slot: StoreSlot
    let configuration: S3ServerConfiguration
    let logger: Logger
    let authenticator: RequestAuthenticator
    let metrics = ServerMetrics()
    let settingsCache = BucketSettingsCache()
    /// The fault rules in force (`/_strata/faults`); none unless someone asked.
    let faultRules = FaultRules()

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
        // Checked when they were read (`strata serve --faults`): ids are unique.
        _ = try? faultRules.add(configuration.faults)
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
    }

    /// Reads a small request document (XML configuration, a Delete list) whole, through
    /// the same verification as any payload (x-amz-content-sha256, checksums,
    /// aws-chunked signatures, Content-MD5).
    func readDocument(_ context: Context, limit: Int, checksumHeadersDescribeBody: Bool = true) async throws -> [UInt8] {
        let contentMD5 = try context.request.header("content-md5").map { value in
            guard let digest = MD5Hasher.decodeContentMD5(value) else { throw S3Error.invalidDigest(contentMD5: value) }
            return digest
        }
        var payload = try PayloadReader(request: context.request, signing: context.signing, auth: context.auth,
                                        body: context.body, checksumHeadersDescribeBody: checksumHeadersDescribeBody)
        var bytes: [UInt8] = []
        var md5 = MD5Hasher()
        while var piece = try await payload.next() {
            guard bytes.count + piece.readableBytes <= limit else { throw S3Error.malformedXML }
            md5.update(piece)
            bytes += piece.readBytes(length: piece.readableBytes) ?? []
        }
        _ = try payload.finish()
        if let contentMD5, contentMD5 != md5.finalize() { throw S3Error.badDigest() }
        return bytes
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
        var operationName = "Other"
        var response: S3Response
        var parsed: S3Request?
        var fault: FiredFault?
        if let health = healthResponse(head) { return health }
        if let metricsPage = await metricsResponse(head) { return metricsPage }
        var access: RequestAccess?
        do {
            guard slot.store != nil else {
                throw S3Error.serviceUnavailable("Strata is still opening its data directory (recovery); try again shortly")
            }
            let request = try S3Request(head: head, domain: configuration.domain)
            resource = request.resource
            uploadId = request.query("uploadId")
            parsed = request
            // Requests whose credentials are not in the usual places: a CORS preflight
            // carries none (browsers never send them), a browser POST upload carries them
            // as form fields in its body.
            if head.method == .OPTIONS {
                operationName = "PreflightRequest"
                response = try await preflight(try CORSPreflight(request))
            } else if let bucket = Self.postObjectBucket(request) {
                operationName = "PostObject"
                response = try await postObject(request, bucket: bucket, body: body, accessKey: &accessKey,
                                                remoteAddress: remoteAddress)
            } else {
                // Routed before the signature is checked, so that the access log and the
                // metrics name the operation whatever the outcome; a routing error is
                // answered after the signature's.
                let operation = Result { try S3Operation(request) }
                if case .success(let routed) = operation { operationName = routed.name }
                response = try await authenticateAndRun(operation, request: request, body: body,
                                                        remoteAddress: remoteAddress, accessKey: &accessKey, access: &access,
                                                        fault: &fault)
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
        response.shaping = fault?.action.responseShaping
        response.headers.add(name: "x-amz-request-id", value: requestId)
        response.headers.add(name: "x-amz-id-2", value: requestId)
        response.headers.add(name: "Server", value: "Strata")
        response.headers.add(name: "Date", value: HTTPDateCache.now())
        logRequest(AccessLogEntry(head: head, operation: operationName, resource: resource, response: response,
                                  requestId: requestId, accessKey: accessKey, bytesIn: body.bytesRead,
                                  duration: ContinuousClock.now - started, fault: fault?.id))
        return response
    }

    /// Verifies the request's signature (none: anonymous), decides whether the caller may
    /// make the operation it was routed to, and runs it.
    private func authenticateAndRun(_ operation: Result<S3Operation, Error>, request: S3Request, body: RequestBody,
                                    remoteAddress: String?, accessKey: inout String,
                                    access: inout RequestAccess?, fault: inout FiredFault?) async throws -> S3Response {
        let signing = SigningRequest(method: request.method.rawValue, rawPath: request.rawPath,
                                     rawQuery: request.rawQuery, headers: request.headers.map { ($0.name, $0.value) },
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
        let operation = try operation.get()
        // A fault rule acts on a request whose signature checked out, before it is
        // authorized and run: an injected error stores nothing.
        if !faultRules.isEmpty, operation.name != "Admin",
           let fired = faultRules.fire(operation: operation.name, bucket: request.bucket, key: request.key,
                                       accessKey: principal.isAnonymous ? nil : accessKey) {
            fault = fired
            try await inject(fired, body: body)
        }
        let requester = Requester(request: request, principal: principal, auth: auth, remoteAddress: remoteAddress, now: now)
        try await checkExpectedBucketOwner(request)
        let requestAccess = try await authorize(operation.accessRule, bucket: request.bucket, key: request.key, requester)
        access = requestAccess
        return try await run(operation, Context(request: request, signing: signing, auth: auth, body: body,
                                                principal: principal, access: requestAccess, remoteAddress: remoteAddress))
    }

    /// Runs an authorized operation.
    private func run(_ operation: S3Operation, _ context: Context) async throws -> S3Response {
        switch operation {
        case .listBuckets(let parameters): return try await listBuckets(parameters, context)
        case .compact(let parameters): return try await compact(parameters, context)
        case .faults(let request): return try await faults(request, context)
        case .reset: return try await reset(context)
        case .snapshots(let request): return try await snapshots(request, context)

        case .createBucket(let bucket): return try await createBucket(bucket, context)
        case .headBucket(let bucket): return try await headBucket(bucket)
        case .deleteBucket(let bucket): return try await deleteBucket(bucket)
        case .getBucketLocation(let bucket): return try await getBucketLocation(bucket)
        case .listObjects(let bucket, let parameters): return try await listObjects(bucket, parameters, context)
        case .listObjectsV2(let bucket, let parameters): return try await listObjectsV2(bucket, parameters, context)
        case .listObjectVersions(let bucket, let parameters): return try await listObjectVersions(bucket, parameters, context)
        case .listMultipartUploads(let bucket, let parameters): return try await listMultipartUploads(bucket, parameters, context)
        case .deleteObjects(let bucket): return try await deleteObjects(bucket, context)

        case .getBucketVersioning(let bucket): return try await getBucketVersioning(bucket)
        case .putBucketVersioning(let bucket): return try await putBucketVersioning(bucket, context)
        case .getBucketLifecycle(let bucket): return try await getBucketLifecycle(bucket)
        case .putBucketLifecycle(let bucket): return try await putBucketLifecycle(bucket, context)
        case .deleteBucketLifecycle(let bucket): return try await deleteBucketLifecycle(bucket)
        case .getBucketTagging(let bucket): return try await getBucketTagging(bucket)
        case .putBucketTagging(let bucket): return try await putBucketTagging(bucket, context)
        case .deleteBucketTagging(let bucket): return try await deleteBucketTagging(bucket)
        case .getBucketCors(let bucket): return try await getBucketCors(bucket)
        case .getBucketEncryption(let bucket): return try await getBucketEncryption(bucket)
        case .getObjectLockConfiguration(let bucket): return try await getObjectLockConfiguration(bucket, context)
        case .getBucketFeature(let bucket, let feature, let id): return try await getBucketFeature(bucket, feature, id: id)
        case .putBucketFeature(let bucket, let feature): return try await putBucketFeature(bucket, feature, context)
        case .deleteBucketFeature(let bucket, let feature): return try await deleteBucketFeature(bucket, feature)
        case .putObjectLockConfiguration(let bucket): return try await putObjectLockConfiguration(bucket, context)
        case .putBucketEncryption(let bucket): return try await putBucketEncryption(bucket, context)
        case .deleteBucketEncryption(let bucket): return try await deleteBucketEncryption(bucket)
        case .putBucketCors(let bucket): return try await putBucketCors(bucket, context)
        case .deleteBucketCors(let bucket): return try await deleteBucketCors(bucket)
        case .getBucketAcl(let bucket): return try await getBucketAcl(bucket, context)
        case .putBucketAcl(let bucket): return try await putBucketAcl(bucket, context)
        case .getBucketPolicy(let bucket): return try await getBucketPolicy(bucket, context)
        case .putBucketPolicy(let bucket): return try await putBucketPolicy(bucket, context)
        case .deleteBucketPolicy(let bucket): return try await deleteBucketPolicy(bucket, context)
        case .getBucketPolicyStatus(let bucket): return try await getBucketPolicyStatus(bucket, context)
        case .getPublicAccessBlock(let bucket): return try await getPublicAccessBlock(bucket, context)
        case .putPublicAccessBlock(let bucket): return try await putPublicAccessBlock(bucket, context)
        case .deletePublicAccessBlock(let bucket): return try await deletePublicAccessBlock(bucket, context)
        case .getOwnershipControls(let bucket): return try await getOwnershipControls(bucket, context)
        case .putOwnershipControls(let bucket): return try await putOwnershipControls(bucket, context)
        case .deleteOwnershipControls(let bucket): return try await deleteOwnershipControls(bucket, context)

        case .getObject(let object, let partNumber):
            return try await getObject(object, partNumber: partNumber, isHead: false, context)
        case .headObject(let object, let partNumber):
            return try await getObject(object, partNumber: partNumber, isHead: true, context)
        case .putObject(let object): return try await putObject(object, context)
        case .copyObject(let object, let source): return try await copyObject(object, from: source, context)
        case .deleteObject(let object): return try await deleteObject(object, context)
        case .getObjectAcl(let object): return try await getObjectAcl(object, context)
        case .putObjectAcl(let object): return try await putObjectAcl(object, context)
        case .getObjectTagging(let object): return try await getObjectTagging(object, context)
        case .getObjectAttributes(let object): return try await getObjectAttributes(object, context)
        case .getObjectRetention(let object): return try await getObjectRetention(object, context)
        case .putObjectRetention(let object): return try await putObjectRetention(object, context)
        case .getObjectLegalHold(let object): return try await getObjectLegalHold(object, context)
        case .putObjectLegalHold(let object): return try await putObjectLegalHold(object, context)
        case .putObjectTagging(let object): return try await putObjectTagging(object, context)
        case .deleteObjectTagging(let object): return try await deleteObjectTagging(object, context)

        case .createMultipartUpload(let object): return try await createMultipartUpload(object, context)
        case .uploadPart(let upload, let partNumber): return try await uploadPart(upload, partNumber: partNumber, context)
        case .uploadPartCopy(let upload, let partNumber, let source):
            return try await uploadPartCopy(upload, partNumber: partNumber, from: source, context)
        case .completeMultipartUpload(let upload): return try await completeMultipartUpload(upload, context)
        case .abortMultipartUpload(let upload): return try await abortMultipartUpload(upload, context)
        case .listParts(let upload, let parameters): return try await listParts(upload, parameters, context)
        }
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

    /// One request as the access log and the metrics see it.
    struct AccessLogEntry {
        let head: HTTPRequestHead
        /// The S3 operation's name (``S3Operation/name``), or what else the request was.
        let operation: String
        let resource: String
        let response: S3Response
        let requestId: String
        /// The verified access key, or `-` when the request was anonymous or its
        /// signature was not (or not yet) verified.
        let accessKey: String
        /// The body bytes read from the connection (as sent, aws-chunked framing
        /// included), not what the client's headers claim.
        let bytesIn: Int64
        /// The time to the response head; a streamed body may take longer.
        let duration: Duration
        /// The id of the fault rule that fired on the request, if one did.
        var fault: String? = nil
    }

    /// The access log, one line per request (info level with `--access-log`, else debug),
    /// and the request metrics.
    private func logRequest(_ entry: AccessLogEntry) {
        let response = entry.response, resource = entry.resource, method = entry.head.method.rawValue
        let bytesOut: Int
        switch response.body {
        case .none: bytesOut = 0
        case .bytes(let buffer): bytesOut = buffer.readableBytes
        case .object(let reader, _): bytesOut = reader.range.count
        }
        metrics.request(operation: entry.operation, status: response.status.code, duration: entry.duration,
                        bytesIn: Int(entry.bytesIn), bytesOut: bytesOut)
        let level: Logger.Level = configuration.accessLog ? .info : .debug
        guard logger.logLevel <= level else { return }
        let parts = resource.dropFirst().split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let (seconds, attoseconds) = entry.duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": "\(method)",
            "bucket": "\(parts.first.map(String.init) ?? "")",
            "key": "\(parts.count > 1 ? String(parts[1]) : "")",
            "status": .stringConvertible(Int(response.status.code)),
            "bytes_in": .stringConvertible(entry.bytesIn),
            "bytes_out": .stringConvertible(bytesOut),
            "duration_ms": .stringConvertible((milliseconds * 1000).rounded() / 1000),
            "request_id": "\(entry.requestId)",
            "access_key": "\(entry.accessKey != "-" ? entry.accessKey : Self.claimedAccessKey(entry.head).map { String($0.prefix(128)) } ?? "-")",
        ]
        if response.status.code >= 400 {
            metadata["error"] = "\(response.errorCode ?? "-")"
        }
        if let fault = entry.fault { metadata["fault"] = "\(fault)" }
        logger.log(level: level, "\(method) \(resource) \(response.status.code)", metadata: metadata)
    }

    /// The access key a request names, whether or not its signature checks out: the
    /// `Credential=` of a SigV4 `Authorization` header, the key of a SigV2 one (`AWS
    /// KEY:signature`), or the presigned URL's `X-Amz-Credential` / `AWSAccessKeyId`.
    /// The access log shows it so that a refused request says which key was tried.
    static func claimedAccessKey(_ head: HTTPRequestHead) -> String? {
        if let authorization = head.headers.first(name: "Authorization") {
            if let range = authorization.range(of: "Credential=") {
                let rest = authorization[range.upperBound...]
                return String(rest.prefix { $0 != "/" && $0 != "," && $0 != " " })
            }
            if authorization.hasPrefix("AWS ") {
                return String(authorization.dropFirst(4).prefix { $0 != ":" })
            }
            return nil
        }
        guard let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = String(parts[1]).removingPercentEncoding ?? String(parts[1])
            switch parts[0] {
            case "X-Amz-Credential": return String(value.prefix { $0 != "/" })
            case "AWSAccessKeyId": return value
            default: continue
            }
        }
        return nil
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
        if s3.status == .internalServerError, !s3.isInjected {
            logger.error("\(resource): \(s3.message)", metadata: ["request_id": "\(requestId)", "cause": "\(error)"])
        }
        var response = S3Response(status: s3.status)
        response.errorCode = s3.code
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
        case .objectLocked: return .accessDenied(error.message)
        case .invalidBucketState: return .invalidBucketState(error.message)
        case .noSuchSnapshot: return S3Error(code: error.code.rawValue, status: 404, message: error.message)
        case .tooManySnapshots: return S3Error(code: error.code.rawValue, status: 400, message: error.message)
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
