import Foundation
import NIOCore
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// `Inspector` (behind `strata inspect`): its numbers equal what the index and segments
/// say, it never repairs, and the `strata inspect` binary prints the same numbers as JSON.
final class InspectionTests: DirectoryTestCase {
    /// Puts, an overwrite, a delete, a completed and an aborted multipart upload, across
    /// several small segments. Returns the store, still open.
    private func populate() async throws -> ObjectStore {
        var options = smallOptions(maxSegmentSize: 4096)
        options.minPartSize = 1500
        let store = try ObjectStore(directory: dir, options: options)
        try await store.createBucket("bkt")
        _ = try await store.putObject(bucket: "bkt", key: "a", data: pattern(1, 3000), metadata: ["content-type": "text/plain"])
        _ = try await store.putObject(bucket: "bkt", key: "b", data: pattern(2, 500))
        _ = try await store.putObject(bucket: "bkt", key: "a", data: pattern(3, 2500))
        _ = try await store.putObject(bucket: "bkt", key: "gone", data: pattern(4, 1200))
        try await store.deleteObject(bucket: "bkt", key: "gone")
        let upload = try await store.createUpload(bucket: "bkt", key: "multi", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        var parts: [PartInfo] = []
        for (n, size) in [(1, 1600), (2, 700)] {
            let writer = try await store.makePartWriter(bucket: "bkt", key: "multi", uploadId: upload.uploadId, partNumber: n)
            try await writer.write(ByteBuffer(bytes: pattern(10 + n, size)))
            parts.append(try await writer.finish())
        }
        _ = try await store.completeUpload(bucket: "bkt", key: "multi", uploadId: upload.uploadId,
                                           parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: "\"\($0.etag)\"") },
                                           conditions: .init()) { _ in [:] }
        let aborted = try await store.createUpload(bucket: "bkt", key: "dropped", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let writer = try await store.makePartWriter(bucket: "bkt", key: "dropped", uploadId: aborted.uploadId, partNumber: 1)
        try await writer.write(ByteBuffer(bytes: pattern(20, 1800)))
        _ = try await writer.finish()
        try await store.abortUpload(bucket: "bkt", key: "dropped", uploadId: aborted.uploadId)
        let open = try await store.createUpload(bucket: "bkt", key: "open", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
        let openWriter = try await store.makePartWriter(bucket: "bkt", key: "open", uploadId: open.uploadId, partNumber: 3)
        try await openWriter.write(ByteBuffer(bytes: pattern(30, 1500)))
        _ = try await openWriter.finish()
        return store
    }

    /// Live bytes per segment derived from the index entries themselves (FORMAT.md,
    /// "Live bytes"): each live entry's commit record size (a record two entries point at,
    /// like a completion's object and its upload tombstone, counts for each) plus the
    /// extents of live objects and parts.
    private func expectedLiveBytes(_ index: ObjectIndex) throws -> [UInt64: UInt64] {
        var live: [UInt64: UInt64] = [:]
        try index.environment.read { txn in
            for table in [index.buckets, index.objects, index.tombstones, index.uploads, index.parts] {
                try txn.withCursor(table) { c in
                    var e = try c.first()
                    while let (_, value) = e {
                        let (_, ref) = try IndexValue.header(value)
                        live[ref.segment, default: 0] += ref.size
                        if table.name == "objects" {
                            for x in try IndexValue.object(value).extents { live[x.segment, default: 0] += x.length }
                        } else if table.name == "parts" {
                            for x in try IndexValue.part(value).extents { live[x.segment, default: 0] += x.length }
                        }
                        e = try c.next()
                    }
                }
            }
        }
        return live
    }

    func testLiveAndDeadBytesPerSegmentMatchTheIndexEntries() async throws {
        let store = try await populate()
        let expected = try expectedLiveBytes(store.index)
        try store.close()
        let report = try Inspector(directory: dir).segments()
        XCTAssertGreaterThan(report.segments.count, 2, "small segments should roll over")
        var scanned = 0
        for s in report.segments {
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: dir + "/segments/" + SegmentLog.fileName(s.id))[.size] as? UInt64)
            XCTAssertEqual(s.size, size)
            XCTAssertEqual(s.liveBytes, expected[s.id] ?? 0, "segment \(s.id)")
            XCTAssertEqual(s.deadBytes, size - (expected[s.id] ?? 0), "segment \(s.id)")
            XCTAssertNil(s.tail)
            scanned += s.records
        }
        XCTAssertEqual(report.segments.dropLast().map(\.state), Array(repeating: "sealed", count: report.segments.count - 1))
        XCTAssertEqual(report.segments.last?.state, "active")
        XCTAssertEqual(report.totalLiveBytes, expected.values.reduce(0, +))
        XCTAssertEqual(report.totalSize, report.segments.reduce(0) { $0 + $1.size })
        XCTAssertEqual(report.totalRecords, scanned)
        // Overwritten, deleted and aborted bytes are dead.
        XCTAssertGreaterThan(report.totalDeadBytes, 3000 + 1200 + 1800)
    }

    func testSegmentDumpNamesEveryRecord() async throws {
        let store = try await populate()
        try store.close()
        let inspector = try Inspector(directory: dir)
        var all: [Inspector.RecordSummary] = []
        for id in inspector.segmentIDs {
            let dump = try inspector.records(segment: id)
            XCTAssertFalse(dump.truncated)
            XCTAssertNil(dump.tail)
            XCTAssertEqual(dump.validEnd, dump.size)
            all += dump.records
        }
        XCTAssertEqual(all.first?.type, "createBucket")
        XCTAssertEqual(all.first?.bucket, "bkt")
        XCTAssertTrue(all.allSatisfy { $0.checksum == "ok" })
        let puts = all.filter { $0.type == "putObject" }.map { $0.key ?? "?" }
        XCTAssertEqual(puts, ["a", "b", "a", "gone", "multi"])
        XCTAssertEqual(all.filter { $0.type == "deleteObject" }.map { $0.key }, ["gone"])
        XCTAssertEqual(all.filter { $0.type == "putPart" }.map { $0.partNumber }, [1, 2, 1, 3])
        XCTAssertTrue(all.filter { $0.type == "putPart" }.allSatisfy { $0.uploadId?.count == 20 })
        XCTAssertEqual(all.filter { $0.type == "abortUpload" }.map { $0.key }, ["dropped"])
        XCTAssertEqual(all.filter { $0.type == "createUpload" }.map { $0.key }, ["multi", "dropped", "open"])
        XCTAssertEqual(all.filter { $0.type == "seal" }.count, inspector.segmentIDs.count - 1)
        // Data records: bytes in pieces of at most 1000 (smallOptions), no name, no sequence.
        let data = all.filter { $0.type == "data" }
        XCTAssertEqual(data.reduce(0) { $0 + $1.payloadLength }, 3000 + 500 + 2500 + 1200 + 1600 + 700 + 1800 + 1500)
        XCTAssertTrue(data.allSatisfy { $0.sequence == 0 && $0.key == nil && $0.payloadLength <= 1000 })
        // Commit sequences increase in log order.
        let sequences = all.map(\.sequence).filter { $0 != 0 }
        XCTAssertEqual(sequences, sequences.sorted())
        // --limit
        let first = try inspector.records(segment: inspector.segmentIDs[0], limit: 2)
        XCTAssertEqual(first.records.count, 2)
        XCTAssertTrue(first.truncated)
    }

    func testObjectReportShowsTheCurrentVersionAndItsExtents() async throws {
        let store = try await populate()
        let a = try await store.headObject(bucket: "bkt", key: "a")
        let multi = try await store.headObject(bucket: "bkt", key: "multi")
        try store.close()
        let inspector = try Inspector(directory: dir)
        let report = try XCTUnwrap(try inspector.object(bucket: "bkt", key: "a"))
        XCTAssertEqual(report.size, 2500)
        XCTAssertEqual(report.etag, a.etag)
        XCTAssertEqual(report.sequence, a.sequence)
        XCTAssertEqual(report.metadata, [:], "the overwrite has no content-type")
        XCTAssertEqual(report.extents.map { Extent(segment: $0.segment, offset: $0.offset, length: $0.length) }, a.extents)
        XCTAssertEqual(report.lastModified, Inspector.iso8601(milliseconds: a.lastModified))
        // The commit record is a putObject of that key at that place.
        let dump = try inspector.records(segment: report.commitRecord.segment)
        let commit = try XCTUnwrap(dump.records.first { $0.offset == report.commitRecord.offset })
        XCTAssertEqual(commit.type, "putObject")
        XCTAssertEqual(commit.key, "a")
        XCTAssertEqual(commit.sequence, a.sequence)

        let m = try XCTUnwrap(try inspector.object(bucket: "bkt", key: "multi"))
        XCTAssertEqual(m.partSizes, [1600, 700])
        XCTAssertEqual(m.extents.count, multi.extents.count)
        XCTAssertNotNil(m.completedUpload)
        XCTAssertNil(try inspector.object(bucket: "bkt", key: "gone"))
        XCTAssertNil(try inspector.object(bucket: "nope", key: "a"))
    }

    func testISO8601() {
        XCTAssertEqual(Inspector.iso8601(milliseconds: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Inspector.iso8601(milliseconds: 1_709_210_096_789), "2024-02-29T12:34:56.789Z")
        XCTAssertEqual(Inspector.iso8601(milliseconds: -1), "1969-12-31T23:59:59.999Z")
    }

    func testIndexReportCountsTablesAndCheckpoint() async throws {
        let store = try await populate()
        let counts = try Table.allCases.map { store.index.database(for: $0) }.map { ($0.name, try store.index.environment.count($0)) }
        let end = store.log.end
        try store.close()
        let report = try Inspector(directory: dir).index()
        XCTAssertEqual(report.tables.map(\.name), Inspector.tableNames)
        XCTAssertEqual(report.tables.map(\.entries), counts.map(\.1))
        XCTAssertEqual(report.tables.first { $0.name == "objects" }?.entries, 3)
        XCTAssertEqual(report.tables.first { $0.name == "parts" }?.entries, 1)
        let checkpoint = try XCTUnwrap(report.checkpoint)
        XCTAssertEqual(LogPosition(segment: checkpoint.segment, offset: checkpoint.offset), end)
        XCTAssertGreaterThan(checkpoint.lastSequence, 10)
        XCTAssertGreaterThan(report.mapUsedBytes, 0)
        XCTAssertGreaterThanOrEqual(report.mapSize, report.mapUsedBytes)
    }

    /// The active segment may end in a record being written: inspect reports it and
    /// leaves the file alone (recovery, not inspect, cuts a torn tail).
    func testTornTailIsReportedNotRepaired() async throws {
        let store = try await populate()
        try store.close()
        let inspector = try Inspector(directory: dir)
        let last = try XCTUnwrap(inspector.segmentIDs.last)
        let path = dir + "/segments/" + SegmentLog.fileName(last)
        // A half-written record: a valid header promising more payload than there is.
        let header = RecordHeader(type: .data, payloadLength: 4096, payloadCRC: 0, sequence: 0).encoded()
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        let validSize = handle.seekToEndOfFile()
        handle.write(Data(header + [1, 2, 3]))
        try handle.close()

        let report = try inspector.segments()
        let row = try XCTUnwrap(report.segments.last)
        XCTAssertEqual(row.validEnd, validSize)
        XCTAssertEqual(row.tail, "record runs past the end of the file")
        let dump = try inspector.records(segment: last)
        XCTAssertEqual(dump.validEnd, validSize)
        XCTAssertNotNil(dump.tail)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64, validSize + 35)
    }

    func testCorruptPayloadIsShownAsBad() async throws {
        let store = try await populate()
        let open = try await store.headObject(bucket: "bkt", key: "b")
        try store.close()
        // Flip a byte of b's data.
        let extent = open.extents[0]
        let path = dir + "/segments/" + SegmentLog.fileName(extent.segment)
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        handle.seek(toFileOffset: extent.offset + 10)
        let byte = handle.readData(ofLength: 1)[0]
        handle.seek(toFileOffset: extent.offset + 10)
        handle.write(Data([byte ^ 0xFF]))
        try handle.close()
        let dump = try Inspector(directory: dir).records(segment: extent.segment)
        let bad = dump.records.filter { $0.checksum == "BAD" }
        XCTAssertEqual(bad.count, 1)
        XCTAssertEqual(bad.first?.offset, extent.offset - 32)
        XCTAssertEqual(bad.first?.type, "data")
        // Corruption, not a torn tail: the records after it are listed too.
        XCTAssertNil(dump.tail)
        XCTAssertGreaterThan(dump.records.last?.offset ?? 0, extent.offset)
    }

    // MARK: The strata binary

    private func strataBinary() throws -> String {
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("strata").path
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/strata").standardized.path
        let binary = FileManager.default.isExecutableFile(atPath: sibling) ? sibling : fallback
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary) || ProcessInfo.processInfo.environment["CI"] != nil,
                          "build strata first (swift build) to run the CLI test")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "strata not found at \(binary)")
        return binary
    }

    private func run(_ binary: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, stdout, String(decoding: stderr, as: UTF8.self))
    }

    private func json(_ result: (status: Int32, stdout: Data, stderr: String)) throws -> [String: Any] {
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
    }

    /// Runs against the data directory of a store that is still open, as a server's would be.
    func testInspectCommandPrintsTheSameNumbersAsJSON() async throws {
        let binary = try strataBinary()
        let store = try await populate()
        defer { try? store.close() }
        let a = try await store.headObject(bucket: "bkt", key: "a")
        let expected = try expectedLiveBytes(store.index)
        let sizes = try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").sorted().map {
            try FileManager.default.attributesOfItem(atPath: dir + "/segments/" + $0)[.size] as! UInt64
        }

        let segments = try json(try run(binary, ["inspect", "--data", dir, "--json"]))
        let rows = try XCTUnwrap(segments["segments"] as? [[String: Any]])
        XCTAssertEqual(rows.map { ($0["size"] as? NSNumber)?.uint64Value }, sizes)
        XCTAssertEqual(rows.map { ($0["liveBytes"] as? NSNumber)?.uint64Value },
                       rows.map { expected[($0["id"] as! NSNumber).uint64Value] ?? 0 })
        XCTAssertEqual((segments["totalLiveBytes"] as? NSNumber)?.uint64Value, expected.values.reduce(0, +))
        XCTAssertEqual((segments["totalSize"] as? NSNumber)?.uint64Value, sizes.reduce(0, +))
        XCTAssertEqual(rows.last?["state"] as? String, "active")

        let object = try json(try run(binary, ["inspect", "object", "bkt", "a", "--data", dir, "--json"]))
        XCTAssertEqual((object["size"] as? NSNumber)?.intValue, 2500)
        XCTAssertEqual(object["etag"] as? String, a.etag)
        XCTAssertEqual((object["extents"] as? [[String: Any]])?.count, a.extents.count)
        let missing = try run(binary, ["inspect", "object", "bkt", "gone", "--data", dir])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no such object"), missing.stderr)

        let dump = try json(try run(binary, ["inspect", "segment", "1", "--limit", "3", "--data", dir, "--json"]))
        let records = try XCTUnwrap(dump["records"] as? [[String: Any]])
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual(records.first?["type"] as? String, "createBucket")
        XCTAssertEqual(dump["truncated"] as? Bool, true)

        let index = try json(try run(binary, ["inspect", "index", "--data", dir, "--json"]))
        let tables = try XCTUnwrap(index["tables"] as? [[String: Any]])
        XCTAssertEqual(tables.first { $0["name"] as? String == "objects" }?["entries"] as? Int, 3)
        XCTAssertNotNil(index["checkpoint"] as? [String: Any])

        // The readable forms run too.
        for args in [["inspect"], ["inspect", "segment", "1"], ["inspect", "object", "bkt", "multi"], ["inspect", "index"]] {
            let r = try run(binary, args + ["--data", dir])
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertFalse(r.stdout.isEmpty)
        }
        // Nothing was written: the store still works and its log is where it was.
        _ = try await store.putObject(bucket: "bkt", key: "after", data: pattern(9, 100))
    }
}
