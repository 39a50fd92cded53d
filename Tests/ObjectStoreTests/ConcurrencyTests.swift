import Foundation
import StrataTestSupport
import XCTest
@testable import ObjectStore

final class ConcurrencyTests: XCTestCase {
    /// Many concurrent puts to different keys and to the same keys, with readers running
    /// meanwhile: a reader sees a whole old or a whole new object, never a mix, and the
    /// last commit (highest sequence) wins.
    func testConcurrentWritersAndReadersNeverSeeAMix() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 64 * 1024))
        defer { try? store.close() }
        try await store.createBucket("bkt")
        // Every version of a shared key is one repeated byte, so a mix is visible.
        func body(_ writer: Int, _ round: Int) -> [UInt8] { [UInt8](repeating: UInt8(writer * 16 + round % 16), count: 2500 + writer * 10) }
        try await store.putObject(bucket: "bkt", key: "shared", data: body(0, 0))
        let results = try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { group in
            for writer in 1...8 {
                group.addTask {
                    var mine: [(UInt64, [UInt8])] = []
                    for round in 0..<10 {
                        let data = body(writer, round)
                        try await store.putObject(bucket: "bkt", key: "own-\(writer)-\(round)", data: data)
                        mine.append((try await store.putObject(bucket: "bkt", key: "shared", data: data).sequence, data))
                    }
                    return mine
                }
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<40 {
                        let got = try await store.get("bkt", "shared")
                        XCTAssertTrue(got.allSatisfy { $0 == got[0] }, "a reader saw a mix of two versions")
                        XCTAssertEqual(got.count, 2500 + Int(got[0] / 16) * 10, "whole version")
                    }
                    return []
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let last = results.max { $0.0 < $1.0 }!
        await assertEqual(try await store.get("bkt", "shared"), last.1, "the highest sequence wins")
        for writer in 1...8 {
            for round in 0..<10 {
                await assertEqual(try await store.get("bkt", "own-\(writer)-\(round)"), body(writer, round))
            }
        }
        XCTAssertEqual(Set(results.map(\.0)).count, results.count, "sequence numbers are unique")
        XCTAssertLessThan(store.committer.batches, store.committer.commits, "concurrent commits shared syncs")
    }
}
