import SegmentLog
import XCTest
@testable import ObjectStore

/// The extension area of payloads (FORMAT.md, "Payload encodings"): the count written
/// matches the fields, in the order FORMAT.md lists them, and every field round-trips,
/// unknown ones included.
final class PayloadEncodingTests: XCTestCase {
    func testObjectEntryExtensionAreaCountsItsFieldsAndRoundTrips() throws {
        var info = ObjectInfo(bucket: "bkt", key: "k", versionID: "v1", size: 3, lastModified: 7, etag: "abc-2",
                              metadata: ["content-type": "text/plain"], checksums: [:], acl: [],
                              partSizes: [1, 2], extents: [Extent(segment: 1, offset: 64, length: 3)])
        info.completesUpload = "upload-1"
        info.partChecksums = [["CRC32": "AAAAAA=="], ["CRC32": "BBBBBB=="]]
        info.isDeleteMarker = true
        info.versionSequence = 42
        info.tags = ["colour": "blue"]
        info.unknownExtensions = [0x7777: Array("xyz".utf8)]
        let payload = Payload.encode(info)

        let extents = try Payload.extentListOffset(.putObject, payload)
        var r = ByteReader(payload, offset: extents + 4 + 24)
        XCTAssertEqual(try r.read(UInt16.self), 6)
        var tags: [UInt16] = []
        for _ in 0..<6 {
            tags.append(try r.read(UInt16.self))
            try r.skipBlob()
        }
        XCTAssertEqual(tags, [1, 2, 3, 4, 5, 0x7777])
        XCTAssertTrue(r.isAtEnd)

        let decoded = try Payload.decodeObject(payload)
        XCTAssertEqual(decoded.completesUpload, "upload-1")
        XCTAssertEqual(decoded.partChecksums, info.partChecksums)
        XCTAssertTrue(decoded.isDeleteMarker)
        XCTAssertEqual(decoded.versionSequence, 42)
        XCTAssertEqual(decoded.tags, ["colour": "blue"])
        XCTAssertEqual(decoded.unknownExtensions, [0x7777: Array("xyz".utf8)])
        XCTAssertEqual(Payload.encode(decoded), payload, "re-encoding changes no byte")
    }

    func testDeleteEntryWritesItsTargetAsTheOnlyField() throws {
        let plain = Payload.encodeDelete(bucket: "b", key: "k", versionID: "", time: 1)
        XCTAssertEqual(Array(plain.suffix(2)), [0, 0])
        let targeted = Payload.encodeDelete(bucket: "b", key: "k", versionID: "v", time: 1, targetSequence: 9)
        let entry = try Payload.decodeDeleteEntry(targeted)
        XCTAssertEqual(entry.targetSequence, 9)
    }
}
