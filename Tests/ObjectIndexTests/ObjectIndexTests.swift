import Foundation
import XCTest
import ObjectIndex
@testable import ObjectStore

final class ObjectIndexTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "strata-index-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testPutGetDeleteAndCommitOrAbort() throws {
        let index = try ObjectIndex(path: dir)
        try index.environment.write { try $0.put(index.objects, [1, 2], [3]) }
        XCTAssertEqual(try index.environment.read { try $0.get(index.objects, [1, 2]) }, [3])
        struct Boom: Error {}
        XCTAssertThrowsError(try index.environment.write { txn in
            try txn.put(index.objects, [9], [9])
            throw Boom()
        })
        XCTAssertNil(try index.environment.read { try $0.get(index.objects, [9]) }, "a throwing write transaction is aborted")
        XCTAssertTrue(try index.environment.write { try $0.delete(index.objects, [1, 2]) })
        XCTAssertFalse(try index.environment.write { try $0.delete(index.objects, [1, 2]) })
    }

    /// Object keys of a bucket are adjacent and in key-byte order; a cursor seek lands on
    /// the first key at or after the target.
    func testObjectKeysSortByBucketThenKeyBytes() throws {
        let index = try ObjectIndex(path: dir)
        let names = [("b", "a"), ("a", "z"), ("a", "a/b"), ("ab", "a"), ("a", "a"), ("a", "A"), ("a", "é")]
        try index.environment.write { txn in
            for (b, k) in names { try txn.put(index.objects, IndexKey.object(bucket: b, key: Array(k.utf8)), Array("\(b)|\(k)".utf8)) }
        }
        let order = try index.environment.read { txn in
            try txn.withCursor(index.objects) { c -> [String] in
                var out: [String] = []
                var e = try c.first()
                while let (_, v) = e {
                    out.append(String(decoding: v, as: UTF8.self))
                    e = try c.next()
                }
                return out
            }
        }
        XCTAssertEqual(order, ["a|A", "a|a", "a|a/b", "a|z", "a|é", "b|a", "ab|a"])
        let seek = try index.environment.read { txn in
            try txn.withCursor(index.objects) { c in try c.seek(atOrAfter: IndexKey.object(bucket: "a", key: Array("a/".utf8)))?.value }
        }
        XCTAssertEqual(seek.map { String(decoding: $0, as: UTF8.self) }, "a|a/b")
    }

    /// LMDB refuses keys over 511 bytes; names over 480 bytes take the long form.
    func testLongNamesTakeTheHashedLongForm() throws {
        let index = try ObjectIndex(path: dir)
        let long1 = Array(String(repeating: "x", count: 1000).utf8) + [1]
        let long2 = Array(String(repeating: "x", count: 1000).utf8) + [2]
        let k1 = IndexKey.object(bucket: "bkt", key: long1), k2 = IndexKey.object(bucket: "bkt", key: long2)
        XCTAssertEqual(k1.count, IndexKey.inlineLimit + 8)
        XCTAssertTrue(IndexKey.isLongForm(k1))
        XCTAssertNotEqual(k1, k2)
        XCTAssertEqual(k1[0..<IndexKey.inlineLimit], k2[0..<IndexKey.inlineLimit])
        XCTAssertFalse(IndexKey.isLongForm(IndexKey.object(bucket: "bkt", key: Array("short".utf8))))
        try index.environment.write { txn in
            try txn.put(index.objects, k1, [1])
            try txn.put(index.objects, k2, [2])
        }
        XCTAssertEqual(try index.environment.read { try $0.get(index.objects, k2) }, [2])
    }

    func testPrefixSuccessorSkipsEverythingWithThePrefix() {
        XCTAssertEqual(IndexKey.successor(ofPrefix: [1, 2]), [1, 3])
        XCTAssertEqual(IndexKey.successor(ofPrefix: [1, 0xFF]), [2])
        XCTAssertNil(IndexKey.successor(ofPrefix: [0xFF, 0xFF]))
        XCTAssertEqual(IndexKey.decodeBigEndian(IndexKey.bigEndian(UInt64(0x0102_0304_0506_0708)), as: UInt64.self), 0x0102_0304_0506_0708)
    }
}
