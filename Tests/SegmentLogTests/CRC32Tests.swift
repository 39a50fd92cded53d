import XCTest
@testable import SegmentLog

/// The log's CRC-32 comes from libdeflate; records written before it came from zlib, and
/// S3's x-amz-checksum-crc32 is the same function: the two must agree everywhere.
final class CRC32Tests: XCTestCase {
    func testLibdeflateMatchesZlibOnEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { all in
            var lengths = Array(0...300) + [4095, 4096, 4097, 65_536, 1 << 20, (1 << 20) + 13, 3 << 20]
            lengths += (0..<50).map { _ in Int.random(in: 0...(3 << 20)) }
            for length in lengths {
                let start = Int.random(in: 0...((3 << 20) - length))
                let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                XCTAssertEqual(CRC32.checksum(slice), CRC32.zlibChecksum(slice), "length \(length) at \(start)")
                // Continuing from an earlier value, as streamed checks do.
                let seed = UInt32.random(in: 0...UInt32.max)
                XCTAssertEqual(CRC32.checksum(slice, continuing: seed), CRC32.zlibChecksum(slice, continuing: seed))
            }
        }
        // The check value of the CRC-32 (ISO-HDLC) FORMAT.md names.
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }
}
