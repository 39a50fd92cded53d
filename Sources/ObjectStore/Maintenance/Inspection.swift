#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ObjectIndex
import SegmentLog

/// Read-only views of a data directory for `strata inspect`: per-segment space, a dump of
/// one segment's records, one object's index entry, and the index's tables.
///
/// Safe while a server runs on the same directory: the index is opened with `MDB_RDONLY`
/// and read in snapshot transactions, segments are only read (scanned without repair),
/// and no `ObjectStore` is started (its recovery would truncate a torn tail). The active
/// segment may end in a record being written: that is reported as its tail, not an error.
public final class Inspector: @unchecked Sendable {
    /// The data directory (`segments/` and `index/`).
    public let directory: String
    private let log: SegmentLog?
    private let environment: LMDBEnvironment
    private let tables: [Table: Database]
    /// The snapshot slots' `segments` tables (an index written before snapshots has none).
    private let snapshotSegments: [Database]

    /// Names of the index tables, in FORMAT.md order.
    public static let tableNames = Table.allCases.map(\.rawValue)

    /// Opens `directory` for inspection; throws if it has no index.
    public init(directory: String) throws {
        self.directory = directory
        let segments = directory + "/segments"
        // SegmentLog creates a missing directory: only open it when it exists.
        log = Self.isDirectory(segments) ? try SegmentLog(directory: segments) : nil
        guard Self.isDirectory(directory + "/index") else {
            throw StoreError(.corrupt, "\(directory) has no index directory")
        }
        let environment = try LMDBEnvironment(path: directory + "/index", maxDatabases: ObjectIndex.databaseCount, readOnly: true)
        self.environment = environment
        var tables: [Table: Database] = [:]
        for table in Table.allCases {
            if let db = try environment.openExistingDatabase(table) { tables[table] = db }
        }
        self.tables = tables
        snapshotSegments = try (0..<ObjectIndex.snapshotSlots).compactMap { slot in
            try environment.openExistingDatabase(.segments, name: ObjectIndex.databaseName(of: .segments, slot: slot))
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    // MARK: Segments

    /// Space accounting of one segment.
    public struct SegmentSummary: Codable, Sendable, Equatable {
        public var id: UInt64
        /// File size in bytes.
        public var size: UInt64
        /// Live bytes according to the index's `segments` table.
        public var liveBytes: UInt64
        /// Live commit records according to the index.
        public var liveRecords: UInt64
        /// `size − liveBytes`: what compaction would reclaim.
        public var deadBytes: UInt64
        /// `deadBytes / size` × 100.
        public var deadPercent: Double
        /// Valid records found by a scan.
        public var records: Int
        /// `sealed` (ends with a seal record) or `active` (the one appends go to).
        public var state: String
        /// Where the valid records end.
        public var validEnd: UInt64
        /// Why the scan stopped before the end of the file (a torn tail or corruption), if it did.
        public var tail: String?
    }

    /// All segments and their sum.
    public struct SegmentsReport: Codable, Sendable, Equatable {
        public var segments: [SegmentSummary]
        public var totalSize: UInt64
        public var totalLiveBytes: UInt64
        public var totalDeadBytes: UInt64
        public var totalDeadPercent: Double
        public var totalRecords: Int
    }

    /// Ids of the segment files, ascending.
    public var segmentIDs: [UInt64] { log?.segmentIDs ?? [] }

    /// One row per segment: size, live and dead bytes, record count, sealed or active.
    public func segments() throws -> SegmentsReport {
        let stats = try liveStats()
        var rows: [SegmentSummary] = []
        for id in segmentIDs {
            guard let file = log?.file(id) else { continue }
            let size = try file.size()
            var scanner = try SegmentScanner(file: file)
            var records = 0
            var sealed = false
            while let record = try scanner.next() {
                records += 1
                if record.header.type == .seal { sealed = true }
            }
            let live = stats[id] ?? SegmentStats()
            let dead = size > live.liveBytes ? size - live.liveBytes : 0
            var tail: String? = nil
            if case .torn(let damage) = scanner.end { tail = "\(damage)" }
            rows.append(SegmentSummary(id: id, size: size, liveBytes: live.liveBytes, liveRecords: live.liveRecords,
                                       deadBytes: dead, deadPercent: Self.percent(dead, of: size), records: records,
                                       state: sealed ? "sealed" : "active", validEnd: scanner.validEnd, tail: tail))
        }
        let size = rows.reduce(0) { $0 + $1.size }, dead = rows.reduce(0) { $0 + $1.deadBytes }
        return SegmentsReport(segments: rows, totalSize: size, totalLiveBytes: rows.reduce(0) { $0 + $1.liveBytes },
                              totalDeadBytes: dead, totalDeadPercent: Self.percent(dead, of: size),
                              totalRecords: rows.reduce(0) { $0 + $1.records })
    }

    /// The `segments` tables: segment id → live bytes and records, of the live store and
    /// every snapshot together.
    public func liveStats() throws -> [UInt64: SegmentStats] {
        let views = (tables[.segments].map { [$0] } ?? []) + snapshotSegments
        return try environment.read { txn in
            var out: [UInt64: SegmentStats] = [:]
            for table in views {
                try txn.withCursor(table) { c in
                    var e = try c.first()
                    while let (k, v) = e {
                        if let id = IndexKey.decodeBigEndian(k, as: UInt64.self) {
                            let stats = SegmentStats(v)
                            out[id, default: SegmentStats()].liveBytes += stats.liveBytes
                            out[id, default: SegmentStats()].liveRecords += stats.liveRecords
                        }
                        e = try c.next()
                    }
                }
            }
            return out
        }
    }

    static func percent(_ part: UInt64, of whole: UInt64) -> Double {
        whole == 0 ? 0 : (Double(part) / Double(whole) * 1000).rounded() / 10
    }

    // MARK: Records

    /// One record of a segment dump.
    public struct RecordSummary: Codable, Sendable, Equatable {
        /// File offset of the record header.
        public var offset: UInt64
        /// The type's name (`data`, `putObject`, …).
        public var type: String
        public var payloadLength: Int
        /// 0 for non-committing records.
        public var sequence: UInt64
        /// Bucket of object, delete, upload, abort, bucket and config records.
        public var bucket: String?
        /// Object key of object, delete, upload and abort records.
        public var key: String?
        /// Upload id of upload, part and abort records (and of a completing putObject).
        public var uploadId: String?
        public var partNumber: Int?
        /// Configuration name of a bucketConfig record.
        public var config: String?
        /// Version id of an object or delete record that names one (absent: the null version).
        public var versionId: String?
        /// True for a putObject that is a delete marker.
        public var deleteMarker: Bool?
        /// How an object or upload record's data is encrypted (``ObjectEncryption/summary``); never key material.
        public var encryption: String?
        /// The Object Lock of an object or upload record (``ObjectLock/summary``).
        public var lock: String?
        /// `ok`, or `BAD` for the record at which the scan stopped (payload checksum mismatch).
        public var checksum: String
    }

    /// The records of one segment, up to a limit.
    public struct SegmentDump: Codable, Sendable, Equatable {
        public var segment: UInt64
        public var size: UInt64
        public var records: [RecordSummary]
        /// True if `limit` cut the dump short.
        public var truncated: Bool
        /// Where the valid records end (when the whole segment was scanned).
        public var validEnd: UInt64?
        /// Why the scan stopped before the end of the file, if it did.
        public var tail: String?
    }

    /// Dumps the records of segment `id` (at most `limit`), checking every checksum.
    public func records(segment id: UInt64, limit: Int? = nil) throws -> SegmentDump {
        guard let file = log?.file(id) else { throw StoreError(.corrupt, "no segment file \(SegmentLog.fileName(id)) in \(directory)/segments") }
        let size = try file.size()
        var scanner = try SegmentScanner(file: file)
        var dump = SegmentDump(segment: id, size: size, records: [], truncated: false)
        var damagedShown = 0
        func room() -> Bool { limit.map { dump.records.count < $0 } ?? true }
        while room() {
            let record = try scanner.next()
            // Damage that valid records follow: shown where it is, before the next record.
            for span in scanner.damaged.dropFirst(damagedShown) where room() {
                dump.records.append(Self.damagedRow(file, span.offset, size: size)
                    ?? RecordSummary(offset: span.offset, type: "damaged", payloadLength: Int(span.length), sequence: 0, checksum: "BAD"))
            }
            damagedShown = scanner.damaged.count
            guard let record, room() else { break }
            dump.records.append(Self.summarize(record.header, offset: record.ref.offset, payload: record.payload, checksum: "ok"))
        }
        if scanner.end == .none {
            dump.truncated = true
            return dump
        }
        dump.validEnd = scanner.validEnd
        if case .torn(let damage) = scanner.end {
            dump.tail = "\(damage)"
            if room(), let row = Self.damagedRow(file, scanner.validEnd, size: size) { dump.records.append(row) }
        }
        return dump
    }

    /// A record whose header is intact but whose payload does not check, as a `BAD` row.
    private static func damagedRow(_ file: SegmentFile, _ at: UInt64, size: UInt64) -> RecordSummary? {
        guard let bytes = try? file.read(at: at, count: SegmentFormat.recordHeaderSize),
              let header = try? bytes.withUnsafeBytes({ try RecordHeader.decode($0) }),
              at + UInt64(header.recordSize) <= size else { return nil }
        let payload = header.type == .data ? nil : try? file.read(at: at + UInt64(SegmentFormat.recordHeaderSize), count: header.payloadLength)
        return summarize(header, offset: at, payload: payload, checksum: "BAD")
    }

    static func summarize(_ header: RecordHeader, offset: UInt64, payload: [UInt8]?, checksum: String) -> RecordSummary {
        var s = RecordSummary(offset: offset, type: "\(header.type)", payloadLength: header.payloadLength,
                              sequence: header.sequence, checksum: checksum)
        if let payload, let kind = Commit.kind(of: header.type), let commit = try? kind.init(decoding: payload) {
            commit.describe(&s)
        }
        return s
    }

    // MARK: Objects

    /// Where a record or a run of bytes lives.
    public struct Location: Codable, Sendable, Equatable {
        public var segment: UInt64
        public var offset: UInt64
        public var length: UInt64
    }

    /// The current version of one object, as the index holds it.
    public struct ObjectReport: Codable, Sendable, Equatable {
        public var bucket: String
        public var key: String
        /// Empty for the `null` version.
        public var versionId: String
        public var size: UInt64
        /// Unquoted.
        public var etag: String
        /// ISO 8601, UTC, milliseconds.
        public var lastModified: String
        public var lastModifiedMilliseconds: Int64
        public var metadata: [String: String]
        public var checksums: [String: String]
        /// Sizes of the parts of a multipart object; empty for a single PUT.
        public var partSizes: [UInt64]
        public var sequence: UInt64
        /// The putObject commit record (length = record size).
        public var commitRecord: Location
        /// The upload a CompleteMultipartUpload commit closed.
        public var completedUpload: String?
        /// How the bytes are encrypted at rest (``ObjectEncryption/summary``), nil: not.
        public var encryption: String?
        /// Object Lock retention and legal hold (``ObjectLock/summary``), nil: none.
        public var lock: String?
        /// Where the bytes are, in object order.
        public var extents: [Location]
    }

    /// The current version of `bucket`/`key`, or nil if there is none.
    public func object(bucket: String, key: String) throws -> ObjectReport? {
        guard let table = tables[.objects], Array(bucket.utf8).count < 256 else { return nil }
        let value = try environment.read { try $0.get(table, IndexKey.object(bucket: bucket, key: Array(key.utf8))) }
        guard let value else { return nil }
        let (_, ref) = try IndexValue.header(value)
        let info = try IndexValue.object(value)
        // A long-form key is shared by names with the same first bytes: check the full name.
        guard info.bucket == bucket, info.key == key else { return nil }
        return ObjectReport(bucket: info.bucket, key: info.key, versionId: info.versionID, size: info.size, etag: info.etag,
                            lastModified: Self.iso8601(milliseconds: info.lastModified),
                            lastModifiedMilliseconds: info.lastModified, metadata: info.metadata, checksums: info.checksums,
                            partSizes: info.partSizes, sequence: info.sequence,
                            commitRecord: Location(segment: ref.segment, offset: ref.offset, length: ref.size),
                            completedUpload: info.completesUpload, encryption: info.encryption?.summary,
                            lock: info.lock.flatMap { $0.isEmpty ? nil : $0.summary },
                            extents: info.extents.map { Location(segment: $0.segment, offset: $0.offset, length: $0.length) })
    }

    /// `2024-05-01T12:34:56.789Z` (proleptic Gregorian calendar, UTC).
    public static func iso8601(milliseconds ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = ms - seconds * 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }

    // MARK: Index

    /// Entries of one LMDB table.
    public struct TableSummary: Codable, Sendable, Equatable {
        public var name: String
        public var entries: Int
    }

    /// The replay checkpoint stored in `meta`.
    public struct CheckpointSummary: Codable, Sendable, Equatable {
        public var segment: UInt64
        public var offset: UInt64
        public var lastSequence: UInt64
    }

    /// The index's tables, checkpoint and map use.
    public struct IndexReport: Codable, Sendable, Equatable {
        public var tables: [TableSummary]
        /// Nil for an index that never applied a commit.
        public var checkpoint: CheckpointSummary?
        /// Configured map size (address space).
        public var mapSize: Int
        /// Bytes of the map in use.
        public var mapUsedBytes: Int
        public var pageSize: Int
        public var lastTransaction: Int
        public var readers: Int
        public var maxReaders: Int
    }

    /// Entry counts of every table, the checkpoint, and the map's size and use.
    public func index() throws -> IndexReport {
        let info = try environment.info()
        var rows: [TableSummary] = []
        for table in Table.allCases {
            guard let database = tables[table] else { continue }
            rows.append(TableSummary(name: table.rawValue, entries: try environment.count(database)))
        }
        return try environment.read { txn in
            var checkpoint: CheckpointSummary? = nil
            if let meta = tables[.meta], let bytes = try txn.get(meta, Checkpoint.key) {
                var r = ByteReader(bytes)
                checkpoint = CheckpointSummary(segment: try r.read(UInt64.self), offset: try r.read(UInt64.self),
                                               lastSequence: try r.read(UInt64.self))
            }
            return IndexReport(tables: rows, checkpoint: checkpoint, mapSize: info.mapSize, mapUsedBytes: info.usedBytes,
                               pageSize: info.pageSize, lastTransaction: info.lastTransaction,
                               readers: info.readers, maxReaders: info.maxReaders)
        }
    }
}
