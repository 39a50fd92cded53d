import Foundation
import ObjectIndex
import SegmentLog

/// One thing `Verifier` found wrong (or worth a warning) in a data directory.
///
/// Each case names where the problem is (table and key, segment and offset) so a report
/// line points at the bytes to look at with `strata inspect`.
public enum VerificationProblem: Sendable, Equatable, CustomStringConvertible {
    /// How an index entry differs from the entry a rebuild from segments produced.
    public enum Difference: String, Sendable, Equatable {
        /// The rebuild has the entry, the index does not.
        case missingFromIndex = "missing from the index"
        /// The index has the entry, the rebuild does not.
        case notInRebuild = "in the index but not produced by a rebuild"
        /// Both have the key with different values.
        case valueDiffers = "value differs from the rebuilt one"
    }

    /// An index entry's value cannot be decoded.
    case undecodableEntry(table: Table, key: [UInt8], reason: String)
    /// An index entry names a segment that does not exist.
    case missingSegment(table: Table, key: [UInt8], segment: UInt64)
    /// An index entry's commit record reference does not lead to the record it describes
    /// (wrong offset or size, wrong type or sequence, bad checksum, other payload).
    case commitRecordMismatch(table: Table, key: [UInt8], ref: RecordRef, reason: String)
    /// An object's or part's extent does not lie inside one data record's payload.
    case extentOutsideData(table: Table, key: [UInt8], extent: Extent, reason: String)
    /// An object's or part's extents do not add up to its size.
    case sizeMismatch(table: Table, key: [UInt8], size: UInt64, extentBytes: UInt64)
    /// A segment's live counters in `segments` differ from what the index entries imply.
    case liveCounterMismatch(segment: UInt64, stored: LiveCount, expected: LiveCount)
    /// The index differs from a rebuild from the segments.
    case rebuildMismatch(table: Table, key: [UInt8], difference: Difference)
    /// The rebuild from segments could not run to the end.
    case rebuildFailed(reason: String)
    /// The index's checkpoint names a missing segment or a place past its end.
    case badCheckpoint(reason: String)
    /// The index has not applied the last commit records of the log yet (a crash before
    /// the index transaction): opening the store or `strata recover` applies them.
    case indexBehindLog(checkpointSequence: UInt64, logSequence: UInt64)
    /// A segment's file header is damaged.
    case badSegmentHeader(segment: UInt64, isLast: Bool)
    /// The index was left open by a run that a machine crash ended: the next open
    /// rebuilds it from the segments, so it is not compared.
    case indexLeftByMachineCrash
    /// A record of a sealed segment fails its checks: real corruption.
    case corruptRecord(segment: UInt64, offset: UInt64, reason: String)
    /// A sealed (not last) segment does not end with a seal record.
    case unsealedSegment(segment: UInt64)
    /// The last segment ends in a torn record: a crash during a write, which was never
    /// acknowledged; recovery cuts it off.
    case tornTail(segment: UInt64, offset: UInt64, reason: String)
    /// Damaged bytes that valid records follow (or at the end of a sealed segment):
    /// recovery skips them and keeps the rest; `held` is what they cost, as far as known.
    case damagedRecords(span: DamagedSpan, held: [String])

    /// Errors make verification fail; warnings describe states recovery handles.
    public enum Severity: String, Sendable, Equatable, Codable {
        case error
        case warning
    }

    /// Live bytes and commit records of one segment.
    public struct LiveCount: Sendable, Equatable, Codable, CustomStringConvertible {
        public var bytes: UInt64
        public var records: UInt64

        public init(bytes: UInt64, records: UInt64) {
            self.bytes = bytes
            self.records = records
        }

        public var description: String { "\(bytes) bytes in \(records) records" }
    }

    public var severity: Severity {
        switch self {
        case .tornTail, .indexBehindLog, .indexLeftByMachineCrash: return .warning
        case .badSegmentHeader(_, let isLast): return isLast ? .warning : .error
        default: return .error
        }
    }

    /// A stable kebab-case name of the kind of problem (for scripts and `--json`).
    public var code: String {
        switch self {
        case .undecodableEntry: return "undecodable-entry"
        case .missingSegment: return "missing-segment"
        case .commitRecordMismatch: return "commit-record-mismatch"
        case .extentOutsideData: return "extent-outside-data"
        case .sizeMismatch: return "size-mismatch"
        case .liveCounterMismatch: return "live-counter-mismatch"
        case .rebuildMismatch: return "rebuild-mismatch"
        case .rebuildFailed: return "rebuild-failed"
        case .badCheckpoint: return "bad-checkpoint"
        case .indexBehindLog: return "index-behind-log"
        case .badSegmentHeader: return "bad-segment-header"
        case .corruptRecord: return "corrupt-record"
        case .unsealedSegment: return "unsealed-segment"
        case .tornTail: return "torn-tail"
        case .indexLeftByMachineCrash: return "index-left-by-machine-crash"
        case .damagedRecords: return "damaged-records"
        }
    }

    /// The index table the problem is in, if any.
    public var table: Table? {
        switch self {
        case .undecodableEntry(let t, _, _), .missingSegment(let t, _, _), .commitRecordMismatch(let t, _, _, _),
             .extentOutsideData(let t, _, _, _), .sizeMismatch(let t, _, _, _), .rebuildMismatch(let t, _, _):
            return t
        case .liveCounterMismatch: return .segments
        default: return nil
        }
    }

    /// The index key the problem is about, if any.
    public var key: [UInt8]? {
        switch self {
        case .undecodableEntry(_, let k, _), .missingSegment(_, let k, _), .commitRecordMismatch(_, let k, _, _),
             .extentOutsideData(_, let k, _, _), .sizeMismatch(_, let k, _, _), .rebuildMismatch(_, let k, _):
            return k
        default: return nil
        }
    }

    /// The segment (and offset in it) the problem is at, if any.
    public var location: (segment: UInt64, offset: UInt64?)? {
        switch self {
        case .missingSegment(_, _, let s): return (s, nil)
        case .commitRecordMismatch(_, _, let ref, _): return (ref.segment, ref.offset)
        case .extentOutsideData(_, _, let e, _): return (e.segment, e.offset)
        case .liveCounterMismatch(let s, _, _): return (s, nil)
        case .badSegmentHeader(let s, _): return (s, 0)
        case .corruptRecord(let s, let o, _), .tornTail(let s, let o, _): return (s, o)
        case .unsealedSegment(let s): return (s, nil)
        case .damagedRecords(let span, _): return (span.segment, span.offset)
        default: return nil
        }
    }

    public var description: String {
        func entry(_ table: Table, _ key: [UInt8]) -> String { "\(table.rawValue)[\(Self.describe(key: key, table: table))]" }
        switch self {
        case .undecodableEntry(let t, let k, let reason):
            return "\(entry(t, k)): cannot decode the value: \(reason)"
        case .missingSegment(let t, let k, let s):
            return "\(entry(t, k)): names segment file \(SegmentLog.fileName(s)), which does not exist"
        case .commitRecordMismatch(let t, let k, let ref, let reason):
            return "\(entry(t, k)): commit record at segment file \(SegmentLog.fileName(ref.segment)) offset \(ref.offset) (size \(ref.size)): \(reason)"
        case .extentOutsideData(let t, let k, let e, let reason):
            return "\(entry(t, k)): extent in segment file \(SegmentLog.fileName(e.segment)) offset \(e.offset) length \(e.length): \(reason)"
        case .sizeMismatch(let t, let k, let size, let bytes):
            return "\(entry(t, k)): size \(size) but its extents hold \(bytes) bytes"
        case .liveCounterMismatch(let s, let stored, let expected):
            return "segment file \(SegmentLog.fileName(s)): live counters say \(stored), the index entries imply \(expected)"
        case .rebuildMismatch(let t, let k, let difference):
            return "\(entry(t, k)): \(difference.rawValue)"
        case .rebuildFailed(let reason):
            return "rebuild from segments failed: \(reason)"
        case .badCheckpoint(let reason):
            return "checkpoint: \(reason)"
        case .indexBehindLog(let cp, let log):
            return "the index has applied commits up to sequence \(cp), the log holds commits up to \(log) (opening the store or `strata recover` applies them)"
        case .badSegmentHeader(let s, let isLast):
            return "segment file \(SegmentLog.fileName(s)): bad file header" + (isLast ? " (last segment: a crash while rolling over; recovery removes it)" : "")
        case .corruptRecord(let s, let o, let reason):
            return "segment file \(SegmentLog.fileName(s)) offset \(o): corrupt record in a sealed segment: \(reason)"
        case .unsealedSegment(let s):
            return "segment file \(SegmentLog.fileName(s)): not the last segment but does not end with a seal record"
        case .tornTail(let s, let o, let reason):
            return "segment file \(SegmentLog.fileName(s)) offset \(o): torn tail of the last segment (\(reason)); recovery cuts it off"
        case .indexLeftByMachineCrash:
            return "the index was open when the machine crashed (index/session names another boot): the next open rebuilds it from the segments, so it was not compared"
        case .damagedRecords(let span, let held):
            return "segment file \(span.segmentFileName) offset \(span.offset): \(span.damage), "
                + "\(span.length) damaged bytes before the next valid record; recovery skips them and keeps the rest"
                + (held.isEmpty ? "" : "; they held: " + held.joined(separator: "; "))
        }
    }

    public static func == (a: VerificationProblem, b: VerificationProblem) -> Bool {
        a.description == b.description && a.code == b.code
    }

    /// A readable form of an index key: object names as `bucket/key`, closed uploads as
    /// `upload ID`, parts as `ID#n`, segment ids as numbers; other bytes escaped.
    public static func describe(key: [UInt8], table: Table) -> String {
        func escaped(_ bytes: some Collection<UInt8>) -> String {
            bytes.map { (0x20..<0x7F).contains($0) && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
        }
        switch table {
        case .segments:
            return IndexKey.decodeBigEndian(key, as: UInt64.self).map(String.init) ?? escaped(key)
        case .parts where key.count >= 4:
            let n = IndexKey.decodeBigEndian(key.suffix(4), as: UInt32.self) ?? 0
            return escaped(key.dropLast(4)) + "#\(n)"
        case .objects, .tombstones, .uploads, .versions:
            if key.first == 0xFF { return "upload " + escaped(key.dropFirst()) }
            guard let (bucket, rest) = IndexKey.decodeObject(key) else { return escaped(key) }
            return escaped(Array(bucket.utf8)) + "/" + escaped(rest)
        case .parts, .meta, .buckets, .configs, .damaged, .snapshots:
            return escaped(key)
        }
    }
}

/// What `Verifier` checked and found.
public struct VerificationReport: Sendable {
    /// How much was checked.
    public struct Counts: Sendable, Equatable, Codable {
        /// Segment files in the data directory.
        public var segments = 0
        /// Entries per index table, by table name (`Table.rawValue`).
        public var entries: [String: Int] = [:]
        /// Commit records read back through their index entries.
        public var commitRecords = 0
        /// Extents of objects and parts checked against data records.
        public var extents = 0
        /// Segments whose live counters were compared.
        public var liveCounters = 0
        /// Entries of the index rebuilt from segments.
        public var rebuiltEntries = 0
        /// Records whose checksums a deep scan checked (0 without `--deep`).
        public var scannedRecords = 0
        /// Bytes a deep scan read (0 without `--deep`).
        public var scannedBytes: UInt64 = 0
    }

    public var directory: String
    public var deep: Bool
    public var counts = Counts()
    public var problems: [VerificationProblem] = []

    /// The problems that make verification fail.
    public var errors: [VerificationProblem] { problems.filter { $0.severity == .error } }
    /// The problems recovery handles by itself (a torn tail, an index behind the log).
    public var warnings: [VerificationProblem] { problems.filter { $0.severity == .warning } }
    /// True when no problem is an error.
    public var isHealthy: Bool { errors.isEmpty }
}

/// Checks a stopped data directory: that the index and the segments agree (the index is
/// a materialised view of the commit records: docs/DESIGN.md, "The index is a view of
/// the log") and, deep, that every record's checksum holds.
///
/// It only reads: segments are never truncated or repaired and the index is never
/// written (the rebuild it compares with goes into a temporary directory). It holds the
/// data directory's lock while it runs and refuses a directory a server has open: a
/// running store's index and log move under it, and comparing them would report
/// differences that are not there.
///
/// The checks:
/// 1. every index entry's commit record reference leads to a record of the right type,
///    sequence, size and checksum whose payload equals the one in the index value, and
///    every object's and part's extents lie inside one data record's payload;
/// 2. the `segments` table's live counters equal what the index entries imply
///    (FORMAT.md, "Live bytes");
/// 3. a rebuild from the segments gives exactly the index (every table except `meta`);
/// 4. with `deep`, every record of every segment passes its checksums: a torn tail of
///    the last segment is a warning, damage in a sealed segment an error.
public struct Verifier {
    public var directory: String
    public var deep: Bool

    /// - Parameters:
    ///   - directory: the data directory (with `segments/` and `index/`).
    ///   - deep: also read every record of every segment and check its checksums.
    public init(directory: String, deep: Bool = false) {
        self.directory = directory
        self.deep = deep
    }

    /// Runs every check and returns what it found. Throws only when the directory cannot
    /// be read at all (no segments or index directory, an index LMDB cannot open).
    public func run() throws -> VerificationReport {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        // Checked first: SegmentLog would create a missing directory, LMDB a missing index.
        for sub in ["segments", "index"] {
            guard fm.fileExists(atPath: directory + "/" + sub, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw StoreError(.invalidArgument, "\(directory) has no \(sub) directory")
            }
        }
        guard fm.fileExists(atPath: directory + "/index/data.mdb") else {
            throw StoreError(.invalidArgument, "\(directory)/index has no data.mdb")
        }
        // A running server changes both the index and the segments while they are compared:
        // DirectoryLock.InUse says to stop it first.
        let lock = try DirectoryLock.forReading(directory: directory)
        defer { lock?.release() }
        let machineCrashed = IndexSession(indexDirectory: directory + "/index").previousRun(boot: IndexSession.currentBoot) == .crashedEarlierBoot
        // Opening only reads: segment files are opened as they are (no create, no
        // truncate); appending never starts.
        let log = try SegmentLog(directory: directory + "/segments")
        let index = try ObjectIndex(path: directory + "/index")
        var run = Run(log: log, index: index, report: VerificationReport(directory: directory, deep: deep), unsyncedTail: machineCrashed)
        run.report.counts.segments = log.segmentIDs.count
        if machineCrashed {
            // That index was written without syncs and the next open throws it away:
            // comparing it would only report what a torn index looks like.
            run.report.problems.append(.indexLeftByMachineCrash)
            try run.checkRebuild(compare: false)
        } else {
            try run.checkEntries()
            try run.checkLiveCounters()
            try run.checkRebuild(compare: true)
        }
        if deep { try run.scanSegments() }
        return run.report
    }
}

/// The state of one verification run.
private struct Run {
    let log: SegmentLog
    let index: ObjectIndex
    var report: VerificationReport
    /// The last run ended in a machine crash (see `Recovery.replay`).
    let unsyncedTail: Bool
    /// Per segment, the records found by walking their headers from the file header.
    var recordMaps: [UInt64: [(offset: UInt64, header: RecordHeader)]] = [:]

    /// Check 1: every entry's commit record and extents.
    mutating func checkEntries() throws {
        for table in index.viewTables where table.table != .segments {
            let entries = try allEntries(index, table)
            report.counts.entries[table.name, default: 0] += entries.count
            for (key, value) in entries {
                try checkEntry(table: table.table, key: key, value: value)
            }
        }
    }

    private mutating func checkEntry(table: Table, key: [UInt8], value: [UInt8]) throws {
        let sequence: UInt64, ref: RecordRef
        do {
            (sequence, ref) = try IndexValue.header(value)
        } catch {
            report.problems.append(.undecodableEntry(table: table, key: key, reason: "\(error)"))
            return
        }
        let payload = Array(value[IndexValue.prefixSize...])
        if let reason = try checkCommitRecord(ref: ref, sequence: sequence, payload: payload, table: table, key: key) {
            if log.file(ref.segment) == nil {
                report.problems.append(.missingSegment(table: table, key: key, segment: ref.segment))
            } else {
                report.problems.append(.commitRecordMismatch(table: table, key: key, ref: ref, reason: reason))
            }
        }
        report.counts.commitRecords += 1
        guard let (extents, size) = try? self.extents(table: table, value: value) else {
            switch table {
            case .objects, .versions, .parts:
                report.problems.append(.undecodableEntry(table: table, key: key, reason: "payload does not decode"))
            case .meta, .buckets, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots:
                break
            }
            return
        }
        var total: UInt64 = 0
        for extent in extents {
            report.counts.extents += 1
            total += extent.length
            if let reason = try checkExtent(extent) {
                if log.file(extent.segment) == nil {
                    report.problems.append(.missingSegment(table: table, key: key, segment: extent.segment))
                } else {
                    report.problems.append(.extentOutsideData(table: table, key: key, extent: extent, reason: reason))
                }
            }
        }
        if total != size { report.problems.append(.sizeMismatch(table: table, key: key, size: size, extentBytes: total)) }
    }

    /// The record types an entry of `table` may point at (FORMAT.md, "Index"): each
    /// commit kind says which entries name its records.
    private func expectedTypes(table: Table, key: [UInt8]) -> Set<RecordType> {
        Set(Commit.kinds(ofEntryIn: table, key: key).map { $0.recordType })
    }

    /// The extents and size of an object or part entry; none for other tables.
    /// An entry's extents and the bytes they must hold: its stored size (sealed, for an
    /// encrypted object or part).
    private func extents(table: Table, value: [UInt8]) throws -> ([Extent], UInt64) {
        switch table {
        case .objects, .versions:
            let info = try IndexValue.object(value)
            return (info.extents, info.storedSize)
        case .parts:
            let part = try IndexValue.part(value)
            return (part.extents, part.storedSize)
        case .meta, .buckets, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots:
            return ([], 0)
        }
    }

    /// Reads the record at `ref`; nil if it is the commit record the entry describes,
    /// else why not.
    private mutating func checkCommitRecord(ref: RecordRef, sequence: UInt64, payload: [UInt8], table: Table, key: [UInt8]) throws -> String? {
        let allowed = expectedTypes(table: table, key: key)
        guard let file = log.file(ref.segment) else { return "segment file \(SegmentLog.fileName(ref.segment)) does not exist" }
        let size = try file.size()
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        guard ref.offset >= UInt64(SegmentFormat.fileHeaderSize), ref.offset + headerSize <= size else {
            return "offset outside the segment (\(size) bytes)"
        }
        let header: RecordHeader
        do {
            header = try file.read(at: ref.offset, count: SegmentFormat.recordHeaderSize).withUnsafeBytes { try RecordHeader.decode($0) }
        } catch {
            return "no valid record header there (\(error))"
        }
        guard allowed.contains(header.type) else {
            return "record type \(header.type), expected \(allowed.map { "\($0)" }.sorted().joined(separator: " or "))"
        }
        guard header.sequence == sequence else { return "record sequence \(header.sequence), the index says \(sequence)" }
        guard UInt64(header.recordSize) == ref.size else { return "record size \(header.recordSize), the index says \(ref.size)" }
        guard ref.offset + ref.size <= size else { return "record runs past the end of the segment" }
        let stored = try file.read(at: ref.offset + headerSize, count: header.payloadLength)
        guard CRC32.checksum(stored) == header.payloadCRC else { return "payload checksum mismatch" }
        guard let kind = Commit.kind(of: header.type), kind.entry(payload, describes: stored, table: table, key: key) else {
            return "payload differs from the index value's"
        }
        return nil
    }

    /// Nil if `extent` is exactly one data record's payload, else why not.
    private mutating func checkExtent(_ extent: Extent) throws -> String? {
        guard log.file(extent.segment) != nil else { return "segment file \(SegmentLog.fileName(extent.segment)) does not exist" }
        let records = try recordMap(extent.segment)
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        // The last record starting before the extent's first byte.
        var low = 0, high = records.count
        while low < high {
            let mid = (low + high) / 2
            if records[mid].offset + headerSize <= extent.offset { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return "no record before this offset" }
        let (offset, header) = records[low - 1]
        guard header.type == .data else { return "inside a \(header.type) record at offset \(offset), not a data record" }
        let payloadEnd = offset + headerSize + UInt64(header.payloadLength)
        guard extent.offset + extent.length <= payloadEnd else {
            return "runs past the end of the data record at offset \(offset) (payload ends at \(payloadEnd))"
        }
        // GET checks a piece by its record's payload CRC (FORMAT.md, "Reads"), so an
        // extent is always one whole payload.
        guard extent.offset == offset + headerSize, extent.length == UInt64(header.payloadLength) else {
            return "covers only part of the data record at offset \(offset)"
        }
        return nil
    }

    /// The records of a segment found by following record headers (checksummed headers,
    /// payloads not read), up to the first bad header or the seal.
    private mutating func recordMap(_ id: UInt64) throws -> [(offset: UInt64, header: RecordHeader)] {
        if let map = recordMaps[id] { return map }
        var map: [(offset: UInt64, header: RecordHeader)] = []
        if let file = log.file(id) {
            let size = try file.size()
            var offset = UInt64(SegmentFormat.fileHeaderSize)
            while offset + UInt64(SegmentFormat.recordHeaderSize) <= size {
                guard let header = try? file.read(at: offset, count: SegmentFormat.recordHeaderSize).withUnsafeBytes({ try RecordHeader.decode($0) }),
                      offset + UInt64(header.recordSize) <= size else {
                    // A damaged header: go on at the next valid record, as recovery does, so
                    // the entries after it are checked against the records they point at.
                    var scanner = try SegmentScanner(file: file, from: offset)
                    guard let next = try? scanner.next() else { break }
                    offset = next.ref.offset
                    continue
                }
                map.append((offset, header))
                offset += UInt64(header.recordSize)
                if header.type == .seal { break }
            }
        }
        recordMaps[id] = map
        return map
    }

    /// Check 2: recompute each segment's live counters from the entries (FORMAT.md,
    /// "Live bytes") and compare them with the `segments` table.
    mutating func checkLiveCounters() throws {
        for view in index.views { try checkLiveCounters(of: view) }
    }

    /// A view's counts (the live store's, or a snapshot's) are those of its own entries.
    private mutating func checkLiveCounters(of view: IndexView) throws {
        var expected: [UInt64: VerificationProblem.LiveCount] = [:]
        func live(_ ref: RecordRef, _ extents: [Extent]) {
            expected[ref.segment, default: .init(bytes: 0, records: 0)].bytes += ref.size
            expected[ref.segment, default: .init(bytes: 0, records: 0)].records += 1
            for e in extents { expected[e.segment, default: .init(bytes: 0, records: 0)].bytes += e.length }
        }
        for table in [view.buckets, view.objects, view.versions, view.tombstones, view.uploads, view.parts, view.configs] {
            for (_, value) in try allEntries(index, table) {
                guard let (_, ref) = try? IndexValue.header(value) else { continue }
                switch table.table {
                case .objects, .versions:
                    guard let info = try? IndexValue.object(value) else { continue }
                    live(ref, info.extents)
                case .parts:
                    guard let part = try? IndexValue.part(value) else { continue }
                    live(ref, part.extents)
                case .meta, .buckets, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots:
                    live(ref, [])
                }
            }
        }
        var stored: [UInt64: VerificationProblem.LiveCount] = [:]
        for (key, value) in try allEntries(index, view.segments) {
            guard let id = IndexKey.decodeBigEndian(key, as: UInt64.self), value.count == 16 else {
                report.problems.append(.undecodableEntry(table: .segments, key: key, reason: "expected a u64 key and a 16-byte value"))
                continue
            }
            var r = ByteReader(value)
            stored[id] = .init(bytes: (try? r.read(UInt64.self)) ?? 0, records: (try? r.read(UInt64.self)) ?? 0)
        }
        let zero = VerificationProblem.LiveCount(bytes: 0, records: 0)
        for id in Set(stored.keys).union(expected.keys).sorted() {
            report.counts.liveCounters += 1
            let s = stored[id] ?? zero, e = expected[id] ?? zero
            if s != e { report.problems.append(.liveCounterMismatch(segment: id, stored: s, expected: e)) }
        }
    }

    /// Check 3: rebuild an index from the segments in a temporary directory and compare
    /// every view table with the live index.
    mutating func checkRebuild(compare: Bool) throws {
        let scratch = NSTemporaryDirectory() + "strata-verify-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch + "/rebuilt", withIntermediateDirectories: true)
        let rebuilt = try ObjectIndex(path: scratch + "/rebuilt")
        let rebuild: Recovery.Report
        do {
            rebuild = try Recovery.rebuild(log: log, index: rebuilt, repair: false, unsyncedTail: unsyncedTail)
        } catch {
            report.problems.append(.rebuildFailed(reason: "\(error)"))
            return
        }
        if let torn = rebuild.tornTail, !report.deep {
            report.problems.append(.tornTail(segment: torn.position.segment, offset: torn.position.offset, reason: torn.reason))
        }
        if !report.deep {
            for id in rebuild.tornSegments { report.problems.append(.badSegmentHeader(segment: id, isLast: true)) }
        }
        let losses = try DamagedRecords.losses(rebuild.damaged, index: rebuilt, log: log)
        for span in rebuild.damaged {
            report.problems.append(.damagedRecords(span: span, held: losses.filter { $0.span == span }.map(\.description)))
        }
        guard compare else { return }
        var live = index
        let checkpoint = try index.environment.read { try Checkpoint.read($0, index) }
        if let cp = checkpoint {
            if cp.position.segment != 0 {
                if let file = log.file(cp.position.segment) {
                    if cp.position.offset > (try file.size()) {
                        report.problems.append(.badCheckpoint(reason: "offset \(cp.position.offset) is past the end of segment file \(SegmentLog.fileName(cp.position.segment))"))
                    }
                } else {
                    report.problems.append(.badCheckpoint(reason: "names segment file \(SegmentLog.fileName(cp.position.segment)), which does not exist"))
                }
            }
            if rebuild.lastSequence > cp.lastSequence {
                // The index lags the log (a crash before the index transaction). Compare
                // the rebuild with a copy of the index brought up to date, as opening would.
                report.problems.append(.indexBehindLog(checkpointSequence: cp.lastSequence, logSequence: rebuild.lastSequence))
                try FileManager.default.createDirectory(atPath: scratch + "/replayed", withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: index.environment.path + "/data.mdb", toPath: scratch + "/replayed/data.mdb")
                let copy = try ObjectIndex(path: scratch + "/replayed")
                do {
                    _ = try Recovery.replay(log: log, index: copy, repair: false, unsyncedTail: unsyncedTail)
                    live = copy
                } catch {
                    report.problems.append(.rebuildFailed(reason: "replaying the log tail onto a copy of the index: \(error)"))
                    return
                }
            }
        }
        for table in zip(live.viewTables, rebuilt.viewTables) {
            let which = table.0.table
            let have = Dictionary(try allEntries(live, table.0), uniquingKeysWith: { a, _ in a })
            let want = try allEntries(rebuilt, table.1)
            report.counts.rebuiltEntries += want.count
            var seen = Set<[UInt8]>()
            for (key, value) in want {
                seen.insert(key)
                if let mine = have[key] {
                    if mine != value { report.problems.append(.rebuildMismatch(table: which, key: key, difference: .valueDiffers)) }
                } else {
                    report.problems.append(.rebuildMismatch(table: which, key: key, difference: .missingFromIndex))
                }
            }
            for key in have.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) where !seen.contains(key) {
                report.problems.append(.rebuildMismatch(table: which, key: key, difference: .notInRebuild))
            }
        }
    }

    /// Check 4 (deep): every record of every segment, payload checksums included.
    mutating func scanSegments() throws {
        let ids = log.segmentIDs
        for id in ids {
            let isLast = id == ids.last
            guard let file = log.file(id) else { continue }
            guard try log.readHeader(id)?.segmentID == id else {
                report.problems.append(.badSegmentHeader(segment: id, isLast: isLast))
                continue
            }
            var scanner = try SegmentScanner(file: file, loadData: true, resynchronize: !(isLast && unsyncedTail))
            var lastType: RecordType?
            do {
                while let record = try scanner.next() {
                    report.counts.scannedRecords += 1
                    report.counts.scannedBytes += record.ref.size
                    lastType = record.header.type
                }
            } catch let unsupported as UnsupportedRecord {
                report.problems.append(.corruptRecord(segment: id, offset: unsupported.offset, reason: "\(unsupported.reason): this build cannot read it"))
                continue
            }
            // Damage that valid records follow is reported with what it held (check 3).
            func reported(_ offset: UInt64) -> Bool {
                report.problems.contains { if case .damagedRecords(let s, _) = $0 { s.segment == id && s.offset == offset } else { false } }
            }
            for span in scanner.damaged where !reported(span.offset) {
                report.problems.append(.corruptRecord(segment: id, offset: span.offset, reason: "\(span.damage)"))
            }
            if case .torn(let damage) = scanner.end {
                if isLast {
                    report.problems.append(.tornTail(segment: id, offset: scanner.validEnd, reason: "\(damage)"))
                } else if !reported(scanner.validEnd) {
                    report.problems.append(.corruptRecord(segment: id, offset: scanner.validEnd, reason: "\(damage)"))
                }
            } else if !isLast && lastType != .seal {
                report.problems.append(.unsealedSegment(segment: id))
            }
        }
    }
}

/// Every entry of a table, in key order.
private func allEntries(_ index: ObjectIndex, _ table: Database) throws -> [(key: [UInt8], value: [UInt8])] {
    try index.environment.read { txn in
        var out: [(key: [UInt8], value: [UInt8])] = []
        try txn.withCursor(table) { c in
            var e = try c.first()
            while let (k, v) = e {
                out.append((k, v))
                e = try c.next()
            }
        }
        return out
    }
}
