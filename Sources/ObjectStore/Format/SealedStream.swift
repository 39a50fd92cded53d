import Crypto
import Foundation

/// The encryption of object data at rest: a *stream* (one object's bytes, or one part's)
/// is cut into chunks of ``chunkSize`` plaintext bytes, each sealed on its own with
/// AES-256-GCM, so that a range, a part or a copy decrypts only the chunks it touches.
///
/// Layout of a sealed stream of `n` plaintext bytes: `max(1, ⌈n / 65536⌉)` chunks, each
/// its ciphertext (as long as its plaintext) followed by the 16-byte GCM tag; every chunk
/// but the last holds exactly 65,536 plaintext bytes; an empty stream is one empty chunk
/// (its tag alone), so even it cannot be cut short unnoticed.
///
/// Chunk `i` (from 0) is sealed with:
/// - the stream key: HKDF-SHA256 of the object key, salted with the stream's 32 random
///   bytes (kept in the entry beside the stream), info `strata sealed stream v1`;
/// - the nonce `u64 BE i · u32 0`;
/// - the additional data `"SSE1" · u64 BE i · u8 final` (final 1 for the last chunk only).
///
/// Why a nonce never repeats under one key: every stream gets fresh random salt, so every
/// stream has its own key (two equal salts: a 2⁻²⁵⁶ chance), and within a stream each chunk
/// index is used once. Nothing ever seals under an existing stream key again: compaction
/// and crash replay move or re-read the sealed bytes as they are, a part uploaded again
/// is a new stream with new salt, and a copy opens the source and seals a new stream.
/// The index in nonce and additional data keeps chunks from being reordered, the final
/// flag keeps a stream from being cut at a chunk boundary, and the per-stream key keeps
/// chunks of one object from passing for another's.
enum SealedStream {
    /// Plaintext bytes per chunk.
    static let chunkSize = 65_536
    /// The GCM tag after each chunk's ciphertext.
    static let tagSize = 16
    /// Bytes of random salt a stream's key is derived with.
    static let saltSize = 32

    /// A stream that does not open: a wrong key, or bytes changed, reordered or cut.
    struct Unreadable: Error, CustomStringConvertible {
        var chunk: Int
        var description: String { "sealed chunk \(chunk) does not open: wrong key, or damaged data" }
    }

    /// Chunks in a stream of `plaintext` bytes.
    static func chunkCount(plaintext: UInt64) -> UInt64 {
        max(1, (plaintext + UInt64(chunkSize) - 1) / UInt64(chunkSize))
    }

    /// Stored bytes of a stream of `plaintext` bytes.
    static func sealedSize(plaintext: UInt64) -> UInt64 {
        plaintext + UInt64(tagSize) * chunkCount(plaintext: plaintext)
    }

    /// Fresh random salt for a new stream.
    static func newSalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<saltSize).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The key one stream is sealed with.
    static func streamKey(objectKey: SymmetricKey, salt: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: objectKey, salt: salt, info: Array("strata sealed stream v1".utf8),
                               outputByteCount: 32)
    }

    /// The chunks holding the plaintext bytes `range` of a stream of `plaintextSize` bytes:
    /// which chunks, where they are in the sealed stream, and where the range starts in the
    /// first chunk's plaintext.
    struct Span: Equatable {
        var chunks: Range<Int>
        var sealed: Range<UInt64>
        var skip: Int
    }

    static func span(covering range: Range<UInt64>, plaintextSize: UInt64) -> Span {
        precondition(range.upperBound <= plaintextSize, "range past the stream's end")
        let size = UInt64(chunkSize), sealedChunk = UInt64(chunkSize + tagSize)
        // An empty stream is read whole (its one chunk proves it is empty); an empty range
        // of another stream needs nothing.
        if plaintextSize == 0 { return Span(chunks: 0..<1, sealed: 0..<UInt64(tagSize), skip: 0) }
        guard !range.isEmpty else { return Span(chunks: 0..<0, sealed: 0..<0, skip: 0) }
        let first = range.lowerBound / size, last = (range.upperBound - 1) / size
        let end = min(sealedSize(plaintext: plaintextSize), (last + 1) * sealedChunk)
        return Span(chunks: Int(first)..<Int(last + 1), sealed: (first * sealedChunk)..<end,
                    skip: Int(range.lowerBound - first * size))
    }

    private static func nonce(_ index: Int) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: UInt64(index).bigEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        return try! AES.GCM.Nonce(data: bytes)  // 12 bytes: always a valid GCM nonce
    }

    private static func additionalData(_ index: Int, final: Bool) -> [UInt8] {
        var bytes = Array("SSE1".utf8)
        withUnsafeBytes(of: UInt64(index).bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(final ? 1 : 0)
        return bytes
    }

    /// As ``seal(_:key:firstChunk:final:)``, into `out` (at least ``sealedSize(plaintext:)``
    /// of the chunks' bytes); returns the bytes written.
    static func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, key: SymmetricKey,
                     firstChunk: Int, final: Bool) -> Int {
        precondition(final || (plaintext.count % chunkSize == 0 && !plaintext.isEmpty), "only the last chunk may be short")
        let count = max(1, (plaintext.count + chunkSize - 1) / chunkSize)
        precondition(out.count >= plaintext.count + count * tagSize, "room for the sealed chunks")
        var written = 0
        for i in 0..<count {
            let start = i * chunkSize, end = min(plaintext.count, start + chunkSize)
            // Sealing with a 32-byte key and a 12-byte nonce cannot fail.
            let box = try! AES.GCM.seal(UnsafeRawBufferPointer(rebasing: plaintext[start..<end]), using: key,
                                        nonce: nonce(firstChunk + i),
                                        authenticating: additionalData(firstChunk + i, final: final && i == count - 1))
            for part in [box.ciphertext, box.tag] {
                part.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[written...]).copyMemory(from: $0) }
                written += part.count
            }
        }
        return written
    }

    /// Seals `plaintext` as chunks `firstChunk`, `firstChunk + 1`, …, each of
    /// ``chunkSize`` bytes but the last; with `final` the last of them is the stream's last
    /// chunk (an empty `plaintext` is then the empty final chunk). Without `final`,
    /// `plaintext` must be whole chunks.
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, firstChunk: Int, final: Bool) -> [UInt8] {
        precondition(final || (plaintext.count % chunkSize == 0 && !plaintext.isEmpty), "only the last chunk may be short")
        let count = max(1, (plaintext.count + chunkSize - 1) / chunkSize)
        var out: [UInt8] = []
        out.reserveCapacity(plaintext.count + count * tagSize)
        for i in 0..<count {
            let start = i * chunkSize, end = min(plaintext.count, start + chunkSize)
            // Sealing with a 32-byte key and a 12-byte nonce cannot fail.
            let box = try! AES.GCM.seal(plaintext[start..<end], using: key, nonce: nonce(firstChunk + i),
                                        authenticating: additionalData(firstChunk + i, final: final && i == count - 1))
            out.append(contentsOf: box.ciphertext)
            out.append(contentsOf: box.tag)
        }
        return out
    }

    /// Seals a stream as its plaintext arrives. Feed it with ``append(_:)`` and end with
    /// ``finish()``; each returns the sealed bytes that became ready, in order.
    struct Sealer {
        private let key: SymmetricKey
        private var pending: [UInt8] = []
        private var index = 0
        private(set) var plaintextBytes: UInt64 = 0

        init(key: SymmetricKey) { self.key = key }

        /// A chunk is sealed once bytes after it have arrived: only then is it known not
        /// to be the last.
        mutating func append(_ bytes: some Collection<UInt8>) -> [UInt8] {
            pending.append(contentsOf: bytes)
            plaintextBytes += UInt64(bytes.count)
            var out: [UInt8] = []
            var start = 0
            while pending.count - start > SealedStream.chunkSize {
                out += seal(pending[start..<(start + SealedStream.chunkSize)], final: false)
                start += SealedStream.chunkSize
            }
            pending.removeFirst(start)
            return out
        }

        /// Seals the last chunk (possibly empty).
        mutating func finish() -> [UInt8] {
            defer { pending = [] }
            return seal(pending[...], final: true)
        }

        private mutating func seal(_ chunk: ArraySlice<UInt8>, final: Bool) -> [UInt8] {
            defer { index += 1 }
            // Sealing with a 32-byte key and a 12-byte nonce cannot fail.
            let box = try! AES.GCM.seal(chunk, using: key, nonce: SealedStream.nonce(index),
                                        authenticating: SealedStream.additionalData(index, final: final))
            return Array(box.ciphertext) + Array(box.tag)
        }
    }

    /// Opens chunks of a stream of a known plaintext size.
    struct Opener {
        let key: SymmetricKey
        let plaintextSize: UInt64

        /// The plaintext of chunk `index`, from exactly its sealed bytes, where they lie.
        func open(chunk index: Int, raw sealed: UnsafeRawBufferPointer) throws -> Data {
            let count = Int(SealedStream.chunkCount(plaintext: plaintextSize))
            guard index >= 0, index < count else { throw Unreadable(chunk: index) }
            let isLast = index == count - 1
            let plain = isLast ? Int(plaintextSize - UInt64(index) * UInt64(SealedStream.chunkSize)) : SealedStream.chunkSize
            guard sealed.count == plain + SealedStream.tagSize else { throw Unreadable(chunk: index) }
            do {
                let box = try AES.GCM.SealedBox(nonce: SealedStream.nonce(index),
                                                ciphertext: UnsafeRawBufferPointer(rebasing: sealed[0..<plain]),
                                                tag: UnsafeRawBufferPointer(rebasing: sealed[plain...]))
                return try AES.GCM.open(box, using: key, authenticating: SealedStream.additionalData(index, final: isLast))
            } catch {
                throw Unreadable(chunk: index)
            }
        }

        /// The plaintext of chunk `index`, from exactly its sealed bytes.
        func open(chunk index: Int, _ sealed: some Collection<UInt8>) throws -> [UInt8] {
            let count = Int(SealedStream.chunkCount(plaintext: plaintextSize))
            guard index >= 0, index < count else { throw Unreadable(chunk: index) }
            let isLast = index == count - 1
            let plain = isLast ? Int(plaintextSize - UInt64(index) * UInt64(SealedStream.chunkSize)) : SealedStream.chunkSize
            let bytes = Array(sealed)
            guard bytes.count == plain + SealedStream.tagSize else { throw Unreadable(chunk: index) }
            do {
                let box = try AES.GCM.SealedBox(nonce: SealedStream.nonce(index), ciphertext: bytes[0..<plain],
                                                tag: bytes[plain...])
                return Array(try AES.GCM.open(box, using: key, authenticating: SealedStream.additionalData(index, final: isLast)))
            } catch {
                throw Unreadable(chunk: index)
            }
        }

        /// The plaintext bytes `range`, from the sealed bytes of ``SealedStream/span(covering:plaintextSize:)``.
        func open(_ range: Range<UInt64>, sealed: some Collection<UInt8>) throws -> [UInt8] {
            let span = SealedStream.span(covering: range, plaintextSize: plaintextSize)
            let bytes = Array(sealed)
            guard UInt64(bytes.count) == span.sealed.count else { throw Unreadable(chunk: span.chunks.lowerBound) }
            var out: [UInt8] = []
            out.reserveCapacity(range.count)
            var offset = 0
            for index in span.chunks {
                let length = min(SealedStream.chunkSize + SealedStream.tagSize, bytes.count - offset)
                out += try open(chunk: index, bytes[offset..<(offset + length)])
                offset += length
            }
            return Array(out[span.skip..<(span.skip + range.count)])
        }
    }
}

/// An object key sealed by a key it is kept under (the store's master key, or a local
/// KMS key): `salt (32) · ciphertext (32) · tag (16)`. The wrapping key is derived from
/// the master key and the salt (HKDF-SHA256, info `strata key wrap v1 · context`), so
/// every wrap uses its own key and the fixed nonce cannot repeat under one key.
public enum KeyWrap {
    public static let wrappedSize = SealedStream.saltSize + 32 + SealedStream.tagSize

    public struct Unwrappable: Error, CustomStringConvertible {
        public var description: String { "the object key does not unwrap: another master key, or damaged" }
    }

    private static func wrappingKey(_ master: SymmetricKey, salt: some Collection<UInt8>, context: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: master, salt: Array(salt), info: Array("strata key wrap v1".utf8) + context,
                               outputByteCount: 32)
    }

    /// Fixed: every wrap has its own key.
    private static var nonce: AES.GCM.Nonce { try! AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)) }  // 12 bytes: valid

    /// `context` names what the key is for (e.g. the KMS key id); unwrapping needs the same.
    public static func wrap(_ objectKey: SymmetricKey, with master: SymmetricKey, context: [UInt8] = []) -> [UInt8] {
        let salt = SealedStream.newSalt()
        let plain = objectKey.withUnsafeBytes { Array($0) }
        let box = try! AES.GCM.seal(plain, using: wrappingKey(master, salt: salt, context: context), nonce: nonce)
        return salt + Array(box.ciphertext) + Array(box.tag)
    }

    public static func unwrap(_ wrapped: [UInt8], with master: SymmetricKey, context: [UInt8] = []) throws -> SymmetricKey {
        guard wrapped.count == wrappedSize else { throw Unwrappable() }
        let salt = wrapped[0..<SealedStream.saltSize]
        let cipher = wrapped[SealedStream.saltSize..<(SealedStream.saltSize + 32)]
        let tag = wrapped[(SealedStream.saltSize + 32)...]
        do {
            let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: cipher, tag: tag)
            return SymmetricKey(data: try AES.GCM.open(box, using: wrappingKey(master, salt: salt, context: context)))
        } catch {
            throw Unwrappable()
        }
    }
}

/// What is kept of an SSE-C customer key: never the key, only a salted HMAC-SHA256 that
/// tells whether a later request presents the same key.
public struct CustomerKeyCheck: Equatable, Sendable {
    public var salt: [UInt8]
    public var mac: [UInt8]

    public init(salt: [UInt8], mac: [UInt8]) {
        self.salt = salt
        self.mac = mac
    }

    public static func make(for key: SymmetricKey) -> CustomerKeyCheck {
        let salt = Array(SealedStream.newSalt().prefix(16))
        return CustomerKeyCheck(salt: salt, mac: Array(HMAC<SHA256>.authenticationCode(for: salt, using: key)))
    }

    public func matches(_ key: SymmetricKey) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: salt, using: key)
    }
}
