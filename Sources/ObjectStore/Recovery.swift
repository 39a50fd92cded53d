import ObjectIndex
import SegmentLog

/// Replay of commit records from segments into the index (FORMAT.md, "Recovery").
public enum Recovery {
    /// What a replay did.
    public struct Report: Sendable, Equatable {
        /// The valid end of the log (nil: no segments).
        public var end: LogPosition?
        public var lastSequence: UInt64 = 0
        public var recordsScanned = 0
        public var recordsApplied = 0
        public var segmentsScanned = 0
        /// A torn tail found at the end of the last segment: where good records end, and why.
        public var tornTail: (position: LogPosition, reason: String)?
        /// Last segments whose header was torn (a crash while rolling over), removed or to remove.
        public var tornSegments: [UInt64] = []
        /// The index was left by a run that the machine's crash ended: it was thrown away
        /// and rebuilt from the segments (`IndexSession`).
        public var indexDiscardedAfterMachineCrash = false

        public static func == (a: Report, b: Report) -> Bool {
            a.end == b.end && a.lastSequence == b.lastSequence && a.recordsScanned == b.recordsScanned
                && a.recordsApplied == b.recordsApplied && a.tornTail?.position == b.tornTail?.position
        }
    }

    /// Replays every commit record after the index's checkpoint, in log order.
    ///
    /// Only the last segment may end in a torn record: segments are sealed and synced
    /// before the next one receives anything. With `repair`, the torn tail is cut off
    /// (it was never acknowledged: acknowledgement waits for a sync that covers the whole
    /// record) and a last segment with a torn header is removed. Without `repair` the log
    /// is left as it is (read-only checks).
    ///
    /// Each batch of applied records is committed to the index with the checkpoint at the
    /// end of its last record, so a crash during recovery resumes where it stopped.
    public static func replay(log: SegmentLog, index: ObjectIndex, repair: Bool, batchSize: Int = 4096) throws -> Report {
        var report = Report()
        let checkpoint = try index.environment.read { try Checkpoint.read($0, index) }
        report.lastSequence = checkpoint?.lastSequence ?? 0
        let ids = log.segmentIDs
        if let cp = checkpoint, cp.position.segment != 0, log.file(cp.position.segment) == nil {
            throw StoreError(.corrupt, "the index's checkpoint names segment \(cp.position.segment), which does not exist; run `strata recover --rebuild-index`")
        }
        for id in ids where id >= (checkpoint?.position.segment ?? 0) {
            let isLast = id == ids.last
            guard let file = log.file(id) else { continue }
            guard try log.readHeader(id)?.segmentID == id else {
                if isLast && repair {
                    try log.removeSegment(id)
                    report.tornSegments.append(id)
                    continue
                }
                if isLast {
                    report.tornSegments.append(id)
                    continue
                }
                throw StoreError(.corrupt, "segment \(id) has a bad header")
            }
            let from = checkpoint.flatMap { $0.position.segment == id ? $0.position.offset : nil }
            if let from, from > (try file.size()) {
                throw StoreError(.corrupt, "the index's checkpoint \(id):\(from) is past the end of segment \(id); run `strata recover --rebuild-index`")
            }
            var scanner = try SegmentScanner(file: file, from: from)
            var batch: [CommitRecord] = []
            func flush(upTo end: UInt64) throws {
                let records = batch
                batch.removeAll(keepingCapacity: true)
                let sequence = max(report.lastSequence, records.map(\.sequence).max() ?? 0)
                try index.environment.write { txn in
                    let applier = IndexApplier(index: index, txn: txn)
                    for r in records { try applier.apply(r) }
                    try Checkpoint(position: LogPosition(segment: id, offset: end), lastSequence: sequence).write(txn, index)
                }
                report.lastSequence = sequence
                report.recordsApplied += records.count
            }
            while let record = try scanner.next() {
                report.recordsScanned += 1
                guard record.header.type.isCommitting, let payload = record.payload else { continue }
                batch.append(CommitRecord(type: record.header.type, sequence: record.header.sequence, ref: record.ref, payload: payload))
                if batch.count >= batchSize { try flush(upTo: record.ref.end.offset) }
            }
            try flush(upTo: scanner.validEnd)
            report.segmentsScanned += 1
            if case .torn(let reason) = scanner.end {
                guard isLast else {
                    throw StoreError(.corrupt, "segment \(id) is damaged at offset \(scanner.validEnd) (\(reason)) and is not the last segment; run `strata verify`")
                }
                report.tornTail = (LogPosition(segment: id, offset: scanner.validEnd), reason)
                if repair { try log.truncate(segment: id, to: scanner.validEnd) }
            }
            report.end = LogPosition(segment: id, offset: scanner.validEnd)
        }
        if report.end == nil, let cp = checkpoint, log.file(cp.position.segment) != nil {
            report.end = cp.position
        }
        return report
    }

    /// Rebuilds the whole index from segments alone: empties every table, then replays
    /// from the first segment.
    public static func rebuild(log: SegmentLog, index: ObjectIndex, repair: Bool) throws -> Report {
        try index.environment.write { txn in
            for table in index.allTables { try txn.clear(table) }
        }
        let report = try replay(log: log, index: index, repair: repair)
        try index.environment.write { try IndexLayout.current.write($0, index) }
        return report
    }

    /// Opens the index for the store: an index written by an older version (another
    /// layout, e.g. different live-byte rules) is rebuilt from the segments; else the tail
    /// after the checkpoint is replayed.
    static func open(log: SegmentLog, index: ObjectIndex) throws -> Report {
        let (layout, checkpoint) = try index.environment.read { txn in
            (try IndexLayout.read(txn, index), try Checkpoint.read(txn, index))
        }
        if checkpoint != nil && layout != .current { return try rebuild(log: log, index: index, repair: true) }
        let report = try replay(log: log, index: index, repair: true)
        if layout != .current { try index.environment.write { try IndexLayout.current.write($0, index) } }
        return report
    }
}

/// What the index's derived tables mean, kept in `meta` ("layout"). Version 2: every
/// closed-upload tombstone counts its record live; config removals are entries.
struct IndexLayout: Equatable {
    var version: UInt32

    static let current = IndexLayout(version: 2)
    static let key = Array("layout".utf8)

    func write(_ txn: Transaction, _ index: ObjectIndex) throws {
        var w = ByteWriter()
        w.write(version)
        try txn.put(index.meta, Self.key, w.bytes)
    }

    static func read(_ txn: Transaction, _ index: ObjectIndex) throws -> IndexLayout? {
        guard let bytes = try txn.get(index.meta, key) else { return nil }
        var r = ByteReader(bytes)
        return IndexLayout(version: try r.read(UInt32.self))
    }
}
