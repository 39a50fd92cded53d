import Foundation
import NIOCore
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// A byte of an object flipped on disk, in a sealed segment: every read path checks the
/// data record's CRC-32 and fails with `.corrupt` instead of returning the wrong byte,
/// and `Verifier --deep` names the record.
final class CorruptionTests: XCTestCase {
    var dir = ""
    var store: ObjectStore!
    let data = pattern(1, 3500)  // four data records of 1000, 1000, 1000 and 500 bytes

    override func setUp() async throws {
        dir = makeTestDirectory()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
        try await store.createBucket("bkt")
        try await store.putObject(bucket: "bkt", key: "k", data: data)
        // Later writes roll the log over, so the object's segment is sealed.
        let last = try await store.headObject(bucket: "bkt", key: "k").extents.last!.segment
        var filler = 0
        while store.log.activeSegmentID == last {
            try await store.putObject(bucket: "bkt", key: "filler\(filler)", data: pattern(100 + filler, 1500))
            filler += 1
        }
    }

    override func tearDown() async throws {
        try? store?.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private var extents: [Extent] {
        get async throws { try await store.headObject(bucket: "bkt", key: "k").extents }
    }

    /// Streams, collecting what `body` received before the stream threw.
    private func streamed(_ reader: ObjectReader, chunkSize: Int = 1 << 20) async -> (bytes: [UInt8], error: StoreError?) {
        var out: [UInt8] = []
        do {
            try await store.stream(reader, chunkSize: chunkSize) { out += $0.readableBytesView }
            return (out, nil)
        } catch {
            return (out, error as? StoreError)
        }
    }

    func testFlippedObjectByteIsCorruptOnEveryReadPath() async throws {
        let bad = try await extents[1]
        try flipByte(in: dir, segment: bad.segment, at: bad.offset + 10)
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        let record = bad.offset - UInt64(SegmentFormat.recordHeaderSize)

        // A whole-record chunk is checked in its read buffer; smaller chunks after a
        // separate check. Either way nothing of the damaged record is handed on.
        for chunkSize in [1 << 20, 1000, 333] {
            let (bytes, error) = await streamed(reader, chunkSize: chunkSize)
            XCTAssertEqual(error?.code, .corrupt, "chunk size \(chunkSize)")
            XCTAssertEqual(bytes, Array(data[0..<1000]), "only the intact first record, chunk size \(chunkSize)")
        }
        let message = await streamed(reader).error?.message ?? ""
        // Named as on disk (segments/0000000000000001.seg), not by a bare id.
        XCTAssertTrue(message.contains("segment file \(SegmentLog.fileName(bad.segment)) offset \(record): checksum mismatch"), message)

        XCTAssertThrowsError(try reader.readAll()) { XCTAssertEqual(($0 as? StoreError)?.code, .corrupt) }
        XCTAssertNoThrow(try reader.pieces[0].verify())
        XCTAssertThrowsError(try reader.pieces[1].verify(chunkSize: 64)) { XCTAssertEqual(($0 as? StoreError)?.code, .corrupt) }

        // A range inside the damaged record fails even where its own bytes are intact (the
        // checksum covers the record); a range elsewhere reads fine.
        await assertEqual(await streamed(reader.narrowed(to: 1500..<1600)).error?.code, .corrupt)
        await assertEqual(await streamed(reader.narrowed(to: 2100..<3500)).bytes, Array(data[2100..<3500]))
    }

    func testDamagedRecordHeaderIsCorrupt() async throws {
        let bad = try await extents[2]
        try flipByte(in: dir, segment: bad.segment, at: bad.offset - 24)  // the payload length
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        let (bytes, error) = await streamed(reader)
        XCTAssertEqual(error?.code, .corrupt)
        XCTAssertTrue(error?.message.contains("no valid record header") ?? false, "\(String(describing: error))")
        XCTAssertEqual(bytes, Array(data[0..<2000]))
    }

    func testCopyOfACorruptObjectCommitsNothing() async throws {
        let bad = try await extents[3]
        try flipByte(in: dir, segment: bad.segment, at: bad.offset + bad.length - 1)
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        let writer = try await store.makeWriter(bucket: "bkt", key: "copy")
        await assertStoreError(.corrupt) {
            try await self.store.stream(reader) { try await writer.write($0) }
            return try await writer.finish()
        }
        writer.abort()
        await assertStoreError(.noSuchKey) { try await self.store.headObject(bucket: "bkt", key: "copy") }
    }

    func testDeepVerifyReportsTheDamagedRecord() async throws {
        let bad = try await extents[1]
        try flipByte(in: dir, segment: bad.segment, at: bad.offset + 10)
        try store.close()
        store = nil
        let report = try Verifier(directory: dir, deep: true).run()
        let record = bad.offset - UInt64(SegmentFormat.recordHeaderSize)
        XCTAssertTrue(report.errors.contains { problem in
            if case .damagedRecords(let span, let held) = problem {
                return span.segment == bad.segment && span.offset == record && held.contains { $0.contains("bkt/k") }
            }
            return false
        }, "\(report.problems.map(\.description))")
    }
}
