import Foundation
import NIOCore
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Objects sealed at rest (FORMAT.md, "Encrypted objects"): written through a
/// ``Sealing``, read back only with the object key, whole or in ranges that cross chunk,
/// record and part boundaries; never in plaintext in a segment; moved by compaction and
/// replayed by a rebuild without any key.
final class EncryptedObjectTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = makeTestDirectory("encrypted")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Records of 1000 bytes (rounded up to one 64 KiB chunk when sealed), parts from 1 byte.
    private var options: ObjectStore.Options {
        var options = smallOptions(maxSegmentSize: 1 << 20)
        options.minPartSize = 1
        return options
    }

    private func sealing(_ key: EncryptionKey = .random(), kind: ObjectEncryption.Kind = .s3) -> Sealing {
        Sealing(objectKey: key, encryption: ObjectEncryption(kind: kind, wrappedKey: [1, 2, 3]), etagIsMD5: kind == .s3,
                checksMD5: false)
    }

    private func put(_ store: ObjectStore, _ key: String, _ data: [UInt8], _ sealing: Sealing, pieces: Int = 7) async throws -> ObjectInfo {
        let writer = try await store.makeWriter(bucket: "bkt", key: key, sealing: sealing)
        // Odd-sized writes, so chunk and record boundaries fall inside them.
        var offset = 0
        let step = max(1, data.count / pieces + 1)
        while offset < data.count {
            let end = min(data.count, offset + step)
            try await writer.write(Array(data[offset..<end]))
            offset = end
        }
        return try await writer.finish()
    }

    private func read(_ store: ObjectStore, _ key: String, with objectKey: EncryptionKey, range: Range<UInt64>? = nil) async throws -> [UInt8] {
        let reader = try await store.getObject(bucket: "bkt", key: key, range: range).opened(with: objectKey)
        var out: [UInt8] = []
        try await store.stream(reader, chunkSize: 100_000) { out.append(contentsOf: Array(buffer: $0)) }
        XCTAssertEqual(out, try reader.readAll(), "the blocking read gives the same bytes")
        return out
    }

    private func segmentBytes() throws -> [UInt8] {
        let segments = dir + "/segments"
        var all: [UInt8] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: segments) {
            all += Array(try Data(contentsOf: URL(fileURLWithPath: segments + "/" + name)))
        }
        return all
    }

    func testSealedObjectsOfEverySizeReadBackWholeAndInRanges() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        defer { try? store.close() }
        try await store.createBucket("bkt")
        let chunk = SealedStream.chunkSize
        for size in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + 17, 200_003] {
            let data = pattern(size, size)
            let sealing = self.sealing()
            let info = try await put(store, "k\(size)", data, sealing)
            XCTAssertEqual(info.size, UInt64(size), "the size is the plaintext's")
            XCTAssertEqual(info.extents.reduce(0) { $0 + $1.length }, SealedStream.sealedSize(plaintext: UInt64(size)))
            XCTAssertEqual(info.encryption?.salts.count, 1)
            XCTAssertEqual(info.etag, Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined(),
                           "SSE-S3 keeps the MD5 ETag")
            await assertEqual(try await read(store, "k\(size)", with: sealing.objectKey), data, "size \(size)")
            guard size > 0 else { continue }
            // Ranges that start and end on both sides of chunk boundaries, and single bytes.
            let cuts = Set([0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk - 3, size / 2, size - 1].filter { $0 < size })
            for start in cuts {
                for end in cuts.map({ $0 + 1 }) where end > start {
                    let got = try await read(store, "k\(size)", with: sealing.objectKey, range: UInt64(start)..<UInt64(end))
                    XCTAssertEqual(got, Array(data[start..<end]), "size \(size) range \(start)..<\(end)")
                }
            }
        }
    }

    func testNoPlaintextReachesASegmentAndAWrongKeyOpensNothing() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        defer { try? store.close() }
        try await store.createBucket("bkt")
        let secret = Array("SECRET-MARKER-0123456789".utf8), plain = Array("PLAIN-MARKER-0123456789".utf8)
        let data = pattern(1, 70_000) + secret + pattern(2, 70_000)
        let sealing = self.sealing(kind: .customer)
        let info = try await put(store, "sealed", data, sealing)
        XCTAssertNotEqual(info.etag, Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined(),
                          "an SSE-C ETag is not the MD5 of the data")
        XCTAssertEqual(info.etag.count, 32)
        try await store.putObject(bucket: "bkt", key: "plain", data: plain)
        let bytes = try segmentBytes()
        XCTAssertNotNil(bytes.firstRange(of: plain), "the unsealed marker is there: the scan can find one")
        XCTAssertNil(bytes.firstRange(of: secret), "the sealed marker is in no segment")

        let reader = try await store.getObject(bucket: "bkt", key: "sealed").opened(with: .random())
        var handed = 0
        do {
            try await store.stream(reader) { handed += $0.readableBytes }
            XCTFail("a wrong key must not open the object")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .corrupt)
        }
        XCTAssertEqual(handed, 0, "no byte is handed on when the first chunk does not open")
        // Without any key: refused, not ciphertext.
        await assertStoreError(.internalError) { try await store.getObject(bucket: "bkt", key: "sealed").readAll() }
    }

    func testEncryptedMultipartObjectIsOneStreamPerPart() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        defer { try? store.close() }
        try await store.createBucket("bkt")
        let key = EncryptionKey.random()
        let sealing = self.sealing(key, kind: .kms)
        let upload = try await store.createUpload(bucket: "bkt", key: "mp", metadata: [:], checksumAlgorithm: nil,
                                                  checksumType: nil, encryption: sealing.encryption)
        await assertStoreError(.internalError) {
            try await store.makePartWriter(bucket: "bkt", key: "mp", uploadId: upload.uploadId, partNumber: 1)
        }
        let sizes = [70_000, 65_536, 1, 100_000]
        var parts: [CompletedPart] = []
        var all: [UInt8] = []
        for (index, size) in sizes.enumerated() {
            let data = pattern(10 + index, size)
            let writer = try await store.makePartWriter(bucket: "bkt", key: "mp", uploadId: upload.uploadId,
                                                        partNumber: index + 1, sealing: sealing)
            try await writer.write(ByteBuffer(bytes: data))
            let part = try await writer.finish()
            XCTAssertNotNil(part.salt)
            parts.append(CompletedPart(partNumber: index + 1, etag: part.etag))
            all += data
        }
        let info = try await store.completeUpload(bucket: "bkt", key: "mp", uploadId: upload.uploadId, parts: parts,
                                                  conditions: .init()) { _ in [:] }
        XCTAssertEqual(info.encryption?.salts.count, sizes.count)
        XCTAssertEqual(info.encryption?.kind, .kms)
        XCTAssertTrue(info.etag.hasSuffix("-4"))
        await assertEqual(try await read(store, "mp", with: key), all)
        // Ranges across part boundaries (including the 1-byte part) and within one part.
        for (start, end) in [(69_990, 70_010), (135_530, 135_540), (135_536, 135_537), (0, all.count), (200_000, all.count)] {
            await assertEqual(try await read(store, "mp", with: key, range: UInt64(start)..<UInt64(end)), Array(all[start..<end]))
        }
    }

    /// A GET by part number narrows the whole object's reader: an empty last part is a
    /// stream of its own (one empty chunk) that the whole object's stored range covers.
    func testAnEmptyLastPartOfAnEncryptedUploadReadsAsItsPartNumber() async throws {
        let store = try ObjectStore(directory: dir, options: options)
        defer { try? store.close() }
        try await store.createBucket("bkt")
        let key = EncryptionKey.random()
        let sealing = self.sealing(key)
        let upload = try await store.createUpload(bucket: "bkt", key: "mp", metadata: [:], checksumAlgorithm: nil,
                                                  checksumType: nil, encryption: sealing.encryption)
        var parts: [CompletedPart] = []
        let first = pattern(5, 100_000)
        for (number, data) in [(1, first), (2, [UInt8]())] {
            let writer = try await store.makePartWriter(bucket: "bkt", key: "mp", uploadId: upload.uploadId,
                                                        partNumber: number, sealing: sealing)
            try await writer.write(ByteBuffer(bytes: data))
            parts.append(CompletedPart(partNumber: number, etag: try await writer.finish().etag))
        }
        let info = try await store.completeUpload(bucket: "bkt", key: "mp", uploadId: upload.uploadId, parts: parts,
                                                  conditions: .init()) { _ in [:] }
        XCTAssertEqual(info.partSizes, [100_000, 0])
        let whole = try await store.getObject(bucket: "bkt", key: "mp").opened(with: key)
        XCTAssertEqual(whole.storedRange.upperBound, info.extents.reduce(0) { $0 + $1.length }, "the empty part's chunk too")
        XCTAssertEqual(try whole.readAll(), first)
        XCTAssertEqual(try whole.narrowed(to: 0..<100_000).readAll(), first)
        XCTAssertEqual(try whole.narrowed(to: 100_000..<100_000).readAll(), [], "part 2, empty, opens")
        XCTAssertEqual(try whole.narrowed(to: 99_990..<100_000).readAll(), Array(first[99_990...]))
    }

    func testCompactionAndARebuildMoveSealedBytesWithoutKeys() async throws {
        let key = EncryptionKey.random()
        let data = pattern(7, 150_000)
        do {
            let store = try ObjectStore(directory: dir, options: options)
            try await store.createBucket("bkt")
            for i in 0..<20 { try await store.putObject(bucket: "bkt", key: "dead\(i)", data: pattern(i, 60_000)) }
            _ = try await put(store, "sealed", data, sealing(key, kind: .customer))
            for i in 0..<20 { try await store.deleteObject(bucket: "bkt", key: "dead\(i)") }
            let report = try await store.compact(.init(threshold: 0))
            XCTAssertGreaterThan(report.entriesMoved, 0)
            await assertEqual(try await read(store, "sealed", with: key), data)
            try store.close()
        }
        let report = try Verifier(directory: dir, deep: true).run()
        XCTAssertEqual(report.problems, [], "verify --deep checks sealed records without keys")
        // inspect names the kind and nothing of the keys.
        let inspector = try Inspector(directory: dir)
        XCTAssertEqual(try inspector.object(bucket: "bkt", key: "sealed")?.encryption, "SSE-C")
        var summaries: [Inspector.RecordSummary] = []
        for segment in try inspector.segments().segments { summaries += try inspector.records(segment: segment.id).records }
        XCTAssertEqual(summaries.filter { $0.encryption == "SSE-C" }.count, 1, "the commit record (moved by compaction)")
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live["objects"], rebuilt["objects"], "a rebuild replays the encryption field")
        let reopened = try ObjectStore(directory: dir, options: options)
        defer { try? reopened.close() }
        let info = try await reopened.headObject(bucket: "bkt", key: "sealed")
        XCTAssertEqual(info.encryption?.kind, .customer)
        await assertEqual(try await read(reopened, "sealed", with: key), data)
    }

    func testTheEncryptionFieldRoundTripsAndAnOlderEntryHasNone() throws {
        var info = ObjectInfo(bucket: "b", key: "k", size: 5, lastModified: 1, etag: "e", extents: [])
        XCTAssertNil(try Payload.decodeObject(Payload.encode(info)).encryption)
        info.encryption = ObjectEncryption(kind: .kms, kmsKeyID: "arn:aws:kms:us-east-1:123456789012:key/k", context: "e30=",
                                           bucketKeyEnabled: true, wrappedKey: Array(repeating: 9, count: KeyWrap.wrappedSize),
                                           salts: [SealedStream.newSalt(), SealedStream.newSalt()])
        XCTAssertEqual(try Payload.decodeObject(Payload.encode(info)).encryption, info.encryption)
        info.encryption = ObjectEncryption(kind: .customer, customerKeyCheck: .make(for: EncryptionKey.random().symmetric),
                                           salts: [SealedStream.newSalt()])
        XCTAssertEqual(try Payload.decodeObject(Payload.encode(info)).encryption, info.encryption)
    }
}

import Crypto
