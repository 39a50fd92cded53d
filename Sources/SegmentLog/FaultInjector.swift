import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes segment writes fail on purpose, for fault-injection tests: a full disk
/// (`ENOSPC`), a quota (`EDQUOT`), an I/O error. Tests put one in
/// ``SegmentLog/Options/faults`` and switch faults on and off while the log runs;
/// a log without one (the default) never consults it.
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
        var injected = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// From now on, writes of the given kinds fail with `errno` (by default: all writes,
    /// the disk is full).
    public func failWrites(errno: Int32 = ENOSPC, of writes: Set<Write> = Set(Write.allCases)) {
        state.withLock {
            $0.errno = errno
            $0.writes = writes
        }
    }

    /// Writes succeed again (space was freed).
    public func clear() {
        state.withLock { $0.errno = nil }
    }

    /// How many writes failed on purpose so far.
    public var injectedFailures: Int { state.withLock { $0.injected } }

    /// The errno a write of this kind is to fail with, if any (counted as injected).
    func failure(for write: Write) -> Int32? {
        state.withLock { s in
            guard let errno = s.errno, s.writes.contains(write) else { return nil }
            s.injected += 1
            return errno
        }
    }
}

extension SegmentFile {
    /// Writes `parts` at `offset` like ``write(at:_:)``, unless `faults` says this kind
    /// of write fails: then half of the bytes are written and an `IOError` with the
    /// injected errno is thrown.
    func write(_ kind: FaultInjector.Write, at offset: UInt64, _ parts: [UnsafeRawBufferPointer],
               faults: FaultInjector?) throws {
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
