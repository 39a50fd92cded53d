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
    /// What a commit writes, decided under the journal's lock (``append(build:)``).
    struct Built: Sendable {
        var commit: Commit
        /// For object commits: the key's current object after the commit (nil: none, or a
        /// delete marker).
        var object: ObjectInfo? = nil
        /// For object commits in versioned buckets: what the commit does to the key's
        /// versions (nil: in an unversioned bucket, the key's only version is `object`).
        var versions: [VersionChange]? = nil
        /// For the caller: the delete marker made, or the version a versioned delete removes.
        var removed: ObjectInfo? = nil
        /// The bucket's versioning state the commit was decided under (for the caller).
        var versioning: BucketVersioning = .unversioned
    }

    struct State {
        var nextSequence: UInt64
        /// The records written and not yet applied, in log order.
        var records: [CommitRecord] = []
        var pending = PendingCommits()
        /// A reset or a restore is being written: no other commit is taken until it is
        /// applied. What is being done, for the SlowDown message.
        var exclusive: String?
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
        let pending: PendingCommits

        func bucketExists(_ name: String) throws -> Bool {
            if case .pending(let exists) = pending.bucketExists(name) { return exists }
            return try txn.get(index.buckets, Array(name.utf8)) != nil
        }

        func object(bucket: String, key: String) throws -> ObjectInfo? {
            if case .pending(let object) = pending.object(bucket: bucket, key: key) { return object }
            return try txn.get(index.objects, IndexKey.object(bucket: bucket, key: Array(key.utf8))).map { try IndexValue.object($0) }
        }

        /// Every live version of a key, newest first, delete markers included.
        func versions(bucket: String, key: String) throws -> [ObjectInfo] {
            let stored = { try ObjectStore.versionList(index, txn, bucket: bucket, key: key) }
            if let p = pending.objects[IndexKey.object(bucket: bucket, key: Array(key.utf8))] {
                return try p.versions.resolve(index: stored)
            }
            return try stored()
        }

        /// A bucket configuration document as of this commit (nil: none or removed).
        func bucketConfig(bucket: String, name: BucketConfigName) throws -> [UInt8]? {
            if case .pending(let document) = pending.config(bucket: bucket, name: name) { return document }
            let document = try txn.get(index.configs, IndexKey.config(bucket: bucket, name: name))
                .map { try Payload.decodeConfig($0, offset: IndexValue.prefixSize).document }
            return document.flatMap { $0.isEmpty ? nil : $0 }
        }

        /// The bucket's versioning state as of this commit. A bucket created with Object
        /// Lock (creation attribute ``BucketInfo/objectLockAttribute``) is Enabled from its
        /// creation record on, so no commit can come between that sees it unversioned.
        func versioning(bucket: String) throws -> BucketVersioning {
            if let document = try bucketConfig(bucket: bucket, name: .versioning) { return BucketVersioning(document: document) }
            return try createdWithObjectLock(bucket) ? .enabled : .unversioned
        }

        /// Whether Object Lock is on for the bucket: created with it, or turned on later.
        func objectLockEnabled(bucket: String) throws -> Bool {
            try bucketConfig(bucket: bucket, name: .objectLock) != nil || createdWithObjectLock(bucket)
        }

        private func createdWithObjectLock(_ bucket: String) throws -> Bool {
            if case .pending(let attributes) = pending.bucketAttributes(bucket) {
                return attributes?[BucketInfo.objectLockAttribute] == "Enabled"
            }
            guard let value = try txn.get(index.buckets, Array(bucket.utf8)) else { return false }
            return try IndexValue.bucket(value).attributes[BucketInfo.objectLockAttribute] == "Enabled"
        }

        /// Whether the upload exists and is neither completed nor aborted.
        func uploadIsOpen(bucket: String, key: String, uploadId: String) throws -> Bool {
            try pending.uploadIsOpen(uploadId, bucket: bucket) {
                try txn.get(index.uploads, IndexKey.upload(bucket: bucket, key: key, uploadId: uploadId))
                    .map { try IndexValue.header($0).sequence }
            }
        }

        /// Whether any upload of the bucket is open (in the index and not closed by a
        /// pending commit, or opened by one).
        func hasOpenUploads(bucket: String) throws -> Bool {
            if pending.opensUpload(inBucket: bucket) { return true }
            let prefix = IndexKey.bucketPrefix(bucket)
            return try txn.withCursor(index.uploads) { c in
                var entry = try c.seek(atOrAfter: prefix)
                while let e = entry, e.key.starts(with: prefix) {
                    let upload = try IndexValue.upload(e.value)
                    if upload.bucket == bucket, !pending.closed(upload: upload.uploadId) { return true }
                    entry = try c.next()
                }
                return false
            }
        }

        /// The sequence of the current commit of a part, if any.
        func partSequence(uploadId: String, partNumber: Int) throws -> UInt64? {
            let k = IndexKey.part(uploadID: uploadId, partNumber: UInt32(partNumber))
            if case .pending(let sequence) = pending.partSequence(k) { return sequence }
            return try txn.get(index.parts, k).map { try IndexValue.header($0).sequence }
        }

        /// No object, noncurrent version or delete marker is left in the bucket.
        func bucketIsEmpty(_ name: String) throws -> Bool {
            let prefix = IndexKey.bucketPrefix(name)
            func pendingEmpty(_ p: PendingCommits.Object) throws -> Bool {
                try p.object == nil && versions(bucket: p.bucket, key: p.key).isEmpty
            }
            if try pending.objects.contains(where: { try $0.key.starts(with: prefix) && !pendingEmpty($0.value) }) { return false }
            for (table, suffix) in [(index.objects, 0), (index.versions, IndexKey.versionSuffixSize)] {
                let empty = try txn.withCursor(table) { c in
                    var entry = try c.seek(atOrAfter: prefix)
                    while let e = entry, e.key.starts(with: prefix) {
                        // Present in the index, but maybe deleted by a pending commit.
                        if let p = pending.objects[Array(e.key.dropLast(suffix))], try pendingEmpty(p) {
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
    func append(_ commit: Commit, validate: (View) throws -> Void) throws -> CommitRecord {
        try append { view in
            try validate(view)
            return Built(commit: commit)
        }.record
    }

    /// Validates, builds, numbers, writes and queues one commit record. Not yet durable.
    /// `build` sees the index with the pending commits on top and decides what to write
    /// (the kind of commit too), under the same lock as the write: what it read cannot
    /// change before the record is in the log. This is how a PUT's version id follows the
    /// bucket's versioning state even while a PutBucketVersioning commits next to it.
    func append(build: (View) throws -> Built) throws -> (record: CommitRecord, built: Built) {
        try append(exclusive: false, build: build)
    }

    private func append(exclusive: Bool, build: (View) throws -> Built) throws -> (record: CommitRecord, built: Built) {
        try state.withLock { (s) throws -> (record: CommitRecord, built: Built) in
            if let what = s.exclusive, !exclusive {
                throw StoreError(.slowDown, "The store is being \(what); try again")
            }
            let pending = s.pending
            var built = try index.environment.read { txn in try build(View(txn: txn, index: index, pending: pending)) }
            let kind = built.commit.kind
            let payload = kind.encoded()
            let sequence = s.nextSequence
            let ref = try log.append(type: type(of: kind).recordType, sequence: sequence, payload: payload)
            s.nextSequence += 1
            let record = CommitRecord(commit: built.commit, sequence: sequence, ref: ref, payload: payload)
            s.records.append(record)
            // The entry this commit writes has sequence 0 until numbered here (a version
            // delete's `object` is an older version, which keeps its own).
            if built.object?.sequence == 0 { built.object?.sequence = sequence }
            if built.removed?.sequence == 0 { built.removed?.sequence = sequence }
            kind.pend(&s.pending, sequence: sequence, decided: built)
            return (record, built)
        }
    }

    /// Starts a reset or a restore (`what`, for the message): from now until
    /// ``endExclusive()`` every other commit is refused with SlowDown (503, which clients
    /// retry), so that no commit's preconditions are checked against what the reset or
    /// restore is about to replace. Commits written before stay ahead of its record in the
    /// log and are undone with the rest when it is applied. Compaction's copies are still
    /// taken: they change nothing a request could have seen.
    func beginExclusive(_ what: String) throws {
        try state.withLock { s in
            if let busy = s.exclusive { throw StoreError(.slowDown, "The store is being \(busy) already; try again") }
            s.exclusive = what
        }
    }

    /// Writes and queues a commit between ``beginExclusive(_:)`` and ``endExclusive()``:
    /// the reset or restore record, then (once it is applied) the buckets a server starts
    /// with; `build` sees the index as it then is.
    func appendExclusive(_ build: (View) throws -> Built) throws -> CommitRecord {
        try append(exclusive: true, build: build).record
    }

    /// Ends a reset or restore: once its record is applied (or writing it failed).
    func endExclusive() {
        state.withLock { $0.exclusive = nil }
    }

    /// Writes and queues compaction's copy of a commit record: same type and sequence as
    /// the original, new place (and new extents). It changes no precondition (the entry
    /// means the same), so the pending state is untouched; the applier moves the entry to
    /// the copy if it still has that sequence.
    func appendCopy(_ type: RecordType, sequence: UInt64, payload: [UInt8]) throws -> CommitRecord {
        let commit = try Commit(type: type, payload: payload)
        return try state.withLock { (s) throws -> CommitRecord in
            let ref = try log.append(type: type, sequence: sequence, payload: payload)
            let record = CommitRecord(commit: commit, sequence: sequence, ref: ref, payload: payload)
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
        var everything = true
        defer {
            if everything { cache.removeAll() } else if !changed.isEmpty { cache.invalidate(changed) }
        }
        everything = state.withLock { s -> Bool in
            var everything = false
            s.records.removeFirst(batch.count)
            for record in batch {
                // A copy's settle finds a later sequence in the pending state, or none.
                switch record.commit.kind.settle(&s.pending, sequence: record.sequence) {
                case .none: break
                case .object(let name): changed.append(name)
                case .everything: everything = true
                }
            }
            return everything
        }
    }
}

