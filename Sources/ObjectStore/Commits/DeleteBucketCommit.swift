import ObjectIndex
import SegmentLog

/// deleteBucket: the bucket goes with its configurations; its tombstone keeps an older
/// createBucket from bringing it back. Uploads still open in it (logs written before the
/// store aborted them with their own records) are closed.
struct DeleteBucketCommit: CommitKind {
    static let recordType = RecordType.deleteBucket
    var name: String

    init(name: String) { self.name = name }
    init(decoding payload: [UInt8]) throws { name = try Payload.decodeDeleteBucket(payload) }
    func encoded() -> [UInt8] { Payload.encodeDeleteBucket(name) }
    var wrapped: Commit { .deleteBucket(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.setBucket(name, sequence: sequence, exists: false)
    }

    /// Every cached object of the bucket is gone: the whole cache is dropped.
    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleBucket(name, sequence: sequence)
        return .everything
    }

    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let index = applier.index, txn = applier.txn
        let nameKey = Array(name.utf8)
        if let old = try txn.get(index.buckets, nameKey) {
            let (seq, ref) = try IndexValue.header(old)
            guard seq < record.sequence else { return }
            try txn.delete(index.buckets, nameKey)
            try applier.account(ref: ref, extents: [], sign: -1)
            // The bucket's configurations go with it.
            for (key, value) in try applier.entries(index.configs, prefix: nameKey + [0]) {
                try txn.delete(index.configs, key)
                try applier.account(ref: try IndexValue.header(value).ref, extents: [], sign: -1)
            }
        }
        // The store aborts a bucket's uploads with their own records before deleting
        // it; logs written before that closed them here. Only uploads created before
        // this record belong to the bucket it deletes.
        for (_, value) in try applier.entries(index.uploads, prefix: IndexKey.bucketPrefix(name)) {
            let upload = try IndexValue.upload(value)
            guard upload.bucket == name, try IndexValue.header(value).sequence < record.sequence else { continue }
            try applier.closeUpload(bucket: name, key: upload.key, uploadId: upload.uploadId, record: record)
        }
        try applier.putTombstone(IndexKey.bucketPrefix(name), record)
    }

    /// The bucket's tombstone, and the tombstone of an upload it closed.
    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .tombstones: IndexKey.isBucketTombstone(key) || IndexKey.isClosedUpload(key)
        case .meta, .buckets, .objects, .versions, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    /// A closed upload's tombstone after a deleteBucket holds an abort payload naming the
    /// upload (the deleteBucket record does not name it).
    static func entry(_ entry: [UInt8], describes record: [UInt8], table: Table, key: [UInt8]) -> Bool {
        guard table == .tombstones, IndexKey.isClosedUpload(key) else { return entry == record }
        return (try? Payload.decodeAbort(entry).bucket) == (try? Payload.decodeDeleteBucket(record))
    }

    /// An upload's tombstone is carried on as the abortUpload its payload already is.
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])? {
        (IndexKey.isClosedUpload(entry.key) ? AbortUploadCommit.recordType : recordType, entry.payload)
    }

    func describe(_ summary: inout Inspector.RecordSummary) { summary.bucket = name }
}
