import Foundation
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// The index runs without a sync per commit; `index/session` tells a process crash
/// (trust the index, replay from its checkpoint) from a machine crash (rebuild it).
final class IndexSessionTests: XCTestCase {
    private func fill(_ store: ObjectStore, count: Int) async throws {
        _ = try await store.createBucket("bkt")
        for i in 0..<count { try await store.putObject(bucket: "bkt", key: "k\(i)", data: pattern(i, 1500)) }
    }

    private func sessionPath(_ directory: String) -> String { directory + "/index/session" }

    func testSessionFileLivesWhileOpenAndGoesAtCleanClose() async throws {
        try XCTSkipIf(IndexSession.currentBoot == nil, "no boot id on this system: the index syncs every commit")
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions())
        let recorded = try String(contentsOfFile: sessionPath(dir), encoding: .utf8)
        XCTAssertEqual(recorded.trimmingCharacters(in: .whitespacesAndNewlines), IndexSession.currentBoot)
        try await fill(store, count: 3)
        try store.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: sessionPath(dir)))
    }

    /// A session file of this boot is a process crash: the index is kept (no rebuild) and
    /// every object is there.
    func testProcessCrashKeepsTheIndex() async throws {
        try XCTSkipIf(IndexSession.currentBoot == nil, "no boot id on this system")
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions())
        try await fill(store, count: 5)
        try store.close()
        try (IndexSession.currentBoot! + "\n").write(toFile: sessionPath(dir), atomically: false, encoding: .utf8)

        let reopened = try ObjectStore(directory: dir, options: smallOptions())
        XCTAssertFalse(reopened.recovery.indexDiscardedAfterMachineCrash)
        XCTAssertEqual(reopened.recovery.recordsApplied, 0, "the checkpoint covers everything: nothing to replay")
        for i in 0..<5 { let got = try await reopened.get("bkt", "k\(i)"); XCTAssertEqual(got, pattern(i, 1500)) }
        try reopened.close()
    }

    /// A session file of another boot is a machine crash: the index on disk may be torn
    /// (here: garbage), so it is thrown away and rebuilt from the segments.
    func testMachineCrashRebuildsTheIndexFromSegments() async throws {
        try XCTSkipIf(IndexSession.currentBoot == nil, "no boot id on this system")
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8 << 10))
        try await fill(store, count: 20)
        try await store.deleteObject(bucket: "bkt", key: "k3")
        try store.close()
        try "00000000-0000-0000-0000-000000000000\n".write(toFile: sessionPath(dir), atomically: false, encoding: .utf8)
        // What a lost, unordered set of page writes can leave: not an LMDB file at all.
        try Data(repeating: 0xA5, count: 64 << 10).write(to: URL(fileURLWithPath: dir + "/index/data.mdb"))

        let reopened = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8 << 10))
        XCTAssertTrue(reopened.recovery.indexDiscardedAfterMachineCrash)
        for i in 0..<20 where i != 3 { let got = try await reopened.get("bkt", "k\(i)"); XCTAssertEqual(got, pattern(i, 1500)) }
        do {
            _ = try await reopened.get("bkt", "k3")
            XCTFail("a deleted key came back")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .noSuchKey)
        }
        try reopened.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }
}
