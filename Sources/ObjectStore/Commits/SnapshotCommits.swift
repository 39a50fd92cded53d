import ObjectIndex
import SegmentLog

// Named snapshots (FORMAT.md, "Snapshots").
//
// A snapshot is a view: a second set of the live tables (`buckets`, `objects`, …,
// `segments`) in one of the index's snapshot slots. The records that make it, and that
// change it, go through the log like every commit, so snapshots survive a restart, a
// crash and a rebuild from the segments:
//
// - **snapshot**(S): the live view as it is at S is copied into the record's slot. That
//   copy is the state at S only where the record was written (in log order, everything
//   before it is applied and nothing after), so a snapshot record is never moved:
//   compaction does not take a segment holding a saved snapshot's record.
// - Afterwards a snapshot view takes only compaction's copies (records with a sequence up
//   to S; every later commit is newer than it), applied to it by the same rules as to the
//   live view (``IndexApplier/apply(_:)``): its entries move to the copies, so compaction
//   can reclaim a segment a snapshot refers to, and a rebuild that meets the copies after
//   the snapshot record gives the view the same entries.
// - **restore**(R, to S): the live view becomes a copy of S's view, and every record
//   between S and R is void for it from then on (a compaction copy of one changes
//   nothing). The restore's entry `tombstones[0xFD · R]` says so; it is copied along with
//   the view into later snapshots. A restore record is not moved either, and while its
//   entry lives the snapshot record it names is kept too (a rebuild needs the snapshot's
//   view to exist where the restore is applied).
// - **deleteSnapshot**: the slot is emptied; a tombstone in `snapshots` keeps the name
//   deleted, so an older snapshot record left in some segment cannot bring it back.
//
// These three change the index as a whole, not one view, so they are applied once
// (``CommitKind/appliesToViews`` is false).

/// snapshot: the store's state is saved under a name, in a slot.
struct SnapshotCommit: CommitKind {
    static let recordType = RecordType.snapshot
    static let appliesToViews = false
    var slot: UInt8
    var name: String
    /// When it was saved (ms since 1970).
    var time: Int64

    init(slot: UInt8, name: String, time: Int64) { (self.slot, self.name, self.time) = (slot, name, time) }
    init(decoding payload: [UInt8]) throws { (slot, name, time) = try Payload.decodeSnapshot(payload) }
    func encoded() -> [UInt8] { Payload.encodeSnapshot(slot: slot, name: name, time: time) }
    var wrapped: Commit { .snapshot(self) }

    /// The live state does not change.
    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {}
    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect { .none }

    /// Ignored if the name was deleted later, or holds this or a later snapshot. An older
    /// snapshot of the name, and whatever older snapshot holds the slot (deleted before
    /// this one was saved: the writer takes a free slot), are dropped; then the live view
    /// is copied into the slot.
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let store = applier.whole, txn = applier.txn
        guard Int(slot) < store.snapshotViews.count else {
            throw StoreError(.corrupt, "snapshot record \(record.sequence) names slot \(slot); this index has \(store.snapshotViews.count)")
        }
        if let deleted = try txn.get(store.snapshots, IndexKey.deletedSnapshot(name)) {
            guard try IndexValue.header(deleted).sequence < record.sequence else { return }
            try txn.delete(store.snapshots, IndexKey.deletedSnapshot(name))
        }
        if let old = try txn.get(store.snapshots, IndexKey.snapshot(name)) {
            guard try IndexValue.header(old).sequence < record.sequence else { return }
            try Snapshots.drop(name: name, value: old, store, txn)
        }
        for saved in try Snapshots.saved(store, txn) where saved.slot == Int(slot) {
            try Snapshots.drop(name: saved.name, value: saved.value, store, txn)
        }
        let view = store.snapshotViews[Int(slot)]
        for (from, to) in zip(applier.index.tables, view.tables) {
            try txn.clear(to)
            try txn.copyAll(from: from, to: to)
        }
        try txn.put(store.snapshots, IndexKey.snapshot(name),
                    IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .snapshots: IndexKey.isSavedSnapshot(key)
        case .meta, .buckets, .objects, .versions, .tombstones, .uploads, .parts, .segments, .configs, .damaged: false
        }
    }

    /// Never copied: compaction does not take its segment (see the top of this file).
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])? {
        throw StoreError(.internalError, "a snapshot record is never moved; its segment should not have been compacted")
    }

    func describe(_ summary: inout Inspector.RecordSummary) { summary.key = name }
}

/// restore: the live view returns to a snapshot's state.
struct RestoreCommit: CommitKind {
    static let recordType = RecordType.restore
    static let appliesToViews = false
    var name: String
    /// The snapshot record's sequence and segment.
    var snapshotSequence: UInt64
    var snapshotSegment: UInt64
    var time: Int64

    init(name: String, snapshotSequence: UInt64, snapshotSegment: UInt64, time: Int64) {
        (self.name, self.snapshotSequence, self.snapshotSegment, self.time) = (name, snapshotSequence, snapshotSegment, time)
    }

    init(decoding payload: [UInt8]) throws {
        (name, snapshotSequence, snapshotSegment, time) = try Payload.decodeRestore(payload)
    }

    func encoded() -> [UInt8] {
        Payload.encodeRestore(name: name, snapshotSequence: snapshotSequence, snapshotSegment: snapshotSegment, time: time)
    }

    var wrapped: Commit { .restore(self) }

    /// No commit is pending behind a restore (the journal refuses them until it is applied).
    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {}

    /// Every cached object may have changed.
    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect { .everything }

    /// The live view's tables are replaced by copies of the snapshot's (its live counts
    /// included), and the restore's entry is added: from now on the live view takes no
    /// record between the snapshot and the restore (``IndexApplier/isVoid(_:)``). A
    /// restore whose snapshot is not there (which the kept segments rule out) changes
    /// nothing.
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let store = applier.whole, txn = applier.txn, live = applier.index
        guard try txn.get(live.tombstones, IndexKey.restore(record.sequence)) == nil else { return }
        guard let value = try txn.get(store.snapshots, IndexKey.snapshot(name)),
              try IndexValue.header(value).sequence == snapshotSequence else { return }
        let slot = Int(try Payload.decodeSnapshot(value[IndexValue.prefixSize...]).slot)
        for (from, to) in zip(store.snapshotViews[slot].tables, live.tables) {
            try txn.clear(to)
            try txn.copyAll(from: from, to: to)
        }
        try applier.store(live.tombstones, IndexKey.restore(record.sequence), record)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .tombstones: IndexKey.isRestore(key)
        case .meta, .buckets, .objects, .versions, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    /// Never copied: compaction does not take its segment (see the top of this file).
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])? {
        throw StoreError(.internalError, "a restore record is never moved; its segment should not have been compacted")
    }

    func describe(_ summary: inout Inspector.RecordSummary) { summary.key = name }
}

/// deleteSnapshot: a named snapshot goes.
struct DeleteSnapshotCommit: CommitKind {
    static let recordType = RecordType.deleteSnapshot
    static let appliesToViews = false
    var name: String

    init(name: String) { self.name = name }
    init(decoding payload: [UInt8]) throws { name = try Payload.decodeDeleteSnapshot(payload) }
    func encoded() -> [UInt8] { Payload.encodeDeleteSnapshot(name) }
    var wrapped: Commit { .deleteSnapshot(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {}
    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect { .none }

    /// The snapshot of the name, if older, is dropped; the tombstone keeps the newest
    /// delete (a copy of it moves it).
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let store = applier.whole, txn = applier.txn
        let key = IndexKey.deletedSnapshot(name)
        if let old = try txn.get(store.snapshots, key) {
            guard try IndexValue.header(old).sequence <= record.sequence else { return }
        }
        if let saved = try txn.get(store.snapshots, IndexKey.snapshot(name)) {
            guard try IndexValue.header(saved).sequence < record.sequence else { return }
            try Snapshots.drop(name: name, value: saved, store, txn)
        }
        try txn.put(store.snapshots, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .snapshots: !IndexKey.isSavedSnapshot(key)
        case .meta, .buckets, .objects, .versions, .tombstones, .uploads, .parts, .segments, .configs, .damaged: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) { summary.key = name }
}

/// The snapshot catalog (the `snapshots` table).
enum Snapshots {
    /// A saved snapshot as the catalog holds it.
    struct Saved {
        var name: String
        var slot: Int
        var sequence: UInt64
        var ref: RecordRef
        var time: Int64
        /// The catalog value (the snapshot record's index value).
        var value: [UInt8]
    }

    /// Every saved snapshot, by name.
    static func saved(_ store: ObjectIndex, _ txn: Transaction) throws -> [Saved] {
        try txn.withCursor(store.snapshots) { c in
            var out: [Saved] = []
            var entry = try c.seek(atOrAfter: [0x01])
            while let e = entry, IndexKey.isSavedSnapshot(e.key) {
                let (sequence, ref) = try IndexValue.header(e.value)
                let payload = try Payload.decodeSnapshot(e.value[IndexValue.prefixSize...])
                out.append(Saved(name: payload.name, slot: Int(payload.slot), sequence: sequence, ref: ref, time: payload.time,
                                 value: e.value))
                entry = try c.next()
            }
            return out
        }
    }

    /// The slots of the saved snapshots whose sequence is at least `sequence` (read for
    /// every applied record: only those entries' payloads are decoded).
    static func slots(holding sequence: UInt64, _ store: ObjectIndex, _ txn: Transaction) throws -> [Int] {
        try txn.withCursor(store.snapshots) { c in
            var out: [Int] = []
            var entry = try c.seek(atOrAfter: [0x01])
            while let e = entry, IndexKey.isSavedSnapshot(e.key) {
                if try IndexValue.header(e.value).sequence >= sequence {
                    out.append(Int(try Payload.decodeSnapshot(e.value[IndexValue.prefixSize...]).slot))
                }
                entry = try c.next()
            }
            return out
        }
    }

    /// Removes a saved snapshot from the catalog and empties its slot.
    static func drop(name: String, value: [UInt8], _ store: ObjectIndex, _ txn: Transaction) throws {
        let slot = Int(try Payload.decodeSnapshot(value[IndexValue.prefixSize...]).slot)
        if slot < store.snapshotViews.count {
            for table in store.snapshotViews[slot].tables { try txn.clear(table) }
        }
        try txn.delete(store.snapshots, IndexKey.snapshot(name))
    }

    /// The segments compaction must keep: those holding a saved snapshot's record, and, for
    /// every restore entry of any view, the restore's record and its snapshot's record.
    static func keptSegments(_ store: ObjectIndex, _ txn: Transaction) throws -> Set<UInt64> {
        var kept = Set(try saved(store, txn).map(\.ref.segment))
        for view in store.views {
            try txn.withCursor(view.tombstones) { c in
                var entry = try c.seek(atOrAfter: [0xFD])
                while let e = entry, IndexKey.isRestore(e.key) {
                    kept.insert(try IndexValue.header(e.value).ref.segment)
                    kept.insert(try Payload.decodeRestore(e.value[IndexValue.prefixSize...]).snapshotSegment)
                    entry = try c.next()
                }
            }
        }
        return kept
    }
}
