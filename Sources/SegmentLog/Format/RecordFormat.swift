import CDeflate
import CZlib

/// The kinds of record a segment holds. The raw values are on disk (FORMAT.md, "Record types").
public enum RecordType: UInt8, Sendable, CaseIterable {
    /// Object bytes. Not committing: bytes become part of an object only through a commit record.
    case data = 1
    /// Commit: an object version becomes current. Payload is the whole index entry.
    case putObject = 2
    /// Commit: an object is deleted (tombstone).
    case deleteObject = 3
    /// Commit: a bucket is created.
    case createBucket = 4
    /// Commit: a bucket is deleted.
    case deleteBucket = 5
    /// Commit: a multipart upload is started.
    case createUpload = 6
    /// Commit: a multipart part (a list of extents) is stored.
    case putPart = 7
    /// Commit: a multipart upload is aborted; its parts become dead space.
    case abortUpload = 8
    /// Commit: a bucket's configuration document (versioning, policy, …) is set.
    case bucketConfig = 9
    /// Commit written by compaction: a live entry's bytes now live elsewhere.
    case relocate = 10
    /// Commit: the store is emptied; every commit with a lower sequence is void.
    case reset = 11
    /// Commit: a named snapshot of the store's state is saved.
    case snapshot = 12
    /// Commit: the store returns to a snapshot's state; every commit between the two is void.
    case restore = 13
    /// Commit: a named snapshot is deleted.
    case deleteSnapshot = 14
    /// The last record of a sealed segment. Not committing.
    case seal = 15

    /// Whether replay applies this record to the index (it carries a sequence number).
    public var isCommitting: Bool {
        switch self {
        case .data, .seal: return false
        case .putObject, .deleteObject, .createBucket, .deleteBucket, .createUpload, .putPart, .abortUpload, .bucketConfig,
             .relocate, .reset, .snapshot, .restore, .deleteSnapshot: return true
        }
    }
}

/// On-disk constants of the segment format. FORMAT.md is the prose version of this file.
public enum SegmentFormat {
    /// First 8 bytes of every segment file.
    public static let fileMagic: [UInt8] = Array("STRATASG".utf8)
    /// Format version written in the segment header.
    public static let version: UInt32 = 1
    /// Size of the segment file header.
    public static let fileHeaderSize = 32
    /// First 4 bytes of every record header: "SREC".
    public static let recordMagic: UInt32 = 0x4345_5253
    /// Size of a record header.
    public static let recordHeaderSize = 32
    /// The payload version every commit payload starts with (FORMAT.md, "Payload
    /// encodings"); a reader refuses a commit record with another.
    public static let payloadVersion: UInt8 = 1
    /// Records start at multiples of this.
    public static let alignment = 8
    /// Largest payload a reader accepts; a header with a bigger length is refused.
    public static let maxPayloadSize = 1 << 30

    /// Total bytes a record with `payloadLength` bytes of payload occupies, padding included.
    public static func recordSize(payloadLength: Int) -> Int {
        recordHeaderSize + align(payloadLength)
    }

    static func align(_ n: Int) -> Int { (n + alignment - 1) & ~(alignment - 1) }
}

/// zlib's CRC-32 (ISO-HDLC polynomial), the checksum of headers and payloads.
public enum CRC32 {
    /// CRC-32 of `bytes`, continuing from `crc` (0 to start).
    ///
    /// Computed by libdeflate, which folds with carry-less multiplication (PCLMULQDQ)
    /// where the CPU has it: every byte written is checksummed, and every byte a GET sends
    /// is checked, so zlib's table-driven `crc32` (about 3 GiB/s here) was a fifth of a
    /// 1 GiB PUT's CPU and most of a first GET's. Same polynomial and values as zlib's
    /// (`CRC32Tests` compares them).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return libdeflate_crc32(crc, base, bytes.count)
    }

    /// zlib's CRC-32 of `bytes` (the reference ``checksum(_:continuing:)`` must match).
    public static func zlibChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        var value = UInt(crc)
        var offset = 0
        // zlib takes a uInt length: feed in pieces below 4 GiB.
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            value = CZlib.crc32(value, base.advanced(by: offset).assumingMemoryBound(to: UInt8.self), uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: value)
    }

    /// CRC-32 of an array of bytes.
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }
}

/// The fixed 32-byte header in front of every record.
///
/// ```
/// offset size field
///  0     4    magic "SREC" (0x43455253 little-endian)
///  4     1    type (RecordType)
///  5     1    flags (0)
///  6     2    reserved (0)
///  8     4    payload length (bytes, without padding)
/// 12     4    payload CRC-32
/// 16     8    sequence number (0 for non-committing records)
/// 24     4    reserved (0)
/// 28     4    header CRC-32 over bytes 0..<28
/// ```
/// All integers little-endian. The payload follows, then zero padding up to 8-byte alignment.
public struct RecordHeader: Sendable, Equatable {
    public var type: RecordType
    public var payloadLength: Int
    public var payloadCRC: UInt32
    public var sequence: UInt64

    public init(type: RecordType, payloadLength: Int, payloadCRC: UInt32, sequence: UInt64) {
        self.type = type
        self.payloadLength = payloadLength
        self.payloadCRC = payloadCRC
        self.sequence = sequence
    }

    /// Total size on disk of the record this header starts.
    public var recordSize: Int { SegmentFormat.recordSize(payloadLength: payloadLength) }

    /// The 32 header bytes.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: SegmentFormat.recordHeaderSize)
        w.write(SegmentFormat.recordMagic)
        w.write(type.rawValue)
        w.write(UInt8(0))
        w.write(UInt16(0))
        w.write(UInt32(payloadLength))
        w.write(payloadCRC)
        w.write(sequence)
        w.write(UInt32(0))
        w.write(CRC32.checksum(w.bytes))
        return w.bytes
    }

    /// Why a header could not be decoded.
    ///
    /// The first two mean the bytes are not a record header (damaged, or not a record
    /// boundary). The others mean they are one, checksum and all, that this build cannot
    /// read: a reader must refuse it, never skip or cut it (FORMAT.md, "Record").
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case badMagic, badChecksum
        /// A type this build does not know.
        case unknownType(UInt8)
        /// Flags or reserved bytes that are not 0.
        case unknownFlags
        /// A payload length over ``SegmentFormat/maxPayloadSize``.
        case badLength(Int)

        /// Whether the header checked out and only its content is unknown to this build.
        public var isUnsupported: Bool {
            switch self {
            case .badMagic, .badChecksum: return false
            case .unknownType, .unknownFlags, .badLength: return true
            }
        }

        public var description: String {
            switch self {
            case .badMagic: return "bad record magic"
            case .badChecksum: return "bad header checksum"
            case .unknownType(let t): return "unknown record type \(t)"
            case .unknownFlags: return "unknown record flags"
            case .badLength(let n): return "payload length \(n) over the limit of \(SegmentFormat.maxPayloadSize)"
            }
        }
    }

    /// Decodes and checks the 32 header bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> RecordHeader {
        precondition(bytes.count >= SegmentFormat.recordHeaderSize)
        func u32(_ at: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian }
        func u64(_ at: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian }
        guard u32(0) == SegmentFormat.recordMagic else { throw .badMagic }
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28]))
        guard crc == u32(28) else { throw .badChecksum }
        // `relocate` is reserved and never written: this build does not implement it.
        guard let type = RecordType(rawValue: bytes[4]), type != .relocate else { throw .unknownType(bytes[4]) }
        guard bytes[5] == 0, bytes[6] == 0, bytes[7] == 0, u32(24) == 0 else { throw .unknownFlags }
        let length = Int(u32(8))
        guard length <= SegmentFormat.maxPayloadSize else { throw .badLength(length) }
        return RecordHeader(type: type, payloadLength: length, payloadCRC: u32(12), sequence: u64(16))
    }
}

extension RecordHeader {
    /// The payload length a damaged header most likely held, and whether that is
    /// certain: bytes 0..<28 with one byte changed so that their CRC-32 is the stored one
    /// (found when exactly one such change exists, and it has the record magic), else the
    /// length field as it reads. A CRC-32 tells every one-byte change of 28 bytes apart,
    /// so one damaged byte in a header's first 28 still gives where the record ends, and
    /// the reader resumes there instead of searching inside the damaged record's
    /// payload. About 7,000 CRCs of 28 bytes; only run for a damaged header.
    public static func likelyLength(_ raw: UnsafeRawBufferPointer) -> (length: UInt32, certain: Bool) {
        if let repaired = repaired(raw) { return (UInt32(repaired.payloadLength), true) }
        // No one-byte change fits (the CRC field may be the damaged part): a guess only.
        return (raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian, false)
    }

    /// The header a damaged one was, when exactly one change of one byte of its first 28
    /// makes it check out (see ``likelyLength(_:)``); nil otherwise.
    public static func repaired(_ raw: UnsafeRawBufferPointer) -> RecordHeader? {
        precondition(raw.count >= SegmentFormat.recordHeaderSize)
        var bytes = Array(raw[0..<28])
        let stored = raw.loadUnaligned(fromByteOffset: 28, as: UInt32.self).littleEndian
        var found: [UInt8]? = nil
        for position in 0..<28 {
            let original = bytes[position]
            for value in 0...255 where UInt8(value) != original {
                bytes[position] = UInt8(value)
                if CRC32.checksum(bytes) == stored {
                    if found != nil { return nil }  // two repairs: no certainty
                    found = bytes + Array(raw[28..<32])
                }
            }
            bytes[position] = original
        }
        return found.flatMap { repaired in repaired.withUnsafeBytes { try? decode($0) } }
    }
}

/// The 32-byte header at the start of every segment file.
///
/// ```
/// offset size field
///  0     8    magic "STRATASG"
///  8     4    format version (1)
/// 12     4    header size (32)
/// 16     8    segment id
/// 24     4    reserved (0)
/// 28     4    CRC-32 over bytes 0..<28
/// ```
public struct SegmentFileHeader: Sendable, Equatable {
    public var segmentID: UInt64

    public init(segmentID: UInt64) { self.segmentID = segmentID }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: SegmentFormat.fileHeaderSize)
        w.write(bytes: SegmentFormat.fileMagic)
        w.write(SegmentFormat.version)
        w.write(UInt32(SegmentFormat.fileHeaderSize))
        w.write(segmentID)
        w.write(UInt32(0))
        w.write(CRC32.checksum(w.bytes))
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) -> SegmentFileHeader? {
        guard bytes.count >= SegmentFormat.fileHeaderSize,
              Array(bytes[0..<8]) == SegmentFormat.fileMagic else { return nil }
        var r = ByteReader(bytes)
        _ = try? r.readBytes(8)
        guard let version = try? r.read(UInt32.self), version == SegmentFormat.version,
              let size = try? r.read(UInt32.self), size == SegmentFormat.fileHeaderSize,
              let id = try? r.read(UInt64.self), (try? r.read(UInt32.self)) != nil,
              let crc = try? r.read(UInt32.self),
              crc == CRC32.checksum(Array(bytes[0..<28])) else { return nil }
        return SegmentFileHeader(segmentID: id)
    }
}
