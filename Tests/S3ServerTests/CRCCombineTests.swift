import XCTest
@testable import S3Server

/// FULL_OBJECT multipart checksums: CRCs of parts combined into the CRC of the whole
/// object must equal the CRC computed over the bytes, for every CRC S3 combines.
final class CRCCombineTests: XCTestCase {
    private func data(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) ^ seed }
    }

    func testCombinedPartCRCsEqualWholeObjectCRC() throws {
        let splits: [[Int]] = [[1], [0, 5], [5, 0], [1, 1], [3, 1000, 7], [4096, 4096, 100], [65_537, 3]]
        for algorithm in [ChecksumAlgorithm.crc32, .crc32c, .crc64nvme] {
            for sizes in splits {
                let parts = sizes.enumerated().map { data($0.element, seed: UInt8($0.offset + 1)) }
                let combined = try XCTUnwrap(ChecksumHasher.fullObjectChecksum(
                    algorithm: algorithm,
                    parts: parts.map { (ChecksumHasher.digest(algorithm, of: $0), UInt64($0.count)) }))
                XCTAssertEqual(combined, ChecksumHasher.digest(algorithm, of: parts.flatMap { $0 }), "\(algorithm) \(sizes)")
            }
        }
    }

    func testHashesCannotBeCombined() {
        XCTAssertNil(ChecksumHasher.fullObjectChecksum(algorithm: .sha256, parts: [([UInt8](repeating: 0, count: 32), 1)]))
        XCTAssertNil(ChecksumHasher.fullObjectChecksum(algorithm: .sha1, parts: [([UInt8](repeating: 0, count: 20), 1)]))
    }

    func testWrongDigestLengthIsRefused() {
        XCTAssertNil(ChecksumHasher.fullObjectChecksum(algorithm: .crc32, parts: [([1, 2, 3], 3)]))
    }
}
