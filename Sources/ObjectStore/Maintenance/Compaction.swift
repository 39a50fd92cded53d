import ObjectIndex
import SegmentLog
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What to compact.
public struct CompactionOptions: Sendable {
    /// Sealed segments whose dead ratio (1 − live bytes / file size) is at least this are
    /// compacted. 0 compacts every sealed segment.
    public var threshold: Double
    /// Only these segments (each must be sealed), whatever their dead ratio.
    public var segments: [UInt64]?
    /// Copy at most this many bytes per second; nil for no limit.
    public var bytesPerSecond: UInt64?
    /// Entries to copy read per batch of the index walk (tests set it small).
    var walkBatch = 1024

    public init(threshold: Double = 0.5, segments: [UInt64]? = nil, bytesPerSecond: UInt64? = nil) {
        self.threshold = threshold
        self.segments = segments
        self.bytesPerSecond = bytesPerSecond
    }
}

/// What one compaction run did.
public struct CompactionReport: Sendable, Codable, Equatable {
    /// Segments chosen as victims.
    public var victims: [UInt64] = []
    /// Victims deleted.
    public var removed: [UInt64] = []
    /// Victims that something still pointed into after the copy (a multipart completion
    /// that read its parts before they moved); a later run takes them.
    public var kept: [UInt64] = []
    /// Index entries moved to copies.
    public var entriesMoved = 0
    /// Entries not moved because their bytes fail their checksum (`bucket/key` or part):
    /// copying them would give damaged bytes a fresh, valid checksum. Their victims are kept.
    public var damaged: [String] = []
    /// Segments not taken although chosen or over the threshold, because a saved
    /// snapshot's record or a restore's is in them (FORMAT.md, "Snapshots").
    public var pinned: [UInt64] = []
    /// Bytes of the sealed segments that only snapshots refer to: what deleting every
    /// snapshot would let compaction reclaim.
    public var snapshotBytes: UInt64 = 0
    /// Bytes appended for the copies (data and commit records).
    public var bytesCopied: UInt64 = 0
    /// Size of the deleted segments minus the bytes copied.
    public var bytesReclaimed: Int64 = 0
    public var seconds = 0.0
}

/// Progress of a running compaction, for a progress bar.
public struct CompactionProgress: Sendable {
    public var entriesDone: Int
    public var bytesCopied: UInt64
    /// What the victims hold live: an estimate of the bytes to copy (a record two
    /// entries share counts twice; commit records are not counted).
    public var bytesTotal: UInt64
}

/// One sealed segment's numbers, for choosing victims.
public struct SegmentUsage: Sendable, Equatable {
    public var id: UInt64
    public var size: UInt64
    /// What every view (the live store and the snapshots) counts live in it.
    public var liveBytes: UInt64
    /// What the live store alone counts live in it.
    public var liveStoreBytes: UInt64 = 0
    /// A saved snapshot's or a restore's record is in it: never compacted.
    public var pinned = false
    /// Bytes only snapshots keep (clamped to the file size).
    public var snapshotBytes: UInt64 { min(liveBytes, size) - min(liveStoreBytes, size, liveBytes) }
    /// 1 − liveBytes / size (a record two entries share counts twice, so clamp).
    public var deadRatio: Double { size == 0 ? 1 : 1 - Double(min(liveBytes, size)) / Double(size) }
}

/// Multipart completions in flight. A completion reads its parts' extents and commits an
/// object pointing at them; if compaction moved those parts meanwhile, the object would
/// point into a victim. Compaction therefore waits, after its copies are in the index, for
/// every completion that started before (`drain`), lets their commits reach the index,
/// and deletes a victim only if nothing is counted live in it any more.
final class ExtentPins: Sendable {
    private struct State {
        var epoch: UInt64 = 0
        var active: [UInt64: Int] = [:]
    }

    private let state = Mutex(State())

    func pin() -> UInt64 {
        state.withLock { s in
            s.active[s.epoch, default: 0] += 1
            return s.epoch
        }
    }

    func unpin(_ epoch: UInt64) {
        state.withLock { s in
            s.active[epoch, default: 1] -= 1
            if s.active[epoch] == 0 { s.active[epoch] = nil }
        }
    }

    /// Returns once every pin taken before this call is released.
    func drain() async {
        let epoch = state.withLock { s in
            s.epoch += 1
            return s.epoch
        }
        while state.withLock({ $0.active.keys.contains { $0 < epoch } }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// Writers (PUT, UploadPart, copies) whose data records are written but whose commit is
/// not in the index yet, by the segment that was active when they started writing.
final class InFlightWrites: Sendable {
    private let state = Mutex<[UInt64: Int]>([:])
    func enter(_ segment: UInt64) { state.withLock { $0[segment, default: 0] += 1 } }
    func leave(_ segment: UInt64) {
        state.withLock { s in
            s[segment, default: 1] -= 1
            if s[segment] == 0 { s[segment] = nil }
        }
    }
    var oldest: UInt64? { state.withLock { $0.keys.min() } }
}

extension ObjectStore {
    /// Sealed segments with their live bytes, by id. The active segment is never a victim.
    public func segmentUsage() async throws -> [SegmentUsage] {
        let index = self.index, log = self.log
        return try await io {
            let (stats, liveStore, kept, checkpoint) = try index.environment.read { txn in
                (try Self.liveStats(index, txn), try Self.liveStats(index, txn, views: [index.live]),
                 try Snapshots.keptSegments(index, txn), try Checkpoint.read(txn, index))
            }
            // The replay checkpoint's segment must survive (recovery starts there), and
            // so must the active one: only segments before both are candidates.
            let limit = min(log.activeSegmentID ?? 0, checkpoint?.position.segment ?? 0)
            return try log.segmentIDs.filter { $0 < limit }.compactMap { id in
                guard let file = log.file(id) else { return nil }
                return SegmentUsage(id: id, size: try file.size(), liveBytes: stats[id] ?? 0, liveStoreBytes: liveStore[id] ?? 0,
                                    pinned: kept.contains(id))
            }
        }
    }

    /// The whole log: segment files, their bytes, and the bytes the index counts live.
    public func logSpace() async throws -> (segments: Int, bytes: UInt64, liveBytes: UInt64) {
        let index = self.index, log = self.log
        return try await io {
            let live = try index.environment.read { try Self.liveStats(index, $0) }
            let ids = log.segmentIDs
            let bytes = try ids.reduce(UInt64(0)) { $0 + (try log.file($1)?.size() ?? 0) }
            return (ids.count, bytes, ids.reduce(UInt64(0)) { $0 + (live[$1] ?? 0) })
        }
    }

    /// The damaged spans recovery found and skipped (the index's `damaged` table).
    public func damagedSpans() async throws -> [DamagedSpan] {
        let index = self.index
        return try await io { try DamagedRecords.all(index) }
    }

    /// How many damaged spans recovery skipped and their bytes (for metrics).
    public func damageTotals() async throws -> (spans: Int, bytes: UInt64) {
        let spans = try await damagedSpans()
        return (spans.count, spans.reduce(0) { $0 + $1.length })
    }

    /// Sets what is told after every group commit (commits acknowledged, time to sync
    /// and apply them) and after every compaction; for metrics.
    public func observe(groupCommits: @escaping @Sendable (Int, Duration) -> Void,
                        compactions: @escaping @Sendable (CompactionReport) -> Void) {
        committer.observe(groupCommits)
        observers.withLock { $0.compaction = compactions }
    }

    /// Live bytes per segment, summed over `views` (by default every view: the live
    /// store's and each snapshot's).
    static func liveStats(_ index: ObjectIndex, _ txn: Transaction, views: [IndexView]? = nil) throws -> [UInt64: UInt64] {
        var out: [UInt64: UInt64] = [:]
        for view in views ?? index.views {
            try txn.withCursor(view.segments) { c in
                var entry = try c.first()
                while let e = entry {
                    if let id = IndexKey.decodeBigEndian(e.key, as: UInt64.self) { out[id, default: 0] += SegmentStats(e.value).liveBytes }
                    entry = try c.next()
                }
            }
        }
        return out
    }

    /// Compacts sealed segments (docs/DESIGN.md, "Compaction: copy, compare-and-swap,
    /// delete"), online: reads and writes go on.
    ///
    /// 1. Victims: sealed segments over the dead-ratio threshold (or the ones named).
    /// 2. Every index entry whose commit record or bytes lie in a victim is copied: its
    ///    bytes in victims as new data records, then its commit record with the **same
    ///    sequence** and the new extents, appended to the log like any commit.
    /// 3. Once durable, the applier moves each entry whose sequence is still the copied
    ///    one (compare, then swap: a concurrent overwrite has a higher sequence and wins).
    /// 4. Multipart completions that read their parts before the move finish and reach
    ///    the index; then a victim in which the index counts nothing live is deleted.
    ///    Readers that opened it keep reading through their descriptor.
    ///
    /// Crash safety: until step 3 the copies are records like any other; recovery
    /// replays them and moves the entries (or finds them superseded). A crash between
    /// 3 and 4 leaves victims with nothing live, taken by the next run. Deleting a file
    /// loses nothing the index needs, and a rebuild from the remaining segments gives the
    /// same index: for every entry the surviving copy is the last one in log order.
    /// Tombstones are copied like entries and never dropped, so a deleted key cannot come
    /// back from an older record left in another segment.
    public func compact(_ options: CompactionOptions = .init(),
                        progress: (@Sendable (CompactionProgress) -> Void)? = nil) async throws -> CompactionReport {
        guard compacting.withLock({ (busy: inout Bool) -> Bool in
            if busy { return false }
            busy = true
            return true
        }) else {
            throw StoreError(.slowDown, "A compaction is already running")
        }
        defer { compacting.withLock { $0 = false } }
        let started = Self.monotonicSeconds()
        var report = CompactionReport()
        let usage = try await segmentUsage()
        if let wanted = options.segments {
            let sealed = Set(usage.map(\.id))
            for id in wanted where !sealed.contains(id) {
                throw StoreError(.invalidArgument, "segment file \(SegmentLog.fileName(id)) does not exist or is not sealed (the active segment and the one the replay checkpoint is in cannot be compacted)")
            }
            let pinned = Set(usage.filter(\.pinned).map(\.id))
            report.victims = Array(Set(wanted).subtracting(pinned)).sorted()
            report.pinned = Array(Set(wanted).intersection(pinned)).sorted()
        } else {
            let over = usage.filter { $0.deadRatio >= options.threshold }
            report.victims = over.filter { !$0.pinned }.map(\.id)
            report.pinned = over.filter(\.pinned).map(\.id)
        }
        report.snapshotBytes = usage.reduce(0) { $0 + $1.snapshotBytes }
        guard !report.victims.isEmpty else { return report }
        let victims = Set(report.victims)
        let sizes = Dictionary(uniqueKeysWithValues: usage.map { ($0.id, $0.size) })

        let bytesTotal = usage.filter { victims.contains($0.id) }.reduce(UInt64(0)) { $0 + min($1.liveBytes, $1.size) }
        var throttle = Throttle(bytesPerSecond: options.bytesPerSecond)
        var sinceSync: UInt64 = 0
        var movedBuckets = Set<[[UInt8]]>()  // (view, bucket name)
        // A record several views hold (the live store and snapshots) is copied once: the
        // copy is applied to each of them.
        var copiedRecords = Set<RecordRef>()
        var done = 0
        // The work is read a batch at a time, each batch in its own read transaction, so
        // memory stays bounded by the batch whatever the index holds. Reading from newer
        // snapshots is safe: each copy is judged on its own (its sequence is the
        // compare-and-swap), entries committed since cannot lie in victims (they are
        // sealed), and a victim is removed below only when the index counts nothing live
        // in it, so an entry the walk missed keeps its victim.
        var position = WalkPosition()
        while let work = try await entriesIn(victims, from: &position, limit: options.walkBatch) {
            for entry in work {
                // Stopping midway is safe: copies already written are ordinary records.
                try Task.checkCancellation()
                // A moved bucket's configurations were copied right after it (below).
                if entry.table == .configs, let nul = entry.key.firstIndex(of: 0),
                   movedBuckets.contains([[UInt8(entry.view)], Array(entry.key[..<nul])]) { continue }
                let firstCopy = copiedRecords.insert(try IndexValue.header(entry.value).ref).inserted
                // (A bucket copied for another view still takes this view's configurations along.)
                guard firstCopy || entry.table == .buckets else { continue }
                var copied: UInt64 = 0
                do {
                    if firstCopy { copied = try await copy(entry, out: victims) }
                } catch let damage as DamagedExtent {
                    report.damaged.append(damage.description)
                    continue
                }
                if entry.table == .buckets {
                    // A configuration applies only after its bucket, so every configuration of
                    // a bucket copied behind it must be copied again after the copy. Those read
                    // with the work list are not enough: one committed since (or still pending
                    // then) lies before the bucket's copy in the log, and a rebuild without the
                    // victim would ignore it and keep an older document's copy. Once the copy is
                    // durable and applied, the index holds every configuration written before it.
                    movedBuckets.insert([[UInt8(entry.view)], entry.key])
                    try await committer.waitDurable()
                    for config in try await configs(ofBucket: entry.key, view: entry.view) {
                        copiedRecords.insert(try IndexValue.header(config.value).ref)
                        copied += try await copy(config, out: victims)
                    }
                }
                report.bytesCopied += copied
                report.entriesMoved += copied > 0 ? 1 : 0
                sinceSync += copied
                done += 1
                await throttle.spent(copied)
                if sinceSync >= 64 << 20 || done % 1024 == 0 {
                    try await committer.waitDurable()
                    sinceSync = 0
                }
                progress?(CompactionProgress(entriesDone: done, bytesCopied: report.bytesCopied, bytesTotal: bytesTotal))
            }
        }
        try await committer.waitDurable()
        await pins.drain()
        try await committer.waitDurable()

        let index = self.index, log = self.log
        // The index state the victims are judged on must be durable before any is
        // unlinked: the index does not sync its commits (`IndexSession`), so a machine
        // crash could otherwise put the checkpoint back into a victim. (After a machine
        // crash the index is rebuilt anyway; this keeps a crash of the disk cache alone,
        // without a reboot, safe too.)
        try await io { try index.environment.sync() }
        // Read before the stats: a writer that left has its commit in the index already.
        let oldestInFlight = writers.oldest
        let stats = try await io { try index.environment.read { try Self.liveStats(index, $0) } }
        for id in report.victims {
            if stats[id] != nil || oldestInFlight.map({ id >= $0 }) == true {
                report.kept.append(id)
                continue
            }
            try await io {
                // Its damaged spans go with it (before the file: a crash in between leaves
                // a victim with nothing live, which the next run removes).
                try index.environment.write { try DamagedRecords.remove(segment: id, $0, index) }
                try log.removeSegment(id)
            }
            report.removed.append(id)
            report.bytesReclaimed += Int64(sizes[id] ?? 0)
        }
        report.bytesReclaimed -= Int64(report.bytesCopied)
        report.seconds = Self.monotonicSeconds() - started
        let observer = observers.withLock { $0.compaction }
        observer?(report)
        return report
    }

    /// An index entry to copy: its table, key and value as read.
    struct Movable: Sendable {
        /// Where the entry is: a view (index in ``ObjectIndex/views``), or the snapshot
        /// catalog (``WalkTable/catalog``).
        var view: Int
        var table: Table
        var key: [UInt8]
        var value: [UInt8]
    }

    /// Where the walk over the index tables stands: the table (in `walkOrder`) and the
    /// last key read in it.
    struct WalkPosition {
        var table = 0
        var after: [UInt8]? = nil
    }

    /// A table compaction walks, and the view it belongs to.
    struct WalkTable: Sendable {
        var view: Int
        var database: Database
        /// The `view` of the snapshot catalog's entries.
        static let catalog = -1
    }

    /// The tables compaction walks, in the order it copies them: in each view (the live
    /// store's, then every snapshot's), a bucket before its configurations, an upload
    /// before its parts; then the deleted snapshots' tombstones in the catalog. (Saved
    /// snapshots' and restores' records are in segments compaction keeps.)
    private var walkOrder: [WalkTable] {
        index.views.enumerated().flatMap { number, view in
            [view.buckets, view.configs, view.uploads, view.parts, view.objects, view.versions, view.tombstones]
                .map { WalkTable(view: number, database: $0) }
        } + [WalkTable(view: WalkTable.catalog, database: index.snapshots)]
    }

    /// The next entries, at most `limit`, from `position` on whose commit record or bytes
    /// lie in `victims`; advances `position`. Nil when the walk is over.
    func entriesIn(_ victims: Set<UInt64>, from position: inout WalkPosition, limit: Int) async throws -> [Movable]? {
        let index = self.index, tables = walkOrder
        guard position.table < tables.count else { return nil }
        let start = position
        let (out, end) = try await io { () throws -> ([Movable], WalkPosition) in
            try index.environment.read { txn in
                var out: [Movable] = []
                var position = start
                var seen = 0
                while position.table < tables.count {
                    let walking = tables[position.table], table = walking.database
                    let finished = try txn.withCursor(table) { c -> Bool in
                        var entry = try position.after.map { after in
                            // The last key read may be gone by now; the one at or after it is next.
                            let found = try c.seek(atOrAfter: after)
                            return found?.key == after ? try c.next() : found
                        } ?? c.first()
                        while let e = entry {
                            let (_, ref) = try IndexValue.header(e.value)
                            var touches = victims.contains(ref.segment)
                            if !touches {
                                switch table.table {
                                case .objects, .versions:
                                    touches = try IndexValue.object(e.value).extents.contains { victims.contains($0.segment) }
                                case .parts:
                                    touches = try IndexValue.part(e.value).extents.contains { victims.contains($0.segment) }
                                case .meta, .buckets, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots:
                                    break
                                }
                            }
                            // (A moved bucket takes all its configurations along: `compact`.)
                            if touches { out.append(Movable(view: walking.view, table: table.table, key: e.key, value: e.value)) }
                            position.after = e.key
                            seen += 1
                            // Entries that stay count too, so a batch's read transaction stays short.
                            if out.count >= limit || seen >= 16 * limit { return false }
                            entry = try c.next()
                        }
                        return true
                    }
                    if !finished { break }
                    position = WalkPosition(table: position.table + 1)
                }
                return (out, position)
            }
        }
        position = end
        return out
    }

    /// The `configs` entries of the bucket `name` (bucket name bytes) in a view, as the index holds them now.
    private func configs(ofBucket name: [UInt8], view: Int) async throws -> [Movable] {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                try txn.withCursor(index.views[view].configs) { c in
                    var out: [Movable] = []
                    var entry = try c.seek(atOrAfter: name + [0])
                    while let e = entry, e.key.starts(with: name + [0]) {
                        out.append(Movable(view: view, table: .configs, key: e.key, value: e.value))
                        entry = try c.next()
                    }
                    return out
                }
            }
        }
    }

    /// Copies one entry: its bytes in victims, then its commit record. Returns the bytes
    /// appended (0 if the entry needs no copy of its own).
    private func copy(_ entry: Movable, out victims: Set<UInt64>) async throws -> UInt64 {
        let index = self.index, log = self.log, journal = self.journal
        return try await io {
            let (sequence, ref) = try IndexValue.header(entry.value)
            let payload = Array(entry.value[IndexValue.prefixSize...])
            var appended: UInt64 = 0
            func moved(_ extents: [Extent]) throws -> [Extent] {
                func file(_ extent: Extent) throws -> SegmentFile {
                    guard let file = log.file(extent.segment) else {
                        throw StoreError(.corrupt, "segment file \(SegmentLog.fileName(extent.segment)) vanished during compaction")
                    }
                    return file
                }
                let moving = extents.filter { victims.contains($0.segment) }
                if moving.count > 1 {
                    // Every piece is checked before the first is copied: copies appended for
                    // an entry that then turns out damaged would be dead weight, written
                    // again by every run that picks its kept victim.
                    for extent in moving.dropFirst() { _ = try Self.readChecked(extent, from: try file(extent), entry: entry) }
                }
                return try extents.map { extent in
                    guard victims.contains(extent.segment) else { return extent }
                    let bytes = try Self.readChecked(extent, from: try file(extent), entry: entry)
                    let copy = try bytes.withUnsafeBytes { try log.appendData($0) }
                    appended += UInt64(SegmentFormat.recordSize(payloadLength: bytes.count))
                    return copy
                }
            }
            // (Not in `walkOrder`: meta, segments and damaged hold no commit records.)
            // A tombstone has no bytes: it is here because its record is.
            if entry.table == .tombstones, !victims.contains(ref.segment) { return 0 }
            let moving = CompactionEntry(table: entry.table, key: entry.key, sequence: sequence, ref: ref, payload: payload)
            let kind = try Self.kind(of: moving, log: log)
            let copy = try kind.compactionCopy(of: moving, move: moved) { table, key in
                // Live in the entry's own view.
                let database = entry.view == WalkTable.catalog ? index.database(for: table) : index.views[entry.view].database(for: table)
                guard let database else { return false }
                return try index.environment.read { txn in
                    try txn.get(database, key).map { try IndexValue.header($0).sequence == sequence } ?? false
                }
            }
            guard let (type, newPayload) = copy else { return 0 }
            let record = try journal.appendCopy(type, sequence: sequence, payload: newPayload)
            return appended + record.ref.size
        }
    }

    /// An entry's bytes failed their checksum: it is not copied.
    struct DamagedExtent: ControlSignal, CustomStringConvertible {
        var description: String
    }

    /// The bytes of `extent`, checked against its data record's header and payload CRC
    /// (as a GET checks them) before they are copied into a new record with a new CRC.
    private static func readChecked(_ extent: Extent, from file: SegmentFile, entry: Movable) throws -> [UInt8] {
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        func damaged(_ why: String) -> DamagedExtent {
            let name = entry.table == .parts ? "a part (\(VerificationProblem.describe(key: entry.key, table: entry.table)))"
                                              : VerificationProblem.describe(key: entry.key, table: entry.table)
            return DamagedExtent(description: "\(name): segment file \(SegmentLog.fileName(extent.segment)) offset \(extent.offset - min(extent.offset, headerSize)): \(why)")
        }
        guard extent.offset >= headerSize,
              let header = try? file.read(at: extent.offset - headerSize, count: SegmentFormat.recordHeaderSize)
                .withUnsafeBytes({ try RecordHeader.decode($0) }),
              header.type == .data, UInt64(header.payloadLength) == extent.length else {
            throw damaged("no valid data record header in front of the bytes")
        }
        let bytes = try file.read(at: extent.offset, count: Int(extent.length))
        guard CRC32.checksum(bytes) == header.payloadCRC else { throw damaged("checksum mismatch in the bytes") }
        return bytes
    }

    /// The kind of the commit record an entry names: the only kind an entry of its table
    /// and key can name, or else (a closed upload's tombstone: completed, aborted, or
    /// closed with its bucket) the type in the record's header.
    private static func kind(of entry: CompactionEntry, log: SegmentLog) throws -> any CommitKind.Type {
        let candidates = Commit.kinds(ofEntryIn: entry.table, key: entry.key)
        if candidates.count == 1 { return candidates[0] }
        guard let file = log.file(entry.ref.segment) else {
            throw StoreError(.corrupt, "segment file \(SegmentLog.fileName(entry.ref.segment)) vanished during compaction")
        }
        let header = try file.read(at: entry.ref.offset, count: SegmentFormat.recordHeaderSize)
            .withUnsafeBytes { try RecordHeader.decode($0) }
        guard let kind = candidates.first(where: { $0.recordType == header.type }) else {
            throw StoreError(.corrupt, "\(entry.table.rawValue) entry names a \(header.type) record at \(entry.ref.segment):\(entry.ref.offset)")
        }
        return kind
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Paces copying to a byte rate by sleeping when ahead of it.
private struct Throttle {
    let bytesPerSecond: UInt64?
    let started = ObjectStore.monotonicSeconds()
    private var total: UInt64 = 0

    init(bytesPerSecond: UInt64?) { self.bytesPerSecond = bytesPerSecond }

    mutating func spent(_ bytes: UInt64) async {
        guard let rate = bytesPerSecond, rate > 0 else { return }
        total += bytes
        let due = Double(total) / Double(rate) - (ObjectStore.monotonicSeconds() - started)
        if due > 0 { try? await Task.sleep(for: .milliseconds(Int(due * 1000))) }
    }
}
