import ObjectIndex
import SegmentLog

/// A commit record as the index sees it: written by the live store, or found by replay.
struct CommitRecord: Sendable {
    var type: RecordType
    var sequence: UInt64
    var ref: RecordRef
    var payload: [UInt8]
}

/// Applies commit records to the index. The live store and recovery call the same
/// function with the same records in the same (log) order, which is why a rebuild from
/// segments gives exactly the index the live store had (DESIGN.md invariant 4).
///
/// Every rule compares sequence numbers, so applying an older record after a newer one
/// for the same name changes nothing (compaction may move old records behind new ones).
/// A tombstone stays while no entry exists for its name, so an older put cannot come back.
struct IndexApplier {
    let index: ObjectIndex
    let txn: Transaction

    func apply(_ record: CommitRecord) throws {
        switch record.type {
        case .putObject:
            let info = try Payload.decodeObject(record.payload)
            if let uploadId = info.completesUpload {
                try closeUpload(bucket: info.bucket, key: info.key, uploadId: uploadId, record: record, isAbort: false)
            }
            let key = IndexKey.object(bucket: info.bucket, key: Array(info.key.utf8))
            guard try supersedes(record.sequence, key) else { return }
            try removeCurrent(key)
            try txn.put(index.objects, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
            try account(ref: record.ref, extents: info.extents, sign: 1)
        case .deleteObject:
            let d = try Payload.decodeDelete(record.payload)
            try putTombstone(IndexKey.object(bucket: d.bucket, key: Array(d.key.utf8)), record)
        case .createBucket:
            let b = try Payload.decodeBucket(record.payload)
            let key = IndexKey.bucketPrefix(b.name)
            guard try supersedes(record.sequence, key, bucket: b.name) else { return }
            try removeTombstone(key)
            try txn.put(index.buckets, Array(b.name.utf8), IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
            try account(ref: record.ref, extents: [], sign: 1)
        case .deleteBucket:
            let name = try Payload.decodeDeleteBucket(record.payload)
            let nameKey = Array(name.utf8)
            if let old = try txn.get(index.buckets, nameKey) {
                let (seq, ref) = try IndexValue.header(old)
                guard seq < record.sequence else { return }
                try txn.delete(index.buckets, nameKey)
                try account(ref: ref, extents: [], sign: -1)
                // The bucket's configurations go with it.
                let prefix = nameKey + [0]
                var doomed: [([UInt8], [UInt8])] = []
                try txn.withCursor(index.configs) { cursor in
                    var entry = try cursor.seek(atOrAfter: prefix)
                    while let e = entry, e.key.starts(with: prefix) {
                        doomed.append((e.key, e.value))
                        entry = try cursor.next()
                    }
                }
                for (key, value) in doomed {
                    try txn.delete(index.configs, key)
                    try account(ref: try IndexValue.header(value).ref, extents: [], sign: -1)
                }
            }
            // Deleting a bucket ends its in-progress multipart uploads, as S3 does.
            var uploads: [UploadInfo] = []
            try txn.withCursor(index.uploads) { cursor in
                let prefix = IndexKey.bucketPrefix(name)
                var entry = try cursor.seek(atOrAfter: prefix)
                while let e = entry, e.key.starts(with: prefix) {
                    uploads.append(try IndexValue.upload(e.value))
                    entry = try cursor.next()
                }
            }
            for upload in uploads where upload.bucket == name {
                try closeUpload(bucket: name, key: upload.key, uploadId: upload.uploadId, record: record, isAbort: false)
            }
            // A bucket's tombstone uses the object-key encoding with an empty key.
            try putTombstone(IndexKey.bucketPrefix(name), record)
        case .createUpload:
            let upload = try Payload.decodeUpload(record.payload)
            // A closed upload never reopens, whatever order its records are applied in.
            guard try txn.get(index.tombstones, IndexKey.closedUpload(upload.uploadId)) == nil else { return }
            let key = IndexKey.upload(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId)
            guard try txn.get(index.uploads, key) == nil else { return }
            try txn.put(index.uploads, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
            try account(ref: record.ref, extents: [], sign: 1)
        case .putPart:
            let part = try Payload.decodePart(record.payload)
            guard try txn.get(index.tombstones, IndexKey.closedUpload(part.uploadId)) == nil else { return }
            let key = IndexKey.part(uploadID: part.uploadId, partNumber: UInt32(part.partNumber))
            if let old = try txn.get(index.parts, key) {
                let (seq, ref) = try IndexValue.header(old)
                guard seq < record.sequence else { return }
                try txn.delete(index.parts, key)
                try account(ref: ref, extents: try IndexValue.part(old).extents, sign: -1)
            }
            try txn.put(index.parts, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
            try account(ref: record.ref, extents: part.extents, sign: 1)
        case .abortUpload:
            let abort = try Payload.decodeAbort(record.payload)
            try closeUpload(bucket: abort.bucket, key: abort.key, uploadId: abort.uploadId, record: record, isAbort: true)
        case .bucketConfig:
            let config = try Payload.decodeConfig(record.payload)
            // Only for the bucket as it exists (created before this record).
            guard let bucket = try txn.get(index.buckets, Array(config.bucket.utf8)),
                  try IndexValue.header(bucket).sequence < record.sequence else { return }
            let key = IndexKey.config(bucket: config.bucket, name: config.name)
            if let old = try txn.get(index.configs, key) {
                let (seq, ref) = try IndexValue.header(old)
                guard seq < record.sequence else { return }
                try txn.delete(index.configs, key)
                try account(ref: ref, extents: [], sign: -1)
            }
            guard !config.document.isEmpty else { return }
            try txn.put(index.configs, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
            try account(ref: record.ref, extents: [], sign: 1)
        case .relocate:
            throw StoreError(.corrupt, "record type \(record.type) at \(record.ref.segment):\(record.ref.offset) is not supported by this version")
        case .data, .seal:
            return
        }
    }

    /// Completes or aborts an upload: its entry and parts go (their bytes become dead; a
    /// completing putObject then makes the chosen parts' extents live again as the
    /// object's), and a tombstone keeps the upload closed. An abort's record is live
    /// while its tombstone is; a completion's record is accounted by its object entry.
    private func closeUpload(bucket: String, key: String, uploadId: String, record: CommitRecord, isAbort: Bool) throws {
        let tombKey = IndexKey.closedUpload(uploadId)
        guard try txn.get(index.tombstones, tombKey) == nil else { return }
        let uploadKey = IndexKey.upload(bucket: bucket, key: key, uploadId: uploadId)
        if let old = try txn.get(index.uploads, uploadKey) {
            try txn.delete(index.uploads, uploadKey)
            try account(ref: try IndexValue.header(old).ref, extents: [], sign: -1)
        }
        let prefix = Array(uploadId.utf8)
        var doomed: [([UInt8], [UInt8])] = []
        try txn.withCursor(index.parts) { cursor in
            var entry = try cursor.seek(atOrAfter: prefix)
            while let e = entry, e.key.starts(with: prefix) {
                doomed.append((e.key, e.value))
                entry = try cursor.next()
            }
        }
        for (partKey, value) in doomed {
            try txn.delete(index.parts, partKey)
            try account(ref: try IndexValue.header(value).ref, extents: try IndexValue.part(value).extents, sign: -1)
        }
        try txn.put(index.tombstones, tombKey, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
        if isAbort { try account(ref: record.ref, extents: [], sign: 1) }
    }

    /// Whether a record with `sequence` is newer than what the index holds for `key`.
    private func supersedes(_ sequence: UInt64, _ key: [UInt8], bucket: String? = nil) throws -> Bool {
        let current = try bucket.map { try txn.get(index.buckets, Array($0.utf8)) } ?? txn.get(index.objects, key)
        if let current, try IndexValue.header(current).sequence >= sequence { return false }
        if let tomb = try txn.get(index.tombstones, key), try IndexValue.header(tomb).sequence >= sequence { return false }
        return true
    }

    private func removeCurrent(_ key: [UInt8]) throws {
        if let old = try txn.get(index.objects, key) {
            let info = try IndexValue.object(old)
            try txn.delete(index.objects, key)
            try account(ref: try IndexValue.header(old).ref, extents: info.extents, sign: -1)
        }
        try removeTombstone(key)
    }

    private func removeTombstone(_ key: [UInt8]) throws {
        if let tomb = try txn.get(index.tombstones, key) {
            try txn.delete(index.tombstones, key)
            try account(ref: try IndexValue.header(tomb).ref, extents: [], sign: -1)
        }
    }

    private func putTombstone(_ key: [UInt8], _ record: CommitRecord) throws {
        if let old = try txn.get(index.objects, key) {
            let (seq, _) = try IndexValue.header(old)
            guard seq < record.sequence else { return }
        }
        if let tomb = try txn.get(index.tombstones, key), try IndexValue.header(tomb).sequence >= record.sequence { return }
        try removeCurrent(key)
        try txn.put(index.tombstones, key, IndexValue(sequence: record.sequence, ref: record.ref, payload: record.payload).encoded())
        try account(ref: record.ref, extents: [], sign: 1)
    }

    /// Live-byte accounting per segment: a live entry's commit record and its extents are
    /// live; everything else in a segment is dead space for compaction.
    private func account(ref: RecordRef, extents: [Extent], sign: Int64) throws {
        var deltas: [UInt64: (bytes: Int64, records: Int64)] = [ref.segment: (Int64(ref.size) * sign, sign)]
        for e in extents { deltas[e.segment, default: (0, 0)].bytes += Int64(e.length) * sign }
        for (segment, d) in deltas {
            let key = IndexKey.segment(segment)
            var stats = try txn.get(index.segments, key).map(SegmentStats.init) ?? SegmentStats()
            stats.liveBytes = UInt64(max(0, Int64(stats.liveBytes) + d.bytes))
            stats.liveRecords = UInt64(max(0, Int64(stats.liveRecords) + d.records))
            if stats.liveBytes == 0 && stats.liveRecords == 0 {
                try txn.delete(index.segments, key)
            } else {
                try txn.put(index.segments, key, stats.encoded())
            }
        }
    }
}

/// Live bytes and live commit records of one segment (index table `segments`).
public struct SegmentStats: Sendable, Equatable {
    public var liveBytes: UInt64 = 0
    public var liveRecords: UInt64 = 0

    init() {}

    init(_ bytes: [UInt8]) {
        var r = ByteReader(bytes)
        liveBytes = (try? r.read(UInt64.self)) ?? 0
        liveRecords = (try? r.read(UInt64.self)) ?? 0
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.write(liveBytes)
        w.write(liveRecords)
        return w.bytes
    }
}
