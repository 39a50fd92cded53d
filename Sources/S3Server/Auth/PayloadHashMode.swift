/// What `x-amz-content-sha256` says about the body, and so how the body must be read
/// and checked.
public enum PayloadHashMode: Sendable, Hashable {
    /// A hex SHA-256 of the whole body; the server must check it (XAmzContentSHA256Mismatch).
    case sha256(String)
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    case unsignedPayload
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    case streamingSigned
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks plus a signed trailer.
    case streamingSignedTrailer
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked without chunk signatures, with a
    /// trailing checksum (boto3 ≥ 1.36, AWS CLI ≥ 2.23).
    case streamingUnsignedTrailer

    /// Parses a header value. Returns nil for anything else, including the ECDSA (SigV4a)
    /// variants which Strata does not implement.
    public init?(headerValue: String) {
        switch headerValue {
        case "UNSIGNED-PAYLOAD": self = .unsignedPayload
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": self = .streamingSigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": self = .streamingSignedTrailer
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": self = .streamingUnsignedTrailer
        default:
            guard Hex.isHex(headerValue, length: 64) else { return nil }
            self = .sha256(headerValue.lowercased())
        }
    }

    /// The literal value as it appears in the header and the canonical request.
    public var headerValue: String {
        switch self {
        case .sha256(let hex): return hex
        case .unsignedPayload: return "UNSIGNED-PAYLOAD"
        case .streamingSigned: return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        case .streamingSignedTrailer: return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        case .streamingUnsignedTrailer: return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        }
    }

    /// Whether the body is aws-chunked framed.
    public var isStreaming: Bool {
        switch self {
        case .streamingSigned, .streamingSignedTrailer, .streamingUnsignedTrailer: return true
        case .sha256, .unsignedPayload: return false
        }
    }

    /// Whether each chunk carries a signature to verify.
    public var hasChunkSignatures: Bool { self == .streamingSigned || self == .streamingSignedTrailer }

    /// Whether a trailer section is expected after the final chunk.
    public var hasTrailer: Bool { self == .streamingSignedTrailer || self == .streamingUnsignedTrailer }
}
