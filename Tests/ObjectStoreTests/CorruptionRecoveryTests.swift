import Foundation
import ObjectIndex
import SegmentLog
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// A corrupt byte anywhere costs at most the object it lies in: recovery and rebuilds
/// keep every valid record after damage, report it, and never cut good data as a torn
/// tail; rebuilds are atomic; records this build cannot read are refused, not cut.
final class CorruptionRecoveryTests: DirectoryTestCase {
    let count = 150

    /// 150 objects in the active segment, then closed: where one flipped byte once made
    /// the recommended repair cut the store to 66 objects.
    func fillActiveSegment(maxSegmentSize: UInt64 = 1 << 30) async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: maxSegmentSize))
        try await store.createBucket("bkt")
        for i in 0..<count { try await store.putObject(bucket: "bkt", key: "k\(i)", data: pattern(i, 1500 + i)) }
        try store.close()
    }


    func segmentSize(_ id: UInt64) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: dir + "/segments/" + SegmentLog.fileName(id))[.size] as? UInt64) ?? 0
    }

    /// Where an object's commit record and bytes are, read from a closed store's index.
    func entry(_ key: String) throws -> (record: RecordRef, extents: [Extent]) {
        let index = try ObjectIndex(path: dir + "/index")
        return try index.environment.read { txn in
            let value = try XCTUnwrap(try txn.get(index.objects, IndexKey.object(bucket: "bkt", key: Array(key.utf8))))
            return (try IndexValue.header(value).ref, try IndexValue.object(value).extents)
        }
    }

    /// Every object but `damaged` reads back; `damaged` is listed and answers `.corrupt`.
    func assertEveryOtherObjectReadable(damaged: Int?, missing: Int? = nil, alsoMissing: Int? = nil, maxSegmentSize: UInt64 = 1 << 30,
                                        file: StaticString = #filePath, line: UInt = #line) async throws {
        let store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: maxSegmentSize))
        defer { try? store.close() }
        let listed = try await store.listObjects(bucket: "bkt", ListRequest(maxKeys: 1000)).objects.map(\.key)
        let expected = (0..<count).filter { $0 != missing && $0 != alsoMissing }.map { "k\($0)" }.sorted()
        XCTAssertEqual(listed, expected, file: file, line: line)
        for i in 0..<count where i != missing && i != alsoMissing {
            if i == damaged {
                await assertStoreError(.corrupt) { try await store.get("bkt", "k\(i)") }
            } else {
                await assertEqual(try await store.get("bkt", "k\(i)"), pattern(i, 1500 + i), "k\(i)", file: file, line: line)
            }
        }
    }

    func testFlippedByteInTheActiveSegmentCostsOnlyItsObject() async throws {
        try await fillActiveSegment()
        let victim = try entry("k75").extents[1]
        try flipByte(in: dir, segment: victim.segment, at: victim.offset + 100)
        let sizeBefore = try segmentSize(victim.segment)
        let indexBefore = try dumpIndex(try ObjectIndex(path: dir + "/index"))

        // Without --salvage the rebuild stops at the damage and changes nothing.
        XCTAssertThrowsError(try IndexRebuild.run(directory: dir, onDamage: .stop)) { error in
            XCTAssertTrue("\(error)".contains("offset \(victim.offset - 32)"), "\(error)")
            XCTAssertTrue("\(error)".contains("--salvage"), "\(error)")
        }
        XCTAssertEqual(try dumpIndex(try ObjectIndex(path: dir + "/index")), indexBefore)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/index.rebuild"))

        // With it, every valid record after the damage is kept and the loss is named.
        let result = try IndexRebuild.run(directory: dir, onDamage: .salvage)
        XCTAssertEqual(result.report.damaged.map(\.offset), [victim.offset - 32])
        XCTAssertNil(result.report.tornTail)
        XCTAssertEqual(result.losses.map(\.name), ["bkt/k75"])
        XCTAssertEqual(try segmentSize(victim.segment), sizeBefore, "nothing is cut")
        try await assertEveryOtherObjectReadable(damaged: 75)

        // The damage is marked in the index: the store reports it after a restart too.
        let store = try ObjectStore(directory: dir, options: smallOptions())
        await assertEqual(try await store.damagedSpans().map(\.offset), [victim.offset - 32])
        try store.close()
    }

    /// Start-up replays the unindexed tail the same way: the damaged record is skipped,
    /// reported and marked; the store opens and takes writes.
    func testStartUpReplayPastDamageKeepsEverythingAfterIt() async throws {
        try await fillActiveSegment()
        let victim = try entry("k40").extents[0]
        try flipByte(in: dir, segment: victim.segment, at: victim.offset + 7)
        try FileManager.default.removeItem(atPath: dir + "/index")  // replay everything
        let store = try ObjectStore(directory: dir, options: smallOptions())
        XCTAssertEqual(store.recovery.damaged.map(\.offset), [victim.offset - 32])
        XCTAssertEqual(store.recovery.damaged.first?.damage, .badPayloadChecksum)
        XCTAssertNil(store.recovery.tornTail)
        try await store.createBucket("after")
        try await store.putObject(bucket: "after", key: "k", data: [1, 2, 3])
        try store.close()
        try await assertEveryOtherObjectReadable(damaged: 40)
    }

    /// A damaged commit record costs the change it made: here the key it created.
    func testDamagedCommitRecordLosesOnlyItsCommit() async throws {
        try await fillActiveSegment()
        let record = try entry("k99").record
        try flipByte(in: dir, segment: record.segment, at: record.offset + 29)  // the header checksum
        let other = try entry("k120").record
        try flipByte(in: dir, segment: other.segment, at: other.offset)  // the record magic
        let result = try IndexRebuild.run(directory: dir, onDamage: .salvage)
        XCTAssertEqual(result.report.damaged.map(\.damage), [.badHeaderChecksum, .badMagic])
        XCTAssertEqual(result.losses.map(\.name), ["bkt/k99", "bkt/k120"], "named from the payloads, which are intact")
        XCTAssertTrue(result.losses.first?.description.contains("putObject commit record") ?? false, "\(result.losses)")
        let store = try ObjectStore(directory: dir, options: smallOptions())
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "k120") }
        try store.close()
        try await assertEveryOtherObjectReadable(damaged: nil, missing: 99, alsoMissing: 120)
    }

    /// Sealed segments: a flipped byte used to stop the rebuild half-way and leave an
    /// empty index; now the rebuild finishes and the store serves.
    func testFlippedByteInASealedSegmentDoesNotStopTheRebuild() async throws {
        try await fillActiveSegment(maxSegmentSize: 16 << 10)
        let victim = try entry("k3").extents[0]
        XCTAssertLessThan(victim.segment, try XCTUnwrap(try SegmentLog(directory: dir + "/segments").segmentIDs.last))
        try flipByte(in: dir, segment: victim.segment, at: victim.offset - 32 + 2)  // the record magic
        let result = try IndexRebuild.run(directory: dir, onDamage: .salvage)
        XCTAssertEqual(result.report.damaged.map(\.damage), [.badMagic])
        XCTAssertEqual(result.losses.map(\.name), ["bkt/k3"])
        try await assertEveryOtherObjectReadable(damaged: 3, maxSegmentSize: 16 << 10)
        // A damaged seal (the last record of a sealed segment) costs nothing at all.
        let log = try SegmentLog(directory: dir + "/segments")
        let sealed = log.segmentIDs[1]
        try flipByte(in: dir, segment: sealed, at: try segmentSize(sealed) - 3)
        let again = try IndexRebuild.run(directory: dir, onDamage: .salvage)
        XCTAssertEqual(again.report.damaged.count, 2)
        XCTAssertEqual(again.losses.map(\.name), ["bkt/k3"])
        try await assertEveryOtherObjectReadable(damaged: 3, maxSegmentSize: 16 << 10)
    }

    /// verify walks record headers to check extents: past a damaged header it goes on at
    /// the next valid record, so the objects after it are not reported as well.
    func testVerifyGoesOnPastADamagedRecordHeader() async throws {
        try await fillActiveSegment()
        let victim = try entry("k30").extents[0]
        try flipByte(in: dir, segment: victim.segment, at: victim.offset - 32)  // the record magic
        for deep in [false, true] {
            let report = try Verifier(directory: dir, deep: deep).run()
            // The damaged record itself, and the one object whose extent it was.
            XCTAssertEqual(report.errors.map(\.code).sorted(), ["damaged-records", "extent-outside-data"], "deep \(deep): \(report.problems.map(\.description))")
            XCTAssertEqual(report.errors.compactMap(\.key).map { VerificationProblem.describe(key: $0, table: .objects) }, ["bkt/k30"])
        }
    }

    /// After a machine crash the index is thrown away at the next open: verify says so and
    /// does not compare it (it would report a torn index's differences).
    func testVerifyAfterAMachineCrashDoesNotCompareTheIndex() async throws {
        try await fillActiveSegment()
        try Data("another-boot\n".utf8).write(to: URL(fileURLWithPath: dir + "/index/session"))
        let report = try Verifier(directory: dir).run()
        XCTAssertTrue(report.isHealthy, "\(report.problems.map(\.description))")
        XCTAssertEqual(report.warnings.map(\.code), ["index-left-by-machine-crash"])
    }

    /// After a machine crash the first damage of the last segment ends the log (bytes no
    /// sync covered may be garbage); if valid records follow it, they are kept aside in a
    /// file beside the segment, never thrown away.
    func testAfterAMachineCrashTheCutTailIsKeptAside() async throws {
        try await fillActiveSegment()
        let victim = try entry("k140").extents[0]
        try flipByte(in: dir, segment: victim.segment, at: victim.offset + 9)
        try Data("another-boot\n".utf8).write(to: URL(fileURLWithPath: dir + "/index/session"))
        let segment = dir + "/segments/" + SegmentLog.fileName(victim.segment)
        let original = try Data(contentsOf: URL(fileURLWithPath: segment))
        let store = try ObjectStore(directory: dir, options: smallOptions())
        let cut = victim.offset - 32
        XCTAssertEqual(store.recovery.tornTail?.position, LogPosition(segment: victim.segment, offset: cut))
        let saved = try XCTUnwrap(store.recovery.tailSavedTo)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: saved)), original.suffix(from: Int(cut)))
        XCTAssertEqual(try segmentSize(victim.segment), cut)
        await assertEqual(try await store.get("bkt", "k139"), pattern(139, 1639))
        await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: "k141") }
        try store.close()
    }

    /// A damaged segment header with records after it is damage like any other, not a
    /// crash while rolling over: the segment and every record in it are kept.
    func testDamagedHeaderOfTheActiveSegmentKeepsItsRecords() async throws {
        try await fillActiveSegment()
        try flipByte(in: dir, segment: 1, at: 3)
        let result = try IndexRebuild.run(directory: dir, onDamage: .salvage)
        XCTAssertEqual(result.report.damaged, [DamagedSpan(segment: 1, offset: 0, length: 32, damage: .badSegmentHeader)])
        XCTAssertEqual(result.report.tornSegments, [])
        XCTAssertEqual(result.losses, [])
        try await assertEveryOtherObjectReadable(damaged: nil)
    }

    /// Unknown means refuse: a record with a valid header but a type this build does not
    /// know, at the end of the log, fails the open instead of being cut as a torn tail.
    func testUnknownRecordTypeAtTheEndIsRefusedNotCut() async throws {
        try await fillActiveSegment()
        var w = ByteWriter()
        w.write(SegmentFormat.recordMagic)
        w.write(UInt8(16))  // no record type is 16
        w.write(UInt8(0))
        w.write(UInt16(0))
        w.write(UInt32(1))
        w.write(CRC32.checksum([1]))
        w.write(UInt64(10_000))
        w.write(UInt32(0))
        w.write(CRC32.checksum(w.bytes))
        let path = dir + "/segments/" + SegmentLog.fileName(1)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(w.bytes + [1, 0, 0, 0, 0, 0, 0, 0]))
        handle.closeFile()
        let size = try segmentSize(1)
        XCTAssertThrowsError(try ObjectStore(directory: dir, options: smallOptions())) { error in
            XCTAssertEqual((error as? StoreError)?.code, .corrupt)
            XCTAssertTrue("\(error)".contains("unknown record type 16"), "\(error)")
            XCTAssertTrue("\(error)".contains("newer Strata"), "\(error)")
        }
        XCTAssertThrowsError(try IndexRebuild.run(directory: dir, onDamage: .salvage))
        XCTAssertEqual(try segmentSize(1), size, "nothing was cut")
    }

    /// A rebuild interrupted at any step leaves a store that opens with its objects:
    /// before the swap the old index stays, between the renames the new one is taken.
    func testInterruptedRebuildLeavesTheStoreAsItWas() async throws {
        try await fillActiveSegment()
        let fm = FileManager.default
        // Interrupted while building: a partial index.rebuild beside the index.
        try fm.createDirectory(atPath: dir + "/index.rebuild", withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/index.rebuild/data.mdb"))
        try await assertEveryOtherObjectReadable(damaged: nil)
        XCTAssertFalse(fm.fileExists(atPath: dir + "/index.rebuild"))

        // Interrupted between the two renames: index.old and a complete index.rebuild.
        try fm.copyItem(atPath: dir + "/index", toPath: dir + "/index.rebuild")
        try fm.moveItem(atPath: dir + "/index", toPath: dir + "/index.old")
        try await assertEveryOtherObjectReadable(damaged: nil)
        XCTAssertFalse(fm.fileExists(atPath: dir + "/index.rebuild"))
        XCTAssertFalse(fm.fileExists(atPath: dir + "/index.old"))

        // Interrupted before removing the old one.
        try fm.copyItem(atPath: dir + "/index", toPath: dir + "/index.old")
        _ = try IndexRebuild.run(directory: dir, onDamage: .stop)
        XCTAssertFalse(fm.fileExists(atPath: dir + "/index.old"))
        try await assertEveryOtherObjectReadable(damaged: nil)
    }

    /// After a failed sync the rebuild does not read what came after the durable end and
    /// cuts it only once the new index is in place: a rebuild that fails leaves the
    /// segments and the marker as they were.
    func testRebuildAfterAFailedSyncCutsTheTailOnlyWhenItSucceeds() async throws {
        try await fillActiveSegment()
        let faults = FaultInjector()
        var options = smallOptions()
        options.segments.faults = faults
        let store = try ObjectStore(directory: dir, options: options)
        faults.failSyncs()
        await assertStoreError(.readOnly) { try await store.putObject(bucket: "bkt", key: "refused", data: pattern(7, 3000)) }
        XCTAssertThrowsError(try store.close())
        let marker = dir + "/segments/unsynced-after"
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker))
        let sizeWithTail = try segmentSize(1)
        let victim = try entry("k20").extents[0]
        try flipByte(in: dir, segment: victim.segment, at: victim.offset + 5)

        XCTAssertThrowsError(try IndexRebuild.run(directory: dir, onDamage: .stop))
        XCTAssertEqual(try segmentSize(1), sizeWithTail, "a failed rebuild cuts nothing")
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker))

        let result = try IndexRebuild.run(directory: dir, onDamage: .salvage)
        let cut = try XCTUnwrap(result.report.cutAfterFailedSync)
        XCTAssertLessThan(cut.offset, sizeWithTail)
        XCTAssertEqual(try segmentSize(1), cut.offset)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        try await assertEveryOtherObjectReadable(damaged: 20)
        let reopened = try ObjectStore(directory: dir, options: smallOptions())
        await assertStoreError(.noSuchKey) { try await reopened.headObject(bucket: "bkt", key: "refused") }
        try reopened.close()
    }

    /// A rebuild refuses a directory a store has open (the lock a server holds).
    func testRebuildAndVerifyRefuseADirectoryInUse() async throws {
        try await fillActiveSegment()
        let store = try ObjectStore(directory: dir, options: smallOptions())
        defer { try? store.close() }
        XCTAssertThrowsError(try IndexRebuild.run(directory: dir, onDamage: .salvage)) {
            XCTAssertTrue("\($0)".contains("in use"), "\($0)")
        }
        XCTAssertThrowsError(try Verifier(directory: dir).run()) {
            XCTAssertTrue($0 is DirectoryLock.InUse, "\($0)")
            XCTAssertTrue("\($0)".contains("in use by another process (a running strata serve?)"), "\($0)")
        }
    }

    /// verify reports damage (with what it held) without changing anything.
    func testVerifyReportsDamageAndWhatItHeld() async throws {
        try await fillActiveSegment()
        let victim = try entry("k12").extents[0]
        try flipByte(in: dir, segment: victim.segment, at: victim.offset + 1)
        let report = try Verifier(directory: dir).run()
        XCTAssertFalse(report.isHealthy)
        let damage = report.problems.filter { $0.code == "damaged-records" }
        XCTAssertEqual(damage.count, 1, "\(report.problems.map(\.description))")
        XCTAssertTrue(damage.first?.description.contains("bkt/k12") ?? false, "\(damage)")
        XCTAssertTrue(damage.first?.description.contains(SegmentLog.fileName(victim.segment)) ?? false, "\(damage)")
    }
}

/// Compaction moves bytes, so it must neither launder damage (copy damaged bytes into a
/// record with a fresh checksum) nor drop fields it does not understand.
final class CompactionSafetyTests: StoreTestCase {
    override var initialBuckets: [String] { ["bkt"] }

    override func setUp() async throws {
        try await super.setUp()
        try store.close()
        store = try ObjectStore(directory: dir, options: smallOptions(maxSegmentSize: 8192))
    }

    /// Fills the log until `segment` is sealed and below the replay checkpoint's segment.
    func rollPast(_ segment: UInt64) async throws {
        var i = 0
        while (store.log.activeSegmentID ?? 0) <= segment + 1 {
            try await store.putObject(bucket: "bkt", key: "filler\(i)", data: pattern(1000 + i, 1500))
            i += 1
        }
    }

    func testCompactionDoesNotCopyDamagedBytesAndKeepsTheirSegment() async throws {
        try await store.putObject(bucket: "bkt", key: "good", data: pattern(1, 2500))
        try await store.putObject(bucket: "bkt", key: "bad", data: pattern(2, 2500))
        let bad = try await store.headObject(bucket: "bkt", key: "bad").extents[1]
        try await rollPast(bad.segment)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: dir + "/segments/" + SegmentLog.fileName(bad.segment)))
        try handle.seek(toOffset: bad.offset + 3)
        try handle.write(contentsOf: [0xEE])
        try handle.close()

        let report = try await store.compact(.init(segments: [bad.segment]))
        XCTAssertEqual(report.damaged.count, 1, "\(report)")
        XCTAssertTrue(report.damaged.first?.contains("bkt/bad") ?? false, "\(report.damaged)")
        XCTAssertEqual(report.kept, [bad.segment], "the damaged object still points into it")
        await assertStoreError(.corrupt) { try await self.store.get("bkt", "bad") }
        await assertEqual(try await store.get("bkt", "good"), pattern(1, 2500))
        // Its intact first piece was not copied either (nothing would point at the copy).
        let firstPiece = Array(pattern(2, 2500)[0..<1000])
        for id in store.log.segmentIDs where id != bad.segment {
            var scanner = try SegmentScanner(file: try XCTUnwrap(store.log.file(id)), loadData: true)
            while let record = try scanner.next() {
                XCTAssertFalse(record.header.type == .data && record.payload == firstPiece, "a copy in segment \(id)")
            }
        }
    }

    /// An object entry with an extension field this build does not know keeps it, byte
    /// for byte, when compaction moves the entry.
    func testCompactionKeepsUnknownExtensionFieldsByteForByte() async throws {
        try await store.putObject(bucket: "bkt", key: "k", data: pattern(3, 2500))
        let index = store.index
        let value = try XCTUnwrap(try index.environment.read { try $0.get(index.objects, IndexKey.object(bucket: "bkt", key: Array("k".utf8))) })
        var payload = Array(value[IndexValue.prefixSize...])
        // The extension area is last: bump its count and append tag 0x7777 with 3 bytes.
        let countAt = payload.count - 2 - 0  // the object has no extension fields yet
        XCTAssertEqual(Array(payload[countAt...]), [0, 0])
        payload.replaceSubrange(countAt..., with: [1, 0, 0x77, 0x77, 3, 0, 0, 0] + Array("xyz".utf8))
        try await store.commit(.putObject(PutObjectCommit(decoding: payload))) { _ in }
        let segment = try await store.headObject(bucket: "bkt", key: "k").extents[0].segment
        try await rollPast(segment)

        let report = try await store.compact(.init(threshold: 0))
        XCTAssertTrue(report.removed.contains(segment), "\(report)")
        let moved = try XCTUnwrap(try index.environment.read { try $0.get(index.objects, IndexKey.object(bucket: "bkt", key: Array("k".utf8))) })
        XCTAssertTrue(Array(moved[IndexValue.prefixSize...]).ends(with: [1, 0, 0x77, 0x77, 3, 0, 0, 0] + Array("xyz".utf8)))
        XCTAssertNotEqual(try IndexValue.object(moved).extents, try IndexValue.object(value).extents)
        await assertEqual(try await store.get("bkt", "k"), pattern(3, 2500))
        // A tag change re-encodes the entry: the unknown field stays too.
        try await store.recommitVersion(bucket: "bkt", key: "k") { $0.tags = ["colour": "blue"] }
        let retagged = try XCTUnwrap(try index.environment.read { try $0.get(index.objects, IndexKey.object(bucket: "bkt", key: Array("k".utf8))) })
        XCTAssertTrue(Array(retagged[IndexValue.prefixSize...]).ends(with: [0x77, 0x77, 3, 0, 0, 0] + Array("xyz".utf8)))
        XCTAssertEqual(try IndexValue.object(retagged).tags, ["colour": "blue"])
        try store.close()
        store = nil
        let (live, rebuilt) = try liveAndRebuiltIndex(dir)
        XCTAssertEqual(live, rebuilt)
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
