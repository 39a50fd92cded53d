import Foundation

/// Checks the signature of an incoming request: SigV4 in the `Authorization` header,
/// SigV4 presigned URLs, and SigV2 (header and presigned URLs, as `aws s3 presign` from
/// CLI v1 and `s3cmd signurl` produce).
///
/// Pure logic: give it the request as received, a way to look up secrets and the current
/// time; it returns who signed and how the body must be read, or throws an ``S3Error``.
public struct RequestAuthenticator: Sendable {
    /// Looks up the secret for an access key id; nil if the key is unknown.
    public typealias CredentialLookup = @Sendable (String) -> String?

    /// The region requests must be signed for; nil accepts any region.
    public let region: String?
    /// How far a header-signed request's time may be from the server clock (AWS: 15 min).
    public let maxClockSkew: Int64
    let credentials: CredentialLookup
    let keyCache: SigningKeyCache

    /// The largest `X-Amz-Expires` S3 accepts: seven days.
    public static let maxPresignedExpiry: Int64 = 604_800

    /// Creates an authenticator.
    public init(region: String? = nil, maxClockSkewSeconds: Int64 = 900,
                keyCache: SigningKeyCache = SigningKeyCache(), credentials: @escaping CredentialLookup) {
        self.region = region
        self.maxClockSkew = maxClockSkewSeconds
        self.keyCache = keyCache
        self.credentials = credentials
    }

    /// Verifies the request's signature.
    ///
    /// - Returns: the verified identity and body mode, or nil when the request carries no
    ///   authentication at all (anonymous; the caller decides whether that is allowed).
    /// - Parameter virtualHostedBucket: the bucket named by the Host header, if the request
    ///   is virtual-hosted style; SigV2 signs `/bucket` + path even then.
    /// - Throws: ``S3Error`` (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `AccessDenied`,
    ///   `RequestTimeTooSkewed`, `AuthorizationHeaderMalformed`,
    ///   `AuthorizationQueryParametersError`, `MissingSecurityHeader`, `InvalidArgument`,
    ///   `InvalidRequest`, `NotImplemented`).
    public func authenticate(_ request: SigningRequest, now: Date, virtualHostedBucket: String? = nil) throws -> AuthenticatedRequest? {
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let authorization = request.header("authorization")
        let query = request.queryParameters
        let hasV4Query = query.contains { $0.name == "X-Amz-Algorithm" || $0.name == "X-Amz-Signature" || $0.name == "X-Amz-Credential" }
        let hasV2Query = query.contains { $0.name == "AWSAccessKeyId" } && query.contains { $0.name == "Signature" }

        let mechanisms = (authorization != nil ? 1 : 0) + (hasV4Query ? 1 : 0) + (hasV2Query ? 1 : 0)
        if mechanisms > 1 {
            throw S3Error.invalidArgument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
                name: "Authorization", value: authorization ?? "")
        }
        if let authorization {
            if authorization.hasPrefix(SigV4.algorithm) {
                return try verifyHeaderV4(request, authorization: authorization, now: nowSeconds)
            }
            if authorization.hasPrefix("AWS ") {
                return try verifyHeaderV2(request, authorization: authorization, now: nowSeconds, bucket: virtualHostedBucket)
            }
            if authorization.hasPrefix("AWS4-ECDSA-P256-SHA256") {
                throw S3Error.notImplemented("SigV4a (AWS4-ECDSA-P256-SHA256) is not implemented")
            }
            throw S3Error.invalidArgument("Unsupported Authorization Type", name: "Authorization", value: authorization)
        }
        if hasV4Query { return try verifyPresignedV4(request, now: nowSeconds) }
        if hasV2Query { return try verifyPresignedV2(request, now: nowSeconds, bucket: virtualHostedBucket) }
        return nil
    }

    func secret(for accessKeyId: String) throws -> String {
        guard let secret = credentials(accessKeyId) else {
            throw S3Error.invalidAccessKeyId(accessKeyId: accessKeyId)
        }
        return secret
    }
}

/// The result of a successful signature check.
public struct AuthenticatedRequest: Sendable, Hashable {
    /// How the request was signed.
    public enum Method: Sendable, Hashable {
        /// SigV4 `Authorization` header.
        case sigV4Header
        /// SigV4 presigned URL (`X-Amz-Signature` in the query).
        case sigV4Presigned
        /// SigV2 `Authorization: AWS key:signature` header.
        case sigV2Header
        /// SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature` in the query).
        case sigV2Presigned
        /// No signature at all: an anonymous request (``AuthenticatedRequest/anonymous(_:)``).
        case anonymous
        /// A browser form upload (PostObject): the form's fields carry the signature.
        case browserForm
    }

    /// The verified access key id.
    public let accessKeyId: String
    /// How it was signed.
    public let method: Method
    /// What the body is and how to check it. SigV2 and presigned requests are
    /// `.unsignedPayload` unless they sent a hash in `x-amz-content-sha256`.
    public let payload: PayloadHashMode
    /// The SigV4 credential scope (nil for SigV2).
    public let scope: CredentialScope?
    /// For SigV4 header auth: what the aws-chunked verifier needs (key, scope, seed).
    public let chunkSigning: ChunkSigningContext?
    /// The `x-amz-security-token` / `X-Amz-Security-Token`, if the client sent one.
    public let securityToken: String?
}

extension AuthenticatedRequest {
    /// A request without any signature, read like an unsigned one: a body hash in
    /// `x-amz-content-sha256` is still checked, and an unsigned aws-chunked body with a
    /// trailing checksum is decoded; signed streaming needs a signature and is refused.
    static func anonymous(_ request: SigningRequest) throws -> AuthenticatedRequest {
        var payload = PayloadHashMode.unsignedPayload
        if let value = request.header("x-amz-content-sha256"), let mode = PayloadHashMode(headerValue: value) {
            switch mode {
            case .streamingSigned, .streamingSignedTrailer:
                throw S3Error.accessDenied("Signed aws-chunked payloads need a signed request")
            default: payload = mode
            }
        }
        return AuthenticatedRequest(accessKeyId: "", method: .anonymous, payload: payload, scope: nil,
                                    chunkSigning: nil, securityToken: nil)
    }
}
