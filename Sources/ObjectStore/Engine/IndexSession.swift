import SegmentLog
#if canImport(Glibc)
import Glibc
#endif

/// Lets the index skip its own sync on every commit, safely.
///
/// Before, each group commit synced twice: the log (what makes a write durable) and the
/// LMDB transaction that applied the batch to the index. The profile of 4 KiB PUTs at 16
/// connections showed the second sync as half the time of a batch. The index does not
/// need it: it is a view of the log (docs/DESIGN.md, "The index is a view of the log"),
/// and acknowledgement waits only for the log's sync (docs/DESIGN.md, "Acknowledged only
/// when durable (group commit)"). So the index runs with `MDB_NOSYNC`, and this file
/// decides, at open, whether what LMDB has on disk can be trusted.
///
/// The argument:
/// - A committed LMDB transaction is in the kernel's page cache when the commit returns.
///   A *process* crash (`kill -9`, a panic) loses nothing of it, and LMDB's copy-on-write
///   commit leaves the last committed state intact even when the process dies midway.
///   So after a process crash the index is exactly as consistent as with syncs, and
///   recovery replays the log after its checkpoint as always.
/// - A *machine* crash (power, kernel) can lose page-cache writes in any order, which
///   without syncs may tear LMDB's tree. So after a machine crash the index is thrown
///   away and rebuilt from the segments, which hold every acknowledged write, synced.
/// - The two are told apart by the kernel's boot id: `index/session` holds the boot id
///   of the run that has the index open and is made durable (file and directory synced)
///   before that run's first unsynced transaction; a clean close syncs LMDB
///   (`mdb_env_sync`) and only then removes the file. At open, a session file of the
///   current boot means a process crash; one of another boot means a machine crash
///   (the machine restarted since); none means a clean close.
/// - Where the boot id is unknown (not Linux), every commit syncs, as before.
struct IndexSession {
    /// What the previous run left.
    enum PreviousRun: Equatable {
        /// Closed cleanly (or never ran): the index on disk is complete.
        case clean
        /// Ended without closing, in this boot: the index is consistent up to its checkpoint.
        case crashedThisBoot
        /// Ended without closing in an earlier boot: the index may be torn.
        case crashedEarlierBoot
    }

    let indexDirectory: String
    var path: String { indexDirectory + "/session" }

    /// This boot's id, or nil where the kernel does not tell.
    static let currentBoot: String? = {
        guard let text = try? readSmallFile("/proc/sys/kernel/random/boot_id") else { return nil }
        let id = text.filter { !$0.isWhitespace }
        return id.isEmpty ? nil : id
    }()

    func previousRun(boot: String?) -> PreviousRun {
        guard let recorded = try? Self.readSmallFile(path) else { return .clean }
        let id = recorded.filter { !$0.isWhitespace }
        return id == boot ? .crashedThisBoot : .crashedEarlierBoot
    }

    /// Records that `boot` has the index open, durably, before any unsynced commit.
    func begin(boot: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError("open", path: path, errno: errno) }
        defer { close(fd) }
        let bytes = Array((boot + "\n").utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw IOError("write", path: path, errno: errno)
        }
        guard fdatasync(fd) == 0 else { throw IOError("fdatasync", path: path, errno: errno) }
        try syncDirectory(indexDirectory)
    }

    /// The index is synced: the next open may trust it whatever happens to the machine.
    func end() throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw IOError("unlink", path: path, errno: errno) }
        try syncDirectory(indexDirectory)
    }

    /// Removes LMDB's files, so the index is rebuilt from the segments.
    func discardIndex() throws {
        for name in ["data.mdb", "lock.mdb"] {
            let file = indexDirectory + "/" + name
            guard unlink(file) == 0 || errno == ENOENT else { throw IOError("unlink", path: file, errno: errno) }
        }
        try syncDirectory(indexDirectory)
    }

    private static func readSmallFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError("open", path: path, errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw IOError("read", path: path, errno: errno) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
