import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Bucket versioning in the engine (FORMAT.md, "Versions"): version order is commit order,
/// the null version is replaced under Suspended, delete markers, permanent deletes, and the
/// data-safety properties: a rebuild equals the live index, compaction keeps every live
/// version and marker and reclaims permanently deleted ones.
final class VersioningTests: DirectoryTestCase {
    private func data(of store: ObjectStore, _ key: String, _ version: String) async throws -> [UInt8] {
        try await store.getObject(bucket: "bkt", key: key, versionID: version).readAll()
    }

    private func assertVerifiesAndRebuildsEqual(file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(report.problems, [], file: file, line: line)
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        for table in live.keys where table != "meta" {
            XCTAssertEqual(live[table], rebuilt[table], "table \(table): a rebuild must equal the live index", file: file, line: line)
        }
    }

    func testVersioningStateIsEmptyUntilSetAndNeverGoesBack() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        await assertEqual(try await store.versioning(bucket: "bkt"), .unversioned)
        try await store.setVersioning(bucket: "bkt", .enabled)
        await assertEqual(try await store.versioning(bucket: "bkt"), .enabled)
        try await store.setVersioning(bucket: "bkt", .suspended)
        await assertEqual(try await store.versioning(bucket: "bkt"), .suspended)
        await assertStoreError(.invalidArgument) { try await store.setVersioning(bucket: "bkt", .unversioned) }
        await assertStoreError(.noSuchBucket) { try await store.setVersioning(bucket: "nope", .enabled) }
        try store.close()
        // Durable through the log: after a reopen and after a rebuild.
        let reopened = try ObjectStore(directory: dir, options: smallOptions())
        await assertEqual(try await reopened.versioning(bucket: "bkt"), .suspended)
        try reopened.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testUnversionedBucketWritesTheNullVersionOnly() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        let a = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        let b = try await store.putObject(bucket: "bkt", key: "k", data: [2])
        XCTAssertEqual([a.versionID, b.versionID], ["", ""])
        let versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.etag), [b.etag], "an overwrite replaces the null version")
        let deleted = try await store.deleteObject(bucket: "bkt", key: "k")
        XCTAssertEqual(deleted, DeleteResult(versionID: nil, isDeleteMarker: false))
        await assertEqual(try await store.versions(bucket: "bkt", key: "k").count, 0)
        let index = store.index
        let versionEntries = try index.environment.read { txn in try txn.withCursor(index.versions) { try $0.first() } }
        XCTAssertNil(versionEntries, "an unversioned bucket uses no versions entry")
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// Newest first by commit sequence: puts within the same millisecond keep their order.
    func testVersionsAreOrderedNewestFirstByCommitSequence() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        var written: [ObjectInfo] = []
        for i in 0..<12 { written.append(try await store.putObject(bucket: "bkt", key: "k", data: pattern(i, 50 + i))) }
        XCTAssertEqual(Set(written.map(\.versionID)).count, 12, "every PUT has a fresh version id")
        for info in written {
            XCTAssertEqual(info.versionID.utf8.count, 32)
            XCTAssertTrue(ObjectStore.isWellFormedVersionID(info.versionID))
        }
        let versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.versionID), written.reversed().map(\.versionID))
        XCTAssertEqual(versions.map(\.sequence), versions.map(\.sequence).sorted(by: >))
        for (i, info) in written.enumerated() {
            let got = try await data(of: store, "k", info.versionID)
            XCTAssertEqual(got, pattern(i, 50 + i), "old versions keep their bytes")
        }
        await assertEqual(try await store.get("bkt", "k"), pattern(11, 61))
        await assertStoreError(.noSuchVersion) { try await store.headObject(bucket: "bkt", key: "k", versionID: ObjectStore.newVersionID()) }
        await assertStoreError(.noSuchVersion) { try await store.headObject(bucket: "bkt", key: "k", versionID: "") }
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testSuspendedWritesReplaceTheNullVersionAndKeepTheOthers() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        _ = try await store.putObject(bucket: "bkt", key: "k", data: [0])
        try await store.setVersioning(bucket: "bkt", .enabled)
        let v1 = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        try await store.setVersioning(bucket: "bkt", .suspended)
        let n2 = try await store.putObject(bucket: "bkt", key: "k", data: [2])
        XCTAssertEqual(n2.versionID, "", "Suspended: writes make the null version")
        var versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.versionID), ["", v1.versionID], "the older null version is replaced")
        await assertEqual(try await self.data(of: store, "k", ""), [2])
        await assertEqual(try await self.data(of: store, "k", v1.versionID), [1])

        // Suspended DELETE: a null delete marker replaces the null version.
        let deleted = try await store.deleteObject(bucket: "bkt", key: "k")
        XCTAssertEqual(deleted, DeleteResult(versionID: "", isDeleteMarker: true))
        versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.versionID), ["", v1.versionID])
        XCTAssertEqual(versions.map(\.isDeleteMarker), [true, false])
        do {
            _ = try await store.get("bkt", "k")
            XCTFail("the current version is a delete marker")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .noSuchKey)
            XCTAssertEqual(error.deleteMarker?.versionID, "null")
        }
        // A null PUT replaces the null marker.
        _ = try await store.putObject(bucket: "bkt", key: "k", data: [3])
        versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.isDeleteMarker), [false, false])
        await assertEqual(try await store.get("bkt", "k"), [3])
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testDeleteMarkersHideTheKeyAndRemovingThemBringsItBack() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        let v1 = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        let marker = try await store.deleteObject(bucket: "bkt", key: "k")
        XCTAssertTrue(marker.isDeleteMarker)
        let markerID = try XCTUnwrap(marker.versionID)
        XCTAssertEqual(markerID.utf8.count, 32)
        do {
            _ = try await store.headObject(bucket: "bkt", key: "k")
            XCTFail("hidden by the marker")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .noSuchKey)
            XCTAssertEqual(error.deleteMarker?.versionID, markerID)
        }
        do {
            _ = try await store.headObject(bucket: "bkt", key: "k", versionID: markerID)
            XCTFail("a marker has no object")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .methodNotAllowed)
            XCTAssertEqual(error.deleteMarker?.versionID, markerID)
        }
        await assertEqual(try await self.data(of: store, "k", v1.versionID), [1])
        let listed = try await store.listObjects(bucket: "bkt", ListRequest())
        XCTAssertEqual(listed.objects.map(\.key), [], "ListObjects shows no key whose current version is a marker")
        // A DELETE on a key that does not exist still makes a marker.
        let other = try await store.deleteObject(bucket: "bkt", key: "never")
        XCTAssertTrue(other.isDeleteMarker)

        // Removing the marker for good: the previous version is current again.
        let removed = try await store.deleteObject(bucket: "bkt", key: "k", versionID: markerID)
        XCTAssertEqual(removed, DeleteResult(versionID: markerID, isDeleteMarker: true))
        await assertEqual(try await store.get("bkt", "k"), [1])
        await assertEqual(try await store.listObjects(bucket: "bkt", ListRequest()).objects.map(\.key), ["k"])
        // An unknown (well-formed) version: success, nothing written.
        let unknown = ObjectStore.newVersionID()
        let nothing = try await store.deleteObject(bucket: "bkt", key: "k", versionID: unknown)
        XCTAssertEqual(nothing, DeleteResult(versionID: unknown, isDeleteMarker: false))
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testPermanentDeleteOfTheCurrentVersionPromotesThePreviousOne() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        let v1 = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        let v2 = try await store.putObject(bucket: "bkt", key: "k", data: [2])
        let v3 = try await store.putObject(bucket: "bkt", key: "k", data: [3])
        try await store.deleteObject(bucket: "bkt", key: "k", versionID: v3.versionID)
        await assertEqual(try await store.get("bkt", "k"), [2])
        try await store.deleteObject(bucket: "bkt", key: "k", versionID: v1.versionID)
        await assertEqual(try await store.versions(bucket: "bkt", key: "k").map(\.versionID), [v2.versionID])
        await assertStoreError(.noSuchVersion) { try await store.headObject(bucket: "bkt", key: "k", versionID: v3.versionID) }
        try await store.deleteObject(bucket: "bkt", key: "k", versionID: v2.versionID)
        await assertStoreError(.noSuchKey) { try await store.get("bkt", "k") }
        // The bucket is empty now: it can go.
        try await store.deleteBucket("bkt")
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testBucketWithNoncurrentVersionsOrMarkersIsNotEmpty() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        _ = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        try await store.deleteObject(bucket: "bkt", key: "k")
        await assertStoreError(.bucketNotEmpty) { try await store.deleteBucket("bkt") }
        let versions = try await store.versions(bucket: "bkt", key: "k")
        for v in versions { try await store.deleteObject(bucket: "bkt", key: "k", versionID: v.versionID) }
        try await store.deleteBucket("bkt")
        // A bucket re-created under the same name starts unversioned.
        try await store.createBucket("bkt")
        await assertEqual(try await store.versioning(bucket: "bkt"), .unversioned)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testListVersionsPagesByKeyAndVersionMarkers() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        _ = try await store.putObject(bucket: "bkt", key: "a", data: [0])  // the null version
        try await store.setVersioning(bucket: "bkt", .enabled)
        for key in ["a", "b", "dir/x", "dir/y", "c"] {
            for i in 0..<2 { _ = try await store.putObject(bucket: "bkt", key: key, data: [UInt8(i)]) }
        }
        try await store.deleteObject(bucket: "bkt", key: "b")
        let all = try await store.listVersions(bucket: "bkt")
        XCTAssertEqual(all.entries.map(\.info.key), ["a", "a", "a", "b", "b", "b", "c", "c", "dir/x", "dir/x", "dir/y", "dir/y"])
        XCTAssertEqual(all.entries.filter(\.isLatest).map(\.info.key), ["a", "b", "c", "dir/x", "dir/y"])
        XCTAssertEqual(all.entries[2].info.versionID, "", "the null version is the oldest of a")
        XCTAssertTrue(all.entries[3].info.isDeleteMarker, "b's marker is its newest version")
        XCTAssertFalse(all.isTruncated)

        // Pages of 2 walk the same sequence.
        var walked: [String] = []
        var keyMarker: String?, versionMarker: String?
        for _ in 0..<20 {
            let page = try await store.listVersions(bucket: "bkt", keyMarker: keyMarker, versionIDMarker: versionMarker.map { $0.isEmpty ? "null" : $0 }, maxKeys: 2)
            walked += page.entries.map { "\($0.info.key)@\($0.info.versionID)" }
            guard page.isTruncated else { break }
            keyMarker = page.nextKeyMarker
            versionMarker = page.nextVersionIDMarker
        }
        XCTAssertEqual(walked, all.entries.map { "\($0.info.key)@\($0.info.versionID)" })

        let rolled = try await store.listVersions(bucket: "bkt", delimiter: "/")
        XCTAssertEqual(rolled.commonPrefixes, ["dir/"])
        XCTAssertEqual(Set(rolled.entries.map(\.info.key)), ["a", "b", "c"])
        let inside = try await store.listVersions(bucket: "bkt", prefix: "dir/", delimiter: "/")
        XCTAssertEqual(inside.entries.map(\.info.key), ["dir/x", "dir/x", "dir/y", "dir/y"])
        let afterPrefix = try await store.listVersions(bucket: "bkt", delimiter: "/", keyMarker: "dir/")
        XCTAssertEqual(afterPrefix.commonPrefixes, [], "a key marker that is a common prefix skips it")
        let none = try await store.listVersions(bucket: "bkt", maxKeys: 0)
        XCTAssertEqual(none.entries.count, 0)
        XCTAssertFalse(none.isTruncated)
        try store.close()
    }

    /// Rebuild equality after versions, markers, null replacement and permanent deletes,
    /// also when the store is reopened (replay of the tail) in between.
    func testRebuildEqualsTheLiveIndexAfterVersionsMarkersAndPermanentDeletes() async throws {
        var store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 4096))
        try await store.createBucket("bkt")
        for k in 0..<3 { _ = try await store.putObject(bucket: "bkt", key: "k\(k)", data: pattern(k, 700)) }
        try await store.setVersioning(bucket: "bkt", .enabled)
        var ids: [String] = []
        for round in 0..<3 {
            for k in 0..<3 { ids.append(try await store.putObject(bucket: "bkt", key: "k\(k)", data: pattern(round * 10 + k, 900)).versionID) }
        }
        try await store.deleteObject(bucket: "bkt", key: "k0")
        try store.close()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 4096))
        try await store.deleteObject(bucket: "bkt", key: "k1", versionID: ids[1])
        try await store.deleteObject(bucket: "bkt", key: "k2", versionID: "")
        try await store.setVersioning(bucket: "bkt", .suspended)
        _ = try await store.putObject(bucket: "bkt", key: "k1", data: [9])
        try await store.deleteObject(bucket: "bkt", key: "k2")
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// Compaction moves every live version and delete marker (and keeps permanent-delete
    /// tombstones), reclaims the bytes of permanently deleted versions, and a rebuild
    /// equals the live index afterwards.
    func testCompactionKeepsEveryLiveVersionAndReclaimsPermanentlyDeletedOnes() async throws {
        var options = smallOptions(maxSegmentSize: 8192)
        options.minPartSize = 1500
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        _ = try await store.putObject(bucket: "bkt", key: "k0", data: pattern(1, 1200))  // null version
        try await store.setVersioning(bucket: "bkt", .enabled)
        var expected: [String: (key: String, data: [UInt8])] = [:]
        var doomed: [(String, String)] = []
        for round in 0..<4 {
            for k in 0..<3 {
                let data = pattern(100 + round * 10 + k, 1500 + 200 * k)
                let info = try await store.putObject(bucket: "bkt", key: "k\(k)", data: data)
                if round % 2 == 0 { doomed.append(("k\(k)", info.versionID)) } else { expected[info.versionID] = ("k\(k)", data) }
            }
        }
        expected[""] = ("k0", pattern(1, 1200))
        for (key, id) in doomed { try await store.deleteObject(bucket: "bkt", key: key, versionID: id) }
        let markerResult = try await store.deleteObject(bucket: "bkt", key: "k1")
        let marker = try XCTUnwrap(markerResult.versionID)
        // A completed multipart upload as a version.
        let upload = try await store.createUpload(bucket: "bkt", key: "multi", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        var parts: [PartInfo] = []
        var whole: [UInt8] = []
        for (n, data) in [pattern(500, 2000), pattern(501, 700)].enumerated() {
            let writer = try await store.makePartWriter(bucket: "bkt", key: "multi", uploadId: upload.uploadId, partNumber: n + 1)
            try await writer.write(ByteBuffer(bytes: data))
            parts.append(try await writer.finish())
            whole += data
        }
        let multi = try await store.completeUpload(bucket: "bkt", key: "multi", uploadId: upload.uploadId,
                                                   parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: $0.etag) },
                                                   conditions: .init()) { _ in [:] }
        XCTAssertEqual(multi.versionID.utf8.count, 32, "CompleteMultipartUpload makes a version")
        _ = try await store.putObject(bucket: "bkt", key: "multi", data: [7])  // the completion is now noncurrent
        for k in 0..<4 { _ = try await store.putObject(bucket: "bkt", key: "tail\(k)", data: pattern(900 + k, 3000)) }

        let before = try await store.logSpace()
        let report = try await store.compact(CompactionOptions(threshold: 0))
        XCTAssertFalse(report.removed.isEmpty)
        let after = try await store.logSpace()
        XCTAssertLessThan(after.bytes, before.bytes, "permanently deleted versions' bytes are reclaimed")

        for (id, entry) in expected {
            await assertEqual(try await self.data(of: store, entry.key, id), entry.data, "version \(entry.key)@\(id)")
        }
        await assertEqual(try await self.data(of: store, "multi", multi.versionID), whole)
        for (key, id) in doomed {
            await assertStoreError(.noSuchVersion) { try await store.headObject(bucket: "bkt", key: key, versionID: id) }
        }
        await assertStoreError(.methodNotAllowed) { try await store.headObject(bucket: "bkt", key: "k1", versionID: marker) }
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "k1") }
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// A PUT racing PutBucketVersioning: each write's version id matches the state its
    /// commit saw, which is the state of the record before it in the log.
    func testWritesRacingAVersioningChangeFollowTheLogOrder() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<30 {
                group.addTask { _ = try await store.putObject(bucket: "bkt", key: "k\(i % 3)", data: [UInt8(i)]) }
                if i == 10 { group.addTask { try await store.setVersioning(bucket: "bkt", .enabled) } }
            }
            try await group.waitForAll()
        }
        // Replaying the log in order must agree with what the live index holds.
        try store.close()
        try assertVerifiesAndRebuildsEqual()
        let reopened = try ObjectStore(directory: dir, options: smallOptions())
        for k in 0..<3 {
            let versions = try await reopened.versions(bucket: "bkt", key: "k\(k)")
            // At most one null version, and it is older than every version with an id.
            let nulls = versions.enumerated().filter { $0.element.versionID.isEmpty }
            XCTAssertLessThanOrEqual(nulls.count, 1)
            if let null = nulls.first { XCTAssertEqual(null.offset, versions.count - 1) }
        }
        try reopened.close()
    }

    /// The applier's rules in isolation: for random histories of one key (versioned and
    /// null puts, delete markers, permanent deletes of versions and of the null version),
    /// applying the records in *any* order gives the same tables as log order (so a
    /// compaction copy behind newer records, or a rebuild from what is left, changes
    /// nothing), and log order gives exactly the versions the store's model expects.
    func testApplyingVersionRecordsInAnyOrderGivesTheSameIndex() throws {
        var rng = SystemRandomNumberGenerator()
        struct Model { var versions: [(seq: UInt64, id: String, marker: Bool)] = [] }
        for history in 0..<25 {
            var model = Model()
            var records: [CommitRecord] = []
            for i in 0..<Int.random(in: 4...14, using: &rng) {
                let seq = UInt64(i + 1)
                let ref = RecordRef(segment: 1 + UInt64(i % 3), offset: UInt64(i) * 4096, size: 128)
                func put(id: String, marker: Bool) throws {
                    var info = ObjectInfo(bucket: "bkt", key: "k", versionID: id, size: marker ? 0 : 10, lastModified: Int64(i),
                                          etag: marker ? "" : "e\(i)",
                                          extents: marker ? [] : [Extent(segment: ref.segment, offset: ref.offset + 4096 - 10, length: 10)])
                    info.isDeleteMarker = marker
                    if id.isEmpty { model.versions.removeAll { $0.id.isEmpty } }
                    model.versions.insert((seq, id, marker), at: 0)
                    records.append(try CommitRecord(type: .putObject, sequence: seq, ref: ref, payload: Payload.encode(info)))
                }
                switch Int.random(in: 0..<7, using: &rng) {
                case 6:
                    // A metadata-only re-commit of a live version: same id, same place.
                    guard let victim = model.versions.filter({ !$0.marker }).randomElement(using: &rng) else { continue }
                    var info = ObjectInfo(bucket: "bkt", key: "k", versionID: victim.id, size: 10, lastModified: Int64(i),
                                          etag: "e\(i)", metadata: ["x-amz-meta-n": "\(i)"],
                                          extents: [Extent(segment: ref.segment, offset: ref.offset + 4096 - 10, length: 10)])
                    info.versionSequence = victim.seq
                    records.append(try CommitRecord(type: .putObject, sequence: seq, ref: ref, payload: Payload.encode(info)))
                case 0: try put(id: ObjectStore.newVersionID(), marker: false)
                case 1: try put(id: "", marker: false)
                case 2: try put(id: ObjectStore.newVersionID(), marker: true)
                case 3: try put(id: "", marker: true)
                default:
                    guard let victim = model.versions.randomElement(using: &rng) else { continue }
                    model.versions.removeAll { $0.seq == victim.seq }
                    let payload = Payload.encodeDelete(bucket: "bkt", key: "k", versionID: victim.id, time: Int64(i),
                                                       targetSequence: victim.id.isEmpty ? nil : victim.seq)
                    records.append(try CommitRecord(type: .deleteObject, sequence: seq, ref: ref, payload: payload))
                }
            }
            func apply(_ order: [CommitRecord]) throws -> [String: [[UInt8]: [UInt8]]] {
                let path = makeTestDirectory("applier\(history)")
                defer { try? FileManager.default.removeItem(atPath: path) }
                let index = try ObjectIndex(path: path)
                for record in order {
                    try index.environment.write { txn in try IndexApplier(index: index, txn: txn).apply(record) }
                }
                let list = try index.environment.read { try ObjectStore.versionList(index, $0, bucket: "bkt", key: "k") }
                XCTAssertEqual(list.map(\.orderSequence), list.map(\.orderSequence).sorted(by: >), "newest first")
                return try dumpIndex(index)
            }
            let inLogOrder = try apply(records)
            // The model's versions, in the tables the format says.
            let path = makeTestDirectory("model\(history)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let index = try ObjectIndex(path: path)
            for record in records {
                try index.environment.write { txn in try IndexApplier(index: index, txn: txn).apply(record) }
            }
            let list = try index.environment.read { try ObjectStore.versionList(index, $0, bucket: "bkt", key: "k") }
            XCTAssertEqual(list.map(\.orderSequence), model.versions.map(\.seq), "history \(history)")
            XCTAssertEqual(list.map(\.isDeleteMarker), model.versions.map(\.marker))
            let current = try index.environment.read { try $0.get(index.objects, IndexKey.object(bucket: "bkt", key: Array("k".utf8))) }
            let expectedCurrent = model.versions.first.flatMap { $0.marker ? nil : $0.seq }
            XCTAssertEqual(try current.map { try IndexValue.object($0).orderSequence }, expectedCurrent,
                           "objects holds the newest version exactly when it is not a marker")
            for _ in 0..<8 {
                XCTAssertEqual(try apply(records.shuffled(using: &rng)), inLogOrder, "history \(history): order must not matter")
            }
            // Every record applied again after all of them (compaction's situation for
            // copies of dead records) changes nothing.
            XCTAssertEqual(try apply(records + records.reversed()), inLogOrder)
        }
    }

    /// The applier under compaction, the way the store drives it: random histories of
    /// versioned commits on two keys (versions with ids, null versions, delete markers of
    /// both kinds, permanent deletes of versions and of the null version, metadata
    /// re-commits of versions and of the null version), with compactions in between. A
    /// compaction reads the live entries whose commit record or bytes lie in its victims,
    /// writes each one's copy (same type and sequence, new place, bytes copied to new
    /// extents) with new commits landing between the read and the copies (so copies come
    /// after newer records of their key), and deletes the victims that nothing live
    /// points into. After every compaction: no live entry points into a deleted segment,
    /// a rebuild from the surviving segments' records in log order equals the live index
    /// (every table, live counters included), and the live versions are the model's.
    func testCompactionInterleavedWithVersionedCommitsRebuildsEqual() throws {
        var rng = SystemRandomNumberGenerator()
        let keys = ["a", "b"]
        for history in 0..<30 {
            let path = makeTestDirectory("sim\(history)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let index = try ObjectIndex(path: path)
            var log: [CommitRecord] = []
            var deleted = Set<UInt64>()
            var active: UInt64 = 1, offset: UInt64 = 32, inSegment = 0
            var sequence: UInt64 = 0
            var model: [String: [(order: UInt64, id: String, marker: Bool)]] = ["a": [], "b": []]

            /// A place for `size` bytes in the active segment; rolls over every few records.
            func place(_ size: UInt64) -> RecordRef {
                if inSegment == 6 { (active, offset, inSegment) = (active + 1, 32, 0) }
                defer { offset += size; inSegment += 1 }
                return RecordRef(segment: active, offset: offset, size: size)
            }
            func data(_ length: UInt64) -> Extent {
                let ref = place(32 + 16)
                return Extent(segment: ref.segment, offset: ref.offset + 32, length: length)
            }
            func append(_ type: RecordType, _ seq: UInt64, _ payload: [UInt8]) throws {
                let record = try CommitRecord(type: type, sequence: seq, ref: place(128), payload: payload)
                log.append(record)
                try index.environment.write { txn in try IndexApplier(index: index, txn: txn).apply(record) }
            }
            func live(_ key: String) throws -> [ObjectInfo] {
                try index.environment.read { try ObjectStore.versionList(index, $0, bucket: "bkt", key: key) }
            }
            /// One random commit, as the store would write it given the model.
            func commit() throws {
                sequence += 1
                let key = keys.randomElement(using: &rng)!
                func put(id: String, marker: Bool) throws {
                    var info = ObjectInfo(bucket: "bkt", key: key, versionID: id, size: marker ? 0 : 10, lastModified: Int64(sequence),
                                          etag: marker ? "" : "e\(sequence)", extents: marker ? [] : [data(10)])
                    info.isDeleteMarker = marker
                    if id.isEmpty { model[key]!.removeAll { $0.id.isEmpty } }
                    model[key]!.insert((sequence, id, marker), at: 0)
                    try append(.putObject, sequence, Payload.encode(info))
                }
                switch Int.random(in: 0..<8, using: &rng) {
                case 0, 1: try put(id: ObjectStore.newVersionID(), marker: false)
                case 2: try put(id: "", marker: false)
                case 3: try put(id: ObjectStore.newVersionID(), marker: true)
                case 4: try put(id: "", marker: true)
                case 5:
                    // A metadata-only re-commit of a live version, from the entry as the index has it.
                    guard var info = try live(key).filter({ !$0.isDeleteMarker }).randomElement(using: &rng) else { return try commit() }
                    info.metadata["x-amz-meta-n"] = "\(sequence)"
                    info.versionSequence = info.orderSequence
                    try append(.putObject, sequence, Payload.encode(info))
                default:
                    guard let victim = model[key]!.randomElement(using: &rng) else { return try commit() }
                    model[key]!.removeAll { $0.order == victim.order }
                    try append(.deleteObject, sequence, Payload.encodeDelete(bucket: "bkt", key: key, versionID: victim.id, time: Int64(sequence),
                                                                             targetSequence: victim.id.isEmpty ? nil : victim.order))
                }
            }
            func compact() throws {
                let victims = Set((1..<active).filter { !deleted.contains($0) && Bool.random(using: &rng) })
                guard !victims.isEmpty else { return }
                var work: [(table: String, value: [UInt8])] = []
                try index.environment.read { txn in
                    for table in [index.objects, index.versions, index.tombstones] {
                        try txn.withCursor(table) { c in
                            var e = try c.first()
                            while let (_, value) = e {
                                let ref = try IndexValue.header(value).ref
                                let extents = table.name == index.tombstones.name ? [] : try IndexValue.object(value).extents
                                if victims.contains(ref.segment) || extents.contains(where: { victims.contains($0.segment) }) {
                                    work.append((table.name, value))
                                }
                                e = try c.next()
                            }
                        }
                    }
                }
                for (table, value) in work {
                    // Commits that land between compaction's read and its copy.
                    for _ in 0..<Int.random(in: 0...2, using: &rng) where Int.random(in: 0..<3, using: &rng) == 0 { try commit() }
                    let (seq, ref) = try IndexValue.header(value)
                    let payload = Array(value[IndexValue.prefixSize...])
                    if table == index.tombstones.name {
                        guard victims.contains(ref.segment) else { continue }
                        try append(.deleteObject, seq, payload)
                    } else {
                        var info = try Payload.decodeObject(payload)
                        info.extents = info.extents.map { victims.contains($0.segment) ? data($0.length) : $0 }
                        try append(.putObject, seq, Payload.encode(info))
                    }
                }
                let stats = try index.environment.read { try ObjectStore.liveStats(index, $0) }
                for id in victims where stats[id] == nil && id < active { deleted.insert(id) }
            }

            for _ in 0..<Int.random(in: 10...45, using: &rng) {
                try commit()
                guard Int.random(in: 0..<5, using: &rng) == 0 else { continue }
                try compact()
                let dump = try dumpIndex(index)
                // What `strata verify` recomputes: each live entry's record and extents.
                var expected: [UInt64: SegmentStats] = [:]
                for table in ["objects", "versions", "tombstones"] {
                    for value in dump[table]!.values {
                        let (_, ref) = try IndexValue.header(value)
                        XCTAssertFalse(deleted.contains(ref.segment), "history \(history): \(table) entry's record in a deleted segment")
                        expected[ref.segment, default: SegmentStats()].liveBytes += ref.size
                        expected[ref.segment, default: SegmentStats()].liveRecords += 1
                        if table != "tombstones" {
                            let extents = try IndexValue.object(value).extents
                            XCTAssertFalse(extents.contains { deleted.contains($0.segment) }, "history \(history): live bytes in a deleted segment")
                            for e in extents { expected[e.segment, default: SegmentStats()].liveBytes += e.length }
                        }
                    }
                }
                let stored = Dictionary(uniqueKeysWithValues: dump["segments"]!.map {
                    (IndexKey.decodeBigEndian($0.key, as: UInt64.self) ?? 0, SegmentStats($0.value))
                })
                XCTAssertEqual(stored, expected, "history \(history): live counters are those of the live entries")
                let rebuiltPath = makeTestDirectory("simrebuild\(history)")
                defer { try? FileManager.default.removeItem(atPath: rebuiltPath) }
                let rebuilt = try ObjectIndex(path: rebuiltPath)
                for record in log where !deleted.contains(record.ref.segment) {
                    try rebuilt.environment.write { txn in try IndexApplier(index: rebuilt, txn: txn).apply(record) }
                }
                let again = try dumpIndex(rebuilt)
                for table in dump.keys.sorted() where table != "meta" {
                    XCTAssertEqual(dump[table], again[table], "history \(history): table \(table), a rebuild after compaction")
                }
                for key in keys {
                    XCTAssertEqual(try live(key).map(\.orderSequence), model[key]!.map(\.order), "history \(history) key \(key)")
                    XCTAssertEqual(try live(key).map(\.isDeleteMarker), model[key]!.map(\.marker))
                }
            }
        }
    }

    /// The store end to end under online compaction: rounds of concurrent versioned
    /// commits (each task on its own key: PUTs, DELETEs making markers, permanent deletes
    /// of versions and of the null version, metadata re-commits), PutBucketVersioning
    /// switching between Enabled and Suspended, and a compaction of every sealed segment
    /// (threshold 0), all at once. Every acknowledged version must then read back with its
    /// bytes and metadata, in order, no deleted one may be there, and after a close
    /// `strata verify --deep` is clean and a rebuild equals the live index.
    func testVersionedCommitsRacingCompactionsKeepEveryAcknowledgedVersion() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 4096))
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        struct Entry: Sendable { var id: String; var data: [UInt8]?; var tag: String? }
        var model: [String: [Entry]] = [:]
        let keys = (0..<4).map { "key\($0)" }
        for key in keys { model[key] = [] }
        for round in 0..<12 {
            let snapshot = model
            let results = try await withThrowingTaskGroup(of: (String, [Entry])?.self) { group in
                group.addTask {
                    try await store.setVersioning(bucket: "bkt", round % 3 == 2 ? .suspended : .enabled)
                    return nil
                }
                group.addTask {
                    _ = try await store.compact(CompactionOptions(threshold: 0))
                    return nil
                }
                for (k, key) in keys.enumerated() {
                    group.addTask {
                        var list = snapshot[key]!
                        for step in 0..<6 {
                            let n = round * 100 + k * 10 + step
                            switch Int.random(in: 0..<10) {
                            case 0...3:
                                let data = pattern(n, Int.random(in: 0...1500))
                                let info = try await store.putObject(bucket: "bkt", key: key, data: data)
                                if info.versionID.isEmpty { list.removeAll { $0.id.isEmpty } }
                                list.insert(Entry(id: info.versionID, data: data), at: 0)
                            case 4, 5:
                                let result = try await store.deleteObject(bucket: "bkt", key: key)
                                let id = try XCTUnwrap(result.versionID)
                                if id.isEmpty { list.removeAll { $0.id.isEmpty } }
                                list.insert(Entry(id: id, data: nil), at: 0)
                            case 6, 7:
                                guard let victim = list.randomElement() else { continue }
                                try await store.deleteObject(bucket: "bkt", key: key, versionID: victim.id)
                                list.removeAll { $0.id == victim.id }
                            default:
                                guard let i = list.indices.filter({ list[$0].data != nil }).randomElement() else { continue }
                                let tag = "t\(n)"
                                try await store.recommitVersion(bucket: "bkt", key: key, versionID: list[i].id) { $0.metadata["x-amz-meta-tag"] = tag }
                                list[i].tag = tag
                            }
                        }
                        return (key, list)
                    }
                }
                var out: [String: [Entry]] = [:]
                for try await case let (key, list)? in group { out[key] = list }
                return out
            }
            for (key, list) in results { model[key] = list }
            for key in keys {
                let versions = try await store.versions(bucket: "bkt", key: key)
                XCTAssertEqual(versions.map(\.versionID), model[key]!.map(\.id), "round \(round) \(key): the acknowledged versions, newest first")
                XCTAssertEqual(versions.map(\.isDeleteMarker), model[key]!.map { $0.data == nil })
                for entry in model[key]! where entry.data != nil {
                    await assertEqual(try await self.data(of: store, key, entry.id), entry.data!, "round \(round) \(key)@\(entry.id)")
                    await assertEqual(try await store.headObject(bucket: "bkt", key: key, versionID: entry.id).metadata["x-amz-meta-tag"], entry.tag)
                }
            }
        }
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// `strata inspect` names the version of object and delete records and marks delete
    /// markers; `strata verify` finds nothing wrong with versions, markers and tombstones.
    func testInspectShowsVersionsAndMarkers() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        let v1 = try await store.putObject(bucket: "bkt", key: "k", data: [1])
        let marker = try await store.deleteObject(bucket: "bkt", key: "k")
        try await store.deleteObject(bucket: "bkt", key: "k", versionID: v1.versionID)
        try store.close()
        let records = try Inspector(directory: dir).records(segment: 1).records.filter { $0.key == "k" }
        XCTAssertEqual(records.map(\.type), ["putObject", "putObject", "deleteObject"])
        XCTAssertEqual(records.map(\.versionId), [v1.versionID, marker.versionID, v1.versionID])
        XCTAssertEqual(records.map(\.deleteMarker), [nil, true, nil])
        try assertVerifiesAndRebuildsEqual()
    }

    /// Many commits of one key in flight at once (puts, markers, permanent deletes, null
    /// writes under Suspended): each one's checks see the ones before it in the log
    /// through the journal's pending changes, and the result equals a rebuild.
    func testConcurrentVersionedCommitsOfOneKeySeeEachOther() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        var old: [String] = []
        for i in 0..<10 { old.append(try await store.putObject(bucket: "bkt", key: "k", data: [UInt8(i)]).versionID) }
        let doomed = old
        let results = try await withThrowingTaskGroup(of: (String, DeleteResult?).self) { group in
            for i in 0..<40 {
                group.addTask {
                    switch i % 4 {
                    case 0:
                        _ = try await store.putObject(bucket: "bkt", key: "k", data: [UInt8(i)])
                        return ("put", nil)
                    case 1: return ("marker", try await store.deleteObject(bucket: "bkt", key: "k"))
                    case 2: return ("delete", try await store.deleteObject(bucket: "bkt", key: "k", versionID: doomed[i / 4]))
                    default: return ("again", try await store.deleteObject(bucket: "bkt", key: "k", versionID: doomed[i / 4]))
                    }
                }
            }
            var out: [(String, DeleteResult?)] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(results.count, 40)
        let versions = try await store.versions(bucket: "bkt", key: "k")
        // 10 old versions, all deleted (each twice, concurrently); 10 puts and 10 markers left.
        XCTAssertEqual(versions.filter { !$0.isDeleteMarker }.count, 10)
        XCTAssertEqual(versions.filter(\.isDeleteMarker).count, 10)
        XCTAssertTrue(Set(versions.map(\.versionID)).isDisjoint(with: old))
        XCTAssertEqual(versions.map(\.sequence), versions.map(\.sequence).sorted(by: >))
        // Suspended: concurrent null writes leave one null version.
        try await store.setVersioning(bucket: "bkt", .suspended)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<12 {
                group.addTask {
                    if i % 3 == 0 { try await store.deleteObject(bucket: "bkt", key: "k") } else {
                        _ = try await store.putObject(bucket: "bkt", key: "k", data: [UInt8(i)])
                    }
                }
            }
            try await group.waitForAll()
        }
        let after = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(after.filter { $0.versionID.isEmpty }.count, 1)
        XCTAssertEqual(after.count, 21)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// A metadata-only re-commit (what tagging and ACLs need) keeps the version's id, bytes
    /// and place in the order, makes no new version, and survives compaction, permanent
    /// deletes of other versions and a rebuild.
    func testRecommitVersionKeepsItsIdBytesAndPlace() async throws {
        var options = smallOptions(maxSegmentSize: 4096)
        options.minPartSize = 1500
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        let plain = try await store.putObject(bucket: "bkt", key: "n", data: pattern(1, 900))
        let retagged = try await store.recommitVersion(bucket: "bkt", key: "n") { $0.metadata["x-amz-meta-tag"] = "a" }
        XCTAssertEqual(retagged.versionID, plain.versionID)
        await assertEqual(try await store.versions(bucket: "bkt", key: "n").count, 1, "unversioned: still one version")
        await assertEqual(try await store.headObject(bucket: "bkt", key: "n").metadata["x-amz-meta-tag"], "a")
        await assertEqual(try await store.get("bkt", "n"), pattern(1, 900))

        try await store.setVersioning(bucket: "bkt", .enabled)
        let v1 = try await store.putObject(bucket: "bkt", key: "k", data: pattern(2, 900))
        let v2 = try await store.putObject(bucket: "bkt", key: "k", data: pattern(3, 900))
        try await store.recommitVersion(bucket: "bkt", key: "k", versionID: v1.versionID) { $0.metadata["x-amz-meta-tag"] = "old" }
        try await store.recommitVersion(bucket: "bkt", key: "k") { $0.metadata["x-amz-meta-tag"] = "new" }
        var versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.versionID), [v2.versionID, v1.versionID], "no new version, same order")
        XCTAssertEqual(versions.map { $0.metadata["x-amz-meta-tag"] }, ["new", "old"])
        await assertEqual(try await store.get("bkt", "k"), pattern(3, 900))
        await assertEqual(try await self.data(of: store, "k", v1.versionID), pattern(2, 900))
        let marker = try await store.deleteObject(bucket: "bkt", key: "k")
        await assertStoreError(.noSuchKey) { try await store.recommitVersion(bucket: "bkt", key: "k") { _ in } }
        await assertStoreError(.methodNotAllowed) {
            try await store.recommitVersion(bucket: "bkt", key: "k", versionID: marker.versionID) { _ in }
        }
        await assertStoreError(.noSuchVersion) {
            try await store.recommitVersion(bucket: "bkt", key: "k", versionID: ObjectStore.newVersionID()) { _ in }
        }
        await assertStoreError(.internalError) {
            try await store.recommitVersion(bucket: "bkt", key: "k", versionID: v1.versionID) { $0.size += 1 }
        }
        for k in 0..<4 { _ = try await store.putObject(bucket: "bkt", key: "tail\(k)", data: pattern(900 + k, 3000)) }
        _ = try await store.compact(CompactionOptions(threshold: 0))
        try await store.deleteObject(bucket: "bkt", key: "k", versionID: v1.versionID)
        versions = try await store.versions(bucket: "bkt", key: "k")
        XCTAssertEqual(versions.map(\.versionID), [marker.versionID!, v2.versionID])
        XCTAssertEqual(versions.last?.metadata["x-amz-meta-tag"], "new")
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// A completed multipart upload's version that was re-committed (an ACL change) and
    /// then became noncurrent: its entry is the re-commit, but the closed upload's
    /// tombstone still points at the completing record. Compaction must copy that
    /// tombstone (the version's own copy is the re-commit's, which does not carry it), or
    /// the segment with the completing record holds a live entry forever and is never
    /// reclaimed.
    func testCompactionReclaimsTheCompletionOfARecommittedNoncurrentVersion() async throws {
        var options = smallOptions(maxSegmentSize: 8192)
        options.minPartSize = 1500
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        let first = try XCTUnwrap(store.log.activeSegmentID)
        let upload = try await store.createUpload(bucket: "bkt", key: "multi", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let writer = try await store.makePartWriter(bucket: "bkt", key: "multi", uploadId: upload.uploadId, partNumber: 1)
        try await writer.write(ByteBuffer(bytes: pattern(7, 700)))
        let part = try await writer.finish()
        let multi = try await store.completeUpload(bucket: "bkt", key: "multi", uploadId: upload.uploadId,
                                                   parts: [CompletedPart(partNumber: 1, etag: part.etag)],
                                                   conditions: .init()) { _ in [:] }
        try await store.recommitVersion(bucket: "bkt", key: "multi", versionID: multi.versionID) { $0.metadata["x-amz-meta-acl"] = "changed" }
        _ = try await store.putObject(bucket: "bkt", key: "multi", data: [1])  // the completion is noncurrent now
        var n = 0
        while store.log.activeSegmentID ?? 0 < first + 2 {
            _ = try await store.putObject(bucket: "bkt", key: "fill\(n % 3)", data: pattern(100 + n, 1000))
            n += 1
        }
        let report = try await store.compact(.init(segments: [first]))
        XCTAssertEqual(report.removed, [first], "nothing in the first segment is live once its entries are copied")
        await assertEqual(try await self.data(of: store, "multi", multi.versionID), pattern(7, 700))
        await assertEqual(try await store.headObject(bucket: "bkt", key: "multi", versionID: multi.versionID).metadata["x-amz-meta-acl"], "changed")
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// A key whose object name is exactly the inline limit (480 bytes) and a longer key
    /// that extends it: the longer one's long-form name is those 480 bytes followed by 8
    /// bytes of SHA-256, and when that hash starts with 0x00 (one key in 256), its
    /// `versions` keys start with the short key's `name · 0x00` too, and sort before the
    /// short key's own (whose `~sequence` starts 0xFF). The applier's "newest version of
    /// this key" must not take the other key's entry: here, removing the short key's only
    /// version would move the long key's noncurrent version into the short key's current
    /// slot (the long key loses it from its versions).
    func testVersionsOfALongKeyAreNotTakenForThoseOfTheKeyItExtends() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        try await store.setVersioning(bucket: "bkt", .enabled)
        let short = String(repeating: "s", count: IndexKey.inlineLimit - 4)  // 1 + "bkt" + key = 480 bytes
        XCTAssertEqual(IndexKey.object(bucket: "bkt", key: Array(short.utf8)).count, IndexKey.inlineLimit)
        let long = try XCTUnwrap((0..<10_000).lazy.map { short + "/\($0)" }
            .first { IndexKey.object(bucket: "bkt", key: Array($0.utf8))[IndexKey.inlineLimit] == 0 })
        let old = try await store.putObject(bucket: "bkt", key: long, data: pattern(1, 100))
        let new = try await store.putObject(bucket: "bkt", key: long, data: pattern(2, 100))
        let mine = try await store.putObject(bucket: "bkt", key: short, data: pattern(3, 100))
        try await store.deleteObject(bucket: "bkt", key: short, versionID: mine.versionID)

        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: short) }
        await assertEqual(try await store.versions(bucket: "bkt", key: short).map(\.versionID), [])
        await assertEqual(try await store.versions(bucket: "bkt", key: long).map(\.versionID), [new.versionID, old.versionID])
        await assertEqual(try await self.data(of: store, long, old.versionID), pattern(1, 100))
        await assertEqual(try await store.get("bkt", long), pattern(2, 100))
        // ListObjectVersions walks on from `name · 0x00` after a name, not `name · 0x01`
        // (which is past the longer key), whole and page by page.
        try await store.deleteObject(bucket: "bkt", key: short)  // a marker: the shorter key has versions only
        let listed = try await store.listVersions(bucket: "bkt")
        XCTAssertEqual(listed.entries.map { $0.info.key == short ? "short" : "long" }, ["short", "long", "long"])
        var paged: [String] = []
        var marker: (String?, String?) = (nil, nil)
        repeat {
            let page = try await store.listVersions(bucket: "bkt", keyMarker: marker.0, versionIDMarker: marker.1, maxKeys: 1)
            paged += page.entries.map(\.info.versionID)
            marker = page.isTruncated ? (page.nextKeyMarker, page.nextVersionIDMarker) : (nil, nil)
        } while marker.0 != nil
        XCTAssertEqual(paged, listed.entries.map(\.info.versionID))
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// Torn tails at every interesting offset of a log of versioned commits (versioning
    /// turned on and suspended, versions, markers, permanent deletes, null writes, a
    /// re-commit), replayed from a checkpoint in the middle or from the start: the store
    /// opens with exactly the versions of the last whole commit, and a rebuild equals it.
    func testTornTailOfVersionedCommitsRecoversEveryWholeCommit() async throws {
        typealias State = [String: [String]]  // key → "id:marker-or-data-md5" newest first
        func state(_ store: ObjectStore) async throws -> State {
            var out: State = [:]
            for key in ["a", "b"] {
                var entries: [String] = []
                for v in try await store.versions(bucket: "bkt", key: key) {
                    let body = v.isDeleteMarker ? "marker" : (v.metadata["x-amz-meta-t"] ?? "") + "/" + v.etag
                    entries.append((v.versionID.isEmpty ? "null" : v.versionID) + ":" + body)
                }
                out[key] = entries
            }
            return out
        }
        var history: [(end: UInt64, state: State)] = []
        var snapshotEnd: UInt64 = 0
        do {
            var store = try ObjectStore(directory: dir, options: smallOptions())
            try await store.createBucket("bkt")
            var ids: [String] = []
            func record() async throws { history.append((store.log.end.offset, try await state(store))) }
            try await record()
            let steps: [@Sendable (ObjectStore) async throws -> String?] = [
                { try await $0.putObject(bucket: "bkt", key: "a", data: pattern(1, 500)).versionID },
                { try await $0.setVersioning(bucket: "bkt", .enabled); return nil },
                { try await $0.putObject(bucket: "bkt", key: "a", data: pattern(2, 1500)).versionID },
                { try await $0.putObject(bucket: "bkt", key: "b", data: pattern(3, 700)).versionID },
                { try await $0.deleteObject(bucket: "bkt", key: "a").versionID },
                { try await $0.putObject(bucket: "bkt", key: "a", data: pattern(4, 900)).versionID },
            ]
            for step in steps {
                if let id = try await step(store) { ids.append(id) }
                try await record()
            }
            // An index snapshot whose checkpoint is in the middle of the log.
            try store.close()
            try FileManager.default.copyItem(atPath: dir + "/index", toPath: dir + "/index-mid")
            snapshotEnd = history.last!.end
            store = try ObjectStore(directory: dir, options: smallOptions())
            try await store.deleteObject(bucket: "bkt", key: "a", versionID: ids[1])
            try await record()
            try await store.recommitVersion(bucket: "bkt", key: "a", versionID: "") { $0.metadata["x-amz-meta-t"] = "tagged" }
            try await record()
            try await store.setVersioning(bucket: "bkt", .suspended)
            try await record()
            _ = try await store.putObject(bucket: "bkt", key: "b", data: pattern(5, 300))
            try await record()
            try await store.deleteObject(bucket: "bkt", key: "a")
            try await record()
            try await store.deleteObject(bucket: "bkt", key: "b", versionID: ids[2])
            try await record()
            try store.close()
        }
        let segment = dir + "/segments/" + SegmentLog.fileName(1)
        let original = try Data(contentsOf: URL(fileURLWithPath: segment))
        var cuts = Set<UInt64>()
        var scanner = try SegmentScanner(file: try SegmentLog(directory: dir + "/segments").file(1)!)
        while let r = try scanner.next() {
            for delta in [0, 1, 31, 33] as [UInt64] { cuts.insert(r.ref.offset + delta) }
            cuts.insert(r.ref.end.offset - 1)
        }
        cuts.insert(UInt64(original.count))
        XCTAssertEqual(history.count, 13)
        for cut in cuts.sorted() where cut >= history[0].end && cut <= UInt64(original.count) {
            let copy = makeTestDirectory("vcut")
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try FileManager.default.createDirectory(atPath: copy + "/segments", withIntermediateDirectories: true)
            try original.prefix(Int(cut)).write(to: URL(fileURLWithPath: copy + "/segments/" + SegmentLog.fileName(1)))
            if cut >= snapshotEnd { try FileManager.default.copyItem(atPath: dir + "/index-mid", toPath: copy + "/index") }
            let expected = history.last { $0.end <= cut }!.state
            let store = try ObjectStore(directory: copy, options: smallOptions())
            let got = try await state(store)
            XCTAssertEqual(got, expected, "cut at \(cut)")
            try store.close()
            let (live, rebuilt) = try liveAndRebuiltIndex(copy)
            XCTAssertEqual(live, rebuilt, "cut at \(cut)")
        }
    }
}
