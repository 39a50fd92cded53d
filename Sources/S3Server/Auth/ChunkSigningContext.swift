/// What verifying an aws-chunked body needs from the request's header signature: the
/// signing key, the timestamp and scope lines, and the seed (the request signature),
/// from which each chunk's signature chains.
public struct ChunkSigningContext: Sendable, Hashable {
    /// The derived SigV4 signing key.
    public let signingKey: SigningKey
    /// The request timestamp, `yyyyMMdd'T'HHmmss'Z'`.
    public let timestamp: String
    /// The scope line, `date/region/service/aws4_request`.
    public let scope: String
    /// The signature of the request itself: the "previous signature" of the first chunk.
    public let seedSignature: String

    /// Creates a context.
    public init(signingKey: SigningKey, timestamp: String, scope: String, seedSignature: String) {
        self.signingKey = signingKey
        self.timestamp = timestamp
        self.scope = scope
        self.seedSignature = seedSignature
    }

    /// The string to sign for one chunk (sigv4-streaming):
    /// `AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{scope}\n{previous}\n{sha256("")}\n{sha256(chunk)}`.
    public func chunkStringToSign(previousSignature: String, chunkSHA256: String) -> String {
        "AWS4-HMAC-SHA256-PAYLOAD\n\(timestamp)\n\(scope)\n\(previousSignature)\n\(SigV4.emptySHA256)\n\(chunkSHA256)"
    }

    /// The expected signature of a chunk whose data hashes to `chunkSHA256` (hex).
    public func chunkSignature(previousSignature: String, chunkSHA256: String) -> String {
        SigV4.signature(signingKey: signingKey,
                        stringToSign: chunkStringToSign(previousSignature: previousSignature, chunkSHA256: chunkSHA256))
    }

    /// The canonical trailer text that the trailer signature covers: each trailer except
    /// `x-amz-trailer-signature` as `name:value\n`, in the order sent.
    public static func canonicalTrailers(_ trailers: [(name: String, value: String)]) -> String {
        trailers.filter { $0.name.lowercased() != "x-amz-trailer-signature" }
            .map { "\($0.name.lowercased()):\($0.value.trimmingSpaces())\n" }
            .joined()
    }

    /// The string to sign for the trailer (sigv4-streaming-trailers):
    /// `AWS4-HMAC-SHA256-TRAILER\n{timestamp}\n{scope}\n{previous}\n{sha256(trailers)}`.
    public func trailerStringToSign(previousSignature: String, trailers: [(name: String, value: String)]) -> String {
        let hash = SigV4.sha256Hex(ChunkSigningContext.canonicalTrailers(trailers))
        return "AWS4-HMAC-SHA256-TRAILER\n\(timestamp)\n\(scope)\n\(previousSignature)\n\(hash)"
    }

    /// The expected `x-amz-trailer-signature`.
    public func trailerSignature(previousSignature: String, trailers: [(name: String, value: String)]) -> String {
        SigV4.signature(signingKey: signingKey,
                        stringToSign: trailerStringToSign(previousSignature: previousSignature, trailers: trailers))
    }
}
