#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import NIOCore
import SegmentLog

/// A GET's view of one object version: its information and where the requested bytes
/// are, with the segment files already open. Because the files were opened when the GET
/// started, the reader streams that version to its end even if the key is overwritten or
/// the segment compacted away meanwhile (docs/DESIGN.md, "Readers never see a
/// half-written object").
public struct ObjectReader: Sendable {
    /// A run of bytes in an open segment file: all or part of one extent.
    public struct Piece: Sendable {
        public var file: SegmentFile
        /// The extent the piece lies in. An extent is the whole payload of one data
        /// record (FORMAT.md, "Reads"), whose CRC-32 ``verify(chunkSize:)`` checks.
        public var extent: Extent
        public var offset: UInt64
        public var length: UInt64

        /// Whether the piece is its whole extent (not a sub-range, as in a range GET).
        public var isWholeExtent: Bool { offset == extent.offset && length == extent.length }

        /// The piece as a `FileRegion` for sendfile, on its own duplicated descriptor: the
        /// caller owns the region's file handle and closes it once the region is written.
        public func makeFileRegion() throws -> FileRegion {
            let fd = dup(file.descriptor)
            guard fd >= 0 else { throw StoreError.wrap(IOError("dup", path: file.path, errno: errno)) }
            return FileRegion(fileHandle: NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd),
                              readerIndex: Int(offset), endIndex: Int(offset + length))
        }

        /// Checks that the piece's bytes are the bytes that were written: the header in
        /// front of the extent is a valid `data` record header whose payload is exactly the
        /// extent, and the payload matches its CRC-32. The checksum covers the whole
        /// payload, so this reads the whole extent even for a piece that is a small range
        /// of it, in chunks of at most `chunkSize` (memory stays flat for any record size).
        /// Blocking.
        /// - Throws: `StoreError` `.corrupt` naming the segment and the record's offset.
        /// The default chunk stays below the 256 KiB from which `strata serve` has glibc
        /// map (and unmap) each allocation, so the buffer comes from the heap, not fresh
        /// zeroed pages on every check.
        public func verify(chunkSize: Int = 128 << 10) throws {
            let header = try dataRecordHeader()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(min(UInt64(chunkSize), extent.length)),
                                                                alignment: 16)
            defer { buffer.deallocate() }
            var crc: UInt32 = 0
            var done: UInt64 = 0
            while done < extent.length {
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(Int(min(UInt64(buffer.count), extent.length - done))))
                try readFully(at: extent.offset + done, into: chunk)
                crc = CRC32.checksum(UnsafeRawBufferPointer(chunk), continuing: crc)
                done += UInt64(chunk.count)
            }
            try check(crc, against: header)
        }

        /// The piece's bytes, checked as ``verify(chunkSize:)`` checks them, in one read:
        /// for a piece that is its whole extent, the checksum is computed on the buffer
        /// that is returned. Blocking.
        /// Reads `length` bytes at `offset` within the piece, unchecked. Blocking.
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            try readFully(at: self.offset + offset, into: buffer)
        }

        func readVerified() throws -> ByteBuffer {
            precondition(isWholeExtent)
            let header = try dataRecordHeader()
            var buffer = ByteBufferAllocator().buffer(capacity: Int(length))
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Int(length)) { space in
                let payload = UnsafeMutableRawBufferPointer(rebasing: space.prefix(Int(length)))
                try readFully(at: offset, into: payload)
                return payload.count
            }
            try check(buffer.withUnsafeReadableBytes { CRC32.checksum($0) }, against: header)
            return buffer
        }

        /// The header of the data record whose payload is the extent, checked against it.
        private func dataRecordHeader() throws -> RecordHeader {
            let headerSize = UInt64(SegmentFormat.recordHeaderSize)
            guard extent.offset >= UInt64(SegmentFormat.fileHeaderSize) + headerSize else {
                throw corrupt("no room for a record header in front of the extent")
            }
            var bytes = [UInt8](repeating: 0, count: SegmentFormat.recordHeaderSize)
            try bytes.withUnsafeMutableBytes { try readFully(at: extent.offset - headerSize, into: $0) }
            let header: RecordHeader
            do {
                header = try bytes.withUnsafeBytes { try RecordHeader.decode($0) }
            } catch {
                throw corrupt("no valid record header in front of the object's bytes (\(error))")
            }
            guard header.type == .data else { throw corrupt("a \(header.type) record, not a data record") }
            guard UInt64(header.payloadLength) == extent.length else {
                throw corrupt("the data record holds \(header.payloadLength) bytes, the index says \(extent.length)")
            }
            return header
        }

        private func check(_ crc: UInt32, against header: RecordHeader) throws {
            guard crc == header.payloadCRC else { throw corrupt("checksum mismatch in the object's bytes") }
        }

        private func readFully(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            guard try file.read(at: offset, into: buffer) == buffer.count else {
                throw StoreError(.corrupt, "segment file \(SegmentLog.fileName(file.id)) is shorter than the index says")
            }
        }

        /// Names the record by the offset `strata inspect` and `strata verify` use.
        private func corrupt(_ reason: String) -> StoreError {
            let record = extent.offset >= UInt64(SegmentFormat.recordHeaderSize)
                ? extent.offset - UInt64(SegmentFormat.recordHeaderSize) : extent.offset
            return StoreError(.corrupt, "segment file \(SegmentLog.fileName(extent.segment)) offset \(record): \(reason) (strata verify --deep lists every damaged record)")
        }
    }

    public let info: ObjectInfo
    /// The bytes of the object this reader serves (plaintext bytes for an encrypted object).
    public let range: Range<UInt64>
    /// The stored bytes ``pieces`` cover: ``range`` itself, or for an encrypted object the
    /// sealed chunks that hold it.
    public let storedRange: Range<UInt64>
    public let pieces: [Piece]
    /// The bytes of ``range``, already read and checked, for a small object read when it
    /// was opened (``ObjectStore/getObject(bucket:key:range:prefetchUpTo:)``): one trip to
    /// the thread pool serves the whole GET.
    public private(set) var prefetched: ByteBuffer?
    /// An encrypted object's stream keys, once ``opened(with:)`` was given its key.
    private(set) var streamKeys: [EncryptionKey]?

    /// Whether the stored bytes are sealed: they are served only through
    /// ``ObjectStore/stream(_:chunkSize:_:)`` after ``opened(with:)``, never by sendfile.
    public var isSealed: Bool { info.encryption != nil }

    init(info: ObjectInfo, range: Range<UInt64>, files: [UInt64: SegmentFile]) throws {
        self.info = info
        self.range = range
        let stored = info.encryption == nil ? range : ObjectInfo.SealedStreams(info).storedSpan(of: range)
        self.storedRange = stored
        var pieces: [Piece] = []
        var objectOffset: UInt64 = 0
        for extent in info.extents {
            let start = max(stored.lowerBound, objectOffset)
            let end = min(stored.upperBound, objectOffset + extent.length)
            if start < end {
                guard let file = files[extent.segment] else {
                    throw StoreError(.corrupt, "segment file \(SegmentLog.fileName(extent.segment)) of \(info.bucket)/\(info.key) is missing")
                }
                pieces.append(Piece(file: file, extent: extent, offset: extent.offset + (start - objectOffset),
                                    length: end - start))
            }
            objectOffset += extent.length
        }
        self.pieces = pieces
    }

    /// A reader of a whole object whose bytes are already in memory (``ObjectCache``):
    /// no pieces, everything in ``prefetched``.
    init(info: ObjectInfo, bytes: ByteBuffer) {
        self.info = info
        self.range = 0..<UInt64(bytes.readableBytes)
        self.storedRange = range
        self.pieces = []
        self.prefetched = bytes
    }

    /// The reader of an encrypted object, able to open it with its object key (unwrapped,
    /// or the customer's). A wrong key is found out when the first chunk does not open.
    public func opened(with objectKey: EncryptionKey) -> ObjectReader {
        var reader = self
        reader.streamKeys = info.encryption?.streamKeys(objectKey)
        return reader
    }

    /// A reader for part of this reader's bytes, on the same open files (so the same
    /// version), e.g. a GET's Range once its conditions were checked on `info`.
    /// `range` is relative to the object and must lie within ``range``.
    public func narrowed(to range: Range<UInt64>) -> ObjectReader {
        precondition(range.lowerBound >= self.range.lowerBound && range.upperBound <= self.range.upperBound)
        let stored = isSealed ? ObjectInfo.SealedStreams(info).storedSpan(of: range) : range
        var pieces: [Piece] = []
        var position = storedRange.lowerBound
        for piece in self.pieces {
            let start = max(stored.lowerBound, position), end = min(stored.upperBound, position + piece.length)
            if start < end {
                pieces.append(Piece(file: piece.file, extent: piece.extent, offset: piece.offset + (start - position),
                                    length: end - start))
            }
            position += piece.length
        }
        var narrowed = ObjectReader(info: info, range: range, storedRange: stored, pieces: pieces)
        narrowed.streamKeys = streamKeys
        narrowed.prefetched = prefetched?.getSlice(at: prefetched!.readerIndex + Int(range.lowerBound - self.range.lowerBound),
                                                    length: range.count)
        return narrowed
    }

    private init(info: ObjectInfo, range: Range<UInt64>, storedRange: Range<UInt64>, pieces: [Piece]) {
        self.info = info
        self.range = range
        self.storedRange = storedRange
        self.pieces = pieces
    }

    /// What turns this reader's stored bytes into its plaintext. Throws for an encrypted
    /// object not yet ``opened(with:)``.
    func plaintext() throws -> SealedReading? {
        guard isSealed else { return nil }
        guard let streamKeys else { throw StoreError(.internalError, "an encrypted object read without its key") }
        return SealedReading(info: info, keys: streamKeys, range: range)
    }

    /// Reads and checks the bytes of ``range`` into ``prefetched`` when every piece is a
    /// whole extent (each is then checked on the very buffer that is kept). Blocking.
    mutating func prefetch() throws {
        guard !isSealed, pieces.allSatisfy(\.isWholeExtent) else { return }
        var buffer = ByteBufferAllocator().buffer(capacity: range.count)
        for piece in pieces {
            var bytes = try piece.readVerified()
            buffer.writeBuffer(&bytes)
        }
        prefetched = buffer
    }

    /// Reads the range in chunks of at most `chunkSize` bytes, in order; each piece is
    /// verified before any of its bytes is handed on (and an encrypted object's chunks
    /// opened). Blocking.
    public func read(chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let prefetched {
            try prefetched.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = min(chunkSize, bytes.count - offset)
                    try body(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                    offset += n
                }
            }
            return
        }
        var opening = try plaintext()
        func pass(_ bytes: UnsafeRawBufferPointer) throws {
            guard opening != nil else { return try body(bytes) }
            try opening!.feed(bytes, body)
        }
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        for piece in pieces {
            try piece.verify(chunkSize: chunkSize)
            var done: UInt64 = 0
            while done < piece.length {
                let n = Int(min(UInt64(chunkSize), piece.length - done))
                let got = try chunk.withUnsafeMutableBytes {
                    try piece.file.read(at: piece.offset + done, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]))
                }
                guard got == n else {
                    throw StoreError(.corrupt, "segment file \(SegmentLog.fileName(piece.file.id)) is shorter than the index says")
                }
                try chunk.withUnsafeBytes { try pass(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                done += UInt64(n)
            }
        }
        try opening?.finish()
    }

    /// The whole range as one array (for small objects and tests).
    public func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(range.count))
        try read { out.append(contentsOf: $0) }
        return out
    }
}

/// Turns the sealed bytes of an encrypted object's stored range (fed in order, in pieces
/// of any size) into the plaintext of the reader's range: opens each chunk once all of
/// it has arrived, and hands on only the requested bytes. A chunk that does not open
/// (a wrong key, changed bytes) throws before any of its bytes is handed on.
struct SealedReading {
    private struct Step {
        var opener: SealedStream.Opener
        var chunks: Range<Int>
        var skip: Int
        var wanted: UInt64
    }
    private var steps: [Step] = []
    private var step = 0
    private var chunk = 0
    private var handed: UInt64 = 0
    private var carry: [UInt8] = []

    init(info: ObjectInfo, keys: [EncryptionKey], range: Range<UInt64>) {
        let streams = ObjectInfo.SealedStreams(info)
        for (index, local) in streams.touching(range) {
            let size = streams.streams[index].plaintextSize
            let span = SealedStream.span(covering: local, plaintextSize: size)
            let key = index < keys.count ? keys[index].symmetric : SymmetricKey(size: .bits256)  // missing: fails to open
            steps.append(Step(opener: SealedStream.Opener(key: key, plaintextSize: size), chunks: span.chunks,
                              skip: span.skip, wanted: UInt64(local.count)))
        }
        chunk = steps.first?.chunks.lowerBound ?? 0
    }

    /// The sealed size of chunk `index` of a stream.
    private static func sealedLength(_ index: Int, of opener: SealedStream.Opener) -> Int {
        let count = Int(SealedStream.chunkCount(plaintext: opener.plaintextSize))
        guard index == count - 1 else { return SealedStream.chunkSize + SealedStream.tagSize }
        return Int(opener.plaintextSize - UInt64(index) * UInt64(SealedStream.chunkSize)) + SealedStream.tagSize
    }

    /// Feeds the next stored bytes; `emit` gets the plaintext of each chunk that is
    /// complete (the requested part of it). Whole chunks are opened where they lie in
    /// `bytes`; only a chunk split between two feeds is gathered first.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var input = bytes[...]
        if !carry.isEmpty, let length = nextLength() {
            let take = min(length - carry.count, input.count)
            carry.append(contentsOf: input.prefix(take))
            input = input.dropFirst(take)
            guard carry.count == length else { return }
            try carry.withUnsafeBytes { try openNext($0, emit) }
            carry.removeAll(keepingCapacity: true)
        }
        while carry.isEmpty, let length = nextLength(), input.count >= length {
            try openNext(UnsafeRawBufferPointer(rebasing: input.prefix(length)), emit)
            input = input.dropFirst(length)
        }
        // The start of a chunk that ends in a later feed (or bytes past the last chunk,
        // which ``finish()`` refuses).
        carry.append(contentsOf: input)
    }

    /// The sealed length of the next chunk to open; nil once every chunk was opened.
    private mutating func nextLength() -> Int? {
        while step < steps.count, chunk == steps[step].chunks.upperBound { advance() }  // an empty span
        guard step < steps.count else { return nil }
        return Self.sealedLength(chunk, of: steps[step].opener)
    }

    private mutating func openNext(_ sealed: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let current = steps[step]
        let plain: Data
        do {
            plain = try current.opener.open(chunk: chunk, raw: sealed)
        } catch {
            throw StoreError(.corrupt, "\(error) (strata verify --deep checks every record)")
        }
        let start = chunk == current.chunks.lowerBound ? current.skip : 0
        let n = Int(min(UInt64(max(0, plain.count - start)), current.wanted - handed))
        if n > 0 { try plain.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) } }
        handed += UInt64(n)
        chunk += 1
        if chunk == current.chunks.upperBound { advance() }
    }

    private mutating func advance() {
        step += 1
        handed = 0
        if step < steps.count { chunk = steps[step].chunks.lowerBound }
    }

    /// Every chunk arrived and opened, and nothing more came.
    mutating func finish() throws {
        guard nextLength() == nil, carry.isEmpty else {
            throw StoreError(.corrupt, "\(SealedStream.Unreadable(chunk: chunk)): the stored bytes end early")
        }
    }
}
