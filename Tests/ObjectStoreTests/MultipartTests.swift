import Crypto
import Foundation
import NIOCore
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Multipart uploads in the engine: parts are extents, Complete copies nothing, closed
/// uploads stay closed, and a rebuild from segments gives the same index.
final class MultipartTests: XCTestCase {
    var dir = ""
    var store: ObjectStore!

    override func setUp() async throws {
        dir = makeTestDirectory()
        store = try ObjectStore(directory: dir, options: options())
        try await store.createBucket("bkt")
    }

    override func tearDown() async throws {
        try? store?.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func options() -> ObjectStore.Options {
        var o = smallOptions()
        o.minPartSize = 1500
        return o
    }

    @discardableResult
    private func putPart(_ upload: UploadInfo, _ number: Int, _ data: [UInt8]) async throws -> PartInfo {
        let writer = try await store.makePartWriter(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId, partNumber: number)
        try await writer.write(ByteBuffer(bytes: data))
        return try await writer.finish()
    }

    private func complete(_ upload: UploadInfo, _ parts: [PartInfo]) async throws -> ObjectInfo {
        try await store.completeUpload(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId,
                                       parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: "\"\($0.etag)\"") },
                                       conditions: .init()) { _ in [:] }
    }

    private func segmentBytes() throws -> UInt64 {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").reduce(0) { total, name in
            total + ((try FileManager.default.attributesOfItem(atPath: dir + "/segments/" + name)[.size] as? UInt64) ?? 0)
        }
    }

    func testCompleteJoinsThePartsWithoutCopyingData() async throws {
        let upload = try await store.createUpload(bucket: "bkt", key: "big", metadata: ["content-type": "x/y"],
                                                  checksumAlgorithm: nil, checksumType: nil)
        let data = [pattern(1, 2000), pattern(2, 1600), pattern(3, 700)]
        var parts: [PartInfo] = []
        for (i, d) in data.enumerated() { parts.append(try await putPart(upload, i + 1, d)) }
        let before = try segmentBytes()
        let info = try await complete(upload, parts)
        // Only the commit record was appended: no object bytes were written again.
        XCTAssertLessThan(try segmentBytes() - before, 1024)
        XCTAssertEqual(info.extents, parts.flatMap(\.extents))
        XCTAssertEqual(info.partSizes, [2000, 1600, 700])
        var md5 = Insecure.MD5()
        for d in data { md5.update(data: Array(Insecure.MD5.hash(data: d))) }
        XCTAssertEqual(info.etag, md5.finalize().map { String(format: "%02x", $0) }.joined() + "-3")
        await assertEqual(try await store.get("bkt", "big"), data.flatMap { $0 })
        await assertEqual(try await store.headObject(bucket: "bkt", key: "big").metadata, ["content-type": "x/y"])
        // The upload is gone; a retry of the same Complete returns the same object.
        await assertStoreError(.noSuchUpload) { try await self.store.upload(bucket: "bkt", key: "big", uploadId: upload.uploadId) }
        await assertEqual(try await complete(upload, parts).etag, info.etag)
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }

    func testReuploadedPartReplacesTheOldOne() async throws {
        let upload = try await store.createUpload(bucket: "bkt", key: "k", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        try await putPart(upload, 1, pattern(1, 1600))
        let second = try await putPart(upload, 1, pattern(9, 1700))
        let listed = try await store.listParts(bucket: "bkt", key: "k", uploadId: upload.uploadId, after: 0, maxParts: 10)
        XCTAssertEqual(listed.parts.map(\.etag), [second.etag])
        _ = try await complete(upload, [second])
        await assertEqual(try await store.get("bkt", "k"), pattern(9, 1700))
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }

    func testCompleteChecksOrderETagsAndSizes() async throws {
        let upload = try await store.createUpload(bucket: "bkt", key: "k", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let p1 = try await putPart(upload, 1, pattern(1, 1600))
        let p2 = try await putPart(upload, 2, pattern(2, 100))
        let p3 = try await putPart(upload, 3, pattern(3, 1600))
        await assertStoreError(.invalidPartOrder) { try await self.complete(upload, [p2, p1]) }
        var wrong = p1
        wrong.etag = String(repeating: "0", count: 32)
        await assertStoreError(.invalidPart) { try await self.complete(upload, [wrong]) }
        var missing = p1
        missing.partNumber = 7
        await assertStoreError(.invalidPart) { try await self.complete(upload, [p1, missing]) }
        await assertStoreError(.entityTooSmall) { try await self.complete(upload, [p1, p2, p3]) }
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "k") }
        // The last part may be small.
        _ = try await complete(upload, [p1, p2])
        await assertEqual(try await store.get("bkt", "k"), pattern(1, 1600) + pattern(2, 100))
    }

    func testAbortRemovesTheUploadAndKeepsItClosedAcrossReopen() async throws {
        let upload = try await store.createUpload(bucket: "bkt", key: "k", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        try await putPart(upload, 1, pattern(1, 500))
        try await store.abortUpload(bucket: "bkt", key: "k", uploadId: upload.uploadId)
        await assertStoreError(.noSuchUpload) { try await self.store.abortUpload(bucket: "bkt", key: "k", uploadId: upload.uploadId) }
        await assertStoreError(.noSuchUpload) { try await self.putPart(upload, 2, [1]) }
        await assertEqual(try await store.listUploads(bucket: "bkt", prefix: "", delimiter: nil, keyMarker: nil,
                                                       uploadIdMarker: nil, maxUploads: 10).uploads.count, 0)
        try store.close()
        store = try ObjectStore(directory: dir, options: options())
        await assertStoreError(.noSuchUpload) { try await self.store.upload(bucket: "bkt", key: "k", uploadId: upload.uploadId) }
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }

    func testListUploadsOrdersByKeyAndPages() async throws {
        var ids: [String: [String]] = [:]
        for key in ["a/1", "a/2", "b", "b", "c"] {
            let u = try await store.createUpload(bucket: "bkt", key: key, metadata: [:], checksumAlgorithm: nil, checksumType: nil)
            ids[key, default: []].append(u.uploadId)
        }
        let all = try await store.listUploads(bucket: "bkt", prefix: "", delimiter: nil, keyMarker: nil, uploadIdMarker: nil, maxUploads: 100)
        XCTAssertEqual(all.uploads.map(\.key), ["a/1", "a/2", "b", "b", "c"])
        XCTAssertEqual(all.uploads.filter { $0.key == "b" }.map(\.uploadId), ids["b"])
        let rolled = try await store.listUploads(bucket: "bkt", prefix: "", delimiter: "/", keyMarker: nil, uploadIdMarker: nil, maxUploads: 100)
        XCTAssertEqual(rolled.commonPrefixes, ["a/"])
        XCTAssertEqual(rolled.uploads.map(\.key), ["b", "b", "c"])
        // Paging two at a time visits every upload once.
        var seen: [String] = []
        var keyMarker: String?, idMarker: String?
        for _ in 0..<10 {
            let page = try await store.listUploads(bucket: "bkt", prefix: "", delimiter: nil, keyMarker: keyMarker,
                                                   uploadIdMarker: idMarker, maxUploads: 2)
            seen += page.uploads.map(\.uploadId)
            guard page.isTruncated else { break }
            keyMarker = page.nextKeyMarker
            idMarker = page.nextUploadIdMarker
        }
        XCTAssertEqual(seen, all.uploads.map(\.uploadId))
    }

    func testPartReuploadedDuringCompleteIsCaught() async throws {
        // Two concurrent uploads to one key are independent; the last Complete wins.
        let u1 = try await store.createUpload(bucket: "bkt", key: "k", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let u2 = try await store.createUpload(bucket: "bkt", key: "k", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let a = try await putPart(u1, 1, pattern(1, 100))
        let b = try await putPart(u2, 1, pattern(2, 100))
        _ = try await complete(u2, [b])
        _ = try await complete(u1, [a])
        await assertEqual(try await store.get("bkt", "k"), pattern(1, 100))
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }

    func testBucketConfigIsDurableAndGoesWithTheBucket() async throws {
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: Array("<a/>".utf8))
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: Array("<b/>".utf8))
        await assertStoreError(.noSuchBucket) { try await self.store.putBucketConfig(bucket: "nope", name: .lifecycle, document: [1]) }
        try store.close()
        store = try ObjectStore(directory: dir, options: options())
        await assertEqual(try await store.bucketConfig(bucket: "bkt", name: .lifecycle), Array("<b/>".utf8))
        var (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: [])
        await assertEqual(try await store.bucketConfig(bucket: "bkt", name: .lifecycle), nil)
        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: [1])
        try await store.deleteBucket("bkt")
        try await store.createBucket("bkt")
        await assertEqual(try await store.bucketConfig(bucket: "bkt", name: .lifecycle), nil)
        (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }

    func testAllUploadsListsEveryBucket() async throws {
        try await store.createBucket("other")
        let a = try await store.createUpload(bucket: "bkt", key: "x", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let b = try await store.createUpload(bucket: "other", key: "y", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        await assertEqual(Set(try await store.allUploads().map(\.uploadId)), [a.uploadId, b.uploadId])
    }

    /// S3 deletes a bucket that has in-progress uploads, and they are gone with it.
    func testDeletingTheBucketEndsItsUploads() async throws {
        let upload = try await store.createUpload(bucket: "bkt", key: "x", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        try await putPart(upload, 1, pattern(1, 300))
        try await store.deleteBucket("bkt")
        try await store.createBucket("bkt")
        await assertEqual(try await store.allUploads().count, 0)
        await assertStoreError(.noSuchUpload) { try await self.putPart(upload, 2, [1]) }
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }
}
