import ObjectIndex
import SegmentLog

/// reset: the store is emptied. Every entry whose commit is older than this record goes
/// (buckets, objects, versions, uploads, parts, configurations and tombstones, with their
/// bytes from the live counts), and the record itself is kept as the tombstone
/// `tombstones[0xFE]`, which makes every older record void when applied later
/// (``IndexApplier/apply(_:)``): a record written before the reset, or compaction's copy of
/// one, changes nothing, in whatever order a rebuild meets them. The tombstone is never
/// dropped (compaction copies it like any tombstone), so no older record can come back.
///
/// While a reset is being written the journal takes no other commit
/// (``Journal/beginExclusive(_:)``): the preconditions of every later commit see the empty store.
struct ResetCommit: CommitKind {
    static let recordType = RecordType.reset
    /// When the store was reset (ms since 1970).
    var time: Int64

    init(time: Int64) { self.time = time }
    init(decoding payload: [UInt8]) throws { time = try Payload.decodeReset(payload) }
    func encoded() -> [UInt8] { Payload.encodeReset(time: time) }
    var wrapped: Commit { .reset(self) }

    /// No commit is pending behind a reset (the journal refuses them until it is applied).
    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {}

    /// Every cached object is gone.
    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect { .everything }

    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let index = applier.index, txn = applier.txn
        if try applier.moveIfSameCommit(index.tombstones, IndexKey.storeReset, record) { return }
        if let old = try txn.get(index.tombstones, IndexKey.storeReset),
           try IndexValue.header(old).sequence > record.sequence {
            return  // a later reset is in force; it removed everything this one would
        }
        // Everything older goes, the tombstone of an earlier reset included. Entries newer
        // than this record (a rebuild can meet them first, when compaction moved this
        // record behind them) stay.
        try applier.removeEntries(of: [index.buckets, index.configs, index.uploads, index.parts, index.objects,
                                        index.versions, index.tombstones], olderThan: record.sequence)
        try applier.store(index.tombstones, IndexKey.storeReset, record)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .tombstones: IndexKey.isStoreReset(key)
        case .meta, .buckets, .objects, .versions, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) {}
}
