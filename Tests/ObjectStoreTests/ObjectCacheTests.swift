import Foundation
import NIOCore
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// The small-object cache (``ObjectCache``): repeated reads come from memory, and no read
/// after an acknowledged change ever sees what the change replaced.
final class ObjectCacheTests: StoreTestCase {
    override var initialBuckets: [String] { ["bkt"] }

    /// A GET as the server makes it: small objects read whole into memory.
    private func serverGet(_ key: String) async throws -> ObjectReader {
        try await store.getObject(bucket: "bkt", key: key, prefetchUpTo: 256 << 10)
    }

    private func bytes(_ reader: ObjectReader) -> [UInt8] {
        Array(buffer: reader.prefetched!)
    }

    func testASecondReadComesFromMemory() async throws {
        try await store.putObject(bucket: "bkt", key: "k", data: pattern(1, 4096))
        let first = try await serverGet("k")
        XCTAssertFalse(first.pieces.isEmpty, "the first read goes to the segments")
        let second = try await serverGet("k")
        XCTAssertTrue(second.pieces.isEmpty, "the second read is served from memory")
        XCTAssertEqual(bytes(second), pattern(1, 4096))
        XCTAssertEqual(second.info.etag, first.info.etag)
        XCTAssertEqual(store.cache.usage.entries, 1)
        // Every way of reading a reader sees the cached bytes.
        XCTAssertEqual(try second.readAll(), pattern(1, 4096))
        var streamed: [UInt8] = []
        try await store.stream(second, chunkSize: 1000) { streamed.append(contentsOf: Array(buffer: $0)) }
        XCTAssertEqual(streamed, pattern(1, 4096))
        XCTAssertEqual(Array(buffer: second.narrowed(to: 10..<20).prefetched!), Array(pattern(1, 4096)[10..<20]))
    }

    func testAnOverwriteIsSeenByTheNextRead() async throws {
        for round in 0..<5 {
            try await store.putObject(bucket: "bkt", key: "k", data: pattern(round, 100 + round))
            _ = try await serverGet("k")
            let again = try await serverGet("k")
            XCTAssertEqual(bytes(again), pattern(round, 100 + round))
            let head = try await store.headObject(bucket: "bkt", key: "k")
            XCTAssertEqual(head.size, UInt64(100 + round))
        }
    }

    func testADeleteIsSeenByTheNextRead() async throws {
        try await store.putObject(bucket: "bkt", key: "k", data: [1, 2, 3])
        _ = try await serverGet("k")
        _ = try await store.headObject(bucket: "bkt", key: "k")
        try await store.deleteObject(bucket: "bkt", key: "k")
        await assertStoreError(.noSuchKey) { try await self.serverGet("k") }
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "k") }
    }

    func testAMetadataRecommitIsSeenByTheNextRead() async throws {
        try await store.putObject(bucket: "bkt", key: "k", data: [1, 2, 3])
        _ = try await serverGet("k")
        _ = try await store.headObject(bucket: "bkt", key: "k")
        try await store.recommitVersion(bucket: "bkt", key: "k") { $0.tags = ["colour": "blue"] }
        let head = try await store.headObject(bucket: "bkt", key: "k")
        XCTAssertEqual(head.tags, ["colour": "blue"])
        let get = try await serverGet("k")
        XCTAssertEqual(get.info.tags, ["colour": "blue"])
    }

    func testVersionedReadsAndDeleteMarkers() async throws {
        try await store.setVersioning(bucket: "bkt", .enabled)
        let v1 = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        _ = try await serverGet("k")
        let v2 = try await store.putObject(bucket: "bkt", key: "k", data: [2])
        let current = try await serverGet("k")
        XCTAssertEqual(bytes(current), [2])
        // A read by version id goes to the index, whatever is cached.
        let old = try await store.getObject(bucket: "bkt", key: "k", versionID: v1.versionID, prefetchUpTo: 1 << 20)
        XCTAssertEqual(bytes(old), [1])
        // Deleting the current version makes the previous one current again.
        try await store.deleteObject(bucket: "bkt", key: "k", versionID: v2.versionID)
        let previous = try await serverGet("k")
        XCTAssertEqual(bytes(previous), [1])
        // A delete marker hides it.
        try await store.deleteObject(bucket: "bkt", key: "k")
        await assertStoreError(.noSuchKey) { try await self.serverGet("k") }
    }

    /// The race the generation guards against: readers that read the index before a
    /// change must not leave what they read behind once the change is acknowledged.
    /// Readers keep filling the cache while one writer overwrites the key; every read
    /// made after a write returned must see that write.
    func testReadsRacingOverwritesNeverServeAnAcknowledgedOverwriteStale() async throws {
        try await store.putObject(bucket: "bkt", key: "k", data: Array("0".utf8))
        let store = self.store!
        let stop = ManagedAtomicFlag()
        let readers = (0..<3).map { _ in
            Task {
                while !stop.isSet {
                    _ = try? await store.getObject(bucket: "bkt", key: "k", prefetchUpTo: 1 << 20)
                    await Task.yield()  // a read from memory never suspends: leave the threads to the writer
                }
            }
        }
        defer {
            stop.set()
            for reader in readers { reader.cancel() }
        }
        for round in 1...150 {
            let body = Array("\(round)".utf8)
            try await store.putObject(bucket: "bkt", key: "k", data: body)
            let read = try await store.getObject(bucket: "bkt", key: "k", prefetchUpTo: 1 << 20)
            XCTAssertEqual(bytes(read), body, "round \(round)")
            let head = try await store.headObject(bucket: "bkt", key: "k")
            XCTAssertEqual(head.size, UInt64(body.count), "round \(round)")
            if bytes(read) != body { break }
        }
    }

    func testAnInsertOfAReadThatStartedBeforeAChangeIsRefused() throws {
        let cache = ObjectCache(capacity: 1 << 20)
        let name = ObjectCache.Name(bucket: "b", key: "k")
        let info = ObjectInfo(bucket: "b", key: "k", size: 1, lastModified: 0, etag: "e", extents: [])
        let before = cache.generation
        cache.invalidate([name])
        cache.insert(name, info: info, bytes: ByteBuffer(bytes: [1]), ifUnchangedSince: before)
        XCTAssertNil(cache.lookup(name))
        cache.insert(name, info: info, bytes: ByteBuffer(bytes: [1]), ifUnchangedSince: cache.generation)
        XCTAssertNotNil(cache.lookup(name))
        // A HEAD's entry does not replace one that has the bytes.
        cache.insert(name, info: info, bytes: nil, ifUnchangedSince: cache.generation)
        XCTAssertNotNil(cache.lookup(name)?.bytes)
        cache.removeAll()
        XCTAssertNil(cache.lookup(name))
    }

    func testTheCacheStaysWithinItsCapacity() throws {
        let cache = ObjectCache(capacity: 64 << 10)
        let info = ObjectInfo(bucket: "b", key: "k", size: 1000, lastModified: 0, etag: "e", extents: [])
        for n in 0..<500 {
            cache.insert(ObjectCache.Name(bucket: "b", key: "k\(n)"), info: info, bytes: ByteBuffer(bytes: pattern(n, 1000)),
                         ifUnchangedSince: cache.generation)
            XCTAssertLessThanOrEqual(cache.usage.bytes, 64 << 10)
        }
        // The newest entries stay, the oldest went first.
        XCTAssertNotNil(cache.lookup(ObjectCache.Name(bucket: "b", key: "k499")))
        XCTAssertNil(cache.lookup(ObjectCache.Name(bucket: "b", key: "k0")))
        // Objects over the per-object limit are not kept.
        cache.insert(ObjectCache.Name(bucket: "b", key: "big"), info: info, bytes: ByteBuffer(bytes: pattern(1, 8 << 10)),
                     ifUnchangedSince: cache.generation)
        XCTAssertNil(cache.lookup(ObjectCache.Name(bucket: "b", key: "big")))
    }

    func testASizeOfZeroTurnsTheCacheOff() async throws {
        try store.close()
        store = try ObjectStore(directory: dir, options: {
            var options = smallOptions()
            options.cacheBytes = 0
            return options
        }())
        try await store.putObject(bucket: "bkt", key: "k", data: [1, 2, 3])
        _ = try await serverGet("k")
        let again = try await serverGet("k")
        XCTAssertFalse(again.pieces.isEmpty)
        XCTAssertEqual(store.cache.usage.entries, 0)
    }
}

/// A flag set once, read from any thread.
private final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
