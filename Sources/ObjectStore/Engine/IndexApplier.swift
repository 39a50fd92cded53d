import ObjectIndex
import SegmentLog

/// Applies commit records to the index. The live store and recovery call the same
/// function with the same records in the same (log) order, which is why a rebuild from
/// segments gives exactly the index the live store had (docs/DESIGN.md, "The index is a
/// view of the log").
///
/// Every rule compares sequence numbers, so applying an older record after a newer one
/// for the same name changes nothing (compaction moves old records behind new ones).
/// A tombstone stays while no entry exists for its name, so an older put cannot come back.
///
/// A record whose sequence *equals* the stored entry's is the same commit: compaction's
/// copy of it, written later in the log with the same sequence (and, for objects and
/// parts, new extents). The entry moves to the copy; that is compaction's compare-and-swap
/// (docs/DESIGN.md, "Compaction: copy, compare-and-swap, delete"): if the entry was
/// overwritten meanwhile, its sequence differs
/// and the copy changes nothing.
struct IndexApplier {
    /// The view this applier changes: the live one, or a snapshot's.
    let index: IndexView
    /// The whole index: the snapshot catalog and every view.
    let whole: ObjectIndex
    let txn: Transaction

    /// An applier of the live view.
    init(index: ObjectIndex, txn: Transaction) {
        self.init(view: index.live, whole: index, txn: txn)
    }

    init(view: IndexView, whole: ObjectIndex, txn: Transaction) {
        self.index = view
        self.whole = whole
        self.txn = txn
    }

    /// Applies one record (called on the live view's applier): a snapshot record to the
    /// index as a whole; any other to the live view and to every saved snapshot whose
    /// sequence is at least the record's. A record newer than a snapshot is not its
    /// business; one older than it that arrives after it was saved is compaction's copy
    /// of a record it holds (every other record older than the snapshot was in the log
    /// before it, so in the copy it was saved as), which moves the snapshot's entry too.
    func apply(_ record: CommitRecord) throws {
        let kind = record.commit.kind
        guard type(of: kind).appliesToViews else {
            try kind.apply(self, record)
            return
        }
        try applyToView(record)
        for slot in try Snapshots.slots(holding: record.sequence, whole, txn) {
            try IndexApplier(view: whole.snapshotViews[slot], whole: whole, txn: txn).applyToView(record)
        }
    }

    /// Applies one record to this view by its kind's rule (each in `Commits/`), unless it
    /// is void here (``isVoid(_:)``).
    func applyToView(_ record: CommitRecord) throws {
        if try isVoid(record) { return }
        try record.commit.kind.apply(self, record)
    }

    /// Whether a record changes nothing in this view, whatever its rule:
    /// - it is older than the view's last reset (`tombstones[0xFE]`): written before the
    ///   reset emptied the store, or compaction's copy of such a record (a reset record's
    ///   own rule handles an older reset);
    /// - it lies between a restored snapshot and the restore (`tombstones[0xFD · R]` with
    ///   the snapshot's sequence S, S < sequence < R): the view went back to S's state
    ///   and those commits are undone for it. Only compaction's copies meet this, and a
    ///   restore's later snapshots (taken between S and R) still take them.
    func isVoid(_ record: CommitRecord) throws -> Bool {
        if record.type != .reset, let reset = try txn.get(index.tombstones, IndexKey.storeReset),
           record.sequence < (try IndexValue.header(reset).sequence) {
            return true
        }
        return try txn.withCursor(index.tombstones) { c in
            var entry = try c.seek(atOrAfter: IndexKey.restore(record.sequence + 1))
            while let e = entry, IndexKey.isRestore(e.key) {
                if try Payload.decodeRestore(e.value[IndexValue.prefixSize...]).snapshotSequence < record.sequence { return true }
                entry = try c.next()
            }
            return false
        }
    }

    /// Completes or aborts an upload: its entry and parts go (their bytes become dead; a
    /// completing putObject then makes the chosen parts' extents live again as the
    /// object's), and a tombstone keeps the upload closed; its record is live while the
    /// tombstone is. The tombstone's value carries the closing record's payload (a retried
    /// Complete reads the object from it), except after a deleteBucket, which does not
    /// name the upload: then an abort payload (bucket, key, upload id), so compaction can
    /// carry the tombstone as an abortUpload copy.
    func closeUpload(bucket: String, key: String, uploadId: String, record: CommitRecord) throws {
        let tombKey = IndexKey.closedUpload(uploadId)
        let tombstone = record.type == .deleteBucket ? Payload.encodeAbort(bucket: bucket, key: key, uploadId: uploadId) : record.payload
        if try moveIfSameCommit(index.tombstones, tombKey, record, payload: tombstone) { return }
        if let old = try txn.get(index.tombstones, tombKey) {
            // The earliest close wins, whatever order the records are applied in: a
            // deleteBucket applied before the (older) abort it wrote first, as compaction
            // can leave them, gives way to the abort.
            let (sequence, ref) = try IndexValue.header(old)
            guard record.sequence < sequence else { return }
            try txn.delete(index.tombstones, tombKey)
            try account(ref: ref, extents: [], sign: -1)
            try store(index.tombstones, tombKey, record, payload: tombstone)
            return
        }
        let uploadKey = IndexKey.upload(bucket: bucket, key: key, uploadId: uploadId)
        if let old = try txn.get(index.uploads, uploadKey) {
            try txn.delete(index.uploads, uploadKey)
            try account(ref: try IndexValue.header(old).ref, extents: [], sign: -1)
        }
        for (partKey, value) in try entries(index.parts, prefix: Array(uploadId.utf8)) {
            try txn.delete(index.parts, partKey)
            try account(ref: try IndexValue.header(value).ref, extents: try IndexValue.part(value).extents, sign: -1)
        }
        try store(index.tombstones, tombKey, record, payload: tombstone)
    }

    // MARK: - Versions
    //
    // The live versions of a key (FORMAT.md, "Versions"): the newest one, if it is an
    // object, is `objects[name]`; every other one (noncurrent versions, and delete markers
    // wherever they stand) is `versions[name · 0x00 · ~sequence]`, so a key's versions sort
    // newest first. Which versions are live is decided by sequence comparisons only, and
    // where each one is stored is a function of that set, so any order of application
    // that ends with the same records gives the same tables (rebuild equality):
    //
    // - A version with an id is first written once; a metadata-only re-commit of it
    //   (extension field 4: the first commit's sequence, which keeps ordering it) replaces
    //   its entry if newer. It is live unless its permanent delete's tombstone
    //   `tombstones[name · 0x00 · ~order]` exists; such tombstones are never removed, so a
    //   copy of the version applied after its delete changes nothing.
    // - The `null` version: one per key, the newest null put or null delete marker wins;
    //   `tombstones[name]` is its last permanent delete (the only delete an unversioned
    //   bucket knows), and a null version older than it changes nothing. A newer null
    //   version removes that tombstone (as an overwrite always did).
    // - A record with the sequence of a stored version is compaction's copy of it: the
    //   entry moves to the copy (compare-and-swap), wherever it stands.
    //
    // Crash safety: these records reach the index only once durable, in one transaction
    // with the replay checkpoint (Journal), so after a crash recovery replays exactly the
    // records after the checkpoint; a record applied twice is a same-sequence move to the
    // place it already has. A copy that compaction wrote behind a permanent delete of its
    // version meets the delete's tombstone and changes nothing, and the tombstone itself is
    // copied (never dropped), so no segment deletion can let the version come back.
    // `VersioningTests.testApplyingVersionRecordsInAnyOrderGivesTheSameIndex` applies
    // random histories in random orders and checks the tables are the same.

    /// putObject (an object or a delete marker).
    func applyVersion(_ info: ObjectInfo, _ record: CommitRecord) throws {
        let name = IndexKey.object(bucket: info.bucket, key: Array(info.key.utf8))
        // A version's place in the order is its first commit's sequence (a metadata-only
        // re-commit names it in extension field 4).
        let order = info.versionSequence ?? record.sequence
        let versionKey = IndexKey.version(name, order: order)
        if try moveIfSameCommit(index.objects, name, record, extents: info.extents) { return }
        if try moveIfSameCommit(index.versions, versionKey, record, extents: info.extents) { return }
        guard info.versionID.isEmpty else {
            // Permanently deleted: stays deleted.
            guard try txn.get(index.tombstones, versionKey) == nil else { return }
            // The version is there already: this is a re-commit of it, or its original
            // applied after a re-commit; the newer record wins.
            if try replaceInPlace(name, versionKey, order, record, info) { return }
            try insertVersion(name, versionKey, order, record, info)
            return
        }
        // The null version: the newest record wins, a re-commit of it too (its place in
        // the order comes with it).
        if let tomb = try txn.get(index.tombstones, name), try IndexValue.header(tomb).sequence >= record.sequence { return }
        let current = try txn.get(index.objects, name)
        // Unversioned buckets: the current entry is the null version and this one replaces
        // it in place, with no more index work than before versioning existed.
        if !info.isDeleteMarker, let current, try Payload.versionID(ofObject: current, offset: IndexValue.prefixSize).isEmpty {
            guard try IndexValue.header(current).sequence < record.sequence else { return }
            try removeCurrent(name)
            try store(index.objects, name, record, extents: info.extents)
            return
        }
        if let (table, key, value) = try nullVersion(name, current: current) {
            guard try IndexValue.header(value).sequence < record.sequence else { return }
            try txn.delete(table, key)
            try account(ref: try IndexValue.header(value).ref, extents: try IndexValue.object(value).extents, sign: -1)
        }
        try removeTombstone(name)
        try insertVersion(name, versionKey, order, record, info)
    }

    /// A record of the version (with an id) ordered at `order` when that version has an
    /// entry: a metadata-only re-commit (tags, ACL: S3 makes no new version for them)
    /// replaces the entry where it stands if it is newer than the entry's record; an older
    /// record (the original, applied after its re-commit) changes nothing. Returns false
    /// when the version has no entry.
    private func replaceInPlace(_ name: [UInt8], _ versionKey: [UInt8], _ order: UInt64, _ record: CommitRecord,
                                _ info: ObjectInfo) throws -> Bool {
        var place: (Database, [UInt8], [UInt8])?
        if let current = try txn.get(index.objects, name), try Self.orderSequence(current) == order {
            place = (index.objects, name, current)
        } else if let old = try txn.get(index.versions, versionKey) {
            place = (index.versions, versionKey, old)
        }
        guard let (table, key, old) = place else { return false }
        let (sequence, ref) = try IndexValue.header(old)
        guard sequence < record.sequence else { return true }
        try txn.delete(table, key)
        try account(ref: ref, extents: try IndexValue.object(old).extents, sign: -1)
        try store(table, key, record, extents: info.extents)
        return true
    }

    /// The order sequence of an `objects` or `versions` value (see ``ObjectInfo/orderSequence``).
    static func orderSequence(_ value: [UInt8]) throws -> UInt64 {
        try IndexValue.object(value).orderSequence
    }

    /// Stores a new live version where it belongs: `objects` if it is the newest and an
    /// object, else `versions`; a current object it is newer than becomes noncurrent.
    /// (Moving an entry between the tables leaves the live bytes as they are.) Newer means
    /// a higher order sequence.
    private func insertVersion(_ name: [UInt8], _ versionKey: [UInt8], _ order: UInt64, _ record: CommitRecord,
                               _ info: ObjectInfo) throws {
        if let current = try txn.get(index.objects, name) {
            let currentOrder = try Self.orderSequence(current)
            if currentOrder > order {
                try store(index.versions, versionKey, record, extents: info.extents)
                return
            }
            try txn.delete(index.objects, name)
            try txn.put(index.versions, IndexKey.version(name, order: currentOrder), current)
        } else if let newest = try firstVersion(name), IndexKey.order(ofVersionKey: newest.key) > order {
            try store(index.versions, versionKey, record, extents: info.extents)
            return
        }
        if info.isDeleteMarker {
            try store(index.versions, versionKey, record)
        } else {
            try store(index.objects, name, record, extents: info.extents)
        }
    }

    /// After a version was removed: if no object is current, the newest remaining version
    /// becomes current unless it is a delete marker.
    private func settle(_ name: [UInt8]) throws {
        guard try txn.get(index.objects, name) == nil, let newest = try firstVersion(name) else { return }
        guard try !IndexValue.object(newest.value).isDeleteMarker else { return }
        try txn.delete(index.versions, newest.key)
        try txn.put(index.objects, name, newest.value)
    }

    /// deleteObject of the null version (every delete in an unversioned bucket): the null
    /// version goes if it is older, and `tombstones[name]` records the delete.
    func deleteNullVersion(_ name: [UInt8], _ record: CommitRecord) throws {
        if try moveIfSameCommit(index.tombstones, name, record) { return }
        if let tomb = try txn.get(index.tombstones, name), try IndexValue.header(tomb).sequence >= record.sequence { return }
        if let (table, key, value) = try nullVersion(name, current: try txn.get(index.objects, name)) {
            guard try IndexValue.header(value).sequence < record.sequence else { return }
            try txn.delete(table, key)
            try account(ref: try IndexValue.header(value).ref, extents: try IndexValue.object(value).extents, sign: -1)
        }
        try removeTombstone(name)
        try store(index.tombstones, name, record)
        try settle(name)
    }

    /// deleteObject of the version ordered at `target` (its first commit's sequence): it goes, and the tombstone
    /// `tombstones[name · 0x00 · ~target]` keeps it gone. Of two deletes of the same version
    /// (two requests that raced) the newer one is the tombstone, whatever the order.
    func deleteVersion(_ name: [UInt8], target: UInt64, _ record: CommitRecord) throws {
        let key = IndexKey.version(name, order: target)
        if try moveIfSameCommit(index.tombstones, key, record) { return }
        if let tomb = try txn.get(index.tombstones, key) {
            let (sequence, ref) = try IndexValue.header(tomb)
            guard sequence < record.sequence else { return }
            try txn.delete(index.tombstones, key)
            try account(ref: ref, extents: [], sign: -1)
            try store(index.tombstones, key, record)
            return
        }
        if let current = try txn.get(index.objects, name), try Self.orderSequence(current) == target {
            try txn.delete(index.objects, name)
            try account(ref: try IndexValue.header(current).ref, extents: try IndexValue.object(current).extents, sign: -1)
        } else if let old = try txn.get(index.versions, key) {
            try txn.delete(index.versions, key)
            try account(ref: try IndexValue.header(old).ref, extents: try IndexValue.object(old).extents, sign: -1)
        }
        try store(index.tombstones, key, record)
        try settle(name)
    }

    /// Where the null version of `name` is stored, if it has one.
    private func nullVersion(_ name: [UInt8], current: [UInt8]?) throws -> (Database, [UInt8], [UInt8])? {
        if let current, try Payload.versionID(ofObject: current, offset: IndexValue.prefixSize).isEmpty {
            return (index.objects, name, current)
        }
        let prefix = name + [0]
        return try txn.withCursor(index.versions) { c in
            var entry = try c.seek(atOrAfter: prefix)
            while let e = entry, e.key.starts(with: prefix) {
                if IndexKey.isVersionKey(e.key, of: name),
                   try Payload.versionID(ofObject: e.value, offset: IndexValue.prefixSize).isEmpty { return (index.versions, e.key, e.value) }
                entry = try c.next()
            }
            return nil
        }
    }

    /// The newest entry of `name` in `versions`.
    private func firstVersion(_ name: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        let prefix = name + [0]
        return try txn.withCursor(index.versions) { c in
            var entry = try c.seek(atOrAfter: prefix)
            while let e = entry, e.key.starts(with: prefix) {
                if IndexKey.isVersionKey(e.key, of: name) { return (e.key, e.value) }
                entry = try c.next()
            }
            return nil
        }
    }

    /// Whether a record with `sequence` is newer than what the index holds for `key`.
    func supersedes(_ sequence: UInt64, _ key: [UInt8], bucket: String? = nil) throws -> Bool {
        let current = try bucket.map { try txn.get(index.buckets, Array($0.utf8)) } ?? txn.get(index.objects, key)
        if let current, try IndexValue.header(current).sequence >= sequence { return false }
        if let tomb = try txn.get(index.tombstones, key), try IndexValue.header(tomb).sequence >= sequence { return false }
        return true
    }

    /// Stores `record` as the entry `key` of `table` and counts it live.
    func store(_ table: Database, _ key: [UInt8], _ record: CommitRecord, extents: [Extent] = [],
                       payload: [UInt8]? = nil) throws {
        try txn.put(table, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: payload ?? record.payload).encoded())
        try account(ref: record.ref, extents: extents, sign: 1)
    }

    /// If the entry `key` of `table` is the commit `record` is a copy of (same sequence),
    /// moves it to the copy: the old place's bytes become dead, the copy's live.
    func moveIfSameCommit(_ table: Database, _ key: [UInt8], _ record: CommitRecord, extents: [Extent] = [],
                                  payload: [UInt8]? = nil) throws -> Bool {
        guard let old = try txn.get(table, key) else { return false }
        let (sequence, ref) = try IndexValue.header(old)
        guard sequence == record.sequence else { return false }
        let oldExtents: [Extent]
        switch table.table {
        case .objects, .versions: oldExtents = try IndexValue.object(old).extents
        case .parts: oldExtents = try IndexValue.part(old).extents
        case .meta, .buckets, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots: oldExtents = []
        }
        try account(ref: ref, extents: oldExtents, sign: -1)
        try store(table, key, record, extents: extents, payload: payload)
        return true
    }

    /// The entries of `table` whose keys start with `prefix`, read before any is changed.
    /// Removes every entry of `tables` whose commit is older than `sequence`, taking its
    /// record and bytes off the live counts (a reset). When every entry is older (always,
    /// but in a rebuild that meets the reset behind later records), the tables are emptied
    /// whole and so are the live counts: the same result, without an update per entry.
    func removeEntries(of tables: [Database], olderThan sequence: UInt64) throws {
        let keepsAny = try tables.contains { table in
            try txn.withCursor(table) { cursor in
                var entry = try cursor.first()
                while let e = entry {
                    if try IndexValue.header(e.value).sequence >= sequence { return true }
                    entry = try cursor.next()
                }
                return false
            }
        }
        guard keepsAny else {
            for table in tables + [index.segments] { try txn.clear(table) }
            return
        }
        var doomed: [(table: Database, key: [UInt8])] = []
        var deltas: [UInt64: (bytes: Int64, records: Int64)] = [:]
        for table in tables {
            try txn.withCursor(table) { cursor in
                var entry = try cursor.first()
                while let e = entry {
                    let (entrySequence, ref) = try IndexValue.header(e.value)
                    if entrySequence < sequence {
                        doomed.append((table, e.key))
                        deltas[ref.segment, default: (0, 0)].bytes -= Int64(ref.size)
                        deltas[ref.segment, default: (0, 0)].records -= 1
                        let extents: [Extent]
                        switch table.table {
                        case .objects, .versions: extents = try IndexValue.object(e.value).extents
                        case .parts: extents = try IndexValue.part(e.value).extents
                        case .meta, .buckets, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots: extents = []
                        }
                        for extent in extents { deltas[extent.segment, default: (0, 0)].bytes -= Int64(extent.length) }
                    }
                    entry = try cursor.next()
                }
            }
        }
        for entry in doomed { _ = try txn.delete(entry.table, entry.key) }
        for (segment, delta) in deltas { try account(segment: segment, delta) }
    }

    func entries(_ table: Database, prefix: [UInt8]) throws -> [([UInt8], [UInt8])] {
        try txn.withCursor(table) { cursor in
            var out: [([UInt8], [UInt8])] = []
            var entry = try cursor.seek(atOrAfter: prefix)
            while let e = entry, e.key.starts(with: prefix) {
                out.append((e.key, e.value))
                entry = try cursor.next()
            }
            return out
        }
    }

    private func removeCurrent(_ key: [UInt8]) throws {
        if let old = try txn.get(index.objects, key) {
            let info = try IndexValue.object(old)
            try txn.delete(index.objects, key)
            try account(ref: try IndexValue.header(old).ref, extents: info.extents, sign: -1)
        }
        try removeTombstone(key)
    }

    func removeTombstone(_ key: [UInt8]) throws {
        if let tomb = try txn.get(index.tombstones, key) {
            try txn.delete(index.tombstones, key)
            try account(ref: try IndexValue.header(tomb).ref, extents: [], sign: -1)
        }
    }

    func putTombstone(_ key: [UInt8], _ record: CommitRecord) throws {
        if let old = try txn.get(index.objects, key) {
            let (seq, _) = try IndexValue.header(old)
            guard seq < record.sequence else { return }
        }
        if try moveIfSameCommit(index.tombstones, key, record) { return }
        if let tomb = try txn.get(index.tombstones, key), try IndexValue.header(tomb).sequence >= record.sequence { return }
        try removeCurrent(key)
        try store(index.tombstones, key, record)
    }

    /// Live-byte accounting per segment: a live entry's commit record and its extents are
    /// live; everything else in a segment is dead space for compaction.
    func account(ref: RecordRef, extents: [Extent], sign: Int64) throws {
        var deltas: [UInt64: (bytes: Int64, records: Int64)] = [ref.segment: (Int64(ref.size) * sign, sign)]
        for e in extents { deltas[e.segment, default: (0, 0)].bytes += Int64(e.length) * sign }
        for (segment, d) in deltas { try account(segment: segment, d) }
    }

    /// Adds `d` to one segment's live counts (an entry for it goes when both reach 0).
    func account(segment: UInt64, _ d: (bytes: Int64, records: Int64)) throws {
        let key = IndexKey.segment(segment)
        var stats = try txn.get(index.segments, key).map(SegmentStats.init) ?? SegmentStats()
        stats.liveBytes = UInt64(max(0, Int64(stats.liveBytes) + d.bytes))
        stats.liveRecords = UInt64(max(0, Int64(stats.liveRecords) + d.records))
        if stats.liveBytes == 0 && stats.liveRecords == 0 {
            try txn.delete(index.segments, key)
        } else {
            try txn.put(index.segments, key, stats.encoded())
        }
    }
}

