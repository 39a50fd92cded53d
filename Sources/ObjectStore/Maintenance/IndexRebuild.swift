import Foundation
import ObjectIndex
import SegmentLog
#if canImport(Glibc)
import Glibc
#endif

/// `strata recover --rebuild-index`: a new index built from the segments beside the old
/// one, swapped in only once it is complete (FORMAT.md, "Recovery").
///
/// The directories:
/// - `DATA/index.rebuild`: the index being built. Until the swap starts, the old
///   `DATA/index` is untouched, so a failed or interrupted rebuild leaves the store as it
///   was (``settle(directory:)`` removes the leftover at the next open).
/// - The swap is two renames, each made durable by syncing the data directory:
///   `index` → `index.old`, then `index.rebuild` → `index`; then `index.old` is removed.
///   `index.old` exists only once `index.rebuild` is complete, so a crash between the
///   renames is finished forward at the next open.
///
/// The segments are not touched until the new index is in place: only then is a torn
/// tail cut off, and what a failed sync of the last run left after the durable end (the
/// same cuts every open makes; the rebuild does not read those bytes). After a machine crash, the new index
/// carries the old run's `session` file until that cut is made, so a crash in between
/// still has the next open treat the tail as possibly garbage.
public enum IndexRebuild {
    /// What a rebuild did and what the damage it skipped cost.
    public struct Result: Sendable {
        public var report: Recovery.Report
        public var losses: [DamagedRecords.Loss]
    }

    /// Rebuilds the index of the (stopped) store in `directory`.
    /// - Parameter onDamage: `.stop` fails on the first damaged span (the index stays as
    ///   it was); `.salvage` skips damaged spans and lists what they held.
    public static func run(directory: String, onDamage: Recovery.OnDamage,
                           mapSize: Int = ObjectStore.Options().indexMapSize) throws -> Result {
        let lock = try DirectoryLock(directory: directory)
        defer { lock.release() }
        try settle(directory: directory)
        let live = directory + "/index", building = directory + "/index.rebuild", old = directory + "/index.old"
        let session = IndexSession(indexDirectory: live)
        let boot = IndexSession.currentBoot
        let afterMachineCrash = session.previousRun(boot: boot) == .crashedEarlierBoot
        try removeTree(building)
        try makeDirectories(building)
        let log = try SegmentLog(directory: directory + "/segments")
        // After a failed sync in the last run, what it wrote later is not read (and is cut
        // once the new index is in place, as every open cuts it).
        let cut = try log.unsyncedTail()
        var result: Result
        do {
            let index = try ObjectIndex(path: building, mapSize: mapSize, syncEachCommit: false)
            let report = try Recovery.rebuild(log: log, index: index, repair: false, onDamage: onDamage,
                                              unsyncedTail: afterMachineCrash, stopAt: cut)
            result = Result(report: report, losses: try DamagedRecords.losses(report.damaged, index: index, log: log))
            result.report.cutAfterFailedSync = cut
            try index.environment.sync()
        } catch {
            try? removeTree(building)
            throw error
        }
        if afterMachineCrash {
            // Until the torn tail is cut, the next open must still see a machine crash.
            try FileManager.default.copyItem(atPath: session.path, toPath: building + "/session")
            try syncDirectory(building)
        }
        if FileManager.default.fileExists(atPath: live) {
            try rename(live, to: old, in: directory)
        }
        try rename(building, to: live, in: directory)
        do {
            try removeTree(old)
            _ = try log.cutUnsyncedTail()
            if let torn = result.report.tornTail {
                try log.truncate(segment: torn.position.segment, to: torn.position.offset)
            }
            for id in result.report.tornSegments { try log.removeSegment(id) }
            if afterMachineCrash { try session.end() }
        } catch {
            throw RepairAfterSwapFailed(cause: error)
        }
        return result
    }

    /// The new index is in place, but a step after the swap failed (removing the old
    /// index, cutting a torn tail): the next open finishes it.
    public struct RepairAfterSwapFailed: Error, CustomStringConvertible {
        public var cause: Error
        public var description: String {
            "the new index is in place, but a step after it failed (\(cause)); the next start finishes it"
        }
    }

    /// Finishes or undoes a swap that a crash interrupted; called before an index is opened.
    static func settle(directory: String) throws {
        let live = directory + "/index", building = directory + "/index.rebuild", old = directory + "/index.old"
        let fm = FileManager.default
        if fm.fileExists(atPath: building) {
            if !fm.fileExists(atPath: live) && fm.fileExists(atPath: old) {
                // Between the two renames: the new index is complete.
                try rename(building, to: live, in: directory)
            } else {
                // Interrupted while building (or with no index to replace): drop it.
                try removeTree(building)
            }
        }
        if fm.fileExists(atPath: old) {
            if fm.fileExists(atPath: live) {
                try removeTree(old)
            } else {
                try rename(old, to: live, in: directory)
            }
        }
    }

    private static func rename(_ from: String, to: String, in directory: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw IOError("rename", path: from, errno: errno) }
        try syncDirectory(directory)
    }

    private static func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.removeItem(atPath: path)
    }
}
