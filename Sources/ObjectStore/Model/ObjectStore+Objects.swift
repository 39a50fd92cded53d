import NIOCore
import ObjectIndex
import SegmentLog

extension ObjectStore {
    /// Starts a streamed PUT. Fails fast if the bucket does not exist (checked again,
    /// atomically, at commit), unless the caller has just seen it (`bucketSeen`: the S3
    /// front read the bucket's settings to authorize the request). Skipping the look-up
    /// saves a small PUT a trip to the thread pool; should the bucket vanish meanwhile,
    /// the commit still fails with NoSuchBucket and the data written is dead space.
    public func makeWriter(bucket: String, key: String, metadata: [String: String] = [:], acl: [UInt8] = [],
                           tags: [String: String] = [:], conditions: WriteConditions = .init(),
                           bucketSeen: Bool = false, sealing: Sealing? = nil, lock: ObjectLock? = nil) async throws -> ObjectWriter {
        try Validation.checkKey(key)
        if !bucketSeen { _ = try await self.bucket(bucket) }
        return ObjectWriter(store: self, bucket: bucket, key: key, metadata: metadata, acl: acl, tags: tags,
                            conditions: conditions, sealing: sealing, lock: lock)
    }

    /// Stores a whole object from memory.
    @discardableResult
    public func putObject(bucket: String, key: String, data: [UInt8], metadata: [String: String] = [:],
                          tags: [String: String] = [:], conditions: WriteConditions = .init()) async throws -> ObjectInfo {
        let writer = try await makeWriter(bucket: bucket, key: key, metadata: metadata, tags: tags, conditions: conditions)
        try await writer.write(data)
        return try await writer.finish()
    }

    /// A version's information (HeadObject): the current one, or the one `versionID`
    /// names (empty: the `null` version).
    public func headObject(bucket: String, key: String, versionID: String? = nil) async throws -> ObjectInfo {
        // The current version of a recently read object comes from memory.
        let name = ObjectCache.Name(bucket: bucket, key: key)
        if versionID == nil, let cached = cache.lookup(name) { return cached.info }
        let index = self.index, cache = self.cache
        return try await io {
            let generation = cache.generation  // before the read (ObjectCache: coherence)
            let info = try index.environment.read { try Self.lookup(index, $0, bucket: bucket, key: key, versionID: versionID) }
            if versionID == nil { cache.insert(name, info: info, bytes: nil, ifUnchangedSince: generation) }
            return info
        }
    }

    /// The current version (`versionID` nil) or the one named. NoSuchKey when the key has
    /// no current object (with the marker's details when a delete marker is current);
    /// NoSuchVersion for an id that names nothing; MethodNotAllowed for a delete marker's id.
    static func lookup(_ index: ObjectIndex, _ txn: Transaction, bucket: String, key: String,
                       versionID: String? = nil) throws -> ObjectInfo {
        if versionID == nil, let value = try txn.get(index.objects, IndexKey.object(bucket: bucket, key: Array(key.utf8))) {
            let info = try IndexValue.object(value)
            // A long-form key names its object by a hash; make sure it is this one.
            guard info.bucket == bucket, info.key == key else { throw StoreError(.internalError, "index key collision for \(key)") }
            return info
        }
        guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
        let list = try versionList(index, txn, bucket: bucket, key: key)
        func marker(_ m: ObjectInfo) -> StoreError.DeleteMarker {
            .init(versionID: m.versionID.isEmpty ? "null" : m.versionID, lastModified: m.lastModified)
        }
        guard let versionID else {
            var error = StoreError.noSuchKey(key)
            if let current = list.first, current.isDeleteMarker { error.deleteMarker = marker(current) }
            throw error
        }
        guard let version = list.first(where: { $0.versionID == versionID }) else {
            throw StoreError(.noSuchVersion, "The specified version does not exist.")
        }
        if version.isDeleteMarker {
            var error = StoreError(.methodNotAllowed, "The specified method is not allowed against this resource.")
            error.deleteMarker = marker(version)
            throw error
        }
        return version
    }

    /// Opens the current version for reading, optionally a byte range of it. A range
    /// that starts at or past the end gives InvalidRange; one that runs past the end is cut.
    /// When the bytes to serve are at most `prefetchUpTo`, they are read (and checked)
    /// right away, in the same trip to the thread pool: ``ObjectReader/prefetched``.
    public func getObject(bucket: String, key: String, versionID: String? = nil, range: Range<UInt64>? = nil,
                          prefetchUpTo: UInt64 = 0) async throws -> ObjectReader {
        // A whole small current version read recently comes from memory: no trip to the
        // thread pool, no index read, no file read.
        let name = ObjectCache.Name(bucket: bucket, key: key)
        let cacheable = versionID == nil && range == nil
        if cacheable, let cached = cache.lookup(name), let bytes = cached.bytes, UInt64(bytes.readableBytes) <= prefetchUpTo {
            return ObjectReader(info: cached.info, bytes: bytes)
        }
        let index = self.index, log = self.log, cache = self.cache
        return try await io {
            // The index entry and the open files are taken together: compaction removes a
            // segment only after switching the entries that pointed into it, so a missing
            // file means the entry changed meanwhile; look again.
            for _ in 0..<3 {
                let generation = cache.generation  // before the read (ObjectCache: coherence)
                let info = try index.environment.read { try Self.lookup(index, $0, bucket: bucket, key: key, versionID: versionID) }
                var r = range ?? 0..<info.size
                if range != nil {
                    guard r.lowerBound < info.size else {
                        throw StoreError(.invalidRange, "The requested range is not satisfiable")
                    }
                    r = r.lowerBound..<min(r.upperBound, info.size)
                }
                var files: [UInt64: SegmentFile] = [:]
                for id in Set(info.extents.map(\.segment)) { files[id] = log.file(id) }
                if files.values.count == Set(info.extents.map(\.segment)).count {
                    var reader = try ObjectReader(info: info, range: r, files: files)
                    if UInt64(r.count) <= prefetchUpTo { try reader.prefetch() }
                    if cacheable, let bytes = reader.prefetched {
                        cache.insert(name, info: info, bytes: bytes, ifUnchangedSince: generation)
                    }
                    return reader
                }
            }
            throw StoreError(.internalError, "the object kept moving while it was opened; try again")
        }
    }

    /// Streams a reader's bytes in order, in chunks of at most `chunkSize` read on the
    /// store's thread pool, so the caller's thread (an event loop) never blocks on disk.
    /// The next chunk is read only after `body` returned: a slow consumer slows the reads.
    ///
    /// No byte reaches `body` before the data record it comes from matched its checksum
    /// (a mismatch throws `.corrupt`). A piece that is a whole record of at most
    /// `chunkSize` bytes (the usual case: records are 1 MiB) is checked in the buffer it
    /// was read into. Any other piece (a range, a bigger record) is verified first and
    /// then read again; that is safe because segment bytes never change once written
    /// (docs/DESIGN.md, "Append-only segments"), so the bytes read are the bytes checked.
    ///
    /// An encrypted object's reader (``ObjectReader/opened(with:)``) hands on plaintext:
    /// its sealed chunks are read as above, then opened, each one whole before any of its
    /// bytes is handed on.
    public func stream(_ reader: ObjectReader, chunkSize: Int = 1 << 20,
                       _ body: (ByteBuffer) async throws -> Void) async throws {
        guard let opening = try reader.plaintext() else {
            return try await streamStored(reader, chunkSize: chunkSize, body)
        }
        // Each stored piece is read and opened on the pool, into batches of plaintext,
        // while the batches of the piece before are sent: the connection's thread only
        // sends. Perf of a 1 GiB SSE-S3 GET: a fresh 1 MiB buffer per record (and per
        // batch) is memory glibc maps and unmaps each time in `strata serve`, and its page
        // faults held the GET to a quarter of a plain one; opening on the connection's
        // thread, beside the socket writes, held it to 48%.
        //
        // No record checksum is read here: each sealed chunk's GCM tag, checked by
        // ``SealedReading`` before any of its bytes is handed on, already proves the bytes
        // are the ones sealed for this stream at this chunk index (a changed byte, a chunk
        // from elsewhere or a stream cut short does not open). `strata verify --deep`
        // checks the records' CRCs without keys.
        let size = chunkSize + (chunkSize / SealedStream.chunkSize + 1) * SealedStream.tagSize
        let state = SealedStreaming(opening: opening, batch: min(chunkSize, 2 * SealedStream.chunkSize),
                                    capacity: reader.range.count, readSize: size)
        var reads: [(piece: ObjectReader.Piece, at: UInt64, count: Int)] = []
        for piece in reader.pieces {
            var done: UInt64 = 0
            while done < piece.length {
                let n = Int(min(UInt64(size), piece.length - done))
                reads.append((piece, done, n))
                done += UInt64(n)
            }
        }
        // One read (and its opening) at a time, each started when the one before ended.
        func start(_ number: Int) -> Task<[ByteBuffer], Error>? {
            guard number < reads.count else { return nil }
            let (piece, at, count) = reads[number]
            return Task { try await self.io { try state.readAndOpen(piece, at: at, count: count) } }
        }
        var next = start(0)
        defer { next?.cancel() }
        for number in reads.indices {
            let ready = try await next!.value
            next = start(number + 1)
            for buffer in ready { try await body(buffer) }
        }
        if let last = try state.finish() { try await body(last) }
    }

    /// Streams a reader's stored bytes (for an encrypted object: sealed), checked.
    private func streamStored(_ reader: ObjectReader, chunkSize: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        if let bytes = reader.prefetched {
            // Read and checked when the reader was made (or served from the cache).
            var offset = bytes.readerIndex
            while offset < bytes.writerIndex {
                let n = min(chunkSize, bytes.writerIndex - offset)
                try await body(bytes.getSlice(at: offset, length: n)!)
                offset += n
            }
            return
        }
        for piece in reader.pieces {
            if piece.isWholeExtent && piece.length <= UInt64(chunkSize) {
                try await body(try await io { try piece.readVerified() })
                continue
            }
            try await verify(piece)
            var done: UInt64 = 0
            while done < piece.length {
                let n = Int(min(UInt64(chunkSize), piece.length - done))
                let file = piece.file, offset = piece.offset + done
                let chunk = try await io {
                    var buffer = ByteBufferAllocator().buffer(capacity: n)
                    let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { space in
                        try file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: space.prefix(n)))
                    }
                    guard got == n else {
                        throw StoreError(.corrupt, "segment file \(SegmentLog.fileName(file.id)) is shorter than the index says")
                    }
                    return buffer
                }
                try await body(chunk)
                done += UInt64(n)
            }
        }
    }

    /// Checks a piece's data record against its checksum, on the store's thread pool
    /// (see ``ObjectReader/Piece/verify(chunkSize:)``): for a caller that sends the
    /// bytes some other way, such as sendfile.
    ///
    /// A record that passed once is not read again for its check (``VerifiedRecords``):
    /// checking re-read every byte of a large GET before sendfile sent it, which halved
    /// the rate of a 1 GiB GET.
    public func verify(_ piece: ObjectReader.Piece) async throws {
        let extent = piece.extent
        if verified.contains(extent) { return }
        try await io { try piece.verify() }
        verified.insert(extent)
    }
}

/// A buffer allocated once and reused across trips to the thread pool, used by one task
/// at a time (hence `@unchecked Sendable`); freed with its last reference.
final class ScratchBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 16)
    }

    deinit { bytes.deallocate() }
}

/// The opening of one sealed GET, carried from one trip to the pool to the next (never
/// two at once: each read starts when the one before ended, hence `@unchecked Sendable`).
final class SealedStreaming: @unchecked Sendable {
    private var opening: SealedReading
    private var out: ByteBuffer
    private let batch: Int
    private let scratch: ScratchBuffer

    init(opening: SealedReading, batch: Int, capacity: Int, readSize: Int) {
        self.opening = opening
        self.batch = batch
        self.out = ByteBufferAllocator().buffer(capacity: min(batch, capacity))
        self.scratch = ScratchBuffer(byteCount: readSize)
    }

    /// Reads `count` stored bytes at `at` of `piece` and opens what chunks they complete;
    /// returns the full batches of plaintext. Blocking.
    func readAndOpen(_ piece: ObjectReader.Piece, at: UInt64, count: Int) throws -> [ByteBuffer] {
        try piece.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: scratch.bytes.prefix(count)))
        var ready: [ByteBuffer] = []
        try opening.feed(UnsafeRawBufferPointer(rebasing: scratch.bytes.prefix(count))) { plain in
            var plain = plain
            while !plain.isEmpty {
                let n = min(plain.count, batch - out.readableBytes)
                out.writeBytes(UnsafeRawBufferPointer(rebasing: plain.prefix(n)))
                plain = UnsafeRawBufferPointer(rebasing: plain.dropFirst(n))
                if out.readableBytes == batch {
                    ready.append(out)
                    out = ByteBufferAllocator().buffer(capacity: batch)
                }
            }
        }
        return ready
    }

    /// After the last read: every chunk opened; the last partial batch, if any.
    func finish() throws -> ByteBuffer? {
        try opening.finish()
        return out.readableBytes > 0 ? out : nil
    }
}
