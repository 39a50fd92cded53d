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

/// Walks the records of one segment from a given offset, checking every header and
/// payload checksum, and stops at the end of the file or at the first record that is
/// torn or corrupt. `validEnd` is then the offset where good records end.
public struct SegmentScanner {
    /// Why the scan stopped.
    public enum End: Equatable, Sendable {
        /// Not stopped yet.
        case none
        /// The file ends exactly after a record (or after the seal record).
        case clean
        /// Bytes after `validEnd` are not a whole, valid record: a torn or corrupt tail.
        case torn(String)
    }

    private let file: SegmentFile
    private let fileSize: UInt64
    private let loadData: Bool
    private var offset: UInt64
    private var sealed = false
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    private static let windowSize = 1 << 20

    public private(set) var end: End = .none
    /// Where the valid records end (so far).
    public var validEnd: UInt64 { offset }

    /// - Parameters:
    ///   - from: offset of the first record; nil for the first record after the file header.
    ///   - loadData: also return the payloads of data records (they are checked either way).
    public init(file: SegmentFile, from: UInt64? = nil, loadData: Bool = false) throws {
        self.file = file
        self.fileSize = try file.size()
        self.offset = from ?? UInt64(SegmentFormat.fileHeaderSize)
        self.loadData = loadData
    }

    /// The next valid record, or nil when the scan stopped (see `end`).
    public mutating func next() throws -> ScannedRecord? {
        guard end == .none else { return nil }
        let remaining = fileSize > offset ? fileSize - offset : 0
        if remaining == 0 {
            end = .clean
            return nil
        }
        if sealed { return stop("bytes after the seal record") }
        if remaining < UInt64(SegmentFormat.recordHeaderSize) { return stop("partial record header") }
        let header: RecordHeader
        do {
            header = try bytes(at: offset, count: SegmentFormat.recordHeaderSize) { try RecordHeader.decode($0) }
        } catch {
            return stop("bad record header (\(error))")
        }
        let size = UInt64(header.recordSize)
        guard size <= remaining else { return stop("record runs past the end of the file") }
        let payloadStart = offset + UInt64(SegmentFormat.recordHeaderSize)
        var payload: [UInt8]? = nil
        var crc: UInt32 = 0
        if header.type != .data || loadData {
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
        guard crc == header.payloadCRC else { return stop("payload checksum mismatch") }
        let ref = RecordRef(segment: file.id, offset: offset, size: size)
        offset += size
        if header.type == .seal { sealed = true }
        return ScannedRecord(header: header, ref: ref, payload: payload)
    }

    private mutating func stop(_ reason: String) -> ScannedRecord? {
        end = .torn(reason)
        return nil
    }

    /// Gives `body` `count` bytes at `at`, served from a read-ahead window.
    private mutating func bytes<T>(at: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        if at < windowStart || at + UInt64(count) > windowStart + UInt64(window.count) {
            let want = max(count, Self.windowSize)
            let available = Int(min(UInt64(want), fileSize - at))
            if window.count < available { window = [UInt8](repeating: 0, count: available) }
            let n = try window.withUnsafeMutableBytes { try file.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<available])) }
            window.removeSubrange(n...)
            windowStart = at
            guard n >= count else { throw IOError("short read", path: file.path, errno: 5) }
        }
        let start = Int(at - windowStart)
        return try window.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
    }
}
