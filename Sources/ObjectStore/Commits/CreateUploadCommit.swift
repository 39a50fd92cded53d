import ObjectIndex
import SegmentLog

/// createUpload: CreateMultipartUpload.
struct CreateUploadCommit: CommitKind {
    static let recordType = RecordType.createUpload
    var upload: UploadInfo

    init(_ upload: UploadInfo) { self.upload = upload }
    init(decoding payload: [UInt8]) throws { upload = try Payload.decodeUpload(payload) }
    func encoded() -> [UInt8] { Payload.encode(upload) }
    var wrapped: Commit { .createUpload(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.openUpload(upload.uploadId, bucket: upload.bucket, sequence: sequence)
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleUpload(upload.uploadId, sequence: sequence)
        return .none
    }

    /// A closed upload never reopens, whatever order its records are applied in.
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let index = applier.index, txn = applier.txn
        guard try txn.get(index.tombstones, IndexKey.closedUpload(upload.uploadId)) == nil else { return }
        let key = IndexKey.upload(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId)
        if try applier.moveIfSameCommit(index.uploads, key, record) { return }
        guard try txn.get(index.uploads, key) == nil else { return }
        try applier.store(index.uploads, key, record)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .uploads: true
        case .meta, .buckets, .objects, .versions, .tombstones, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    func describe(_ summary: inout Inspector.RecordSummary) {
        (summary.bucket, summary.key, summary.uploadId) = (upload.bucket, upload.key, upload.uploadId)
        summary.encryption = upload.encryption?.summary
        summary.lock = upload.lock.flatMap { $0.isEmpty ? nil : $0.summary }
    }
}
