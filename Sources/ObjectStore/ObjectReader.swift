#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SegmentLog

/// A GET's view of one object version: its information and where the requested bytes
/// are, with the segment files already open. Because the files were opened when the GET
/// started, the reader streams that version to its end even if the key is overwritten or
/// the segment compacted away meanwhile (DESIGN.md invariant 8).
public struct ObjectReader: Sendable {
    /// A run of bytes in an open segment file.
    public struct Piece: Sendable {
        public var file: SegmentFile
        public var offset: UInt64
        public var length: UInt64

        /// The piece as a `FileRegion` for sendfile, on its own duplicated descriptor: the
        /// caller owns the region's file handle and closes it once the region is written.
        public func makeFileRegion() throws -> FileRegion {
            let fd = dup(file.descriptor)
            guard fd >= 0 else { throw StoreError.wrap(IOError("dup", path: file.path, errno: errno)) }
            return FileRegion(fileHandle: NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd),
                              readerIndex: Int(offset), endIndex: Int(offset + length))
        }
    }

    public let info: ObjectInfo
    /// The bytes of the object this reader serves.
    public let range: Range<UInt64>
    public let pieces: [Piece]

    init(info: ObjectInfo, range: Range<UInt64>, files: [UInt64: SegmentFile]) throws {
        self.info = info
        self.range = range
        var pieces: [Piece] = []
        var objectOffset: UInt64 = 0
        for extent in info.extents {
            let start = max(range.lowerBound, objectOffset)
            let end = min(range.upperBound, objectOffset + extent.length)
            if start < end {
                guard let file = files[extent.segment] else {
                    throw StoreError(.corrupt, "segment \(extent.segment) of \(info.bucket)/\(info.key) is missing")
                }
                pieces.append(Piece(file: file, offset: extent.offset + (start - objectOffset), length: end - start))
            }
            objectOffset += extent.length
        }
        self.pieces = pieces
    }

    /// A reader for part of this reader's bytes, on the same open files (so the same
    /// version), e.g. a GET's Range once its conditions were checked on `info`.
    /// `range` is relative to the object and must lie within ``range``.
    public func narrowed(to range: Range<UInt64>) -> ObjectReader {
        precondition(range.lowerBound >= self.range.lowerBound && range.upperBound <= self.range.upperBound)
        var pieces: [Piece] = []
        var position = self.range.lowerBound
        for piece in self.pieces {
            let start = max(range.lowerBound, position), end = min(range.upperBound, position + piece.length)
            if start < end {
                pieces.append(Piece(file: piece.file, offset: piece.offset + (start - position), length: end - start))
            }
            position += piece.length
        }
        return ObjectReader(info: info, range: range, pieces: pieces)
    }

    private init(info: ObjectInfo, range: Range<UInt64>, pieces: [Piece]) {
        self.info = info
        self.range = range
        self.pieces = pieces
    }

    /// Reads the range in chunks of at most `chunkSize` bytes, in order. Blocking.
    public func read(chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        for piece in pieces {
            var done: UInt64 = 0
            while done < piece.length {
                let n = Int(min(UInt64(chunkSize), piece.length - done))
                let got = try chunk.withUnsafeMutableBytes {
                    try piece.file.read(at: piece.offset + done, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]))
                }
                guard got == n else {
                    throw StoreError(.corrupt, "segment \(piece.file.id) is shorter than the index says")
                }
                try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                done += UInt64(n)
            }
        }
    }

    /// The whole range as one array (for small objects and tests).
    public func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(range.count))
        try read { out.append(contentsOf: $0) }
        return out
    }
}
