import Foundation
import SegmentLog
import Synchronization

/// A test file layer for power cuts, after RocksDB's FaultInjectionTestFS: it records
/// every change the log makes to its segment files (through ``SegmentIOObserver``), in
/// order, and can then build the directory a power cut after any of those events would
/// have left behind.
///
/// A `kill -9` keeps the page cache: every write that returned is on disk. A power cut
/// keeps only what a completed sync covered: a file's bytes written before an fdatasync
/// of it started, and the creation or removal of a file before an fsync of its directory
/// started. Everything else may be gone, partly written, or garbage.
final class PowerLossRecorder: SegmentIOObserver {
    enum Event: Sendable {
        case created(String)
        case wrote(String, offset: UInt64, bytes: [UInt8])
        case truncated(String, size: UInt64)
        case removed(String)
        case syncStarted(String, directory: Bool)
        /// The sync that the event at this index started completed.
        case syncCompleted(started: Int)
    }

    private let journal = Mutex<[Event]>([])

    /// Events so far. An operation acknowledged when this was `n` is covered by a sync
    /// that completed among the first `n` events.
    var eventCount: Int { journal.withLock { $0.count } }

    var events: [Event] { journal.withLock { $0 } }

    @discardableResult
    private func record(_ event: Event) -> Int {
        journal.withLock {
            $0.append(event)
            return $0.count - 1
        }
    }

    func created(_ path: String) { record(.created(path)) }

    func wrote(_ path: String, at offset: UInt64, _ pieces: [UnsafeRawBufferPointer]) {
        record(.wrote(path, offset: offset, bytes: pieces.flatMap { Array($0) }))
    }

    func truncated(_ path: String, to size: UInt64) { record(.truncated(path, size: size)) }

    func removed(_ path: String) { record(.removed(path)) }

    func sync(_ path: String, directory: Bool, _ sync: () throws -> Void) throws {
        let started = record(.syncStarted(path, directory: directory))
        try sync()
        record(.syncCompleted(started: started))
    }
}

/// What a power cut leaves of the recorded files: replays a ``PowerLossRecorder``'s
/// events one by one and, at any point, writes the surviving files into a directory.
struct PowerCut {
    /// What happens to what no sync covered.
    enum Mode: String, CaseIterable {
        /// Lost: files are exactly as the last completed syncs left them.
        case drop
        /// Any mix, decided at random per 512-byte block of unsynced bytes: the new bytes,
        /// the old ones, zeros, or random bytes; a file's size anywhere between its synced
        /// and its cached size; a creation or removal no directory sync covered, done or not.
        case garble
    }

    /// A file's contents, which outlive its name until a directory sync covers the unlink.
    private struct Inode {
        var cached: [UInt8] = []
        var durable: [UInt8] = []
        /// The index of the event that started the sync `durable` comes from.
        var durableSince = -1
    }

    private let events: [PowerLossRecorder.Event]
    /// Events applied so far: the cut is after these.
    private(set) var applied = 0
    private var inodes: [Inode] = []
    private var cachedNames: [String: Int] = [:]
    private var durableNames: [String: Int] = [:]
    /// Per directory, the index of the event that started the sync its durable entries
    /// come from (a sync that started earlier and completed later adds nothing).
    private var directoryDurableSince: [String: Int] = [:]
    /// Syncs started and not completed, by the index of their start event: a file's
    /// inode and contents at the start, or a directory's entries at the start.
    private var pendingFileSyncs: [Int: (inode: Int, contents: [UInt8])] = [:]
    private var pendingDirectorySyncs: [Int: (directory: String, names: [String: Int])] = [:]

    /// - Parameter initial: files that were there, durable, before the first event.
    init(_ events: [PowerLossRecorder.Event], initial: [String: [UInt8]] = [:]) {
        self.events = events
        for (path, bytes) in initial {
            inodes.append(Inode(cached: bytes, durable: bytes))
            cachedNames[path] = inodes.count - 1
            durableNames[path] = inodes.count - 1
        }
    }

    var eventCount: Int { events.count }

    /// Applies events until the cut is after the first `count` of them.
    mutating func advance(to count: Int) {
        precondition(count >= applied && count <= events.count)
        while applied < count {
            apply(events[applied], at: applied)
            applied += 1
        }
    }

    private static func parent(_ path: String) -> String { (path as NSString).deletingLastPathComponent }

    private mutating func apply(_ event: PowerLossRecorder.Event, at index: Int) {
        switch event {
        case .created(let path):
            inodes.append(Inode())
            cachedNames[path] = inodes.count - 1
        case .wrote(let path, let offset, let bytes):
            let inode = cachedNames[path]!
            let end = Int(offset) + bytes.count
            if inodes[inode].cached.count < end {
                inodes[inode].cached.append(contentsOf: repeatElement(0, count: end - inodes[inode].cached.count))
            }
            inodes[inode].cached.replaceSubrange(Int(offset)..<end, with: bytes)
        case .truncated(let path, let size):
            let inode = cachedNames[path]!
            let count = inodes[inode].cached.count
            if count > Int(size) {
                inodes[inode].cached.removeSubrange(Int(size)...)
            } else {
                inodes[inode].cached.append(contentsOf: repeatElement(0, count: Int(size) - count))
            }
        case .removed(let path):
            cachedNames[path] = nil
        case .syncStarted(let path, let directory):
            if directory {
                pendingDirectorySyncs[index] = (path, cachedNames.filter { Self.parent($0.key) == path })
            } else {
                let inode = cachedNames[path]!
                pendingFileSyncs[index] = (inode, inodes[inode].cached)
            }
        case .syncCompleted(let started):
            if let (inode, contents) = pendingFileSyncs.removeValue(forKey: started) {
                if inodes[inode].durableSince < started {
                    inodes[inode].durable = contents
                    inodes[inode].durableSince = started
                }
            } else if let (directory, names) = pendingDirectorySyncs.removeValue(forKey: started),
                      directoryDurableSince[directory, default: -1] < started {
                durableNames = durableNames.filter { Self.parent($0.key) != directory }.merging(names) { a, _ in a }
                directoryDurableSince[directory] = started
            }
        }
    }

    /// The files (path → contents) a power cut now leaves, under `mode`.
    func survivors<R: RandomNumberGenerator>(_ mode: Mode, using rng: inout R) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        switch mode {
        case .drop:
            for (path, inode) in durableNames { out[path] = inodes[inode].durable }
        case .garble:
            for path in Set(durableNames.keys).union(cachedNames.keys).sorted() {
                let durable = durableNames[path], cached = cachedNames[path]
                // A name no directory sync settled: the creation or unlink happened or not.
                let inode = durable == cached ? durable : [durable, cached, nil].randomElement(using: &rng)!
                guard let inode else { continue }
                out[path] = Self.garble(inodes[inode], using: &rng)
            }
        }
        return out
    }

    /// The bytes a power cut leaves of a file: synced bytes stay, the rest is decided
    /// per 512-byte block.
    private static func garble<R: RandomNumberGenerator>(_ inode: Inode, using rng: inout R) -> [UInt8] {
        let old = inode.durable, new = inode.cached
        if old == new { return old }
        let size = old.count == new.count ? old.count : Int.random(in: min(old.count, new.count)...max(old.count, new.count), using: &rng)
        var out = [UInt8](repeating: 0, count: size)
        let block = 512
        var start = 0
        while start < size {
            let end = min(start + block, size)
            // new, old, zeros, random: one fate for the block's unsynced bytes.
            let fate = Int.random(in: 0..<4, using: &rng)
            for i in start..<end {
                let o: UInt8? = i < old.count ? old[i] : nil
                let n: UInt8? = i < new.count ? new[i] : nil
                if let o, o == n {
                    out[i] = o
                    continue
                }
                switch fate {
                case 0: out[i] = n ?? 0
                case 1: out[i] = o ?? 0
                case 2: out[i] = 0
                default: out[i] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            start = end
        }
        return out
    }

    /// Writes `files` (paths as recorded under `recordedRoot`) into `root`.
    static func write(_ files: [String: [UInt8]], recordedRoot: String, into root: String) throws {
        for (path, bytes) in files {
            precondition(path.hasPrefix(recordedRoot + "/"), path)
            let target = root + path.dropFirst(recordedRoot.count)
            try FileManager.default.createDirectory(atPath: parent(target), withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: target))
        }
    }
}
