import Crypto

/// How an object version is encrypted at rest (extension field 6 of its entry; FORMAT.md,
/// "Encrypted objects"). The store never holds a key that opens it: the object key is
/// either wrapped (SSE-S3, SSE-KMS: by a key only the S3 front has) or the customer's own
/// (SSE-C: only a salted HMAC of it is kept). Compaction, replay and `verify --deep` move
/// and check the sealed bytes without any key.
public struct ObjectEncryption: Sendable, Equatable {
    /// The server-side encryption a request asked for, as S3 names it.
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// SSE-S3: `x-amz-server-side-encryption: AES256`.
        case s3 = 1
        /// SSE-KMS: `aws:kms`.
        case kms = 2
        /// Dual-layer SSE-KMS: `aws:kms:dsse`.
        case kmsDSSE = 3
        /// SSE-C: the customer's key, sent with every request.
        case customer = 4

        /// The `x-amz-server-side-encryption` value (SSE-C sends none; it says AES256
        /// in `…-customer-algorithm`).
        public var headerValue: String {
            switch self {
            case .s3, .customer: "AES256"
            case .kms: "aws:kms"
            case .kmsDSSE: "aws:kms:dsse"
            }
        }

        public var isKMS: Bool { self == .kms || self == .kmsDSSE }
    }

    public var kind: Kind
    /// SSE-KMS: the key's ARN.
    public var kmsKeyID: String?
    /// SSE-KMS: the encryption context as sent (base64 of a JSON object), if any.
    public var context: String?
    /// `x-amz-server-side-encryption-bucket-key-enabled`.
    public var bucketKeyEnabled: Bool
    /// SSE-S3 and SSE-KMS: the object key, wrapped (``KeyWrap``). Empty for SSE-C.
    public var wrappedKey: [UInt8]
    /// SSE-C: what tells whether a request presents the object's key.
    public var customerKeyCheck: CustomerKeyCheck?
    /// The salt of each sealed stream, in order: one for a single-part object, one per
    /// part for a multipart object (each part is its own stream). Empty on an upload.
    public var salts: [[UInt8]]

    public init(kind: Kind, kmsKeyID: String? = nil, context: String? = nil, bucketKeyEnabled: Bool = false,
                wrappedKey: [UInt8] = [], customerKeyCheck: CustomerKeyCheck? = nil, salts: [[UInt8]] = []) {
        self.kind = kind
        self.kmsKeyID = kmsKeyID
        self.context = context
        self.bucketKeyEnabled = bucketKeyEnabled
        self.wrappedKey = wrappedKey
        self.customerKeyCheck = customerKeyCheck
        self.salts = salts
    }

    /// What `strata inspect` shows: the kind and, for SSE-KMS, the key's ARN; never key
    /// material (wrapped keys, salts and key checks stay out).
    public var summary: String {
        switch kind {
        case .s3: return "SSE-S3"
        case .kms, .kmsDSSE:
            return (kind == .kms ? "SSE-KMS" : "DSSE-KMS") + (kmsKeyID.map { " \($0)" } ?? "") + (bucketKeyEnabled ? " (bucket key)" : "")
        case .customer: return "SSE-C"
        }
    }

    /// The key each sealed stream is opened with, from the object key.
    func streamKeys(_ objectKey: EncryptionKey) -> [EncryptionKey] {
        salts.map { EncryptionKey(SealedStream.streamKey(objectKey: objectKey.symmetric, salt: $0)) }
    }
}

/// A 256-bit key as bytes, so that it can cross tasks (swift-crypto's `SymmetricKey` is
/// not `Sendable` here).
public struct EncryptionKey: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a 256-bit key")
        self.bytes = bytes
    }

    public init(_ key: SymmetricKey) { self.init(bytes: key.withUnsafeBytes { Array($0) }) }

    public var symmetric: SymmetricKey { SymmetricKey(data: bytes) }

    /// A fresh random key.
    public static func random() -> EncryptionKey { EncryptionKey(SymmetricKey(size: .bits256)) }
}

/// What a write is sealed with: the object key (never stored as is) and how the entry
/// describes the encryption.
public struct Sealing: Sendable {
    public var objectKey: EncryptionKey
    public var encryption: ObjectEncryption
    /// Whether the ETag is the plaintext's MD5 (SSE-S3). SSE-C and SSE-KMS ETags are not,
    /// as on S3: such a write computes no MD5 unless the request sent a Content-MD5.
    public var etagIsMD5: Bool
    /// Whether the request sent a Content-MD5 to check.
    public var checksMD5: Bool

    public init(objectKey: EncryptionKey, encryption: ObjectEncryption, etagIsMD5: Bool, checksMD5: Bool) {
        self.objectKey = objectKey
        self.encryption = encryption
        self.etagIsMD5 = etagIsMD5
        self.checksMD5 = checksMD5
    }
}

extension ObjectInfo {
    /// The bytes the extents hold: ``size``, or for an encrypted version its sealed streams'.
    var storedSize: UInt64 {
        guard encryption != nil else { return size }
        return (partSizes.isEmpty ? [size] : partSizes).reduce(0) { $0 + SealedStream.sealedSize(plaintext: $1) }
    }
}

extension PartInfo {
    /// The bytes the extents hold: ``size``, or sealed for a part of an encrypted upload.
    var storedSize: UInt64 { salt == nil ? size : SealedStream.sealedSize(plaintext: size) }
}

extension ObjectInfo {
    /// The sealed streams of an encrypted version: where each starts in the plaintext and
    /// in the stored bytes, and its plaintext size. A single-part object is one stream; a
    /// multipart object one per part.
    struct SealedStreams {
        struct Stream {
            var plaintextStart: UInt64
            var plaintextSize: UInt64
            var storedStart: UInt64
        }
        var streams: [Stream] = []

        init(_ info: ObjectInfo) {
            let sizes = info.partSizes.isEmpty ? [info.size] : info.partSizes
            var plain: UInt64 = 0, stored: UInt64 = 0
            for size in sizes {
                streams.append(Stream(plaintextStart: plain, plaintextSize: size, storedStart: stored))
                plain += size
                stored += SealedStream.sealedSize(plaintext: size)
            }
        }

        /// The streams a plaintext range touches, with the range within each.
        func touching(_ range: Range<UInt64>) -> [(index: Int, local: Range<UInt64>)] {
            var out: [(Int, Range<UInt64>)] = []
            for (index, stream) in streams.enumerated() {
                let start = max(range.lowerBound, stream.plaintextStart)
                let end = min(range.upperBound, stream.plaintextStart + stream.plaintextSize)
                // An empty stream (an empty object, an empty last part) lies between its
                // neighbours' stored bytes: it is read when the range starts, runs or ends
                // at its place, so that every range of the object covers the stored bytes
                // of every narrower range (a GET of the empty part by its number too).
                let at = stream.plaintextStart
                let emptyInside = stream.plaintextSize == 0 && range.lowerBound <= at && at <= range.upperBound
                if start < end || emptyInside {
                    out.append((index, (start - stream.plaintextStart)..<(max(start, end) - stream.plaintextStart)))
                }
            }
            return out
        }

        /// The stored bytes that hold the plaintext `range`: whole chunks.
        func storedSpan(of range: Range<UInt64>) -> Range<UInt64> {
            let touched = touching(range)
            guard let first = touched.first, let last = touched.last else { return 0..<0 }
            let a = streams[first.index], b = streams[last.index]
            let start = a.storedStart + SealedStream.span(covering: first.local, plaintextSize: a.plaintextSize).sealed.lowerBound
            let end = b.storedStart + SealedStream.span(covering: last.local, plaintextSize: b.plaintextSize).sealed.upperBound
            return start..<max(start, end)
        }
    }
}
