import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Compaction's edge cases found in review: an upload in flight whose first data records
/// are in a compacted segment, configurations and closed uploads across a rebuild after
/// compaction reordered their records, and a DeleteBucket that fails.
final class CompactionEdgeTests: DirectoryTestCase {
    private var options: ObjectStore.Options {
        var options = smallOptions(maxSegmentSize: 8192)
        options.minPartSize = 1500
        return options
    }

    /// Writes small objects to bucket `fill` until the log rolled over to a new segment
    /// (and the checkpoint, written with every commit, followed it).
    private func rollOver(_ store: ObjectStore, _ n: inout Int) async throws {
        let start = store.log.activeSegmentID
        while store.log.activeSegmentID == start {
            try await store.putObject(bucket: "fill", key: "f\(n)", data: pattern(9000 + n, 1000))
            n += 1
        }
    }

    private func assertRebuildEqualsLive(file: StaticString = #filePath, line: UInt = #line) throws {
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        for table in live.keys.sorted() where table != "meta" {
            XCTAssertEqual(live[table], rebuilt[table], "table \(table): a rebuild must equal the live index", file: file, line: line)
        }
    }

    /// A PUT whose first data records went into a segment that was
    /// sealed while the body was still arriving. Nothing in the index points at those
    /// records yet, so the segment looks dead; compaction deletes it; the PUT then commits
    /// and is acknowledged with extents in a deleted file.
    func testInFlightPutWhoseDataIsInACompactedSegmentIsNotLost() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        try await store.createBucket("fill")
        let data = pattern(1, 12_000)
        let writer = try await store.makeWriter(bucket: "bkt", key: "slow")
        try await writer.write(ByteBuffer(bytes: Array(data[0..<5000])))
        let firstSegment = try XCTUnwrap(writer.writtenExtents.first?.segment)
        // Other clients' traffic meanwhile: the segment is sealed, the checkpoint moves on.
        var n = 0
        try await rollOver(store, &n)
        try await rollOver(store, &n)
        let report = try await store.compact(.init(threshold: 0.5))
        // Without a fix, report.removed contains firstSegment here.
        _ = report
        try await writer.write(ByteBuffer(bytes: Array(data[5000...])))
        let info = try await writer.finish()  // acknowledged (200 OK to the client)
        XCTAssertTrue(info.extents.contains { $0.segment == firstSegment })
        // The acknowledged object must read back.
        await assertEqual(try await store.get("bkt", "slow"), data, "acknowledged PUT")
        try store.close()
        let problems = try Verifier(directory: dir, deep: true).run().problems
        XCTAssertEqual(problems, [], "verify after an acknowledged PUT")
    }

    /// A bucket's configuration is lost by a rebuild when only the
    /// bucket's createBucket record was moved: the rebuild meets the configuration
    /// (in an older, surviving segment) before the bucket's copy and ignores it.
    func testConfigSurvivesRebuildWhenOnlyTheBucketRecordMoved() async throws {
        var store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("fill")
        try await store.createBucket("bkt")
        let bucketSegment = try XCTUnwrap(store.log.activeSegmentID)
        var n = 0
        try await rollOver(store, &n)
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: Array("rules".utf8))
        try await rollOver(store, &n)
        _ = try await store.compact(.init(segments: [bucketSegment]))
        try store.close()
        try assertRebuildEqualsLive()

        // What an operator sees after `strata recover --rebuild-index`.
        try FileManager.default.removeItem(atPath: dir + "/index")
        try FileManager.default.createDirectory(atPath: dir + "/index", withIntermediateDirectories: true)
        _ = try Recovery.rebuild(log: try SegmentLog(directory: dir + "/segments"), index: try ObjectIndex(path: dir + "/index"),
                                 repair: false)
        store = try ObjectStore(directory: dir, options: options)
        let config = try await store.bucketConfig(bucket: "bkt", name: .lifecycle)
        XCTAssertEqual(config, Array("rules".utf8), "the configuration survives a rebuild")
        try store.close()
    }

    /// A configuration committed while compaction copies its bucket lands in the log
    /// before the bucket's copy (it was still pending, or committed after compaction read
    /// the index), and the configuration copies compaction takes along were read before
    /// it. Once the victim with the bucket's original record is gone, a rebuild meets the
    /// new configuration while the bucket does not exist yet and ignores it, and the older
    /// document's copy wins: after `strata recover --rebuild-index` (or a machine crash)
    /// the bucket is Enabled again although Suspended was acknowledged.
    func testConfigCommittedWhileItsBucketIsCopiedSurvivesARebuild() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("fill")
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        let bucketSegment = try XCTUnwrap(store.log.activeSegmentID)
        var n = 0
        try await rollOver(store, &n)
        try await rollOver(store, &n)
        // Written and queued, not yet applied: compaction reads the index without it.
        let config = BucketConfigCommit(bucket: "bkt", name: .versioning, document: Array("Suspended".utf8))
        _ = try store.journal.append(.bucketConfig(config)) { _ in }
        let report = try await store.compact(.init(segments: [bucketSegment]))
        XCTAssertEqual(report.removed, [bucketSegment])
        await assertEqual(try await store.versioning(bucket: "bkt"), .suspended)
        try store.close()
        try assertRebuildEqualsLive()
    }

    /// A deleted bucket's configuration comes back after a rebuild, on the
    /// re-created bucket, once the deleteBucket record (dead after the re-create) was
    /// compacted away.
    func testDeletedBucketsConfigDoesNotComeBackAfterRebuild() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("fill")
        try await store.createBucket("bkt")
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: Array("old rules".utf8))
        var n = 0
        try await rollOver(store, &n)
        let deleteSegment = try XCTUnwrap(store.log.activeSegmentID)
        try await store.deleteBucket("bkt")
        try await rollOver(store, &n)
        try await store.createBucket("bkt")
        try await rollOver(store, &n)
        let report = try await store.compact(.init(segments: [deleteSegment]))
        XCTAssertEqual(report.removed, [deleteSegment])
        let live = try await store.bucketConfig(bucket: "bkt", name: .lifecycle)
        XCTAssertNil(live)
        try store.close()
        try assertRebuildEqualsLive()
    }

    /// DeleteBucket aborts the bucket's uploads with their own records
    /// (seq a), then writes deleteBucket (seq a+1). Compaction copies the bucket's
    /// tombstone before the upload's (key order), so a rebuild applies the deleteBucket
    /// copy first, which closes the still-open upload with its own sequence; the abort
    /// copy (older sequence) is then ignored: tombstones and live bytes differ.
    func testDeleteBucketWithAnUploadThenCompactionRebuildsEqual() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("fill")
        try await store.createBucket("gone")
        _ = try await store.createUpload(bucket: "gone", key: "u", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        var n = 0
        try await rollOver(store, &n)
        let deleteSegment = try XCTUnwrap(store.log.activeSegmentID)
        try await store.deleteBucket("gone")
        try await rollOver(store, &n)
        let report = try await store.compact(.init(segments: [deleteSegment]))
        XCTAssertEqual(report.removed, [deleteSegment])
        try store.close()
        try assertRebuildEqualsLive()
    }
    /// DeleteBucket on a bucket that still has objects aborts every multipart
    /// upload in progress in it (parts already acknowledged are dropped) and then fails
    /// with BucketNotEmpty anyway.
    func testDeleteBucketThatIsNotEmptyLeavesItsUploadsAlone() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        try await store.putObject(bucket: "bkt", key: "obj", data: pattern(1, 100))
        let upload = try await store.createUpload(bucket: "bkt", key: "big", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let writer = try await store.makePartWriter(bucket: "bkt", key: "big", uploadId: upload.uploadId, partNumber: 1)
        try await writer.write(ByteBuffer(bytes: pattern(2, 2000)))
        _ = try await writer.finish()
        await assertStoreError(.bucketNotEmpty) { try await store.deleteBucket("bkt") }
        let uploads = try await store.allUploads()
        XCTAssertEqual(uploads.map(\.uploadId), [upload.uploadId], "a failed DeleteBucket has no side effects")
        try store.close()
    }
}

/// An index written by an older version (no `layout` in `meta`, live counters by older
/// rules) is rebuilt from the segments when the store opens.
final class IndexLayoutTests: XCTestCase {
    func testAnIndexOfAnOlderLayoutIsRebuiltAtOpen() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        for k in 0..<12 { try await store.putObject(bucket: "bkt", key: "k\(k % 4)", data: pattern(k, 1500)) }
        try store.close()
        do {
            let index = try ObjectIndex(path: dir + "/index")
            try index.environment.write { txn in
                try txn.delete(index.meta, IndexLayout.key)
                try txn.put(index.segments, IndexKey.segment(1), SegmentStats().encoded())  // drifted counters
            }
        }
        XCTAssertFalse(try Verifier(directory: dir).run().problems.isEmpty, "the drift is visible before")
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        for k in 8..<12 { await assertEqual(try await store.get("bkt", "k\(k % 4)"), pattern(k, 1500)) }
        try store.close()
        XCTAssertEqual(try Verifier(directory: dir).run().problems, [])
        let index = try ObjectIndex(path: dir + "/index")
        XCTAssertEqual(try index.environment.read { try IndexLayout.read($0, index) }, .current)
    }
}
