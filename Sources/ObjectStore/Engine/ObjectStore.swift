import NIOCore
import NIOPosix
import ObjectIndex
import SegmentLog
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// S3 semantics on top of the engine: buckets and objects, written through the log and
/// found through the index.
///
/// Blocking work (pwrite, pread, LMDB) runs on the store's own thread pool; syncs run
/// on the group-commit thread. No call blocks the caller's thread.
public final class ObjectStore: Sendable {
    public struct Options: Sendable {
        public var segments: SegmentLog.Options
        /// Object bytes are written in data records of at most this size (the memory one
        /// upload holds).
        public var dataRecordSize: Int
        /// Threads for file and index work. The default is one per core (at least two):
        /// the work is CPU (hashing, copying, index reads from the page cache) more than
        /// waiting, and more threads than cores only contend. On the 2-core benchmark
        /// machine 4 threads spent a tenth of a 4 KiB PUT's CPU in futex waits, most of
        /// them on the journal's lock; 2 threads did 10-15% more PUT/s in alternating runs
        /// of `profile.py --method PUT` (GET and LIST unchanged).
        public var ioThreads: Int
        /// LMDB map size (virtual; the file grows as needed).
        public var indexMapSize: Int
        /// Smallest size of every multipart part but the last (S3: 5 MiB).
        public var minPartSize: UInt64
        /// Bytes of small objects kept in memory for repeated reads (``ObjectCache``); 0
        /// turns the cache off.
        public var cacheBytes: Int

        public init(segments: SegmentLog.Options = .init(), dataRecordSize: Int = 1 << 20,
                    ioThreads: Int = max(2, System.coreCount), indexMapSize: Int = 1 << 38, minPartSize: UInt64 = 5 << 20,
                    cacheBytes: Int = 16 << 20) {
            self.segments = segments
            self.dataRecordSize = dataRecordSize
            self.ioThreads = ioThreads
            self.indexMapSize = indexMapSize
            self.minPartSize = minPartSize
            self.cacheBytes = cacheBytes
        }
    }

    public let directory: String
    public let options: Options
    let log: SegmentLog
    let index: ObjectIndex
    /// What recovery found and did when the store opened.
    public let recovery: Recovery.Report
    let journal: Journal
    let committer: GroupCommitter
    let pool: NIOThreadPool
    /// Multipart completions in flight (compaction waits for them before deleting).
    let pins = ExtentPins()
    /// Uncommitted writers' data (compaction keeps the segments they wrote into).
    let writers = InFlightWrites()
    /// Whether a compaction runs (one at a time).
    let compacting = Mutex(false)
    /// A snapshot is being saved, restored or deleted (one at a time).
    let snapshotChange = Mutex(false)
    /// Data records whose checksum a GET has checked (see ``verify(_:)``).
    let verified = VerifiedRecords()
    /// Recently read small objects (see ``ObjectCache``).
    let cache: ObjectCache
    /// Metrics hooks (see `observe`).
    struct Observers {
        var compaction: (@Sendable (CompactionReport) -> Void)?
    }
    let observers = Mutex(Observers())
    /// Held (flock) while the store is open: a second process on the same directory,
    /// say an offline `strata compact` next to a running server, would corrupt it.
    private let lock: DirectoryLock
    /// Present when the index runs without a sync per commit (see `IndexSession`).
    private let session: IndexSession?

    /// Opens the store in `directory` (created if missing): replays the log tail after
    /// the index's checkpoint, cuts off a torn tail, and starts appending.
    ///
    /// Layout: `directory/segments/*.seg` and `directory/index/` (LMDB).
    public init(directory: String, options: Options = Options()) throws {
        self.directory = directory
        self.options = options
        try makeDirectories(directory)
        lock = try DirectoryLock(directory: directory)
        try IndexRebuild.settle(directory: directory)
        try makeDirectories(directory + "/index")
        // The index syncs only at close; `IndexSession` says why that is safe and throws
        // the index away after a machine crash.
        let session = IndexSession(indexDirectory: directory + "/index")
        let boot = IndexSession.currentBoot
        let previous = session.previousRun(boot: boot)
        let machineCrashed = previous == .crashedEarlierBoot
        if machineCrashed { try session.discardIndex() }
        // After a machine crash the old run's session file stays until recovery has cut
        // the tail, which may be garbage: a crash during recovery is again a machine crash
        // to the next open, which throws this index away too and cuts at the first damage.
        if let boot, !machineCrashed { try session.begin(boot: boot) }
        self.session = boot == nil ? nil : session
        log = try SegmentLog(directory: directory + "/segments", options: options.segments)
        let cut = try log.cutUnsyncedTail()
        index = try ObjectIndex(path: directory + "/index", mapSize: options.indexMapSize, syncEachCommit: boot == nil)
        var recovery = try Recovery.open(log: log, index: index, unsyncedTail: machineCrashed)
        if let boot, machineCrashed { try session.begin(boot: boot) }
        recovery.indexDiscardedAfterMachineCrash = machineCrashed
        recovery.cutAfterFailedSync = cut
        self.recovery = recovery
        try log.startAppending(at: recovery.end)
        cache = ObjectCache(capacity: options.cacheBytes)
        let journal = Journal(log: log, index: index, nextSequence: recovery.lastSequence + 1, cache: cache)
        self.journal = journal
        committer = GroupCommitter(log: log) { position in try journal.applyDurable(upTo: position) }
        pool = NIOThreadPool(numberOfThreads: options.ioThreads)
        pool.start()
    }

    /// Finishes pending commits, stops the threads and syncs the index.
    ///
    /// Records written but never waited for (a compaction stopped midway, a request whose
    /// client went away between its commit and the sync) are synced and applied here too,
    /// so the index of a cleanly closed store equals a rebuild from its segments.
    public func close() throws {
        committer.shutdown()
        var failure: Error?
        do {
            try journal.applyDurable(upTo: try log.sync())
        } catch {
            failure = error  // a failed sync: the log is read-only; recovery replays at the next start
        }
        try pool.syncShutdownGracefully()
        try index.environment.sync()
        // Only a synced index may lose its session file (a failure above keeps it, and
        // the next open treats this run as crashed).
        try session?.end()
        lock.release()
        if let failure { throw failure }
    }

    /// The log's segments, oldest first.
    public var segmentIDs: [UInt64] { log.segmentIDs }

    /// The segment being appended to (never compacted).
    public var activeSegmentID: UInt64? { log.activeSegmentID }

    /// The file of segment `id`.
    public func segmentPath(_ id: UInt64) -> String { directory + "/segments/" + SegmentLog.fileName(id) }

    /// Rebuilds the index of a data directory no server has open from its segments,
    /// beside the current one, and swaps it in (`strata recover --rebuild-index`; see
    /// ``IndexRebuild``).
    public static func rebuildIndex(directory: String, onDamage: Recovery.OnDamage) throws -> IndexRebuild.Result {
        try IndexRebuild.run(directory: directory, onDamage: onDamage)
    }

    /// Runs blocking work on the store's thread pool, mapping errors to `StoreError`.
    /// Cancellation and the store's own control-flow signals pass through unchanged.
    func io<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await pool.runIfActive(body)
        } catch let signal as ControlSignal {
            throw signal
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Writes one commit record and returns once it is durable and in the index.
    @discardableResult
    func commit(_ commit: Commit, validate: @escaping @Sendable (Journal.View) throws -> Void) async throws -> CommitRecord {
        let journal = self.journal
        let record = try await io { try journal.append(commit, validate: validate) }
        try await waitDurable()
        return record
    }

    /// Writes one commit record whose content `build` decides under the journal's lock
    /// (see ``Journal/append(build:)``); returns once it is durable and in the index.
    /// `prepare` runs on the thread pool just before, in the same trip.
    func commit(prepare: @escaping @Sendable () throws -> Void = {},
                build: @escaping @Sendable (Journal.View) throws -> Journal.Built) async throws -> (record: CommitRecord, built: Journal.Built) {
        let journal = self.journal
        let result = try await io {
            try prepare()
            return try journal.append(build: build)
        }
        try await waitDurable()
        return result
    }

    /// Empties the store: every bucket with its objects, versions, uploads and
    /// configurations goes, in one commit record (`reset`, FORMAT.md "Applying a commit
    /// record"); the segments' bytes become dead space for compaction. Returns when the
    /// reset is durable and applied. Commits that arrive meanwhile are refused with
    /// SlowDown; those written before it are removed with the rest.
    ///
    /// Crash safety: the reset is one record, durable before it is acknowledged; replay
    /// applies it in log order like any commit, and its tombstone makes every older record
    /// void wherever a rebuild meets it.
    ///
    /// `recreating` buckets are made again right after (a server's startup buckets), while
    /// other commits are still refused, so no request can take one of their names first.
    public func reset(recreating buckets: [(name: String, attributes: [String: String])] = []) async throws {
        let journal = self.journal
        try journal.beginExclusive("reset")
        defer { journal.endExclusive() }
        try await io { _ = try journal.appendExclusive { _ in Journal.Built(commit: .reset(ResetCommit(time: Self.now()))) } }
        try await waitDurable()
        try await recreate(buckets)
    }

    /// Makes `buckets` again after a reset or restore (the journal still refuses other
    /// commits): each that does not exist now is created, empty.
    func recreate(_ buckets: [(name: String, attributes: [String: String])]) async throws {
        guard !buckets.isEmpty else { return }
        let journal = self.journal, index = self.index
        let now = Self.now()
        try await io {
            var seen = Set<String>()
            for bucket in buckets where seen.insert(bucket.name).inserted {
                try Validation.checkBucketName(bucket.name)
                // Nothing else commits meanwhile, and the reset or restore is applied.
                if try index.environment.read({ try $0.get(index.buckets, Array(bucket.name.utf8)) }) != nil { continue }
                let info = BucketInfo(name: bucket.name, created: now, attributes: bucket.attributes)
                _ = try journal.appendExclusive { _ in Journal.Built(commit: .createBucket(CreateBucketCommit(info))) }
            }
        }
        try await waitDurable()
    }

    /// Waits for the group commit that makes the records appended so far durable.
    func waitDurable() async throws {
        do {
            try await committer.waitDurable()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Milliseconds since 1970.
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

// MARK: - Buckets

extension ObjectStore {
    /// Creates a bucket; BucketAlreadyOwnedByYou if one of that name exists (the S3 front
    /// decides what that means for the caller: another owner's, or S3's us-east-1 rule).
    @discardableResult
    public func createBucket(_ name: String, attributes: [String: String] = [:]) async throws -> BucketInfo {
        try Validation.checkBucketName(name)
        var info = BucketInfo(name: name, created: Self.now(), attributes: attributes)
        let record = try await commit(.createBucket(CreateBucketCommit(info))) { view in
            if try view.bucketExists(name) {
                throw StoreError(.bucketAlreadyOwnedByYou, "Your previous request to create the named bucket succeeded and you already own it: \(name)")
            }
        }
        info.sequence = record.sequence
        return info
    }

    /// Deletes an empty bucket (BucketNotEmpty otherwise). Its in-progress multipart
    /// uploads end first, each with its own abort record (S3 deletes a bucket with uploads
    /// in progress): a record that names its upload keeps it closed whatever order
    /// compaction leaves the records in. The deleteBucket commit itself requires that no
    /// upload is open, so one created meanwhile is aborted on the next round.
    public func deleteBucket(_ name: String) async throws {
        for _ in 0..<8 {
            let open = try await io { [index] in
                try index.environment.read { txn in
                    // Refuse before touching the uploads: a failed DeleteBucket changes nothing.
                    guard try txn.get(index.buckets, Array(name.utf8)) != nil else { throw StoreError.noSuchBucket(name) }
                    let prefix = IndexKey.bucketPrefix(name)
                    // Noncurrent versions and delete markers keep a bucket from being deleted too.
                    let nonEmpty = try [index.objects, index.versions].contains { table in
                        try txn.withCursor(table) { c in try c.seek(atOrAfter: prefix).map { $0.key.starts(with: prefix) } ?? false }
                    }
                    if nonEmpty {
                        throw StoreError(.bucketNotEmpty, "The bucket you tried to delete is not empty: \(name)")
                    }
                    return try txn.withCursor(index.uploads) { c in
                        var out: [UploadInfo] = []
                        var entry = try c.seek(atOrAfter: prefix)
                        while let e = entry, e.key.starts(with: prefix) {
                            let upload = try IndexValue.upload(e.value)
                            if upload.bucket == name { out.append(upload) }
                            entry = try c.next()
                        }
                        return out
                    }
                }
            }
            for upload in open {
                do {
                    try await abortUpload(bucket: name, key: upload.key, uploadId: upload.uploadId)
                } catch let error as StoreError where error.code == .noSuchUpload {
                    continue  // completed or aborted meanwhile
                }
            }
            do {
                try await commit(.deleteBucket(DeleteBucketCommit(name: name))) { view in
                    guard try view.bucketExists(name) else { throw StoreError.noSuchBucket(name) }
                    guard try view.bucketIsEmpty(name) else {
                        throw StoreError(.bucketNotEmpty, "The bucket you tried to delete is not empty: \(name)")
                    }
                    if try view.hasOpenUploads(bucket: name) { throw UploadsStillOpen() }
                }
                return
            } catch is UploadsStillOpen {
                continue
            }
        }
        throw StoreError(.slowDown, "Uploads kept being created in the bucket while it was being deleted; try again")
    }

    private struct UploadsStillOpen: ControlSignal {}

    /// The bucket's information (HeadBucket).
    public func bucket(_ name: String) async throws -> BucketInfo {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                guard let value = try txn.get(index.buckets, Array(name.utf8)) else { throw StoreError.noSuchBucket(name) }
                return try IndexValue.bucket(value)
            }
        }
    }

    /// All buckets, by name.
    public func listBuckets() async throws -> [BucketInfo] {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                try txn.withCursor(index.buckets) { c in
                    var out: [BucketInfo] = []
                    var entry = try c.first()
                    while let e = entry {
                        out.append(try IndexValue.bucket(e.value))
                        entry = try c.next()
                    }
                    return out
                }
            }
        }
    }
}

/// An error the store throws to itself to change course (say, "deleted meanwhile:
/// nothing to do"), or a caller's error thrown from a closure it handed the store (the
/// `change` of ``ObjectStore/recommitVersion``): `io` passes it through unchanged instead
/// of wrapping it in a ``StoreError``.
public protocol ControlSignal: Error {}

/// An exclusive `flock` on `DIR/LOCK`, released by `release()` or when the store goes
/// away (the kernel drops it with the descriptor, also when the process is killed).
public final class DirectoryLock: Sendable {
    private let descriptor: Mutex<Int32>

    public init(directory: String) throws {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.wrap(IOError("open", path: path, errno: errno)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw InUse(directory: directory)
        }
        descriptor = Mutex(fd)
    }

    private init(descriptor fd: Int32) {
        descriptor = Mutex(fd)
    }

    /// The same lock for a process that only reads but must not run beside a writer
    /// (`strata verify`), taken through a read-only descriptor so that a read-only copy
    /// of a data directory can be checked. Nil when the directory has no `LOCK` file (no
    /// Strata process has opened it). Throws ``InUse`` while another process holds it.
    public static func forReading(directory: String) throws -> DirectoryLock? {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError.wrap(IOError("open", path: path, errno: errno))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw InUse(directory: directory) }
            throw StoreError.wrap(IOError("flock", path: path, errno: code))
        }
        return DirectoryLock(descriptor: fd)
    }

    /// Another process has the data directory open.
    public struct InUse: Error, CustomStringConvertible {
        public var directory: String
        public var description: String {
            "the data directory \(directory) is in use by another process (a running strata serve?); stop it first"
        }
    }

    public func release() {
        descriptor.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}
