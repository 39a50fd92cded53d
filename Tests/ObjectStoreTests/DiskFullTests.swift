import Foundation
import NIOCore
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// A full disk (ENOSPC injected into segment writes with ``FaultInjector``): writes fail
/// with outOfSpace and leave nothing visible, reads go on, writes work again once space
/// is back, and everything acknowledged survives a reopen (docs/DESIGN.md, "Disk full or
/// a failed sync: the request fails, reads go on").
final class DiskFullTests: XCTestCase {
    var dir = ""
    let faults = FaultInjector()

    override func setUp() async throws {
        dir = makeTestDirectory()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func options(maxSegmentSize: UInt64 = 1 << 30) -> ObjectStore.Options {
        var options = smallOptions(maxSegmentSize: maxSegmentSize)
        options.segments.faults = faults
        options.minPartSize = 1500
        return options
    }

    private func putPart(_ store: ObjectStore, _ upload: UploadInfo, _ number: Int, _ data: [UInt8]) async throws -> PartInfo {
        let writer = try await store.makePartWriter(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId, partNumber: number)
        try await writer.write(ByteBuffer(bytes: data))
        return try await writer.finish()
    }

    func testWritesFailWithOutOfSpaceLeaveNothingAndWorkAgainAfterwards() async throws {
        var store = try ObjectStore(directory: dir, options: options())
        try await store.createBucket("bkt")
        let before = pattern(1, 3500)  // four data records
        try await store.putObject(bucket: "bkt", key: "before", data: before)
        let upload = try await store.createUpload(bucket: "bkt", key: "multi", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let part1 = try await putPart(store, upload, 1, pattern(2, 2000))

        faults.failWrites(errno: ENOSPC)
        // Object bytes (data records), a commit alone, and a part's bytes: all refused.
        await assertStoreError(.outOfSpace) { try await store.putObject(bucket: "bkt", key: "new", data: pattern(3, 2500)) }
        await assertStoreError(.outOfSpace) { try await store.putObject(bucket: "bkt", key: "empty", data: []) }
        await assertStoreError(.outOfSpace) { try await self.putPart(store, upload, 2, pattern(4, 800)) }
        await assertStoreError(.outOfSpace) { try await store.createBucket("other") }
        await assertStoreError(.outOfSpace) { try await store.deleteObject(bucket: "bkt", key: "before") }
        XCTAssertGreaterThanOrEqual(faults.injectedFailures, 5)

        // Nothing partial is visible; what was there reads back byte for byte.
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "new") }
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "empty") }
        await assertStoreError(.noSuchBucket) { try await store.bucket("other") }
        await assertEqual(try await store.listParts(bucket: "bkt", key: "multi", uploadId: upload.uploadId, after: 0, maxParts: 100).parts.map(\.partNumber), [1])
        await assertEqual(try await store.get("bkt", "before"), before)

        // Space is back: the same writes succeed.
        faults.clear()
        let new = pattern(3, 2500)
        try await store.putObject(bucket: "bkt", key: "new", data: new)
        try await store.putObject(bucket: "bkt", key: "empty", data: [])
        let part2 = try await putPart(store, upload, 2, pattern(4, 800))
        try await store.createBucket("other")
        _ = try await store.completeUpload(bucket: "bkt", key: "multi", uploadId: upload.uploadId,
                                           parts: [part1, part2].map { CompletedPart(partNumber: $0.partNumber, etag: "\"\($0.etag)\"") },
                                           conditions: .init()) { _ in [:] }
        await assertEqual(try await store.get("bkt", "new"), new)

        // Everything acknowledged is there after a reopen, and the directory verifies clean.
        try store.close()
        store = try ObjectStore(directory: dir, options: options())
        await assertEqual(try await store.get("bkt", "before"), before)
        await assertEqual(try await store.get("bkt", "new"), new)
        await assertEqual(try await store.get("bkt", "empty"), [])
        await assertEqual(try await store.get("bkt", "multi"), pattern(2, 2000) + pattern(4, 800))
        await assertEqual(try await store.bucket("other").name, "other")
        try store.close()
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(report.problems, [], "\(report.problems.map(\.description))")
    }

    /// The disk fills up just when the log rolls over: the seal fits into the old segment,
    /// the new segment's file does not. Writes fail until space is back, then go to the
    /// new segment; the store reopens (a second seal, or a record after the seal, would
    /// make recovery refuse the sealed segment).
    func testFullDiskDuringRollOverLeavesAStoreThatReopens() async throws {
        var store = try ObjectStore(directory: dir, options: options(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        faults.failWrites(errno: ENOSPC, of: [.segmentHeader])
        var acknowledged: [String: [UInt8]] = [:]
        var refused = 0
        for i in 0..<8 {
            let data = pattern(10 + i, 1500)
            do {
                try await store.putObject(bucket: "bkt", key: "k\(i)", data: data)
                acknowledged["k\(i)"] = data
            } catch let error as StoreError {
                XCTAssertEqual(error.code, .outOfSpace, "\(error)")
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 0, "the test wants a roll-over while the disk is full")
        XCTAssertEqual(store.log.segmentIDs, [1])
        // Reads go on.
        for (key, data) in acknowledged { await assertEqual(try await store.get("bkt", key), data) }

        faults.clear()
        try await store.putObject(bucket: "bkt", key: "after", data: pattern(30, 1500))
        acknowledged["after"] = pattern(30, 1500)
        XCTAssertEqual(store.log.activeSegmentID, 2)

        try store.close()
        store = try ObjectStore(directory: dir, options: options(maxSegmentSize: 8192))
        for (key, data) in acknowledged { await assertEqual(try await store.get("bkt", key), data, key) }
        try store.close()
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(report.problems, [], "\(report.problems.map(\.description))")
    }
}
