import Foundation
import NIOCore
import XCTest
@testable import S3Server

/// Check values for the five S3 checksum algorithms (CRC64NVME is easy to get wrong:
/// docs/S3-NOTES.md, "Checksum algorithms"), streaming equivalence, and the COMPOSITE
/// multipart form.
final class ChecksumHasherTests: XCTestCase {
    private let check = bytes("123456789")

    private func value(_ algorithm: ChecksumAlgorithm, _ input: [UInt8]) -> [UInt8] {
        ChecksumHasher.digest(algorithm, of: input)
    }

    // MARK: standard catalogue check values over "123456789"

    func testCRC32CheckValue() {
        XCTAssertEqual(value(.crc32, check), bigEndianBytes(UInt32(0xCBF4_3926)))
    }

    func testCRC32CCheckValue() {
        XCTAssertEqual(value(.crc32c, check), bigEndianBytes(UInt32(0xE306_9283)))
    }

    func testCRC64NVMECheckValue() {
        XCTAssertEqual(value(.crc64nvme, check), bigEndianBytes(UInt64(0xAE8B_1486_0A79_9888)))
    }

    func testSHA1AndSHA256OfCheckString() {
        var sha1 = ChecksumHasher(.sha1); sha1.update(check)
        XCTAssertEqual(sha1.finalizeBase64(), "98O8HYCOBHMq32eZZczDTKeuNEE=")
        var sha256 = ChecksumHasher(.sha256); sha256.update(check)
        XCTAssertEqual(sha256.finalizeBase64(), "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=")
    }

    func testBase64IsOfBigEndianDigest() {
        // S3 sends CRC32("123456789") = 0xCBF43926 as base64 of its big-endian bytes.
        var crc = ChecksumHasher(.crc32); crc.update(check)
        XCTAssertEqual(crc.finalizeBase64(), "y/Q5Jg==")
    }

    // MARK: AWS's own vectors (aws-crt ChecksumsTests, aws-c-s3 s3_checksums tests, S3 docs)

    func testAWSCRTCRC32Vectors() {
        XCTAssertEqual(value(.crc32, bytes("Hello")), bigEndianBytes(UInt32(4_157_704_578)))
        XCTAssertEqual(value(.crc32, bytes("{\"foo\":\"base64 encoded sha1 checksum\"}")),
                       bigEndianBytes(UInt32(1_195_144_130)))
    }

    func testAWSCRTCRC32CVectors() {
        XCTAssertEqual(value(.crc32c, bytes("Hello")), bigEndianBytes(UInt32(2_178_485_787)))
        XCTAssertEqual(value(.crc32c, bytes("{\"foo\":\"base64 encoded sha1 checksum\"}")),
                       bigEndianBytes(UInt32(3_565_301_023)))
    }

    func testAWSCRTCRC64NVMEVectors() {
        XCTAssertEqual(value(.crc64nvme, [UInt8](repeating: 0, count: 32)),
                       bigEndianBytes(UInt64(0xCF34_7343_4D4E_CF3B)))
        XCTAssertEqual(value(.crc64nvme, Array(0..<32)), bigEndianBytes(UInt64(0xB9D9_D4A8_492C_BD7F)))
    }

    func testAWSCS3CRC64NVMEOfTenAs() {
        XCTAssertEqual(value(.crc64nvme, bytes("aaaaaaaaaa")),
                       [0x0C, 0x1A, 0x80, 0x03, 0x6D, 0x65, 0xC5, 0x55])
    }

    func testS3DocTrailerExampleCRC32COf66560As() {
        // sigv4-streaming-trailers example: 65 KiB of 'a' sends x-amz-checksum-crc32c:sOO8/Q==
        var hasher = ChecksumHasher(.crc32c)
        hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: 66_560))
        XCTAssertEqual(hasher.finalizeBase64(), "sOO8/Q==")
    }

    // MARK: empty input

    func testEmptyInput() {
        XCTAssertEqual(ChecksumHasher(.crc32).finalize(), [0, 0, 0, 0])
        XCTAssertEqual(ChecksumHasher(.crc32c).finalize(), [0, 0, 0, 0])
        XCTAssertEqual(ChecksumHasher(.crc64nvme).finalize(), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(ChecksumHasher(.sha1).finalizeBase64(), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=")
        XCTAssertEqual(ChecksumHasher(.sha256).finalizeBase64(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    }

    func testDigestLengthsMatchAlgorithm() {
        for algorithm in ChecksumAlgorithm.allCases {
            XCTAssertEqual(ChecksumHasher(algorithm).finalize().count, algorithm.digestLength, "\(algorithm)")
        }
    }

    // MARK: streaming

    func testOddSplitsGiveSameResultAsOneCall() {
        var rng = SplitMix64(seed: 42)
        let data = (0..<10_007).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for algorithm in ChecksumAlgorithm.allCases {
            let whole = ChecksumHasher.digest(algorithm, of: data)
            for maxPiece in [1, 3, 7, 9, 64, 4099] {
                var hasher = ChecksumHasher(algorithm)
                for piece in data.randomPieces(maxPiece: maxPiece, using: &rng) { hasher.update(piece) }
                XCTAssertEqual(hasher.finalize(), whole, "\(algorithm) maxPiece=\(maxPiece)")
            }
        }
    }

    func testSlicingMatchesBytewiseForEveryAlignment() {
        // The 8-byte fast path and the byte tail must agree whatever the length mod 8.
        let data = (0..<37).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for length in 0...data.count {
            let slice = Array(data[0..<length])
            var c32 = CRC32C(), c64 = CRC64NVME()
            for byte in slice {
                [byte].withUnsafeBytes { c32.update($0); c64.update($0) }
            }
            XCTAssertEqual(CRC32C.checksum(slice), c32.value, "crc32c length \(length)")
            XCTAssertEqual(CRC64NVME.checksum(slice), c64.value, "crc64 length \(length)")
        }
    }

    func testByteBufferUpdateDoesNotConsumeAndMatches() {
        var buffer = ByteBuffer(bytes: check)
        buffer.moveReaderIndex(forwardBy: 0)
        var hasher = ChecksumHasher(.crc32c)
        hasher.update(buffer)
        XCTAssertEqual(buffer.readableBytes, 9)
        XCTAssertEqual(hasher.finalize(), bigEndianBytes(UInt32(0xE306_9283)))
    }

    func testFinalizeDoesNotDisturbFurtherUpdates() {
        var hasher = ChecksumHasher(.sha256)
        hasher.update(bytes("1234"))
        _ = hasher.finalize()
        hasher.update(bytes("56789"))
        XCTAssertEqual(hasher.finalizeBase64(), "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=")
    }

    // MARK: names

    func testHeaderAndWireNames() {
        XCTAssertEqual(ChecksumAlgorithm.crc64nvme.headerName, "x-amz-checksum-crc64nvme")
        XCTAssertEqual(ChecksumAlgorithm.crc32c.wireName, "CRC32C")
        XCTAssertEqual(ChecksumAlgorithm(wireName: "SHA256"), .sha256)
        XCTAssertEqual(ChecksumAlgorithm(headerName: "X-Amz-Checksum-CRC32"), .crc32)
        XCTAssertNil(ChecksumAlgorithm(headerName: "x-amz-checksum-md5"))
        XCTAssertNil(ChecksumAlgorithm(wireName: "CRC16"))
    }

    func testDecodeHeaderValueChecksLength() {
        XCTAssertEqual(ChecksumHasher.decodeHeaderValue("y/Q5Jg==", for: .crc32), [0xCB, 0xF4, 0x39, 0x26])
        XCTAssertNil(ChecksumHasher.decodeHeaderValue("y/Q5Jg==", for: .crc64nvme))
        XCTAssertNil(ChecksumHasher.decodeHeaderValue("not base64!", for: .crc32))
    }

    // MARK: COMPOSITE checksums and the multipart ETag (docs/S3-NOTES.md)

    func testCompositeSHA256IsChecksumOfConcatenatedPartDigestsDashN() {
        let parts = [ChecksumHasher.digest(.sha256, of: bytes("part1")),
                     ChecksumHasher.digest(.sha256, of: bytes("part2"))]
        XCTAssertEqual(ChecksumHasher.compositeChecksum(algorithm: .sha256, partDigests: parts),
                       "xheoOGWlJSrr1KooTDWywen6ft/oubM2FCHlVKEDMfM=-2")
    }

    func testCompositeCRC32() {
        let parts = [ChecksumHasher.digest(.crc32, of: bytes("part1")),
                     ChecksumHasher.digest(.crc32, of: bytes("part2"))]
        XCTAssertEqual(ChecksumHasher.compositeChecksum(algorithm: .crc32, partDigests: parts), "ZOITqw==-2")
    }

    func testMD5ETagAndContentMD5() {
        let empty = MD5Hasher()
        XCTAssertEqual(empty.finalizeHex(), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(empty.finalizeBase64(), "1B2M2Y8AsgTpgAmY7PhCfg==")
        XCTAssertEqual(MD5Hasher.decodeContentMD5("1B2M2Y8AsgTpgAmY7PhCfg=="), empty.finalize())
        XCTAssertNil(MD5Hasher.decodeContentMD5("d41d8cd98f00b204e9800998ecf8427e"))
    }

    func testMultipartETagIsMD5OfConcatenatedBinaryMD5sDashN() {
        var a = MD5Hasher(); a.update(bytes("aaaaa"))
        var b = MD5Hasher(); b.update(bytes("bbb"))
        XCTAssertEqual(MD5Hasher.multipartETag(partDigests: [a.finalize(), b.finalize()]),
                       "72d27afac8e2fbd3662861b9d607a02c-2")
    }
}
