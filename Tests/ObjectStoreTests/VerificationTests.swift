import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// `Verifier` on a closed data directory: a healthy store verifies clean, and each kind
/// of damage (made with direct file and LMDB writes) is found and named.
final class VerificationTests: XCTestCase {
    var dir = ""

    override func setUp() async throws {
        dir = makeTestDirectory()
        try await makeHealthyStore(dir)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Puts, an overwrite, a delete, a completed and an aborted multipart upload and a
    /// bucket configuration, over several small segments; then closes the store.
    private func makeHealthyStore(_ dir: String) async throws {
        var options = smallOptions(maxSegmentSize: 8192)
        options.minPartSize = 1500
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        try await store.createBucket("gone")
        try await store.deleteBucket("gone")
        try await store.putObject(bucket: "bkt", key: "a", data: pattern(1, 3000))
        try await store.putObject(bucket: "bkt", key: "b", data: pattern(2, 2500))
        try await store.putObject(bucket: "bkt", key: "a", data: pattern(3, 1200))
        try await store.deleteObject(bucket: "bkt", key: "b")
        try await store.putObject(bucket: "bkt", key: "empty", data: [])

        let upload = try await store.createUpload(bucket: "bkt", key: "multi", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        var parts: [PartInfo] = []
        for (n, data) in [pattern(4, 2000), pattern(5, 700)].enumerated() {
            let writer = try await store.makePartWriter(bucket: "bkt", key: "multi", uploadId: upload.uploadId, partNumber: n + 1)
            try await writer.write(ByteBuffer(bytes: data))
            parts.append(try await writer.finish())
        }
        _ = try await store.completeUpload(bucket: "bkt", key: "multi", uploadId: upload.uploadId,
                                           parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: "\"\($0.etag)\"") },
                                           conditions: .init()) { _ in [:] }

        let aborted = try await store.createUpload(bucket: "bkt", key: "dropped", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let writer = try await store.makePartWriter(bucket: "bkt", key: "dropped", uploadId: aborted.uploadId, partNumber: 1)
        try await writer.write(ByteBuffer(bytes: pattern(6, 1800)))
        _ = try await writer.finish()
        try await store.abortUpload(bucket: "bkt", key: "dropped", uploadId: aborted.uploadId)

        let open = try await store.createUpload(bucket: "bkt", key: "pending", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let pendingWriter = try await store.makePartWriter(bucket: "bkt", key: "pending", uploadId: open.uploadId, partNumber: 1)
        try await pendingWriter.write(ByteBuffer(bytes: pattern(7, 1600)))
        _ = try await pendingWriter.finish()

        try await store.putBucketConfig(bucket: "bkt", name: .lifecycle, document: Array("<LifecycleConfiguration/>".utf8))
        try await store.putObject(bucket: "bkt", key: "last", data: pattern(8, 500))
        try store.close()
    }

    /// Runs `body` on the closed store's index in one write transaction; the environment
    /// is closed again before returning (LMDB wants one environment per file per process).
    private func damageIndex(_ body: (ObjectIndex, Transaction) throws -> Void) throws {
        let index = try ObjectIndex(path: dir + "/index")
        try index.environment.write { txn in try body(index, txn) }
        try index.environment.sync()
    }

    private func objectKey(_ key: String) -> [UInt8] { IndexKey.object(bucket: "bkt", key: Array(key.utf8)) }

    func testHealthyStoreVerifiesClean() throws {
        XCTAssertGreaterThan(try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").count, 2, "the test wants sealed segments")
        for deep in [false, true] {
            let report = try Verifier(directory: dir, deep: deep).run()
            XCTAssertEqual(report.problems, [], "deep \(deep): \(report.problems.map(\.description))")
            XCTAssertTrue(report.isHealthy)
            XCTAssertEqual(report.counts.entries["objects"], 4)  // a, empty, multi, last
            XCTAssertEqual(report.counts.entries["uploads"], 1)
            XCTAssertEqual(report.counts.entries["parts"], 1)
            XCTAssertEqual(report.counts.entries["configs"], 1)
            XCTAssertGreaterThan(report.counts.extents, 4)
            XCTAssertGreaterThan(report.counts.liveCounters, 0)
            XCTAssertGreaterThan(report.counts.rebuiltEntries, 0)
            XCTAssertEqual(report.counts.scannedRecords > 0, deep)
        }
    }

    func testVerifyChangesNothing() throws {
        let before = try segmentContents()
        let (liveBefore, _) = try liveAndRebuiltIndex(dir)
        _ = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(try segmentContents(), before)
        let (liveAfter, _) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(liveAfter, liveBefore)
    }

    func testFlippedByteInSealedSegmentIsCorruption() throws {
        let (segment, recordOffset) = try firstDataRecord(sealed: true)
        try flipByte(in: dir, segment: segment, at: recordOffset + 40)
        // Deep or not, the damaged record is an error named by its place, once; the
        // rebuild the check compares with goes past it (corruption, not the end of the log).
        for deep in [true, false] {
            let report = try Verifier(directory: dir, deep: deep).run()
            XCTAssertFalse(report.isHealthy)
            XCTAssertEqual(report.errors.map(\.code), ["damaged-records"], "deep \(deep): \(report.problems.map(\.description))")
            XCTAssertTrue(report.errors.contains { problem in
                if case .damagedRecords(let span, _) = problem { return span.segment == segment && span.offset == recordOffset }
                return false
            }, "\(report.problems.map(\.description))")
        }
    }

    func testTornTailOfLastSegmentIsOnlyAWarning() throws {
        let last = try segmentFiles().last!
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: last))
        try handle.seekToEnd()
        try handle.write(contentsOf: [0x53, 0x52, 0x45, 0x43, 1, 0, 0, 0, 9, 9])
        try handle.close()
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertTrue(report.isHealthy, "\(report.problems.map(\.description))")
        XCTAssertEqual(report.warnings.map(\.code), ["torn-tail"])
    }

    func testDeletedIndexEntryIsARebuildMismatch() throws {
        try damageIndex { index, txn in XCTAssertTrue(try txn.delete(index.objects, objectKey("last"))) }
        let report = try Verifier(directory: dir).run()
        XCTAssertFalse(report.isHealthy)
        XCTAssertTrue(report.errors.contains(.rebuildMismatch(table: .objects, key: objectKey("last"), difference: .missingFromIndex)),
                      "\(report.problems.map(\.description))")
    }

    func testTamperedLiveCounterIsACounterMismatch() throws {
        var segment: UInt64 = 0
        var stats: [UInt8] = []
        try damageIndex { index, txn in
            try txn.withCursor(index.segments) { c in
                let first = try c.first()!
                segment = IndexKey.decodeBigEndian(first.key, as: UInt64.self)!
                stats = first.value
            }
            var tampered = stats
            tampered[0] &+= 8
            try txn.put(index.segments, IndexKey.segment(segment), tampered)
        }
        let report = try Verifier(directory: dir).run()
        XCTAssertFalse(report.isHealthy)
        XCTAssertTrue(report.errors.contains { problem in
            if case .liveCounterMismatch(segment, let stored, let expected) = problem {
                return stored.bytes == expected.bytes + 8 && stored.records == expected.records
            }
            return false
        }, "\(report.problems.map(\.description))")
    }

    func testEntryPointingAtWrongOffsetIsACommitRecordMismatch() throws {
        try damageIndex { index, txn in
            var value = try txn.get(index.objects, objectKey("a"))!
            var offset = value[16..<24].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            offset += 8
            withUnsafeBytes(of: offset.littleEndian) { value.replaceSubrange(16..<24, with: $0) }
            try txn.put(index.objects, objectKey("a"), value)
        }
        let report = try Verifier(directory: dir).run()
        XCTAssertFalse(report.isHealthy)
        XCTAssertTrue(report.errors.contains { $0.code == "commit-record-mismatch" && $0.key == objectKey("a") },
                      "\(report.problems.map(\.description))")
    }

    func testExtentOutsideDataIsFound() throws {
        try damageIndex { index, txn in
            let value = try txn.get(index.objects, objectKey("a"))!
            var info = try IndexValue.object(value)
            let (seq, ref) = try IndexValue.header(value)
            info.extents[0].offset -= 32  // now it starts in the data record's header
            try txn.put(index.objects, objectKey("a"), IndexValue(sequence: seq, ref: ref, payload: Payload.encode(info)).encoded())
        }
        let report = try Verifier(directory: dir).run()
        XCTAssertTrue(report.errors.contains { $0.code == "extent-outside-data" }, "\(report.problems.map(\.description))")
    }

    /// `strata verify` exits 0 on a clean directory and non-zero after damage.
    func testVerifyCommandExitCode() throws {
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("strata").path
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/strata").standardized.path
        let binary = FileManager.default.isExecutableFile(atPath: sibling) ? sibling : fallback
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary) || ProcessInfo.processInfo.environment["CI"] != nil, "build strata first")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "strata not found at \(binary)")

        let clean = try run(binary, ["verify", "--data", dir, "--deep"])
        XCTAssertEqual(clean.status, 0, clean.output)
        XCTAssertTrue(clean.output.contains("OK"), clean.output)

        try damageIndex { index, txn in XCTAssertTrue(try txn.delete(index.objects, objectKey("a"))) }
        let damaged = try run(binary, ["verify", "--data", dir, "--json"])
        XCTAssertNotEqual(damaged.status, 0, damaged.output)
        let document = try JSONSerialization.jsonObject(with: Data(damaged.output.utf8)) as? [String: Any]
        XCTAssertEqual(document?["ok"] as? Bool, false)
        XCTAssertGreaterThan((document?["problems"] as? [Any])?.count ?? 0, 0)
    }

    // MARK: - Helpers

    private func run(_ binary: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func segmentFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").filter { $0.hasSuffix(".seg") }.sorted().map { dir + "/segments/" + $0 }
    }

    private func segmentContents() throws -> [Data] {
        try segmentFiles().map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    }

    /// The segment id and offset of the first data record in a sealed (not last) segment.
    private func firstDataRecord(sealed: Bool) throws -> (UInt64, UInt64) {
        let log = try SegmentLog(directory: dir + "/segments")
        for id in log.segmentIDs.dropLast() {
            var scanner = try SegmentScanner(file: log.file(id)!)
            while let record = try scanner.next() {
                if record.header.type == .data && record.header.payloadLength > 16 { return (id, record.ref.offset) }
            }
        }
        throw XCTSkip("no data record in a sealed segment")
    }
}
