/// Combines the CRCs of adjacent byte runs into the CRC of their concatenation without
/// the bytes: a multipart upload's FULL_OBJECT checksum is the CRC of the whole object,
/// built from the parts' CRCs and sizes when the upload completes.
///
/// zlib's `crc32_combine` method, for any reflected CRC whose initial value and final XOR
/// are all ones (CRC-32, CRC-32C, CRC-64/NVME):
/// `crc(A‖B) = crc(A)·x^(8·|B|) mod P ⊕ crc(B)`. Polynomials are in the reflected form,
/// so x⁰ is the top bit.
struct CRCCombiner<Value: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    private let polynomial: Value
    /// `x^(2^k) mod P` for k = 0, 1, …: enough squarings for any 64-bit bit count.
    private let powers: [Value]

    init(polynomial: Value) {
        self.polynomial = polynomial
        var powers: [Value] = []
        var p: Value = 1 << (Value.bitWidth - 2)  // x¹
        for _ in 0..<(64 + 3) {
            powers.append(p)
            p = Self.multiply(p, p, polynomial)
        }
        self.powers = powers
    }

    /// The CRC of A‖B from the CRC of A, the CRC of B and B's length in bytes.
    func combine(_ crcA: Value, _ crcB: Value, lengthB: UInt64) -> Value {
        guard lengthB > 0 else { return crcA }
        // x^(8·n): the bits of n select x^(2^(k+3)).
        var shift: Value = 1 << (Value.bitWidth - 1)  // x⁰
        var n = lengthB, k = 3
        while n != 0 {
            if n & 1 != 0 { shift = Self.multiply(powers[k], shift, polynomial) }
            n >>= 1
            k += 1
        }
        return Self.multiply(shift, crcA, polynomial) ^ crcB
    }

    /// a·b mod P, both reflected.
    private static func multiply(_ a: Value, _ b: Value, _ polynomial: Value) -> Value {
        guard a != 0 else { return 0 }
        var m: Value = 1 << (Value.bitWidth - 1)
        var b = b
        var p: Value = 0
        while true {
            if a & m != 0 {
                p ^= b
                if a & (m &- 1) == 0 { break }
            }
            m >>= 1
            b = b & 1 != 0 ? (b >> 1) ^ polynomial : b >> 1
        }
        return p
    }
}

extension ChecksumHasher {
    /// The FULL_OBJECT checksum of a multipart object from its parts' checksums (big-endian
    /// digests, as stored) and sizes, in part order; nil for an algorithm that cannot be
    /// combined (SHA-1, SHA-256: S3 allows only COMPOSITE for those) or a digest of the wrong length.
    static func fullObjectChecksum(algorithm: ChecksumAlgorithm, parts: [(digest: [UInt8], size: UInt64)]) -> [UInt8]? {
        switch algorithm {
        case .crc32: return combine(parts, CRCCombiner<UInt32>(polynomial: 0xEDB8_8320))
        case .crc32c: return combine(parts, CRCCombiner<UInt32>(polynomial: 0x82F6_3B78))
        case .crc64nvme: return combine(parts, CRCCombiner<UInt64>(polynomial: 0x9A6C_9329_AC4B_C9B5))
        case .sha1, .sha256: return nil
        }
    }

    private static func combine<Value>(_ parts: [(digest: [UInt8], size: UInt64)],
                                       _ combiner: CRCCombiner<Value>) -> [UInt8]? {
        var crc: Value?
        for part in parts {
            guard part.digest.count == Value.bitWidth / 8 else { return nil }
            let value = part.digest.reduce(Value(0)) { $0 << 8 | Value($1) }
            crc = crc.map { combiner.combine($0, value, lengthB: part.size) } ?? value
        }
        return crc.map { bigEndianBytes($0) }
    }
}
