/// The checksum algorithms S3 accepts in `x-amz-checksum-*` headers and trailers.
///
/// The raw value is the lowercase suffix used in header names; ``wireName`` is the
/// uppercase spelling used in `x-amz-checksum-algorithm` and `x-amz-sdk-checksum-algorithm`.
public enum ChecksumAlgorithm: String, Sendable, CaseIterable, Hashable {
    case crc32
    case crc32c
    case crc64nvme
    case sha1
    case sha256

    /// The header (and trailer) name carrying this checksum, e.g. `x-amz-checksum-crc32`.
    public var headerName: String { "x-amz-checksum-\(rawValue)" }

    /// The value clients send in `x-amz-checksum-algorithm`, e.g. `CRC32`.
    public var wireName: String { rawValue.uppercased() }

    /// The length in bytes of a digest, so a decoded header value can be checked for size.
    public var digestLength: Int {
        switch self {
        case .crc32, .crc32c: return 4
        case .crc64nvme: return 8
        case .sha1: return 20
        case .sha256: return 32
        }
    }

    /// Whether S3 computes a multipart object's checksum of this type as FULL_OBJECT
    /// (CRC64NVME) rather than COMPOSITE by default.
    public var defaultsToFullObject: Bool { self == .crc64nvme }

    /// Parses an `x-amz-checksum-algorithm` value (case-insensitive: `CRC32`, `crc32`).
    public init?(wireName: String) {
        self.init(rawValue: wireName.lowercased())
    }

    /// Parses a header or trailer name such as `x-amz-checksum-crc32c` (case-insensitive).
    public init?(headerName: String) {
        let lower = headerName.lowercased()
        let prefix = "x-amz-checksum-"
        guard lower.hasPrefix(prefix) else { return nil }
        self.init(rawValue: String(lower.dropFirst(prefix.count)))
    }
}
