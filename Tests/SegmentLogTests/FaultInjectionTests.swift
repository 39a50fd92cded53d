import Foundation
import StrataTestSupport
import Synchronization
import XCTest
@testable import SegmentLog

/// Segment writes and syncs that fail (a full disk, an I/O error, made with
/// ``FaultInjector``): a failed write leaves no partial record, and the log goes on where
/// it stopped once writes succeed; a failed sync makes the log refuse writes. And the
/// injector's observer sees every change to the files.
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

    /// A failed fdatasync fails the sync and every later append and sync, even once the
    /// device works again: the kernel may have dropped the pages it could not write.
    func testFailedSyncMakesTheLogRefuseWritesUntilItIsOpenedAgain() throws {
        let faults = FaultInjector()
        let log = try SegmentLog(directory: dir, options: .init(faults: faults))
        try log.startAppending(at: nil)
        let kept = try log.append(type: .data, sequence: 0, payload: pattern(1, 500))
        _ = try log.sync()

        _ = try log.append(type: .data, sequence: 0, payload: pattern(2, 500))
        faults.failSyncs()
        XCTAssertThrowsError(try log.sync()) { error in
            XCTAssertEqual((error as? SegmentLog.SyncFailed)?.cause.errno, EIO, "\(error)")
        }
        faults.clear()
        XCTAssertThrowsError(try log.append(type: .data, sequence: 0, payload: pattern(3, 500))) { error in
            XCTAssertTrue(error is SegmentLog.SyncFailed, "\(error)")
        }
        XCTAssertThrowsError(try log.sync()) { XCTAssertTrue($0 is SegmentLog.SyncFailed, "\($0)") }
        XCTAssertEqual(faults.injectedFailures, 1)

        // The next open cuts what was written after the last good sync (the kernel may have
        // dropped those pages although they read back now); none of it was acknowledged.
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/unsynced-after"))
        XCTAssertGreaterThan(try log.file(1)!.size(), kept.end.offset)
        let reopened = try SegmentLog(directory: dir)
        XCTAssertEqual(try reopened.cutUnsyncedTail(), kept.end)
        XCTAssertEqual(try reopened.file(1)!.size(), kept.end.offset)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/unsynced-after"))
        XCTAssertNil(try reopened.cutUnsyncedTail())
        try reopened.startAppending(at: kept.end)
        _ = try reopened.append(type: .data, sequence: 0, payload: pattern(4, 500))
        _ = try reopened.sync()
    }

    /// The observer sees every write, sync, creation and removal, in order, with a sync's
    /// start before the writes it must not be taken to cover.
    func testObserverSeesEveryChangeToTheSegmentFilesInOrder() throws {
        final class Journal: SegmentIOObserver {
            let lines = Mutex<[String]>([])
            func add(_ line: String) { lines.withLock { $0.append(line) } }
            func created(_ path: String) { add("create \(name(path))") }
            func wrote(_ path: String, at offset: UInt64, _ pieces: [UnsafeRawBufferPointer]) {
                add("write \(name(path)) \(offset) \(pieces.reduce(0) { $0 + $1.count })")
            }
            func truncated(_ path: String, to size: UInt64) { add("truncate \(name(path)) \(size)") }
            func removed(_ path: String) { add("remove \(name(path))") }
            func sync(_ path: String, directory: Bool, _ sync: () throws -> Void) throws {
                add("sync \(directory ? "directory" : name(path))")
                try sync()
                add("synced")
            }
            func name(_ path: String) -> String { String(path.split(separator: "/").last!) }
        }
        let journal = Journal()
        let faults = FaultInjector(observer: journal)
        let log = try SegmentLog(directory: dir, options: .init(maxSegmentSize: 1024, faults: faults))
        try log.startAppending(at: nil)
        _ = try log.append(type: .data, sequence: 0, payload: pattern(1, 500))
        _ = try log.sync()
        _ = try log.append(type: .data, sequence: 0, payload: pattern(2, 500))  // rolls over
        faults.failWrites()
        XCTAssertThrowsError(try log.append(type: .data, sequence: 0, payload: pattern(3, 100)))
        faults.clear()
        try log.removeSegment(1)
        let one = SegmentLog.fileName(1), two = SegmentLog.fileName(2)
        XCTAssertEqual(journal.lines.withLock { $0 }, [
            "create \(one)", "write \(one) 0 32", "sync \(one)", "synced", "sync directory", "synced",
            "write \(one) 32 536", "sync \(one)", "synced",
            // The roll-over: seal, sync, the new segment durable, then the record.
            "write \(one) 568 40", "sync \(one)", "synced",
            "create \(two)", "write \(two) 0 32", "sync \(two)", "synced", "sync directory", "synced",
            "write \(two) 32 536",
            // A failed write: half of it, then cut back.
            "write \(two) 568 68", "truncate \(two) 568",
            "remove \(one)", "sync directory", "synced",
        ])
    }
}
