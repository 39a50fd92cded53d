import CDeflate
import Crypto
import Foundation
import NIOCore

/// A streaming hasher for one ``ChecksumAlgorithm``: feed the body as it arrives, then
/// read the digest bytes (or their base64 form, which is how S3 sends checksums).
///
/// A value type: copying it forks the running state, so `finalize()` can be called at any
/// point without disturbing further updates.
// swift-crypto's digests are copy-on-write value types but are not marked Sendable;
// copies never share mutable state, so sending a hasher across tasks is safe.
public struct ChecksumHasher: @unchecked Sendable {
    /// The algorithm this hasher computes.
    public let algorithm: ChecksumAlgorithm
    private var state: State

    private enum State {
        case crc32(UInt)
        case crc32c(CRC32C)
        case crc64nvme(CRC64NVME)
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
    }

    /// Starts an empty hash for `algorithm`.
    public init(_ algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: state = .crc32(0)
        case .crc32c: state = .crc32c(CRC32C())
        case .crc64nvme: state = .crc64nvme(CRC64NVME())
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        }
    }

    /// Feeds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .crc32(let crc):
            // libdeflate's CRC-32 (accelerated where the CPU allows): the same checksum as
            // zlib's, which is S3's CRC32.
            if let base = bytes.baseAddress, bytes.count > 0 {
                state = .crc32(UInt(libdeflate_crc32(UInt32(truncatingIfNeeded: crc), base, bytes.count)))
            }
        case .crc32c(var crc):
            crc.update(bytes)
            state = .crc32c(crc)
        case .crc64nvme(var crc):
            crc.update(bytes)
            state = .crc64nvme(crc)
        case .sha1(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha1(hash)
        case .sha256(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha256(hash)
        }
    }

    /// Feeds the readable bytes of `buffer` without consuming them.
    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { update($0) }
    }

    /// Feeds a byte array (or any contiguous collection of bytes).
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything fed so far, big-endian for the CRCs (as S3 encodes them).
    public func finalize() -> [UInt8] {
        switch state {
        case .crc32(let crc): return bigEndianBytes(UInt32(truncatingIfNeeded: crc))
        case .crc32c(let crc): return bigEndianBytes(crc.value)
        case .crc64nvme(let crc): return bigEndianBytes(crc.value)
        case .sha1(let hash): return Array(hash.finalize())
        case .sha256(let hash): return Array(hash.finalize())
        }
    }

    /// The digest in base64, the form used in `x-amz-checksum-*` headers and trailers.
    public func finalizeBase64() -> String {
        Data(finalize()).base64EncodedString()
    }

    /// One-shot: the digest of `bytes` under `algorithm`.
    public static func digest(_ algorithm: ChecksumAlgorithm, of bytes: [UInt8]) -> [UInt8] {
        var hasher = ChecksumHasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Decodes a base64 checksum header value, returning nil unless it is valid base64 of
    /// exactly the algorithm's digest length (S3 answers `InvalidRequest` otherwise).
    public static func decodeHeaderValue(_ value: String, for algorithm: ChecksumAlgorithm) -> [UInt8]? {
        guard let data = Data(base64Encoded: value.trimmingCharacters(in: .whitespaces)),
              data.count == algorithm.digestLength else { return nil }
        return Array(data)
    }
}

@inline(__always)
func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}
