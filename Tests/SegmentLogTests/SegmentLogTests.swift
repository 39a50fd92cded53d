import Foundation
import StrataTestSupport
import XCTest
@testable import SegmentLog

final class SegmentLogTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = makeTestDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRecordHeaderRoundTrip() throws {
        let h = RecordHeader(type: .putObject, payloadLength: 1234, payloadCRC: 0xDEADBEEF, sequence: 42)
        let bytes = h.encoded()
        XCTAssertEqual(bytes.count, SegmentFormat.recordHeaderSize)
        XCTAssertEqual(try bytes.withUnsafeBytes { try RecordHeader.decode($0) }, h)
    }

    func testRecordHeaderCorruptionIsDetected() throws {
        let bytes = RecordHeader(type: .data, payloadLength: 10, payloadCRC: 1, sequence: 0).encoded()
        for i in 0..<bytes.count {
            var bad = bytes
            bad[i] ^= 0x01
            XCTAssertThrowsError(try bad.withUnsafeBytes { try RecordHeader.decode($0) }, "flip at byte \(i)")
        }
    }

    func testCRC32MatchesTheStandardCheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }

    func testAppendThenScanReturnsEveryRecordInOrder() throws {
        let log = try SegmentLog(directory: dir)
        try log.startAppending(at: nil)
        var written: [(RecordRef, [UInt8])] = []
        for i in 0..<50 {
            let payload = [1] + [UInt8](repeating: UInt8(i), count: i * 7)  // commits start with the payload version
            written.append((try log.append(type: i % 2 == 0 ? .data : .putObject, sequence: UInt64(i), payload: payload), payload))
        }
        _ = try log.sync()
        var scanner = try SegmentScanner(file: log.file(1)!, loadData: true)
        var i = 0
        while let r = try scanner.next() {
            XCTAssertEqual(r.ref, written[i].0)
            XCTAssertEqual(r.payload, written[i].1)
            XCTAssertEqual(r.header.sequence, UInt64(i))
            i += 1
        }
        XCTAssertEqual(i, 50)
        XCTAssertEqual(scanner.end, .clean)
        XCTAssertEqual(scanner.validEnd, try log.file(1)!.size())
    }

    func testSegmentsRollOverAtTheMaximumSizeAndAreSealed() throws {
        let log = try SegmentLog(directory: dir, options: .init(maxSegmentSize: 4096))
        try log.startAppending(at: nil)
        for _ in 0..<20 { _ = try log.append(type: .data, sequence: 0, payload: [UInt8](repeating: 7, count: 1000)) }
        XCTAssertGreaterThan(log.segmentIDs.count, 4)
        for id in log.segmentIDs.dropLast() {
            let file = log.file(id)!
            XCTAssertLessThanOrEqual(try file.size(), 4096 + 40)
            var scanner = try SegmentScanner(file: file)
            var last: RecordType?
            while let r = try scanner.next() { last = r.header.type }
            XCTAssertEqual(last, .seal, "segment \(id) must end with a seal record")
            XCTAssertEqual(scanner.end, .clean)
            XCTAssertTrue(SegmentLog.endsWithSeal(file, at: try file.size()))
        }
        XCTAssertEqual(try log.readHeader(3)?.segmentID, 3)
    }

    func testStartAppendingAfterASealedSegmentOpensANewOne() throws {
        do {
            let log = try SegmentLog(directory: dir, options: .init(maxSegmentSize: 200))
            try log.startAppending(at: nil)
            _ = try log.append(type: .data, sequence: 0, payload: [UInt8](repeating: 1, count: 150))
            _ = try log.append(type: .data, sequence: 0, payload: [UInt8](repeating: 1, count: 150))
        }
        // Simulate a crash right after sealing segment 1: segment 2 never got a record.
        let log = try SegmentLog(directory: dir, options: .init(maxSegmentSize: 200))
        try log.removeSegment(2)
        let end = LogPosition(segment: 1, offset: try log.file(1)!.size())
        try log.startAppending(at: end)
        XCTAssertEqual(log.activeSegmentID, 2)
    }

    /// A scan stops at the first torn or corrupt byte, at every offset of a cut.
    func testScannerStopsCleanlyAtATornTailAtEveryOffset() throws {
        let log = try SegmentLog(directory: dir)
        try log.startAppending(at: nil)
        var ends: [UInt64] = []
        for i in 0..<4 { ends.append(try log.append(type: .putObject, sequence: UInt64(i + 1), payload: [1] + [UInt8](repeating: 9, count: 13 + i)).end.offset) }
        let full = try log.file(1)!.size()
        let original = try log.file(1)!.read(at: 0, count: Int(full))
        for cut in UInt64(SegmentFormat.fileHeaderSize)...full {
            let path = dir + "/cut.seg"
            _ = FileManager.default.createFile(atPath: path, contents: Data(original[0..<Int(cut)]))
            let file = try SegmentFile.open(id: 1, path: path, create: false)
            var scanner = try SegmentScanner(file: file)
            var count = 0
            while try scanner.next() != nil { count += 1 }
            let whole = ends.filter { $0 <= cut }
            XCTAssertEqual(count, whole.count, "cut at \(cut)")
            XCTAssertEqual(scanner.validEnd, whole.last ?? UInt64(SegmentFormat.fileHeaderSize), "cut at \(cut)")
            XCTAssertEqual(scanner.end == .clean, ends.contains(cut) || cut == UInt64(SegmentFormat.fileHeaderSize), "cut at \(cut)")
            try FileManager.default.removeItem(atPath: path)
        }
    }

    /// A corrupt payload byte followed by a valid record: the damaged record is skipped
    /// and reported, the one after it is kept.
    func testScannerSkipsACorruptPayloadByteAndKeepsTheNextRecord() throws {
        let log = try SegmentLog(directory: dir)
        try log.startAppending(at: nil)
        let a = try log.append(type: .data, sequence: 0, payload: [UInt8](repeating: 1, count: 100))
        let b = try log.append(type: .putObject, sequence: 1, payload: [1, 2, 3])
        let file = log.file(1)!
        let byte: [UInt8] = [0xFF]
        try byte.withUnsafeBytes { try file.write(at: a.offset + 32 + 50, [$0]) }
        var scanner = try SegmentScanner(file: file)
        XCTAssertEqual(try scanner.next()?.ref, b)
        XCTAssertNil(try scanner.next())
        XCTAssertEqual(scanner.end, .clean)
        XCTAssertEqual(scanner.damaged, [DamagedSpan(segment: 1, offset: a.offset, length: a.size, damage: .badPayloadChecksum)])
    }

    func testGroupCommitSharesSyncsAndRunsTheHookBeforeAcknowledging() async throws {
        let log = try SegmentLog(directory: dir)
        try log.startAppending(at: nil)
        let applied = Applied()
        let committer = GroupCommitter(log: log) { position in applied.set(position) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let ref = try log.append(type: .putObject, sequence: UInt64(i + 1), payload: [UInt8(i)])
                    try await committer.waitDurable()
                    // Durable and handed to the hook before we were told.
                    XCTAssertGreaterThanOrEqual(applied.get(), ref.end)
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(committer.commits, 64)
        XCTAssertLessThanOrEqual(committer.batches, 64)
        committer.shutdown()
    }
}

final class Applied: @unchecked Sendable {
    private let lock = NSLock()
    private var position = LogPosition(segment: 0, offset: 0)
    func set(_ p: LogPosition) { lock.withLock { position = max(position, p) } }
    func get() -> LogPosition { lock.withLock { position } }
}
