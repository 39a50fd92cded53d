import ObjectIndex
import SegmentLog

/// abortUpload: AbortMultipartUpload, and the store's abort of each open upload before it
/// deletes a bucket. Its entry is the tombstone that keeps the upload closed.
struct AbortUploadCommit: CommitKind {
    static let recordType = RecordType.abortUpload
    var bucket: String
    var key: String
    var uploadId: String

    init(bucket: String, key: String, uploadId: String) {
        (self.bucket, self.key, self.uploadId) = (bucket, key, uploadId)
    }

    init(decoding payload: [UInt8]) throws { (bucket, key, uploadId) = try Payload.decodeAbort(payload) }
    func encoded() -> [UInt8] { Payload.encodeAbort(bucket: bucket, key: key, uploadId: uploadId) }
    var wrapped: Commit { .abortUpload(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.closeUpload(uploadId, sequence: sequence)
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleUpload(uploadId, sequence: sequence)
        return .none
    }

    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        try applier.closeUpload(bucket: bucket, key: key, uploadId: uploadId, record: record)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .tombstones: IndexKey.isClosedUpload(key)
        case .meta, .buckets, .objects, .versions, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) {
        (summary.bucket, summary.key, summary.uploadId) = (bucket, key, uploadId)
    }
}
