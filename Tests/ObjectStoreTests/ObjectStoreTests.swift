import Crypto
import Foundation
import StrataTestSupport
import XCTest
@testable import ObjectStore

final class ObjectStoreTests: StoreTestCase {
    func testBucketLifecycle() async throws {
        try await store.createBucket("alpha")
        try await store.createBucket("beta.with.dots")
        await assertStoreError(.bucketAlreadyOwnedByYou) { try await self.store.createBucket("alpha") }
        await assertEqual(try await store.listBuckets().map(\.name), ["alpha", "beta.with.dots"])
        try await store.putObject(bucket: "alpha", key: "k", data: [1])
        await assertStoreError(.bucketNotEmpty) { try await self.store.deleteBucket("alpha") }
        try await store.deleteObject(bucket: "alpha", key: "k")
        try await store.deleteBucket("alpha")
        await assertStoreError(.noSuchBucket) { try await self.store.deleteBucket("alpha") }
        await assertStoreError(.noSuchBucket) { try await self.store.bucket("alpha") }
        await assertEqual(try await store.listBuckets().map(\.name), ["beta.with.dots"])
    }

    /// The S3 front skips the writer's early bucket check when it has just seen the
    /// bucket; a bucket deleted meanwhile still fails the PUT at its commit.
    func testAWriterThatSkippedTheBucketCheckStillFailsAtCommitWithoutTheBucket() async throws {
        try await store.createBucket("gone")
        let writer = try await store.makeWriter(bucket: "gone", key: "k", bucketSeen: true)
        try await store.deleteBucket("gone")
        try await writer.write([1, 2, 3])
        await assertStoreError(.noSuchBucket) { try await writer.finish() }
        // Without the hint the writer fails at once.
        await assertStoreError(.noSuchBucket) { try await self.store.makeWriter(bucket: "gone", key: "k") }
        // And with it, a bucket that never existed fails at the commit too.
        let blind = try await store.makeWriter(bucket: "never", key: "k", bucketSeen: true)
        await assertStoreError(.noSuchBucket) { try await blind.finish() }
    }

    func testInvalidBucketNamesAreRefused() async throws {
        for name in ["ab", "UPPER", "-start", "end-", "a..b", "192.168.1.1", String(repeating: "a", count: 64), "under_score"] {
            await assertStoreError(.invalidBucketName) { try await self.store.createBucket(name) }
        }
        await assertEqual(try await store.listBuckets().count, 0)
    }

    func testPutGetHeadDeleteRoundTrip() async throws {
        try await store.createBucket("bkt")
        let data = pattern(1, 5500)
        let info = try await store.putObject(bucket: "bkt", key: "dir/file.bin", data: data, metadata: ["content-type": "application/x-test", "x-amz-meta-a": "1"])
        XCTAssertEqual(info.etag, Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(info.extents.count, 6, "1000-byte data records")
        await assertEqual(try await store.get("bkt", "dir/file.bin"), data)
        let head = try await store.headObject(bucket: "bkt", key: "dir/file.bin")
        XCTAssertEqual(head.size, 5500)
        XCTAssertEqual(head.metadata["content-type"], "application/x-test")
        XCTAssertEqual(head.metadata["x-amz-meta-a"], "1")
        try await store.deleteObject(bucket: "bkt", key: "dir/file.bin")
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "dir/file.bin") }
        // Deleting a missing key succeeds, as in S3.
        try await store.deleteObject(bucket: "bkt", key: "dir/file.bin")
        await assertStoreError(.noSuchBucket) { try await self.store.deleteObject(bucket: "nope", key: "x") }
        await assertStoreError(.noSuchBucket) { try await self.store.putObject(bucket: "nope", key: "x", data: []) }
    }

    func testEmptyObjectAndOddKeys() async throws {
        try await store.createBucket("bkt")
        for key in ["empty", "with space", "plus+sign", "100%", "ünïcødé/ключ", "a//b", "trailing/", String(repeating: "k", count: 1024)] {
            try await store.putObject(bucket: "bkt", key: key, data: [])
            await assertEqual(try await store.get("bkt", key), [], key)
            await assertEqual(try await store.headObject(bucket: "bkt", key: key).etag, "d41d8cd98f00b204e9800998ecf8427e")
        }
        await assertStoreError(.keyTooLong) { try await self.store.putObject(bucket: "bkt", key: String(repeating: "k", count: 1025), data: []) }
    }

    func testRangesAreCutAtTheEndAndRefusedPastIt() async throws {
        try await store.createBucket("bkt")
        let data = pattern(2, 3500)
        try await store.putObject(bucket: "bkt", key: "k", data: data)
        for range: Range<UInt64> in [0..<1, 999..<1001, 1500..<3500, 3499..<3500, 10..<10_000] {
            let got = try await store.getObject(bucket: "bkt", key: "k", range: range).readAll()
            XCTAssertEqual(got, Array(data[Int(range.lowerBound)..<min(Int(range.upperBound), 3500)]), "\(range)")
        }
        await assertStoreError(.invalidRange) { try await self.store.getObject(bucket: "bkt", key: "k", range: 3500..<3600) }
    }

    func testConditionalWritesAreCheckedAtCommit() async throws {
        try await store.createBucket("bkt")
        let first = try await store.putObject(bucket: "bkt", key: "k", data: [1], conditions: .init(ifNoneMatchAny: true))
        await assertStoreError(.preconditionFailed) {
            try await self.store.putObject(bucket: "bkt", key: "k", data: [2], conditions: .init(ifNoneMatchAny: true))
        }
        await assertStoreError(.preconditionFailed) {
            try await self.store.putObject(bucket: "bkt", key: "k", data: [2], conditions: .init(ifMatch: "\"0000\""))
        }
        try await store.putObject(bucket: "bkt", key: "k", data: [3], conditions: .init(ifMatch: "\"\(first.etag)\""))
        await assertEqual(try await store.get("bkt", "k"), [3])
        await assertStoreError(.noSuchKey) {
            try await self.store.putObject(bucket: "bkt", key: "missing", data: [2], conditions: .init(ifMatch: "abc"))
        }
    }

    /// Of many concurrent If-None-Match: * writers to one key, exactly one wins.
    func testIfNoneMatchIsAtomicUnderConcurrency() async throws {
        try await store.createBucket("bkt")
        let store = self.store!
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask {
                    do {
                        try await store.putObject(bucket: "bkt", key: "once", data: [UInt8(i)], conditions: .init(ifNoneMatchAny: true))
                        return true
                    } catch let e as StoreError where e.code == .preconditionFailed {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        XCTAssertEqual(wins, 1)
    }

    func testBadContentMD5CommitsNothing() async throws {
        try await store.createBucket("bkt")
        let w = try await store.makeWriter(bucket: "bkt", key: "k")
        try await w.write(pattern(3, 2500))
        await assertStoreError(.badDigest) { try await w.finish(contentMD5: [UInt8](repeating: 0, count: 16)) }
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "k") }
    }

    func testAnAbortedStreamLeavesNothingVisible() async throws {
        try await store.createBucket("bkt")
        let w = try await store.makeWriter(bucket: "bkt", key: "k")
        try await w.write(pattern(4, 4500))
        w.abort()
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "k") }
        try store.close()
        store = try ObjectStore(directory: dir, options: smallOptions())
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "k") }
        await assertEqual(try await store.listObjects(bucket: "bkt", ListRequest()).objects.count, 0)
    }

    /// A reader keeps the version it opened, whole, while the key is overwritten.
    func testAReaderKeepsTheVersionItOpened() async throws {
        try await store.createBucket("bkt")
        let old = pattern(5, 4000), new = pattern(6, 4000)
        try await store.putObject(bucket: "bkt", key: "k", data: old)
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        try await store.putObject(bucket: "bkt", key: "k", data: new)
        XCTAssertEqual(try reader.readAll(), old)
        await assertEqual(try await store.get("bkt", "k"), new)
    }

    func testLiveBytesFollowOverwritesAndDeletes() async throws {
        try await store.createBucket("bkt")
        try await store.putObject(bucket: "bkt", key: "k", data: pattern(7, 3000))
        let before = try segmentLiveBytes()
        try await store.putObject(bucket: "bkt", key: "k", data: pattern(8, 1000))
        let after = try segmentLiveBytes()
        XCTAssertEqual(before - after, 2000 + 2 * 24, "3000 old bytes dead, 1000 new live; the new commit record has 2 fewer extents (24 bytes each)")
        try await store.deleteObject(bucket: "bkt", key: "k")
        XCTAssertLessThan(try segmentLiveBytes(), after - 1000)
    }

    private func segmentLiveBytes() throws -> Int {
        try store.index.environment.read { txn in
            try txn.withCursor(store.index.segments) { c in
                var total = 0
                var e = try c.first()
                while let (_, v) = e {
                    total += Int(SegmentStats(v).liveBytes)
                    e = try c.next()
                }
                return total
            }
        }
    }
}
