import Foundation
import NIOCore
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// `ObjectStore.reset()`: one commit record empties the store. What it removes stays
/// removed across reopening, a rebuild from the segments and compaction (which moves the
/// reset record behind later ones); what is written after it stays.
final class ResetTests: StoreTestCase {
    private func assertEmpty(_ store: ObjectStore, file: StaticString = #filePath, line: UInt = #line) async throws {
        let buckets = try await store.listBuckets()
        XCTAssertEqual(buckets.map(\.name), [], file: file, line: line)
        await assertStoreError(.noSuchBucket, { try await store.get("plain", "k1") })
        await assertStoreError(.noSuchBucket, { try await store.listObjects(bucket: "versioned", ListRequest()) })
    }

    func testResetEmptiesTheStoreAndWritesAfterItStayAcrossReopenAndRebuild() async throws {
        _ = try await store.fillWithABitOfEverything()
        try await store.reset()
        try await assertEmpty(store)
        // Only the reset record itself is live (32-byte header, 16-byte payload).
        await assertEqual(try await store.logSpace().liveBytes, 48)
        // The names are free again, and nothing old shows through.
        try await store.createBucket("plain")
        try await store.putObject(bucket: "plain", key: "k1", data: Array("after".utf8))
        let page = try await store.listObjects(bucket: "plain", ListRequest())
        XCTAssertEqual(page.objects.map(\.key), ["k1"])
        await assertEqual(try await store.get("plain", "k1"), Array("after".utf8))
        await assertStoreError(.noSuchBucket, { try await store.get("versioned", "v") })
        try store.close()

        store = try ObjectStore(directory: dir, options: smallOptions())
        await assertEqual(try await store.listBuckets().map(\.name), ["plain"])
        await assertEqual(try await store.get("plain", "k1"), Array("after".utf8))
        await assertStoreError(.noSuchKey, { try await store.get("plain", "k2") })
        try store.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt, "a rebuild from the segments gives the same index")
        store = try ObjectStore(directory: dir, options: smallOptions())
    }

    /// Compaction copies the reset's tombstone like any other, and what the reset removed
    /// counts as dead: after compacting everything, the old segments are gone, later
    /// writes read back, and a rebuild (which now meets the reset record behind writes
    /// that came after it) gives the same index.
    func testCompactionReclaimsWhatTheResetRemovedAndKeepsTheReset() async throws {
        try store.close()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 << 10))
        _ = try await store.fillWithABitOfEverything()
        let before = try await store.segmentUsage()
        try await store.reset()
        try await store.createBucket("after")
        for i in 0..<12 { try await store.putObject(bucket: "after", key: "a\(i)", data: pattern(200 + i, 3000)) }
        let report = try await store.compact(CompactionOptions(threshold: 0))
        XCTAssertFalse(report.removed.isEmpty)
        let after = try await store.segmentUsage()
        XCTAssertLessThan(after.reduce(0) { $0 + $1.size }, before.reduce(0) { $0 + $1.size } / 2,
                          "what the reset removed is reclaimed")
        for i in 0..<12 { await assertEqual(try await store.get("after", "a\(i)"), pattern(200 + i, 3000)) }
        await assertStoreError(.noSuchBucket, { try await store.get("plain", "k1") })
        try store.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 << 10))
        await assertEqual(try await store.listBuckets().map(\.name), ["after"])
    }

    /// A record older than the reset that is applied after it (compaction's copy of an
    /// entry, made before the reset and written after it) changes nothing.
    func testRecordsOlderThanTheResetAppliedAfterItAreVoid() async throws {
        try await store.createBucket("plain")
        try await store.putObject(bucket: "plain", key: "k", data: Array("before".utf8))
        let (bucketValue, objectValue) = try store.index.environment.read { txn in
            (try txn.get(store.index.buckets, Array("plain".utf8))!,
             try txn.get(store.index.objects, IndexKey.object(bucket: "plain", key: Array("k".utf8)))!)
        }
        try await store.reset()
        // As compaction would: the same records again, with their old sequences.
        for (type, value) in [(RecordType.createBucket, bucketValue), (.putObject, objectValue)] {
            let (sequence, _) = try IndexValue.header(value)
            _ = try store.journal.appendCopy(type, sequence: sequence, payload: Array(value.dropFirst(IndexValue.prefixSize)))
        }
        try await store.createBucket("other")  // a commit to wait for: the copies are applied with it
        await assertEqual(try await store.listBuckets().map(\.name), ["other"])
        await assertStoreError(.noSuchBucket, { try await store.get("plain", "k") })
    }

    func testCommitsDuringAResetAreRefusedWithSlowDown() async throws {
        try await store.createBucket("plain")
        try store.journal.beginExclusive("reset")
        await assertStoreError(.slowDown, { try await store.putObject(bucket: "plain", key: "k", data: Array("x".utf8)) })
        XCTAssertThrowsError(try store.journal.beginExclusive("reset"), "one reset at a time")
        store.journal.endExclusive()
        try await store.putObject(bucket: "plain", key: "k", data: Array("x".utf8))
    }

    func testResetOfAnEmptyStoreAndTwoResetsInARow() async throws {
        try await store.reset()
        try await store.reset()
        try await assertEmpty(store)
        try await store.createBucket("plain")
        try await store.reset()
        try await assertEmpty(store)
        try store.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
        store = try ObjectStore(directory: dir, options: smallOptions())
    }

    /// A process crash whose index checkpoint is before the reset: replay applies the
    /// reset record and the writes after it, in log order, and ends where the store was.
    func testReplayFromACheckpointBeforeTheResetAppliesIt() async throws {
        _ = try await store.fillWithABitOfEverything()
        try store.close()
        try FileManager.default.copyItem(atPath: dir + "/index", toPath: dir + "/index-before-reset")
        store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.reset()
        try await store.createBucket("after")
        try await store.putObject(bucket: "after", key: "a", data: pattern(9, 4000))
        try store.close()
        // The index as a crash right before the reset's group commit would have left it.
        try FileManager.default.removeItem(atPath: dir + "/index")
        try FileManager.default.moveItem(atPath: dir + "/index-before-reset", toPath: dir + "/index")
        store = try ObjectStore(directory: dir, options: smallOptions())
        await assertEqual(try await store.listBuckets().map(\.name), ["after"])
        await assertEqual(try await store.get("after", "a"), pattern(9, 4000))
        try store.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
        store = try ObjectStore(directory: dir, options: smallOptions())
    }

    /// A rebuild can meet the reset behind records newer than it (compaction moved the
    /// reset, and its first copy's segment is gone): it removes only what is older, and
    /// the live counts are those of what stays.
    func testAResetMetAfterNewerRecordsRemovesOnlyOlderEntries() async throws {
        func record(_ commit: Commit, _ sequence: UInt64, at offset: UInt64) -> CommitRecord {
            let payload = commit.kind.encoded()
            return CommitRecord(commit: commit, sequence: sequence, ref: RecordRef(segment: 7, offset: offset, size: 32 + UInt64(payload.count)),
                                payload: payload)
        }
        let old = record(.createBucket(CreateBucketCommit(BucketInfo(name: "old", created: 0))), 3, at: 100)
        let new = record(.createBucket(CreateBucketCommit(BucketInfo(name: "new", created: 0))), 5, at: 200)
        let reset = record(.reset(ResetCommit(time: 0)), 4, at: 300)
        let index = store.index
        try index.environment.write { txn in
            let applier = IndexApplier(index: index, txn: txn)
            for r in [old, new, reset, old] { try applier.apply(r) }
        }
        try index.environment.read { txn in
            XCTAssertNil(try txn.get(index.buckets, Array("old".utf8)), "older than the reset")
            XCTAssertNotNil(try txn.get(index.buckets, Array("new".utf8)), "newer than the reset")
            let stats = try XCTUnwrap(try txn.get(index.segments, IndexKey.segment(7)).map(SegmentStats.init))
            XCTAssertEqual(stats.liveRecords, 2, "the newer bucket and the reset's tombstone")
            XCTAssertEqual(stats.liveBytes, new.ref.size + reset.ref.size)
        }
    }
}
