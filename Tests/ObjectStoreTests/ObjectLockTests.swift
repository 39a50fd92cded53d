import Foundation
import NIOCore
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Object Lock in the engine: a protected version is never removed (by a delete with its
/// id, by lifecycle, which deletes the same way, or by compaction, which reclaims only
/// removed versions); versioning stays Enabled; the lock survives crash replay.
final class ObjectLockTests: XCTestCase {
    var dir: String!

    override func setUp() { dir = makeTestDirectory("object-lock") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func lockedBucket(_ store: ObjectStore) async throws {
        try await store.createBucket("bkt", attributes: [BucketInfo.objectLockAttribute: "Enabled"])
    }

    private func put(_ store: ObjectStore, _ key: String, _ data: [UInt8], lock: ObjectLock?) async throws -> ObjectInfo {
        let writer = try await store.makeWriter(bucket: "bkt", key: key, lock: lock)
        try await writer.write(data)
        return try await writer.finish()
    }

    func testABucketCreatedWithObjectLockIsVersionedFromItsCreationAndStaysSo() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        defer { try? store.close() }
        try await lockedBucket(store)
        await assertEqual(try await store.versioning(bucket: "bkt"), .enabled)
        let first = try await store.putObject(bucket: "bkt", key: "k", data: pattern(1, 10))
        XCTAssertFalse(first.versionID.isEmpty, "the first PUT already gets a version id")
        await assertStoreError(.invalidBucketState) { try await store.setVersioning(bucket: "bkt", .suspended) }
        try await store.setVersioning(bucket: "bkt", .enabled)
        // A bucket without the attribute takes a lock configuration only once versioned.
        try await store.createBucket("plain")
        await assertStoreError(.invalidBucketState) {
            try await store.putObjectLockConfiguration(bucket: "plain", document: Array("<x/>".utf8))
        }
        try await store.setVersioning(bucket: "plain", .enabled)
        try await store.putObjectLockConfiguration(bucket: "plain", document: Array("<x/>".utf8))
        await assertStoreError(.invalidBucketState) { try await store.setVersioning(bucket: "plain", .suspended) }
    }

    func testAProtectedVersionIsNotRemovedButADeleteMarkerIsAdded() async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions())
        defer { try? store.close() }
        try await lockedBucket(store)
        let future = ObjectStore.now() + 3_600_000
        let compliance = try await put(store, "c", pattern(1, 100), lock: ObjectLock(mode: .compliance, retainUntil: future))
        let governance = try await put(store, "g", pattern(2, 100), lock: ObjectLock(mode: .governance, retainUntil: future))
        let held = try await put(store, "h", pattern(3, 100), lock: ObjectLock(legalHold: true))
        let passed = try await put(store, "p", pattern(4, 100), lock: ObjectLock(mode: .compliance, retainUntil: ObjectStore.now() - 1))

        await assertStoreError(.objectLocked) { try await store.deleteObject(bucket: "bkt", key: "c", versionID: compliance.versionID) }
        await assertStoreError(.objectLocked) {
            try await store.deleteObject(bucket: "bkt", key: "c", versionID: compliance.versionID, bypassingGovernance: true)
        }
        await assertStoreError(.objectLocked) { try await store.deleteObject(bucket: "bkt", key: "g", versionID: governance.versionID) }
        await assertStoreError(.objectLocked) {
            try await store.deleteObject(bucket: "bkt", key: "h", versionID: held.versionID, bypassingGovernance: true)
        }
        // Without a version id: a delete marker, the version stays.
        let marker = try await store.deleteObject(bucket: "bkt", key: "c")
        XCTAssertTrue(marker.isDeleteMarker)
        await assertEqual(try await store.getObject(bucket: "bkt", key: "c", versionID: compliance.versionID).readAll(), pattern(1, 100))
        // GOVERNANCE gives way to a bypass; a passed date protects nothing.
        try await store.deleteObject(bucket: "bkt", key: "g", versionID: governance.versionID, bypassingGovernance: true)
        try await store.deleteObject(bucket: "bkt", key: "p", versionID: passed.versionID)
        // A legal hold lifted by a re-commit lets it go.
        _ = try await store.recommitVersion(bucket: "bkt", key: "h", versionID: held.versionID) { $0.lock?.legalHold = false }
        try await store.deleteObject(bucket: "bkt", key: "h", versionID: held.versionID)
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "h") }
    }

    func testLockedVersionsSurviveCompactionAndARebuild() async throws {
        let future = ObjectStore.now() + 3_600_000
        var kept: [(String, String, [UInt8])] = []
        do {
            let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 64 << 10))
            try await lockedBucket(store)
            for i in 0..<20 {
                let data = pattern(i, 3000)
                let lock = i % 2 == 0 ? ObjectLock(mode: .compliance, retainUntil: future) : nil
                let info = try await put(store, "k\(i % 5)", data, lock: lock)
                if lock != nil { kept.append((info.key, info.versionID, data)) } else {
                    try await store.deleteObject(bucket: "bkt", key: info.key, versionID: info.versionID)
                }
            }
            let report = try await store.compact(.init(threshold: 0))
            XCTAssertGreaterThan(report.entriesMoved, 0)
            try store.close()
        }
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live["versions"], rebuilt["versions"], "a rebuild replays the lock field")
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 64 << 10))
        defer { try? store.close() }
        for (key, version, data) in kept {
            await assertEqual(try await store.getObject(bucket: "bkt", key: key, versionID: version).readAll(), data)
            let info = try await store.headObject(bucket: "bkt", key: key, versionID: version)
            XCTAssertEqual(info.lock, ObjectLock(mode: .compliance, retainUntil: future))
            await assertStoreError(.objectLocked) { try await store.deleteObject(bucket: "bkt", key: key, versionID: version) }
        }
        XCTAssertEqual(try Inspector(directory: dir).object(bucket: "bkt", key: kept.last!.0)?.lock?.hasPrefix("COMPLIANCE until "), true)
    }

    func testTheLockFieldRoundTrips() throws {
        var info = ObjectInfo(bucket: "b", key: "k", size: 5, lastModified: 1, etag: "e", extents: [])
        XCTAssertNil(try Payload.decodeObject(Payload.encode(info)).lock)
        for lock in [ObjectLock(mode: .governance, retainUntil: 1_900_000_000_000), ObjectLock(legalHold: true),
                     ObjectLock(mode: .compliance, retainUntil: 2_000_000_000_000, legalHold: true)] {
            info.lock = lock
            XCTAssertEqual(try Payload.decodeObject(Payload.encode(info)).lock, lock)
        }
        info.lock = ObjectLock()
        XCTAssertNil(try Payload.decodeObject(Payload.encode(info)).lock, "an empty lock is not written")
    }
}
