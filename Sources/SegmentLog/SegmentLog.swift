import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A point in the log: a byte offset inside a segment. Positions order the log.
public struct LogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var segment: UInt64
    public var offset: UInt64

    public init(segment: UInt64, offset: UInt64) {
        self.segment = segment
        self.offset = offset
    }

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        (a.segment, a.offset) < (b.segment, b.offset)
    }

    public var description: String { "\(segment):\(offset)" }
}

/// Where a record lives: its header's position and its total size (header, payload, padding).
public struct RecordRef: Hashable, Sendable {
    public var segment: UInt64
    public var offset: UInt64
    public var size: UInt64

    public init(segment: UInt64, offset: UInt64, size: UInt64) {
        self.segment = segment
        self.offset = offset
        self.size = size
    }

    /// The position just after the record.
    public var end: LogPosition { LogPosition(segment: segment, offset: offset + size) }
}

/// A run of object bytes inside a segment: part of a data record's payload.
public struct Extent: Hashable, Sendable {
    public var segment: UInt64
    public var offset: UInt64
    public var length: UInt64

    public init(segment: UInt64, offset: UInt64, length: UInt64) {
        self.segment = segment
        self.offset = offset
        self.length = length
    }
}

/// The append-only log: a directory of segment files, one of them active for appends.
///
/// Appends are serialised by a short lock held only while one record is written, so
/// several uploads interleave record by record instead of object by object. Records are
/// written in file order with no gaps, and acknowledged only once a sync covers them: so
/// a process crash can leave only a partial last record, with nothing after it, and that
/// record was never acknowledged (FORMAT.md, "Recovery", tells this torn tail from
/// corruption and from what a machine crash or a failed sync leaves).
public final class SegmentLog: Sendable {
    public struct Options: Sendable {
        /// A segment rolls over when the next record would take it past this size.
        public var maxSegmentSize: UInt64
        /// Faults to inject into segment writes and syncs, and an observer of every change
        /// to the segment files (tests only; nil in production).
        public var faults: FaultInjector?

        public init(maxSegmentSize: UInt64 = 1 << 30, faults: FaultInjector? = nil) {
            self.maxSegmentSize = maxSegmentSize
            self.faults = faults
        }
    }

    /// The log refuses appends after a failed sync: the kernel may have dropped the dirty
    /// pages, so nothing written since the last good sync can be trusted (fsyncgate).
    public struct SyncFailed: Error, CustomStringConvertible {
        public var cause: IOError
        public var description: String { "log is read-only after a failed sync: \(cause)" }
    }

    private struct State {
        var files: [UInt64: SegmentFile] = [:]
        var active: SegmentFile?
        var end: UInt64 = 0
        /// The active segment ends with its seal record: a roll-over wrote the seal but
        /// could not create the next segment (say the disk is full).
        var activeIsSealed = false
        var syncFailure: IOError?
        /// The end of what the last successful sync covered (nil until the first).
        var durable: LogPosition?
        /// Where in the active segment the bytes not yet handed to writeback start (see
        /// ``startWriteback(_:)``).
        var writebackFrom: UInt64 = 0
    }

    /// Once this many bytes are written and not yet handed to writeback, the kernel is
    /// told to start writing them out.
    static let writebackBatch: UInt64 = 8 << 20

    public let directory: String
    public let options: Options
    private let state: Mutex<State>

    /// Opens the segments directory (created if missing). Appending starts only after
    /// `startAppending(at:)`, once recovery has found the valid end of the log.
    public init(directory: String, options: Options = Options()) throws {
        self.directory = directory
        self.options = options
        try makeDirectories(directory)
        var files: [UInt64: SegmentFile] = [:]
        let dir = opendir(directory)
        guard let dir else { throw IOError("opendir", path: directory, errno: errno) }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let id = Self.segmentID(fromFileName: name) else { continue }
            files[id] = try SegmentFile.open(id: id, path: Self.path(directory, id), create: false, faults: options.faults)
        }
        state = Mutex(State(files: files))
    }

    /// `0000000000000001.seg`: 16 hex digits, so names sort like ids.
    public static func fileName(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + ".seg"
    }

    static func segmentID(fromFileName name: String) -> UInt64? {
        guard name.hasSuffix(".seg"), name.count == 20 else { return nil }
        return UInt64(name.prefix(16), radix: 16)
    }

    static func path(_ directory: String, _ id: UInt64) -> String { directory + "/" + fileName(id) }

    /// Ids of all segments, ascending.
    public var segmentIDs: [UInt64] { state.withLock { $0.files.keys.sorted() } }

    /// The open file of a segment, for reading; nil if it does not exist (any more).
    public func file(_ id: UInt64) -> SegmentFile? { state.withLock { $0.files[id] } }

    /// The id of the segment appends go to, once appending started.
    public var activeSegmentID: UInt64? { state.withLock { $0.active?.id } }

    /// The position after the last record written (not necessarily durable).
    public var end: LogPosition {
        state.withLock { LogPosition(segment: $0.active?.id ?? 0, offset: $0.end) }
    }

    /// Reads and checks a segment's file header.
    public func readHeader(_ id: UInt64) throws -> SegmentFileHeader? {
        guard let file = file(id) else { return nil }
        guard let bytes = try? file.read(at: 0, count: SegmentFormat.fileHeaderSize) else { return nil }
        return SegmentFileHeader.decode(bytes)
    }

    /// Cuts a segment back to `size` bytes: only recovery does this, to drop a torn tail.
    public func truncate(segment id: UInt64, to size: UInt64) throws {
        guard let file = file(id) else { return }
        try file.truncate(to: size)
        try file.sync()
    }

    /// Copies the bytes of a segment from `offset` to its end into a file of their own
    /// beside it (`<segment file>.cut-<offset>`, synced; not a segment, so the log ignores
    /// it) and returns its path: recovery keeps what it is about to cut when valid records
    /// may be among it.
    public func saveTail(segment id: UInt64, from offset: UInt64) throws -> String? {
        guard let file = file(id) else { return nil }
        let size = try file.size()
        guard size > offset else { return nil }
        let path = Self.path(directory, id) + ".cut-\(offset)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError("open", path: path, errno: errno) }
        defer { close(fd) }
        var at = offset
        while at < size {
            let chunk = try file.read(at: at, count: Int(min(size - at, 1 << 20)))
            var done = 0
            while done < chunk.count {
                let n = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, chunk.count - done, off_t(at - offset) + off_t(done)) }
                guard n > 0 else { throw IOError("pwrite", path: path, errno: n < 0 ? errno : EIO) }
                done += n
            }
            at += UInt64(chunk.count)
        }
        guard fdatasync(fd) == 0 else { throw IOError("fdatasync", path: path, errno: errno) }
        try syncDirectory(directory)
        return path
    }

    /// Removes a segment file (a torn new segment at recovery, or a compaction victim).
    /// Open readers keep their descriptor.
    public func removeSegment(_ id: UInt64) throws {
        let removed: SegmentFile? = state.withLock { $0.files.removeValue(forKey: id) }
        guard let removed else { return }
        try removed.remove()
        try syncSegmentDirectory()
    }

    /// fsyncs the segments directory, so that files created or removed in it stay so
    /// after a crash (through the fault injector's observer when there is one).
    private func syncSegmentDirectory() throws {
        guard let observer = options.faults?.observer else { return try syncDirectory(directory) }
        try observer.sync(directory, directory: true) { try syncDirectory(directory) }
    }

    /// Makes `position` the end of the log and the place of the next append. With no
    /// position (an empty log), or when the log ends with a sealed segment, a new segment
    /// is created.
    ///
    /// The active segment is synced first: what an earlier process wrote and never synced
    /// becomes durable, so the log knows from the start where its durable part ends (see
    /// ``cutUnsyncedTail()``).
    public func startAppending(at position: LogPosition?) throws {
        try state.withLock { (s) throws in
            if let position, let file = s.files[position.segment], !Self.endsWithSeal(file, at: position.offset) {
                try file.sync()
                s.active = file
                s.end = position.offset
                s.activeIsSealed = false
            } else {
                let id = (s.files.keys.max() ?? 0) + 1
                s.active = try createSegment(id, &s)
                s.end = UInt64(SegmentFormat.fileHeaderSize)
            }
            s.durable = LogPosition(segment: s.active!.id, offset: s.end)
        }
    }

    /// The file that says where the durable part of the log ended when a sync failed.
    var unsyncedMarkerPath: String { directory + "/unsynced-after" }

    /// After a failed fdatasync the kernel may have dropped the dirty pages it could not
    /// write (and marked them clean), so the bytes written since the last good sync can
    /// read back right now and be gone or stale later. None of them was acknowledged
    /// (acknowledgement waits for a good sync), so the log records where the good part
    /// ends (`unsynced-after`: `segment offset`, synced as far as the failing disk lets
    /// it) and the next open cuts everything after it here, before recovery reads the
    /// tail. Best effort: without the file, recovery reads the tail as after a crash.
    private func recordSyncFailure(_ error: IOError, _ s: inout State) {
        s.syncFailure = error
        guard let durable = s.durable else { return }
        // Written beside and renamed into place, so a reader sees a whole file or none.
        let text = Array("\(durable.segment) \(durable.offset)\n".utf8)
        let temporary = unsyncedMarkerPath + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _ = fdatasync(fd)
        close(fd)
        guard written == text.count, rename(temporary, unsyncedMarkerPath) == 0 else { return }
        try? syncDirectory(directory)
    }

    /// If a sync failed in the last run, cuts the log back to the position the last good
    /// sync covered (see `recordSyncFailure`) and returns it; else nil. Runs before
    /// recovery reads the log.
    public func cutUnsyncedTail() throws -> LogPosition? {
        guard access(unsyncedMarkerPath, F_OK) == 0 else { return nil }
        let cut = try unsyncedTail()
        if let cut {
            for id in segmentIDs where id > cut.segment { try removeSegment(id) }
            if let file = file(cut.segment), try file.size() > cut.offset { try truncate(segment: cut.segment, to: cut.offset) }
        }
        guard unlink(unsyncedMarkerPath) == 0 || errno == ENOENT else { throw IOError("unlink", path: unsyncedMarkerPath, errno: errno) }
        try syncDirectory(directory)
        return cut
    }

    /// Where ``cutUnsyncedTail()`` would cut, without cutting (nil: no failed sync, or a
    /// marker that is not a whole, plausible position: a record boundary inside the file).
    public func unsyncedTail() throws -> LogPosition? {
        let fd = open(unsyncedMarkerPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        let text = String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self)
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard text.hasSuffix("\n"), fields.count == 2, let segment = UInt64(fields[0]), let offset = UInt64(fields[1]),
              offset >= UInt64(SegmentFormat.fileHeaderSize), offset % UInt64(SegmentFormat.alignment) == 0,
              let existing = file(segment), offset <= (try existing.size()) else { return nil }
        return LogPosition(segment: segment, offset: offset)
    }

    /// Appends one record and returns where it went. Not durable until a later `sync()`.
    ///
    /// If the write fails (say the disk is full) the segment is cut back to where the
    /// record started, so no partial record can sit in front of later ones.
    public func append(type: RecordType, sequence: UInt64, payload: UnsafeRawBufferPointer) throws -> RecordRef {
        let header = RecordHeader(type: type, payloadLength: payload.count,
                                  payloadCRC: CRC32.checksum(payload), sequence: sequence).encoded()
        let size = UInt64(SegmentFormat.recordSize(payloadLength: payload.count))
        let padding = [UInt8](repeating: 0, count: Int(size) - SegmentFormat.recordHeaderSize - payload.count)
        let (ref, writeback) = try state.withLock { (s) throws -> (RecordRef, (SegmentFile, Range<UInt64>)?) in
            if let failure = s.syncFailure { throw SyncFailed(cause: failure) }
            guard var file = s.active else { preconditionFailure("append before startAppending") }
            if s.activeIsSealed || (s.end + size > options.maxSegmentSize && s.end > UInt64(SegmentFormat.fileHeaderSize)) {
                file = try rollOver(&s)
            }
            let offset = s.end
            do {
                try header.withUnsafeBytes { h in
                    try padding.withUnsafeBytes { p in
                        try file.write(.record, at: offset, [h, payload, p])
                    }
                }
            } catch {
                try? file.truncate(to: offset)
                throw error
            }
            s.end = offset + size
            var writeback: (SegmentFile, Range<UInt64>)?
            if s.writebackFrom > s.end || s.writebackFrom < UInt64(SegmentFormat.fileHeaderSize) {
                s.writebackFrom = offset  // a new segment, or a cut-back tail
            }
            if s.end - s.writebackFrom >= Self.writebackBatch {
                writeback = (file, s.writebackFrom..<s.end)
                s.writebackFrom = s.end
            }
            return (RecordRef(segment: file.id, offset: offset, size: size), writeback)
        }
        if let (file, range) = writeback { file.startWriteback(range) }
        return ref
    }

    /// Appends a record from a byte array.
    public func append(type: RecordType, sequence: UInt64, payload: [UInt8]) throws -> RecordRef {
        try payload.withUnsafeBytes { try append(type: type, sequence: sequence, payload: $0) }
    }

    /// Appends a data record and returns the extent of its payload.
    public func appendData(_ bytes: UnsafeRawBufferPointer) throws -> Extent {
        let ref = try append(type: .data, sequence: 0, payload: bytes)
        return Extent(segment: ref.segment, offset: ref.offset + UInt64(SegmentFormat.recordHeaderSize),
                      length: UInt64(bytes.count))
    }

    /// Makes every record appended so far durable and returns the position it covers.
    /// Earlier segments were synced when they were sealed, so syncing the active one suffices.
    public func sync() throws -> LogPosition {
        let (file, end): (SegmentFile?, UInt64) = try state.withLock { (s) throws in
            if let failure = s.syncFailure { throw SyncFailed(cause: failure) }
            return (s.active, s.end)
        }
        guard let file else { return LogPosition(segment: 0, offset: 0) }
        do {
            try file.sync()
        } catch let error as IOError {
            state.withLock { recordSyncFailure(error, &$0) }
            throw SyncFailed(cause: error)
        }
        let position = LogPosition(segment: file.id, offset: end)
        try state.withLock { (s) throws in
            // A roll-over's sync of the same file may have failed meanwhile (it runs under
            // the lock, this one does not): then this success proves nothing either, and
            // nothing after the durable end it recorded may be acknowledged.
            if let failure = s.syncFailure { throw SyncFailed(cause: failure) }
            if s.durable.map({ $0 < position }) ?? true { s.durable = position }
        }
        return position
    }

    /// Whether the record that ends at `end` is a seal record. A seal record has a fixed
    /// size, so this looks back exactly that far; object bytes that happened to look like
    /// one would only make the next append start a new segment, which is harmless.
    static func endsWithSeal(_ file: SegmentFile, at end: UInt64) -> Bool {
        let size = UInt64(SegmentFormat.recordSize(payloadLength: 8))
        guard end >= UInt64(SegmentFormat.fileHeaderSize) + size,
              let bytes = try? file.read(at: end - size, count: Int(size)) else { return false }
        let header = bytes.withUnsafeBytes { try? RecordHeader.decode($0) }
        guard let header, header.type == .seal, header.payloadLength == 8 else { return false }
        let payload = Array(bytes[SegmentFormat.recordHeaderSize...])
        return CRC32.checksum(payload) == header.payloadCRC && ByteReader(payload).peekU64() == file.id
    }

    /// Seals the active segment (a seal record, then fdatasync) and starts the next one.
    /// Order matters for recovery: the old segment is durable, sealed, before any record
    /// can go to the new one, so only the last segment can ever have a torn tail.
    ///
    /// If the seal is written but the next segment cannot be created (a full disk has
    /// room for 40 more bytes in the old file's last block, not for a new file), the
    /// active segment stays sealed: the next append retries from here, without a second
    /// seal and without writing anything after the first (recovery would refuse either).
    private func rollOver(_ s: inout State) throws -> SegmentFile {
        guard let old = s.active else { preconditionFailure() }
        if !s.activeIsSealed {
            var w = ByteWriter()
            w.write(old.id)
            let payload = w.bytes
            let header = RecordHeader(type: .seal, payloadLength: payload.count,
                                      payloadCRC: CRC32.checksum(payload), sequence: 0).encoded()
            let size = SegmentFormat.recordSize(payloadLength: payload.count)
            let record = header + payload + [UInt8](repeating: 0, count: size - header.count - payload.count)
            do {
                try record.withUnsafeBytes { try old.write(.seal, at: s.end, [$0]) }
            } catch {
                try? old.truncate(to: s.end)
                throw error
            }
            s.end += UInt64(size)
            s.activeIsSealed = true
        }
        do {
            try old.sync()
        } catch let error as IOError {
            // As in sync(): after a failed fdatasync nothing since the last good one
            // can be trusted, and a retry could falsely succeed.
            recordSyncFailure(error, &s)
            throw SyncFailed(cause: error)
        }
        s.durable = LogPosition(segment: old.id, offset: s.end)
        let next = try createSegment(old.id + 1, &s)
        s.durable = LogPosition(segment: next.id, offset: UInt64(SegmentFormat.fileHeaderSize))
        s.active = next
        s.end = UInt64(SegmentFormat.fileHeaderSize)
        s.activeIsSealed = false
        return next
    }

    /// Creates a segment file with its header, durable (file and directory entry) before use.
    private func createSegment(_ id: UInt64, _ s: inout State) throws -> SegmentFile {
        let file = try SegmentFile.open(id: id, path: Self.path(directory, id), create: true, faults: options.faults)
        do {
            try SegmentFileHeader(segmentID: id).encoded().withUnsafeBytes {
                try file.write(.segmentHeader, at: 0, [$0])
            }
            do {
                try file.sync()
            } catch let error as IOError {
                // As any failed sync: the log takes no more writes (see `sync()`).
                recordSyncFailure(error, &s)
                throw SyncFailed(cause: error)
            }
            try syncSegmentDirectory()
        } catch {
            try? file.remove()
            throw error
        }
        s.files[id] = file
        return file
    }
}
