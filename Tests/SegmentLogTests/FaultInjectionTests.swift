import Foundation
import XCTest
@testable import SegmentLog

/// Segment writes that fail (a full disk, made with ``FaultInjector``): a failed write
/// leaves no partial record, and the log goes on where it stopped once writes succeed.
final class FaultInjectionTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = makeTestDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testFailedAppendIsCutBackAndTheNextAppendTakesItsPlace() throws {
        let faults = FaultInjector()
        let log = try SegmentLog(directory: dir, options: .init(faults: faults))
        try log.startAppending(at: nil)
        let before = try (0..<3).map { try log.append(type: .data, sequence: 0, payload: pattern($0, 500)) }
        let size = try log.file(1)!.size()

        faults.failWrites()
        XCTAssertThrowsError(try log.append(type: .data, sequence: 0, payload: pattern(9, 500))) { error in
            XCTAssertEqual((error as? IOError)?.errno, ENOSPC)
            XCTAssertTrue((error as? IOError)?.isOutOfSpace ?? false)
        }
        XCTAssertEqual(faults.injectedFailures, 1)
        XCTAssertEqual(try log.file(1)!.size(), size, "the half-written record is cut off")
        XCTAssertEqual(log.end, LogPosition(segment: 1, offset: size))

        faults.clear()
        let after = try log.append(type: .data, sequence: 0, payload: pattern(10, 500))
        XCTAssertEqual(after.offset, before.last!.end.offset)
        var scanner = try SegmentScanner(file: log.file(1)!)
        var refs: [RecordRef] = []
        while let record = try scanner.next() { refs.append(record.ref) }
        XCTAssertEqual(refs, before + [after])
        XCTAssertEqual(scanner.end, .clean)
    }

    /// A full disk may have room for a seal record in the old segment's last block but
    /// not for a new file. The segment must then stay sealed exactly once, with nothing
    /// after the seal (recovery refuses a sealed segment with bytes after its seal).
    func testRollOverThatCannotCreateTheNextSegmentSealsOnlyOnce() throws {
        let faults = FaultInjector()
        let log = try SegmentLog(directory: dir, options: .init(maxSegmentSize: 4096, faults: faults))
        try log.startAppending(at: nil)
        faults.failWrites(of: [.segmentHeader])
        var failed = 0
        for i in 0..<6 {
            do {
                _ = try log.append(type: .data, sequence: 0, payload: pattern(i, 1000))
            } catch let error as IOError {
                XCTAssertEqual(error.errno, ENOSPC)
                failed += 1
            }
        }
        XCTAssertEqual(failed, 3, "the fourth record needs a new segment, and so does every one after it")
        // A small record would fit behind the seal, but nothing may follow a seal.
        XCTAssertThrowsError(try log.append(type: .putObject, sequence: 1, payload: [1, 2, 3]))
        XCTAssertEqual(log.segmentIDs, [1], "the new segment's file is removed when its header cannot be written")

        faults.clear()
        let ref = try log.append(type: .putObject, sequence: 1, payload: [1, 2, 3])
        XCTAssertEqual(ref.segment, 2)
        _ = try log.sync()

        let reopened = try SegmentLog(directory: dir)
        var types: [RecordType] = []
        var scanner = try SegmentScanner(file: reopened.file(1)!)
        while let record = try scanner.next() { types.append(record.header.type) }
        XCTAssertEqual(scanner.end, .clean)
        XCTAssertEqual(types, [.data, .data, .data, .seal])
    }

    private func pattern(_ seed: Int, _ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7) }
    }
}
