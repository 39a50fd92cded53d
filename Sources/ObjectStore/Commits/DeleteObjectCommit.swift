import ObjectIndex
import SegmentLog

/// deleteObject: a permanent delete. Without a version id, the `null` version (every
/// delete in an unversioned bucket); with one, that version (its order sequence is
/// extension field 1). Its entry is the tombstone that keeps the version deleted.
struct DeleteObjectCommit: CommitKind {
    static let recordType = RecordType.deleteObject
    var entry: Payload.DeleteEntry

    init(_ entry: Payload.DeleteEntry) { self.entry = entry }
    init(decoding payload: [UInt8]) throws { entry = try Payload.decodeDeleteEntry(payload) }
    func encoded() -> [UInt8] { Payload.encode(entry) }
    var wrapped: Commit { .deleteObject(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.setObject(bucket: entry.bucket, key: entry.key, sequence: sequence, decided: decided)
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleObject(bucket: entry.bucket, key: entry.key, sequence: sequence)
        return .object(ObjectCache.Name(bucket: entry.bucket, key: entry.key))
    }

    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let name = IndexKey.object(bucket: entry.bucket, key: Array(entry.key.utf8))
        if entry.versionID.isEmpty {
            try applier.deleteNullVersion(name, record)
        } else {
            guard let target = entry.targetSequence else {
                throw StoreError(.corrupt, "deleteObject at \(record.ref.segment):\(record.ref.offset) names version \(entry.versionID) without its sequence")
            }
            try applier.deleteVersion(name, target: target, record)
        }
    }

    /// An object's tombstone: `tombstones[name]` (the null version) or
    /// `tombstones[name · 0x00 · ~order]` (a version with an id).
    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .tombstones: !IndexKey.isClosedUpload(key) && !IndexKey.isBucketTombstone(key) && !IndexKey.isStoreReset(key)
            && !IndexKey.isRestore(key)
        case .meta, .buckets, .objects, .versions, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) {
        (summary.bucket, summary.key) = (entry.bucket, entry.key)
        summary.versionId = entry.versionID.isEmpty ? nil : entry.versionID
    }
}
