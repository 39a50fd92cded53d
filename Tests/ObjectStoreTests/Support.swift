import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Flips the bits of one byte of a segment file in the data directory `dir`, behind
/// the store's back (corruption tests).
func flipByte(in dir: String, segment: UInt64, at offset: UInt64) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: dir + "/segments/" + SegmentLog.fileName(segment)))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    let byte = try XCTUnwrap(try handle.read(upToCount: 1))
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: [byte[0] ^ 0x5A])
}

/// Small records and segments, so tests cross record and segment boundaries.
func smallOptions(maxSegmentSize: UInt64 = 1 << 30) -> ObjectStore.Options {
    ObjectStore.Options(segments: .init(maxSegmentSize: maxSegmentSize), dataRecordSize: 1000, ioThreads: 2)
}

/// Every entry of every table a rebuild recreates, for comparing two indexes.
func dumpIndex(_ index: ObjectIndex) throws -> [String: [[UInt8]: [UInt8]]] {
    var out: [String: [[UInt8]: [UInt8]]] = [:]
    try index.environment.read { txn in
        for table in index.viewTables {
            var entries: [[UInt8]: [UInt8]] = [:]
            try txn.withCursor(table) { c in
                var e = try c.first()
                while let (k, v) = e {
                    entries[k] = v
                    e = try c.next()
                }
            }
            out[table.name] = entries
        }
    }
    return out
}

/// Rebuilds an index from a copy of `directory`'s segments and returns both dumps.
func liveAndRebuiltIndex(_ directory: String) throws -> (live: [String: [[UInt8]: [UInt8]]], rebuilt: [String: [[UInt8]: [UInt8]]]) {
    let live = try ObjectIndex(path: directory + "/index")
    let liveDump = try dumpIndex(live)
    let scratch = makeTestDirectory("rebuild")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let log = try SegmentLog(directory: directory + "/segments")
    let fresh = try ObjectIndex(path: scratch)
    _ = try Recovery.rebuild(log: log, index: fresh, repair: false)
    return (liveDump, try dumpIndex(fresh))
}


extension ObjectStore {
    /// A store with a bit of everything: objects, versions, a delete marker, an open
    /// upload with a part, a bucket configuration, a deleted key's tombstone (for reset
    /// and snapshot tests). Returns the open upload and its part's ETag.
    func fillWithABitOfEverything() async throws -> (uploadId: String, partETag: String) {
        try await createBucket("plain")
        for i in 0..<20 { try await putObject(bucket: "plain", key: "k\(i)", data: pattern(i, 3000)) }
        _ = try await deleteObject(bucket: "plain", key: "k0")
        try await createBucket("versioned")
        try await setVersioning(bucket: "versioned", .enabled)
        for i in 0..<3 { try await putObject(bucket: "versioned", key: "v", data: pattern(100 + i, 2000)) }
        _ = try await deleteObject(bucket: "versioned", key: "v")
        try await putBucketConfig(bucket: "plain", name: .lifecycle, document: Array("<LifecycleConfiguration/>".utf8))
        let upload = try await createUpload(bucket: "plain", key: "big", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let part = try await makePartWriter(bucket: "plain", key: "big", uploadId: upload.uploadId, partNumber: 1)
        try await part.write(ByteBuffer(bytes: pattern(7, 5000)))
        return (upload.uploadId, try await part.finish().etag)
    }

    func get(_ bucket: String, _ key: String) async throws -> [UInt8] {
        try await getObject(bucket: bucket, key: key).readAll()
    }
}

func assertStoreError<T>(_ code: StoreError.Code, _ body: () async throws -> T, file: StaticString = #filePath, line: UInt = #line) async {
    do {
        _ = try await body()
        XCTFail("expected \(code)", file: file, line: line)
    } catch let e as StoreError {
        XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
    } catch {
        XCTFail("expected \(code), got \(error)", file: file, line: line)
    }
}

/// XCTAssertEqual for expressions that await.
func assertEqual<T: Equatable>(_ a: @autoclosure () async throws -> T, _ b: @autoclosure () async throws -> T, _ message: String = "",
                               file: StaticString = #filePath, line: UInt = #line) async {
    do {
        let x = try await a(), y = try await b()
        XCTAssertEqual(x, y, message, file: file, line: line)
    } catch {
        XCTFail("threw \(error) \(message)", file: file, line: line)
    }
}

/// A test class whose every test gets a fresh temporary directory, removed afterwards.
class DirectoryTestCase: XCTestCase {
    var dir = ""

    override func setUp() async throws {
        dir = makeTestDirectory()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// A test class whose every test gets a fresh store (``smallOptions()``) in a temporary
/// directory, closed and removed afterwards; `initialBuckets` are created first.
class StoreTestCase: DirectoryTestCase {
    var store: ObjectStore!

    /// Buckets every test starts with.
    var initialBuckets: [String] { [] }

    override func setUp() async throws {
        try await super.setUp()
        store = try ObjectStore(directory: dir, options: smallOptions())
        for bucket in initialBuckets { try await store.createBucket(bucket) }
    }

    override func tearDown() async throws {
        try? store?.close()
        try await super.tearDown()
    }
}
