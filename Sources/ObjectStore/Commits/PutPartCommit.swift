import ObjectIndex
import SegmentLog

/// putPart: UploadPart and UploadPartCopy; a part number uploaded again replaces the
/// part (the newer record wins).
struct PutPartCommit: CommitKind {
    static let recordType = RecordType.putPart
    var part: PartInfo

    init(_ part: PartInfo) { self.part = part }
    init(decoding payload: [UInt8]) throws { part = try Payload.decodePart(payload) }
    func encoded() -> [UInt8] { Payload.encode(part) }
    var wrapped: Commit { .putPart(self) }

    private var key: [UInt8] { IndexKey.part(uploadID: part.uploadId, partNumber: UInt32(part.partNumber)) }

    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built) {
        pending.setPart(key, sequence: sequence)
    }

    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect {
        pending.settlePart(key, sequence: sequence)
        return .none
    }

    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws {
        let index = applier.index, txn = applier.txn
        guard try txn.get(index.tombstones, IndexKey.closedUpload(part.uploadId)) == nil else { return }
        if try applier.moveIfSameCommit(index.parts, key, record, extents: part.extents) { return }
        if let old = try txn.get(index.parts, key) {
            let (seq, ref) = try IndexValue.header(old)
            guard seq < record.sequence else { return }
            try txn.delete(index.parts, key)
            try applier.account(ref: ref, extents: try IndexValue.part(old).extents, sign: -1)
        }
        try applier.store(index.parts, key, record, extents: part.extents)
    }

    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool {
        switch table {
        case .parts: true
        case .meta, .buckets, .objects, .versions, .tombstones, .uploads, .segments, .configs, .damaged, .snapshots: false
        }
    }

    /// A part moves with its extents.
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])? {
        let part = try Payload.decodePart(entry.payload)
        return (recordType, try Payload.replacingExtents(recordType, in: entry.payload, with: try move(part.extents)))
    }

    func describe(_ summary: inout Inspector.RecordSummary) {
        (summary.uploadId, summary.partNumber) = (part.uploadId, part.partNumber)
    }
}
