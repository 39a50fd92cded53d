import ObjectIndex
import SegmentLog
import Synchronization

/// The commit pipeline between the log and the index.
///
/// A commit is validated, numbered and written under one lock, and queued as *pending*
/// in that same critical section; so the queue holds exactly the commit records written
/// and not yet applied, in log order. After each group sync the committer thread calls
/// `applyDurable(upTo:)`, which applies the pending records the sync covered to the index
/// in one LMDB transaction together with the replay checkpoint, and only then are their
/// callers told "durable". Readers only ever read the index, so they never see a commit
/// before it is durable. Preconditions (bucket exists, If-None-Match, …) are checked
/// against the index plus the pending records, which makes them atomic with the commit.
final class Journal: Sendable {
    struct Pending {
        var sequence: UInt64
        var bucket: String
        var key: String
        /// The current version after this commit, if it is an object (not a delete marker).
        var object: ObjectInfo?
        /// The key's live versions after this commit (delete markers included).
        var versions: VersionsAfter
    }

    /// What a commit does to a key's versions, as seen before it reaches the index.
    enum VersionChange: Sendable {
        /// A new version (sequence 0 in a builder: the commit's own, set when numbered).
        case add(ObjectInfo)
        /// The version with this order sequence (``ObjectInfo/orderSequence``) goes.
        case remove(order: UInt64)
        /// The null version goes (replaced or deleted).
        case removeNull
    }

    /// A key's versions after a pending commit.
    ///
    /// `indexPlus` lists changes on top of the index, so a PUT in a versioned bucket
    /// needs no read of the key's (possibly many) versions under the lock. Each change sets
    /// the presence of a version, so applying a prefix of them again to an index that
    /// already has those commits applied changes nothing: the pending entry of a key can
    /// span commits of which the group committer has applied some.
    enum VersionsAfter: Sendable {
        case exactly([ObjectInfo])
        case indexPlus([VersionChange])

        func resolve(index list: () throws -> [ObjectInfo]) rethrows -> [ObjectInfo] {
            switch self {
            case .exactly(let versions): return versions
            case .indexPlus(let changes): return Self.apply(changes, to: try list())
            }
        }

        /// After `change` (a later commit's) on top of this.
        func then(_ change: VersionsAfter) -> VersionsAfter {
            switch (self, change) {
            case (_, .exactly): return change
            case (.exactly(let list), .indexPlus(let changes)): return .exactly(Self.apply(changes, to: list))
            case (.indexPlus(let mine), .indexPlus(let changes)): return .indexPlus(mine + changes)
            }
        }

        static func apply(_ changes: [VersionChange], to list: [ObjectInfo]) -> [ObjectInfo] {
            var out = list
            for change in changes {
                switch change {
                case .add(let info): if !out.contains(where: { $0.sequence == info.sequence }) { out.append(info) }
                case .remove(let order): out.removeAll { $0.orderSequence == order }
                case .removeNull: out.removeAll { $0.versionID.isEmpty }
                }
            }
            return out.sorted { $0.orderSequence > $1.orderSequence }
        }
    }

    /// What a commit writes, decided under the journal's lock (``append(build:)``).
    struct Built: Sendable {
        var type: RecordType
        var payload: [UInt8]
        var object: ObjectInfo? = nil
        var upload: UploadChange? = nil
        /// For object commits in versioned buckets: what the commit does to the key's
        /// versions (nil: in an unversioned bucket, the key's only version is `object`).
        var versions: [VersionChange]? = nil
        /// For the caller: the delete marker made, or the version a versioned delete removes.
        var removed: ObjectInfo? = nil
        /// The bucket's versioning state the commit was decided under (for the caller).
        var versioning: BucketVersioning = .unversioned
    }

    /// What a commit does to a multipart upload, for the pending state.
    enum UploadChange: Sendable {
        case open(uploadId: String, bucket: String)
        case close(uploadId: String)
        case part(uploadId: String, key: [UInt8])
    }

    struct State {
        var nextSequence: UInt64
        var records: [CommitRecord] = []
        var objects: [[UInt8]: Pending] = [:]
        var buckets: [String: (sequence: UInt64, exists: Bool)] = [:]
        var uploads: [String: (sequence: UInt64, open: Bool, bucket: String?)] = [:]
        var parts: [[UInt8]: UInt64] = [:]
        var uploadChanges: [UInt64: UploadChange] = [:]
        /// Pending bucketConfig commits by `configs` key.
        var configs: [[UInt8]: (sequence: UInt64, document: [UInt8])] = [:]
    }

    let log: SegmentLog
    let index: ObjectIndex
    /// Told of every applied change to an object entry (see ``ObjectCache``).
    let cache: ObjectCache
    private let state: Mutex<State>

    init(log: SegmentLog, index: ObjectIndex, nextSequence: UInt64, cache: ObjectCache) {
        self.log = log
        self.index = index
        self.cache = cache
        self.state = Mutex(State(nextSequence: nextSequence))
    }

    /// What a commit's precondition sees: the index with the pending commits on top.
    struct View {
        let txn: Transaction
        let index: ObjectIndex
        let state: State

        func bucketExists(_ name: String) throws -> Bool {
            if let p = state.buckets[name] { return p.exists }
            return try txn.get(index.buckets, Array(name.utf8)) != nil
        }

        func object(bucket: String, key: String) throws -> ObjectInfo? {
            let k = IndexKey.object(bucket: bucket, key: Array(key.utf8))
            if let p = state.objects[k] { return p.object }
            return try txn.get(index.objects, k).map { try IndexValue.object($0) }
        }

        /// Every live version of a key, newest first, delete markers included.
        func versions(bucket: String, key: String) throws -> [ObjectInfo] {
            let k = IndexKey.object(bucket: bucket, key: Array(key.utf8))
            let stored = { try ObjectStore.versionList(index, txn, bucket: bucket, key: key) }
            if let p = state.objects[k] { return try p.versions.resolve(index: stored) }
            return try stored()
        }

        /// A bucket configuration document as of this commit (nil: none or removed).
        func bucketConfig(bucket: String, name: BucketConfigName) throws -> [UInt8]? {
            let k = IndexKey.config(bucket: bucket, name: name)
            let document: [UInt8]?
            if let p = state.configs[k] {
                // A pending re-create of the bucket after the document drops it.
                if let b = state.buckets[bucket], b.sequence > p.sequence { return nil }
                document = p.document
            } else {
                // A pending create or delete of the bucket is newer than any stored document.
                if state.buckets[bucket] != nil { return nil }
                document = try txn.get(index.configs, k).map { try Payload.decodeConfig($0, offset: IndexValue.prefixSize).document }
            }
            return document.flatMap { $0.isEmpty ? nil : $0 }
        }

        /// The bucket's versioning state as of this commit.
        func versioning(bucket: String) throws -> BucketVersioning {
            BucketVersioning(document: try bucketConfig(bucket: bucket, name: .versioning))
        }

        /// Whether the upload exists and is neither completed nor aborted.
        func uploadIsOpen(bucket: String, key: String, uploadId: String) throws -> Bool {
            let created: UInt64
            if let p = state.uploads[uploadId] {
                guard p.open else { return false }
                created = p.sequence
            } else {
                guard let value = try txn.get(index.uploads, IndexKey.upload(bucket: bucket, key: key, uploadId: uploadId))
                else { return false }
                created = try IndexValue.header(value).sequence
            }
            // A pending deleteBucket (or a re-create, which implies one) newer than the
            // upload closes it when applied: it is closed already for new commits, or an
            // acknowledged part would be dropped by the applier.
            if let pending = state.buckets[bucket], pending.sequence > created { return false }
            return true
        }

        /// Whether any upload of the bucket is open (in the index and not closed by a
        /// pending commit, or opened by one).
        func hasOpenUploads(bucket: String) throws -> Bool {
            if state.uploads.values.contains(where: { $0.open && $0.bucket == bucket }) { return true }
            let prefix = IndexKey.bucketPrefix(bucket)
            return try txn.withCursor(index.uploads) { c in
                var entry = try c.seek(atOrAfter: prefix)
                while let e = entry, e.key.starts(with: prefix) {
                    let upload = try IndexValue.upload(e.value)
                    if upload.bucket == bucket, state.uploads[upload.uploadId]?.open != false { return true }
                    entry = try c.next()
                }
                return false
            }
        }

        /// The sequence of the current commit of a part, if any.
        func partSequence(uploadId: String, partNumber: Int) throws -> UInt64? {
            let k = IndexKey.part(uploadID: uploadId, partNumber: UInt32(partNumber))
            if let p = state.parts[k] { return p }
            return try txn.get(index.parts, k).map { try IndexValue.header($0).sequence }
        }

        /// No object, noncurrent version or delete marker is left in the bucket.
        func bucketIsEmpty(_ name: String) throws -> Bool {
            let prefix = IndexKey.bucketPrefix(name)
            func pendingEmpty(_ p: Pending) throws -> Bool {
                try p.object == nil && versions(bucket: p.bucket, key: p.key).isEmpty
            }
            if try state.objects.contains(where: { try $0.key.starts(with: prefix) && !pendingEmpty($0.value) }) { return false }
            // A version key is `object key · 0x00 · u64`: its object key drops the last 9 bytes.
            for (table, suffix) in [(index.objects, 0), (index.versions, 9)] {
                let empty = try txn.withCursor(table) { c in
                    var entry = try c.seek(atOrAfter: prefix)
                    while let e = entry, e.key.starts(with: prefix) {
                        // Present in the index, but maybe deleted by a pending commit.
                        if let p = state.objects[Array(e.key.dropLast(suffix))], try pendingEmpty(p) {
                            entry = try c.next()
                            continue
                        }
                        return false
                    }
                    return true
                }
                if !empty { return false }
            }
            return true
        }
    }

    /// Validates, numbers, writes and queues one commit record. Not yet durable.
    func append(_ type: RecordType, payload: [UInt8], object: ObjectInfo? = nil, upload: UploadChange? = nil,
                validate: (View) throws -> Void) throws -> CommitRecord {
        try append { view in
            try validate(view)
            return Built(type: type, payload: payload, object: object, upload: upload)
        }.record
    }

    /// Validates, builds, numbers, writes and queues one commit record. Not yet durable.
    /// `build` sees the index with the pending commits on top and decides what to write
    /// (the record type too), under the same lock as the write: what it read cannot change
    /// before the record is in the log. This is how a PUT's version id follows the
    /// bucket's versioning state even while a PutBucketVersioning commits next to it.
    func append(build: (View) throws -> Built) throws -> (record: CommitRecord, built: Built) {
        try state.withLock { (s) throws -> (record: CommitRecord, built: Built) in
            let snapshot = s
            var built = try index.environment.read { txn in try build(View(txn: txn, index: index, state: snapshot)) }
            let type = built.type, payload = built.payload, upload = built.upload
            let sequence = s.nextSequence
            let ref = try log.append(type: type, sequence: sequence, payload: payload)
            s.nextSequence += 1
            let record = CommitRecord(type: type, sequence: sequence, ref: ref, payload: payload)
            s.records.append(record)
            // The entry this commit writes has sequence 0 until numbered here (a version
            // delete's `object` is an older version, which keeps its own).
            if built.object?.sequence == 0 { built.object?.sequence = sequence }
            if built.removed?.sequence == 0 { built.removed?.sequence = sequence }
            switch type {
            case .putObject, .deleteObject:
                let (bucket, key) = try Self.objectName(record)
                let k = IndexKey.object(bucket: bucket, key: Array(key.utf8))
                let after: VersionsAfter
                if let changes = built.versions {
                    after = .indexPlus(changes.map { change in
                        guard case .add(var info) = change, info.sequence == 0 else { return change }
                        info.sequence = sequence
                        return .add(info)
                    })
                } else {
                    after = .exactly(built.object.map { [$0] } ?? [])
                }
                s.objects[k] = Pending(sequence: sequence, bucket: bucket, key: key, object: built.object,
                                       versions: s.objects[k].map { $0.versions.then(after) } ?? after)
            case .createBucket:
                s.buckets[try Payload.decodeBucket(payload).name] = (sequence, true)
            case .deleteBucket:
                s.buckets[try Payload.decodeDeleteBucket(payload)] = (sequence, false)
            case .bucketConfig:
                let config = try Payload.decodeConfig(payload)
                s.configs[IndexKey.config(bucket: config.bucket, name: config.name)] = (sequence, config.document)
            default:
                break
            }
            switch upload {
            case .open(let id, let bucket)?: s.uploads[id] = (sequence, true, bucket)
            case .close(let id)?: s.uploads[id] = (sequence, false, nil)
            case .part(_, let key)?: s.parts[key] = sequence
            case nil: break
            }
            if let upload { s.uploadChanges[sequence] = upload }
            return (record, built)
        }
    }

    /// Writes and queues compaction's copy of a commit record: same type and sequence as
    /// the original, new place (and new extents). It changes no precondition (the entry
    /// means the same), so the pending state is untouched; the applier moves the entry to
    /// the copy if it still has that sequence.
    func appendCopy(_ type: RecordType, sequence: UInt64, payload: [UInt8]) throws -> CommitRecord {
        try state.withLock { (s) throws -> CommitRecord in
            let ref = try log.append(type: type, sequence: sequence, payload: payload)
            let record = CommitRecord(type: type, sequence: sequence, ref: ref, payload: payload)
            s.records.append(record)
            return record
        }
    }

    /// Applies the pending records that end at or before `position` (which a sync just
    /// made durable), in index transactions of at most ``recordsPerTransaction`` records,
    /// each with its checkpoint. Runs on the sync thread. If a transaction fails, its
    /// records and the later ones stay pending and the next batch retries them.
    ///
    /// Why bounded: LMDB keeps the buffers of the pages a write transaction dirtied on its
    /// own free list for reuse, for the life of the process, so one transaction switching
    /// the tens of thousands of entries a compaction moves would leave that many 4 KiB
    /// buffers behind. (The benchmark's high RSS after compaction turned out to be mostly
    /// compaction's own work list, read in batches since; see `ObjectStore.compact`.)
    ///
    /// Crash safety: pending records are in log order, so when a transaction has applied
    /// every pending record up to the end of its last one, everything before that point
    /// that the index needs is in it; that end (durable, as it is at or before `position`)
    /// is its checkpoint, and recovery replays the rest from there. The last transaction
    /// checkpoints `position` itself, as a single transaction did.
    func applyDurable(upTo position: LogPosition) throws {
        // Copies carry old sequence numbers, so the checkpoint's last sequence is the
        // highest ever handed out, not the last record's (sequences are never reused).
        let (batch, highest) = state.withLock { s in (Array(s.records.prefix { $0.ref.end <= position }), s.nextSequence - 1) }
        var start = 0
        while start < batch.count {
            let end = min(start + Self.recordsPerTransaction, batch.count)
            let checkpoint = end == batch.count ? position : batch[end - 1].ref.end
            try apply(Array(batch[start..<end]), checkpoint: Checkpoint(position: checkpoint, lastSequence: highest))
            start = end
        }
    }

    /// Records applied in one index transaction, at most (see ``applyDurable(upTo:)``).
    static let recordsPerTransaction = 512

    /// Applies `batch`, the oldest pending records, in one transaction with `checkpoint`.
    private func apply(_ batch: [CommitRecord], checkpoint: Checkpoint) throws {
        try index.environment.write { txn in
            let applier = IndexApplier(index: index, txn: txn)
            for record in batch { try applier.apply(record) }
            try checkpoint.write(txn, index)
        }
        // The cache forgets what changed now that the transaction committed, before any
        // writer of the batch is answered (ObjectCache says why that keeps it coherent).
        // (Should naming a record fail below, everything is forgotten.)
        var changed: [ObjectCache.Name] = []
        var unnamedChange = true
        defer {
            if unnamedChange { cache.removeAll() } else if !changed.isEmpty { cache.invalidate(changed) }
        }
        unnamedChange = try state.withLock { (s) throws -> Bool in
            var unnamedChange = false
            s.records.removeFirst(batch.count)
            for record in batch {
                switch record.type {
                case .putObject, .deleteObject:
                    let (bucket, key) = try Self.objectName(record)
                    changed.append(ObjectCache.Name(bucket: bucket, key: key))
                    let k = IndexKey.object(bucket: bucket, key: Array(key.utf8))
                    if s.objects[k]?.sequence == record.sequence { s.objects[k] = nil }
                case .createBucket:
                    let name = try Payload.decodeBucket(record.payload).name
                    if s.buckets[name]?.sequence == record.sequence { s.buckets[name] = nil }
                case .deleteBucket:
                    let name = try Payload.decodeDeleteBucket(record.payload)
                    if s.buckets[name]?.sequence == record.sequence { s.buckets[name] = nil }
                case .bucketConfig:
                    let config = try Payload.decodeConfig(record.payload)
                    let k = IndexKey.config(bucket: config.bucket, name: config.name)
                    if s.configs[k]?.sequence == record.sequence { s.configs[k] = nil }
                case .createUpload, .putPart, .abortUpload, .data, .seal:
                    break  // no object entry changes
                default:
                    unnamedChange = true
                }
                if record.type == .deleteBucket { unnamedChange = true }
                switch s.uploadChanges.removeValue(forKey: record.sequence) {
                case .open(let id, _)?, .close(let id)?:
                    if s.uploads[id]?.sequence == record.sequence { s.uploads[id] = nil }
                case .part(_, let key)?:
                    if s.parts[key] == record.sequence { s.parts[key] = nil }
                case nil:
                    break
                }
            }
            return unnamedChange
        }
    }

    private static func objectName(_ record: CommitRecord) throws -> (String, String) {
        if record.type == .putObject {
            let o = try Payload.decodeObject(record.payload)
            return (o.bucket, o.key)
        }
        let d = try Payload.decodeDelete(record.payload)
        return (d.bucket, d.key)
    }
}

/// The replay checkpoint and the last sequence number, kept in table `meta` and written
/// in the same transaction as the entries they describe (docs/DESIGN.md, "The index is
/// a view of the log").
struct Checkpoint: Equatable {
    var position: LogPosition
    var lastSequence: UInt64

    static let key = Array("checkpoint".utf8)

    func write(_ txn: Transaction, _ index: ObjectIndex) throws {
        var w = ByteWriter()
        w.write(position.segment)
        w.write(position.offset)
        w.write(lastSequence)
        try txn.put(index.meta, Self.key, w.bytes)
    }

    static func read(_ txn: Transaction, _ index: ObjectIndex) throws -> Checkpoint? {
        guard let bytes = try txn.get(index.meta, key) else { return nil }
        var r = ByteReader(bytes)
        return Checkpoint(position: LogPosition(segment: try r.read(UInt64.self), offset: try r.read(UInt64.self)),
                          lastSequence: try r.read(UInt64.self))
    }
}
