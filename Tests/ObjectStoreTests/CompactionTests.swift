import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Compaction (docs/DESIGN.md, "Compaction: copy, compare-and-swap, delete"): space comes
/// back, every live object, part, upload, configuration and tombstone survives, a rebuild
/// equals the live index, readers of moved bytes finish, a concurrent overwrite wins, and
/// a crash at any step recovers.
final class CompactionTests: DirectoryTestCase {
    private var options: ObjectStore.Options {
        var options = smallOptions(maxSegmentSize: 8192)
        options.minPartSize = 1500
        return options
    }

    /// What the populated store must still show after compaction.
    struct Expected {
        var objects: [String: [UInt8]] = [:]
        var deleted: [String] = []
        var openUpload = ""
        var openPart: [UInt8] = []
    }

    /// Overwrites, deletes, a completed, an aborted and an open multipart upload, a bucket
    /// configuration set then removed and one kept, a deleted bucket that had an upload:
    /// many small segments, most of them mostly dead.
    private func populate(_ store: ObjectStore) async throws -> Expected {
        var expected = Expected()
        try await store.createBucket("bkt")
        try await store.createBucket("gone")
        _ = try await store.createUpload(bucket: "gone", key: "u", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        try await store.deleteBucket("gone")
        for round in 0..<4 {
            for k in 0..<6 {
                let data = pattern(round * 10 + k, 900 + 300 * k)
                try await store.putObject(bucket: "bkt", key: "k\(k)", data: data)
                expected.objects["k\(k)"] = data
            }
        }
        for k in [1, 4] {
            try await store.deleteObject(bucket: "bkt", key: "k\(k)")
            expected.objects["k\(k)"] = nil
            expected.deleted.append("k\(k)")
        }
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: Array("old".utf8))
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: [])
        try await store.putBucketConfig(bucket: "bkt", name: .cors, document: Array("kept".utf8))

        let done = try await store.createUpload(bucket: "bkt", key: "multi", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        var parts: [PartInfo] = []
        var whole: [UInt8] = []
        for (n, data) in [pattern(100, 2000), pattern(101, 1700), pattern(102, 600)].enumerated() {
            let writer = try await store.makePartWriter(bucket: "bkt", key: "multi", uploadId: done.uploadId, partNumber: n + 1)
            try await writer.write(ByteBuffer(bytes: data))
            parts.append(try await writer.finish())
            whole += data
        }
        _ = try await store.completeUpload(bucket: "bkt", key: "multi", uploadId: done.uploadId,
                                           parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: $0.etag) },
                                           conditions: .init()) { _ in [:] }
        expected.objects["multi"] = whole

        let aborted = try await store.createUpload(bucket: "bkt", key: "dropped", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let w = try await store.makePartWriter(bucket: "bkt", key: "dropped", uploadId: aborted.uploadId, partNumber: 1)
        try await w.write(ByteBuffer(bytes: pattern(200, 3000)))
        _ = try await w.finish()
        try await store.abortUpload(bucket: "bkt", key: "dropped", uploadId: aborted.uploadId)

        let open = try await store.createUpload(bucket: "bkt", key: "open", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        expected.openUpload = open.uploadId
        expected.openPart = pattern(300, 2500)
        let ow = try await store.makePartWriter(bucket: "bkt", key: "open", uploadId: open.uploadId, partNumber: 1)
        try await ow.write(ByteBuffer(bytes: expected.openPart))
        _ = try await ow.finish()
        // Enough after it that the segments above are sealed and the checkpoint moved on.
        for k in 0..<4 { try await store.putObject(bucket: "bkt", key: "tail\(k)", data: pattern(400 + k, 3000)) }
        for k in 0..<4 { expected.objects["tail\(k)"] = pattern(400 + k, 3000) }
        return expected
    }

    private func check(_ store: ObjectStore, _ expected: Expected, file: StaticString = #filePath, line: UInt = #line) async throws {
        for (key, data) in expected.objects {
            let got = try await store.get("bkt", key)
            XCTAssertEqual(got, data, "bkt/\(key)", file: file, line: line)
        }
        for key in expected.deleted {
            await assertStoreError(.noSuchKey, { try await store.get("bkt", key) }, file: file, line: line)
        }
        await assertStoreError(.noSuchBucket, { try await store.bucket("gone") }, file: file, line: line)
        let lifecycle = try await store.bucketConfig(bucket: "bkt", name: .lifecycle)
        XCTAssertNil(lifecycle, "a removed configuration stays removed", file: file, line: line)
        let cors = try await store.bucketConfig(bucket: "bkt", name: .cors)
        XCTAssertEqual(cors, Array("kept".utf8), file: file, line: line)
        let uploads = try await store.allUploads()
        XCTAssertEqual(uploads.map(\.uploadId), [expected.openUpload], "only the open upload is in progress", file: file, line: line)
        let parts = try await store.listParts(bucket: "bkt", key: "open", uploadId: expected.openUpload, after: 0, maxParts: 100)
        XCTAssertEqual(parts.parts.map(\.size), [UInt64(expected.openPart.count)], file: file, line: line)
    }

    private func segmentBytes() throws -> UInt64 {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: dir + "/segments/" + $1)[.size] as! UInt64)
        }
    }

    private func assertVerifiesAndRebuildsEqual(file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(report.problems, [], file: file, line: line)
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        for table in live.keys where table != "meta" {
            XCTAssertEqual(live[table], rebuilt[table], "table \(table): a rebuild must equal the live index", file: file, line: line)
        }
    }

    func testCompactionReclaimsDeadSpaceAndKeepsEverythingLive() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        let expected = try await populate(store)
        let before = try segmentBytes()
        let usage = try await store.segmentUsage()
        XCTAssertGreaterThan(usage.count, 4)

        let report = try await store.compact(.init(threshold: 0))
        XCTAssertEqual(report.victims, usage.map(\.id))
        XCTAssertEqual(report.removed, report.victims, "nothing points into a victim after the copy")
        XCTAssertEqual(report.kept, [])
        XCTAssertGreaterThan(report.entriesMoved, 0)
        for id in report.removed {
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/segments/" + SegmentLog.fileName(id)))
        }
        let after = try segmentBytes()
        XCTAssertLessThan(after, before)
        // The report counts victims' sizes minus the records copied; rolling over to new
        // segments adds a seal record and a file header each on top.
        XCTAssertEqual(Double(Int64(before) - Int64(after)), Double(report.bytesReclaimed), accuracy: 1024)
        try await check(store, expected)

        // The open upload still completes, from its moved part.
        let parts = try await store.listParts(bucket: "bkt", key: "open", uploadId: expected.openUpload, after: 0, maxParts: 10).parts
        _ = try await store.completeUpload(bucket: "bkt", key: "open", uploadId: expected.openUpload,
                                           parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: $0.etag) },
                                           conditions: .init()) { _ in [:] }
        await assertEqual(try await store.get("bkt", "open"), expected.openPart)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// A compaction that moves more entries than one index transaction takes
    /// (`Journal.recordsPerTransaction`) applies them in several, each with its own
    /// checkpoint; the index still equals a rebuild, and a reopened store has everything.
    func testACompactionMovingThousandsOfEntriesAppliesThemInBoundedTransactions() async throws {
        var options = smallOptions(maxSegmentSize: 256 << 10)
        options.dataRecordSize = 1 << 20
        var store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("many")
        let count = 3 * Journal.recordsPerTransaction
        for n in 0..<count { try await store.putObject(bucket: "many", key: String(format: "k%05d", n), data: pattern(n, 40)) }
        // Every other key overwritten: the first segments are half dead.
        for n in stride(from: 0, to: count, by: 2) {
            try await store.putObject(bucket: "many", key: String(format: "k%05d", n), data: pattern(n + count, 40))
        }
        let report = try await store.compact(.init(threshold: 0))
        XCTAssertGreaterThan(report.entriesMoved, Journal.recordsPerTransaction, "the test needs a large switch")
        func checkAll(_ store: ObjectStore) async throws {
            for n in 0..<count {
                let expected = n % 2 == 0 ? pattern(n + count, 40) : pattern(n, 40)
                let got = try await store.get("many", String(format: "k%05d", n))
                XCTAssertEqual(got, expected, "k\(n)")
                if got != expected { return }
            }
        }
        try await checkAll(store)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
        store = try ObjectStore(directory: dir, options: options)
        try await checkAll(store)
        try store.close()
    }

    /// The work is read in batches (memory stays bounded whatever the index holds); with
    /// batches of three, every table's boundary falls inside one somewhere, and the result
    /// is the same as with one batch.
    func testCompactionReadingItsWorkInSmallBatchesKeepsEverythingLive() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        let expected = try await populate(store)
        var small = CompactionOptions(threshold: 0)
        small.walkBatch = 3
        let usage = try await store.segmentUsage()
        let report = try await store.compact(small)
        XCTAssertEqual(report.removed, usage.map(\.id), "nothing points into a victim after the copy")
        XCTAssertGreaterThan(report.entriesMoved, 3 * small.walkBatch)
        try await check(store, expected)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// Each batch of the walk is a read transaction of its own; the next one starts after
    /// the last key read even when that key was deleted in between, so nothing is read
    /// twice or skipped.
    func testTheWalkResumesAfterAKeyDeletedBetweenBatches() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 4096))
        try await store.createBucket("bkt")
        for n in 0..<20 { try await store.putObject(bucket: "bkt", key: String(format: "k%02d", n), data: pattern(n, 300)) }
        let victims = Set(try await store.segmentUsage().map(\.id))
        XCTAssertGreaterThan(victims.count, 1)
        func names(_ batch: [ObjectStore.Movable]) -> [String] {
            batch.map { "\($0.table.rawValue):\(String(decoding: $0.key.filter { $0 >= 0x20 }, as: UTF8.self))" }
        }
        var whole = ObjectStore.WalkPosition()
        let all = names(try await store.entriesIn(victims, from: &whole, limit: 1000) ?? [])
        let end = try await store.entriesIn(victims, from: &whole, limit: 1000)
        XCTAssertNil(end, "one batch held everything")
        XCTAssertGreaterThan(all.count, 10)

        var position = ObjectStore.WalkPosition()
        var walked: [String] = []
        var deleted: [String] = []
        while let batch = try await store.entriesIn(victims, from: &position, limit: 4) {
            XCTAssertLessThanOrEqual(batch.count, 4)
            walked += names(batch)
            // The key the next batch resumes after disappears.
            if let last = batch.last, last.table == .objects, deleted.count < 2 {
                let key = String(decoding: last.key.dropFirst(1 + Int(last.key[0])), as: UTF8.self)  // (length, bucket, key)
                try await store.deleteObject(bucket: "bkt", key: key)
                deleted.append(key)
            }
        }
        XCTAssertEqual(deleted.count, 2, "the test needs deletions at batch boundaries")
        XCTAssertEqual(walked, all)
        try store.close()
    }

    func testCompactingAgainAfterMoreWritesStaysConsistent() async throws {
        var store = try ObjectStore(directory: dir, options: options)
        var expected = try await populate(store)
        _ = try await store.compact(.init(threshold: 0))
        for k in 0..<6 {
            try await store.putObject(bucket: "bkt", key: "k\(k)", data: pattern(500 + k, 1500))
            expected.objects["k\(k)"] = pattern(500 + k, 1500)
            expected.deleted.removeAll { $0 == "k\(k)" }
        }
        try await store.deleteObject(bucket: "bkt", key: "tail0")
        expected.objects["tail0"] = nil
        expected.deleted.append("tail0")
        for k in 0..<4 { try await store.putObject(bucket: "bkt", key: "pad\(k)", data: pattern(600 + k, 3000)) }
        for k in 0..<4 { expected.objects["pad\(k)"] = pattern(600 + k, 3000) }
        let second = try await store.compact(.init(threshold: 0.3))
        XCTAssertFalse(second.victims.isEmpty)
        try await check(store, expected)
        try store.close()
        try assertVerifiesAndRebuildsEqual()

        store = try ObjectStore(directory: dir, options: options)
        try await check(store, expected)
        try store.close()
    }

    func testThresholdAndNamedSegmentsChooseTheVictims() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        _ = try await populate(store)
        let usage = try await store.segmentUsage()
        let none = try await store.compact(.init(threshold: 1.01))
        XCTAssertEqual(none.victims, [])
        let dense = usage.filter { $0.deadRatio < 0.5 }.map(\.id)
        let half = try await store.compact(.init(threshold: 0.5))
        XCTAssertEqual(Set(half.victims), Set(usage.filter { $0.deadRatio >= 0.5 }.map(\.id)))
        if let one = dense.first {
            let named = try await store.compact(.init(threshold: 1, segments: [one]))
            XCTAssertEqual(named.victims, [one])
        }
        let active = try XCTUnwrap(store.log.activeSegmentID)
        await assertStoreError(.invalidArgument) { try await store.compact(.init(segments: [active])) }
        try store.close()
    }

    /// A GET that started before compaction reads the version it opened to the end, from
    /// the unlinked file (docs/DESIGN.md, "Readers never see a half-written object").
    func testReaderOfMovedBytesFinishesAfterTheSegmentIsDeleted() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        let expected = try await populate(store)
        let reader = try await store.getObject(bucket: "bkt", key: "multi")
        let report = try await store.compact(.init(threshold: 0))
        XCTAssertTrue(reader.info.extents.contains { report.removed.contains($0.segment) })
        XCTAssertEqual(try reader.readAll(), expected.objects["multi"])
        try store.close()
    }

    /// A concurrent overwrite has a higher sequence than compaction's copy and wins,
    /// whichever is applied first. Compaction is slowed down so the writes interleave.
    func testConcurrentOverwritesWin() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        var expected = try await populate(store)
        async let compaction = store.compact(.init(threshold: 0, bytesPerSecond: 200_000))
        for round in 0..<5 {
            for k in [0, 2, 3, 5] {
                try await store.putObject(bucket: "bkt", key: "k\(k)", data: pattern(700 + round * 10 + k, 1100))
                expected.objects["k\(k)"] = pattern(700 + round * 10 + k, 1100)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let report = try await compaction
        XCTAssertFalse(report.removed.isEmpty)
        try await check(store, expected)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    // MARK: - Crashes

    /// Copies a data directory (the state a crash would leave is then made from it).
    private func snapshot(_ from: String, _ to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    /// A crash after the copies were written but before the index moved to them, at
    /// many points of the copy (a torn tail included), and one after the index moved but
    /// before the victims were deleted: recovery gives a correct store every time, a
    /// rebuild equals it, and the next compaction finishes the job.
    func testCrashAtAnyStepOfCompactionRecovers() async throws {
        var store = try ObjectStore(directory: dir, options: options)
        let expected = try await populate(store)
        try store.close()
        let before = dir + "-before"
        try snapshot(dir, before)
        defer { try? FileManager.default.removeItem(atPath: before) }

        store = try ObjectStore(directory: dir, options: options)
        let report = try await store.compact(.init(threshold: 0))
        try store.close()
        let after = dir + "-after"
        try snapshot(dir, after)
        defer { try? FileManager.default.removeItem(atPath: after) }
        let oldIDs = Set(try FileManager.default.contentsOfDirectory(atPath: before + "/segments"))
        let newIDs = try FileManager.default.contentsOfDirectory(atPath: after + "/segments").filter { !oldIDs.contains($0) }.sorted()
        let lastOld = try XCTUnwrap(oldIDs.sorted().last)
        let appendedFrom = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: before + "/segments/" + lastOld)[.size] as? UInt64)
        let lastOldAfter = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: after + "/segments/" + lastOld)[.size] as? UInt64)

        // Before the index moved: the old index, the victims, and a prefix of what
        // compaction appended (cut anywhere: record boundaries and torn records alike).
        var cuts: [(segment: String, size: UInt64)] = []
        for size in stride(from: appendedFrom, through: lastOldAfter, by: Int(max(1, (lastOldAfter - appendedFrom) / 7))) {
            cuts.append((lastOld, size))
        }
        for id in newIDs {
            let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: after + "/segments/" + id)[.size] as? UInt64)
            cuts.append((id, size / 2 + 3))
            cuts.append((id, size))
        }
        for cut in cuts {
            try FileManager.default.removeItem(atPath: dir)
            try snapshot(before, dir)
            for id in newIDs where id <= cut.segment {
                try FileManager.default.copyItem(atPath: after + "/segments/" + id, toPath: dir + "/segments/" + id)
            }
            if cut.segment != lastOld {
                try FileManager.default.removeItem(atPath: dir + "/segments/" + lastOld)
                try FileManager.default.copyItem(atPath: after + "/segments/" + lastOld, toPath: dir + "/segments/" + lastOld)
            }
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/segments/" + cut.segment))
            try handle.truncate(atOffset: cut.size)
            try handle.close()
            store = try ObjectStore(directory: dir, options: options)
            try await check(store, expected)
            try store.close()
            try assertVerifiesAndRebuildsEqual()
        }

        // After the index moved, before the victims were unlinked.
        try FileManager.default.removeItem(atPath: dir)
        try snapshot(after, dir)
        for id in report.removed {
            try FileManager.default.copyItem(atPath: before + "/segments/" + SegmentLog.fileName(id),
                                             toPath: dir + "/segments/" + SegmentLog.fileName(id))
        }
        store = try ObjectStore(directory: dir, options: options)
        try await check(store, expected)
        let usage = try await store.segmentUsage()
        for id in report.removed {
            XCTAssertEqual(usage.first { $0.id == id }?.liveBytes, 0, "segment \(id) has nothing live left")
        }
        let again = try await store.compact(.init(threshold: 0.99))
        XCTAssertEqual(Set(report.removed).subtracting(again.removed), [])
        try await check(store, expected)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }
}

/// Found by Tools/crashtest: a compaction stopped midway (SIGTERM) left copies written
/// but never applied, so a cleanly closed store's index differed from a rebuild; and two
/// deletes of one key racing each other answered InternalError.
final class CompactionStopTests: XCTestCase {
    func testClosingAfterAStoppedCompactionLeavesAnIndexEqualToARebuild() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        for round in 0..<4 {
            for k in 0..<10 { try await store.putObject(bucket: "bkt", key: "k\(k)", data: pattern(round * 10 + k, 1500)) }
        }
        let compaction = Task { try await store.compact(.init(threshold: 0, bytesPerSecond: 20_000)) }
        try await Task.sleep(for: .milliseconds(300))
        compaction.cancel()
        do {
            _ = try await compaction.value
            XCTFail("the compaction should have been stopped midway")
        } catch is CancellationError {}
        try store.close()
        let report = try Verifier(directory: dir).run()
        XCTAssertEqual(report.problems, [])
        let reopened = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        for k in 0..<10 { await assertEqual(try await reopened.get("bkt", "k\(k)"), pattern(30 + k, 1500)) }
        try reopened.close()
    }

    func testConcurrentDeletesOfOneKeyBothSucceed() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        for round in 0..<40 {
            try await store.putObject(bucket: "bkt", key: "k", data: pattern(round, 100))
            async let a = store.deleteObject(bucket: "bkt", key: "k")
            async let b = store.deleteObject(bucket: "bkt", key: "k")
            _ = try await (a, b)
        }
        await assertStoreError(.noSuchKey) { try await store.get("bkt", "k") }
        try store.close()
    }
}
