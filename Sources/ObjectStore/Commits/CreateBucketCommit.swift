import ObjectIndex
import SegmentLog

/// createBucket: a bucket and its creation attributes (region, owner, ACL, …).
struct CreateBucketCommit: CommitKind {
    static let recordType = RecordType.createBucket
    var bucket: BucketInfo

    init(_ bucket: BucketInfo) { self.bucket = bucket }
    init(decoding payload: [UInt8]) throws { bucket = try Payload.decodeBucket(payload) }
    func encoded() -> [UInt8] { Payload.encode(bucket) }
    var wrapped: Commit { .createBucket(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.setBucket(bucket.name, sequence: sequence, exists: true, attributes: bucket.attributes)
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleBucket(bucket.name, sequence: sequence)
        return .none
    }

    /// A bucket newer than its tombstone replaces whatever older bucket of the same name
    /// the index still has, with that bucket's configurations.
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let index = applier.index, txn = applier.txn
        let nameKey = Array(bucket.name.utf8)
        if try applier.moveIfSameCommit(index.buckets, nameKey, record) { return }
        let key = IndexKey.bucketPrefix(bucket.name)
        guard try applier.supersedes(record.sequence, key, bucket: bucket.name) else { return }
        try applier.removeTombstone(key)
        // An older bucket of the same name is still there only when its deleteBucket
        // record is gone (compacted after this re-create): it is replaced.
        if let old = try txn.get(index.buckets, nameKey) {
            try applier.account(ref: try IndexValue.header(old).ref, extents: [], sign: -1)
        }
        try applier.store(index.buckets, nameKey, record)
        // Configurations older than this bucket belong to an earlier bucket of the same
        // name (its deleteBucket record may be gone, compacted after the re-create).
        for (configKey, value) in try applier.entries(index.configs, prefix: nameKey + [0]) {
            let (sequence, ref) = try IndexValue.header(value)
            guard sequence < record.sequence else { continue }
            try txn.delete(index.configs, configKey)
            try applier.account(ref: ref, extents: [], sign: -1)
        }
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .buckets: true
        case .meta, .objects, .versions, .tombstones, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) { summary.bucket = bucket.name }
}
