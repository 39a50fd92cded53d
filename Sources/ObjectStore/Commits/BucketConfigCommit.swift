import ObjectIndex
import SegmentLog

/// bucketConfig: a bucket configuration document (versioning, lifecycle, CORS, …); an
/// empty document removes it.
struct BucketConfigCommit: CommitKind {
    static let recordType = RecordType.bucketConfig
    var bucket: String
    /// A ``BucketConfigName`` raw value, or a name a newer build wrote.
    var name: String
    var document: [UInt8]

    init(bucket: String, name: BucketConfigName, document: [UInt8]) {
        (self.bucket, self.name, self.document) = (bucket, name.rawValue, document)
    }

    init(decoding payload: [UInt8]) throws { (bucket, name, document) = try Payload.decodeConfig(payload) }
    func encoded() -> [UInt8] { Payload.encodeConfig(bucket: bucket, name: name, document: document) }
    var wrapped: Commit { .bucketConfig(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.setConfig(bucket: bucket, name: name, sequence: sequence, document: document)
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleConfig(bucket: bucket, name: name, sequence: sequence)
        return .none
    }

    /// Only for the bucket as it exists (created before this record). An empty document
    /// (a removal) is stored too: it keeps an older document from coming back when
    /// compaction moves that one behind it. Readers treat it as no configuration.
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let index = applier.index, txn = applier.txn
        guard let existing = try txn.get(index.buckets, Array(bucket.utf8)),
              try IndexValue.header(existing).sequence < record.sequence else { return }
        let key = IndexKey.config(bucket: bucket, name: name)
        if try applier.moveIfSameCommit(index.configs, key, record) { return }
        if let old = try txn.get(index.configs, key) {
            let (seq, ref) = try IndexValue.header(old)
            guard seq < record.sequence else { return }
            try txn.delete(index.configs, key)
            try applier.account(ref: ref, extents: [], sign: -1)
        }
        try applier.store(index.configs, key, record)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .configs: true
        case .meta, .buckets, .objects, .versions, .tombstones, .uploads, .parts, .segments, .damaged, .snapshots: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) { (summary.bucket, summary.config) = (bucket, name) }
}
