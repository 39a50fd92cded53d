import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Named snapshots (FORMAT.md, "Snapshots"): save, restore, delete; what they hold
/// survives reopening, a rebuild from the segments and compaction, and `strata verify`
/// finds the index and the rebuild equal.
final class SnapshotTests: StoreTestCase {
    /// Changes to everything `fill` made.
    private func change() async throws {
        for i in 1..<10 { try await store.putObject(bucket: "plain", key: "k\(i)", data: pattern(500 + i, 2500)) }
        for i in 10..<20 { _ = try await store.deleteObject(bucket: "plain", key: "k\(i)") }
        try await store.putObject(bucket: "plain", key: "new", data: Array("new".utf8))
        try await store.putObject(bucket: "versioned", key: "v", data: pattern(600, 1000))
        try await store.putBucketConfig(bucket: "plain", name: .lifecycle, document: [])
        try await store.createBucket("later")
    }

    /// What a client can see of the store, to compare states.
    private func state() async throws -> [String] {
        var out: [String] = []
        for bucket in try await store.listBuckets() {
            out.append("bucket \(bucket.name)")
            let page = try await store.listObjects(bucket: bucket.name, ListRequest())
            for object in page.objects {
                let bytes = try await store.get(bucket.name, object.key)
                out.append("\(bucket.name)/\(object.key) \(object.etag) \(bytes.count) \(bytes.reduce(0) { $0 &+ Int($1) })")
            }
            for version in try await store.listVersions(bucket: bucket.name).entries.map(\.info) {
                out.append("version \(bucket.name)/\(version.key) \(version.versionID) marker=\(version.isDeleteMarker)")
            }
            if let lifecycle = try await store.bucketConfig(bucket: bucket.name, name: .lifecycle) {
                out.append("lifecycle \(bucket.name) \(lifecycle.count)")
            }
            let uploads = try await store.listUploads(bucket: bucket.name, prefix: "", delimiter: nil, keyMarker: nil,
                                                      uploadIdMarker: nil, maxUploads: 1000)
            for upload in uploads.uploads {
                out.append("upload \(bucket.name)/\(upload.key) \(upload.uploadId)")
            }
        }
        return out
    }

    private func assertRebuildEqual(file: StaticString = #filePath, line: UInt = #line) throws {
        try store.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt, "a rebuild from the segments gives the same index", file: file, line: line)
        let report = try Verifier(directory: dir).run()
        XCTAssertEqual(report.problems.filter { $0.severity == .error }, [], file: file, line: line)
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 << 10))
    }

    override func setUp() async throws {
        try await super.setUp()
        try store.close()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 << 10))
    }

    func testRestoreReturnsExactlyTheSavedStateAcrossReopenAndRebuild() async throws {
        let (uploadId, partETag) = try await store.fillWithABitOfEverything()
        let saved = try await state()
        let info = try await store.saveSnapshot("base")
        XCTAssertEqual(info.name, "base")
        XCTAssertEqual(info.buckets, 2)
        XCTAssertEqual(info.objects, 19 + 4, "19 current objects, 3 versions and a delete marker")
        XCTAssertGreaterThan(info.bytes, 19 * 3000)
        try await change()
        let changed = try await state()
        XCTAssertNotEqual(changed, saved)
        try await store.restoreSnapshot("base")
        await assertEqual(try await state(), saved)
        // The open upload is open again and completes.
        let completed = try await store.completeUpload(bucket: "plain", key: "big", uploadId: uploadId,
                                                       parts: [CompletedPart(partNumber: 1, etag: partETag)], conditions: .init()) { _ in [:] }
        XCTAssertEqual(completed.size, 5000)
        await assertEqual(try await store.get("plain", "big"), pattern(7, 5000))
        // A write after the restore is as durable as any.
        try await store.putObject(bucket: "plain", key: "after", data: Array("after".utf8))
        let afterRestore = try await state()
        try assertRebuildEqual()
        await assertEqual(try await state(), afterRestore)
        await assertEqual(try await store.snapshots().map(\.name), ["base"])
        // Restoring again goes back to the snapshot, not to the state after the first restore.
        try await store.restoreSnapshot("base")
        await assertEqual(try await state(), saved)
        try assertRebuildEqual()
        await assertEqual(try await state(), saved)
    }

    func testSnapshotsAreIndependentAndDeleteFreesTheName() async throws {
        _ = try await store.fillWithABitOfEverything()
        let first = try await state()
        try await store.saveSnapshot("one")
        try await change()
        let second = try await state()
        try await store.saveSnapshot("two")
        try await store.restoreSnapshot("one")
        await assertEqual(try await state(), first)
        try await store.restoreSnapshot("two")
        await assertEqual(try await state(), second)
        try await store.deleteSnapshot("one")
        await assertStoreError(.noSuchSnapshot, { try await store.restoreSnapshot("one") })
        await assertStoreError(.noSuchSnapshot, { try await store.deleteSnapshot("one") })
        await assertEqual(try await store.snapshots().map(\.name), ["two"])
        try assertRebuildEqual()
        await assertEqual(try await store.snapshots().map(\.name), ["two"], "a deleted snapshot stays deleted")
        // Saving under an existing name replaces it.
        try await store.putObject(bucket: "plain", key: "third", data: Array("3".utf8))
        let third = try await state()
        try await store.saveSnapshot("two")
        try await store.reset()
        try await store.restoreSnapshot("two")
        await assertEqual(try await state(), third, "a reset keeps snapshots")
        try assertRebuildEqual()
    }

    func testNamesAndTheNumberOfSnapshotsAreChecked() async throws {
        await assertStoreError(.invalidArgument, { try await store.saveSnapshot("") })
        await assertStoreError(.invalidArgument, { try await store.saveSnapshot("a/b") })
        await assertStoreError(.invalidArgument, { try await store.saveSnapshot(String(repeating: "x", count: 65)) })
        for i in 0..<ObjectIndex.snapshotSlots { try await store.saveSnapshot("s\(i)") }
        await assertStoreError(.tooManySnapshots, { try await store.saveSnapshot("one-more") })
        try await store.saveSnapshot("s3")  // replacing one needs no new slot
        try await store.deleteSnapshot("s0")
        try await store.saveSnapshot("one-more")
        await assertEqual(try await store.snapshots().count, ObjectIndex.snapshotSlots)
        try assertRebuildEqual()
    }

    /// Compaction keeps what a snapshot refers to (moving it like the live store's
    /// entries), never takes the segment of a snapshot's or restore's record, and says
    /// how much only snapshots keep; a rebuild after it gives the same index.
    func testCompactionKeepsWhatSnapshotsNeed() async throws {
        _ = try await store.fillWithABitOfEverything()
        let saved = try await state()
        try await store.saveSnapshot("base")
        // Overwrite and delete everything, many times: the snapshot's bytes are all that
        // keep the old segments.
        for round in 0..<3 {
            for i in 1..<20 { try await store.putObject(bucket: "plain", key: "k\(i)", data: pattern(1000 * round + i, 3000)) }
        }
        for i in 1..<20 { _ = try await store.deleteObject(bucket: "plain", key: "k\(i)") }
        let report = try await store.compact(CompactionOptions(threshold: 0))
        XCTAssertFalse(report.removed.isEmpty, "overwritten segments are reclaimed")
        XCTAssertEqual(report.kept, [], "the snapshot's entries moved to the copies, so every victim went")
        XCTAssertEqual(report.damaged, [])
        XCTAssertFalse(report.pinned.isEmpty, "the snapshot record's segment is kept")
        XCTAssertGreaterThan(report.snapshotBytes, 0)
        try assertRebuildEqual()
        try await store.restoreSnapshot("base")
        await assertEqual(try await state(), saved, "the snapshot's bytes survived compaction")
        let again = try await store.compact(CompactionOptions(threshold: 0))
        XCTAssertTrue(again.pinned.contains(try XCTUnwrap(again.pinned.first)))
        await assertEqual(try await state(), saved)
        try assertRebuildEqual()
        // Once the snapshot is deleted and the store reset, nothing is kept for it.
        try await store.deleteSnapshot("base")
        try await store.reset()
        try await store.createBucket("after")
        for i in 0..<10 { try await store.putObject(bucket: "after", key: "a\(i)", data: pattern(2000 + i, 3000)) }
        let last = try await store.compact(CompactionOptions(threshold: 0))
        XCTAssertEqual(last.pinned, [])
        XCTAssertEqual(last.snapshotBytes, 0)
        for i in 0..<10 { await assertEqual(try await store.get("after", "a\(i)"), pattern(2000 + i, 3000)) }
        try assertRebuildEqual()
    }

    /// A process crash whose index checkpoint is before the snapshot and the restore:
    /// replay applies both where they are in the log and ends where the store was.
    func testReplayFromACheckpointBeforeTheSnapshotAndRestore() async throws {
        _ = try await store.fillWithABitOfEverything()
        let saved = try await state()
        try store.close()
        try FileManager.default.copyItem(atPath: dir + "/index", toPath: dir + "/index-before")
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 << 10))
        try await store.saveSnapshot("base")
        try await change()
        try await store.restoreSnapshot("base")
        try await store.putObject(bucket: "plain", key: "after", data: Array("after".utf8))
        let end = try await state()
        try store.close()
        try FileManager.default.removeItem(atPath: dir + "/index")
        try FileManager.default.moveItem(atPath: dir + "/index-before", toPath: dir + "/index")
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 << 10))
        await assertEqual(try await state(), end)
        try await store.restoreSnapshot("base")
        await assertEqual(try await state(), saved)
        try assertRebuildEqual()
    }

    /// Compaction's copy of a record the restore undid (written between the snapshot and
    /// the restore), applied after the restore, changes nothing in the live store.
    func testCopiesOfUndoneRecordsAreVoidAfterARestore() async throws {
        try await store.createBucket("plain")
        try await store.saveSnapshot("empty-bucket")
        try await store.putObject(bucket: "plain", key: "k", data: Array("undone".utf8))
        let value = try store.index.environment.read { txn in
            try XCTUnwrap(try txn.get(store.index.objects, IndexKey.object(bucket: "plain", key: Array("k".utf8))))
        }
        try await store.saveSnapshot("with-k")
        try await store.restoreSnapshot("empty-bucket")
        let (sequence, _) = try IndexValue.header(value)
        _ = try store.journal.appendCopy(.putObject, sequence: sequence, payload: Array(value.dropFirst(IndexValue.prefixSize)))
        try await store.createBucket("other")  // a commit to wait for: the copy is applied with it
        await assertStoreError(.noSuchKey, { try await store.get("plain", "k") })
        try await store.restoreSnapshot("with-k")
        await assertEqual(try await store.get("plain", "k"), Array("undone".utf8), "the later snapshot keeps it")
    }

    func testCommitsDuringARestoreAreRefusedWithSlowDown() async throws {
        try await store.createBucket("plain")
        try await store.saveSnapshot("base")
        try store.journal.beginExclusive("restored")
        await assertStoreError(.slowDown, { try await store.putObject(bucket: "plain", key: "k", data: Array("x".utf8)) })
        await assertStoreError(.slowDown, { try await store.restoreSnapshot("base") })
        store.journal.endExclusive()
        try await store.restoreSnapshot("base")
        try await store.putObject(bucket: "plain", key: "k", data: Array("x".utf8))
    }
}
