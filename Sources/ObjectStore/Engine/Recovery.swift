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
        /// Where a cut tail that held valid records was kept (after a machine crash).
        public var tailSavedTo: String?
        /// Last segments whose header was torn (a crash while rolling over), removed or to remove.
        public var tornSegments: [UInt64] = []
        /// Damaged bytes that valid records follow (or at the end of a sealed segment):
        /// corruption, skipped; every valid record around them was applied.
        public var damaged: [DamagedSpan] = []
        /// A sync failed in the last run: the log was cut back to where the last good sync
        /// ended (``SegmentLog/cutUnsyncedTail()``); nothing after it was acknowledged.
        public var cutAfterFailedSync: LogPosition?
        /// The index was left by a run that the machine's crash ended: it was thrown away
        /// and rebuilt from the segments (`IndexSession`).
        public var indexDiscardedAfterMachineCrash = false

        public static func == (a: Report, b: Report) -> Bool {
            a.end == b.end && a.lastSequence == b.lastSequence && a.recordsScanned == b.recordsScanned
                && a.recordsApplied == b.recordsApplied && a.tornTail?.position == b.tornTail?.position
                && a.damaged == b.damaged
        }
    }

    /// What a replay does with damaged bytes that valid records follow.
    public enum OnDamage: Sendable {
        /// Skip them, apply every valid record around them, and report them (start-up,
        /// `strata recover --rebuild-index --salvage`).
        case salvage
        /// Stop with an error naming the first one (`strata recover --rebuild-index`
        /// without `--salvage`: a rebuild beside the index, which then stays as it was).
        case stop
    }

    /// Replays every commit record after the index's checkpoint, in log order.
    ///
    /// **Torn tail or corruption.** Records are appended in file order with no gaps, and a
    /// write is acknowledged only after a sync that covers its whole record. So a crash
    /// can leave only one kind of damage: a partial record at the very end of the last
    /// segment, with nothing after it. That, and only that, is a torn tail: with `repair`
    /// it is cut off (nothing in it was acknowledged). Damage that valid records follow, or
    /// damage in a sealed segment (synced before the next one was created), is corruption
    /// of bytes that were once durable: the scanner resynchronises at the next valid
    /// record, every record after the damage is applied, and the damaged span is reported
    /// and stored in the `damaged` table (or, with `.stop`, the replay fails). An object
    /// whose bytes lie in a damaged span stays in the index; a GET of it fails its
    /// checksum and answers an error, never wrong bytes.
    ///
    /// **After a machine crash** (`unsyncedTail`) the bytes of the last segment after its
    /// last sync may be anything (the page cache lost some pages and kept others), so
    /// valid-looking records after damage there may be writes that were never
    /// acknowledged, whose data may be garbage: in that segment the first damage ends the
    /// log, as a torn tail.
    ///
    /// **Unknown means refuse.** A record whose header checks out but which this build
    /// cannot read (type, flags, payload version, length) fails the replay, wherever it
    /// is: cutting or skipping it could drop what a newer Strata wrote.
    ///
    /// Each batch of applied records is committed to the index with the checkpoint at the
    /// end of its last record, so a crash during recovery resumes where it stopped.
    /// Without `repair` the log is left as it is (read-only checks).
    public static func replay(log: SegmentLog, index: ObjectIndex, repair: Bool, onDamage: OnDamage = .salvage,
                              unsyncedTail: Bool = false, stopAt: LogPosition? = nil, batchSize: Int = 4096) throws -> Report {
        var report = Report()
        let checkpoint = try index.environment.read { try Checkpoint.read($0, index) }
        report.lastSequence = checkpoint?.lastSequence ?? 0
        let ids = log.segmentIDs
        if let cp = checkpoint, cp.position.segment != 0, log.file(cp.position.segment) == nil {
            throw StoreError(.corrupt, "the index's checkpoint names segment file \(SegmentLog.fileName(cp.position.segment)), which does not exist; run `strata recover --rebuild-index`")
        }
        for id in ids where id >= (checkpoint?.position.segment ?? 0) && id <= (stopAt?.segment ?? .max) {
            let isLast = id == ids.last || id == stopAt?.segment
            guard let file = log.file(id) else { continue }
            let from = checkpoint.flatMap { $0.position.segment == id ? $0.position.offset : nil }
            if let from, from > (try file.size()) {
                throw StoreError(.corrupt, "the index's checkpoint (offset \(from)) is past the end of segment file \(SegmentLog.fileName(id)); run `strata recover --rebuild-index`")
            }
            var found: [DamagedSpan] = []
            let headerIsValid = try log.readHeader(id)?.segmentID == id
            if from == nil, !headerIsValid {
                found.append(DamagedSpan(segment: id, offset: 0, length: UInt64(SegmentFormat.fileHeaderSize), damage: .badSegmentHeader))
            }
            let upTo = stopAt.flatMap { $0.segment == id ? $0.offset : nil }
            var scanner = try SegmentScanner(file: file, from: from, upTo: upTo, resynchronize: !(isLast && unsyncedTail))
            var batch: [CommitRecord] = []
            func flush(upTo end: UInt64) throws {
                let damaged = (found + scanner.damaged).filter { !report.damaged.contains($0) }
                if onDamage == .stop, let first = damaged.first { throw DamageFound(span: first) }
                report.damaged += damaged
                let records = batch
                batch.removeAll(keepingCapacity: true)
                let sequence = max(report.lastSequence, records.map(\.sequence).max() ?? 0)
                try index.environment.write { txn in
                    let applier = IndexApplier(index: index, txn: txn)
                    for r in records { try applier.apply(r) }
                    for span in damaged { try DamagedRecords.put(span, txn, index) }
                    try Checkpoint(position: LogPosition(segment: id, offset: end), lastSequence: sequence).write(txn, index)
                }
                report.lastSequence = sequence
                report.recordsApplied += records.count
            }
            do {
                if isLast, !headerIsValid {
                    // A new segment's header is written and synced before anything is
                    // appended to it: a bad header with no valid record after it is a crash
                    // while rolling over. With records after it, it is damaged like any bytes.
                    var probe = try SegmentScanner(file: file)
                    if try probe.next() == nil {
                        report.tornSegments.append(id)
                        if repair { try log.removeSegment(id) }
                        continue
                    }
                }
                while let record = try scanner.next() {
                    report.recordsScanned += 1
                    guard record.header.type.isCommitting, let payload = record.payload else { continue }
                    batch.append(try CommitRecord(type: record.header.type, sequence: record.header.sequence, ref: record.ref, payload: payload))
                    if batch.count >= batchSize { try flush(upTo: record.ref.end.offset) }
                }
            } catch let unsupported as UnsupportedRecord {
                throw StoreError(.corrupt, "cannot open the log: \(unsupported)")
            }
            if case .torn(let damage) = scanner.end, !isLast {
                // A sealed segment was synced whole before the next one was created: its
                // end cannot be torn. Skip the damaged end and go on with the next segment.
                let size = try file.size()
                found.append(DamagedSpan(segment: id, offset: scanner.validEnd, length: size - scanner.validEnd, damage: damage))
                try flush(upTo: size)
            } else {
                try flush(upTo: scanner.validEnd)
            }
            report.segmentsScanned += 1
            if case .torn(let damage) = scanner.end, isLast {
                report.tornTail = (LogPosition(segment: id, offset: scanner.validEnd), "\(damage)")
                if repair {
                    // After a machine crash the cut tail may hold valid records: writes never
                    // acknowledged, or (a second fault) durable ones behind a damaged byte.
                    // They are kept aside, not thrown away.
                    if unsyncedTail, var probe = try? SegmentScanner(file: file, from: scanner.validEnd, upTo: upTo),
                       (try? probe.next()) != nil {
                        report.tailSavedTo = try log.saveTail(segment: id, from: scanner.validEnd)
                    }
                    try log.truncate(segment: id, to: scanner.validEnd)
                }
            }
            report.end = LogPosition(segment: id, offset: scanner.validEnd)
        }
        if report.end == nil, let cp = checkpoint, log.file(cp.position.segment) != nil {
            report.end = cp.position
        }
        return report
    }

    /// A replay with ``OnDamage/stop`` found damaged bytes.
    public struct DamageFound: Error, CustomStringConvertible {
        public var span: DamagedSpan
        public var description: String {
            "segment \(span.segmentFileName) offset \(span.offset): \(span.damage) (\(span.length) damaged bytes before the next valid record); "
                + "`strata recover --rebuild-index --salvage` rebuilds without them and lists what they held"
        }
    }

    /// Rebuilds the whole index from segments alone: empties every table, then replays
    /// from the first segment. (`IndexRebuild` does this beside the live index and swaps
    /// the result in.)
    public static func rebuild(log: SegmentLog, index: ObjectIndex, repair: Bool, onDamage: OnDamage = .salvage,
                               unsyncedTail: Bool = false, stopAt: LogPosition? = nil) throws -> Report {
        try index.environment.write { txn in
            for table in index.allTables { try txn.clear(table) }
        }
        let report = try replay(log: log, index: index, repair: repair, onDamage: onDamage, unsyncedTail: unsyncedTail, stopAt: stopAt)
        try index.environment.write { try IndexLayout.current.write($0, index) }
        return report
    }

    /// Opens the index for the store: an index written by an older version (another
    /// layout, e.g. different live-byte rules) is rebuilt from the segments; else the tail
    /// after the checkpoint is replayed. `unsyncedTail`: the last run ended in a machine
    /// crash (see ``replay(log:index:repair:onDamage:unsyncedTail:stopAt:batchSize:)``).
    static func open(log: SegmentLog, index: ObjectIndex, unsyncedTail: Bool) throws -> Report {
        let (layout, checkpoint) = try index.environment.read { txn in
            (try IndexLayout.read(txn, index), try Checkpoint.read(txn, index))
        }
        if checkpoint != nil && layout != .current {
            return try rebuild(log: log, index: index, repair: true, unsyncedTail: unsyncedTail)
        }
        let report = try replay(log: log, index: index, repair: true, unsyncedTail: unsyncedTail)
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
