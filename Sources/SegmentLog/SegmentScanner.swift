/// One record found by a `SegmentScanner`.
public struct ScannedRecord: Sendable {
    public var header: RecordHeader
    public var ref: RecordRef
    /// The payload; for data records only when the scanner was asked to load them.
    public var payload: [UInt8]?

    /// The extent of a data record's whole payload.
    public var payloadExtent: Extent {
        Extent(segment: ref.segment, offset: ref.offset + UInt64(SegmentFormat.recordHeaderSize),
               length: UInt64(header.payloadLength))
    }
}

/// The bytes of a segment as a scanner reads them: a segment file, or bytes in memory
/// (tests of the reader's rules need no file).
public protocol SegmentBytes {
    /// The segment's id (records found are named by it).
    var id: UInt64 { get }
    /// The number of bytes.
    func size() throws -> UInt64
    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension SegmentFile: SegmentBytes {}

/// A segment's bytes held in memory.
public struct InMemorySegment: SegmentBytes, Sendable {
    public var id: UInt64
    public var bytes: [UInt8]

    public init(id: UInt64, bytes: [UInt8]) {
        self.id = id
        self.bytes = bytes
    }

    public func size() -> UInt64 { UInt64(bytes.count) }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard offset < UInt64(bytes.count) else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + n)])) }
        return n
    }
}

/// How a record can be damaged: its bytes are not what was written.
public enum RecordDamage: Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than a record header are left.
    case partialHeader
    /// No record magic where a record should start.
    case badMagic
    /// The header's CRC-32 does not match.
    case badHeaderChecksum
    /// The header checks out but the record runs past the end of the file.
    case runsPastEnd
    /// The payload's CRC-32 does not match.
    case badPayloadChecksum
    /// The segment's file header does not check out (found by recovery, not the scanner).
    case badSegmentHeader

    /// The byte the index's `damaged` table stores for this kind (FORMAT.md, "Index").
    public var code: UInt8 {
        switch self {
        case .partialHeader: return 1
        case .badMagic: return 2
        case .badHeaderChecksum: return 3
        case .runsPastEnd: return 4
        case .badPayloadChecksum: return 5
        case .badSegmentHeader: return 6
        }
    }

    public init?(code: UInt8) {
        let all: [RecordDamage] = [.partialHeader, .badMagic, .badHeaderChecksum, .runsPastEnd, .badPayloadChecksum, .badSegmentHeader]
        guard let found = all.first(where: { $0.code == code }) else { return nil }
        self = found
    }

    public var description: String {
        switch self {
        case .partialHeader: return "partial record header"
        case .badMagic: return "bad record magic"
        case .badHeaderChecksum: return "bad header checksum"
        case .runsPastEnd: return "record runs past the end of the file"
        case .badPayloadChecksum: return "payload checksum mismatch"
        case .badSegmentHeader: return "bad segment file header"
        }
    }
}

/// Bytes of a segment that are not valid records but are followed by valid ones:
/// corruption, not a torn tail. Everything after them is kept.
public struct DamagedSpan: Equatable, Sendable {
    public var segment: UInt64
    /// Where the damaged record was to start.
    public var offset: UInt64
    /// Up to the next valid record (or the end of the file).
    public var length: UInt64
    public var damage: RecordDamage

    /// The name of the segment's file (what an operator looks for in `DATA/segments`).
    public var segmentFileName: String { SegmentLog.fileName(segment) }

    public init(segment: UInt64, offset: UInt64, length: UInt64, damage: RecordDamage) {
        self.segment = segment
        self.offset = offset
        self.length = length
        self.damage = damage
    }
}

/// A record that checks out (magic, header checksum) but that this build cannot read:
/// an unknown type, flags or payload version, a length over the limit, or records after
/// a seal. Readers refuse the log instead of guessing: cutting or skipping it could throw
/// away what a newer Strata wrote.
public struct UnsupportedRecord: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable, CustomStringConvertible {
        case header(RecordHeader.DecodeError)
        case unknownPayloadVersion(UInt8?)
        case dataAfterSeal

        public var description: String {
            switch self {
            case .header(let e): return "\(e)"
            case .unknownPayloadVersion(let v): return "unknown payload version \(v.map { "\($0)" } ?? "(empty payload)")"
            case .dataAfterSeal: return "records after the seal record"
            }
        }
    }

    public var segment: UInt64
    public var offset: UInt64
    public var reason: Reason

    public var description: String {
        let dataAfterSeal = reason == .dataAfterSeal
        return "segment \(SegmentLog.fileName(segment)) offset \(offset): \(reason)"
            + (dataAfterSeal ? " (nothing is ever written after a seal: the file was changed by something else)"
                             : " (written by a newer Strata? this build cannot read it, so it refuses the log rather than cut or skip it)")
    }
}

/// Walks the records of one segment from a given offset, checking every header and
/// payload checksum.
///
/// A damaged record is told apart from a torn tail by what follows it. The scanner
/// looks for the next valid record after it (as LevelDB's log reader resynchronises):
/// right after the record when its length is known (its header checks out, or a
/// one-byte repair of the header makes it check out: ``RecordHeader/repaired(_:)``),
/// so the damaged record's payload is never searched; else where the length field as it
/// reads points, then at every 8-byte boundary after the damaged record's start, for the
/// record magic followed by a header and payload that check out. If one is found, the
/// bytes in between are a ``DamagedSpan`` (in ``damaged``) and the scan goes on there; if
/// none is, the scan ends with ``End/torn(_:)`` at the damaged record.
/// (`resynchronize: false` ends the scan at the first damage, for a tail whose bytes may
/// be garbage: see Recovery.)
///
/// Where the length of a damaged header cannot be known (two or more damaged bytes in
/// it), the search may look inside its payload; a stored object that holds records (a
/// segment file kept as an object) could then be read as records. Every damaged span is
/// reported, so an operator learns of it (`strata verify`).
///
/// A record whose header checks out but which this build cannot read throws
/// ``UnsupportedRecord``, wherever it is.
public struct SegmentScanner {
    /// Why the scan stopped.
    public enum End: Equatable, Sendable {
        /// Not stopped yet.
        case none
        /// The file ends exactly after a record (or after the seal record).
        case clean
        /// Bytes from `validEnd` on are not a whole, valid record and no valid record
        /// follows them: a torn tail (in the last segment) or a damaged end.
        case torn(RecordDamage)
    }

    private let source: any SegmentBytes
    private let segment: UInt64
    private let fileSize: UInt64
    private let loadData: Bool
    private let resynchronize: Bool
    private var offset: UInt64
    private var sealed = false
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    private static let windowSize = 1 << 20

    public private(set) var end: End = .none
    /// Where the valid records end (so far).
    public var validEnd: UInt64 { offset }
    /// Damaged bytes followed by valid records, in file order.
    public private(set) var damaged: [DamagedSpan] = []

    /// - Parameters:
    ///   - from: offset of the first record; nil for the first record after the file header.
    ///   - loadData: also return the payloads of data records (they are checked either way).
    ///   - resynchronize: look past a damaged record for valid ones (see the type's doc).
    ///   - upTo: read no further than this offset (the file ends there for the scan).
    public init(file: some SegmentBytes, from: UInt64? = nil, upTo: UInt64? = nil, loadData: Bool = false, resynchronize: Bool = true) throws {
        self.source = file
        self.segment = file.id
        self.fileSize = min(try file.size(), upTo ?? .max)
        self.offset = from ?? UInt64(SegmentFormat.fileHeaderSize)
        self.loadData = loadData
        self.resynchronize = resynchronize
    }

    /// The next valid record, or nil when the scan stopped (see `end`).
    /// - Throws: ``UnsupportedRecord`` for a record this build cannot read.
    public mutating func next() throws -> ScannedRecord? {
        while end == .none {
            let remaining = fileSize > offset ? fileSize - offset : 0
            if remaining == 0 {
                end = .clean
                return nil
            }
            if sealed { throw UnsupportedRecord(segment: segment, offset: offset, reason: .dataAfterSeal) }
            switch try examine(at: offset, keepPayload: loadData) {
            case .valid(let record):
                offset = record.ref.end.offset
                if record.header.type == .seal { sealed = true }
                return record
            case .damaged(let damage, let resumeAt, let guess, let certain):
                if resynchronize, let next = try nextValidRecord(resumeAt: resumeAt, guess: guess, certain: certain) {
                    damaged.append(DamagedSpan(segment: segment, offset: offset, length: next - offset, damage: damage))
                    offset = next
                } else {
                    end = .torn(damage)
                }
            }
        }
        return nil
    }

    /// What lies at a record boundary.
    private enum Examined {
        case valid(ScannedRecord)
        /// Not a valid record. `resumeAt`: where a following record can start at the
        /// earliest. `guess`: where the next record would be, from the header's length;
        /// `certain` when the header checks out or a one-byte repair of it does (then
        /// nothing before `guess` is searched: it is the damaged record's payload).
        case damaged(RecordDamage, resumeAt: UInt64, guess: UInt64?, certain: Bool)
    }

    private mutating func examine(at start: UInt64, keepPayload: Bool) throws -> Examined {
        let remaining = fileSize > start ? fileSize - start : 0
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        guard remaining >= headerSize else { return .damaged(.partialHeader, resumeAt: fileSize, guess: nil, certain: true) }
        let decoded: Result<RecordHeader, RecordHeader.DecodeError> = try bytes(at: start, count: SegmentFormat.recordHeaderSize) {
            Self.decodeHeader($0)
        }
        let header: RecordHeader
        switch decoded {
        case .success(let h):
            header = h
        case .failure(.badChecksum), .failure(.badMagic):
            let (length, certain) = try bytes(at: start, count: SegmentFormat.recordHeaderSize) { RecordHeader.likelyLength($0) }
            let guess = start + UInt64(SegmentFormat.recordSize(payloadLength: Int(min(length, UInt32(SegmentFormat.maxPayloadSize)))))
            let damage: RecordDamage = decoded == .failure(.badMagic) ? .badMagic : .badHeaderChecksum
            return .damaged(damage, resumeAt: start + UInt64(SegmentFormat.alignment), guess: guess, certain: certain)
        case .failure(let error):
            throw UnsupportedRecord(segment: segment, offset: start, reason: .header(error))
        }
        let size = UInt64(header.recordSize)
        guard size <= remaining else { return .damaged(.runsPastEnd, resumeAt: fileSize, guess: nil, certain: true) }
        let payloadStart = start + headerSize
        var payload: [UInt8]? = nil
        var crc: UInt32 = 0
        if header.type != .data || keepPayload {
            let p = try bytes(at: payloadStart, count: header.payloadLength) { Array($0) }
            crc = CRC32.checksum(p)
            payload = p
        } else {
            var at = payloadStart
            var left = header.payloadLength
            while left > 0 {
                let n = min(left, Self.windowSize)
                crc = try bytes(at: at, count: n) { CRC32.checksum($0, continuing: crc) }
                at += UInt64(n)
                left -= n
            }
        }
        guard crc == header.payloadCRC else {
            return .damaged(.badPayloadChecksum, resumeAt: start + size, guess: start + size, certain: true)
        }
        if header.type.isCommitting, payload?.first != SegmentFormat.payloadVersion {
            throw UnsupportedRecord(segment: segment, offset: start, reason: .unknownPayloadVersion(payload?.first))
        }
        return .valid(ScannedRecord(header: header, ref: RecordRef(segment: segment, offset: start, size: size), payload: payload))
    }

    /// The header at `raw`, or why not.
    private static func decodeHeader(_ raw: UnsafeRawBufferPointer) -> Result<RecordHeader, RecordHeader.DecodeError> {
        do {
            return .success(try RecordHeader.decode(raw))
        } catch {
            return .failure(error)
        }
    }

    /// Where reading resumes after a damaged record: the first valid record from
    /// `resumeAt` on (from `guess` on when the guess is certain; trying an uncertain
    /// `guess` first), or nil.
    ///
    /// A record found by searching must be a plain record: a seal or a record this build
    /// cannot read found that way may as well be bytes of a stored object, so the search
    /// goes on past it. And before the payload checksum of a record over 1 MiB is
    /// computed (up to 1 GiB), the bytes right after it must be the end of the file or
    /// another record header that checks out, so bytes that only look like a header
    /// cost little.
    private mutating func nextValidRecord(resumeAt: UInt64, guess: UInt64?, certain: Bool) throws -> UInt64? {
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        var (from, guess, certain) = (resumeAt, guess, certain)
        // A certain guess is a record boundary: what is there is judged as any record
        // (one this build cannot read is refused); a damaged one is skipped the same way.
        while certain, let boundary = guess, boundary >= from {
            guard boundary + headerSize <= fileSize else { return nil }
            switch try examine(at: boundary, keepPayload: false) {
            case .valid:
                return boundary
            case .damaged(_, let resumeAt, let next, let nextCertain):
                (from, guess, certain) = (resumeAt, next, nextCertain)
            }
        }
        if let guess, !certain, guess >= from, guess + headerSize <= fileSize, try isRestartPoint(guess) {
            return guess
        }
        let alignment = UInt64(SegmentFormat.alignment)
        var at = (from + alignment - 1) / alignment * alignment
        while at + headerSize <= fileSize {
            let magic = try bytes(at: at, count: 4) { $0.loadUnaligned(as: UInt32.self).littleEndian }
            if magic == SegmentFormat.recordMagic, try isRestartPoint(at) { return at }
            at += alignment
        }
        return nil
    }

    /// Whether a valid, readable, non-seal record starts at `at` (see ``nextValidRecord``).
    private mutating func isRestartPoint(_ at: UInt64) throws -> Bool {
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        guard case .success(let header) = try bytes(at: at, count: SegmentFormat.recordHeaderSize, { Self.decodeHeader($0) }),
              header.type != .seal else { return false }
        let end = at + UInt64(header.recordSize)
        guard end <= fileSize else { return false }
        // Cheap first: a record is followed by the end of the file or another header.
        // Where that header is damaged too, only a record of at most 1 MiB (a writer's
        // data record size) is checked further.
        if end + headerSize <= fileSize, header.payloadLength > 1 << 20 {
            guard case .success = try bytes(at: end, count: SegmentFormat.recordHeaderSize, { Self.decodeHeader($0) }) else { return false }
        }
        do {
            if case .valid = try examine(at: at, keepPayload: false) { return true }
        } catch is UnsupportedRecord {}
        return false
    }

    /// Gives `body` `count` bytes at `at`, served from a read-ahead window.
    private mutating func bytes<T>(at: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        if at < windowStart || at + UInt64(count) > windowStart + UInt64(window.count) {
            let want = max(count, Self.windowSize)
            let available = Int(min(UInt64(want), fileSize - at))
            if window.count < available { window = [UInt8](repeating: 0, count: available) }
            let source = self.source
            let n = try window.withUnsafeMutableBytes { try source.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<available])) }
            window.removeSubrange(n...)
            windowStart = at
            guard n >= count else { throw IOError("short read", path: SegmentLog.fileName(segment), errno: 5) }
        }
        let start = Int(at - windowStart)
        return try window.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
    }
}
