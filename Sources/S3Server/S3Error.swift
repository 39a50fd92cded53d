import ObjectStore
import NIOHTTP1

/// An S3 error as AWS reports it: the code string clients switch on, the HTTP status, a
/// human message and any extra fields AWS puts in the error document (for example
/// `CanonicalRequest` and `StringToSign` on `SignatureDoesNotMatch`).
///
/// Build one with the static members (`S3Error.noSuchKey(key:)`,
/// `S3Error.signatureDoesNotMatch(…)`), throw it anywhere in the request path, and render it
/// with ``xmlDocument(resource:requestId:hostId:)``.
public struct S3Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// One extra element of the error document, in document order.
    public struct Field: Sendable, Hashable {
        /// The element name, e.g. `Key`.
        public var name: String
        /// The element text (escaped when rendered).
        public var value: String

        /// Creates a field.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    private enum Code: String, Sendable, Hashable {
        case accessDenied = "AccessDenied"
        case authorizationHeaderMalformed = "AuthorizationHeaderMalformed"
        case authorizationQueryParametersError = "AuthorizationQueryParametersError"
        case badDigest = "BadDigest"
        case bucketAlreadyExists = "BucketAlreadyExists"
        case bucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
        case bucketNotEmpty = "BucketNotEmpty"
        case entityTooLarge = "EntityTooLarge"
        case entityTooSmall = "EntityTooSmall"
        case incompleteBody = "IncompleteBody"
        case internalError = "InternalError"
        case invalidAccessKeyId = "InvalidAccessKeyId"
        case invalidArgument = "InvalidArgument"
        case invalidBucketName = "InvalidBucketName"
        case invalidDigest = "InvalidDigest"
        case invalidPart = "InvalidPart"
        case invalidPartOrder = "InvalidPartOrder"
        case invalidPartNumber = "InvalidPartNumber"
        case invalidRange = "InvalidRange"
        case invalidRequest = "InvalidRequest"
        case keyTooLongError = "KeyTooLongError"
        case malformedTrailerError = "MalformedTrailerError"
        case malformedXML = "MalformedXML"
        case methodNotAllowed = "MethodNotAllowed"
        case missingContentLength = "MissingContentLength"
        case missingSecurityHeader = "MissingSecurityHeader"
        case noSuchBucket = "NoSuchBucket"
        case noSuchKey = "NoSuchKey"
        case noSuchUpload = "NoSuchUpload"
        case noSuchVersion = "NoSuchVersion"
        case notImplemented = "NotImplemented"
        case notModified = "NotModified"
        case preconditionFailed = "PreconditionFailed"
        case requestTimeTooSkewed = "RequestTimeTooSkewed"
        case signatureDoesNotMatch = "SignatureDoesNotMatch"
        case slowDown = "SlowDown"
        case xAmzContentSHA256Mismatch = "XAmzContentSHA256Mismatch"
        case metadataTooLarge = "MetadataTooLarge"
        case noSuchLifecycleConfiguration = "NoSuchLifecycleConfiguration"
        case invalidStorageClass = "InvalidStorageClass"
        case insufficientStorage = "InsufficientStorage"
        case serviceUnavailable = "ServiceUnavailable"
        case accessControlListNotSupported = "AccessControlListNotSupported"
        case operationAborted = "OperationAborted"
        case malformedACLError = "MalformedACLError"
        case unresolvableGrantByEmailAddress = "UnresolvableGrantByEmailAddress"
        case malformedPolicy = "MalformedPolicy"
        case noSuchBucketPolicy = "NoSuchBucketPolicy"
        case noSuchPublicAccessBlockConfiguration = "NoSuchPublicAccessBlockConfiguration"
        case ownershipControlsNotFoundError = "OwnershipControlsNotFoundError"
        case invalidBucketAclWithObjectOwnership = "InvalidBucketAclWithObjectOwnership"
        case accessForbidden = "AccessForbidden"
        case badRequest = "BadRequest"
        case noSuchCORSConfiguration = "NoSuchCORSConfiguration"
        case invalidPolicyDocument = "InvalidPolicyDocument"
        case maxPostPreDataLengthExceeded = "MaxPostPreDataLengthExceededError"
        case malformedPOSTRequest = "MalformedPOSTRequest"
        case invalidTag = "InvalidTag"
        case noSuchTagSet = "NoSuchTagSet"
        case invalidEncryptionAlgorithmError = "InvalidEncryptionAlgorithmError"
        case kmsNotFound = "KMS.NotFoundException"
        case invalidBucketState = "InvalidBucketState"
        case replicationConfigurationNotFoundError = "ReplicationConfigurationNotFoundError"
        case noSuchWebsiteConfiguration = "NoSuchWebsiteConfiguration"
        case noSuchConfiguration = "NoSuchConfiguration"
        case objectLockConfigurationNotFoundError = "ObjectLockConfigurationNotFoundError"
        case noSuchObjectLockConfiguration = "NoSuchObjectLockConfiguration"
        case serverSideEncryptionConfigurationNotFoundError = "ServerSideEncryptionConfigurationNotFoundError"

        var status: HTTPResponseStatus {
            switch self {
            case .accessDenied, .invalidAccessKeyId, .requestTimeTooSkewed, .signatureDoesNotMatch, .accessForbidden:
                return .forbidden
            case .noSuchBucket, .noSuchKey, .noSuchUpload, .noSuchVersion, .noSuchLifecycleConfiguration,
                 .noSuchCORSConfiguration, .noSuchTagSet:
                return .notFound
            case .noSuchBucketPolicy, .noSuchPublicAccessBlockConfiguration, .ownershipControlsNotFoundError,
                 .serverSideEncryptionConfigurationNotFoundError:
                return .notFound
            case .invalidEncryptionAlgorithmError, .kmsNotFound: return .badRequest
            case .invalidBucketState: return .conflict
            case .objectLockConfigurationNotFoundError, .noSuchObjectLockConfiguration, .replicationConfigurationNotFoundError,
                 .noSuchWebsiteConfiguration, .noSuchConfiguration:
                return .notFound
            case .accessControlListNotSupported, .malformedACLError, .unresolvableGrantByEmailAddress,
                 .malformedPolicy, .invalidBucketAclWithObjectOwnership:
                return .badRequest
            case .bucketAlreadyExists, .bucketAlreadyOwnedByYou, .bucketNotEmpty, .operationAborted:
                return .conflict
            case .methodNotAllowed: return .methodNotAllowed
            case .missingContentLength: return .lengthRequired
            case .preconditionFailed: return .preconditionFailed
            case .invalidRange, .invalidPartNumber: return .rangeNotSatisfiable
            case .notModified: return .notModified
            case .internalError: return .internalServerError
            case .notImplemented: return .notImplemented
            case .slowDown, .serviceUnavailable: return .serviceUnavailable
            case .insufficientStorage: return .insufficientStorage
            case .metadataTooLarge, .invalidStorageClass, .invalidTag, .badRequest: return .badRequest
            case .authorizationHeaderMalformed, .authorizationQueryParametersError, .badDigest,
                 .entityTooLarge, .entityTooSmall, .incompleteBody, .invalidArgument,
                 .invalidBucketName, .invalidDigest, .invalidPart, .invalidPartOrder,
                 .invalidRequest, .keyTooLongError, .malformedTrailerError, .malformedXML,
                 .missingSecurityHeader, .xAmzContentSHA256Mismatch, .invalidPolicyDocument,
                 .maxPostPreDataLengthExceeded, .malformedPOSTRequest:
                return .badRequest
            }
        }
    }

    private let base: Code
    /// The code and status of an error a fault rule injects (any code, any status); nil
    /// for every error Strata answers of its own accord.
    private let injected: Injected?
    private struct Injected: Sendable, Hashable {
        let code: String
        let status: Int
    }
    /// The human-readable message (`<Message>`).
    public let message: String
    /// Extra elements rendered after `<Message>`, in order.
    public let fields: [Field]
    /// Headers the error response carries besides the usual ones (for example
    /// `Content-Range: bytes */size` on InvalidRange).
    public var responseHeaders: [Field] = []

    private init(_ base: Code, _ message: String, _ fields: [Field] = []) {
        self.base = base
        self.injected = nil
        self.message = message
        self.fields = fields
    }

    /// An error of any code and status, rendered like any other: what a fault rule
    /// answers with (`/_strata/faults`), or an operator endpoint's own error.
    init(code: String, status: Int, message: String) {
        self.base = .internalError
        self.injected = Injected(code: code, status: status)
        self.message = message
        self.fields = []
    }

    /// The HTTP status AWS answers `code` with, for the codes Strata answers itself.
    static func status(ofCode code: String) -> Int? {
        Code(rawValue: code).map { Int($0.status.code) }
    }

    /// The AWS error code, e.g. `NoSuchKey`.
    public var code: String { injected?.code ?? base.rawValue }

    /// Whether the error was made with ``init(code:status:message:)`` (a fault rule's):
    /// an injected 500 is not logged as a failure of the server.
    var isInjected: Bool { injected != nil }

    /// The HTTP status AWS answers with for this code.
    public var status: HTTPResponseStatus {
        injected.map { HTTPResponseStatus(statusCode: $0.status) } ?? base.status
    }

    /// Whether the response carries an XML body: false only for `NotModified` (304).
    public var hasBody: Bool { injected != nil || base != .notModified }

    /// The value of an extra field, if present.
    public func field(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// `Code: message`, for logs.
    public var description: String { "\(code): \(message)" }
}

// MARK: - The codes

extension S3Error {
    /// 403: the caller may not do this (also used for expired presigned URLs).
    public static func accessDenied(_ message: String = "Access Denied") -> S3Error {
        S3Error(.accessDenied, message)
    }

    /// 400: the `Authorization` header could not be parsed or has a bad credential scope.
    public static func authorizationHeaderMalformed(_ message: String) -> S3Error {
        S3Error(.authorizationHeaderMalformed, "The authorization header is malformed; \(message)")
    }

    /// 400: the presigned-URL query parameters are missing or malformed.
    public static func authorizationQueryParametersError(_ message: String) -> S3Error {
        S3Error(.authorizationQueryParametersError, message)
    }

    /// 400: a request signed for another region than the server's configured one. AWS
    /// names the expected region in `<Region>`; clients such as s3cmd sign again with it.
    /// `presigned` picks the code: `AuthorizationQueryParametersError` for a presigned
    /// URL, `AuthorizationHeaderMalformed` for the `Authorization` header.
    public static func wrongSigningRegion(_ region: String, expected: String, presigned: Bool) -> S3Error {
        let wrong = "the region '\(region)' is wrong; expecting '\(expected)'"
        return presigned
            ? S3Error(.authorizationQueryParametersError, "Error parsing the X-Amz-Credential parameter; \(wrong)",
                      [Field("Region", expected)])
            : S3Error(.authorizationHeaderMalformed, "The authorization header is malformed; \(wrong)",
                      [Field("Region", expected)])
    }

    /// 403: the request carries headers its SigV4 signature does not cover (`host`, or an
    /// `x-amz-*` header left out of the signed headers), named in `<HeadersNotSigned>`.
    public static func headersNotSigned(_ names: [String]) -> S3Error {
        S3Error(.accessDenied, "There were headers present in the request which were not signed",
                [Field("HeadersNotSigned", names.joined(separator: ", "))])
    }

    /// 403: a SigV4 presigned URL used after its `X-Amz-Expires` ran out. AWS adds the
    /// URL's lifetime, when it ended and the server's time (ISO 8601, seconds).
    public static func presignedRequestExpired(expiresSeconds: Int64, expires: String, serverTime: String) -> S3Error {
        S3Error(.accessDenied, "Request has expired",
                [Field("X-Amz-Expires", String(expiresSeconds)), Field("Expires", expires), Field("ServerTime", serverTime)])
    }

    /// 400: the body does not match a `Content-MD5` or `x-amz-checksum-*` value.
    public static func badDigest(
        _ message: String = "The Content-MD5 you specified did not match what we received."
    ) -> S3Error {
        S3Error(.badDigest, message)
    }

    /// 409: a bucket with this name exists and belongs to someone else.
    public static func bucketAlreadyExists(bucket: String) -> S3Error {
        S3Error(.bucketAlreadyExists,
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                [Field("BucketName", bucket)])
    }

    /// 409: the caller already owns this bucket.
    public static func bucketAlreadyOwnedByYou(bucket: String) -> S3Error {
        S3Error(.bucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it.",
                [Field("BucketName", bucket)])
    }

    /// 409: DeleteBucket on a bucket that still holds objects or uploads.
    public static func bucketNotEmpty(bucket: String) -> S3Error {
        S3Error(.bucketNotEmpty, "The bucket you tried to delete is not empty", [Field("BucketName", bucket)])
    }

    /// 400: the upload (or part) exceeds the maximum size.
    public static func entityTooLarge(proposedSize: Int64? = nil, maxSizeAllowed: Int64) -> S3Error {
        var fields: [Field] = []
        if let proposedSize { fields.append(Field("ProposedSize", String(proposedSize))) }
        fields.append(Field("MaxSizeAllowed", String(maxSizeAllowed)))
        return S3Error(.entityTooLarge, "Your proposed upload exceeds the maximum allowed size", fields)
    }

    /// 400: a multipart part other than the last is below the minimum part size.
    public static func entityTooSmall(proposedSize: Int64? = nil, minSizeAllowed: Int64? = nil) -> S3Error {
        var fields: [Field] = []
        if let proposedSize { fields.append(Field("ProposedSize", String(proposedSize))) }
        if let minSizeAllowed { fields.append(Field("MinSizeAllowed", String(minSizeAllowed))) }
        return S3Error(.entityTooSmall, "Your proposed upload is smaller than the minimum allowed object size.", fields)
    }

    /// 400: the body ended before the declared length (Content-Length or
    /// `x-amz-decoded-content-length`).
    public static func incompleteBody(
        _ message: String = "You did not provide the number of bytes specified by the Content-Length HTTP header."
    ) -> S3Error {
        S3Error(.incompleteBody, message)
    }

    /// 500: a server-side failure; the request may be retried.
    public static func internalError(
        _ message: String = "We encountered an internal error. Please try again."
    ) -> S3Error {
        S3Error(.internalError, message)
    }

    /// 403: the access key is unknown.
    public static func invalidAccessKeyId(accessKeyId: String) -> S3Error {
        S3Error(.invalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records.",
                [Field("AWSAccessKeyId", accessKeyId)])
    }

    /// 400: a parameter or header has an invalid value.
    public static func invalidArgument(_ message: String, name: String? = nil, value: String? = nil) -> S3Error {
        var fields: [Field] = []
        if let name { fields.append(Field("ArgumentName", name)) }
        if let value { fields.append(Field("ArgumentValue", value)) }
        return S3Error(.invalidArgument, message, fields)
    }

    /// 400: an SSE-C algorithm other than AES256 (S3 names the argument
    /// `x-amz-server-side-encryption` here too).
    public static func invalidEncryptionAlgorithm(_ algorithm: String) -> S3Error {
        S3Error(.invalidEncryptionAlgorithmError, "The Encryption request you specified is not valid. Supported value: AES256.",
                [Field("ArgumentName", "x-amz-server-side-encryption"), Field("ArgumentValue", algorithm)])
    }

    /// 400: the KMS key a request names is not in the key list (as AWS KMS answers).
    public static func kmsNotFound(_ message: String) -> S3Error {
        S3Error(.kmsNotFound, message)
    }

    /// 409: the bucket's state forbids the change (Object Lock and versioning).
    public static func invalidBucketState(_ message: String) -> S3Error {
        S3Error(.invalidBucketState, message)
    }

    /// 404: GetBucketReplication on a bucket without replication.
    public static func replicationConfigurationNotFound(bucket: String) -> S3Error {
        S3Error(.replicationConfigurationNotFoundError, "The replication configuration was not found", [Field("BucketName", bucket)])
    }

    /// 404: GetBucketWebsite on a bucket without a website configuration.
    public static func noSuchWebsiteConfiguration(bucket: String) -> S3Error {
        S3Error(.noSuchWebsiteConfiguration, "The specified bucket does not have a website configuration", [Field("BucketName", bucket)])
    }

    /// 404: an analytics, metrics, inventory or intelligent-tiering configuration by an id
    /// that names none.
    public static var noSuchConfiguration: S3Error {
        S3Error(.noSuchConfiguration, "The specified configuration does not exist.")
    }

    /// 404: GetObjectLockConfiguration on a bucket without Object Lock.
    public static func objectLockConfigurationNotFound(bucket: String) -> S3Error {
        S3Error(.objectLockConfigurationNotFoundError, "Object Lock configuration does not exist for this bucket",
                [Field("BucketName", bucket)])
    }

    /// 404: GetObjectRetention or GetObjectLegalHold of a version without one.
    public static var noSuchObjectLockConfiguration: S3Error {
        S3Error(.noSuchObjectLockConfiguration, "The specified object does not have a ObjectLock configuration")
    }

    /// 404: GetBucketEncryption on a bucket without default encryption.
    public static func serverSideEncryptionConfigurationNotFound(bucket: String) -> S3Error {
        S3Error(.serverSideEncryptionConfigurationNotFoundError, "The server side encryption configuration was not found",
                [Field("BucketName", bucket)])
    }

    /// 400: the bucket name breaks the naming rules.
    public static func invalidBucketName(bucket: String) -> S3Error {
        S3Error(.invalidBucketName, "The specified bucket is not valid.", [Field("BucketName", bucket)])
    }

    /// 400: the `Content-MD5` header is not base64 of 16 bytes.
    public static func invalidDigest(contentMD5: String? = nil) -> S3Error {
        S3Error(.invalidDigest, "The Content-MD5 you specified is not valid.",
                contentMD5.map { [Field("Content-MD5", $0)] } ?? [])
    }

    /// 400: CompleteMultipartUpload names a part that does not exist or whose ETag differs.
    public static func invalidPart(partNumber: Int? = nil, eTag: String? = nil) -> S3Error {
        var fields: [Field] = []
        if let partNumber { fields.append(Field("PartNumber", String(partNumber))) }
        if let eTag { fields.append(Field("ETag", eTag)) }
        return S3Error(.invalidPart,
                       "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                       fields)
    }

    /// 400: CompleteMultipartUpload lists parts out of ascending order.
    public static var invalidPartOrder: S3Error {
        S3Error(.invalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
    }

    /// 416: GET/HEAD `?partNumber=` names a part the object does not have.
    public static var invalidPartNumber: S3Error {
        S3Error(.invalidPartNumber, "The requested partnumber is not satisfiable")
    }

    /// 416: the Range starts beyond the object; the server also sends `Content-Range: bytes */size`.
    public static func invalidRange(range: String? = nil, objectSize: Int64? = nil) -> S3Error {
        var fields: [Field] = []
        if let range { fields.append(Field("RangeRequested", range)) }
        if let objectSize { fields.append(Field("ActualObjectSize", String(objectSize))) }
        return S3Error(.invalidRange, "The requested range is not satisfiable", fields)
    }

    /// 400: a request that is wrong in a way no more specific code covers.
    public static func invalidRequest(_ message: String) -> S3Error {
        S3Error(.invalidRequest, message)
    }

    /// 400: the key exceeds 1024 bytes.
    public static func keyTooLongError(size: Int? = nil, maxSizeAllowed: Int = 1024) -> S3Error {
        var fields: [Field] = []
        if let size { fields.append(Field("Size", String(size))) }
        fields.append(Field("MaxSizeAllowed", String(maxSizeAllowed)))
        return S3Error(.keyTooLongError, "Your key is too long", fields)
    }

    /// 400: the trailer section of an aws-chunked body is malformed or missing.
    public static func malformedTrailerError(
        _ message: String = "The request contained trailing data that was not well-formed or did not conform to our published schema."
    ) -> S3Error {
        S3Error(.malformedTrailerError, message)
    }

    /// 400: a request body is not well-formed XML or does not fit the schema.
    public static var malformedXML: S3Error {
        S3Error(.malformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema")
    }

    /// 405: the method is not allowed on this resource.
    public static func methodNotAllowed(method: String, resourceType: String? = nil) -> S3Error {
        var fields = [Field("Method", method)]
        if let resourceType { fields.append(Field("ResourceType", resourceType)) }
        return S3Error(.methodNotAllowed, "The specified method is not allowed against this resource.", fields)
    }

    /// 411: a PUT without Content-Length (and not chunked).
    public static var missingContentLength: S3Error {
        S3Error(.missingContentLength, "You must provide the Content-Length HTTP header.")
    }

    /// 400: a header that authentication needs is absent.
    public static func missingSecurityHeader(headerName: String) -> S3Error {
        S3Error(.missingSecurityHeader, "Your request was missing a required header",
                [Field("MissingHeaderName", headerName)])
    }

    /// 404: the bucket does not exist.
    public static func noSuchBucket(bucket: String) -> S3Error {
        S3Error(.noSuchBucket, "The specified bucket does not exist", [Field("BucketName", bucket)])
    }

    /// 404: the key does not exist.
    public static func noSuchKey(key: String) -> S3Error {
        S3Error(.noSuchKey, "The specified key does not exist.", [Field("Key", key)])
    }

    /// 404: the multipart upload id is unknown, aborted or completed.
    public static func noSuchUpload(uploadId: String) -> S3Error {
        S3Error(.noSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
                [Field("UploadId", uploadId)])
    }

    /// 404: the version id does not exist for this key.
    public static func noSuchVersion(key: String, versionId: String) -> S3Error {
        S3Error(.noSuchVersion, "The specified version does not exist.",
                [Field("Key", key), Field("VersionId", versionId)])
    }

    /// 501: a header or operation Strata does not implement.
    public static func notImplemented(
        _ message: String = "A header you provided implies functionality that is not implemented"
    ) -> S3Error {
        S3Error(.notImplemented, message)
    }

    /// 304: a conditional GET/HEAD whose condition says "unchanged"; sent without a body.
    public static var notModified: S3Error { S3Error(.notModified, "Not Modified") }

    /// 412: `If-Match`, `If-None-Match: *` on write, or `If-Unmodified-Since` failed.
    public static func preconditionFailed(condition: String? = nil) -> S3Error {
        S3Error(.preconditionFailed, "At least one of the pre-conditions you specified did not hold",
                condition.map { [Field("Condition", $0)] } ?? [])
    }

    /// 403: header-signed request more than 15 minutes away from the server clock.
    /// Times are ISO 8601 basic (`20130524T000000Z`), as AWS prints them.
    public static func requestTimeTooSkewed(requestTime: String, serverTime: String,
                                            maxAllowedSkewMilliseconds: Int = 900_000) -> S3Error {
        S3Error(.requestTimeTooSkewed,
                "The difference between the request time and the current time is too large.",
                [Field("RequestTime", requestTime), Field("ServerTime", serverTime),
                 Field("MaxAllowedSkewMilliseconds", String(maxAllowedSkewMilliseconds))])
    }

    /// 403: the signature differs from the one the server computed. Carries the
    /// canonical request and string to sign so users can diff them, as AWS does.
    public static func signatureDoesNotMatch(accessKeyId: String, stringToSign: String,
                                             signatureProvided: String, canonicalRequest: String) -> S3Error {
        S3Error(.signatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                [Field("AWSAccessKeyId", accessKeyId),
                 Field("StringToSign", stringToSign),
                 Field("SignatureProvided", signatureProvided),
                 Field("StringToSignBytes", spacedHex(stringToSign)),
                 Field("CanonicalRequest", canonicalRequest),
                 Field("CanonicalRequestBytes", spacedHex(canonicalRequest))])
    }

    /// 403: a chunk or trailer signature in an aws-chunked body is wrong (no canonical
    /// request applies, so only the message is given).
    static func chunkSignatureDoesNotMatch(_ message: String) -> S3Error {
        S3Error(.signatureDoesNotMatch, message)
    }

    /// 400: the user metadata (x-amz-meta-*) is over S3's 2 KB limit.
    public static func metadataTooLarge(size: Int, maxSizeAllowed: Int) -> S3Error {
        S3Error(.metadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size.",
                [Field("Size", String(size)), Field("MaxSizeAllowed", String(maxSizeAllowed))])
    }

    /// 404: the bucket has no lifecycle configuration.
    public static func noSuchLifecycleConfiguration(bucket: String) -> S3Error {
        S3Error(.noSuchLifecycleConfiguration, "The lifecycle configuration does not exist", [Field("BucketName", bucket)])
    }

    /// 404: the bucket has no CORS configuration (GetBucketCors).
    public static func noSuchCORSConfiguration(bucket: String) -> S3Error {
        S3Error(.noSuchCORSConfiguration, "The CORS configuration does not exist", [Field("BucketName", bucket)])
    }

    /// 403: a CORS preflight that the bucket's CORS configuration does not allow (or a
    /// bucket without one). `resourceType` is `BUCKET` or `OBJECT`, as S3 reports it.
    public static func accessForbidden(_ message: String, method: String, resourceType: String) -> S3Error {
        S3Error(.accessForbidden, message, [Field("Method", method), Field("ResourceType", resourceType)])
    }

    /// 400: a tag breaks S3's rules (key or value too long, duplicate key, `aws:` prefix).
    public static func invalidTag(_ message: String, key: String? = nil, value: String? = nil) -> S3Error {
        var fields: [Field] = []
        if let key { fields.append(Field("TagKey", key)) }
        if let value { fields.append(Field("TagValue", value)) }
        return S3Error(.invalidTag, message, fields)
    }

    /// 400 BadRequest: S3's code for some limits (more than 10 tags on an object) and for
    /// requests it cannot make sense of (a preflight without Origin).
    public static func badRequest(_ message: String) -> S3Error {
        S3Error(.badRequest, message)
    }

    /// 400: the policy of a browser POST upload is not a valid policy document.
    public static func invalidPolicyDocument(_ message: String) -> S3Error {
        S3Error(.invalidPolicyDocument, message)
    }

    /// 400: the body of a browser POST upload is not well-formed multipart/form-data.
    public static func malformedPOSTRequest(
        _ message: String = "The body of your POST request is not well-formed multipart/form-data."
    ) -> S3Error {
        S3Error(.malformedPOSTRequest, message)
    }

    /// 400: the form fields before the file of a browser POST upload are too large.
    public static var maxPostPreDataLengthExceeded: S3Error {
        S3Error(.maxPostPreDataLengthExceeded, "Your POST request fields preceeding the upload file was too large.")
    }

    /// 404: the bucket has no tags (GetBucketTagging).
    public static func noSuchTagSet(bucket: String) -> S3Error {
        S3Error(.noSuchTagSet, "The TagSet does not exist", [Field("BucketName", bucket)])
    }

    /// 400: x-amz-storage-class names no storage class S3 knows.
    public static func invalidStorageClass(_ storageClass: String) -> S3Error {
        S3Error(.invalidStorageClass, "The storage class you specified is not valid",
                [Field("StorageClassRequested", storageClass)])
    }

    /// 507: the disk is full; reads keep working, writes fail until space is freed.
    public static func insufficientStorage(_ message: String = "There is not enough space on the server's disk to store this object.") -> S3Error {
        S3Error(.insufficientStorage, message)
    }

    /// 503: the server cannot take writes right now (for example after a failed sync).
    public static func serviceUnavailable(_ message: String) -> S3Error {
        S3Error(.serviceUnavailable, message)
    }

    /// 503: the server asks the client to back off.
    public static var slowDown: S3Error { S3Error(.slowDown, "Please reduce your request rate.") }

    /// 400: `x-amz-content-sha256` was a real hash and the body hashed differently.
    public static func xAmzContentSHA256Mismatch(clientComputed: String, s3Computed: String) -> S3Error {
        S3Error(.xAmzContentSHA256Mismatch,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                [Field("ClientComputedContentSHA256", clientComputed),
                 Field("S3ComputedContentSHA256", s3Computed)])
    }

    private static func spacedHex(_ text: String) -> String {
        text.utf8.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: " ")
    }
}

// MARK: - Access control codes

extension S3Error {
    /// 400: the bucket's ownership is BucketOwnerEnforced, which disables ACLs.
    public static func accessControlListNotSupported() -> S3Error {
        S3Error(.accessControlListNotSupported, "The bucket does not allow ACLs")
    }

    /// 400: an AccessControlPolicy document that is not one.
    public static func malformedACLError() -> S3Error {
        S3Error(.malformedACLError, "The XML you provided was not well-formed or did not validate against our published schema")
    }

    /// 409: the resource changed under a conflicting operation; the client may retry.
    public static func operationAborted() -> S3Error {
        S3Error(.operationAborted, "A conflicting conditional operation is currently in progress against this resource. Try again.")
    }

    /// 400: a grant by e-mail address; Strata's users have none.
    public static func unresolvableGrantByEmailAddress() -> S3Error {
        S3Error(.unresolvableGrantByEmailAddress, "The e-mail address you provided does not match any account on record.")
    }

    /// 400: a bucket policy that is not valid JSON or not a valid policy.
    public static func malformedPolicy(_ message: String) -> S3Error {
        S3Error(.malformedPolicy, message)
    }

    /// 404: GetBucketPolicy on a bucket without one.
    public static func noSuchBucketPolicy(bucket: String) -> S3Error {
        S3Error(.noSuchBucketPolicy, "The bucket policy does not exist", [Field("BucketName", bucket)])
    }

    /// 404: GetPublicAccessBlock on a bucket without one.
    public static func noSuchPublicAccessBlockConfiguration(bucket: String) -> S3Error {
        S3Error(.noSuchPublicAccessBlockConfiguration, "The public access block configuration was not found",
                [Field("BucketName", bucket)])
    }

    /// 404: GetBucketOwnershipControls on a bucket without them.
    public static func ownershipControlsNotFoundError(bucket: String) -> S3Error {
        S3Error(.ownershipControlsNotFoundError, "The bucket ownership controls were not found", [Field("BucketName", bucket)])
    }

    /// 400: BucketOwnerEnforced asked for while the bucket's ACL grants to others.
    public static func invalidBucketAclWithObjectOwnership() -> S3Error {
        S3Error(.invalidBucketAclWithObjectOwnership,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
    }
}

/// S3 errors thrown from closures the store runs (the `change` of a metadata re-commit)
/// reach the client as thrown.
extension S3Error: ControlSignal {}
