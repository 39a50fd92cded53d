import XCTest
@testable import SegmentLog

/// The reader's stop reasons, each by name, on segments built in memory: a torn tail, a
/// damaged record that valid records follow (corruption: skipped, the rest kept), and
/// records that check out but that this build cannot read (refused wherever they are).
final class SegmentScannerTests: XCTestCase {
    /// A committing payload: the payload version byte, then `n` bytes that never form the
    /// record magic.
    static func commitPayload(_ n: Int, seed: UInt8 = 0) -> [UInt8] {
        [SegmentFormat.payloadVersion] + (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) & 0x3F }
    }

    /// A segment file's bytes with these records, and each record's offset.
    static func segment(_ records: [(RecordType, [UInt8])]) -> (bytes: [UInt8], offsets: [UInt64]) {
        var bytes = SegmentFileHeader(segmentID: 1).encoded()
        var offsets: [UInt64] = []
        for (i, (type, payload)) in records.enumerated() {
            offsets.append(UInt64(bytes.count))
            bytes += RecordHeader(type: type, payloadLength: payload.count, payloadCRC: CRC32.checksum(payload),
                                  sequence: type.isCommitting ? UInt64(i + 1) : 0).encoded()
            bytes += payload + [UInt8](repeating: 0, count: SegmentFormat.recordSize(payloadLength: payload.count) - 32 - payload.count)
        }
        return (bytes, offsets)
    }

    /// A record header with any field values, its header CRC correct.
    static func rawHeader(type: UInt8, flags: UInt8 = 0, length: UInt32, payloadCRC: UInt32, sequence: UInt64 = 1) -> [UInt8] {
        var w = ByteWriter()
        w.write(SegmentFormat.recordMagic)
        w.write(type)
        w.write(flags)
        w.write(UInt16(0))
        w.write(length)
        w.write(payloadCRC)
        w.write(sequence)
        w.write(UInt32(0))
        w.write(CRC32.checksum(w.bytes))
        return w.bytes
    }

    static let sample: [(RecordType, [UInt8])] = [
        (.data, commitPayload(200, seed: 1)), (.putObject, commitPayload(40, seed: 2)),
        (.data, commitPayload(13, seed: 3)), (.deleteObject, commitPayload(21, seed: 4)),
        (.data, commitPayload(64, seed: 5)),
    ]

    /// Scans `bytes` to the end: the offsets of the records returned, the damaged spans, the end.
    func scan(_ bytes: [UInt8], resynchronize: Bool = true) throws -> (offsets: [UInt64], damaged: [DamagedSpan], end: SegmentScanner.End, validEnd: UInt64) {
        var scanner = try SegmentScanner(file: InMemorySegment(id: 1, bytes: bytes), resynchronize: resynchronize)
        var offsets: [UInt64] = []
        while let record = try scanner.next() { offsets.append(record.ref.offset) }
        return (offsets, scanner.damaged, scanner.end, scanner.validEnd)
    }

    func testCleanSegmentScansEveryRecord() throws {
        let (bytes, offsets) = Self.segment(Self.sample)
        let result = try scan(bytes)
        XCTAssertEqual(result.offsets, offsets)
        XCTAssertEqual(result.end, .clean)
        XCTAssertEqual(result.damaged, [])
    }

    /// Torn: a record that runs past the end of the file, cut at every byte.
    func testTornTailEndsTheScanAtTheLastWholeRecord() throws {
        let (bytes, offsets) = Self.segment(Self.sample)
        let last = offsets.last!
        for cut in Int(last) + 1..<bytes.count {
            let result = try scan(Array(bytes[..<cut]))
            XCTAssertEqual(result.offsets, Array(offsets.dropLast()), "cut at \(cut)")
            XCTAssertEqual(result.validEnd, last, "cut at \(cut)")
            XCTAssertEqual(result.end, .torn(cut - Int(last) < 32 ? .partialHeader : .runsPastEnd), "cut at \(cut)")
            XCTAssertEqual(result.damaged, [], "cut at \(cut)")
        }
    }

    /// Corrupt-then-valid: a flipped byte anywhere in a record (header or payload) costs
    /// that record and no other; the scan resynchronises at the next one. A flip in the
    /// last record, with nothing valid after it, is a torn tail.
    func testEveryFlippedByteCostsAtMostItsRecord() throws {
        let (bytes, offsets) = Self.segment(Self.sample)
        let ends = Array(offsets.dropFirst()) + [UInt64(bytes.count)]
        for (i, start) in offsets.enumerated() {
            let payloadEnd = Int(start) + 32 + Self.sample[i].1.count
            for position in Int(start)..<payloadEnd {
                var damaged = bytes
                damaged[position] ^= 0x5A
                let result = try scan(damaged)
                var expected = offsets
                expected.remove(at: i)
                XCTAssertEqual(result.offsets, expected, "flip at \(position) in record \(i)")
                if i == offsets.count - 1 {
                    XCTAssertEqual(result.damaged, [], "flip at \(position)")
                    if case .torn = result.end {} else { XCTFail("flip at \(position): \(result.end)") }
                    XCTAssertEqual(result.validEnd, start)
                } else {
                    XCTAssertEqual(result.damaged.map(\.offset), [start], "flip at \(position)")
                    XCTAssertEqual(result.damaged.first?.length, ends[i] - start, "flip at \(position)")
                    XCTAssertEqual(result.end, .clean, "flip at \(position)")
                }
            }
        }
    }

    func testCorruptThenValidNamesTheDamage() throws {
        let (bytes, offsets) = Self.segment(Self.sample)
        var payloadHit = bytes, magicHit = bytes, checksumHit = bytes
        payloadHit[Int(offsets[1]) + 40] ^= 1
        magicHit[Int(offsets[1])] ^= 1
        checksumHit[Int(offsets[1]) + 29] ^= 1
        XCTAssertEqual(try scan(payloadHit).damaged.first?.damage, .badPayloadChecksum)
        XCTAssertEqual(try scan(magicHit).damaged.first?.damage, .badMagic)
        XCTAssertEqual(try scan(checksumHit).damaged.first?.damage, .badHeaderChecksum)
    }

    /// A damaged record whose header checks out is skipped by its length: records inside
    /// its payload (a segment file stored as an object) are never taken for real ones.
    func testRecordsInsideADamagedPayloadAreNotResynchronisedTo() throws {
        let inner = Self.segment([(.putObject, Self.commitPayload(30)), (.deleteObject, Self.commitPayload(30))]).bytes
        var (bytes, offsets) = Self.segment([(.data, Array(inner[32...])), (.putObject, Self.commitPayload(10))])
        bytes[Int(offsets[0]) + 32 + 5] ^= 1  // inside the stored records, so their payload checksum fails
        let result = try scan(bytes)
        XCTAssertEqual(result.offsets, [offsets[1]])
        XCTAssertEqual(result.damaged.map(\.offset), [offsets[0]])
    }

    /// Any one damaged byte of the header of a data record that stores a whole segment
    /// (records, a seal, a record of an unknown type): the header's length is recovered
    /// from its checksum, so the scan resumes after the record and never takes the stored
    /// records for real ones (which could add objects, or refuse the log at their seal).
    func testADamagedHeaderNeverResynchronisesIntoStoredRecords() throws {
        var seal = ByteWriter()
        seal.write(UInt64(1))
        let payload = Self.commitPayload(16)
        let unknown = Self.rawHeader(type: 16, length: UInt32(payload.count), payloadCRC: CRC32.checksum(payload)) + payload + [UInt8](repeating: 0, count: 7)
        let inner = Self.segment([(.putObject, Self.commitPayload(30)), (.data, Self.commitPayload(50))]).bytes + unknown
            + Self.segment([(.seal, seal.bytes)]).bytes.dropFirst(32)
        let (bytes, offsets) = Self.segment([(.putObject, Self.commitPayload(10)), (.data, Array(inner[32...])), (.deleteObject, Self.commitPayload(12))])
        for position in Int(offsets[1])..<Int(offsets[1]) + 32 {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[position] ^= flip
                let result = try scan(damaged)
                XCTAssertEqual(result.offsets, [offsets[0], offsets[2]], "flip \(flip) at \(position)")
                XCTAssertEqual(result.damaged.map(\.offset), [offsets[1]], "flip \(flip) at \(position)")
                XCTAssertEqual(result.damaged.first?.length, offsets[2] - offsets[1])
            }
        }
    }

    /// A seal or an unreadable record found by searching (not at a known boundary) is
    /// not where reading resumes: it may be bytes of a stored object.
    func testSearchSkipsSealsAndUnreadableRecords() throws {
        var seal = ByteWriter()
        seal.write(UInt64(1))
        let (bytes, offsets) = Self.segment([(.data, Self.commitPayload(40)), (.seal, seal.bytes)])
        var damaged = bytes
        // Two bytes of the first header: no one-byte repair, and a wrong length.
        damaged[Int(offsets[0]) + 9] ^= 0x10
        damaged[Int(offsets[0]) + 20] ^= 0x01
        let result = try scan(damaged)
        XCTAssertEqual(result.offsets, [])
        XCTAssertEqual(result.end, .torn(.badHeaderChecksum))
    }

    /// After a machine crash the bytes after the last sync may be garbage: the first
    /// damage ends the scan.
    func testWithoutResynchronisationTheFirstDamageEndsTheScan() throws {
        var (bytes, offsets) = Self.segment(Self.sample)
        bytes[Int(offsets[1]) + 40] ^= 1
        let result = try scan(bytes, resynchronize: false)
        XCTAssertEqual(result.offsets, [offsets[0]])
        XCTAssertEqual(result.end, .torn(.badPayloadChecksum))
        XCTAssertEqual(result.validEnd, offsets[1])
    }

    /// Unknown type: refused in the middle and at the end, never cut as a torn tail.
    func testUnknownTypeIsRefusedWhereverItIs() throws {
        let payload = Self.commitPayload(16)
        let unknown = Self.rawHeader(type: 16, length: UInt32(payload.count), payloadCRC: CRC32.checksum(payload)) + payload + [0]
        let (bytes, offsets) = Self.segment(Self.sample)
        let full = bytes.count + unknown.count
        for (at, cut) in [(Int(offsets[2]), full), (bytes.count, full), (bytes.count, full - 5)] {
            let damaged = Array((Array(bytes[..<at]) + unknown + bytes[at...]).prefix(cut))
            XCTAssertThrowsError(try scan(damaged), "at \(at)") { error in
                XCTAssertEqual((error as? UnsupportedRecord)?.reason, .header(.unknownType(16)))
                XCTAssertTrue("\(error)".contains("newer Strata"), "\(error)")
            }
        }
        // (the last case is torn too: the header is whole, the payload is not)
        // The reserved `relocate` type is not implemented either.
        let relocate = Self.rawHeader(type: RecordType.relocate.rawValue, length: UInt32(payload.count), payloadCRC: CRC32.checksum(payload))
        XCTAssertThrowsError(try scan(bytes + relocate + payload + [0])) {
            XCTAssertEqual(($0 as? UnsupportedRecord)?.reason, .header(.unknownType(10)))
        }
    }

    func testUnknownFlagsAreRefused() throws {
        let payload = Self.commitPayload(7)
        let flagged = Self.rawHeader(type: RecordType.putObject.rawValue, flags: 0x80, length: UInt32(payload.count), payloadCRC: CRC32.checksum(payload))
        XCTAssertThrowsError(try scan(Self.segment(Self.sample).bytes + flagged + payload)) {
            XCTAssertEqual(($0 as? UnsupportedRecord)?.reason, .header(.unknownFlags))
        }
    }

    /// Bad length: a header that checks out with a length over the limit is not ours.
    func testBadLengthIsRefused() throws {
        let huge = Self.rawHeader(type: RecordType.data.rawValue, length: UInt32(SegmentFormat.maxPayloadSize + 1), payloadCRC: 0)
        XCTAssertThrowsError(try scan(Self.segment(Self.sample).bytes + huge)) {
            XCTAssertEqual(($0 as? UnsupportedRecord)?.reason, .header(.badLength(SegmentFormat.maxPayloadSize + 1)))
        }
    }

    func testUnknownPayloadVersionIsRefused() throws {
        let (bytes, _) = Self.segment(Self.sample + [(.putObject, [2, 0, 0, 0])])
        XCTAssertThrowsError(try scan(bytes)) {
            XCTAssertEqual(($0 as? UnsupportedRecord)?.reason, .unknownPayloadVersion(2))
        }
    }

    /// Data after seal: nothing is ever written behind a seal record.
    func testDataAfterSealIsRefused() throws {
        var seal = ByteWriter()
        seal.write(UInt64(1))
        let (bytes, _) = Self.segment(Self.sample + [(.seal, seal.bytes), (.data, [1, 2, 3])])
        XCTAssertThrowsError(try scan(bytes)) { XCTAssertEqual(($0 as? UnsupportedRecord)?.reason, .dataAfterSeal) }
        let sealed = Self.segment(Self.sample + [(.seal, seal.bytes)]).bytes
        XCTAssertEqual(try scan(sealed).end, .clean)
    }
}
