import Foundation
import NIOCore
import SegmentLog
import StrataTestSupport
import Synchronization
import XCTest
@testable import ObjectStore

/// Power cuts, not only `kill -9`: a randomized workload (PUTs of several records,
/// DELETEs, multipart uploads, versioned writes and deletes, compaction) runs with a
/// ``PowerLossRecorder`` watching every segment write and sync. Then, for thousands of
/// cut points, the directory a power cut after that event would leave (unsynced bytes
/// dropped, or garbled) is opened as after a machine crash, and every key must hold the
/// state of its last acknowledged operation, or of the one after it (durable but not yet
/// acknowledged at the cut): never anything else, never a read that fails.
///
/// Each cut point is checked twice: with everything unsynced dropped, and garbled.
/// `STRATA_POWERLOSS_SEED` repeats a run's choices (the interleaving of the tasks may
/// still differ; a failing cut's directory is kept and its path printed);
/// `STRATA_POWERLOSS_CUTS` sets how many cut points are checked (default 1000 of about
/// 2000 events; a large number checks every event), `STRATA_POWERLOSS_RECOVERY_CUTS` how
/// many first cuts the test of a cut during recovery starts from (default 12).
final class PowerLossTests: XCTestCase {
    /// Small segments and records, so that writes cross records and segments and
    /// compaction has sealed segments to move.
    static func options(faults: FaultInjector?) -> ObjectStore.Options {
        var options = ObjectStore.Options(segments: .init(maxSegmentSize: 12 << 10, faults: faults), dataRecordSize: 1000, ioThreads: 2)
        options.minPartSize = 1500
        return options
    }

    /// A boot id that is not this boot's: `index/session` holding it makes open treat the
    /// index as left by a machine crash.
    static let otherBoot = "00000000-0000-4000-8000-000000000000"

    static let plain = "plain", versioned = "versioned"

    // MARK: The model

    /// One version of a key as a reader sees it (the `null` version has an empty id).
    struct Version: Equatable, CustomStringConvertible {
        var id: String
        var marker = false
        var bytes: [UInt8] = []

        var description: String {
            let name = id.isEmpty ? "null" : String(id.prefix(6))
            return marker ? "\(name):marker" : "\(name):\(bytes.count)B#\(bytes.prefix(4).map { String($0) }.joined(separator: "."))"
        }
    }

    /// The operations on one key, in order (a key has one writer): `states[i]` is the
    /// key's versions (newest first) after the first i of them, `acks[i]` the event count
    /// when operation i + 1 was acknowledged.
    struct KeyHistory {
        var bucket: String
        var key: String
        var states: [[Version]] = [[]]
        var acks: [Int] = []
        var operations: [String] = []

        /// States allowed after a cut after `cut` events.
        func allowed(cut: Int) -> (acknowledged: Int, states: [[Version]]) {
            let done = acks.prefix { $0 <= cut }.count
            return (done, Array(states[done...].prefix(2)))
        }
    }

    /// An upload that was completed or aborted, and when that was acknowledged.
    struct ClosedUpload {
        var bucket: String
        var key: String
        var uploadId: String
        var ack: Int
    }

    // MARK: The workload

    /// One writer: random operations on keys of its own, each acknowledged before the next.
    private static func runWriter(_ store: ObjectStore, _ recorder: PowerLossRecorder, writer: Int, operations: Int,
                           seed: UInt64) async throws -> (keys: [KeyHistory], uploads: [ClosedUpload]) {
        var rng = SplitMix(seed: seed &+ UInt64(writer) &* 0x1234_5678_9ABC)
        var keys = (0..<2).map { KeyHistory(bucket: Self.plain, key: "w\(writer)-p\($0)") }
            + (0..<2).map { KeyHistory(bucket: Self.versioned, key: "w\(writer)-v\($0)") }
        var uploads: [ClosedUpload] = []
        func data(_ rng: inout SplitMix, max: Int = 5000) -> [UInt8] {
            let size = rng.next(5) == 0 ? rng.next(64) : rng.next(max + 1)
            return pattern(Int(truncatingIfNeeded: rng.next()), size)
        }
        for _ in 0..<operations {
            let k = rng.next(keys.count)
            var h = keys[k]
            var state = h.states.last!
            let isVersioned = h.bucket == Self.versioned
            let roll = rng.next(100)
            let name: String
            if roll < 40 {
                let bytes = data(&rng)
                let info = try await store.putObject(bucket: h.bucket, key: h.key, data: bytes)
                if isVersioned { state.insert(Version(id: info.versionID, bytes: bytes), at: 0) } else { state = [Version(id: "", bytes: bytes)] }
                name = "PUT \(bytes.count)B"
            } else if roll < 60 {
                let result = try await store.deleteObject(bucket: h.bucket, key: h.key)
                if isVersioned { state.insert(Version(id: result.versionID ?? "?", marker: true), at: 0) } else { state = [] }
                name = "DELETE"
            } else if roll < 75 && isVersioned && !state.isEmpty {
                let victim = state[rng.next(state.count)]
                try await store.deleteObject(bucket: h.bucket, key: h.key, versionID: victim.id)
                state.removeAll { $0.id == victim.id }
                name = "DELETE version \(victim)"
            } else {
                // Multipart: one to three parts (all but the last at least minPartSize),
                // completed, or now and then aborted (the key does not change).
                let upload = try await store.createUpload(bucket: h.bucket, key: h.key, metadata: [:], checksumAlgorithm: nil, checksumType: nil)
                let count = 1 + rng.next(3)
                var parts: [PartInfo] = []
                var whole: [UInt8] = []
                for number in 1...count {
                    var bytes = data(&rng, max: 2500)
                    if number < count && bytes.count < 1500 { bytes = pattern(Int(truncatingIfNeeded: rng.next()), 1500 + rng.next(1000)) }
                    let writer = try await store.makePartWriter(bucket: h.bucket, key: h.key, uploadId: upload.uploadId, partNumber: number)
                    try await writer.write(ByteBuffer(bytes: bytes))
                    parts.append(try await writer.finish())
                    whole += bytes
                }
                if rng.next(6) == 0 {
                    try await store.abortUpload(bucket: h.bucket, key: h.key, uploadId: upload.uploadId)
                    name = "multipart \(count) parts, aborted"
                } else {
                    let info = try await store.completeUpload(bucket: h.bucket, key: h.key, uploadId: upload.uploadId,
                                                              parts: parts.map { CompletedPart(partNumber: $0.partNumber, etag: "\"\($0.etag)\"") },
                                                              conditions: .init()) { _ in [:] }
                    if isVersioned { state.insert(Version(id: info.versionID, bytes: whole), at: 0) } else { state = [Version(id: "", bytes: whole)] }
                    name = "multipart \(count) parts, \(whole.count)B"
                }
                uploads.append(ClosedUpload(bucket: h.bucket, key: h.key, uploadId: upload.uploadId, ack: recorder.eventCount))
            }
            h.acks.append(recorder.eventCount)
            h.states.append(state)
            h.operations.append(name)
            keys[k] = h
        }
        return (keys, uploads)
    }

    /// What the workload did, for checking any cut of it.
    struct Workload {
        var events: [PowerLossRecorder.Event]
        /// Event count when the buckets and the versioning setting were acknowledged.
        var setUp: Int
        var keys: [KeyHistory]
        var uploads: [ClosedUpload]
        var compactions: CompactionReport
        /// The data directory the events were recorded in (paths in events start with it).
        var directory: String
    }

    /// Runs the workload in `directory`: three writers and a compactor, concurrently;
    /// the store is closed at the end.
    private func runWorkload(in directory: String, seed: UInt64, operationsPerWriter: Int) async throws -> Workload {
        let recorder = PowerLossRecorder()
        let store = try ObjectStore(directory: directory, options: Self.options(faults: FaultInjector(observer: recorder)))
        try await store.createBucket(Self.plain)
        try await store.createBucket(Self.versioned)
        try await store.setVersioning(bucket: Self.versioned, .enabled)
        let setUp = recorder.eventCount
        let writersDone = Flag()
        let (keys, uploads, compactions) = try await withThrowingTaskGroup(of: ([KeyHistory], [ClosedUpload], CompactionReport).self) { group in
            for writer in 0..<3 {
                group.addTask {
                    let (keys, uploads) = try await Self.runWriter(store, recorder, writer: writer, operations: operationsPerWriter, seed: seed)
                    return (keys, uploads, CompactionReport())
                }
            }
            group.addTask {
                // Compacts every sealed segment now and then while the writers run, and
                // once more after them.
                var total = CompactionReport()
                var last = false
                while !last {
                    last = writersDone.isSet
                    if !last { try await Task.sleep(for: .milliseconds(40)) }
                    let report = try await store.compact(.init(threshold: 0))
                    total.victims += report.victims
                    total.removed += report.removed
                    total.entriesMoved += report.entriesMoved
                }
                return ([], [], total)
            }
            var keys: [KeyHistory] = [], uploads: [ClosedUpload] = [], compactions = CompactionReport()
            var writersLeft = 3
            for try await (k, u, c) in group {
                keys += k
                uploads += u
                if k.isEmpty {
                    compactions = c
                } else {
                    writersLeft -= 1
                    if writersLeft == 0 { writersDone.set() }
                }
            }
            return (keys, uploads, compactions)
        }
        try store.close()
        return Workload(events: recorder.events, setUp: setUp, keys: keys, uploads: uploads, compactions: compactions, directory: directory)
    }

    // MARK: Checking a cut

    /// The versions a store holds for a key, with their bytes; reading must not fail.
    private func versions(_ store: ObjectStore, _ bucket: String, _ key: String) async throws -> [Version] {
        var out: [Version] = []
        for info in try await store.versions(bucket: bucket, key: key) {
            if info.isDeleteMarker {
                out.append(Version(id: info.versionID, marker: true))
            } else {
                let bytes = try await store.getObject(bucket: bucket, key: key, versionID: info.versionID).readAll()
                out.append(Version(id: info.versionID, bytes: bytes))
            }
        }
        return out
    }

    /// Opens the store a power cut left in `root` and checks every key; returns what is
    /// wrong (empty: nothing).
    private func check(_ root: String, _ keys: [KeyHistory], _ uploads: [ClosedUpload], cut: Int) async throws -> [String] {
        var problems: [String] = []
        let store = try ObjectStore(directory: root, options: Self.options(faults: nil))
        var closed = false
        defer { if !closed { try? store.close() } }
        if !store.recovery.indexDiscardedAfterMachineCrash {
            problems.append("the index left by the crashed run was not discarded")
        }
        var current: [String: Set<String>] = [:]
        for h in keys {
            let (done, allowed) = h.allowed(cut: cut)
            let actual = try await versions(store, h.bucket, h.key)
            if !allowed.contains(actual) {
                let context = h.operations.enumerated().map { "\($0.offset < done ? "acked" : "     ") \($0.element)" }.joined(separator: "\n    ")
                problems.append("\(h.bucket)/\(h.key): \(actual) is neither of \(allowed.map(\.description)) (\(done) of \(h.acks.count) operations acknowledged at the cut)\n    \(context)")
                continue
            }
            // GET of the current version agrees with the version list.
            let expected = actual.first.flatMap { $0.marker ? nil : $0.bytes }
            let got: [UInt8]?
            do {
                got = try await store.get(h.bucket, h.key)
            } catch let error as StoreError where error.code == .noSuchKey {
                got = nil
            }
            if got != expected {
                problems.append("\(h.bucket)/\(h.key): GET gives \(got.map { "\($0.count) bytes" } ?? "NoSuchKey"), the versions say \(expected.map { "\($0.count) bytes" } ?? "none")")
            }
            if expected != nil { current[h.bucket, default: []].insert(h.key) }
        }
        // Listing agrees with the keys' states.
        for bucket in [Self.plain, Self.versioned] {
            let listed = Set(try await store.listObjects(bucket: bucket, ListRequest()).objects.map(\.key))
            if listed != current[bucket, default: []] {
                problems.append("\(bucket): ListObjects gives \(listed.sorted()), the keys hold \(current[bucket, default: []].sorted())")
            }
        }
        // An upload whose completion or abort was acknowledged stays closed.
        for upload in uploads where upload.ack <= cut {
            do {
                _ = try await store.upload(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId)
                problems.append("upload \(upload.uploadId) of \(upload.key) is open again, its close was acknowledged")
            } catch let error as StoreError where error.code == .noSuchUpload {}
        }
        // The store takes a new write, and closes cleanly.
        try await store.putObject(bucket: Self.plain, key: "after-the-cut", data: [1, 2, 3])
        closed = true
        try store.close()
        return problems
    }

    /// Lays out, in a new directory, what a power cut leaves: the surviving segment files,
    /// and the index as the crashed run left it (here the final index, which is ahead of
    /// the log, under a session file of another boot: open must throw it away).
    private func materialise(_ files: [String: [UInt8]], recordedRoot: String, indexCopy: String) throws -> String {
        let root = Self.scratchDirectory()
        try PowerCut.write(files, recordedRoot: recordedRoot, into: root)
        try FileManager.default.createDirectory(atPath: root + "/segments", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/index", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: indexCopy, toPath: root + "/index/data.mdb")
        try Data((Self.otherBoot + "\n").utf8).write(to: URL(fileURLWithPath: root + "/index/session"))
        return root
    }

    /// A new directory for one crashed store: in memory where there is a tmpfs (the
    /// stores sync a dozen times each, and thousands are opened), else a temporary one.
    static func scratchDirectory() -> String {
        guard FileManager.default.fileExists(atPath: "/dev/shm") else { return makeTestDirectory("powercut") }
        let path = "/dev/shm/strata-powercut-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    // MARK: Tests

    func testEveryAcknowledgedWriteSurvivesAPowerCutAtEveryEvent() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["STRATA_POWERLOSS_SEED"].flatMap { UInt64($0) } ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let maxCuts = environment["STRATA_POWERLOSS_CUTS"].flatMap { Int($0) } ?? 1000
        let started = ContinuousClock.now
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workload = try await runWorkload(in: dir, seed: seed, operationsPerWriter: 40)
        let workloadTime = ContinuousClock.now - started
        print("power loss: seed \(seed): \(workload.events.count) events, \(workload.keys.map(\.acks.count).reduce(0, +)) operations, compaction moved \(workload.compactions.entriesMoved) entries and removed \(workload.compactions.removed.count) segments (\(workloadTime))")
        XCTAssertFalse(workload.compactions.removed.isEmpty, "compaction removed no segment: the workload does not exercise it")

        // The recorder's view of the end equals the files on disk (the store closed
        // cleanly, so everything is synced).
        var replay = PowerCut(workload.events)
        replay.advance(to: workload.events.count)
        var unused = SplitMix(seed: 0)
        let recorded = replay.survivors(.drop, using: &unused)
        let segments = dir + "/segments"
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: segments)
        XCTAssertEqual(Set(recorded.keys), Set(onDisk.map { segments + "/" + $0 }), "the recorder's files are the files on disk")
        for name in onDisk {
            let actual = Array(try Data(contentsOf: URL(fileURLWithPath: segments + "/" + name)))
            let model = recorded[segments + "/" + name] ?? []
            XCTAssert(model == actual, "the recorder's \(name) (\(model.count) bytes) differs from the file on disk (\(actual.count) bytes) from offset \(zip(model, actual).prefix { $0 == $1 }.count)")
        }
        let indexCopy = dir + "/final-index.mdb"
        try FileManager.default.copyItem(atPath: dir + "/index/data.mdb", toPath: indexCopy)

        // Cut points: every event after the set-up, or a random sample of them.
        var rng = SplitMix(seed: seed)
        var cuts = Array(workload.setUp...workload.events.count)
        if cuts.count > maxCuts {
            var chosen = Set<Int>([workload.events.count])
            while chosen.count < maxCuts { chosen.insert(cuts[rng.next(cuts.count)]) }
            cuts = chosen.sorted()
        }
        replay = PowerCut(workload.events)
        var failures = 0
        var checked = 0
        for cut in cuts {
            replay.advance(to: cut)
            for mode in PowerCut.Mode.allCases {
                var garbling = SplitMix(seed: seed ^ (UInt64(cut) &* 0x9E37_79B9) ^ (mode == .drop ? 0 : 1))
                let root = try materialise(replay.survivors(mode, using: &garbling), recordedRoot: dir, indexCopy: indexCopy)
                var problems: [String]
                do {
                    problems = try await check(root, workload.keys, workload.uploads, cut: cut)
                } catch {
                    problems = ["\(error)"]
                }
                checked += 1
                if problems.isEmpty {
                    try? FileManager.default.removeItem(atPath: root)
                    continue
                }
                failures += 1
                XCTFail("seed \(seed), cut after event \(cut) of \(workload.events.count), \(mode) (directory kept: \(root)):\n  " + problems.joined(separator: "\n  "))
                if failures >= 3 { return }
            }
        }
        print("power loss: seed \(seed): checked \(cuts.count) cut points × \(PowerCut.Mode.allCases.count) modes = \(checked) crashed stores in \(ContinuousClock.now - started)")
    }

    /// A power cut while the store recovers from one. Recovery cuts a garbled tail back,
    /// removes a torn new segment, starts the next one; then the store takes writes. A
    /// second cut at any event of that must keep what the first recovery found (the
    /// files it read were on disk) and every write acknowledged since.
    func testAPowerCutWhileRecoveringFromAPowerCutLosesNothing() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["STRATA_POWERLOSS_SEED"].flatMap { UInt64($0) } ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let firstCuts = environment["STRATA_POWERLOSS_RECOVERY_CUTS"].flatMap { Int($0) } ?? 12
        let started = ContinuousClock.now
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workload = try await runWorkload(in: dir, seed: seed, operationsPerWriter: 25)
        let indexCopy = dir + "/final-index.mdb"
        try FileManager.default.copyItem(atPath: dir + "/index/data.mdb", toPath: indexCopy)
        var rng = SplitMix(seed: seed)
        // First cuts where recovery has work: just before a sync completes (a tail no
        // sync covered), and just after a new segment's creation (a torn header), besides
        // any event.
        var beforeSync: [Int] = [], afterCreate: [Int] = []
        for (i, event) in workload.events.enumerated() where i >= workload.setUp {
            switch event {
            case .syncCompleted: beforeSync.append(i)
            case .created: afterCreate.append(i + 1 + rng.next(2))
            default: break
            }
        }
        let firsts = (0..<firstCuts).map { n in
            switch n % 3 {
            case 0: return beforeSync[rng.next(beforeSync.count)]
            case 1: return afterCreate[rng.next(afterCreate.count)]
            default: return workload.setUp + rng.next(workload.events.count - workload.setUp + 1)
            }
        }.sorted()
        let closedUploads = { (cut: Int) in workload.uploads.filter { $0.ack <= cut }.map { ClosedUpload(bucket: $0.bucket, key: $0.key, uploadId: $0.uploadId, ack: 0) } }
        var replay = PowerCut(workload.events)
        var failures = 0
        var checked = 0
        var tornTails = 0, tornSegments = 0
        for (n, first) in firsts.enumerated() {
            replay.advance(to: first)
            let firstMode: PowerCut.Mode = n % 4 == 3 ? .drop : .garble
            var garbling = SplitMix(seed: seed ^ (UInt64(first) &* 0x9E37_79B9) ^ 2)
            let files = replay.survivors(firstMode, using: &garbling)
            let root = try materialise(files, recordedRoot: dir, indexCopy: indexCopy)
            defer { try? FileManager.default.removeItem(atPath: root) }
            let context = "seed \(seed), first cut after event \(first) of \(workload.events.count), \(firstMode)"

            // The second run, recorded from its start: recovery, then new writes.
            let recorder = PowerLossRecorder()
            let store = try ObjectStore(directory: root, options: Self.options(faults: FaultInjector(observer: recorder)))
            if store.recovery.tornTail != nil { tornTails += 1 }
            tornSegments += store.recovery.tornSegments.count
            var keys: [KeyHistory] = []
            for h in workload.keys {
                let found = try await versions(store, h.bucket, h.key)
                XCTAssert(h.allowed(cut: first).states.contains(found), "\(context): \(h.bucket)/\(h.key) holds \(found)")
                keys.append(KeyHistory(bucket: h.bucket, key: h.key, states: [found]))
            }
            for i in 0..<4 {
                let bytes = pattern(Int(truncatingIfNeeded: rng.next()), rng.next(4000))
                let k = i == 0 ? keys.firstIndex { $0.bucket == Self.versioned }! : i == 1 ? keys.firstIndex { $0.bucket == Self.plain }! : keys.count
                if k == keys.count { keys.append(KeyHistory(bucket: Self.plain, key: "second-\(i)")) }
                let info = try await store.putObject(bucket: keys[k].bucket, key: keys[k].key, data: bytes)
                let before = keys[k].states.last!
                keys[k].states.append(keys[k].bucket == Self.versioned ? [Version(id: info.versionID, bytes: bytes)] + before : [Version(id: "", bytes: bytes)])
                keys[k].acks.append(recorder.eventCount)
                keys[k].operations.append("PUT \(bytes.count)B after recovery")
            }
            try store.close()
            let secondIndex = root + "-index.mdb"
            try FileManager.default.copyItem(atPath: root + "/index/data.mdb", toPath: secondIndex)
            defer { try? FileManager.default.removeItem(atPath: secondIndex) }

            // Every event of the second run, both ways.
            let initial = Dictionary(uniqueKeysWithValues: files.map { (root + $0.key.dropFirst(dir.count), $0.value) })
            var second = PowerCut(recorder.events, initial: initial)
            for cut in 0...second.eventCount {
                second.advance(to: cut)
                for mode in PowerCut.Mode.allCases {
                    var garbling = SplitMix(seed: seed ^ (UInt64(first) &* 0x9E37_79B9) ^ (UInt64(cut) << 32) ^ (mode == .drop ? 0 : 1))
                    let again = try materialise(second.survivors(mode, using: &garbling), recordedRoot: root, indexCopy: secondIndex)
                    var problems: [String]
                    do {
                        problems = try await check(again, keys, closedUploads(first), cut: cut)
                    } catch {
                        problems = ["\(error)"]
                    }
                    checked += 1
                    if problems.isEmpty {
                        try? FileManager.default.removeItem(atPath: again)
                        continue
                    }
                    failures += 1
                    XCTFail("\(context), second cut after event \(cut) of \(second.eventCount), \(mode) (directory kept: \(again)):\n  " + problems.joined(separator: "\n  "))
                    if failures >= 3 { return }
                }
            }
        }
        print("power loss while recovering: seed \(seed): \(firsts.count) first cuts (recovery cut \(tornTails) torn tails and removed \(tornSegments) torn segments), \(checked) crashed stores after a second cut, in \(ContinuousClock.now - started)")
    }

    /// A failing fdatasync (EIO): the writes waiting for it and every later one fail with
    /// ServiceUnavailable (the kernel may have dropped the dirty pages, so the log takes
    /// nothing more until it is opened again), reads go on, and nothing acknowledged is
    /// lost: neither after a restart nor after a power cut right then.
    func testFailedSyncRefusesWritesKeepsReadsAndLosesNothingAcknowledged() async throws {
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let recorder = PowerLossRecorder()
        let faults = FaultInjector(observer: recorder)
        let store = try ObjectStore(directory: dir, options: Self.options(faults: faults))
        try await store.createBucket("bkt")
        var acknowledged: [String: [UInt8]] = [:]
        for i in 0..<12 {
            let data = pattern(i, 400 * i)
            try await store.putObject(bucket: "bkt", key: "k\(i)", data: data)
            acknowledged["k\(i)"] = data
        }
        try await store.deleteObject(bucket: "bkt", key: "k3")
        acknowledged["k3"] = nil
        let deleted = ["k3"]

        faults.failSyncs()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                group.addTask {
                    await assertStoreError(.readOnly) { try await store.putObject(bucket: "bkt", key: "new\(i)", data: pattern(100 + i, 3000)) }
                }
            }
        }
        XCTAssertGreaterThan(faults.injectedFailures, 0)
        await assertStoreError(.readOnly) { try await store.createBucket("other") }
        await assertStoreError(.readOnly) { try await store.deleteObject(bucket: "bkt", key: "k1") }
        // Even with the device back, the log stays read-only until it is opened again:
        // a retried sync could succeed without the pages the failed one dropped.
        faults.clear()
        await assertStoreError(.readOnly) { try await store.putObject(bucket: "bkt", key: "later", data: [1]) }
        // Reads go on.
        for (key, data) in acknowledged { await assertEqual(try await store.get("bkt", key), data, key) }
        await assertEqual(try await store.listObjects(bucket: "bkt", ListRequest()).objects.map(\.key), acknowledged.keys.sorted())
        XCTAssertThrowsError(try store.close(), "the last sync at close is refused too")

        func checkAcknowledged(_ store: ObjectStore, _ context: String) async {
            for (key, data) in acknowledged { await assertEqual(try await store.get("bkt", key), data, "\(context): \(key)") }
            for key in deleted { await assertStoreError(.noSuchKey) { try await store.headObject(bucket: "bkt", key: key) } }
        }
        // A power cut now leaves what the syncs before the failure covered.
        var replay = PowerCut(recorder.events)
        replay.advance(to: replay.eventCount)
        var rng = SplitMix(seed: 1)
        for mode in PowerCut.Mode.allCases {
            let root = makeTestDirectory("powercut")
            defer { try? FileManager.default.removeItem(atPath: root) }
            try PowerCut.write(replay.survivors(mode, using: &rng), recordedRoot: dir, into: root)
            try FileManager.default.createDirectory(atPath: root + "/index", withIntermediateDirectories: true)
            try Data((Self.otherBoot + "\n").utf8).write(to: URL(fileURLWithPath: root + "/index/session"))
            let crashed = try ObjectStore(directory: root, options: Self.options(faults: nil))
            await checkAcknowledged(crashed, "power cut, \(mode)")
            try crashed.close()
        }
        // A restart: the page cache kept what was written, but nothing after the last good
        // sync is trusted (its pages may be gone from the disk): the log is cut there, and
        // the PUTs that got ServiceUnavailable left nothing.
        let reopened = try ObjectStore(directory: dir, options: Self.options(faults: nil))
        XCTAssertNotNil(reopened.recovery.cutAfterFailedSync)
        await checkAcknowledged(reopened, "restart")
        for i in 0..<4 { await assertStoreError(.noSuchKey) { try await reopened.headObject(bucket: "bkt", key: "new\(i)") } }
        try await reopened.putObject(bucket: "bkt", key: "after", data: [7])
        await assertEqual(try await reopened.get("bkt", "after"), [7])
        try reopened.close()
    }
}

extension SplitMix: RandomNumberGenerator {}

/// A flag one task sets and another polls.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
