import Crypto
import NIOCore
import SegmentLog

/// Conditions a PUT can set, checked atomically with its commit.
public struct WriteConditions: Sendable, Equatable {
    /// `If-None-Match: *`: fail if the key exists.
    public var ifNoneMatchAny: Bool
    /// `If-Match: etag`: fail unless the current version has this ETag (unquoted).
    public var ifMatch: String?
    /// `If-None-Match: "a", "b"` (RFC 9110): fail if the current version's ETag is one of
    /// these (unquoted; a weak `W/` tag compares by its opaque part); go on otherwise,
    /// also when there is no current version.
    public var ifNoneMatchETags: [String]

    public init(ifNoneMatchAny: Bool = false, ifMatch: String? = nil, ifNoneMatchETags: [String] = []) {
        self.ifNoneMatchAny = ifNoneMatchAny
        self.ifMatch = ifMatch
        self.ifNoneMatchETags = ifNoneMatchETags
    }

    func check(_ current: ObjectInfo?, key: String) throws {
        if ifNoneMatchAny, current != nil {
            throw StoreError(.preconditionFailed, "At least one of the pre-conditions you specified did not hold (If-None-Match)")
        }
        if let current, ifNoneMatchETags.contains(current.etag) {
            throw StoreError(.preconditionFailed, "At least one of the pre-conditions you specified did not hold (If-None-Match)")
        }
        if let etag = ifMatch {
            guard let current else { throw StoreError.noSuchKey(key) }
            let wanted = etag.trimmingQuotes()
            if wanted != "*" && wanted != current.etag {
                throw StoreError(.preconditionFailed, "At least one of the pre-conditions you specified did not hold (If-Match)")
            }
        }
    }
}

extension String {
    func trimmingQuotes() -> String {
        var s = Substring(self)
        if s.hasPrefix("\"") { s = s.dropFirst() }
        if s.hasSuffix("\"") { s = s.dropLast() }
        return String(s)
    }
}

/// Streams one object into the log. Bytes go into data records as they arrive (at most
/// `dataRecordSize` is held in memory); the object becomes visible only when `finish`
/// writes its commit record. A writer that is abandoned or aborted leaves only dead
/// data records behind, which compaction reclaims.
///
/// One writer is used by one task at a time.
public final class ObjectWriter: @unchecked Sendable {
    public let bucket: String
    public let key: String
    public let metadata: [String: String]
    /// The encoded ACL stored with the object (``ObjectInfo/acl``).
    public let acl: [UInt8]
    /// The object's tags (`x-amz-tagging`).
    public let tags: [String: String]
    public let conditions: WriteConditions
    private let store: ObjectStore
    private var buffer: [UInt8] = []
    private var extents: [Extent] = []
    private var md5 = Insecure.MD5()
    private var size: UInt64 = 0
    private var finished = false
    private var registered: UInt64?
    /// How the bytes are sealed, for an encrypted object (nil: stored as sent).
    private let sealing: Sealing?
    /// The Object Lock retention and legal hold the new version gets.
    public let lock: ObjectLock?
    /// Where records are sealed before they are written: two buffers, used by records in
    /// turn. A record's buffer was last used two records before, whose write ended before
    /// this record was started (at most ``recordsInFlight`` are under way).
    private let sealBuffers: [ScratchBuffer]
    /// Records started so far (which seal buffer the next one takes).
    private var recordsStarted = 0
    /// The salt and key of the sealed stream (``SealedStream``).
    private(set) var salt: [UInt8]?
    private var streamKey: EncryptionKey?
    /// The next chunk of the sealed stream to seal.
    private var nextChunk = 0
    /// Whether the plaintext's MD5 is computed (the ETag, or a Content-MD5 to check).
    private let hashesMD5: Bool

    init(store: ObjectStore, bucket: String, key: String, metadata: [String: String], acl: [UInt8] = [],
         tags: [String: String] = [:], conditions: WriteConditions, sealing: Sealing? = nil, lock: ObjectLock? = nil) {
        self.sealing = sealing
        self.lock = lock
        if let sealing {
            let salt = SealedStream.newSalt()
            self.salt = salt
            streamKey = EncryptionKey(SealedStream.streamKey(objectKey: sealing.objectKey.symmetric, salt: salt))
        }
        hashesMD5 = sealing.map { $0.etagIsMD5 || $0.checksMD5 } ?? true
        let record = Self.recordLimit(store.options.dataRecordSize, sealed: true)
        let sealedRecord = Int(SealedStream.sealedSize(plaintext: UInt64(record)))
        sealBuffers = sealing == nil ? [] : [ScratchBuffer(byteCount: sealedRecord), ScratchBuffer(byteCount: sealedRecord)]
        self.acl = acl
        self.store = store
        self.tags = tags
        self.bucket = bucket
        self.key = key
        self.metadata = metadata
        self.conditions = conditions
        // No record-sized buffer up front: most objects are small, and `strata serve`
        // maps (and unmaps) every allocation of 256 KiB and more. The first record's buffer
        // grows with the body; later ones are reserved whole (``flush()``).
    }

    /// Bytes received so far.
    public var bytesWritten: UInt64 { size }

    /// Adds bytes to the object. Returns once the bytes are buffered and any record
    /// before the current one has been written (see ``flush()``).
    public func write(_ bytes: ByteBuffer) async throws {
        precondition(!finished, "write after finish")
        var rest = bytes
        let limit = recordLimit
        while rest.readableBytes > 0 {
            // A sealed stream's full buffer goes out only once more bytes arrive: until
            // then its last chunk may be the stream's last, which is sealed differently.
            if buffer.count == limit { try await flush() }
            let n = min(limit - buffer.count, rest.readableBytes)
            rest.withUnsafeReadableBytes { all in
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: all.prefix(n)))
            }
            rest.moveReaderIndex(forwardBy: n)
            size += UInt64(n)
            if buffer.count == limit && sealing == nil { try await flush() }
        }
    }

    /// Plaintext bytes per data record: the store's record size, for a sealed stream
    /// rounded to whole chunks so that each record holds whole sealed chunks.
    private var recordLimit: Int { Self.recordLimit(store.options.dataRecordSize, sealed: sealing != nil) }

    private static func recordLimit(_ dataRecordSize: Int, sealed: Bool) -> Int {
        guard sealed else { return dataRecordSize }
        return max(SealedStream.chunkSize, dataRecordSize / SealedStream.chunkSize * SealedStream.chunkSize)
    }

    /// Appends the data record for `chunk`: the chunk itself, or sealed (into `sealed`) as
    /// the chunks from `firstChunk` on (the last of them final when `final`). Blocking.
    private static func append(_ chunk: [UInt8], to log: SegmentLog, key: EncryptionKey?, sealed: ScratchBuffer?,
                               firstChunk: Int, final: Bool) throws -> Extent {
        guard let key, let sealed else { return try chunk.withUnsafeBytes { try log.appendData($0) } }
        let count = chunk.withUnsafeBytes {
            SealedStream.seal($0, into: sealed.bytes, key: key.symmetric, firstChunk: firstChunk, final: final)
        }
        return try log.appendData(UnsafeRawBufferPointer(rebasing: sealed.bytes.prefix(count)))
    }

    /// Counts the chunks a record of `plaintext` bytes seals; returns the first one.
    private func takeChunks(_ plaintext: Int, final: Bool) -> Int {
        let first = nextChunk
        if sealing != nil {
            nextChunk += final ? Int(SealedStream.chunkCount(plaintext: UInt64(plaintext)))
                               : plaintext / SealedStream.chunkSize
        }
        return first
    }

    public func write(_ bytes: [UInt8]) async throws {
        try await write(ByteBuffer(bytes: bytes))
    }

    /// Starts hashing and writing the buffered bytes as a data record and returns
    /// without waiting: the body's next bytes arrive while earlier records are hashed and
    /// written on the pool. Up to ``recordsInFlight`` records are under way; each record's
    /// hash waits for the previous hash and its write for the previous write, so the MD5
    /// sees the bytes in body order and records (and extents) land in body order.
    ///
    /// Perf of a 1 GiB PUT: with each record hashed on the receiving thread and written
    /// before the next was read, the upload ran at about half the disk's rate, stalled on
    /// every 1 MiB record's trip to the thread pool; MD5 and the copy into the page cache
    /// were most of the CPU. Now receiving, hashing and checksumming-and-writing overlap.
    private func flush(final: Bool = false) async throws {
        guard !buffer.isEmpty || (final && sealing != nil) else { return }
        if inFlight.count >= Self.recordsInFlight { try await collectOldest() }
        register()
        let chunk = buffer, log = store.log, store = self.store, hashes = hashesMD5, key = streamKey
        let firstChunk = takeChunks(chunk.count, final: final)
        let sealInto = sealBuffers.isEmpty ? nil : sealBuffers[recordsStarted % sealBuffers.count]
        recordsStarted += 1
        buffer = []
        buffer.reserveCapacity(recordLimit)
        let previousHash = inFlight.last?.hash, previousWrite = inFlight.last?.write
        let hash = Task {
            try await previousHash?.value
            guard hashes else { return }
            try await store.io { chunk.withUnsafeBytes { self.md5.update(bufferPointer: $0) } }
        }
        // A sealed record is sealed as soon as it is started, beside the hashing of the
        // record before it (its chunk indexes are fixed already); only its write waits.
        let seal: Task<Int, Error>? = key.flatMap { key in sealInto.map { buffer in
            Task {
                try await store.io {
                    chunk.withUnsafeBytes {
                        SealedStream.seal($0, into: buffer.bytes, key: key.symmetric, firstChunk: firstChunk, final: final)
                    }
                }
            }
        } }
        let write = Task {
            _ = try await previousWrite?.value
            guard let seal, let sealInto else { return try await store.io { try chunk.withUnsafeBytes { try log.appendData($0) } } }
            let count = try await seal.value
            return try await store.io { try log.appendData(UnsafeRawBufferPointer(rebasing: sealInto.bytes.prefix(count))) }
        }
        inFlight.append((hash, write))
    }

    /// Records hashed and written at the same time, at most (memory: this many records
    /// plus the one being filled).
    static let recordsInFlight = 2

    /// Waits for the oldest record in flight and adds its extent.
    private func collectOldest() async throws {
        let (hash, write) = inFlight.removeFirst()
        let extent = await write.result
        try await hash.value
        extents.append(try extent.get())
    }

    /// Waits for every record in flight.
    private func collectInFlight() async throws {
        while !inFlight.isEmpty { try await collectOldest() }
    }

    /// The records being hashed and written by ``flush()``, oldest first.
    private var inFlight: [(hash: Task<Void, Error>, write: Task<Extent, Error>)] = []

    /// Counts this upload among the uncommitted writers from its first record on, so
    /// compaction keeps the segments it writes into (`InFlightWrites`).
    private func register() {
        guard registered == nil else { return }
        let segment = store.log.activeSegmentID ?? 0
        store.writers.enter(segment)
        registered = segment
    }

    /// Writes the buffered bytes as a data record. Blocking; no record may be in flight.
    /// A sealed stream always ends with a final chunk, empty for an empty stream.
    private func flushNow() throws {
        precondition(inFlight.isEmpty)
        guard !buffer.isEmpty || sealing != nil else { return }
        register()
        if hashesMD5 { buffer.withUnsafeBytes { md5.update(bufferPointer: $0) } }
        let firstChunk = takeChunks(buffer.count, final: true)
        let extent = try Self.append(buffer, to: store.log, key: streamKey, sealed: sealBuffers.first, firstChunk: firstChunk, final: true)
        buffer.removeAll(keepingCapacity: true)
        extents.append(extent)
    }

    /// Writes the commit record and returns the committed object once it is durable.
    /// - Parameters:
    ///   - contentMD5: the binary MD5 the client declared; on mismatch BadDigest and
    ///     nothing is committed.
    ///   - checksums: checksums the caller computed over the same bytes and verified, by
    ///     algorithm name (`CRC32`, …, base64); stored with the object and returned by GET.
    public func finish(contentMD5: [UInt8]? = nil, checksums: [String: String] = [:]) async throws -> ObjectInfo {
        defer { release() }
        precondition(!finished, "finish twice")
        finished = true
        let bucket = self.bucket, key = self.key, conditions = self.conditions
        try await collectInFlight()
        // The last data record and the commit record go out in one trip to the pool. The
        // version id is decided with the commit (the bucket's versioning state at that point).
        let (_, built) = try await store.commit(prepare: {
            try self.flushNow()
            let digest = try self.finalDigest(contentMD5: contentMD5)
            var info = ObjectInfo(bucket: bucket, key: key, size: self.size, lastModified: ObjectStore.now(),
                                  etag: self.etag(digest), metadata: self.metadata,
                                  checksums: checksums, acl: self.acl, extents: self.extents)
            info.tags = self.tags
            info.encryption = self.encryption
            info.lock = self.lock
            self.committed = info
        }, build: { view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
            try conditions.check(try view.object(bucket: bucket, key: key), key: key)
            return try ObjectStore.buildPut(self.committed!, view: view)
        })
        versioning = built.versioning
        return built.object!
    }

    /// The bucket's versioning state the commit was decided under (set by ``finish``):
    /// S3 answers `x-amz-version-id: null` in a suspended bucket, nothing in an unversioned one.
    public private(set) var versioning: BucketVersioning = .unversioned

    /// The object as its commit record describes it (set on the way to the commit).
    private var committed: ObjectInfo?

    /// The object's MD5, computed once; BadDigest if it is not `contentMD5`.
    private func finalDigest(contentMD5: [UInt8]?) throws -> [UInt8] {
        if digest == nil { digest = Array(md5.finalize()) }
        precondition(hashesMD5 || contentMD5 == nil, "a Content-MD5 to check, but the writer was told none would come")
        if let contentMD5, contentMD5 != digest! {
            throw StoreError(.badDigest, "The Content-MD5 you specified did not match what we received")
        }
        return digest!
    }
    private var digest: [UInt8]?

    /// The ETag: the plaintext's MD5 (hex), except for SSE-C and SSE-KMS, whose ETag is
    /// no MD5 of the data on S3 either; theirs is derived from the stream key, which is
    /// random per write.
    func etag(_ digest: [UInt8]) -> String {
        guard let sealing, !sealing.etagIsMD5, let streamKey else { return digest.map { String(format2: $0) }.joined() }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("strata etag".utf8), using: streamKey.symmetric)
        return mac.prefix(16).map { String(format2: $0) }.joined()
    }

    /// How the written object is encrypted (nil: not), with its stream's salt.
    var encryption: ObjectEncryption? {
        guard var encryption = sealing?.encryption, let salt else { return nil }
        encryption.salts = [salt]
        return encryption
    }

    /// Writes the last data record and checks the MD5; returns the MD5. After this, the
    /// data is on disk (not yet durable) and `extents` / `bytesWritten` are final; the
    /// caller writes the commit record.
    func finishData(contentMD5: [UInt8]?) async throws -> [UInt8] {
        precondition(!finished, "finish twice")
        finished = true
        try await flush(final: true)
        try await collectInFlight()
        return try finalDigest(contentMD5: contentMD5)
    }

    /// The extents written so far (final after `finishData`).
    var writtenExtents: [Extent] { extents }

    /// Gives up on the object: nothing becomes visible.
    public func abort() {
        finished = true
        buffer = []
        inFlight = []  // their records are dead data, like the others
        release()
    }

    /// The commit is in the index (or will never be): compaction may take the segments.
    func release() {
        if let segment = registered { store.writers.leave(segment) }
        registered = nil
    }

    deinit { release() }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef".utf8)
        self = String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
    }
}
