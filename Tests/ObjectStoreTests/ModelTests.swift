import Foundation
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Random sequences of operations checked against an in-memory model, with the store
/// closed and reopened after each step, and the live index compared with a rebuild.
final class ModelTests: XCTestCase {
    struct Model {
        var buckets: [String: [String: [UInt8]]] = [:]

        /// What S3 lists: keys after `after` with the prefix, rolled up at the delimiter.
        func list(_ bucket: String, _ r: ListRequest) -> (keys: [String], prefixes: [String]) {
            let keys = buckets[bucket]!.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            var out: [String] = [], prefixes: [String] = []
            for k in keys where k.hasPrefix(r.prefix) {
                if let d = r.delimiter, let range = k.dropFirst(r.prefix.count).range(of: d) {
                    let cp = String(k[..<range.upperBound])
                    if prefixes.last != cp { prefixes.append(cp) }
                } else {
                    out.append(k)
                }
            }
            return (out, prefixes)
        }
    }

    static let keyPool: [String] = {
        let long = String(repeating: "L", count: 600)
        return ["a", "a/b", "a/c/d", "a/c/e", "b", "b/", "b//c", "c d", "c+d", "é/ü", "z"]
            + [long + "1", long + "2/x", long + "2/y", long + "0"]
    }()

    func testRandomOperationsMatchTheModelAcrossReopens() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix(seed: 20261122)
        var model = Model()
        var store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 * 1024))
        for step in 0..<250 {
            let bucketName = ["one", "two", "three"][rng.next(3)]
            let key = Self.keyPool[rng.next(Self.keyPool.count)]
            switch rng.next(10) {
            case 0:
                if model.buckets[bucketName] == nil {
                    try await store.createBucket(bucketName)
                    model.buckets[bucketName] = [:]
                } else {
                    await assertStoreError(.bucketAlreadyOwnedByYou) { try await store.createBucket(bucketName) }
                }
            case 1:
                switch model.buckets[bucketName] {
                case nil: await assertStoreError(.noSuchBucket) { try await store.deleteBucket(bucketName) }
                case let objects? where !objects.isEmpty: await assertStoreError(.bucketNotEmpty) { try await store.deleteBucket(bucketName) }
                default:
                    try await store.deleteBucket(bucketName)
                    model.buckets[bucketName] = nil
                }
            case 2, 3:
                if model.buckets[bucketName] != nil {
                    try await store.deleteObject(bucket: bucketName, key: key)
                    model.buckets[bucketName]![key] = nil
                }
            default:
                let data = pattern(step, rng.next(3) == 0 ? 0 : rng.next(4000))
                if model.buckets[bucketName] == nil {
                    await assertStoreError(.noSuchBucket) { try await store.putObject(bucket: bucketName, key: key, data: data) }
                } else {
                    try await store.putObject(bucket: bucketName, key: key, data: data)
                    model.buckets[bucketName]![key] = data
                }
            }
            try store.close()
            store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 16 * 1024))
            try await check(store, model, step: step, rng: &rng)
        }
        try store.close()
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt, "a rebuild from segments equals the live index")
        XCTAssertGreaterThan(store.log.segmentIDs.count, 2, "the run crossed segment boundaries")
    }

    private func check(_ store: ObjectStore, _ model: Model, step: Int, rng: inout SplitMix) async throws {
        await assertEqual(try await store.listBuckets().map(\.name), model.buckets.keys.sorted(), "step \(step)")
        for (bucket, objects) in model.buckets {
            for (key, data) in objects where rng.next(4) == 0 {
                await assertEqual(try await store.get(bucket, key), data, "step \(step) \(bucket)/\(key)")
            }
            // Whole listing, then page by page with every page size, with and without a delimiter.
            for delimiter in [nil, "/"] as [String?] {
                for prefix in ["", "a", "a/", "L"] {
                    let want = model.list(bucket, ListRequest(prefix: prefix, delimiter: delimiter))
                    for maxKeys in [1, 2, 1000] {
                        var keys: [String] = [], prefixes: [String] = [], after: String? = nil
                        var pages = 0
                        while true {
                            let page = try await store.listObjects(bucket: bucket, ListRequest(prefix: prefix, delimiter: delimiter, after: after, maxKeys: maxKeys))
                            keys += page.objects.map(\.key)
                            prefixes += page.commonPrefixes
                            pages += 1
                            guard page.isTruncated else { break }
                            after = page.next
                            XCTAssertLessThan(pages, 100)
                        }
                        XCTAssertEqual(keys, want.keys, "step \(step) prefix \(prefix) delimiter \(delimiter ?? "-") max \(maxKeys)")
                        XCTAssertEqual(prefixes, want.prefixes, "step \(step) prefix \(prefix) delimiter \(delimiter ?? "-") max \(maxKeys)")
                    }
                }
            }
        }
    }

    func testMaxKeysZeroReturnsNothingAndIsNotTruncated() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ObjectStore(directory: dir, options: smallOptions())
        defer { try? store.close() }
        try await store.createBucket("bkt")
        try await store.putObject(bucket: "bkt", key: "k", data: [1])
        let page = try await store.listObjects(bucket: "bkt", ListRequest(maxKeys: 0))
        XCTAssertEqual(page.objects.count, 0)
        XCTAssertFalse(page.isTruncated)
    }
}

/// A small deterministic generator, so a failing run can be repeated.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
