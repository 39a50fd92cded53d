import Foundation
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Torn-tail recovery: the last segment is cut at every interesting offset (inside a
/// header, inside a payload, between records) and the store reopened: exactly the
/// commits whose records are whole are there, byte-exact, and the store takes writes.
final class RecoveryTests: XCTestCase {
    func testTornTailAtEveryInterestingOffset() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // History: after each commit, the end of the log and the expected objects.
        var history: [(end: UInt64, objects: [String: [UInt8]])] = []
        var objects: [String: [UInt8]] = [:]
        var snapshotEnd: UInt64 = 0
        do {
            var store = try ObjectStore(directory: dir, options: smallOptions())
            try await store.createBucket("bkt")
            history.append((store.log.end.offset, objects))
            for i in 0..<12 {
                let key = "k\(i % 5)"
                if i % 4 == 3 {
                    try await store.deleteObject(bucket: "bkt", key: key)
                    objects[key] = nil
                } else {
                    let data = pattern(i, 700 * i)
                    try await store.putObject(bucket: "bkt", key: key, data: data)
                    objects[key] = data
                }
                history.append((store.log.end.offset, objects))
                if i == 5 {
                    // An index snapshot whose checkpoint is in the middle of the log.
                    try store.close()
                    try FileManager.default.copyItem(atPath: dir + "/index", toPath: dir + "/index-at-5")
                    snapshotEnd = history.last!.end
                    store = try ObjectStore(directory: dir, options: smallOptions())
                }
            }
            try store.close()
        }
        let segment = dir + "/segments/" + SegmentLog.fileName(1)
        let original = try Data(contentsOf: URL(fileURLWithPath: segment))
        // Every record boundary, and offsets inside headers and payloads around it.
        var cuts = Set<UInt64>()
        var boundaries: [UInt64] = [UInt64(SegmentFormat.fileHeaderSize)]
        var scanner = try SegmentScanner(file: try SegmentLog(directory: dir + "/segments").file(1)!)
        while let r = try scanner.next() {
            for delta in [0, 1, 4, 16, 31, 32, 33] as [UInt64] { cuts.insert(r.ref.offset + delta) }
            cuts.insert(r.ref.offset + r.ref.size / 2)
            cuts.insert(r.ref.end.offset - 1)
            boundaries.append(r.ref.end.offset)
        }
        cuts.insert(UInt64(original.count))
        let first = history[0].end
        for cut in cuts.sorted() where cut >= first && cut <= UInt64(original.count) {
            let copy = makeTestDirectory("cut")
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try FileManager.default.createDirectory(atPath: copy + "/segments", withIntermediateDirectories: true)
            try original.prefix(Int(cut)).write(to: URL(fileURLWithPath: copy + "/segments/" + SegmentLog.fileName(1)))
            // The index can never be ahead of the durable log; use the snapshot when it is not.
            if cut >= snapshotEnd {
                try FileManager.default.copyItem(atPath: dir + "/index-at-5", toPath: copy + "/index")
            }
            let expected = history.last { $0.end <= cut }!.objects
            let store = try ObjectStore(directory: copy, options: smallOptions())
            let listed = try await store.listObjects(bucket: "bkt", ListRequest()).objects.map(\.key)
            XCTAssertEqual(listed, expected.keys.sorted(), "cut at \(cut)")
            for (key, data) in expected {
                await assertEqual(try await store.get("bkt", key), data, "cut at \(cut): \(key)")
            }
            // The torn part of the tail is gone (whole records stay, committed or not),
            // and the store takes (and keeps) new writes.
            XCTAssertEqual(try store.log.file(1)!.size(), boundaries.last { $0 <= cut }!, "cut at \(cut)")
            try await store.putObject(bucket: "bkt", key: "after", data: [9, 9])
            try store.close()
            let reopened = try ObjectStore(directory: copy, options: smallOptions())
            await assertEqual(try await reopened.get("bkt", "after"), [9, 9], "cut at \(cut)")
            try reopened.close()
            let (live, rebuilt) = try liveAndRebuiltIndex(copy)
            XCTAssertEqual(live, rebuilt, "cut at \(cut)")
        }
    }

    /// `strata recover --rebuild-index`: dropping the index and replaying every segment
    /// gives back the same objects.
    func testRebuildFromSegmentsAloneRestoresEverything() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        for i in 0..<30 { try await store.putObject(bucket: "bkt", key: "k\(i % 10)", data: pattern(i, 900)) }
        try await store.deleteObject(bucket: "bkt", key: "k3")
        try store.close()
        let (before, _) = try liveAndRebuiltIndex(dir)
        try FileManager.default.removeItem(atPath: dir + "/index")
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try store.close()
        let (after, _) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(before, after)
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        defer { try? store.close() }
        await assertEqual(try await store.get("bkt", "k9"), pattern(29, 900))
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "k3") }
    }

    /// A damaged record in a sealed (not last) segment is corruption, not a torn tail:
    /// opening skips it, reports it, and keeps every record after it.
    func testCorruptionInASealedSegmentIsSkippedAndReported() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 4096))
        try await store.createBucket("bkt")
        for i in 0..<10 { try await store.putObject(bucket: "bkt", key: "k\(i)", data: pattern(i, 900)) }
        try store.close()
        XCTAssertGreaterThan(store.log.segmentIDs.count, 2)
        try FileManager.default.removeItem(atPath: dir + "/index")
        let handle = FileHandle(forWritingAtPath: dir + "/segments/" + SegmentLog.fileName(1))!
        handle.seek(toFileOffset: 200)
        handle.write(Data([0xAB, 0xCD]))
        handle.closeFile()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 4096))
        defer { try? store.close() }
        XCTAssertEqual(store.recovery.damaged.map(\.segment), [1])
        XCTAssertNil(store.recovery.tornTail)
        var readable = 0
        for i in 0..<10 {
            do {
                let bytes = try await store.get("bkt", "k\(i)")
                XCTAssertEqual(bytes, pattern(i, 900))
                readable += 1
            } catch let error as StoreError {
                XCTAssertTrue([.corrupt, .noSuchKey].contains(error.code), "\(error)")
            }
        }
        XCTAssertEqual(readable, 9, "one damaged record costs one object")
    }
}
