import Crypto

/// A derived SigV4 signing key with HMAC-SHA256's key schedule already done: the hash
/// states after the key's inner and outer pads. Signing a string then costs its own
/// blocks and the two finalisations, not the two pad blocks and a key object again;
/// setting up the HMAC was half of a presigned GET's signature check in the profile.
///
/// `@unchecked Sendable`: `SHA256` is a value type without the conformance; the two
/// states are only ever copied, never changed in place.
public struct SigningKey: @unchecked Sendable, Hashable {
    /// The key itself (32 bytes for a derived key).
    public let bytes: [UInt8]
    private let inner: SHA256
    private let outer: SHA256

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        // RFC 2104: a key longer than a block is hashed first; shorter ones are padded with zeros.
        var key = bytes.count > SHA256.blockByteCount ? Array(SHA256.hash(data: bytes)) : bytes
        key += [UInt8](repeating: 0, count: SHA256.blockByteCount - key.count)
        var inner = SHA256(), outer = SHA256()
        inner.update(data: key.map { $0 ^ 0x36 })
        outer.update(data: key.map { $0 ^ 0x5C })
        self.inner = inner
        self.outer = outer
    }

    /// HMAC-SHA256 of the UTF-8 of `message`.
    public func authenticationCode(for message: String) -> [UInt8] {
        var inner = self.inner, outer = self.outer, message = message
        message.withUTF8 { inner.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return Array(outer.finalize())
    }

    public static func == (a: SigningKey, b: SigningKey) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
