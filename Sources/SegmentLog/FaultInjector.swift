import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes segment writes and syncs fail on purpose, and lets a test watch every change the
/// log makes to its files, for fault-injection tests: a full disk (`ENOSPC`), a quota
/// (`EDQUOT`), an I/O error, a failing fdatasync, a power cut. Tests put one in
/// ``SegmentLog/Options/faults`` and switch faults on and off while the log runs; a log
/// without one (the default) never consults it.
///
/// A failing write first writes half of its bytes and then fails, as a filling disk
/// does (the last free blocks are used, then `ENOSPC`): so what a test exercises
/// includes the log's cleanup of a half-written record.
public final class FaultInjector: Sendable {
    /// The kinds of segment write, so a test can fail one of them only.
    public enum Write: Sendable, CaseIterable {
        /// A record appended to the active segment (object bytes or a commit).
        case record
        /// The seal record that ends a segment when the log rolls over.
        case seal
        /// The file header of a new segment, the first write to a new file.
        case segmentHeader
    }

    private struct State {
        var errno: Int32?
        var writes: Set<Write> = []
        var syncErrno: Int32?
        var injected = 0
    }

    private let state = Mutex(State())

    /// Told about every change to segment files and their directory, in the order they
    /// happen (see ``SegmentIOObserver``).
    public let observer: (any SegmentIOObserver)?

    public init(observer: (any SegmentIOObserver)? = nil) {
        self.observer = observer
    }

    /// From now on, writes of the given kinds fail with `errno` (by default: all writes,
    /// the disk is full).
    public func failWrites(errno: Int32 = ENOSPC, of writes: Set<Write> = Set(Write.allCases)) {
        state.withLock {
            $0.errno = errno
            $0.writes = writes
        }
    }

    /// From now on, every fdatasync of a segment file fails with `errno` (by default
    /// `EIO`, what the kernel reports when it could not write dirty pages back). The log
    /// then refuses writes until it is opened again.
    public func failSyncs(errno: Int32 = EIO) {
        state.withLock { $0.syncErrno = errno }
    }

    /// Writes and syncs succeed again (space was freed, the device came back).
    public func clear() {
        state.withLock {
            $0.errno = nil
            $0.syncErrno = nil
        }
    }

    /// How many writes and syncs failed on purpose so far.
    public var injectedFailures: Int { state.withLock { $0.injected } }

    /// The errno a write of this kind is to fail with, if any (counted as injected).
    func failure(for write: Write) -> Int32? {
        state.withLock { s in
            guard let errno = s.errno, s.writes.contains(write) else { return nil }
            s.injected += 1
            return errno
        }
    }

    /// The errno a segment file's fdatasync is to fail with, if any (counted as injected).
    func syncFailure() -> Int32? {
        state.withLock { s in
            guard let errno = s.syncErrno else { return nil }
            s.injected += 1
            return errno
        }
    }
}

/// Watches what the log does to its files, so a test can tell which bytes a power cut
/// could take away: everything not covered by a completed fdatasync (or, for a file's
/// existence, by a completed fsync of its directory).
///
/// The log calls it on the thread doing the operation, right after the operation
/// returned, and for the same file in the order the operations happened. A sync's start is
/// reported before fdatasync is called: a write reported before that start is covered by
/// the sync; one reported after it may have been too, but an observer cannot know, and
/// must take it as not covered.
public protocol SegmentIOObserver: Sendable {
    /// The segment file `path` was created, empty.
    func created(_ path: String)
    /// The bytes of `pieces`, back to back, were written at `offset` of the file `path`
    /// (into the page cache: not durable until a later sync). A write that failed midway
    /// reports the bytes that were written.
    func wrote(_ path: String, at offset: UInt64, _ pieces: [UnsafeRawBufferPointer])
    /// The file `path` was cut (or extended) to `size` bytes.
    func truncated(_ path: String, to size: UInt64)
    /// The file `path` was unlinked.
    func removed(_ path: String)
    /// Runs `sync`: an fdatasync of the file `path`, or an fsync of the directory `path`
    /// when `directory` is set. It makes durable what was reported before it started (the
    /// file's writes and truncations; the directory's creations and removals), once it has
    /// returned without throwing. An observer records the start, calls `sync`, and records
    /// the completion; it must rethrow what `sync` throws.
    func sync(_ path: String, directory: Bool, _ sync: () throws -> Void) throws
}

extension SegmentFile {
    /// Writes `parts` at `offset` like ``write(at:_:)``, unless ``faults`` says this kind
    /// of write fails: then half of the bytes are written and an `IOError` with the
    /// injected errno is thrown.
    func write(_ kind: FaultInjector.Write, at offset: UInt64, _ parts: [UnsafeRawBufferPointer]) throws {
        guard let faults, let code = faults.failure(for: kind) else {
            return try write(at: offset, parts)
        }
        var half = parts.reduce(0) { $0 + $1.count } / 2
        var written: [UnsafeRawBufferPointer] = []
        for part in parts where half > 0 {
            let n = min(half, part.count)
            written.append(UnsafeRawBufferPointer(rebasing: part[..<n]))
            half -= n
        }
        try write(at: offset, written)
        throw IOError("pwrite", path: path, errno: code)
    }
}
