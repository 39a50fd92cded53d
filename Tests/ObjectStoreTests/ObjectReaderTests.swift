import Foundation
import NIOCore
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// The read paths the HTTP front uses: chunked async streaming, narrowed ranges, file
/// regions for sendfile, and the copy path.
final class ObjectReaderTests: StoreTestCase {
    override var initialBuckets: [String] { ["bkt"] }

    private func streamed(_ reader: ObjectReader, chunkSize: Int) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await store.stream(reader, chunkSize: chunkSize) { chunk in
            XCTAssertLessThanOrEqual(chunk.readableBytes, chunkSize)
            out += chunk.readableBytesView
        }
        return out
    }

    func testStreamReturnsTheBytesAcrossRecordBoundaries() async throws {
        let data = pattern(7, 4321)  // five 1000-byte data records
        try await store.putObject(bucket: "bkt", key: "k", data: data)
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        for chunkSize in [1, 333, 1000, 4096] {
            await assertEqual(try await streamed(reader, chunkSize: chunkSize), data)
        }
    }

    func testNarrowedReaderServesExactlyTheRange() async throws {
        let data = pattern(8, 3500)
        try await store.putObject(bucket: "bkt", key: "k", data: data)
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        for range: Range<UInt64> in [0..<1, 999..<1001, 1000..<2000, 2500..<3500, 0..<3500, 1234..<1235] {
            let narrowed = reader.narrowed(to: range)
            XCTAssertEqual(narrowed.range, range)
            XCTAssertEqual(narrowed.pieces.reduce(0) { $0 + $1.length }, UInt64(range.count))
            for piece in narrowed.pieces {
                // Each piece keeps the extent it lies in: the record its check reads.
                XCTAssertTrue(piece.offset >= piece.extent.offset && piece.offset + piece.length <= piece.extent.offset + piece.extent.length)
                XCTAssertTrue(reader.info.extents.contains(piece.extent))
            }
            await assertEqual(try await streamed(narrowed, chunkSize: 700), Array(data[Int(range.lowerBound)..<Int(range.upperBound)]))
        }
    }

    func testFileRegionsCoverThePiecesOnTheirOwnDescriptors() async throws {
        let data = pattern(9, 2500)
        try await store.putObject(bucket: "bkt", key: "k", data: data)
        let reader = try await store.getObject(bucket: "bkt", key: "k")
        var out: [UInt8] = []
        for piece in reader.pieces {
            let region = try piece.makeFileRegion()
            XCTAssertEqual(region.readableBytes, Int(piece.length))
            let fd = try region.fileHandle.withUnsafeFileDescriptor { $0 }
            XCTAssertNotEqual(fd, piece.file.descriptor, "a duplicated descriptor, closed by the response")
            var buffer = [UInt8](repeating: 0, count: region.readableBytes)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(region.readerIndex)) }
            XCTAssertEqual(n, region.readableBytes)
            out += buffer
            try region.fileHandle.close()
        }
        XCTAssertEqual(out, data)
        // The segment file itself stays open for other readers.
        await assertEqual(try await store.get("bkt", "k"), data)
    }

    func testCopyWritesNewExtentsAndSurvivesDeletingTheSource() async throws {
        let data = pattern(10, 2200)
        let source = try await store.putObject(bucket: "bkt", key: "src", data: data, metadata: ["x-amz-meta-a": "1"])
        let reader = try await store.getObject(bucket: "bkt", key: "src")
        let writer = try await store.makeWriter(bucket: "bkt", key: "dst", metadata: reader.info.metadata)
        // CopyObject's data path: the bytes are written anew (extents are never shared).
        try await store.stream(reader) { try await writer.write($0) }
        let copy = try await writer.finish(checksums: ["CRC32": "AAAAAA=="])
        XCTAssertEqual(copy.etag, source.etag)
        XCTAssertTrue(Set(copy.extents).isDisjoint(with: Set(source.extents)), "extents are never shared")
        try await store.deleteObject(bucket: "bkt", key: "src")
        await assertEqual(try await store.get("bkt", "dst"), data)
        // Checksums are part of the commit record: they survive a reopen.
        try store.close()
        store = try ObjectStore(directory: dir, options: smallOptions())
        await assertEqual(try await store.headObject(bucket: "bkt", key: "dst").checksums, ["CRC32": "AAAAAA=="])
        await assertEqual(try await store.headObject(bucket: "bkt", key: "dst").metadata, ["x-amz-meta-a": "1"])
    }
}
