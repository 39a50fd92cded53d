import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// `recommitVersion` (through the `updateObject` helper at the end): a metadata-only
/// re-commit of a version (object tags, ACLs). The bytes are not rewritten: the new record points at the old extents,
/// the old record becomes dead, live-byte accounting stays exact (`strata verify`), a
/// rebuild gives the same index, and compaction keeps every segment the extents are in.
final class UpdateObjectTests: DirectoryTestCase {
    private func assertVerifiesAndRebuildsEqual(file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(report.problems, [], file: file, line: line)
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        for table in live.keys where table != "meta" {
            XCTAssertEqual(live[table], rebuilt[table], "table \(table): a rebuild must equal the live index", file: file, line: line)
        }
    }

    private static func tags(_ value: String) -> Attributes {
        Attributes(tags: ["t": value], acl: [])
    }

    func testUpdateObjectChangesTagsAndKeepsBytesEtagAndTime() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await store.createBucket("bkt")
        let data = pattern(1, 3500)
        let put = try await store.putObject(bucket: "bkt", key: "k", data: data, tags: ["a": "1"])
        await assertEqual(try await store.headObject(bucket: "bkt", key: "k").tags, ["a": "1"])
        let updated = try await store.updateObject(bucket: "bkt", key: "k") { current in
            XCTAssertEqual(current.tags, ["a": "1"])
            return Attributes(tags: ["x": "y", "z": ""], acl: current.acl)
        }
        XCTAssertGreaterThan(updated.sequence, put.sequence)
        let head = try await store.headObject(bucket: "bkt", key: "k")
        XCTAssertEqual(head.tags, ["x": "y", "z": ""])
        XCTAssertEqual(head.etag, put.etag)
        XCTAssertEqual(head.lastModified, put.lastModified, "S3 keeps Last-Modified on PutObjectTagging")
        XCTAssertEqual(head.extents, put.extents, "no byte is written again")
        await assertEqual(try await store.get("bkt", "k"), data)
        try await store.updateObject(bucket: "bkt", key: "k") { Attributes(tags: [:], acl: $0.acl) }
        await assertEqual(try await store.headObject(bucket: "bkt", key: "k").tags, [:])
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    func testUpdateObjectOfMissingKeyOrBucketChangesNothing() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        defer { try? store.close() }
        try await store.createBucket("bkt")
        await assertStoreError(.noSuchKey) { try await store.updateObject(bucket: "bkt", key: "nope") { _ in Self.tags("1") } }
        await assertStoreError(.noSuchBucket) { try await store.updateObject(bucket: "nob", key: "k") { _ in Self.tags("1") } }
        try await store.putObject(bucket: "bkt", key: "gone", data: [1, 2, 3])
        try await store.deleteObject(bucket: "bkt", key: "gone")
        await assertStoreError(.noSuchKey) { try await store.updateObject(bucket: "bkt", key: "gone") { _ in Self.tags("1") } }
        await assertStoreError(.noSuchVersion) {
            try await store.updateObject(bucket: "bkt", key: "k", versionID: "3HL4kqtJlcpXroDTDmJ") { _ in Self.tags("1") }
        }
    }

    /// A completed multipart object keeps its parts and the upload's tags; re-committing
    /// it must not close its (already closed) upload a second time.
    func testMultipartObjectGetsUploadTagsAndCanBeRetagged() async throws {
        var options = smallOptions()
        options.minPartSize = 1000
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        let upload = try await store.createUpload(bucket: "bkt", key: "m", metadata: [:], checksumAlgorithm: nil, checksumType: nil,
                                                  tags: ["from": "upload"])
        var parts: [PartInfo] = []
        var whole: [UInt8] = []
        for n in 1...2 {
            let data = pattern(10 + n, 1500)
            let writer = try await store.makePartWriter(bucket: "bkt", key: "m", uploadId: upload.uploadId, partNumber: n)
            try await writer.write(ByteBuffer(bytes: data))
            parts.append(try await writer.finish())
            whole += data
        }
        let done = try await store.completeUpload(bucket: "bkt", key: "m", uploadId: upload.uploadId,
                                                  parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: $0.etag) },
                                                  conditions: .init()) { _ in [:] }
        XCTAssertEqual(done.tags, ["from": "upload"])
        let retagged = try await store.updateObject(bucket: "bkt", key: "m") { _ in Self.tags("2") }
        XCTAssertNil(retagged.completesUpload)
        XCTAssertEqual(retagged.partSizes, [1500, 1500])
        await assertEqual(try await store.get("bkt", "m"), whole)
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }

    /// Many tag updates leave the records that wrote the bytes dead and the bytes live:
    /// compaction must keep or move the bytes, and afterwards everything reads back,
    /// verifies (exact live bytes) and rebuilds equal; tags survive a reopen.
    func testTagUpdatesThenCompactionKeepBytesAndRebuildEqual() async throws {
        var store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        var expected: [String: [UInt8]] = [:]
        for k in 0..<4 {
            let data = pattern(20 + k, 2500)
            try await store.putObject(bucket: "bkt", key: "k\(k)", data: data)
            expected["k\(k)"] = data
        }
        for round in 0..<12 {
            for k in 0..<4 {
                try await store.updateObject(bucket: "bkt", key: "k\(k)") { _ in Self.tags("r\(round)") }
            }
        }
        for k in 0..<4 { try await store.putObject(bucket: "bkt", key: "pad\(k)", data: pattern(40 + k, 3000)) }
        let report = try await store.compact(.init(threshold: 0))
        XCTAssertFalse(report.victims.isEmpty)
        for (key, data) in expected {
            await assertEqual(try await store.get("bkt", key), data, key)
            await assertEqual(try await store.headObject(bucket: "bkt", key: key).tags, ["t": "r11"], key)
        }
        try store.close()
        try assertVerifiesAndRebuildsEqual()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        for (key, data) in expected {
            await assertEqual(try await store.get("bkt", key), data, key)
            await assertEqual(try await store.headObject(bucket: "bkt", key: key).tags, ["t": "r11"], key)
        }
        try store.close()
    }

    /// Tag updates racing a compaction that moves the same objects: whatever order they
    /// land in, no object points at a deleted segment.
    func testTagUpdatesDuringCompactionNeverLoseBytes() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        var expected: [String: [UInt8]] = [:]
        for k in 0..<6 {
            let data = pattern(60 + k, 2000)
            try await store.putObject(bucket: "bkt", key: "k\(k)", data: data)
            expected["k\(k)"] = data
        }
        for k in 0..<4 { try await store.putObject(bucket: "bkt", key: "pad\(k)", data: pattern(80 + k, 3000)) }
        async let compaction = store.compact(.init(threshold: 0))
        for round in 0..<5 {
            for k in 0..<6 { try await store.updateObject(bucket: "bkt", key: "k\(k)") { _ in Self.tags("\(round)") } }
        }
        _ = try await compaction
        for (key, data) in expected { await assertEqual(try await store.get("bkt", key), data, key) }
        _ = try await store.compact(.init(threshold: 0))
        for (key, data) in expected { await assertEqual(try await store.get("bkt", key), data, key) }
        try store.close()
        try assertVerifiesAndRebuildsEqual()
    }
}

/// The attributes these tests change, through ``ObjectStore/recommitVersion``.
private struct Attributes {
    var tags: [String: String]
    var acl: [UInt8]
}

extension ObjectStore {
    /// A metadata-only re-commit that sets a version's tags and ACL from `change`.
    @discardableResult
    fileprivate func updateObject(bucket: String, key: String, versionID: String? = nil,
                                  change: @escaping @Sendable (ObjectInfo) throws -> Attributes) async throws -> ObjectInfo {
        try await recommitVersion(bucket: bucket, key: key, versionID: versionID) { info in
            let attributes = try change(info)
            info.tags = attributes.tags
            info.acl = attributes.acl
        }
    }
}
