import Crypto
import Foundation
import NIOCore

/// A streaming MD5, for ETags and for checking `Content-MD5`.
// swift-crypto's digests are copy-on-write value types but are not marked Sendable;
// copies never share mutable state, so sending a hasher across tasks is safe.
public struct MD5Hasher: @unchecked Sendable {
    private var hash = Insecure.MD5()

    /// Starts an empty hash.
    public init() {}

    /// Feeds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: bytes)
    }

    /// Feeds the readable bytes of `buffer` without consuming them.
    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
    }

    /// Feeds a byte array.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { hash.update(bufferPointer: $0) }
    }

    /// The 16-byte digest of everything fed so far.
    public func finalize() -> [UInt8] { Array(hash.finalize()) }

    /// The lowercase hex digest: a single-part object's ETag, without the quotes.
    public func finalizeHex() -> String { Hex.encode(finalize()) }

    /// The base64 digest: the form of a `Content-MD5` header.
    public func finalizeBase64() -> String { Data(finalize()).base64EncodedString() }

    /// Decodes a `Content-MD5` header into its 16 digest bytes, or nil if it is not base64
    /// of 16 bytes (S3 answers `InvalidDigest`). Compare digests, not strings.
    public static func decodeContentMD5(_ value: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: value.trimmingCharacters(in: .whitespaces)),
              data.count == 16 else { return nil }
        return Array(data)
    }

    /// The ETag of a multipart object, without quotes: hex(md5(concat(binary part MD5s)))-N.
    public static func multipartETag(partDigests: [[UInt8]]) -> String {
        var hasher = MD5Hasher()
        for part in partDigests { hasher.update(part) }
        return "\(hasher.finalizeHex())-\(partDigests.count)"
    }
}
