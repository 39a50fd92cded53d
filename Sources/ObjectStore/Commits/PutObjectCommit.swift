import ObjectIndex
import SegmentLog

/// putObject: a version of an object, or a delete marker. Written by PUT, CopyObject,
/// POST uploads, CompleteMultipartUpload (which also closes its upload: extension field 1),
/// DeleteObject in a versioned bucket (the marker), and metadata-only re-commits of a
/// version (tags, ACL: extension field 4).
struct PutObjectCommit: CommitKind {
    static let recordType = RecordType.putObject
    var object: ObjectInfo

    init(_ object: ObjectInfo) { self.object = object }
    init(decoding payload: [UInt8]) throws { object = try Payload.decodeObject(payload) }
    func encoded() -> [UInt8] { Payload.encode(object) }
    var wrapped: Commit { .putObject(self) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.setObject(bucket: object.bucket, key: object.key, sequence: sequence, decided: decided)
        if let uploadId = object.completesUpload { pending.closeUpload(uploadId, sequence: sequence) }
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settleObject(bucket: object.bucket, key: object.key, sequence: sequence)
        if let uploadId = object.completesUpload { pending.settleUpload(uploadId, sequence: sequence) }
        return .object(ObjectCache.Name(bucket: object.bucket, key: object.key))
    }

    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        if let uploadId = object.completesUpload {
            try applier.closeUpload(bucket: object.bucket, key: object.key, uploadId: uploadId, record: record)
        }
        try applier.applyVersion(object, record)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .objects, .versions: true
        // A closed upload's tombstone, when CompleteMultipartUpload closed it.
        case .tombstones: IndexKey.isClosedUpload(key)
        case .meta, .buckets, .uploads, .parts, .segments, .configs, .damaged, .snapshots: false
        }
    }

    /// A version's entry moves with its extents (every live version and delete marker,
    /// like the current object). A closed upload's tombstone is copied as its completing
    /// record, unless that record is still the entry of its version (current or
    /// noncurrent): then that entry's own copy carries the tombstone along. A version
    /// re-committed since (tags, ACL) is live through the re-commit's record, which does
    /// not close the upload: the tombstone needs its own copy then.
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])? {
        let info = try Payload.decodeObject(entry.payload)
        guard entry.table == .tombstones else {
            return (recordType, try Payload.replacingExtents(recordType, in: entry.payload, with: try move(info.extents)))
        }
        let name = IndexKey.object(bucket: info.bucket, key: Array(info.key.utf8))
        if try isLive(.objects, name) || isLive(.versions, IndexKey.version(name, order: entry.sequence)) { return nil }
        return (recordType, entry.payload)
    }

    func describe(_ summary: inout Inspector.RecordSummary) {
        (summary.bucket, summary.key, summary.uploadId) = (object.bucket, object.key, object.completesUpload)
        summary.versionId = object.versionID.isEmpty ? nil : object.versionID
        summary.deleteMarker = object.isDeleteMarker ? true : nil
        summary.encryption = object.encryption?.summary
        summary.lock = object.lock.flatMap { $0.isEmpty ? nil : $0.summary }
    }
}
